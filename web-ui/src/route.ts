// Hash routes, so the orchestrator serves one static index.html and needs no server-side fallback.
export type Route =
  | { page: 'runs' } | { page: 'run'; id: string } | { page: 'fleet' } | { page: 'node'; id: string }
  | { page: 'submit' } | { page: 'tokens' } | { page: 'webhooks' };

export function parseRoute(hash: string): Route {
  const [, page, id] = hash.replace(/^#/, '').split('/');
  if (page === 'runs' && id) return { page: 'run', id };
  if (page === 'nodes' && id) return { page: 'node', id };
  if (page === 'fleet') return { page: 'fleet' };
  if (page === 'submit') return { page: 'submit' };
  if (page === 'admin' && (id === 'tokens' || id === 'webhooks')) return { page: id };
  return { page: 'runs' };
}
