// React glue for the client: a query that reloads on demand, the hash
// route, and a subscription bound to a component's life.
import { useCallback, useEffect, useRef, useState } from "react";

import { gql, type RequestFailed, subscribe } from "../shared/client";

export type Loaded<T> = {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: (minPosition?: number) => void;
};

/**
 * Runs `query` when `key` changes and on `reload`. `reload(position)`
 * passes `minPosition`, so the answer reflects a write the page just made.
 */
export function useQuery<T>(
  query: string,
  variables: Record<string, unknown>,
  key: string,
): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  });
  const vars = useRef(variables);
  vars.current = variables;
  const generation = useRef(0);
  const run = useCallback(
    (minPosition?: number) => {
      const mine = ++generation.current;
      setState((s) => ({ ...s, loading: true }));
      const withPosition =
        minPosition === undefined ? vars.current : { ...vars.current, minPosition };
      gql<T>(query, withPosition).then(
        (data) => mine === generation.current && setState({ data, loading: false }),
        (error) => mine === generation.current && setState((s) => ({ ...s, error, loading: false })),
      );
    },
    [query],
  );
  useEffect(() => run(), [run, key]);
  return { ...state, reload: run } as Loaded<T>;
}

export function useSubscription<T>(
  query: string,
  variables: Record<string, unknown>,
  next: (data: T) => void,
  key: string,
  error?: (err: RequestFailed) => void,
) {
  const handlers = useRef({ next, error, variables });
  handlers.current = { next, error, variables };
  useEffect(
    () =>
      subscribe<T>(
        query,
        handlers.current.variables,
        (data) => handlers.current.next(data),
        (err) => handlers.current.error?.(err),
      ),
    [query, key],
  );
}

/** The part of the URL after `#/`, split on `/` and decoded. */
export function useRoute(): string[] {
  const read = () =>
    window.location.hash
      .replace(/^#\/?/, "")
      .split("/")
      .filter(Boolean)
      .map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

/** A value that ticks every `ms` milliseconds (for moving time windows). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
