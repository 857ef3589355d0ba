import { memo } from 'react';
import type { NodeView } from './api';
import { fmt } from './chart';
import { Pager, slicePage } from './paging';
import { Badge } from './ui';

export const TABLE_PAGE = 100;

/** How long ago a heartbeat was, in the largest unit that fits: "4 s", "12 min", "3 h 5 min"; "never" without one. */
export function age(lastSeenAt: string | null, now: number): string {
  if (!lastSeenAt) return 'never';
  const s = Math.max(0, Math.floor((now - Date.parse(lastSeenAt)) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The run a node's trainer holds, as rank · generation; null when it holds none. */
export function seat(n: NodeView): { runId: string; text: string } | null {
  const t = n.trainer;
  return t && t.runId ? { runId: t.runId, text: `rank ${t.rank} · gen ${t.generation} · ${t.state}` } : null;
}

/**
 * The fleet by name: state, run and rank, heartbeat age, hottest GPU and mean utilisation, and why the node is in
 * its state; one page of {@link TABLE_PAGE} rows at a time, so 1,000 nodes never become 1,000 rows.
 */
export const FleetTable = memo(function FleetTable({ nodes, page, now, selected, onPage, onSelect }: {
  nodes: NodeView[]; page: number; now: number; selected: string | null; onPage: (p: number) => void;
  onSelect: (id: string) => void;
}) {
  const shown = slicePage(nodes, page, TABLE_PAGE);
  return (
    <div className="fleet-table">
      <Pager page={shown.page} size={TABLE_PAGE} total={nodes.length} onPage={onPage} />
      <table className="nodes">
        <thead><tr><th>node</th><th>state</th><th>run</th><th>trainer</th><th>last heartbeat</th>
          <th title="the hottest GPU of the last heartbeat">GPU °C (max)</th>
          <th title="mean over the node's GPUs">GPU util % (mean)</th><th>reason</th></tr></thead>
        <tbody>
          {shown.items.map(n => {
            const s = seat(n);
            return (
              <tr key={n.id} data-node-row={n.name} className={n.id === selected ? 'selected' : ''}
                  onClick={() => onSelect(n.id)}>
                <td><a href={`#/nodes/${n.id}`}>{n.name}</a></td>
                <td><Badge state={n.state} /></td>
                <td className="run">{s ? <a href={`#/runs/${s.runId}`} title={s.runId}>{s.runId.slice(0, 8)}</a> : '–'}</td>
                <td className="seat">{s ? s.text : n.trainer ? n.trainer.state : '–'}</td>
                <td className="age">{age(n.lastSeenAt, now)}</td>
                <td className="temp">{fmt(n.gpuHealth?.maxTemperatureC)}</td>
                <td className="util">{fmt(n.gpuHealth?.meanUtilizationPct)}</td>
                <td className="reason">{n.stateReason ?? ''}</td>
              </tr>);
          })}
        </tbody>
      </table>
    </div>
  );
});
