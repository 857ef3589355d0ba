import { useEffect, useRef, useState } from 'react';
import { api, ApiError, type Run } from './api';
import { followLog, type LogLine, type LogPage } from './logs';
import { ErrorLine } from './ui';

// The most lines the view keeps; older ones scroll away (the server's window is 1000 by default).
const MAX_SHOWN = 1000;

/**
 * A rank's live trainer log on the run page: pick a rank; "follow" streams new lines as they come (moving on to the
 * next generation after a restart), otherwise the recent window is shown as it was when loaded.
 */
export function LogView({ run, onUnauthorized }: { run: Run; onUnauthorized: () => void }) {
  const [rank, setRank] = useState(0);
  const [follow, setFollow] = useState(false);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [notes, setNotes] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loads, setLoads] = useState(0);
  const base = `/api/v1/runs/${run.id}/logs?rank=${rank}`;
  const shown = useRef<HTMLPreElement>(null);

  useEffect(() => { // a followed log stays scrolled to its newest line
    if (follow && shown.current) shown.current.scrollTop = shown.current.scrollHeight;
  }, [lines, follow]);

  useEffect(() => {
    const abort = new AbortController();
    let live = true;
    const failed = (e: unknown) => {
      if (!live || abort.signal.aborted) return;
      if (e instanceof ApiError && e.status === 401) onUnauthorized();
      setError(e instanceof Error ? e.message : String(e));
    };
    setLines([]);
    setNotes([]);
    setError(null);
    const add = (more: LogLine[]) => setLines(old => [...old, ...more].slice(-MAX_SHOWN));
    const note = (n: string) => setNotes(old => [...old, n].slice(-5));
    if (!follow) {
      api<LogPage>(base).then(page => {
        if (!live) return;
        if (page.missedLines > 0) note(`${page.missedLines} earlier lines left the orchestrator's window`);
        if (page.droppedLines > 0) note(`${page.droppedLines} lines were dropped by the agent`);
        add(page.lines);
      }, failed);
    } else {
      (async () => {
        let after: number | null = null;
        for (;;) {
          const path: string = `${base}&follow=true${after === null ? '' : `&after=${after}`}`;
          const reason = await followLog(path, e => {
            const data = JSON.parse(e.data);
            if (e.name === 'line') {
              add([data as LogLine]);
              after = (data as LogLine).seq;
            } else if (e.name === 'missed') note(`${data.lines} lines left the window before they were shown`);
          }, abort.signal);
          if (!live) return;
          if (reason.startsWith('timeout')) continue; // the stream's time was up: on from the last line
          if (reason.startsWith('superseded')) { note('a new generation started; following it'); after = null; continue; }
          note(reason);
          return;
        }
      })().catch(failed);
    }
    return () => { live = false; abort.abort(); };
  }, [base, follow, loads]);

  return (
    <div className="logs">
      <p className="actions">
        <label>rank{' '}
          <select value={rank} onChange={e => setRank(Number(e.target.value))} data-field="log-rank">
            {Array.from({ length: run.worldSize }, (_, r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </label>{' '}
        <label><input type="checkbox" checked={follow} onChange={e => setFollow(e.target.checked)}
                      data-field="log-follow" /> follow</label>{' '}
        {!follow && <button type="button" onClick={() => setLoads(n => n + 1)} data-field="log-reload">reload</button>}
        {' '}<span className="hint">generation {run.generation}{follow ? ' · following' : ''}</span>
      </p>
      <ErrorLine error={error} />
      {notes.map((n, i) => <p key={i} className="hint" data-log-note>{n}</p>)}
      <pre className="log" data-log-rank={rank} ref={shown}>
        {lines.length === 0 ? <span className="hint">No lines yet.</span>
          : lines.map(l => <div key={l.seq} className={`log-${l.stream.toLowerCase()}`} data-seq={l.seq}>{l.text}</div>)}
      </pre>
    </div>
  );
}
