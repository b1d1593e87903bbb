// The server's error codes (src/error_code.rs) in plain words: the one
// table the dashboard shows errors through. The context names the
// accounts a form was about, so a refusal can say whose money it was.

import { RequestFailed, type GraphQLError } from "./client";

export type ErrorContext = { accountId?: string; toAccountId?: string; what?: string };

type Explain = (error: GraphQLError, context: ErrorContext) => string;

const account = (context: ErrorContext) =>
  context.accountId ? `${context.accountId}'s account` : "the account";

const WORDS: Record<string, Explain> = {
  INSUFFICIENT_FUNDS: (_, c) => `not enough money in ${account(c)}`,
  ACCOUNT_CLOSED: (_, c) => `${account(c)} is closed`,
  NOT_FOUND: (e, c) =>
    c.toAccountId
      ? `there is no account ${c.accountId} or ${c.toAccountId} (${e.message})`
      : c.accountId
        ? `there is no account ${c.accountId}`
        : `not found: ${e.message}`,
  ALREADY_EXISTS: (_, c) =>
    c.accountId ? `an account called ${c.accountId} already exists` : "that already exists",
  BAD_USER_INPUT: (e) => `that is not a valid request: ${e.message}`,
  BAD_REQUEST: (e) => `the server could not read the request: ${e.message}`,
  CONCURRENCY_CONFLICT: (e) =>
    `someone else changed ${String(e.extensions?.streamId ?? "it")} at the same time ` +
    `(expected version ${String(e.extensions?.expected)}, it is at ${String(e.extensions?.actual)}): reload and try again`,
  CONSISTENCY_TIMEOUT: () =>
    "the change was saved, but the view took too long to catch up: reload in a moment",
  UNAUTHENTICATED: () =>
    "the server wants credentials: enter the admin secret or a token under “Credentials”",
  FORBIDDEN: (e) => `your role may not do this (${e.message})`,
  TOO_MANY_REQUESTS: () => "the server is busy: try again in a moment",
  TIMEOUT: () => "the server took too long to answer: try again (a command sent twice applies once)",
  UNAVAILABLE: () => "the server cannot reach its database right now: try again shortly",
  INTERNAL: (e) =>
    `the server hit an internal error (reference ${String(e.extensions?.errorId ?? "none")})`,
  NETWORK: () => "cannot reach the server",
  BAD_RESPONSE: (e) => `the server's answer could not be read (${e.message})`,
};

/** One sentence for the user; the code and the server's words go beside it. */
export function explain(err: unknown, context: ErrorContext = {}): string {
  if (!(err instanceof RequestFailed)) return String(err);
  const first = err.errors[0];
  const words = first && WORDS[first.extensions?.code ?? ""];
  return words ? words(first, context) : err.message;
}

export function errorCode(err: unknown): string | undefined {
  return err instanceof RequestFailed ? err.code : undefined;
}
