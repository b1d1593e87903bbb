// The dashboard's GraphQL client: plain fetch over HTTP, graphql-ws for
// subscriptions, both to the server that served the page and both with
// the stored credentials. A change of credentials opens a new socket and
// moves every live subscription onto it.
import { type Client, createClient } from "graphql-ws";

import { authHeaders, onCredentialsChange } from "./credentials";
import { HTTP_URL, wsUrl } from "./endpoints";

export type GraphQLError = {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
};

/** A request that came back with errors (or never came back). */
export class RequestFailed extends Error {
  readonly errors: GraphQLError[];
  constructor(errors: GraphQLError[]) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
  }
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

export async function gql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
  let response: Response;
  try {
    response = await fetch(HTTP_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...authHeaders() },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    throw new RequestFailed([{ message: String(err), extensions: { code: "NETWORK" } }]);
  }
  let body: { data?: T; errors?: GraphQLError[] };
  try {
    body = await response.json();
  } catch {
    throw new RequestFailed([
      { message: `HTTP ${response.status}`, extensions: { code: "BAD_RESPONSE" } },
    ]);
  }
  if (body.errors?.length) throw new RequestFailed(body.errors);
  if (body.data === undefined || body.data === null) {
    throw new RequestFailed([{ message: "no data", extensions: { code: "BAD_RESPONSE" } }]);
  }
  return body.data;
}

export type SocketState = "connecting" | "connected" | "closed";

type Live = {
  query: string;
  /** Read at each (re)subscription, so a resumed feed starts where it was. */
  variables: () => Record<string, unknown>;
  next: (data: unknown) => void;
  error: (err: RequestFailed) => void;
  stop?: () => void;
};

const live = new Set<Live>();
const stateListeners = new Set<(state: SocketState) => void>();
let socketState: SocketState = "connecting";
let client: Client = connect();

function setState(state: SocketState) {
  socketState = state;
  stateListeners.forEach((listener) => listener(state));
}

function connect(): Client {
  const created = createClient({
    url: wsUrl(),
    connectionParams: () => ({ headers: authHeaders() }),
    // A server restart or a dropped network is waited out, not given up on.
    retryAttempts: Number.MAX_SAFE_INTEGER,
    shouldRetry: () => true,
    keepAlive: 10_000,
  });
  created.on("connecting", () => setState("connecting"));
  created.on("connected", () => setState("connected"));
  created.on("closed", () => setState("closed"));
  return created;
}

function start(subscription: Live) {
  subscription.stop = client.subscribe(
    { query: subscription.query, variables: subscription.variables() },
    {
      next: (result) => {
        if (result.errors?.length) {
          subscription.error(new RequestFailed(result.errors as GraphQLError[]));
        } else if (result.data) {
          subscription.next(result.data);
        }
      },
      error: (err) => {
        const errors = Array.isArray(err)
          ? (err as GraphQLError[])
          : [{ message: describeClose(err), extensions: { code: "NETWORK" } }];
        subscription.error(new RequestFailed(errors));
      },
      complete: () => {},
    },
  );
}

function describeClose(err: unknown): string {
  if (err && typeof err === "object" && "code" in err) {
    const close = err as CloseEvent;
    return `connection closed (${close.code}${close.reason ? `: ${close.reason}` : ""})`;
  }
  return String(err);
}

onCredentialsChange(() => {
  live.forEach((subscription) => subscription.stop?.());
  void client.dispose();
  client = connect();
  live.forEach(start);
});

/** Subscribes until the returned function is called. */
export function subscribe<T>(
  query: string,
  variables: () => Record<string, unknown>,
  next: (data: T) => void,
  error: (err: RequestFailed) => void,
): () => void {
  const subscription: Live = { query, variables, next: next as (data: unknown) => void, error };
  live.add(subscription);
  start(subscription);
  return () => {
    live.delete(subscription);
    subscription.stop?.();
  };
}

export function onSocketState(listener: (state: SocketState) => void): () => void {
  stateListeners.add(listener);
  listener(socketState);
  return () => stateListeners.delete(listener);
}
