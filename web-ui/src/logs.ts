// The live trainer log: GET /api/v1/runs/{id}/logs, and its follow=true server-sent events read with fetch() (an
// EventSource cannot send the Authorization header, and the token never goes into a URL).
import { ApiError, session } from './api';

export interface LogLine { seq: number; at: string; stream: 'STDOUT' | 'STDERR'; text: string }
export interface LogPage {
  runId: string; rank: number; generation: number; droppedLines: number; missedLines: number; lines: LogLine[];
  next: number | null;
}
export interface SseEvent { name: string; data: string }

/** Splits complete events off the text received so far; `rest` is an event still arriving. Comments are skipped. */
export function parseSse(text: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const normal = text.replace(/\r\n?/g, '\n');
  const blocks = normal.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let name = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) events.push({ name, data: data.join('\n') });
  }
  return { events, rest };
}

type Fetch = typeof fetch;

/**
 * Follows a rank's log until the server ends the stream (resolves with the end's reason) or `signal` aborts it.
 * A refusal is an ApiError from the problem detail, as with api().
 */
export async function followLog(path: string, onEvent: (e: SseEvent) => void, signal: AbortSignal,
                                fetchFn: Fetch = fetch): Promise<string> {
  const headers: Record<string, string> = { Accept: 'text/event-stream, application/problem+json' };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetchFn(path, { headers, signal });
  if (!res.ok || !res.body) {
    const problem = (await res.json().catch(() => ({}))) as { detail?: string; title?: string; field?: string };
    throw new ApiError(res.status, problem.detail ?? problem.title ?? `${res.status} ${res.statusText}`, problem.field);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 'the stream ended';
    buffered += decoder.decode(value, { stream: true });
    const { events, rest } = parseSse(buffered);
    buffered = rest;
    for (const e of events) {
      if (e.name === 'end') {
        await reader.cancel();
        return (JSON.parse(e.data) as { reason: string }).reason;
      }
      onEvent(e);
    }
  }
}
