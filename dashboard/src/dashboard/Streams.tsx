// The stream browser: any stream's events, forward from a version or
// backward from one, a page at a time, with their data and metadata.
import { type FormEvent, useState } from "react";

import { explain } from "../shared/errors";
import { count, dateTime, pretty, streamHref } from "./format";
import { useQuery } from "./hooks";

type StreamEvent = {
  id: string;
  position: number;
  version: number;
  type: string;
  schemaVersion: number;
  recordedAt: string;
  data: unknown;
  metadata: unknown;
  upcastError: string | null;
};

type StreamPage = {
  stream: {
    id: string;
    category: string;
    version: number;
    events: { nodes: StreamEvent[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
  } | null;
};

const STREAM = `query Stream($id: ID!, $direction: ReadDirection!, $from: Long, $after: String, $first: Int!) {
  stream(id: $id) {
    id category version
    events(direction: $direction, fromVersion: $from, after: $after, first: $first) {
      nodes { id position version type schemaVersion recordedAt data metadata upcastError }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

const PAGE = 20;

export function Streams({ id }: { id: string | undefined }) {
  const [typed, setTyped] = useState(id ?? "");
  const open = (e: FormEvent) => {
    e.preventDefault();
    if (typed.trim()) window.location.hash = streamHref(typed.trim());
  };
  return (
    <>
      <section className="panel" aria-label="Open a stream">
        <form onSubmit={open} className="search">
          <input
            name="streamId"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            placeholder="stream id, e.g. account-alice"
            aria-label="Stream id"
          />
          <button type="submit">Open</button>
        </form>
      </section>
      {id ? <Stream key={id} id={id} /> : <p className="muted">Pick a stream above, or follow one from the live feed.</p>}
    </>
  );
}

function Stream({ id }: { id: string }) {
  const [direction, setDirection] = useState<"FORWARD" | "BACKWARD">("FORWARD");
  const [from, setFrom] = useState("");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const fromVersion = from.trim() === "" ? null : Number(from);
  const page = useQuery<StreamPage>(
    STREAM,
    { id, direction, from: fromVersion, after, first: PAGE },
    `${direction}|${fromVersion}|${after}`,
  );
  const stream = page.data?.stream;
  const restart = () => setCursors([null]);

  return (
    <section className="panel" aria-label="Stream">
      <header className="panel-head">
        <h2>{id}</h2>
        {stream && (
          <span className="muted">
            category {stream.category} · version {count(stream.version)}
          </span>
        )}
      </header>
      <div className="filters">
        <label>
          Direction{" "}
          <select
            name="direction"
            value={direction}
            onChange={(e) => {
              setDirection(e.target.value as "FORWARD" | "BACKWARD");
              restart();
            }}
          >
            <option value="FORWARD">forward (oldest first)</option>
            <option value="BACKWARD">backward (newest first)</option>
          </select>
        </label>
        <label>
          From version{" "}
          <input
            name="fromVersion"
            inputMode="numeric"
            value={from}
            size={6}
            placeholder={direction === "FORWARD" ? "1" : "last"}
            onChange={(e) => {
              setFrom(e.target.value.replace(/\D/g, ""));
              restart();
            }}
          />
        </label>
      </div>
      {page.error !== undefined && <p className="error">{explain(page.error)}</p>}
      {page.data && !stream && <p className="muted">No stream {id}: it has no events.</p>}
      {stream && (
        <ol className="stream-events" data-testid="stream-events">
          {stream.events.nodes.map((e) => (
            <li key={e.id}>
              <div className="event-line">
                <span className="position">v{e.version}</span>
                <span className="type">{e.type}</span>
                <span className="muted">
                  #{count(e.position)} · schema v{e.schemaVersion} · {dateTime(e.recordedAt)}
                </span>
              </div>
              {e.upcastError && <p className="error small">served as stored: {e.upcastError}</p>}
              <div className="json-pair">
                <div>
                  <div className="muted small">data</div>
                  <pre>{pretty(e.data)}</pre>
                </div>
                <div>
                  <div className="muted small">metadata</div>
                  <pre>{pretty(e.metadata)}</pre>
                </div>
              </div>
            </li>
          ))}
        </ol>
      )}
      <div className="pager">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <span className="muted">page {cursors.length}</span>
        <button
          type="button"
          disabled={!stream?.events.pageInfo.hasNextPage}
          onClick={() => setCursors([...cursors, stream?.events.pageInfo.endCursor ?? null])}
        >
          Next
        </button>
      </div>
    </section>
  );
}
