import type { RunState } from './api';

export const RUNS_PAGE = 50;

/** Every run state, for the runs list's filter (the server refuses any other name with a 400 naming `state`). */
export const RUN_STATES: RunState[] = ['PENDING', 'STARTING', 'RUNNING', 'PAUSING', 'PAUSED', 'RECOVERING',
  'CANCELLING', 'CANCELLED', 'SUCCEEDED', 'FAILED'];

/** The query of GET /api/v1/runs: one page, newest first, optionally of one state. */
export function runsQuery(page: number, state: RunState | '', size = RUNS_PAGE): string {
  const q = new URLSearchParams({ page: String(page), size: String(size) });
  if (state) q.set('state', state);
  return q.toString();
}

export const pageCount = (total: number, size: number) => Math.max(1, Math.ceil(total / size));

/** The items of one page of a list held in full (the fleet table), the page clamped to the last one. */
export function slicePage<T>(items: T[], page: number, size: number): { items: T[]; page: number } {
  const p = Math.min(Math.max(0, page), pageCount(items.length, size) - 1);
  return { items: items.slice(p * size, (p + 1) * size), page: p };
}

/** "1–50 of 120" with previous and next. */
export function Pager({ page, size, total, onPage }: { page: number; size: number; total: number; onPage: (p: number) => void }) {
  const first = total === 0 ? 0 : page * size + 1;
  const last = Math.min(total, (page + 1) * size);
  return (
    <span className="pager" data-page={page}>
      <button type="button" disabled={page === 0} onClick={() => onPage(page - 1)} data-page-action="previous">‹ previous</button>
      {' '}<span className="range">{first}–{last} of {total}</span>{' '}
      <button type="button" disabled={last >= total} onClick={() => onPage(page + 1)} data-page-action="next">next ›</button>
    </span>
  );
}
