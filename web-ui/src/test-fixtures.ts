// Records as the API returns them, for the unit tests.
import type { Checkpoint, Incident } from './api';

export const checkpoint = (step: number, more: Partial<Checkpoint> = {}): Checkpoint => ({
  step, generation: 1, path: `/ckpt/step-${step}`, tokensSeen: step * 1024, lossScale: 1024, loss: 2, bytes: 1,
  healthy: true, reportedAt: `2026-11-28T05:00:${String(step % 60).padStart(2, '0')}Z`, corrupt: false, abandoned: false, removed: false,
  ...more,
});

export const incident = (id: number, more: Partial<Incident> = {}): Incident => ({
  id, runId: '11111111-2222-3333-4444-555555555555', kind: 'DIVERGENCE', cause: 'DIVERGENCE', summary: 'loss spike',
  state: 'RECOVERED', detectedAt: '2026-11-28T05:01:00Z', lastHeartbeatAt: null, generation: 1, nodeId: null,
  nodeName: null, rank: null, onsetStep: null, evidence: null, decision: null, restoreFrom: null, skippedCheckpoints: [],
  newGeneration: null, swappedIn: null, recoveredAt: null, detectionLatencySeconds: null, timeToRecoverySeconds: null,
  ...more,
});
