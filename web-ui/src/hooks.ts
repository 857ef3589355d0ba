import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from './api';

const POLL_MS = 3000;

export interface Polled<T> { data: T | undefined; error: string | null; reload: () => void }

/**
 * Loads now, then again POLL_MS after each load finishes (a slow server never gets overlapping polls), while
 * mounted. Keeps the last good data when a poll fails; a 401 calls onUnauthorized.
 */
export function usePoll<T>(load: () => Promise<T>, deps: unknown[], onUnauthorized?: () => void): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string | null>(null);
  const latest = useRef({ load, onUnauthorized });
  latest.current = { load, onUnauthorized };
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick(t => t + 1), []);
  const key = JSON.stringify(deps);

  useEffect(() => setData(undefined), [key]);

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = () => latest.current.load().then(
      d => { if (live) { setData(d); setError(null); } },
      e => {
        if (!live) return;
        if (e instanceof ApiError && e.status === 401) latest.current.onUnauthorized?.();
        setError(e instanceof Error ? e.message : String(e));
      }).finally(() => { if (live) timer = setTimeout(run, POLL_MS); });
    run();
    return () => { live = false; clearTimeout(timer); };
  }, [key, tick]);

  return { data, error, reload };
}
