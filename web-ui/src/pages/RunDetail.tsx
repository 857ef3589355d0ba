import { useMemo, useState } from 'react';
import { api, seatRanks, type Checkpoint, type Generation, type Goodput, type Incident, type Metrics, type Role, type Run, type RunEvent } from '../api';
import { Chart } from '../Chart';
import { fmt } from '../chart';
import { usePoll } from '../hooks';
import { GoodputBreakdown } from '../Goodput';
import { IncidentLog } from '../Incidents';
import { LogView } from '../LogView';
import { chartMarkers, checkpointMark, percent, type Marker } from '../recovery';
import { RestartDialog } from '../RestartForm';
import { Action, Badge, ErrorLine, Section, time } from '../ui';

// What the server's RunAction allows from each state (it refuses the rest with 409 anyway).
const ACTIONS: Record<string, ('pause' | 'resume' | 'cancel')[]> = {
  PENDING: ['pause', 'cancel'], STARTING: ['pause', 'cancel'], RUNNING: ['pause', 'cancel'],
  RECOVERING: ['pause', 'cancel'], PAUSING: ['cancel'], PAUSED: ['resume', 'cancel'],
};

// The states in which the API takes a manual restart (409 otherwise).
const RESTARTABLE = new Set(['STARTING', 'RUNNING', 'RECOVERING']);

// Enough points for a 460-pixel-wide chart; the server downsamples however many steps the run has.
const MAX_POINTS = 500;

interface RunData {
  run: Run; metrics: Metrics; checkpoints: Checkpoint[]; generations: Generation[]; events: RunEvent[]; incidents: Incident[];
  goodput: Goodput;
}

async function loadRun(id: string): Promise<RunData> {
  const base = `/api/v1/runs/${id}`;
  const [run, metrics, checkpoints, generations, events, incidents, goodput] = await Promise.all([
    api<Run>(base), api<Metrics>(`${base}/metrics?maxPoints=${MAX_POINTS}`), api<Checkpoint[]>(`${base}/checkpoints`),
    api<Generation[]>(`${base}/generations`), api<RunEvent[]>(`${base}/events`), api<Incident[]>(`${base}/incidents`),
    api<Goodput>(`${base}/goodput`),
  ]);
  return { run, metrics, checkpoints, generations, events, incidents, goodput };
}

const Key = ({ kind }: { kind: Marker['kind'] }) => (
  <svg className={`key m-${kind}`} width="18" height="10"><line x1="0" y1="5" x2="18" y2="5" /></svg>);

export function RunPage({ id, role, onUnauthorized }: { id: string; role: Role; onUnauthorized: () => void }) {
  const { data, error, reload } = usePoll(() => loadRun(id), [id], onUnauthorized);
  const [restarting, setRestarting] = useState(false);
  const [requested, setRequested] = useState<Incident | null>(null);
  const markers = useMemo(() => (data ? chartMarkers(data.incidents, data.generations, data.checkpoints) : []), [data]);
  if (!data) return <div><ErrorLine error={error} />{!error && <p>Loading…</p>}</div>;
  const { run, metrics, checkpoints, generations, events, incidents, goodput } = data;
  const pts = metrics.points;
  const x = pts.map(p => p.step);
  return (
    <div>
      <p><a href="#/runs">← runs</a></p>
      <h1>{run.name} <Badge state={run.state} /></h1>
      <ErrorLine error={error} />
      <p className="facts">
        step <b>{fmt(run.lastStep)}</b> · loss <b>{fmt(run.lastLoss)}</b> · tokens seen <b>{fmt(run.tokensSeen)}</b>
        {' '}· generation <b>{run.generation}</b> · restarts <b>{run.restarts}</b> · goodput <b>{percent(run.goodput)}</b>
        {' '}· open incidents <b>{run.openIncidents}</b> · world size <b>{run.worldSize}</b>
        {(run.spec?.ranksPerNode ?? 1) > 1 ? ` (${run.spec?.ranksPerNode} ranks a node)` : ''} + {run.spares} spare nodes
        {(run.spec?.tensorParallel ?? 1) > 1 && <> · tensor parallel <b>{run.spec?.tensorParallel}</b></>}
        {run.spec && <> · program <b>{run.spec.program.name}@{run.spec.program.version}</b></>}
        {run.stateReason && <> · <i>{run.stateReason}</i></>}
      </p>
      {role !== 'VIEWER' && (
        <p className="actions">
          {(ACTIONS[run.state] ?? []).map(a => (
            <Action key={a} label={a} path={`/api/v1/runs/${run.id}/${a}`} onDone={reload} />))}
          {RESTARTABLE.has(run.state) && !restarting && (
            <button type="button" data-action="restart" onClick={() => { setRequested(null); setRestarting(true); }}>
              restart from a checkpoint…</button>)}
        </p>
      )}
      {role !== 'VIEWER' && restarting && (
        <RestartDialog runId={run.id} checkpoints={checkpoints} onClose={() => setRestarting(false)}
                       onDone={incident => { setRestarting(false); setRequested(incident); reload(); }} />
      )}
      {requested && (
        <p className="notice" role="status">Restart requested: incident #{requested.id}
          {requested.restoreFrom && <> from step {requested.restoreFrom.step}</>}
          {requested.newGeneration !== null && <>, generation {requested.newGeneration}</>}.</p>
      )}
      {markers.length > 0 && (
        <p className="hint">markers: <Key kind="incident" /> incident (at its onset step) ·
          {' '}<Key kind="restart" /> restart (at the step it restored)</p>)}
      <p className="hint">{pts.length} points{metrics.bucketSteps > 1 ? `, ${metrics.bucketSteps} steps each` : ''}</p>
      <div className="charts">
        <Chart title="loss" markers={markers}
               series={{ x, y: pts.map(p => p.loss), lo: pts.map(p => p.lossMin), hi: pts.map(p => p.lossMax) }} />
        <Chart title="loss scale" series={{ x, y: pts.map(p => p.lossScale) }} log markers={markers} />
        <Chart title="learning rate" series={{ x, y: pts.map(p => p.lr) }} markers={markers} />
        <Chart title="gradient norm" series={{ x, y: pts.map(p => p.gradNorm) }} markers={markers} />
        <Chart title="tokens/s" series={{ x, y: pts.map(p => p.tokensPerSec) }} markers={markers} />
      </div>
      <Section title="Goodput">
        <GoodputBreakdown goodput={goodput} />
      </Section>
      <Section title="Trainer log">
        <LogView run={run} onUnauthorized={onUnauthorized} />
      </Section>
      <Section title="Incident logbook">
        <IncidentLog incidents={incidents} />
      </Section>
      <Section title="Checkpoints">
        {checkpoints.length === 0 ? <p>None yet.</p> : (
          <table>
            <thead><tr><th>step</th><th>state</th><th>loss scale</th><th>loss</th><th>generation</th><th>path</th><th>at</th></tr></thead>
            <tbody>{checkpoints.map(c => {
              const mark = checkpointMark(c);
              return (
              <tr key={c.step} className={mark.kind} data-checkpoint={c.step}>
                <td>{c.step}</td><td>{mark.text}</td><td>{fmt(c.lossScale)}</td>
                <td>{fmt(c.loss)}</td><td>{c.generation}</td><td><code>{c.path}</code></td><td>{time(c.reportedAt)}</td>
              </tr>);
            })}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Generations">
        {generations.length === 0 ? <p>Not placed yet.</p> : (
          <table>
            <thead><tr><th>generation</th><th>placed</th><th>ranks</th><th>spares</th></tr></thead>
            <tbody>{generations.map(g => (
              <tr key={g.generation} data-generation={g.generation}>
                <td>{g.generation}</td><td>{time(g.placedAt)}</td>
                <td>{g.ranks.map(s => <a key={s.nodeId} href={`#/nodes/${s.nodeId}`} className={s.releasedAt ? 'released' : ''}>{seatRanks(s)}:{s.nodeName} </a>)}</td>
                <td>{g.spares.map(s => <a key={s.nodeId} href={`#/nodes/${s.nodeId}`}>{s.nodeName} </a>)}</td>
              </tr>))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Events">
        <table>
          <thead><tr><th>at</th><th>from</th><th>to</th><th>generation</th><th>reason</th><th>by</th></tr></thead>
          <tbody>{events.map((e, i) => (
            <tr key={i}><td>{time(e.at)}</td><td>{e.from ?? ''}</td><td>{e.to}</td><td>{e.generation}</td><td>{e.reason}</td><td>{e.actor}</td></tr>))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}
