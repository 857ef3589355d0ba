import { api, type Metrics, type Page, type Run } from '../api';
import { fmt } from '../chart';
import { usePoll } from '../hooks';
import { percent } from '../recovery';
import { Badge, ErrorLine, time } from '../ui';

const LIVE = new Set(['STARTING', 'RUNNING', 'RECOVERING']);

interface Row { run: Run; tokensPerSec: number | null }

/** The newest 50 runs; tokens/s is the last step's, one bucket of the server's downsampling per live run. */
async function loadRuns(): Promise<Row[]> {
  const page = await api<Page<Run>>('/api/v1/runs?size=50');
  return Promise.all(page.items.map(async run => {
    if (!LIVE.has(run.state) || run.lastStep === null) return { run, tokensPerSec: null };
    const m = await api<Metrics>(`/api/v1/runs/${run.id}/metrics?fromStep=${run.lastStep}&maxPoints=1`);
    return { run, tokensPerSec: m.points.at(-1)?.tokensPerSec ?? null };
  }));
}

export function RunsPage({ onUnauthorized }: { onUnauthorized: () => void }) {
  const { data, error } = usePoll(loadRuns, [], onUnauthorized);
  return (
    <div>
      <h1>Runs</h1>
      <ErrorLine error={error} />
      {data && data.length === 0 && <p>No runs yet. Submit one with <code>POST /api/v1/runs</code>.</p>}
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
