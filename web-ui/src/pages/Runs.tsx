import { useState } from 'react';
import { api, type Metrics, type Page, type Run, type RunState } from '../api';
import { fmt } from '../chart';
import { usePoll } from '../hooks';
import { percent } from '../recovery';
import { Badge, ErrorLine, time } from '../ui';
import { Pager, runsQuery, RUN_STATES, RUNS_PAGE } from '../paging';

const LIVE = new Set(['STARTING', 'RUNNING', 'RECOVERING']);

interface Row { run: Run; tokensPerSec: number | null }

/**
 * One page of runs, newest first, optionally of one state (the server pages and filters); tokens/s is the last
 * step's, one bucket of the server's downsampling per live run.
 */
async function loadRuns(page: number, state: RunState | ''): Promise<{ rows: Row[]; total: number }> {
  const found = await api<Page<Run>>(`/api/v1/runs?${runsQuery(page, state)}`);
  const rows = await Promise.all(found.items.map(async run => {
    if (!LIVE.has(run.state) || run.lastStep === null) return { run, tokensPerSec: null };
    const m = await api<Metrics>(`/api/v1/runs/${run.id}/metrics?fromStep=${run.lastStep}&maxPoints=1`);
    return { run, tokensPerSec: m.points.at(-1)?.tokensPerSec ?? null };
  }));
  return { rows, total: found.total };
}

export function RunsPage({ canSubmit, onUnauthorized }: { canSubmit: boolean; onUnauthorized: () => void }) {
  const [page, setPage] = useState(0);
  const [state, setState] = useState<RunState | ''>('');
  const { data: loaded, error } = usePoll(() => loadRuns(page, state), [page, state], onUnauthorized);
  const data = loaded?.rows;
  return (
    <div>
      <h1>Runs {canSubmit && <a className="button" href="#/submit">submit a run</a>}</h1>
      <ErrorLine error={error} />
      <p className="filters">
        <label>state{' '}
          <select name="runState" value={state} onChange={e => { setState(e.target.value as RunState | ''); setPage(0); }}>
            <option value="">all</option>
            {RUN_STATES.map(s => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>{' '}
        {loaded && <Pager page={page} size={RUNS_PAGE} total={loaded.total} onPage={setPage} />}
      </p>
      {data && data.length === 0 && <p>{state ? `No ${state} runs.` : 'No runs yet.'}</p>}
      {data && data.length > 0 && (
        <table className="runs">
          <thead><tr><th>name</th><th>state</th><th>step</th><th>loss</th><th>tokens/s</th>
            <th title="each placement (restart, resume) starts a new generation">generation</th>
            <th title="generations started by recovery, automatic or manual (not pause and resume)">restarts</th>
            <th title="productive training time ÷ wall time since the first placement">goodput</th>
            <th>open incidents</th><th>ranks</th><th>created</th></tr></thead>
          <tbody>
            {data.map(({ run, tokensPerSec }) => (
              <tr key={run.id} data-run={run.name}>
                <td><a href={`#/runs/${run.id}`}>{run.name}</a></td>
                <td><Badge state={run.state} /></td>
                <td>{fmt(run.lastStep)}</td>
                <td>{fmt(run.lastLoss)}</td>
                <td>{fmt(tokensPerSec)}</td>
                <td>{run.generation}</td>
                <td className="restarts">{run.restarts}</td>
                <td className="goodput">{percent(run.goodput)}</td>
                <td className={run.openIncidents > 0 ? 'open-incidents open' : 'open-incidents'}>{run.openIncidents}</td>
                <td>{run.worldSize}{run.spares > 0 ? ` + ${run.spares}` : ''}</td>
                <td>{time(run.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
