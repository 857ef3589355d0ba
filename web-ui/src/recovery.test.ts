import { describe, expect, it } from 'vitest';
import type { Generation } from './api';
import {
  chartMarkers, checkpointMark, formField, knobsText, newestComplete, percent, restartForm, seconds, validateRestart,
  type RestartForm,
} from './recovery';
import { checkpoint, incident } from './test-fixtures';

const form = (more: Partial<RestartForm> = {}): RestartForm => ({ ...restartForm([]), ...more });

describe('restart form', () => {
  it('defaults to the newest checkpoint that is neither corrupt, abandoned nor deleted', () => {
    const cps = [checkpoint(100), checkpoint(300, { corrupt: true }), checkpoint(200), checkpoint(250, { abandoned: true }),
      checkpoint(280, { removed: true })];
    expect(newestComplete(cps)?.step).toBe(200);
    expect(restartForm(cps).checkpointStep).toBe('200');
    expect(restartForm([]).checkpointStep).toBe('');
    expect(newestComplete([checkpoint(5, { corrupt: true })])).toBeNull();
  });

  it('turns a valid form into the API body, empty knobs meaning unchanged', () => {
    const v = validateRestart(form({ checkpointStep: '200', lrMultiplier: '0.9', clipNorm: ' 0.3 ', resetLossScaler: true,
      skipBatches: '250', reason: '  spike at 240 ' }));
    expect(v).toEqual({ ok: true, body: { checkpointStep: 200, reason: 'spike at 240',
      knobs: { lrMultiplier: 0.9, clipNorm: 0.3, resetLossScaler: true, skipBatches: 250 } } });
    expect(validateRestart(form({ skipBatches: '' }))).toEqual({ ok: true, body: { checkpointStep: null, reason: null,
      knobs: { lrMultiplier: null, clipNorm: null, resetLossScaler: false, skipBatches: 0 } } });
  });

  it('names every bad field at once', () => {
    const v = validateRestart(form({ lrMultiplier: '0', clipNorm: 'abc', skipBatches: '-2', checkpointStep: '1.5' }));
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(Object.keys(v.errors).sort()).toEqual(['checkpointStep', 'clipNorm', 'lrMultiplier', 'skipBatches']);
    expect(v.errors.lrMultiplier).toMatch(/above 0/);
    expect(v.errors.skipBatches).toMatch(/≥ 0/);
    expect(validateRestart(form({ skipBatches: '2.5' }))).toMatchObject({ ok: false, errors: { skipBatches: expect.any(String) } });
    expect(validateRestart(form({ lrMultiplier: '-0.5' }))).toMatchObject({ ok: false, errors: { lrMultiplier: expect.any(String) } });
    expect(validateRestart(form({ lrMultiplier: '10.5' }))).toMatchObject({ ok: false, errors: { lrMultiplier: expect.stringContaining("at most 10") } });
    expect(validateRestart(form({ lrMultiplier: '10' })).ok).toBe(true);
    expect(validateRestart(form({ clipNorm: '1e6' })).ok).toBe(true);
  });

  it('maps a problem detail\'s field onto the form, nested knobs included', () => {
    expect(formField('checkpointStep')).toBe('checkpointStep');
    expect(formField('knobs.clipNorm')).toBe('clipNorm');
    expect(formField('lrMultiplier')).toBe('lrMultiplier');
    expect(formField('state')).toBeNull();
    expect(formField(undefined)).toBeNull();
  });
});

describe('checkpoint marks', () => {
  it('puts corrupt before abandoned before the loss-scale health', () => {
    expect(checkpointMark(checkpoint(1, { corrupt: true, abandoned: true })).kind).toBe('corrupt');
    expect(checkpointMark(checkpoint(1, { abandoned: true })).kind).toBe('abandoned');
    expect(checkpointMark(checkpoint(1, { removed: true })).kind).toBe('removed');
    expect(checkpointMark(checkpoint(1)).text).toBe('✔ healthy');
    expect(checkpointMark(checkpoint(1, { healthy: false })).kind).toBe('unhealthy');
  });
});

describe('chart markers', () => {
  const gen = (generation: number, placedAt: string): Generation => ({ generation, placedAt, ranks: [], spares: [] });

  it('marks incidents at their onset and restarts at the step they restored', () => {
    const incidents = [
      incident(2, { onsetStep: 240, newGeneration: 3, restoreFrom: { step: 200, path: '/ckpt/step-200' } }),
      incident(1, { kind: 'NODE_LOST', onsetStep: null, newGeneration: 2, restoreFrom: { step: 100, path: '/c' } }),
    ];
    const gens = [gen(1, '2026-11-28T05:00:00Z'), gen(2, '2026-11-28T05:02:00Z'), gen(3, '2026-11-28T05:03:00Z')];
    expect(chartMarkers(incidents, gens, [])).toEqual([
      { step: 240, kind: 'incident', label: '#2 DIVERGENCE' },
      { step: 100, kind: 'restart', label: 'generation 2 from step 100' },
      { step: 200, kind: 'restart', label: 'generation 3 from step 200' },
    ]);
  });

  it('places a restart with no incident (a resume) at the newest intact checkpoint written before it', () => {
    const cps = [checkpoint(10, { reportedAt: '2026-11-28T05:00:10Z' }), checkpoint(20, { reportedAt: '2026-11-28T05:00:20Z' }),
      checkpoint(25, { reportedAt: '2026-11-28T05:00:25Z', corrupt: true }), checkpoint(30, { reportedAt: '2026-11-28T05:00:40Z' })];
    const gens = [gen(1, '2026-11-28T05:00:00Z'), gen(2, '2026-11-28T05:00:30Z')];
    expect(chartMarkers([], gens, cps)).toEqual([{ step: 20, kind: 'restart', label: 'generation 2 from step 20' }]);
    // with no checkpoint before it, a new generation starts over
    expect(chartMarkers([], gens, [])).toEqual([{ step: 0, kind: 'restart', label: 'generation 2 from step 0' }]);
    expect(chartMarkers([], [gen(1, '2026-11-28T05:00:00Z')], cps)).toEqual([]);
  });
});

describe('logbook text', () => {
  it('describes knobs, durations and goodput', () => {
    expect(knobsText({ lrMultiplier: 0.9, lrOverride: null, clipNorm: 0.3, resetLossScaler: true, skipBatches: 200 }))
      .toBe('LR × 0.9, clip 0.3, reset loss scaler, skip 200 batches');
    expect(knobsText({ lrMultiplier: null, lrOverride: null, clipNorm: null, resetLossScaler: false, skipBatches: 0 }))
      .toBe('unchanged');
    expect(knobsText(null)).toBe('unchanged');
    expect([seconds(14.83), seconds(185), seconds(179.6), seconds(null)]).toEqual(['14.8 s', '3 min 5 s', '3 min 0 s', '–']);
    expect([percent(0.9312), percent(null)]).toEqual(['93.1 %', '–']);
  });
});
