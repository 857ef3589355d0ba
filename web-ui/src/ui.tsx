import { useState, type ReactNode } from 'react';
import { api, ApiError } from './api';

export function Badge({ state }: { state: string }) {
  return <span className={`badge s-${state}`}>{state}</span>;
}

export function ErrorLine({ error }: { error: string | null }) {
  return error ? <p className="error" role="alert">{error}</p> : null;
}

/**
 * A POST (or DELETE) action; its refusal (403 for a viewer, 409 for a wrong state) is shown next to it, not swallowed. With
 * `confirm`, the first click only asks (for actions that restart a run, such as a swap).
 */
export function Action({ label, path, onDone, confirm, method = 'POST' }:
  { label: string; path: string; onDone: () => void; confirm?: string; method?: 'POST' | 'DELETE' }) {
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const post = () => {
    setAsking(false);
    setBusy(true);
    setError(null);
    api(path, method).then(onDone, e => setError(e instanceof Error ? e.message : String(e)))
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

/**
 * A secret the API shows once (a new token, a webhook's signing secret): shown until dismissed, never stored by the
 * page, with the warning that it cannot be read again.
 */
export function SecretOnce({ what, secret, onDismiss }: { what: string; secret: string; onDismiss: () => void }) {
  return (
    <div className="secret-once" role="status">
      <p><b>{what}</b>: copy it now, it is not shown again.</p>
      <code data-secret="">{secret}</code>{' '}
      <button type="button" onClick={() => void navigator.clipboard?.writeText(secret)}>copy</button>{' '}
      <button type="button" onClick={onDismiss} data-action="dismiss-secret">done</button>
    </div>
  );
}

/** A refusal as the page says it: a 403 names the role needed, anything else is the API's own detail. */
export function refusal(err: unknown, needs: string): string {
  const message = err instanceof Error ? err.message : String(err);
  return err instanceof ApiError && err.status === 403 ? `${needs} (the API answered 403: ${message})` : message;
}
