// The projections with their status, position, lag and events processed,
// kept live by `projectionStatus`, and a rebuild, pause and resume
// button each. A rebuild shows its progress (position against the head)
// and the statuses it went through until it runs again.
import { useEffect, useState } from "react";

import { gql } from "../shared/client";
import { explain } from "../shared/errors";
import { count, time } from "./format";
import { useQuery, useSubscription } from "./hooks";

type Projection = {
  name: string;
  status: string;
  position: number;
  headPosition: number;
  lag: number;
  eventsProcessed: number;
  lastError: string | null;
  failedPosition: number | null;
  updatedAt: string;
};

const FIELDS = "name status position headPosition lag eventsProcessed lastError failedPosition updatedAt";

type Row = Projection & { trail: string[] };

export function Projections() {
  const loaded = useQuery<{ projections: Projection[] }>(
    `{ projections { ${FIELDS} } }`,
    {},
    "projections",
  );
  const [rows, setRows] = useState<Record<string, Row>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});

  /** Applies a status unless a newer one is already shown (the HTTP
   * answer to a rebuild may arrive after the subscription's RUNNING). */
  const apply = (p: Projection, rebuilt = false) =>
    setRows((current) => {
      const known = current[p.name];
      const stale = known !== undefined && Date.parse(p.updatedAt) < Date.parse(known.updatedAt);
      if (rebuilt) {
        // A new trail starts at the rebuild.
        return stale
          ? { ...current, [p.name]: { ...known, trail: [p.status, known.status] } }
          : { ...current, [p.name]: { ...p, trail: [p.status] } };
      }
      if (stale) return current;
      const trail = known?.trail ?? [];
      const grown =
        trail.length > 0 && trail[trail.length - 1] !== p.status ? [...trail, p.status] : trail;
      return { ...current, [p.name]: { ...p, trail: grown.slice(-6) } };
    });

  useEffect(() => {
    loaded.data?.projections.forEach((p) => apply(p));
  }, [loaded.data]);

  useSubscription<{ projectionStatus: Projection }>(
    `subscription { projectionStatus { ${FIELDS} } }`,
    {},
    (data) => apply(data.projectionStatus),
    "all",
  );

  const act = async (name: string, action: "rebuild" | "pause" | "resume") => {
    const field = { rebuild: "rebuildProjection", pause: "pauseProjection", resume: "resumeProjection" }[action];
    setErrors((e) => ({ ...e, [name]: "" }));
    try {
      const result = await gql<Record<string, Projection>>(
        `mutation Act($name: String!) { ${field}(name: $name) { ${FIELDS} } }`,
        { name },
      );
      apply(result[field], action === "rebuild");
    } catch (err) {
      setErrors((e) => ({ ...e, [name]: explain(err, { what: name }) }));
    }
  };

  const list = Object.values(rows).sort((a, b) => a.name.localeCompare(b.name));
  return (
    <section className="panel" aria-label="Projections">
      <header className="panel-head">
        <h2>Projections</h2>
      </header>
      {loaded.error !== undefined && <p className="error">{explain(loaded.error)}</p>}
      <table className="grid">
        <thead>
          <tr>
            <th>Name</th>
            <th>Status</th>
            <th className="num">Position</th>
            <th className="num">Lag</th>
            <th className="num">Processed</th>
            <th>Updated</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((p) => (
            <tr key={p.name} data-projection={p.name}>
              <td>{p.name}</td>
              <td>
                <span className={`status status-${p.status}`} data-testid="status">
                  {p.status}
                </span>
                {p.status === "REBUILDING" && <Progress p={p} />}
                {p.trail.length > 1 && (
                  <div className="trail muted" data-testid="trail">
                    {p.trail.join(" → ")}
                  </div>
                )}
                {p.lastError && (
                  <div className="error small">
                    at #{p.failedPosition}: {p.lastError}
                  </div>
                )}
                {errors[p.name] && <div className="error small">{errors[p.name]}</div>}
              </td>
              <td className="num">
                {count(p.position)} / {count(p.headPosition)}
              </td>
              <td className="num">{count(p.lag)}</td>
              <td className="num">{count(p.eventsProcessed)}</td>
              <td className="muted">{time(p.updatedAt)}</td>
              <td className="actions">
                <button type="button" onClick={() => act(p.name, "rebuild")}>
                  Rebuild
                </button>
                <button type="button" onClick={() => act(p.name, "pause")} disabled={p.status === "PAUSED"}>
                  Pause
                </button>
                <button
                  type="button"
                  onClick={() => act(p.name, "resume")}
                  disabled={p.status !== "PAUSED" && p.status !== "FAILED"}
                >
                  Resume
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Progress({ p }: { p: Projection }) {
  const share = p.headPosition > 0 ? Math.min(1, p.position / p.headPosition) : 1;
  return (
    <div className="progress" title={`${count(p.position)} of ${count(p.headPosition)}`}>
      <span style={{ width: `${share * 100}%` }} />
      <em>{Math.round(share * 100)}%</em>
    </div>
  );
}
