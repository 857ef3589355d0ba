import type { Goodput } from './api';
import { goodputParts, percent, seconds } from './recovery';

/** A run's goodput breakdown: one stacked bar of its wall time and a table of the parts. */
export function GoodputBreakdown({ goodput }: { goodput: Goodput }) {
  if (goodput.wallSeconds <= 0) return <p>Not placed yet.</p>;
  const parts = goodputParts(goodput);
  return (
    <div className="goodput">
      <div className="goodput-bar" role="img"
           aria-label={parts.map(p => `${p.label} ${percent(p.share)}`).join(', ')}>
        {parts.filter(p => p.share > 0).map(p => (
          <span key={p.key} className={`g-${p.key}`} style={{ width: `${(p.share * 100).toFixed(2)}%` }}
                title={`${p.label}: ${seconds(p.seconds)} (${percent(p.share)})`} />))}
      </div>
      <table>
        <thead><tr><th>part</th><th>time</th><th>share of wall time</th></tr></thead>
        <tbody>
          {parts.map(p => (
            <tr key={p.key} data-part={p.key}>
              <td title={p.title}><i className={`g-${p.key}`} /> {p.label}</td><td>{seconds(p.seconds)}</td>
              <td>{percent(p.share)}</td>
            </tr>))}
          <tr data-part="wall"><td>wall time since the first placement</td><td>{seconds(goodput.wallSeconds)}</td>
            <td>{percent(goodput.wallSeconds > 0 ? 1 : null)}</td></tr>
        </tbody>
      </table>
    </div>
  );
}
