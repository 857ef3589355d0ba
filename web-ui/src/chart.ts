// Pure geometry of the line chart, kept apart from React so it is unit-tested.

export interface Series { x: number[]; y: number[]; lo?: number[]; hi?: number[] }

/** pad on every side, or `left` on the left (room for the y labels). */
export interface Frame { width: number; height: number; pad: number; left?: number }

export interface Projected {
  line: string;
  band: string | null;
  xMin: number; xMax: number; yMin: number; yMax: number;
}

/** Maps a series onto an SVG frame. Log scale skips values <= 0 (they cannot be drawn). */
export function project(s: Series, f: Frame, log = false): Projected | null {
  const tf = (v: number) => (log ? Math.log10(v) : v);
  const ok = (v: number) => Number.isFinite(v) && (!log || v > 0);
  const idx = s.x.map((_, i) => i).filter(i => ok(s.y[i]) && Number.isFinite(s.x[i]));
  if (idx.length === 0) return null;
  const ys = idx.flatMap(i => [s.y[i], s.lo?.[i] ?? s.y[i], s.hi?.[i] ?? s.y[i]]).filter(ok).map(tf);
  const xMin = s.x[idx[0]], xMax = s.x[idx[idx.length - 1]];
  let yMin = Math.min(...ys), yMax = Math.max(...ys);
  if (yMin === yMax) {
    // A flat series (constant LR, loss scale) sits mid-height with a margin that suits its magnitude.
    const d = log ? 0.5 : Math.abs(yMin) * 0.1 || 1;
    yMin -= d;
    yMax += d;
  }
  const h = f.height - 2 * f.pad;
  const px = (x: number) => xPixel(xMin, xMax, f, x);
  const py = (y: number) => f.pad + h - ((tf(y) - yMin) / (yMax - yMin)) * h;
  const pt = (x: number, y: number) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`;
  const line = idx.map((i, k) => `${k === 0 ? 'M' : 'L'}${pt(s.x[i], s.y[i])}`).join(' ');
  let band: string | null = null;
  if (s.lo && s.hi) {
    const top = idx.filter(i => ok(s.hi![i])).map(i => pt(s.x[i], s.hi![i]));
    const bottom = idx.filter(i => ok(s.lo![i])).map(i => pt(s.x[i], s.lo![i])).reverse();
    band = top.length > 1 ? `M${top.join(' L')} L${bottom.join(' L')} Z` : null;
  }
  const back = (v: number) => (log ? 10 ** v : v);
  return { line, band, xMin, xMax, yMin: back(yMin), yMax: back(yMax) };
}

function xPixel(xMin: number, xMax: number, f: Frame, x: number): number {
  const left = f.left ?? f.pad;
  const w = f.width - left - f.pad;
  return left + (xMax === xMin ? w / 2 : ((x - xMin) / (xMax - xMin)) * w);
}

/** Where a vertical marker at step x sits on a projected chart; null when the chart's steps do not reach it. */
export function markerX(p: Projected, f: Frame, x: number): number | null {
  return x < p.xMin || x > p.xMax ? null : Number(xPixel(p.xMin, p.xMax, f, x).toFixed(1));
}

/** Short human numbers for axis labels and tables. */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  return Number(v.toPrecision(4)).toString();
}
