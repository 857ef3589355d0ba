// Opens the fleet and run pages of a seeded orchestrator in headless Chromium (driven through chromedriver's
// WebDriver HTTP API, so nothing beyond Node and Debian's chromium/chromium-driver is needed) and prints, per page,
// the time from navigation start to the page's content drawn, and the longest main-thread task while it polls.
//   node bench/ui/measure.mjs --url http://127.0.0.1:18083 --driver http://127.0.0.1:9515 --token T --run RUN_ID
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`missing --${name}`);
  return fallback;
};
const url = arg('url'), driver = arg('driver'), token = arg('token'), runId = arg('run');
const nodes = Number(arg('nodes', '1000')), repeats = Number(arg('repeats', '5')), watchMs = Number(arg('watch-ms', '10000'));

async function wd(method, path, body) {
  const res = await fetch(driver + path, { method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' } });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
  return json.value;
}

const session = await wd('POST', '/session', { capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': {
  binary: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--no-first-run', '--disable-background-networking', '--window-size=1400,1100'] } } } });
const sid = session.sessionId;
const go = target => wd('POST', `/session/${sid}/url`, { url: target });
// An async script: its last argument is the callback that ends it.
const run = (script, ...args) => wd('POST', `/session/${sid}/execute/async`, { script, args });

try {
  await wd('POST', `/session/${sid}/timeouts`, { script: 120000, pageLoad: 120000 });
  await go(url);
  await run('sessionStorage.setItem("steadyrun.token", arguments[0]); arguments[1]();', token);

  // Resolves with ms since navigation start once check() holds (tested on every animation frame), plus the
  // API calls the page made until then.
  const until = `
    const [check, done] = [new Function('return (' + arguments[0] + ')()'), arguments[arguments.length - 1]];
    const tick = () => {
      const alert = document.querySelector('[role=alert]');
      if (alert) return done({ error: alert.textContent });
      const what = check();
      if (!what) return requestAnimationFrame(tick);
      const api = performance.getEntriesByType('resource').filter(r => r.name.includes('/api/'))
        .map(r => ({ path: new URL(r.name).pathname + new URL(r.name).search, ms: Math.round(r.duration), bytes: r.encodedBodySize }));
      done({ ms: Math.round(performance.now()), what, api });
    };
    tick();`;
  // The longest main-thread tasks (long tasks: over 50 ms) while the page sits and polls for watchMs.
  const watch = `
    const done = arguments[arguments.length - 1];
    const tasks = [];
    new PerformanceObserver(l => tasks.push(...l.getEntries().map(e => e.duration))).observe({ type: 'longtask' });
    setTimeout(() => done({ longTasks: tasks.length, maxMs: Math.round(Math.max(0, ...tasks)) }), arguments[0]);`;

  const stats = xs => {
    const s = [...xs].sort((a, b) => a - b);
    return `median ${s[Math.floor(s.length / 2)]} ms (min ${s[0]}, max ${s.at(-1)}, n=${s.length})`;
  };

  const pages = [
    { name: `fleet page, ${nodes} nodes`, hash: '#/fleet',
      check: `() => { const n = document.querySelectorAll('.grid .cell').length; return n >= ${nodes} && n + ' cells'; }` },
    { name: 'run page, 5 charts', hash: `#/runs/${runId}`,
      check: `() => { const p = document.querySelectorAll('figure[data-chart] path.line');
        return p.length === 5 && p[0].getAttribute('d').split(' ').length + ' vertices per chart'; }` },
  ];
  for (const page of pages) {
    const times = [];
    let last;
    for (let i = 0; i < repeats; i++) {
      await go(`${url}/?load=${i}${page.hash}`);
      last = await run(until, page.check);
      if (last.error) throw new Error(`${page.name}: the page shows an error: ${last.error}`);
      times.push(last.ms);
    }
    console.log(`${page.name}: drawn ${stats(times)} after navigation start; ${last.what}`);
    for (const a of last.api) console.log(`    ${a.path}  ${a.ms} ms  ${a.bytes} bytes`);
    const w = await run(watch, watchMs);
    console.log(`    while polling for ${watchMs / 1000} s: ${w.longTasks} long tasks (> 50 ms), longest ${w.maxMs} ms`);
  }

  // One filter change on the fleet grid: from the change event to the next frame after React's commit.
  await go(`${url}/?load=filter#/fleet`);
  await run(until, pages[0].check);
  const filter = await run(`
    const done = arguments[arguments.length - 1];
    const select = document.querySelector('select[name=rack]');
    const value = select.options[1].value;
    const t0 = performance.now();
    Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set.call(select, value);
    select.dispatchEvent(new Event('change', { bubbles: true }));
    requestAnimationFrame(() => setTimeout(() => done({ ms: Math.round(performance.now() - t0),
      cells: document.querySelectorAll('.grid .cell').length })));`);
  console.log(`fleet filter by rack: ${filter.ms} ms to the next frame, ${filter.cells} cells shown`);
} finally {
  await wd('DELETE', `/session/${sid}`);
}
