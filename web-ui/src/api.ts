// The one fetch client: adds the bearer token, turns RFC 9457 problem details into ApiError.

const TOKEN_KEY = 'steadyrun.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** One bad field of a problem detail; a YAML run spec's errors add where the field's key is. */
export interface FieldProblem { field: string; message: string; line?: number; column?: number }

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string,
              readonly errors: FieldProblem[] = []) {
    super(message);
  }
}

type Fetch = typeof fetch;

export async function api<T>(path: string, method = 'GET', body?: unknown, fetchFn: Fetch = fetch): Promise<T> {
  return send<T>(path, method, body === undefined ? undefined : JSON.stringify(body), 'application/json', fetchFn);
}

/** A body sent as it is written, e.g. a YAML run spec (`application/yaml`). */
export async function apiText<T>(path: string, method: string, text: string, contentType: string,
                                 fetchFn: Fetch = fetch): Promise<T> {
  return send<T>(path, method, text, contentType, fetchFn);
}

async function send<T>(path: string, method: string, body: string | undefined, contentType: string,
                       fetchFn: Fetch): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = contentType;
  const res = await fetchFn(path, { method, headers, body });
  const text = await res.text();
  const parsed = text ? safeJson(text) : undefined;
  if (!res.ok) {
    const problem = (parsed ?? {}) as { detail?: string; title?: string; field?: string; errors?: FieldProblem[] };
    throw new ApiError(res.status, problem.detail ?? problem.title ?? `${res.status} ${res.statusText}`, problem.field,
      Array.isArray(problem.errors) ? problem.errors : []);
  }
  return parsed as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export type Role = 'VIEWER' | 'OPERATOR' | 'ADMIN';

/** The caller's role, so the pages can leave out the actions it cannot take (the API refuses them anyway). */
export async function detectRole(fetchFn: Fetch = fetch): Promise<Role> {
  const me = await api<{ name: string; role: Role }>('/api/v1/me', 'GET', undefined, fetchFn);
  return me.role;
}

// The API's records (only the fields the UI reads).

export type RunState = 'PENDING' | 'STARTING' | 'RUNNING' | 'PAUSING' | 'PAUSED' | 'RECOVERING' | 'CANCELLING'
  | 'CANCELLED' | 'SUCCEEDED' | 'FAILED';

export interface Run {
  id: string; name: string; state: RunState; stateReason: string | null; stateChangedAt: string;
  generation: number; worldSize: number; spares: number; lastStep: number | null; lastLoss: number | null;
  tokensSeen: number; createdAt: string; createdBy: string;
  /** Generations started by recovery, automatic or manual (not pause and resume). */
  restarts: number;
  /** Productive training time ÷ wall time since the first placement; null before any. */
  goodput: number | null;
  openIncidents: number;
  /** The resolved spec; the page reads only what the run trains (optional in fixtures). */
  spec?: { program: { name: string; version: string }; ranksPerNode?: number; gpusPerNode?: number; tensorParallel?: number };
}

export interface Page<T> { items: T[]; page: number; size: number; total: number }

export interface MetricPoint {
  firstStep: number; step: number; lossMin: number; lossMax: number; loss: number; gradNorm: number;
  lossScale: number; lr: number; tokensPerSec: number; stepTimeMs: number; overflowSteps: number; samples: number;
}

export interface Metrics { runId: string; fromStep: number; toStep: number; bucketSteps: number; points: MetricPoint[] }

export interface Checkpoint {
  step: number; generation: number; path: string; tokensSeen: number; lossScale: number; loss: number;
  bytes: number; healthy: boolean; reportedAt: string;
  corrupt: boolean;
  /** Moved aside by a rollback: the run went back past it. */
  abandoned: boolean;
  /** Deleted by the trainer's retention. */
  removed: boolean;
}

/** `ranks` consecutive global ranks from `rank` run on the node (its ranks per node); 0 for a spare. */
export interface Seat { rank: number | null; nodeId: string; nodeName: string; releasedAt: string | null; ranks?: number }

/** A seat's ranks as the tables show them: `3`, or `2-3` for a node running two. */
export function seatRanks(s: Seat): string {
  if (s.rank === null) return 'spare';
  const n = s.ranks ?? 1;
  return n > 1 ? `${s.rank}-${s.rank + n - 1}` : `${s.rank}`;
}
export interface Generation { generation: number; placedAt: string; ranks: Seat[]; spares: Seat[] }

export interface RunEvent { at: string; from: RunState | null; to: RunState; generation: number; reason: string; actor: string }

export type NodeState = 'REGISTERED' | 'HEALTHY' | 'SUSPECT' | 'FAILED' | 'CORDONED' | 'DRAINING' | 'SPARE';

export interface GpuInfo { index: number; uuid: string; model: string; memoryMiB: number }

export interface NodeView {
  id: string; name: string; hostname: string; agentVersion: string; state: NodeState; stateReason: string | null;
  stateChangedAt: string; labels: Record<string, string>; gpus: GpuInfo[]; registeredAt: string; lastSeenAt: string | null;
  /** From the last heartbeat (null before the first): the run and rank its trainer holds (null and -1 when idle). */
  trainer: { state: string; runId: string | null; rank: number; generation: number } | null;
  /** The last heartbeat's hottest GPU and mean utilisation; null before the first or without GPUs. */
  gpuHealth: { gpus: number; maxTemperatureC: number; meanUtilizationPct: number } | null;
}

export interface GpuHealth {
  index: number; temperatureC: number; memoryUsedMiB: number; memoryTotalMiB: number; utilizationPct: number;
  eccCorrectable: number; eccUncorrectable: number; retiredPages: number; xidErrors: number[]; nvlinkErrors: number;
}

export interface TrainerStatus { state: string; runId: string | null; rank: number; generation: number; exitCode: number | null; lastStep: number }

export interface NodeDetail { node: NodeView; lastSequence: number; gpuHealth: GpuHealth[] | null; trainer: TrainerStatus | null }

export interface NodeEvent { id: number; at: string; from: NodeState | null; to: NodeState; reason: string; actor: string }

export type IncidentKind = 'NODE_LOST' | 'GPU_FAULT' | 'TRAINER_CRASH' | 'HANG' | 'STRAGGLER' | 'DIVERGENCE'
  | 'MANUAL_RESTART' | 'NODE_SWAP' | 'PEER_UNREACHABLE';

export type IncidentState = 'OPEN' | 'RECOVERING' | 'RECOVERED' | 'NEEDS_HUMAN' | 'STOPPED' | 'CLOSED';

export interface Knobs {
  lrMultiplier: number | null; lrOverride: number | null; clipNorm: number | null; resetLossScaler: boolean;
  skipBatches: number; optimizer?: string | null;
}

export interface Decision { action: string; reasons: string[]; consumesBudget: boolean; backoffSeconds: number; knobs: Knobs | null }

/** One entry of the recovery logbook; evidence is free JSON (metrics window, exit code, log tail, thread dump...). */
export interface Incident {
  id: number; runId: string; kind: IncidentKind; cause: string; summary: string; state: IncidentState;
  detectedAt: string; lastHeartbeatAt: string | null; generation: number;
  nodeId: string | null; nodeName: string | null; rank: number | null; onsetStep: number | null;
  evidence: Record<string, unknown> | null; decision: Decision | null;
  restoreFrom: { step: number; path: string } | null;
  skippedCheckpoints: { step: number; reason: string }[] | null;
  newGeneration: number | null; swappedIn: { nodeId: string; nodeName: string } | null;
  recoveredAt: string | null; detectionLatencySeconds: number | null; timeToRecoverySeconds: number | null;
}

/** POST /api/v1/runs/{id}/restart; every field optional (null checkpointStep: the newest complete checkpoint). */
export interface RestartRequest {
  checkpointStep: number | null;
  knobs: { lrMultiplier: number | null; clipNorm: number | null; resetLossScaler: boolean; skipBatches: number };
  reason: string | null;
}

/** Where a run's wall time since its first placement went; the parts sum to wallSeconds. */
export interface Goodput {
  runId: string; from: string | null; to: string | null; wallSeconds: number; productiveSeconds: number;
  lostWorkSeconds: number; restartSeconds: number; waitingForNodesSeconds: number; pausedSeconds: number;
  goodput: number | null;
}
