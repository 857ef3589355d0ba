import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, session } from './api';
import { followLog, parseSse } from './logs';

function storage(): Storage {
  const m = new Map<string, string>();
  return {
    getItem: k => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: k => void m.delete(k),
    clear: () => m.clear(), key: i => [...m.keys()][i] ?? null, get length() { return m.size; },
  };
}

describe('parseSse', () => {
  it('splits complete events, skips comments and keeps the incomplete rest', () => {
    const { events, rest } = parseSse(':keepalive\n\nid:1\nevent:line\ndata:{"a":1}\n\nevent: end\r\ndata: x\r\ndata: y\r\n\r\nevent:li');
    expect(events).toEqual([{ name: 'line', data: '{"a":1}' }, { name: 'end', data: 'x\ny' }]);
    expect(rest).toBe('event:li');
  });
});

describe('followLog', () => {
  beforeEach(() => vi.stubGlobal('sessionStorage', storage()));
  afterEach(() => vi.unstubAllGlobals());

  it('sends the token as a header, never in the URL, and hands over events split across chunks until end', async () => {
    session.signIn('tok-9');
    const chunks = ['event:line\ndata:{"seq":0,"te', 'xt":"a"}\n\nevent:line\ndata:{"seq":1,"text":"b"}\n\n',
      'event:end\ndata:{"reason":"the run is CANCELLED"}\n\n'];
    const body = new ReadableStream<Uint8Array>({
      start(c) { chunks.forEach(s => c.enqueue(new TextEncoder().encode(s))); c.close(); },
    });
    const fetchFn = vi.fn(async () => new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } }));
    const seen: string[] = [];
    const reason = await followLog('/api/v1/runs/r/logs?follow=true', e => seen.push(JSON.parse(e.data).text),
      new AbortController().signal, fetchFn);
    expect(seen).toEqual(['a', 'b']);
    expect(reason).toBe('the run is CANCELLED');
    const [path, init] = fetchFn.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).not.toContain('tok-9');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok-9');
  });

  it('turns a refusal into an ApiError naming the field', async () => {
    const fetchFn = vi.fn(async () => new Response(JSON.stringify({ detail: 'rank: must be from 0 to 1', field: 'rank' }),
      { status: 400, headers: { 'Content-Type': 'application/problem+json' } }));
    const err = (await followLog('/x', () => {}, new AbortController().signal, fetchFn).catch(e => e)) as ApiError;
    expect([err.status, err.field]).toEqual([400, 'rank']);
  });
});
