import { useState, type ReactNode } from 'react';
import { api } from './api';

export function Badge({ state }: { state: string }) {
  return <span className={`badge s-${state}`}>{state}</span>;
}

export function ErrorLine({ error }: { error: string | null }) {
  return error ? <p className="error" role="alert">{error}</p> : null;
}

/** A POST action; its refusal (403 for a viewer, 409 for a wrong state) is shown next to it, not swallowed. */
export function Action({ label, path, onDone }: { label: string; path: string; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const click = () => {
    setBusy(true);
    setError(null);
    api(path, 'POST').then(onDone, e => setError(e instanceof Error ? e.message : String(e)))
      .finally(() => setBusy(false));
  };
  return (
    <span className="action">
      <button type="button" disabled={busy} onClick={click} data-action={label}>{label}</button>
      {error && <span className="error" role="alert">{error}</span>}
    </span>
  );
}

export function Section({ title, children }: { title: string; children: ReactNode }) {
  return <section><h2>{title}</h2>{children}</section>;
}

export const time = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '–');
