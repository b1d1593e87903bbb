// The dashboard's GraphQL client: plain fetch over HTTP, graphql-ws for
// subscriptions, both to the server that served the page and both with
// the stored credentials (read at each request and each connection; the
// page reloads when they change).
import { type Client, createClient } from "graphql-ws";

import { authHeaders } from "./credentials";
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

const stateListeners = new Set<(state: SocketState) => void>();
let socketState: SocketState = "connecting";
const client: Client = connect();

function setState(state: SocketState) {
  socketState = state;
  stateListeners.forEach((listener) => listener(state));
}

function connect(): Client {
  const created = createClient({
    url: wsUrl(),
    connectionParams: () => ({ headers: authHeaders() }),
    // A server restart or a dropped network is waited out, not given up
    // on; refused credentials are not retried (new ones reload the page).
    retryAttempts: Number.MAX_SAFE_INTEGER,
    shouldRetry: (err) => !REFUSED[closeCode(err) ?? 0],
    keepAlive: 10_000,
  });
  created.on("connecting", () => setState("connecting"));
  created.on("connected", () => setState("connected"));
  created.on("closed", () => setState("closed"));
  return created;
}

/** The server's close codes for credentials (README "Auth"). */
const REFUSED: Record<number, string> = { 4401: "UNAUTHENTICATED", 4403: "FORBIDDEN" };

function closeCode(err: unknown): number | undefined {
  return err && typeof err === "object" && "code" in err ? Number((err as CloseEvent).code) : undefined;
}

function closed(err: unknown): GraphQLError {
  const code = closeCode(err);
  if (code === undefined) return { message: String(err), extensions: { code: "NETWORK" } };
  const reason = (err as CloseEvent).reason;
  return {
    message: `connection closed (${code}${reason ? `: ${reason}` : ""})`,
    extensions: { code: REFUSED[code] ?? "NETWORK" },
  };
}

/** Subscribes until the returned function is called. graphql-ws
 * resubscribes by itself after a dropped connection, with the same
 * variables: a subscriber that resumes from a position drops what it
 * has already seen. */
export function subscribe<T>(
  query: string,
  variables: Record<string, unknown>,
  next: (data: T) => void,
  error: (err: RequestFailed) => void,
): () => void {
  return client.subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) {
          error(new RequestFailed(result.errors as GraphQLError[]));
        } else if (result.data) {
          next(result.data as T);
        }
      },
      error: (err) => {
        error(new RequestFailed(Array.isArray(err) ? (err as GraphQLError[]) : [closed(err)]));
      },
      complete: () => {},
    },
  );
}

export function onSocketState(listener: (state: SocketState) => void): () => void {
  stateListeners.add(listener);
  listener(socketState);
  return () => stateListeners.delete(listener);
}
