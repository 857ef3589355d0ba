import type { NodeState, NodeView } from './api';

export const NODE_STATES: NodeState[] = ['HEALTHY', 'SPARE', 'REGISTERED', 'SUSPECT', 'CORDONED', 'DRAINING', 'FAILED'];

export const STATE_COLOUR: Record<NodeState, string> = {
  HEALTHY: '#2e9d4f', SPARE: '#5b8def', REGISTERED: '#9aa5b1', SUSPECT: '#e0a526',
  CORDONED: '#8e5bd8', DRAINING: '#c46ad1', FAILED: '#d64545',
};

export interface FleetFilter { rack: string; zone: string; state: string }

export const NO_FILTER: FleetFilter = { rack: '', zone: '', state: '' };

/** Nodes passing the filter ('' = any), in zone, rack, name order so neighbours sit together in the grid. */
export function filterNodes(nodes: NodeView[], f: FleetFilter): NodeView[] {
  const key = (n: NodeView) => `${n.labels.zone ?? ''}\u0000${n.labels.rack ?? ''}\u0000${n.name}`;
  return nodes
    .filter(n => (!f.rack || n.labels.rack === f.rack) && (!f.zone || n.labels.zone === f.zone)
      && (!f.state || n.state === f.state))
    .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export function countByState(nodes: NodeView[]): Record<NodeState, number> {
  const counts = Object.fromEntries(NODE_STATES.map(s => [s, 0])) as Record<NodeState, number>;
  for (const n of nodes) counts[n.state]++;
  return counts;
}

/** The distinct values of one label, sorted, for the filter menus. */
export function labelValues(nodes: NodeView[], label: string): string[] {
  return [...new Set(nodes.map(n => n.labels[label]).filter((v): v is string => !!v))].sort();
}

export type NodeAction = 'cordon' | 'uncordon' | 'drain' | 'swap';

/**
 * What an operator may do to a node in a state (the orchestrator's own guard refuses the rest with 409). Swap is
 * offered wherever the node may hold a rank; the API answers 409 when it holds none.
 */
export function nodeActions(state: NodeState): NodeAction[] {
  switch (state) {
    case 'CORDONED': return ['uncordon', 'drain', 'swap'];
    case 'DRAINING': return ['uncordon', 'swap'];
    case 'FAILED': return ['uncordon', 'cordon', 'swap'];
    case 'SPARE': case 'REGISTERED': return ['cordon', 'drain'];
    default: return ['cordon', 'drain', 'swap'];
  }
}

/** The question a confirming action asks first; the others act on the first click. */
export function confirmation(action: NodeAction, nodeName: string): string | undefined {
  return action === 'swap'
    ? `Swap ${nodeName}? It is cordoned, a spare takes its rank and its run restarts from the newest complete checkpoint.`
    : undefined;
}
