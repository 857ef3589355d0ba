// The admin API's records (tokens: /api/v1/tokens, webhooks: /api/v1/webhooks) and the helpers of their pages.
import type { Role } from './api';

export interface Token { id: string; name: string; role: Role; createdAt: string; createdBy: string; revokedAt: string | null }
export interface CreatedToken { token: Token; secret: string }

export interface Webhook {
  id: string; name: string; url: string; eventTypes: string[]; format: string; createdAt: string; createdBy: string;
  disabledAt: string | null; disabledReason: string | null;
}
export interface CreatedWebhook extends Omit<Webhook, 'disabledAt' | 'disabledReason'> { secret: string }

export interface Attempt { attempt: number; at: string; statusCode: number | null; latencyMs: number; error: string | null }
export interface Delivery {
  id: number; webhookId: string; eventType: string; occurredAt: string; state: 'PENDING' | 'DELIVERED' | 'DEAD';
  attempts: number; nextAttemptAt: string | null; deliveredAt: string | null; lastError: string | null;
  attemptLog: Attempt[];
}

export const ROLES: Role[] = ['VIEWER', 'OPERATOR', 'ADMIN'];

/** As the orchestrator's AlertEventType.subscribable(); the server refuses any other name, naming the field. */
export const EVENT_TYPES = ['incident.opened', 'incident.resolved', 'run.state_changed', 'node.failed', 'node.cordoned',
  'node.swapped', 'human.needed', 'run.restart_budget_exhausted'];

export const FORMATS = ['json', 'slack'];

/** Live tokens first, each group newest first. */
export function sortTokens(tokens: Token[]): Token[] {
  return [...tokens].sort((a, b) => Number(a.revokedAt !== null) - Number(b.revokedAt !== null)
    || b.createdAt.localeCompare(a.createdAt));
}

/** A delivery may be sent again once it is no longer pending (the API answers 409 while it is). */
export const redeliverable = (d: Delivery) => d.state !== 'PENDING';

/** The last attempt in a few words: "HTTP 204 in 12 ms", "connection refused", or "not tried yet". */
export function lastAttempt(d: Delivery): string {
  const a = d.attemptLog.at(-1);
  if (!a) return 'not tried yet';
  return a.statusCode !== null ? `HTTP ${a.statusCode} in ${a.latencyMs} ms` : a.error ?? 'no answer';
}
