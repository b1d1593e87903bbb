// The page's view of the global log: the last events before the page
// opened, then every event appended since, from one `eventAppended`
// subscription that starts where the first read ended (so nothing falls
// between the two). The feed, the chart and the stats all read it; it
// lives as long as the page, whichever panel is shown.
import { useSyncExternalStore } from "react";

import { gql, subscribe } from "../shared/client";
import { explain } from "../shared/errors";

export type LoggedEvent = {
  position: number;
  streamId: string;
  version: number;
  type: string;
  recordedAt: string;
  data: unknown;
  metadata: unknown;
};

const EVENT_FIELDS = "position streamId version type recordedAt data metadata";
/** Events kept for the feed; older ones scroll away. */
const KEEP = 500;
/** Recorded times kept for the chart. */
export const CHART_SECONDS = 300;

type Snapshot = { events: LoggedEvent[]; times: number[]; lastPosition: number; error?: string };

let snapshot: Snapshot = { events: [], times: [], lastPosition: 0 };
const listeners = new Set<() => void>();
let started = false;

function publish(next: Snapshot) {
  snapshot = next;
  listeners.forEach((listener) => listener());
}

/** Adds events in position order; one already seen (a resubscription's
 * replay) is dropped. */
function add(events: LoggedEvent[]) {
  const fresh = events.filter((e) => e.position > snapshot.lastPosition);
  if (fresh.length === 0) return;
  const cutoff = Date.now() - CHART_SECONDS * 1000;
  const times = snapshot.times
    .concat(fresh.map((e) => Date.parse(e.recordedAt)))
    .filter((t) => t >= cutoff);
  publish({
    events: [...fresh].reverse().concat(snapshot.events).slice(0, KEEP),
    times,
    lastPosition: fresh[fresh.length - 1].position,
  });
}

async function start() {
  let head = 0;
  try {
    const { stats } = await gql<{ stats: { headPosition: number } }>(
      "{ stats { headPosition } }",
    );
    head = stats.headPosition;
    const from = Math.max(0, head - 200);
    const page = await gql<{ events: { nodes: LoggedEvent[] } }>(
      `query Recent($after: Long!) { events(afterPosition: $after, first: 200) { nodes { ${EVENT_FIELDS} } } }`,
      { after: from },
    );
    add(page.events.nodes);
  } catch (err) {
    publish({ ...snapshot, error: explain(err) });
  }
  subscribe<{ eventAppended: LoggedEvent }>(
    `subscription Feed($after: Long) { eventAppended(afterPosition: $after) { ${EVENT_FIELDS} } }`,
    { after: Math.max(snapshot.lastPosition, head) },
    (data) => {
      if (snapshot.error) publish({ ...snapshot, error: undefined });
      add([data.eventAppended]);
    },
    (err) => publish({ ...snapshot, error: explain(err) }),
  );
}

export function useEventLog(): Snapshot {
  if (!started) {
    started = true;
    void start();
  }
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => snapshot,
  );
}
