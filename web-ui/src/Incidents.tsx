import type { Incident } from './api';
import { fmt } from './chart';
import { knobsText, seconds } from './recovery';
import { Badge, time } from './ui';

// Evidence keys drawn in a form of their own; any other key is shown as JSON.
const SHOWN = new Set(['metrics', 'exitCode', 'logTail', 'threadDump', 'threadDumpUnavailable', 'xid']);

interface WindowRow { step?: number; loss?: number; lossScale?: number; gradNorm?: number; lr?: number; overflow?: boolean }

function Evidence({ evidence }: { evidence: Record<string, unknown> }) {
  const metrics = Array.isArray(evidence.metrics) ? (evidence.metrics as WindowRow[]) : [];
  const logTail = Array.isArray(evidence.logTail) ? (evidence.logTail as string[]) : [];
  const rest = Object.entries(evidence).filter(([k]) => !SHOWN.has(k));
  return (
    <div className="evidence">
      {evidence.exitCode !== undefined && <p>exit code <b data-evidence="exitCode">{String(evidence.exitCode)}</b></p>}
      {evidence.xid !== undefined && <p>XID <b>{String(evidence.xid)}</b></p>}
      {metrics.length > 0 && (
        <table data-evidence="metrics">
          <thead><tr><th>step</th><th>loss</th><th>loss scale</th><th>grad norm</th><th>LR</th><th>overflow</th></tr></thead>
          <tbody>{metrics.map((m, i) => (
            <tr key={i}><td>{m.step ?? '–'}</td><td>{fmt(m.loss)}</td><td>{fmt(m.lossScale)}</td><td>{fmt(m.gradNorm)}</td>
              <td>{fmt(m.lr)}</td><td>{m.overflow ? 'yes' : ''}</td></tr>))}
          </tbody>
        </table>
      )}
      {logTail.length > 0 && <><h4>log tail</h4><pre data-evidence="logTail">{logTail.join('\n')}</pre></>}
      {typeof evidence.threadDump === 'string' && <><h4>thread dump</h4><pre data-evidence="threadDump">{evidence.threadDump}</pre></>}
      {typeof evidence.threadDumpUnavailable === 'string' && <p>{evidence.threadDumpUnavailable}</p>}
      {rest.map(([k, v]) => <p key={k}>{k}: <code>{JSON.stringify(v)}</code></p>)}
    </div>
  );
}

/** The recovery logbook, newest first as the API returns it; each entry's evidence folds out. */
export function IncidentLog({ incidents, showRun = false }: { incidents: Incident[]; showRun?: boolean }) {
  if (incidents.length === 0) return <p>No incidents.</p>;
  return (
    <ol className="logbook">
      {incidents.map(i => (
        <li key={i.id} className={`incident k-${i.kind}`} data-incident={i.id} data-kind={i.kind}>
          <p className="head">
            <b>#{i.id} {i.kind}</b> <Badge state={i.state} /> <span className="hint">{i.cause}</span>
            {' '}· detected {time(i.detectedAt)}
            {i.detectionLatencySeconds !== null && <> (latency {seconds(i.detectionLatencySeconds)})</>}
            {' '}· generation {i.generation}
            {i.nodeName && <> · node <a href={`#/nodes/${i.nodeId}`}>{i.nodeName}</a>{i.rank !== null && <> rank {i.rank}</>}</>}
            {i.onsetStep !== null && <> · step {i.onsetStep}</>}
            {showRun && <> · run <a href={`#/runs/${i.runId}`}>{i.runId.slice(0, 8)}</a></>}
          </p>
          <p className="summary">{i.summary}</p>
          {i.decision && (
            <div className="decision">
              <p>decision <b data-decision={i.decision.action}>{i.decision.action}</b> · knobs {knobsText(i.decision.knobs)}
                {' '}· {i.decision.consumesBudget ? 'uses the restart budget' : 'does not use the restart budget'}
                {i.decision.backoffSeconds > 0 && <> · back off {seconds(i.decision.backoffSeconds)}</>}</p>
              {i.decision.reasons.length > 0 && <ul className="reasons">{i.decision.reasons.map((r, k) => <li key={k}>{r}</li>)}</ul>}
            </div>
          )}
          <p>
            restored {i.restoreFrom ? <><b>step {i.restoreFrom.step}</b> <code>{i.restoreFrom.path}</code></> : '–'}
            {(i.skippedCheckpoints ?? []).length > 0 && (
              <> (skipped {(i.skippedCheckpoints ?? []).map(s => `step ${s.step}: ${s.reason}`).join('; ')})</>)}
            {i.newGeneration !== null && <> · new generation <b>{i.newGeneration}</b></>}
            {i.swappedIn && <> · swapped in <a href={`#/nodes/${i.swappedIn.nodeId}`}>{i.swappedIn.nodeName}</a></>}
            {' '}· time to recovery <b>{seconds(i.timeToRecoverySeconds)}</b>
            {i.recoveredAt && <> (first step {time(i.recoveredAt)})</>}
          </p>
          {i.evidence && Object.keys(i.evidence).length > 0 && (
            <details><summary>evidence</summary><Evidence evidence={i.evidence} /></details>)}
        </li>
      ))}
    </ol>
  );
}
