import { useEffect, useState } from 'react';
import { ApiError, detectRole, session, type Role } from './api';
import { FleetPage } from './pages/Fleet';
import { NodePage } from './pages/NodeDetail';
import { RunPage } from './pages/RunDetail';
import { RunsPage } from './pages/Runs';
import { SubmitPage } from './pages/Submit';
import { TokensPage } from './pages/Tokens';
import { WebhooksPage } from './pages/Webhooks';
import { parseRoute } from './route';

function SignIn({ onSignedIn, notice }: { onSignedIn: (role: Role) => void; notice: string | null }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(notice);
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    session.signIn(token.trim());
    detectRole().then(onSignedIn, err => {
      session.signOut();
      setError(err instanceof ApiError && err.status === 401 ? 'That token is unknown or revoked.'
        : err instanceof Error ? err.message : String(err));
    });
  };
  return (
    <form className="signin" onSubmit={submit}>
      <h1>Steadyrun</h1>
      <label>API token <input name="token" type="password" autoComplete="off" value={token}
                               onChange={e => setToken(e.target.value)} /></label>
      <button type="submit" disabled={!token.trim()}>Sign in</button>
      {error && <p className="error" role="alert">{error}</p>}
    </form>
  );
}

export function App() {
  const [role, setRole] = useState<Role | null>(null);
  const [checking, setChecking] = useState(() => session.token() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  const [route, setRoute] = useState(() => parseRoute(location.hash));

  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  // A token kept from earlier in this tab's session: find its role again.
  useEffect(() => {
    if (!checking) return;
    detectRole().then(setRole, () => session.signOut()).finally(() => setChecking(false));
  }, [checking]);

  const signOut = (why: string | null = null) => { session.signOut(); setRole(null); setNotice(why); };
  const expired = () => signOut('The API refused the token (401); sign in again.');

  if (checking) return <p>Checking token…</p>;
  if (!role) return <SignIn notice={notice} onSignedIn={r => { setNotice(null); setRole(r); }} />;
  return (
    <>
      <nav>
        <b>Steadyrun</b>
        <a href="#/runs" className={route.page.startsWith('run') || route.page === 'submit' ? 'on' : ''}>Runs</a>
        <a href="#/fleet" className={route.page === 'fleet' || route.page === 'node' ? 'on' : ''}>Fleet</a>
        {role === 'ADMIN' && <>
          <a href="#/admin/tokens" className={route.page === 'tokens' ? 'on' : ''}>Tokens</a>
          <a href="#/admin/webhooks" className={route.page === 'webhooks' ? 'on' : ''}>Webhooks</a>
        </>}
        <span className="who" data-role={role}>{role === 'VIEWER' ? 'viewer (read only)' : role.toLowerCase()}</span>
        <button type="button" onClick={() => signOut()}>Sign out</button>
      </nav>
      <main>
        {route.page === 'runs' && <RunsPage canSubmit={role !== 'VIEWER'} onUnauthorized={expired} />}
        {route.page === 'submit' && <SubmitPage onUnauthorized={expired} />}
        {route.page === 'tokens' && <TokensPage onUnauthorized={expired} />}
        {route.page === 'webhooks' && <WebhooksPage role={role} onUnauthorized={expired} />}
        {route.page === 'run' && <RunPage id={route.id} role={role} onUnauthorized={expired} />}
        {route.page === 'fleet' && <FleetPage role={role} onUnauthorized={expired} />}
        {route.page === 'node' && <NodePage id={route.id} role={role} onUnauthorized={expired} />}
      </main>
    </>
  );
}
