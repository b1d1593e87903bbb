// The store at a glance: totals, events per second over the last few
// minutes (from the page's event log), and counts by event type and by
// stream category (the `stats` query, refreshed as events arrive).
import { useEffect, useRef } from "react";

import { explain } from "../shared/errors";
import { CHART_SECONDS, useEventLog } from "./eventLog";
import { count } from "./format";
import { useNow, useQuery } from "./hooks";
import { Projections } from "./Projections";

type Stats = {
  totalEvents: number;
  totalStreams: number;
  totalSnapshots: number;
  headPosition: number;
  eventsByType: { type: string; count: number }[];
  streamsByCategory: { category: string; streams: number; events: number }[];
};

const STATS = `{ stats { totalEvents totalStreams totalSnapshots headPosition
  eventsByType { type count } streamsByCategory { category streams events } } }`;

/** At most one stats refresh per this many milliseconds. */
const STATS_EVERY_MS = 2000;

export function Overview() {
  const stats = useQuery<{ stats: Stats }>(STATS, {}, "stats");
  const log = useEventLog();
  const reloaded = useRef(0);
  useEffect(() => {
    if (log.lastPosition === 0) return;
    const wait = Math.max(0, reloaded.current + STATS_EVERY_MS - Date.now());
    const timer = setTimeout(() => {
      reloaded.current = Date.now();
      stats.reload();
    }, wait);
    return () => clearTimeout(timer);
  }, [log.lastPosition]);
  const s = stats.data?.stats;

  return (
    <>
      <section className="cards" aria-label="Totals">
        <Card label="Events" value={s?.totalEvents} />
        <Card label="Streams" value={s?.totalStreams} />
        <Card label="Head position" value={s?.headPosition} />
        <Card label="Snapshots" value={s?.totalSnapshots} />
      </section>
      {stats.error !== undefined && <p className="error">{explain(stats.error)}</p>}
      <Rate times={log.times} />
      <Projections />
      <div className="two">
        <Bars
          title="Events by type"
          rows={(s?.eventsByType ?? []).map((t) => ({ label: t.type, value: t.count }))}
        />
        <Bars
          title="Events by category"
          rows={(s?.streamsByCategory ?? []).map((c) => ({
            label: c.category,
            value: c.events,
            note: `${count(c.streams)} stream${c.streams === 1 ? "" : "s"}`,
          }))}
        />
      </div>
    </>
  );
}

function Card({ label, value }: { label: string; value: number | undefined }) {
  return (
    <div className="card">
      <div className="card-value">{value === undefined ? "…" : count(value)}</div>
      <div className="card-label">{label}</div>
    </div>
  );
}

const WIDTH = 800;
const HEIGHT = 140;

/** Events per second, one bar a second, the newest on the right. */
function Rate({ times }: { times: number[] }) {
  const now = useNow(1000);
  const end = Math.floor(now / 1000);
  const buckets = new Array<number>(CHART_SECONDS).fill(0);
  for (const t of times) {
    const slot = CHART_SECONDS - 1 - (end - Math.floor(t / 1000));
    if (slot >= 0 && slot < CHART_SECONDS) buckets[slot] += 1;
  }
  const peak = Math.max(1, ...buckets);
  const bar = WIDTH / CHART_SECONDS;
  const last = buckets.slice(-60).reduce((a, b) => a + b, 0);
  return (
    <section className="panel" aria-label="Events per second">
      <header className="panel-head">
        <h2>Events per second</h2>
        <span className="muted">
          last {CHART_SECONDS / 60} minutes · peak {peak}/s · {count(last)} in the last minute
        </span>
      </header>
      <svg
        className="chart"
        viewBox={`0 0 ${WIDTH} ${HEIGHT + 16}`}
        role="img"
        aria-label={`events per second, peak ${peak}`}
      >
        <line x1="0" y1={HEIGHT} x2={WIDTH} y2={HEIGHT} className="axis" />
        {buckets.map((n, i) =>
          n === 0 ? null : (
            <rect
              key={i}
              x={i * bar}
              y={HEIGHT - (n / peak) * HEIGHT}
              width={Math.max(1, bar - 0.5)}
              height={(n / peak) * HEIGHT}
            >
              <title>{`${n} event${n === 1 ? "" : "s"}, ${CHART_SECONDS - 1 - i}s ago`}</title>
            </rect>
          ),
        )}
        <text x="0" y={HEIGHT + 13} className="tick">
          −{CHART_SECONDS / 60} min
        </text>
        <text x={WIDTH} y={HEIGHT + 13} className="tick" textAnchor="end">
          now
        </text>
        <text x="2" y="11" className="tick">
          {peak}/s
        </text>
      </svg>
    </section>
  );
}

type Row = { label: string; value: number; note?: string };

function Bars({ title, rows }: { title: string; rows: Row[] }) {
  const sorted = [...rows].sort((a, b) => b.value - a.value);
  const peak = Math.max(1, ...sorted.map((r) => r.value));
  return (
    <section className="panel" aria-label={title}>
      <header className="panel-head">
        <h2>{title}</h2>
      </header>
      {sorted.length === 0 ? (
        <p className="muted">Nothing stored yet.</p>
      ) : (
        <table className="bars">
          <tbody>
            {sorted.map((r) => (
              <tr key={r.label}>
                <th scope="row">{r.label}</th>
                <td className="bar-cell">
                  <span className="bar" style={{ width: `${(r.value / peak) * 100}%` }} />
                </td>
                <td className="num">{count(r.value)}</td>
                <td className="muted">{r.note ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
