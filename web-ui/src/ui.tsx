import { useState, type ReactNode } from 'react';
import { api } from './api';

export function Badge({ state }: { state: string }) {
  return <span className={`badge s-${state}`}>{state}</span>;
}

export function ErrorLine({ error }: { error: string | null }) {
  return error ? <p className="error" role="alert">{error}</p> : null;
}

/**
 * A POST action; its refusal (403 for a viewer, 409 for a wrong state) is shown next to it, not swallowed. With
 * `confirm`, the first click only asks (for actions that restart a run, such as a swap).
 */
export function Action({ label, path, onDone, confirm }: { label: string; path: string; onDone: () => void; confirm?: string }) {
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const post = () => {
    setAsking(false);
    setBusy(true);
    setError(null);
    api(path, 'POST').then(onDone, e => setError(e instanceof Error ? e.message : String(e)))
      .finally(() => setBusy(false));
  };
  return (
    <span className="action">
      <button type="button" disabled={busy || asking} onClick={confirm ? () => setAsking(true) : post}
              data-action={label}>{label}</button>
      {asking && (
        <span className="confirm" role="alertdialog">
          {confirm}{' '}
          <button type="button" onClick={post} data-action={`confirm-${label}`}>yes, {label}</button>
          <button type="button" onClick={() => setAsking(false)} data-action={`keep-${label}`}>no</button>
        </span>
      )}
      {error && <span className="error" role="alert">{error}</span>}
    </span>
  );
}

export function Section({ title, children }: { title: string; children: ReactNode }) {
  return <section><h2>{title}</h2>{children}</section>;
}

export const time = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '–');
