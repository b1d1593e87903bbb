// The live event feed: every event appended since the page opened (and
// a few before), newest first, filtered by category and type. Pausing
// freezes what is shown; events keep arriving underneath and show on
// resume.
import { useMemo, useState } from "react";

import { type LoggedEvent, useEventLog } from "./eventLog";
import { brief, streamHref, time } from "./format";

const SHOWN = 100;

const categoryOf = (streamId: string) => streamId.split("-")[0];

export function Feed() {
  const log = useEventLog();
  const [category, setCategory] = useState("");
  const [type, setType] = useState("");
  const [frozen, setFrozen] = useState<LoggedEvent[] | null>(null);

  const source = frozen ?? log.events;
  const newest = frozen?.[0]?.position ?? 0;
  const waiting = frozen ? log.events.filter((e) => e.position > newest).length : 0;
  const categories = useMemo(
    () => [...new Set(log.events.map((e) => categoryOf(e.streamId)))].sort(),
    [log.events],
  );
  const types = useMemo(() => [...new Set(log.events.map((e) => e.type))].sort(), [log.events]);
  const shown = source
    .filter((e) => !category || categoryOf(e.streamId) === category)
    .filter((e) => !type || e.type === type)
    .slice(0, SHOWN);

  return (
    <section className="panel feed" aria-label="Live events">
      <header className="panel-head">
        <h2>Live events</h2>
        <button
          type="button"
          onClick={() => setFrozen(frozen ? null : log.events)}
          aria-pressed={frozen !== null}
        >
          {frozen ? `Resume${waiting > 0 ? ` (${waiting} new)` : ""}` : "Pause"}
        </button>
      </header>
      <div className="filters">
        <label>
          Category{" "}
          <select value={category} onChange={(e) => setCategory(e.target.value)} name="category">
            <option value="">all</option>
            {categories.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
        <label>
          Type{" "}
          <select value={type} onChange={(e) => setType(e.target.value)} name="type">
            <option value="">all</option>
            {types.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
      </div>
      {log.error && <p className="error">Live feed: {log.error}</p>}
      {shown.length === 0 ? (
        <p className="muted">
          {source.length === 0 ? "No events yet: open an account to see one." : "No event matches."}
        </p>
      ) : (
        <ol className="events" data-testid="feed">
          {shown.map((e) => (
            <li key={e.position} data-position={e.position}>
              <div className="event-line">
                <span className="position">#{e.position}</span>
                <span className="type">{e.type}</span>
                <span className="time muted">{time(e.recordedAt)}</span>
              </div>
              <div className="event-line">
                <a href={streamHref(e.streamId)} title="Open the stream">
                  {e.streamId}
                </a>
                <span className="muted">v{e.version}</span>
                <code className="data">{brief(e.data)}</code>
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
