import { describe, expect, it } from 'vitest';
import type { NodeState, NodeView } from './api';
import { confirmation, countByState, filterNodes, labelValues, NO_FILTER, nodeActions } from './fleet';

const node = (name: string, state: NodeState, zone: string, rack: string): NodeView => ({
  id: name, name, hostname: name, agentVersion: 't', state, stateReason: null, stateChangedAt: '',
  labels: { zone, rack }, gpus: [], registeredAt: '', lastSeenAt: null, trainer: null, gpuHealth: null,
});

const fleet = [
  node('n3', 'HEALTHY', 'eu-2', 'r1'), node('n1', 'FAILED', 'eu-1', 'r2'),
  node('n2', 'HEALTHY', 'eu-1', 'r1'), node('n4', 'CORDONED', 'eu-1', 'r1'),
];

describe('fleet', () => {
  it('orders by zone, rack, name and filters by each field', () => {
    expect(filterNodes(fleet, NO_FILTER).map(n => n.name)).toEqual(['n2', 'n4', 'n1', 'n3']);
    expect(filterNodes(fleet, { ...NO_FILTER, zone: 'eu-1', rack: 'r1' }).map(n => n.name)).toEqual(['n2', 'n4']);
    expect(filterNodes(fleet, { ...NO_FILTER, state: 'HEALTHY' }).map(n => n.name)).toEqual(['n2', 'n3']);
  });

  it('counts every state, zero included', () => {
    const c = countByState(fleet);
    expect(c.HEALTHY).toBe(2);
    expect(c.FAILED).toBe(1);
    expect(c.SPARE).toBe(0);
  });

  it('lists label values once, sorted', () => {
    expect(labelValues(fleet, 'zone')).toEqual(['eu-1', 'eu-2']);
    expect(labelValues(fleet, 'gpu')).toEqual([]);
  });

  it('offers the actions the node state machine allows', () => {
    expect(nodeActions('HEALTHY')).toEqual(['cordon', 'drain', 'swap']);
    expect(nodeActions('CORDONED')).toEqual(['uncordon', 'drain', 'swap']);
    expect(nodeActions('DRAINING')).toEqual(['uncordon', 'swap']);
    // a spare or a node never placed holds no rank to hand over
    expect(nodeActions('SPARE')).not.toContain('swap');
    expect(nodeActions('REGISTERED')).not.toContain('swap');
  });

  it('asks before a swap, which restarts the node\'s run, and not before a cordon', () => {
    expect(confirmation('swap', 'gpu-7')).toMatch(/^Swap gpu-7\?.*restarts/);
    expect(confirmation('cordon', 'gpu-7')).toBeUndefined();
  });

  it('filters a 5,000-node fleet', () => {
    const big = Array.from({ length: 5000 }, (_, i) => node(`n${i}`, i % 7 ? 'HEALTHY' : 'FAILED', `z${i % 3}`, `r${i % 40}`));
    expect(filterNodes(big, { ...NO_FILTER, rack: 'r7' })).toHaveLength(125);
  });
});
