import { fmt, markerX, project, type Series } from './chart';
import type { Marker } from './recovery';

const FRAME = { width: 460, height: 180, pad: 24, left: 56 };

/**
 * One line chart in inline SVG; the optional lo/hi band shows what a downsampled bucket spanned. Markers are
 * vertical lines at steps (incidents red, restarts dashed), as in the plots of OPT's logbook.
 */
export function Chart({ title, series, log = false, markers = [] }:
  { title: string; series: Series; log?: boolean; markers?: Marker[] }) {
  const p = project(series, FRAME, log);
  return (
    <figure className="chart" data-chart={title}>
      <figcaption>{title}{log ? ' (log)' : ''}</figcaption>
      <svg viewBox={`0 0 ${FRAME.width} ${FRAME.height}`} role="img" aria-label={title}>
        <rect x={FRAME.left} y={FRAME.pad} width={FRAME.width - FRAME.left - FRAME.pad} height={FRAME.height - 2 * FRAME.pad}
              className="plot" />
        {p === null ? (
          <text x={FRAME.width / 2} y={FRAME.height / 2} textAnchor="middle" className="empty">no data yet</text>
        ) : (
          <>
            {p.band && <path d={p.band} className="band" />}
            <path d={p.line} className="line" />
            {markers.map((m, i) => {
              const x = markerX(p, FRAME, m.step);
              return x === null ? null : (
                <line key={i} x1={x} x2={x} y1={FRAME.pad} y2={FRAME.height - FRAME.pad} className={`marker m-${m.kind}`}
                      data-marker={m.kind} data-step={m.step}><title>{`step ${m.step}: ${m.label}`}</title></line>);
            })}
            <text x={FRAME.left - 4} y={FRAME.pad + 4} textAnchor="end">{fmt(p.yMax)}</text>
            <text x={FRAME.left - 4} y={FRAME.height - FRAME.pad} textAnchor="end">{fmt(p.yMin)}</text>
            <text x={FRAME.left} y={FRAME.height - 8}>{fmt(p.xMin)}</text>
            <text x={FRAME.width - FRAME.pad} y={FRAME.height - 8} textAnchor="end">step {fmt(p.xMax)}</text>
          </>
        )}
      </svg>
    </figure>
  );
}
