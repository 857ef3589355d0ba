import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Chart } from './Chart';
import { parseRoute } from './route';

describe('Chart', () => {
  it('renders a line with axis labels', () => {
    const html = renderToStaticMarkup(<Chart title="loss" series={{ x: [1, 2, 3], y: [9, 7, 6] }} />);
    expect(html).toContain('class="line"');
    expect(html).toContain('>step 3<');
    expect(html).toContain('>9<');
  });

  it('says when there is nothing to draw', () => {
    expect(renderToStaticMarkup(<Chart title="lr" series={{ x: [], y: [] }} />)).toContain('no data yet');
  });
});

describe('parseRoute', () => {
  it('reads hash routes and falls back to the runs list', () => {
    expect(parseRoute('#/runs/abc')).toEqual({ page: 'run', id: 'abc' });
    expect(parseRoute('#/nodes/n1')).toEqual({ page: 'node', id: 'n1' });
    expect(parseRoute('#/fleet')).toEqual({ page: 'fleet' });
    expect(parseRoute('')).toEqual({ page: 'runs' });
  });
});
