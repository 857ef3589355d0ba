import { useState } from 'react';
import { api, ApiError, type Role } from '../api';
import { ROLES, sortTokens, type CreatedToken, type Token } from '../admin';
import { usePoll } from '../hooks';
import { Action, Badge, ErrorLine, refusal, SecretOnce, time } from '../ui';

const NEEDS_ADMIN = 'Tokens are managed with an admin token';

async function loadTokens(): Promise<Token[]> {
  try {
    return sortTokens(await api<Token[]>('/api/v1/tokens'));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e; // the poll signs out
    throw new Error(refusal(e, NEEDS_ADMIN));
  }
}

/** API tokens (ADMIN): list, create (the secret shown once), revoke. */
export function TokensPage({ onUnauthorized }: { onUnauthorized: () => void }) {
  const { data, error, reload } = usePoll(loadTokens, [], onUnauthorized);
  const [created, setCreated] = useState<CreatedToken | null>(null);
  return (
    <div>
      <h1>API tokens</h1>
      <ErrorLine error={error} />
      {created && <SecretOnce what={`The secret of token ${created.token.name} (${created.token.role})`}
                              secret={created.secret} onDismiss={() => setCreated(null)} />}
      <CreateToken onCreated={c => { setCreated(c); reload(); }} />
      {data && (
        <table className="tokens">
          <thead><tr><th>name</th><th>role</th><th>created</th><th>by</th><th>revoked</th><th /></tr></thead>
          <tbody>{data.map(t => (
            <tr key={t.id} data-token={t.name} className={t.revokedAt ? 'revoked' : ''}>
              <td>{t.name}</td><td>{t.role}</td><td>{time(t.createdAt)}</td><td>{t.createdBy}</td>
              <td>{t.revokedAt ? <Badge state="REVOKED" /> : ''} {t.revokedAt ? time(t.revokedAt) : ''}</td>
              <td>{!t.revokedAt && (
                <Action label="revoke" method="DELETE" path={`/api/v1/tokens/${t.id}`} onDone={reload}
                        confirm={`Revoke ${t.name}? Every request with it is refused from now on.`} />)}</td>
            </tr>))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function CreateToken({ onCreated }: { onCreated: (c: CreatedToken) => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('VIEWER');
  const [errors, setErrors] = useState<Partial<Record<'name' | 'role' | 'form', string>>>({});
  const [busy, setBusy] = useState(false);
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    api<CreatedToken>('/api/v1/tokens', 'POST', { name: name.trim(), role }).then(c => { setName(''); onCreated(c); },
      err => {
        const field = err instanceof ApiError && (err.field === 'name' || err.field === 'role') ? err.field : 'form';
        setErrors({ [field]: refusal(err, NEEDS_ADMIN) });
      }).finally(() => setBusy(false));
  };
  const error = (k: 'name' | 'role' | 'form') =>
    errors[k] ? <span className="error" role="alert" data-error={k}>{errors[k]}</span> : null;
  return (
    <form className="inline-form" onSubmit={submit} aria-label="create a token">
      <label>name <input name="tokenName" value={name} placeholder="ci-pipeline" onChange={e => setName(e.target.value)} />
        {error('name')}</label>{' '}
      <label>role{' '}
        <select name="tokenRole" value={role} onChange={e => setRole(e.target.value as Role)}>
          {ROLES.map(r => <option key={r} value={r}>{r}</option>)}
        </select>{error('role')}</label>{' '}
      <button type="submit" disabled={busy} data-action="create-token">create token</button>
      {error('form')}
    </form>
  );
}
