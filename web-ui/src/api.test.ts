import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, apiText, detectRole, session } from './api';

function storage(): Storage {
  const m = new Map<string, string>();
  return {
    getItem: k => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: k => void m.delete(k),
    clear: () => m.clear(), key: i => [...m.keys()][i] ?? null, get length() { return m.size; },
  };
}

const reply = (status: number, body?: unknown) =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('api', () => {
  beforeEach(() => vi.stubGlobal('sessionStorage', storage()));
  afterEach(() => vi.unstubAllGlobals());

  it('sends the session token as a bearer and JSON bodies', async () => {
    session.signIn('tok-1');
    const fetchFn = vi.fn(async () => reply(200, { ok: true }));
    expect(await api('/api/v1/x', 'POST', { a: 1 }, fetchFn)).toEqual({ ok: true });
    const [path, init] = fetchFn.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe('/api/v1/x');
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok-1');
    expect(init.body).toBe('{"a":1}');
  });

  it('turns problem details into an ApiError with status, detail and field', async () => {
    const fetchFn = vi.fn(async () => reply(400, { title: 'Bad Request', detail: 'size: must be 1 to 200', field: 'size' }));
    const err = (await api('/x', 'GET', undefined, fetchFn).catch(e => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.message, err.field]).toEqual([400, 'size: must be 1 to 200', 'size']);
  });

  it('sends a YAML spec as it is written and keeps every field error of the answer', async () => {
    const fetchFn = vi.fn(async () => reply(400, { detail: 'worldSize: must be at least 1', field: 'worldSize',
      errors: [{ field: 'worldSize', message: 'must be at least 1', line: 3, column: 1 }, { field: 'hyper.lr', message: 'must be above 0' }] }));
    const err = (await apiText('/api/v1/runs', 'POST', 'worldSize: 0\n', 'application/yaml', fetchFn).catch(e => e)) as ApiError;
    const [, init] = fetchFn.mock.calls[0] as unknown as [string, RequestInit];
    expect(init.body).toBe('worldSize: 0\n');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/yaml');
    expect(err.errors).toEqual([{ field: 'worldSize', message: 'must be at least 1', line: 3, column: 1 },
      { field: 'hyper.lr', message: 'must be above 0' }]);
  });

  it('reads the role from /api/v1/me and passes a refused token on as an error', async () => {
    const fetchFn = vi.fn(async () => reply(200, { name: 'ops', role: 'VIEWER' }));
    expect(await detectRole(fetchFn)).toBe('VIEWER');
    expect(fetchFn).toHaveBeenCalledWith('/api/v1/me', expect.objectContaining({ method: 'GET' }));
    await expect(detectRole(vi.fn(async () => reply(401, { detail: 'unknown token' })))).rejects.toMatchObject({ status: 401 });
  });

  it('forgets the token on sign-out', () => {
    session.signIn('t');
    session.signOut();
    expect(session.token()).toBeNull();
  });
});
