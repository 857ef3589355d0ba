// Pure logic of the recovery views (restart form, chart markers, logbook text), kept apart from React for unit tests.
import type { Checkpoint, Generation, Goodput, Incident, Knobs, RestartRequest } from './api';

/** A checkpoint the server could restore: not corrupt, not moved aside by a rollback, not deleted by retention. */
export function restorable(c: Checkpoint): boolean {
  return !c.corrupt && !c.abandoned && !c.removed;
}

/** The newest checkpoint the server could restore. */
export function newestComplete(checkpoints: Checkpoint[]): Checkpoint | null {
  return checkpoints.filter(restorable)
    .reduce<Checkpoint | null>((best, c) => (best === null || c.step > best.step ? c : best), null);
}

/** How the checkpoints table and the restart form's menu describe a checkpoint. */
export function checkpointMark(c: Checkpoint): { kind: 'corrupt' | 'abandoned' | 'removed' | 'healthy' | 'unhealthy'; text: string } {
  if (c.corrupt) return { kind: 'corrupt', text: '✘ corrupt' };
  if (c.abandoned) return { kind: 'abandoned', text: '↶ abandoned (rolled back past)' };
  if (c.removed) return { kind: 'removed', text: '– deleted by retention' };
  return c.healthy ? { kind: 'healthy', text: '✔ healthy' } : { kind: 'unhealthy', text: '✘ loss scale < 1' };
}

/** What the operator typed, as typed: numbers stay strings until validated. */
export interface RestartForm {
  checkpointStep: string; lrMultiplier: string; clipNorm: string; resetLossScaler: boolean; skipBatches: string;
  reason: string;
}

export type RestartField = keyof RestartForm;

export function restartForm(checkpoints: Checkpoint[]): RestartForm {
  const newest = newestComplete(checkpoints);
  return { checkpointStep: newest ? String(newest.step) : '', lrMultiplier: '', clipNorm: '', resetLossScaler: false,
    skipBatches: '0', reason: '' };
}

export type Validated =
  | { ok: true; body: RestartRequest }
  | { ok: false; errors: Partial<Record<RestartField, string>> };

/** Checks the form the way the API does, so most mistakes are named before a round trip; the API has the last word. */
export function validateRestart(f: RestartForm): Validated {
  const errors: Partial<Record<RestartField, string>> = {};
  const optionalPositive = (field: 'lrMultiplier' | 'clipNorm', max: number): number | null => {
    const text = f[field].trim();
    if (text === '') return null;
    const v = Number(text);
    if (!Number.isFinite(v) || v <= 0 || v > max) {
      errors[field] = `must be a number above 0${max < Infinity ? ` and at most ${max}` : ''}, or empty to keep the current one`;
    }
    return v;
  };
  // The API's bounds: an LR multiplier in (0, 10], any positive clip norm.
  const lrMultiplier = optionalPositive('lrMultiplier', 10);
  const clipNorm = optionalPositive('clipNorm', Infinity);
  const skipText = f.skipBatches.trim();
  const skipBatches = skipText === '' ? 0 : Number(skipText);
  if (!Number.isInteger(skipBatches) || skipBatches < 0) errors.skipBatches = 'must be a whole number ≥ 0';
  const stepText = f.checkpointStep.trim();
  const checkpointStep = stepText === '' ? null : Number(stepText);
  if (checkpointStep !== null && (!Number.isInteger(checkpointStep) || checkpointStep < 0)) {
    errors.checkpointStep = 'must be the step of a checkpoint';
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    body: {
      checkpointStep,
      knobs: { lrMultiplier, clipNorm, resetLossScaler: f.resetLossScaler, skipBatches },
      reason: f.reason.trim() || null,
    },
  };
}

/** The form field a problem detail's `field` names ("knobs.clipNorm" → clipNorm), or null for the form as a whole. */
export function formField(apiField: string | undefined): RestartField | null {
  const name = apiField?.replace(/^knobs\./, '');
  const fields: RestartField[] = ['checkpointStep', 'lrMultiplier', 'clipNorm', 'resetLossScaler', 'skipBatches', 'reason'];
  return fields.find(f => f === name) ?? null;
}

export interface Marker { step: number; kind: 'incident' | 'restart'; label: string }

/**
 * Vertical chart markers: each incident at its onset step, each generation after the first at the step it
 * restarted from (the incident's restored checkpoint, else the newest intact checkpoint written before it was
 * placed, else step 0).
 */
export function chartMarkers(incidents: Incident[], generations: Generation[], checkpoints: Checkpoint[]): Marker[] {
  const markers: Marker[] = incidents.filter(i => i.onsetStep !== null)
    .map(i => ({ step: i.onsetStep!, kind: 'incident', label: `#${i.id} ${i.kind}` }));
  const first = Math.min(...generations.map(g => g.generation));
  for (const g of generations) {
    if (g.generation === first) continue;
    const byIncident = incidents.find(i => i.newGeneration === g.generation && i.restoreFrom !== null);
    const placed = Date.parse(g.placedAt);
    const before = checkpoints.filter(c => !c.corrupt && Date.parse(c.reportedAt) <= placed)
      .reduce((step, c) => Math.max(step, c.step), -1);
    const step = byIncident?.restoreFrom!.step ?? Math.max(before, 0);
    markers.push({ step, kind: 'restart', label: `generation ${g.generation} from step ${step}` });
  }
  return markers;
}

/** One line for a decision's knobs: "LR × 0.9, clip 0.3, reset loss scaler, skip 200 batches". */
export function knobsText(k: Knobs | null | undefined): string {
  if (!k) return 'unchanged';
  const parts: string[] = [];
  if (k.lrMultiplier !== null) parts.push(`LR × ${k.lrMultiplier}`);
  if (k.lrOverride !== null) parts.push(`LR = ${k.lrOverride}`);
  if (k.clipNorm !== null) parts.push(`clip ${k.clipNorm}`);
  if (k.resetLossScaler) parts.push('reset loss scaler');
  if (k.skipBatches > 0) parts.push(`skip ${k.skipBatches} batches`);
  if (k.optimizer) parts.push(`optimizer ${k.optimizer}`);
  return parts.length > 0 ? parts.join(', ') : 'unchanged';
}

/** "14.8 s", "3 min 5 s"; '–' while unknown. */
export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s < 60) return `${Number(s.toFixed(1))} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

/** Goodput as a percentage, '–' before the run was ever placed. */
export function percent(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(1)} %`;
}

/** The parts of a goodput breakdown, in the order the bar stacks them. */
export const GOODPUT_PARTS = [
  { key: 'productiveSeconds', label: 'productive', title: 'training whose steps still count' },
  { key: 'lostWorkSeconds', label: 'lost work', title: 'training whose steps a restart threw away' },
  { key: 'restartSeconds', label: 'restart', title: 'stopping a generation and starting the next, up to its first step' },
  { key: 'waitingForNodesSeconds', label: 'waiting for nodes', title: 'no gang of nodes was placeable' },
  { key: 'pausedSeconds', label: 'paused', title: 'paused or cancelling by an operator or a human' },
] as const;

export type GoodputPart = (typeof GOODPUT_PARTS)[number] & { seconds: number; share: number };

/** Each part with its share of the wall time (0 when no wall time has passed). */
export function goodputParts(g: Goodput): GoodputPart[] {
  return GOODPUT_PARTS.map(p => ({ ...p, seconds: g[p.key], share: g.wallSeconds > 0 ? g[p.key] / g.wallSeconds : 0 }));
}
