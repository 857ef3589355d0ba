// What each poll costs the browser: `npm run bench` prints ops/s (vitest bench, tinybench underneath).
import { renderToStaticMarkup } from 'react-dom/server';
import { bench, describe } from 'vitest';
import type { NodeState, NodeView } from '../src/api';
import { project } from '../src/chart';
import { filterNodes, NO_FILTER } from '../src/fleet';
import { FleetTable } from '../src/FleetTable';
import { Grid } from '../src/pages/Fleet';

const STATES: NodeState[] = ['HEALTHY', 'HEALTHY', 'HEALTHY', 'SPARE', 'SUSPECT', 'CORDONED', 'FAILED'];
const fleet = (n: number): NodeView[] => Array.from({ length: n }, (_, i) => ({
  id: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, name: `node-${i}`, hostname: `node-${i}.local`,
  agentVersion: 'b', state: STATES[i % STATES.length], stateReason: null, stateChangedAt: '',
  labels: { zone: `z${i % 4}`, rack: `r${i % 64}` }, gpus: [], registeredAt: '', lastSeenAt: '2026-12-06T13:00:00Z',
  trainer: { state: 'RUNNING', runId: '11111111-2222-3333-4444-555555555555', rank: i, generation: 1 },
  gpuHealth: { gpus: 8, maxTemperatureC: 60 + (i % 20), meanUtilizationPct: 90 },
}));
const series = (n: number) => {
  const x = Array.from({ length: n }, (_, i) => i * 200);
  return { x, y: x.map(s => 10 / Math.sqrt(1 + s / 1000)), lo: x.map(() => 2), hi: x.map(() => 11) };
};

describe('fleet grid (one poll)', () => {
  for (const n of [1000, 5000]) {
    const nodes = fleet(n);
    bench(`filter + render ${n} nodes`, () => {
      renderToStaticMarkup(<Grid nodes={filterNodes(nodes, NO_FILTER)} selected={null} onSelect={() => {}} />);
    });
  }
});

describe('fleet table (one poll: one page of 100 rows)', () => {
  for (const n of [1000, 5000]) {
    const nodes = fleet(n);
    bench(`filter + render page 3 of ${n} nodes`, () => {
      renderToStaticMarkup(<FleetTable nodes={filterNodes(nodes, NO_FILTER)} page={3} now={Date.parse('2026-12-06T13:00:30Z')}
                                       selected={null} onPage={() => {}} onSelect={() => {}} />);
    });
  }
});

describe('chart geometry (one chart)', () => {
  // 500 = what the run page asks the server for; 10,000 = the server's cap on maxPoints.
  for (const n of [500, 10_000]) {
    const s = series(n);
    bench(`project ${n} points with a min/max band`, () => {
      project(s, { width: 460, height: 180, pad: 24, left: 56 });
    });
  }
});
