import { describe, expect, it } from 'vitest';
import { fmt, project } from './chart';

const F = { width: 120, height: 70, pad: 10 }; // plot area 100 x 50

describe('project', () => {
  it('maps the extremes onto the plot corners, y growing upwards', () => {
    const p = project({ x: [0, 50, 100], y: [2, 3, 4] }, F)!;
    expect(p.line).toBe('M10.0,60.0 L60.0,35.0 L110.0,10.0');
    expect([p.xMin, p.xMax, p.yMin, p.yMax]).toEqual([0, 100, 2, 4]);
  });

  it('widens the band of the y axis to include lo/hi and draws the band as a closed path', () => {
    const p = project({ x: [0, 10], y: [5, 5], lo: [4, 5], hi: [6, 5] }, F)!;
    expect([p.yMin, p.yMax]).toEqual([4, 6]);
    expect(p.band).toBe('M10.0,10.0 L110.0,35.0 L110.0,35.0 L10.0,60.0 Z');
  });

  it('uses decades on a log scale and skips values it cannot draw', () => {
    const p = project({ x: [0, 1, 2], y: [1, 0, 100] }, F, true)!;
    expect(p.line).toBe('M10.0,60.0 L110.0,10.0');
    expect([p.yMin, p.yMax]).toEqual([1, 100]);
  });

  it('centres a single point and gives a flat series a margin of its own magnitude', () => {
    const p = project({ x: [7], y: [3] }, F)!;
    expect(p.line).toBe('M60.0,35.0');
    expect([p.yMin, p.yMax]).toEqual([2.7, 3.3]);
    const lr = project({ x: [0, 1], y: [1e-3, 1e-3] }, F)!;
    expect([lr.yMin, lr.yMax]).toEqual([0.0009, 0.0011]);
    expect(project({ x: [0, 1], y: [0, 0] }, F)!.yMax).toBe(1);
  });

  it('leaves a wider left margin when asked', () => {
    expect(project({ x: [0, 100], y: [0, 1] }, { ...F, left: 20 })!.line).toBe('M20.0,60.0 L110.0,10.0');
  });

  it('returns null when nothing can be drawn', () => {
    expect(project({ x: [], y: [] }, F)).toBeNull();
    expect(project({ x: [1], y: [NaN] }, F)).toBeNull();
  });

  it('draws every point of a 10,000-point series', () => {
    const x = Array.from({ length: 10_000 }, (_, i) => i);
    const p = project({ x, y: x.map(i => Math.sin(i / 100)) }, F)!;
    expect(p.line.split(' ')).toHaveLength(10_000);
  });
});

describe('fmt', () => {
  it('prints short numbers', () => {
    expect(fmt(null)).toBe('–');
    expect(fmt(3.14159)).toBe('3.142');
    expect(fmt(12345.6)).toBe('12,346');
    expect(fmt(0.0003)).toBe('3.00e-4');
    expect(fmt(2.5e9)).toBe('2.50e+9');
    expect(fmt(0)).toBe('0');
  });
});
