// What every client test shares: where the server is, unique names so the
// test files can run side by side against one server, a fetch that records
// what a client sent, and waiting for events with a deadline instead of
// sleeping.
import { randomUUID } from 'node:crypto';

const base = process.env.CHRONICLE_URL;
if (!base) {
  throw new Error('CHRONICLE_URL is not set: run scripts/test-clients.sh, or start a server and export CHRONICLE_URL=http://127.0.0.1:PORT');
}

export const httpUrl = new URL('/graphql', base).href;
export const wsUrl = httpUrl.replace(/^http/, 'ws');

/** A name no other test (or earlier run on the same database) uses. */
export function unique(prefix) {
  return `${prefix}${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

/**
 * A `fetch` that records each request a client makes: its method, its URL
 * and its body (parsed), or for a GET the parsed query parameters.
 */
export function recordingFetch() {
  const requests = [];
  const fetchImpl = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' ? input : input.url);
    const method = (init.method ?? 'GET').toUpperCase();
    let body;
    if (method === 'GET') {
      body = {};
      for (const [key, value] of url.searchParams) {
        body[key] = key === 'variables' || key === 'extensions' ? JSON.parse(value) : value;
      }
    } else {
      body = JSON.parse(init.body);
    }
    const response = await fetch(input, init);
    const text = await response.clone().text();
    requests.push({ method, url: url.href, body, status: response.status, response: JSON.parse(text) });
    return response;
  };
  return { fetch: fetchImpl, requests };
}

/** Rejects with a message naming what was awaited when it takes too long. */
export function within(ms, what, promise) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Collects what a push source delivers and lets a test await the n-th
 * item (or an error, or completion) with a deadline.
 */
export class Inbox {
  items = [];
  error = undefined;
  completed = false;
  #waiters = [];

  push = (item) => {
    this.items.push(item);
    this.#wake();
  };

  fail = (error) => {
    this.error = error;
    this.#wake();
  };

  complete = () => {
    this.completed = true;
    this.#wake();
  };

  /** Resolves once `count` items arrived; rejects on an error first. */
  take(count, ms = 10_000) {
    return within(ms, `${count} item(s) (have ${this.items.length})`, new Promise((resolve, reject) => {
      const check = () => {
        if (this.items.length >= count) resolve(this.items.slice(0, count));
        else if (this.error !== undefined) reject(this.error);
        else if (this.completed) reject(new Error(`completed after ${this.items.length} item(s), expected ${count}`));
        else return false;
        return true;
      };
      if (!check()) this.#waiters.push(check);
    }));
  }

  /** Resolves with the error, or rejects if items or completion come instead. */
  failure(ms = 10_000) {
    return within(ms, 'an error', new Promise((resolve, reject) => {
      const check = () => {
        if (this.error !== undefined) resolve(this.error);
        else if (this.items.length > 0) reject(new Error(`got an item instead of an error: ${JSON.stringify(this.items[0])}`));
        else if (this.completed) reject(new Error('completed instead of failing'));
        else return false;
        return true;
      };
      if (!check()) this.#waiters.push(check);
    }));
  }

  #wake() {
    this.#waiters = this.#waiters.filter((check) => !check());
  }
}

/** One plain GraphQL POST, for setting up what a test needs. */
export async function post(query, variables) {
  const response = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const result = await response.json();
  if (result.errors) throw new Error(`setup request failed: ${JSON.stringify(result.errors)}`);
  return result.data;
}

/** Opens an account with a unique id and returns the id and the result. */
export async function openAccount(initialBalance = '100.00') {
  const accountId = unique('acct');
  const data = await post(
    `mutation($in: OpenAccountInput!) { openAccount(input: $in) { streamId position version } }`,
    { in: { accountId, owner: 'Client Test', currency: 'EUR', initialBalance } },
  );
  return { accountId, ...data.openAccount };
}
