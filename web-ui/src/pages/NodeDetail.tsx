import { api, type Incident, type NodeDetail, type NodeEvent, type Page, type Role } from '../api';
import { fmt } from '../chart';
import { confirmation, nodeActions } from '../fleet';
import { IncidentLog } from '../Incidents';
import { usePoll } from '../hooks';
import { Action, Badge, ErrorLine, Section, time } from '../ui';

async function loadNode(id: string) {
  const [detail, events, incidents] = await Promise.all([
    api<NodeDetail>(`/api/v1/nodes/${id}`), api<Page<NodeEvent>>(`/api/v1/nodes/${id}/events?size=50`),
    api<Incident[]>(`/api/v1/nodes/${id}/incidents`)]);
  return { detail, events: events.items, incidents };
}

export function NodePage({ id, role, onUnauthorized }: { id: string; role: Role; onUnauthorized: () => void }) {
  const { data, error, reload } = usePoll(() => loadNode(id), [id], onUnauthorized);
  if (!data) return <div><ErrorLine error={error} />{!error && <p>Loading…</p>}</div>;
  const { node, gpuHealth, trainer, lastSequence } = data.detail;
  const health = new Map((gpuHealth ?? []).map(h => [h.index, h]));
  return (
    <div>
      <p><a href="#/fleet">← fleet</a></p>
      <h1>{node.name} <Badge state={node.state} /></h1>
      <ErrorLine error={error} />
      <p className="facts">
        {node.hostname} · agent {node.agentVersion} · {Object.entries(node.labels).map(([k, v]) => `${k}=${v}`).join(' ')}
        {' '}· heartbeat #{lastSequence} at {time(node.lastSeenAt)}{node.stateReason && <> · <i>{node.stateReason}</i></>}
      </p>
      {role !== 'VIEWER' && (
        <p className="actions">{nodeActions(node.state).map(a => (
          <Action key={a} label={a} path={`/api/v1/nodes/${node.id}/${a}`} onDone={reload}
                  confirm={confirmation(a, node.name)} />))}</p>
      )}
      <Section title="Trainer">
        {trainer ? <p>{trainer.state}{trainer.runId && <> · run <a href={`#/runs/${trainer.runId}`}>{trainer.runId}</a> rank {trainer.rank} generation {trainer.generation} step {trainer.lastStep}</>}
          {trainer.exitCode !== null && <> · exit {trainer.exitCode}</>}</p> : <p>No heartbeat yet.</p>}
      </Section>
      <Section title="GPUs">
        <table className="gpus">
          <thead><tr><th>#</th><th>model</th><th>temp °C</th><th>memory MiB</th><th>util %</th><th>ECC corr / uncorr</th>
            <th>retired pages</th><th>XID</th><th>NVLink errors</th></tr></thead>
          <tbody>{node.gpus.map(g => {
            const h = health.get(g.index);
            return (
              <tr key={g.index} className={h && (h.eccUncorrectable > 0 || h.xidErrors.length > 0) ? 'unhealthy' : ''}>
                <td>{g.index}</td><td>{g.model}</td><td>{fmt(h?.temperatureC)}</td>
                <td>{h ? `${fmt(h.memoryUsedMiB)} / ${fmt(h.memoryTotalMiB)}` : fmt(g.memoryMiB)}</td>
                <td>{fmt(h?.utilizationPct)}</td><td>{h ? `${h.eccCorrectable} / ${h.eccUncorrectable}` : '–'}</td>
                <td>{h?.retiredPages ?? '–'}</td><td>{h?.xidErrors.join(', ') || '–'}</td><td>{h?.nvlinkErrors ?? '–'}</td>
              </tr>);
          })}</tbody>
        </table>
      </Section>
      <Section title="Incidents">
        <IncidentLog incidents={data.incidents} showRun />
      </Section>
      <Section title="Events">
        <table>
          <thead><tr><th>at</th><th>from</th><th>to</th><th>reason</th><th>by</th></tr></thead>
          <tbody>{data.events.map(e => (
            <tr key={e.id}><td>{time(e.at)}</td><td>{e.from ?? ''}</td><td>{e.to}</td><td>{e.reason}</td><td>{e.actor}</td></tr>))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}
