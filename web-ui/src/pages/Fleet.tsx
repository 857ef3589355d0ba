import { memo, useMemo, useState } from 'react';
import { api, type NodeView, type Page, type Role } from '../api';
import { FleetTable } from '../FleetTable';
import { confirmation, countByState, filterNodes, labelValues, NO_FILTER, NODE_STATES, nodeActions, STATE_COLOUR, type FleetFilter } from '../fleet';
import { usePoll } from '../hooks';
import { Action, Badge, ErrorLine, time } from '../ui';

const PAGE = 500; // the API's largest page

async function loadFleet(): Promise<NodeView[]> {
  const all: NodeView[] = [];
  for (let page = 0; ; page++) {
    const p = await api<Page<NodeView>>(`/api/v1/nodes?size=${PAGE}&page=${page}`);
    all.push(...p.items);
    if (p.items.length < PAGE || all.length >= p.total) return all;
  }
}

/** One cell per node; a single click handler on the grid keeps 1,000+ cells cheap. */
export const Grid = memo(function Grid({ nodes, selected, onSelect }:
  { nodes: NodeView[]; selected: string | null; onSelect: (id: string) => void }) {
  return (
    <div className="grid" onClick={e => {
      const id = (e.target as HTMLElement).dataset.node;
      if (id) onSelect(id);
    }}>
      {nodes.map(n => (
        <div key={n.id} data-node={n.id} data-name={n.name} title={`${n.name} · ${n.state}`}
             className={n.id === selected ? 'cell selected' : 'cell'} style={{ background: STATE_COLOUR[n.state] }} />
      ))}
    </div>
  );
});

export function FleetPage({ role, onUnauthorized }: { role: Role; onUnauthorized: () => void }) {
  const { data, error, reload } = usePoll(loadFleet, [], onUnauthorized);
  const [filter, setFilter] = useState<FleetFilter>(NO_FILTER);
  const [selected, setSelected] = useState<string | null>(null);
  const [tablePage, setTablePage] = useState(0);
  const nodes = useMemo(() => data ?? [], [data]);
  // heartbeat ages as of the last poll (so the table changes only when new data comes)
  const polledAt = useMemo(() => Date.now(), [data]);
  const shown = useMemo(() => filterNodes(nodes, filter), [nodes, filter]);
  const counts = useMemo(() => countByState(nodes), [nodes]);
  const racks = useMemo(() => labelValues(nodes, 'rack'), [nodes]);
  const zones = useMemo(() => labelValues(nodes, 'zone'), [nodes]);
  const node = nodes.find(n => n.id === selected);
  const pick = (key: keyof FleetFilter, values: string[], label: string) => (
    <label>{label}{' '}
      <select name={key} value={filter[key]} onChange={e => { setFilter({ ...filter, [key]: e.target.value }); setTablePage(0); }}>
        <option value="">all</option>
        {values.map(v => <option key={v} value={v}>{v}</option>)}
      </select>
    </label>
  );
  return (
    <div>
      <h1>Fleet</h1>
      <ErrorLine error={error} />
      <p className="legend">
        {NODE_STATES.map(s => (
          <span key={s}><i style={{ background: STATE_COLOUR[s] }} /> {s} {counts[s]}</span>))}
        <span> · {nodes.length} nodes</span>
      </p>
      <p className="filters">
        {pick('zone', zones, 'zone')} {pick('rack', racks, 'rack')} {pick('state', NODE_STATES, 'state')}
        {' '}<span className="hint">{shown.length} shown</span>
      </p>
      <div className="fleet">
        <Grid nodes={shown} selected={selected} onSelect={setSelected} />
        {node && (
          <aside className="node-panel" data-selected={node.name}>
            <h3><a href={`#/nodes/${node.id}`}>{node.name}</a> <Badge state={node.state} /></h3>
            <p>{node.stateReason}</p>
            <p>{Object.entries(node.labels).map(([k, v]) => `${k}=${v}`).join(' ')}</p>
            <p>{node.gpus.length} GPU · last seen {time(node.lastSeenAt)}</p>
            {role !== 'VIEWER' && nodeActions(node.state).map(a => (
              <Action key={`${node.id}-${a}`} label={a} path={`/api/v1/nodes/${node.id}/${a}`} onDone={reload}
                      confirm={confirmation(a, node.name)} />))}
          </aside>
        )}
      </div>
      <FleetTable nodes={shown} page={tablePage} now={polledAt} selected={selected} onPage={setTablePage}
                  onSelect={setSelected} />
    </div>
  );
}
