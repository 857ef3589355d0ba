import { useState } from 'react';
import { api, ApiError, type Role } from '../api';
import { EVENT_TYPES, FORMATS, lastAttempt, redeliverable, type CreatedWebhook, type Delivery, type Webhook } from '../admin';
import { usePoll } from '../hooks';
import { Action, Badge, ErrorLine, refusal, SecretOnce, time } from '../ui';

const NEEDS_ADMIN = 'Webhooks are created with an admin token';

/**
 * Alerting webhooks: the list (anyone; a non-admin sees only the scheme, host and port of a URL), create (ADMIN; the
 * signing secret shown once), a test event and each webhook's deliveries with redelivery (OPERATOR).
 */
export function WebhooksPage({ role, onUnauthorized }: { role: Role; onUnauthorized: () => void }) {
  const { data, error, reload } = usePoll(() => api<Webhook[]>('/api/v1/webhooks'), [], onUnauthorized);
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div>
      <h1>Webhooks</h1>
      <ErrorLine error={error} />
      {created && <SecretOnce what={`The signing secret of webhook ${created.name}`} secret={created.secret}
                              onDismiss={() => setCreated(null)} />}
      {role === 'ADMIN' ? <CreateWebhook onCreated={c => { setCreated(c); reload(); }} />
        : <p className="hint">{NEEDS_ADMIN}; this token ({role.toLowerCase()}) may list them
          {role === 'OPERATOR' ? ', send test events and redeliver' : ''}.</p>}
      {data && data.length === 0 && <p>No webhooks.</p>}
      {data && data.length > 0 && (
        <table className="webhooks">
          <thead><tr><th>name</th><th>URL</th><th>events</th><th>format</th><th>created</th><th>disabled</th><th /></tr></thead>
          <tbody>{data.map(w => (
            <WebhookRow key={w.id} webhook={w} canAct={role !== 'VIEWER'} open={open === w.id}
                        onToggle={() => setOpen(open === w.id ? null : w.id)} onTested={() => setOpen(w.id)} />))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function WebhookRow({ webhook: w, canAct, open, onToggle, onTested }:
  { webhook: Webhook; canAct: boolean; open: boolean; onToggle: () => void; onTested: () => void }) {
  return (
    <>
      <tr data-webhook={w.name}>
        <td>{w.name}</td><td><code>{w.url}</code></td><td>{w.eventTypes.join(', ')}</td><td>{w.format}</td>
        <td>{time(w.createdAt)} by {w.createdBy}</td>
        <td>{w.disabledAt ? <span title={w.disabledReason ?? ''}><Badge state="DISABLED" /> {w.disabledReason}</span> : ''}</td>
        <td className="actions">
          {canAct && <Action label="test" path={`/api/v1/webhooks/${w.id}/test`} onDone={onTested} />}
          <button type="button" onClick={onToggle} data-action="deliveries">{open ? 'hide deliveries' : 'deliveries'}</button>
        </td>
      </tr>
      {open && <tr className="deliveries-row"><td colSpan={7}><Deliveries webhookId={w.id} canAct={canAct} /></td></tr>}
    </>
  );
}

function Deliveries({ webhookId, canAct }: { webhookId: string; canAct: boolean }) {
  const { data, error, reload } = usePoll(
    () => api<Delivery[]>(`/api/v1/webhooks/${webhookId}/deliveries?limit=20`), [webhookId]);
  return (
    <div className="deliveries" data-deliveries={webhookId}>
      <ErrorLine error={error} />
      {data && data.length === 0 && <p>No deliveries yet: send a test event.</p>}
      {data && data.length > 0 && (
        <table>
          <thead><tr><th>#</th><th>event</th><th>occurred</th><th>state</th><th>attempts</th><th>last attempt</th>
            <th>delivered</th><th>last error</th><th /></tr></thead>
          <tbody>{data.map(d => (
            <tr key={d.id} data-delivery={d.id} data-state={d.state}>
              <td>{d.id}</td><td>{d.eventType}</td><td>{time(d.occurredAt)}</td><td><Badge state={d.state} /></td>
              <td>{d.attempts}</td><td>{lastAttempt(d)}</td><td>{time(d.deliveredAt)}</td><td>{d.lastError ?? ''}</td>
              <td>{canAct && redeliverable(d) && <Action label="redeliver" path={`/api/v1/webhook-deliveries/${d.id}/redeliver`}
                                               onDone={reload} />}</td>
            </tr>))}
          </tbody>
        </table>
      )}
    </div>
  );
}

type WebhookField = 'name' | 'url' | 'eventTypes' | 'format' | 'form';

function CreateWebhook({ onCreated }: { onCreated: (c: CreatedWebhook) => void }) {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [types, setTypes] = useState<string[]>(['incident.opened', 'node.failed']);
  const [format, setFormat] = useState('json');
  const [errors, setErrors] = useState<Partial<Record<WebhookField, string>>>({});
  const [busy, setBusy] = useState(false);
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    api<CreatedWebhook>('/api/v1/webhooks', 'POST', { name: name.trim() || null, url: url.trim(), eventTypes: types, format })
      .then(c => { setName(''); setUrl(''); onCreated(c); }, err => {
        // `eventTypes[2]` is the list's field
        const named = err instanceof ApiError && err.field ? err.field.replace(/\[\d+]$/, '') : '';
        const field: WebhookField = ['name', 'url', 'eventTypes', 'format'].includes(named) ? named as WebhookField : 'form';
        setErrors({ [field]: refusal(err, NEEDS_ADMIN) });
      }).finally(() => setBusy(false));
  };
  const error = (k: WebhookField) =>
    errors[k] ? <span className="error" role="alert" data-error={k}>{errors[k]}</span> : null;
  const toggle = (t: string) => setTypes(types.includes(t) ? types.filter(x => x !== t) : [...types, t]);
  return (
    <form className="webhook-form" onSubmit={submit} aria-label="create a webhook">
      <h2>New webhook</h2>
      <label>name <input name="webhookName" value={name} placeholder="default: the URL's host" onChange={e => setName(e.target.value)} />
        {error('name')}</label>
      <label>URL <input name="webhookUrl" value={url} placeholder="https://hooks.example.com/steadyrun" size={50}
                        onChange={e => setUrl(e.target.value)} />{error('url')}</label>
      <fieldset><legend>events</legend>
        {EVENT_TYPES.map(t => (
          <label key={t} className="check"><input type="checkbox" name="eventType" value={t} checked={types.includes(t)}
                                                  onChange={() => toggle(t)} /> {t}</label>))}
        {error('eventTypes')}
      </fieldset>
      <label>format{' '}
        <select name="webhookFormat" value={format} onChange={e => setFormat(e.target.value)}>
          {FORMATS.map(f => <option key={f} value={f}>{f}</option>)}
        </select>{error('format')}</label>
      <p><button type="submit" disabled={busy} data-action="create-webhook">create webhook</button>{error('form')}</p>
    </form>
  );
}
