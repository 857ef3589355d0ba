import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Chart } from './Chart';
import { GoodputBreakdown } from './Goodput';
import { IncidentLog } from './Incidents';
import { restartForm } from './recovery';
import { RestartFields } from './RestartForm';
import { checkpoint, incident } from './test-fixtures';

const noop = () => {};

describe('IncidentLog', () => {
  const divergence = incident(7, {
    onsetStep: 240, generation: 2, nodeId: 'n-1', nodeName: 'gpu-3', rank: 1, state: 'RECOVERED',
    summary: 'loss 9.1 above 2.5 × its EWMA 3.0 at step 240',
    decision: { action: 'ROLLBACK_AND_RESTART', reasons: ['2nd divergence: lower the LR', 'clip 1.0 → 0.3'],
      consumesBudget: true, backoffSeconds: 10,
      knobs: { lrMultiplier: 0.9, lrOverride: null, clipNorm: 0.3, resetLossScaler: true, skipBatches: 0 } },
    restoreFrom: { step: 200, path: '/ckpt/step-200' }, skippedCheckpoints: [{ step: 220, reason: 'newer than onset - margin' }],
    newGeneration: 3, timeToRecoverySeconds: 14.83,
    evidence: { metrics: [{ step: 239, loss: 3.1, lossScale: 1024, gradNorm: 0.9 }, { step: 240, loss: 9.1, lossScale: 512, gradNorm: 41 }],
      exitCode: 134, logTail: ['step 239 ok', 'step 240 spike'], threadDump: '"main" RUNNABLE', stragglerScores: { 1: 1.8 } },
  });

  it('shows the decision, its reasons, knobs, the restored checkpoint and the time to recovery', () => {
    const html = renderToStaticMarkup(<IncidentLog incidents={[divergence]} />);
    expect(html).toContain('data-incident="7"');
    expect(html).toContain('#7 DIVERGENCE');
    expect(html).toContain('loss 9.1 above 2.5 × its EWMA 3.0 at step 240');
    expect(html).toContain('data-decision="ROLLBACK_AND_RESTART"');
    expect(html).toContain('<li>2nd divergence: lower the LR</li>');
    expect(html).toContain('LR × 0.9, clip 0.3, reset loss scaler');
    expect(html).toContain('step 200');
    expect(html).toContain('step 220: newer than onset - margin');
    expect(html).toContain('new generation <b>3</b>');
    expect(html).toContain('14.8 s');
    expect(html).toContain('href="#/nodes/n-1"');
  });

  it('folds the evidence out: metrics window, exit code, log tail, thread dump and the rest as JSON', () => {
    const html = renderToStaticMarkup(<IncidentLog incidents={[divergence]} />);
    expect(html).toContain('<details><summary>evidence</summary>');
    expect(html).toMatch(/<table data-evidence="metrics">.*<td>240<\/td><td>9\.1<\/td><td>512<\/td><td>41<\/td>/);
    expect(html).toContain('data-evidence="exitCode">134<');
    expect(html).toContain('step 239 ok\nstep 240 spike');
    expect(html).toContain('&quot;main&quot; RUNNABLE');
    expect(html).toContain('stragglerScores: <code>{&quot;1&quot;:1.8}</code>');
  });

  it('says why there is no thread dump, leaves out what is unknown, and keeps the order it is given', () => {
    const hang = incident(9, { kind: 'HANG', evidence: {
      threadDumpUnavailable: 'no thread dump: jcmd did not answer within 10 s (process state T, stopped)' } });
    const html = renderToStaticMarkup(<IncidentLog incidents={[hang, incident(8, { evidence: {} })]} />);
    expect(html).toContain('no thread dump: jcmd did not answer within 10 s (process state T, stopped)');
    expect(html).not.toContain('no thread dump: no thread dump');
    expect(html.indexOf('data-incident="9"')).toBeLessThan(html.indexOf('data-incident="8"'));
    // no decision yet, nothing restored, no evidence to fold out for #8
    expect(html).not.toContain('data-decision');
    expect(html.match(/<details>/g)).toHaveLength(1);
    expect(renderToStaticMarkup(<IncidentLog incidents={[]} />)).toContain('No incidents.');
  });
});

describe('RestartFields', () => {
  const cps = [checkpoint(100), checkpoint(200), checkpoint(300, { corrupt: true }), checkpoint(250, { abandoned: true })];

  it('preselects the newest complete checkpoint and disables corrupt and abandoned ones', () => {
    const html = renderToStaticMarkup(<RestartFields form={restartForm(cps)} errors={{}} busy={false} checkpoints={cps}
      onChange={noop} onSubmit={noop} onClose={noop} />);
    expect(html).toContain('<option value="200" selected="">step 200 · ✔ healthy</option>');
    expect(html).toContain('<option value="300" disabled="">step 300 · ✘ corrupt</option>');
    expect(html).toContain('<option value="250" disabled="">');
    // newest first
    expect(html.indexOf('value="300"')).toBeLessThan(html.indexOf('value="100"'));
    expect(html).not.toContain('role="alert"');
  });

  it('shows each error next to the field it names', () => {
    const html = renderToStaticMarkup(<RestartFields form={restartForm(cps)} busy={false} checkpoints={cps}
      errors={{ clipNorm: 'must be a number above 0', checkpointStep: 'no checkpoint at step 150', form: 'run is PAUSED' }}
      onChange={noop} onSubmit={noop} onClose={noop} />);
    expect(html).toMatch(/name="clipNorm"[^>]*\/><span class="error" role="alert" data-error="clipNorm">must be a number above 0</);
    expect(html).toMatch(/<\/select><span class="error" role="alert" data-error="checkpointStep">no checkpoint at step 150</);
    expect(html).toContain('data-error="form">run is PAUSED<');
  });
});

describe('Chart markers', () => {
  const series = { x: [0, 100, 200], y: [3, 2, 1] };

  it('draws a vertical line per marker inside the chart\'s steps and none outside', () => {
    const html = renderToStaticMarkup(<Chart title="loss" series={series} markers={[
      { step: 100, kind: 'incident', label: '#1 DIVERGENCE' }, { step: 50, kind: 'restart', label: 'generation 2 from step 50' },
      { step: 900, kind: 'incident', label: 'not yet drawn' }]} />);
    // plot from x=56 to 436: step 100 is its middle
    expect(html).toContain('<line x1="246" x2="246" y1="24" y2="156" class="marker m-incident" data-marker="incident" data-step="100">');
    expect(html).toContain('data-marker="restart" data-step="50"');
    expect(html).toContain('<title>step 100: #1 DIVERGENCE</title>');
    expect(html).not.toContain('data-step="900"');
  });
});

describe('GoodputBreakdown', () => {
  const breakdown = {
    runId: 'r-1', from: '2026-12-06T10:00:00Z', to: '2026-12-06T10:01:43.100Z', wallSeconds: 103.1,
    productiveSeconds: 23, lostWorkSeconds: 17, restartSeconds: 13.1, waitingForNodesSeconds: 30, pausedSeconds: 20,
    goodput: 23 / 103.1,
  };

  it('stacks every part by its share of the wall time and lists each with its time', () => {
    const html = renderToStaticMarkup(<GoodputBreakdown goodput={breakdown} />);
    expect(html).toContain('class="g-productiveSeconds" style="width:22.31%"');
    expect(html).toContain('class="g-waitingForNodesSeconds" style="width:29.10%"');
    expect(html).toMatch(/data-part="lostWorkSeconds">.*lost work<\/td><td>17 s<\/td><td>16\.5 %<\/td>/);
    expect(html).toMatch(/data-part="restartSeconds">.*<td>13\.1 s<\/td><td>12\.7 %<\/td>/);
    expect(html).toMatch(/data-part="wall">.*<td>1 min 43 s<\/td><td>100\.0 %<\/td>/);
    expect(html).toContain('aria-label="productive 22.3 %, lost work 16.5 %, restart 12.7 %, waiting for nodes 29.1 %, paused 19.4 %"');
  });

  it('leaves out empty parts from the bar and says when the run was never placed', () => {
    const training = { ...breakdown, wallSeconds: 10, productiveSeconds: 10, lostWorkSeconds: 0, restartSeconds: 0,
      waitingForNodesSeconds: 0, pausedSeconds: 0, goodput: 1 };
    const html = renderToStaticMarkup(<GoodputBreakdown goodput={training} />);
    expect(html.match(/<span /g)).toHaveLength(1);
    expect(html).toMatch(/data-part="pausedSeconds">.*<td>0 s<\/td><td>0\.0 %<\/td>/);
    const never = { ...training, from: null, to: null, wallSeconds: 0, productiveSeconds: 0, goodput: null };
    expect(renderToStaticMarkup(<GoodputBreakdown goodput={never} />)).toContain('Not placed yet.');
  });
});
