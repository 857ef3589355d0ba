import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { NodeView } from './api';
import { lastAttempt, redeliverable, sortTokens, type Delivery, type Token } from './admin';
import { age, FleetTable, seat, TABLE_PAGE } from './FleetTable';
import { SubmitFields } from './pages/Submit';
import { pageCount, Pager, runsQuery, slicePage } from './paging';
import { parseRoute } from './route';
import { EMPTY_FORM } from './submit';
import { refusal, SecretOnce } from './ui';
import { ApiError } from './api';

const noop = () => {};
const NOW = Date.parse('2026-12-06T13:00:00Z');

const node = (i: number, more: Partial<NodeView> = {}): NodeView => ({
  id: `id-${i}`, name: `gpu-${String(i).padStart(4, '0')}`, hostname: 'h', agentVersion: 't', state: 'HEALTHY',
  stateReason: null, stateChangedAt: '', labels: {}, gpus: [], registeredAt: '', lastSeenAt: '2026-12-06T12:59:57Z',
  trainer: null, gpuHealth: null, ...more,
});

describe('runs paging', () => {
  it('asks the server for one page, with the state only when filtered', () => {
    expect(runsQuery(0, '')).toBe('page=0&size=50');
    expect(runsQuery(3, 'FAILED', 20)).toBe('page=3&size=20&state=FAILED');
  });

  it('says which runs a page holds and disables what leads nowhere', () => {
    const first = renderToStaticMarkup(<Pager page={0} size={50} total={120} onPage={noop} />);
    expect(first).toContain('1–50 of 120');
    expect(first).toMatch(/<button type="button" disabled="" data-page-action="previous">/);
    const last = renderToStaticMarkup(<Pager page={2} size={50} total={120} onPage={noop} />);
    expect(last).toContain('101–120 of 120');
    expect(last).toMatch(/<button type="button" disabled="" data-page-action="next">/);
    expect(renderToStaticMarkup(<Pager page={0} size={50} total={0} onPage={noop} />)).toContain('0–0 of 0');
  });

  it('slices a list held in full, clamping a page past the end to the last one', () => {
    const items = Array.from({ length: 250 }, (_, i) => i);
    expect(pageCount(250, 100)).toBe(3);
    expect(pageCount(0, 100)).toBe(1);
    expect(slicePage(items, 1, 100).items[0]).toBe(100);
    expect(slicePage(items, 9, 100)).toEqual({ items: items.slice(200), page: 2 });
  });
});

describe('fleet table', () => {
  it('gives heartbeat ages in the largest unit that fits', () => {
    expect(age(null, NOW)).toBe('never');
    expect(age('2026-12-06T12:59:57Z', NOW)).toBe('3 s');
    expect(age('2026-12-06T12:55:00Z', NOW)).toBe('5 min');
    expect(age('2026-12-06T09:50:00Z', NOW)).toBe('3 h 10 min');
    expect(age('2026-12-06T13:00:02Z', NOW)).toBe('0 s'); // a browser clock behind the server's
  });

  it('names each node with its run, rank, heartbeat age, GPU figures and reason', () => {
    const busy = node(1, { trainer: { state: 'RUNNING', runId: 'abcdef12-0000-0000-0000-000000000000', rank: 3, generation: 2 },
      gpuHealth: { gpus: 8, maxTemperatureC: 81, meanUtilizationPct: 97.25 } });
    const failed = node(2, { state: 'FAILED', stateReason: 'XID 79: GPU fallen off the bus', lastSeenAt: '2026-12-06T12:58:00Z',
      trainer: { state: 'IDLE', runId: null, rank: -1, generation: 0 } });
    const html = renderToStaticMarkup(<FleetTable nodes={[busy, failed, node(3, { lastSeenAt: null })]} page={0} now={NOW}
                                                  selected="id-2" onPage={noop} onSelect={noop} />);
    expect(html).toMatch(/<tr data-node-row="gpu-0001" class=""><td><a href="#\/nodes\/id-1">gpu-0001<\/a><\/td><td><span class="badge s-HEALTHY">HEALTHY<\/span><\/td><td class="run"><a href="#\/runs\/abcdef12-0000-0000-0000-000000000000" title="[^"]+">abcdef12<\/a><\/td><td class="seat">rank 3 · gen 2 · RUNNING<\/td><td class="age">3 s<\/td><td class="temp">81<\/td><td class="util">97.25<\/td>/);
    expect(html).toMatch(/<tr data-node-row="gpu-0002" class="selected">.*<td class="run">–<\/td><td class="seat">IDLE<\/td><td class="age">2 min<\/td><td class="temp">–<\/td><td class="util">–<\/td><td class="reason">XID 79: GPU fallen off the bus<\/td>/);
    expect(html).toMatch(/data-node-row="gpu-0003".*<td class="age">never<\/td>/);
    expect(seat(failed)).toBeNull();
  });

  it('renders one page of rows for a fleet of 1,000', () => {
    const fleet = Array.from({ length: 1000 }, (_, i) => node(i));
    const html = renderToStaticMarkup(<FleetTable nodes={fleet} page={4} now={NOW} selected={null} onPage={noop} onSelect={noop} />);
    expect(html.match(/data-node-row=/g)).toHaveLength(TABLE_PAGE);
    expect(html).toContain('data-node-row="gpu-0400"');
    expect(html).toContain('data-node-row="gpu-0499"');
    expect(html).not.toContain('data-node-row="gpu-0500"');
    expect(html).toContain('401–500 of 1000');
  });
});

describe('submit form', () => {
  it('shows each error next to the field it names and YAML errors by the editor', () => {
    const html = renderToStaticMarkup(<SubmitFields form={EMPTY_FORM} busy={false} onChange={noop} onSubmit={noop}
      errors={{ worldSize: 'must be at least 1', rest: 'line 2: hyper.lr: must be above 0', form: 'this needs role OPERATOR' }} />);
    expect(html).toMatch(/name="worldSize"[^>]*\/><span class="error" role="alert" data-error="worldSize">must be at least 1</);
    expect(html).toMatch(/the rest of the spec \(YAML\)<span class="error" role="alert" data-error="rest">line 2: hyper.lr: must be above 0<\/span><textarea/);
    expect(html).toContain('data-error="form">this needs role OPERATOR<');
    expect(html).toContain('<option value="tiny" selected="">tiny</option>');
  });
});

describe('admin pages', () => {
  const token = (name: string, createdAt: string, revokedAt: string | null = null): Token =>
    ({ id: name, name, role: 'VIEWER', createdAt, createdBy: 'admin', revokedAt });

  it('lists live tokens first, newest first', () => {
    const sorted = sortTokens([token('a', '2026-01-01T00:00:00Z'), token('b', '2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z'),
      token('c', '2026-02-01T00:00:00Z')]);
    expect(sorted.map(t => t.name)).toEqual(['c', 'a', 'b']);
  });

  it('shows a new secret once, with the warning, until dismissed', () => {
    const html = renderToStaticMarkup(<SecretOnce what="The secret of token ci" secret="srt_abc" onDismiss={noop} />);
    expect(html).toContain('<b>The secret of token ci</b>: copy it now, it is not shown again.');
    expect(html).toContain('<code data-secret="">srt_abc</code>');
  });

  it('says a 403 needs another role, with the API\'s own words; other refusals as they are', () => {
    expect(refusal(new ApiError(403, 'this needs role ADMIN; the token has OPERATOR'), 'Tokens are managed with an admin token'))
      .toBe('Tokens are managed with an admin token (the API answered 403: this needs role ADMIN; the token has OPERATOR)');
    expect(refusal(new ApiError(400, 'url: not a valid URL'), 'x')).toBe('url: not a valid URL');
  });

  it('sums up a delivery\'s last attempt and offers redelivery once it is not pending', () => {
    const d = (state: Delivery['state'], attemptLog: Delivery['attemptLog']): Delivery => ({ id: 1, webhookId: 'msg_1',
      eventType: 'webhook.test', occurredAt: '', state, attempts: attemptLog.length, nextAttemptAt: null, deliveredAt: null,
      lastError: null, attemptLog });
    expect(lastAttempt(d('PENDING', []))).toBe('not tried yet');
    expect(lastAttempt(d('DELIVERED', [{ attempt: 1, at: '', statusCode: 204, latencyMs: 12, error: null }]))).toBe('HTTP 204 in 12 ms');
    expect(lastAttempt(d('DEAD', [{ attempt: 1, at: '', statusCode: null, latencyMs: 3, error: 'connection refused' }]))).toBe('connection refused');
    expect(redeliverable(d('PENDING', []))).toBe(false);
    expect(redeliverable(d('DEAD', []))).toBe(true);
  });

  it('routes the new pages', () => {
    expect(parseRoute('#/submit')).toEqual({ page: 'submit' });
    expect(parseRoute('#/admin/tokens')).toEqual({ page: 'tokens' });
    expect(parseRoute('#/admin/webhooks')).toEqual({ page: 'webhooks' });
    expect(parseRoute('#/admin/nothing')).toEqual({ page: 'runs' });
  });
});
