// Seeds a running orchestrator for bench/ui.sh over its real HTTP API: NODES nodes (one heartbeat each, labels
// zone/rack) and one run of one rank with POINTS steps of metrics reported as its trainer would (in reports of
// 1,000 steps) plus a checkpoint every 10,000 steps. Prints the run's id on the last line.
//   node bench/ui/seed.mjs --url http://127.0.0.1:18083 --join JOIN --admin ADMIN --nodes 1000 --points 100000
const arg = name => {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) throw new Error(`missing --${name}`);
  return process.argv[i + 1];
};
const url = arg('url'), join = arg('join'), admin = arg('admin');
const nodes = Number(arg('nodes')), points = Number(arg('points'));
const BATCH = 1000;

async function call(method, path, token, body) {
  const res = await fetch(url + path, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs fn over items, `width` at a time. */
async function pool(items, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

const gpu = i => ({ index: i, temperatureC: 50 + i, memoryUsedMiB: 1000, memoryTotalMiB: 81559, utilizationPct: 90,
  eccCorrectable: 0, eccUncorrectable: 0, retiredPages: 0, xidErrors: [], nvlinkErrors: 0 });
const idle = { state: 'IDLE', runId: null, rank: -1, generation: 0, exitCode: null, lastStep: -1, logTail: [], threadDump: null };

const started = performance.now();
const agents = [];
await pool(Array.from({ length: nodes }, (_, i) => i), 16, async i => {
  const name = `ui-bench-${String(i).padStart(4, '0')}`;
  const labels = { zone: `zone-${i % 4}`, rack: `rack-${String(i % 50).padStart(2, '0')}` };
  const reg = await call('POST', '/api/v1/agents/register', join, {
    nodeName: name, hostname: `${name}.bench`, labels, agentVersion: 'bench',
    gpus: Array.from({ length: 8 }, (_, g) => ({ index: g, uuid: `GPU-${name}-${g}`, model: 'NVIDIA H100', memoryMiB: 81559 })),
  });
  await call('POST', `/api/v1/agents/${reg.nodeId}/heartbeat`, reg.nodeCredential,
    { sequence: 1, gpus: Array.from({ length: 8 }, (_, g) => gpu(g)), trainer: idle });
  agents[i] = { ...reg, name, labels };
});
console.log(`seeded ${nodes} nodes in ${((performance.now() - started) / 1000).toFixed(1)} s`);

const rack = agents[0].labels.rack;
const run = await call('POST', '/api/v1/runs', admin, {
  name: `ui-bench ${points} steps`, model: { size: 'tiny' }, data: { sample: 'europarl' }, worldSize: 1, spares: 0,
  nodeSelector: { rack }, hyper: { maxSteps: points * 2 },
});
let gen;
for (let t = 0; t < 300 && !gen; t++) {
  const gens = await call('GET', `/api/v1/runs/${run.id}/generations`, admin);
  gen = gens.find(g => g.ranks.length > 0);
  if (!gen) await new Promise(r => setTimeout(r, 100));
}
if (!gen) throw new Error(`run ${run.id} was not placed`);
const node = agents.find(a => a.nodeId === gen.ranks[0].nodeId);
const t0 = performance.now();
for (let first = 0; first < points; first += BATCH) {
  const steps = [];
  for (let s = first; s < Math.min(points, first + BATCH); s++) {
    // a decaying loss with some noise for the min-max band, and no spike: recovery would stop the run at one
    const loss = 2 + 8 / Math.sqrt(1 + s / 100) + 0.05 * Math.sin(s);
    steps.push({ type: 'step', step: s, tokensSeen: (s + 1) * 4096, loss, gradNorm: 0.5 + 0.1 * Math.cos(s / 50),
      lossScale: 65536, overflow: false, lr: 3e-4, tokensPerSec: 50000 + (s % 100), stepTimeMs: 80, rssBytes: 1 << 30,
      activationNorms: [1.0] });
  }
  const last = steps.at(-1).step;
  const checkpoints = (last + 1) % 10000 === 0
    ? [{ type: 'checkpoint', step: last, tokensSeen: (last + 1) * 4096, path: `/ckpt/bench/step-${last}`, lossScale: 65536,
      loss: steps.at(-1).loss, manifestSha256: 'ab'.repeat(32), bytes: 1 << 20 }] : [];
  await call('POST', `/api/v1/agents/${node.nodeId}/reports`, node.nodeCredential,
    { runId: run.id, rank: 0, generation: gen.generation, steps, checkpoints });
}
console.log(`reported ${points} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
console.log(run.id);
