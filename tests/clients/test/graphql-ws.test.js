// The graphql-ws client (graphql-transport-ws protocol) used directly:
// ordering across catch-up and live events, and validation errors as the
// protocol's `error` message.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { Inbox, post, unique, within, wsUrl } from './support.js';

const clients = [];
after(() => Promise.all(clients.map((client) => client.dispose())));

function wsClient(options = {}) {
  const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, ...options });
  clients.push(client);
  return client;
}

const APPEND = `
  mutation Append($in: AppendEventsInput!) {
    appendEvents(input: $in) { position version events { position version } }
  }
`;

function append(streamId, count, label) {
  const events = Array.from({ length: count }, (_, i) => ({ type: 'Noted', data: { label, i } }));
  return post(APPEND, { in: { streamId, events } });
}

function subscribe(client, query, variables) {
  const inbox = new Inbox();
  const stop = client.subscribe(
    { query, variables },
    { next: (result) => (result.errors ? inbox.fail(result.errors) : inbox.push(result.data)), error: inbox.fail, complete: inbox.complete },
  );
  return { inbox, stop };
}

const EVENTS = `
  subscription Events($afterPosition: Long, $filter: EventFilter) {
    eventAppended(afterPosition: $afterPosition, filter: $filter) { position streamId version type data }
  }
`;

describe('eventAppended', () => {
  test('delivers stored then live events in position order, with no gap and no duplicate', async () => {
    const category = unique('cw');
    const [a, b] = [`${category}-a`, `${category}-b`];
    // Stored before the subscription starts: served by the catch-up.
    await append(a, 3, 'stored');
    const { inbox, stop } = subscribe(wsClient(), EVENTS, { afterPosition: 0, filter: { category } });
    try {
      await inbox.take(3);
      // Appended while the subscription runs, some concurrently, to two
      // streams of the category.
      await Promise.all([append(a, 2, 'live'), append(b, 1, 'live'), append(b, 3, 'live')]);
      await append(a, 1, 'last');
      const total = 3 + 2 + 1 + 3 + 1;
      const received = (await inbox.take(total)).map((d) => d.eventAppended);

      const stored = await post(
        `query($filter: EventFilter) { events(afterPosition: 0, first: 100, filter: $filter) { nodes { position streamId version } } }`,
        { filter: { category } },
      );
      const expected = stored.events.nodes;
      assert.equal(expected.length, total);
      assert.deepEqual(
        received.map(({ position, streamId, version }) => ({ position, streamId, version })),
        expected,
        'the subscription delivers exactly the log, in order',
      );
      for (let i = 1; i < received.length; i += 1) {
        assert.ok(received[i].position > received[i - 1].position, 'positions strictly increase');
      }
      for (const stream of [a, b]) {
        const versions = received.filter((e) => e.streamId === stream).map((e) => e.version);
        assert.deepEqual(versions, versions.map((_, i) => i + 1), `${stream}: versions 1..n, no gap`);
      }
    } finally {
      stop();
    }
  });

  test('a subscription that fails validation gets the protocol error (sink.error), not next and complete', async () => {
    const { inbox, stop } = subscribe(wsClient(), `subscription { eventAppended { position noSuchField } }`, {});
    try {
      const errors = await inbox.failure();
      assert.ok(Array.isArray(errors), `sink.error gets the error message's GraphQL errors, got ${errors}`);
      assert.match(errors[0].message, /noSuchField/);
      assert.equal(inbox.items.length, 0);
      assert.equal(inbox.completed, false);
    } finally {
      stop();
    }
  });

  test('a syntax error is a protocol error too', async () => {
    const { inbox, stop } = subscribe(wsClient(), `subscription { eventAppended { position `, {});
    try {
      const errors = await inbox.failure();
      assert.ok(Array.isArray(errors));
      assert.ok(errors[0].message.length > 0);
    } finally {
      stop();
    }
  });
});

// RFC 6455 5.5.1: an endpoint that receives a Close frame sends one back;
// a client that sees 1006 instead of its own 1000 treats it as a failure.
describe('closing', () => {
  for (const protocol of ['graphql-transport-ws', 'graphql-ws']) {
    test(`a client's close (1000) is answered with a close frame (${protocol})`, async () => {
      const socket = new WebSocket(wsUrl, protocol);
      const closed = new Promise((resolve) => socket.on('close', (code) => resolve(code)));
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
      socket.on('message', (raw) => {
        if (JSON.parse(String(raw)).type === 'connection_ack') socket.close(1000, 'Normal Closure');
      });
      assert.equal(await within(5_000, 'the close', closed), 1000);
    });
  }

  test('a lazy client starts a subscription right after the previous one ended', async () => {
    // The lazy client closes its socket (1000) when the last subscription
    // ends; a subscription started meanwhile waits for that close and, on
    // a clean 1000, reconnects. On 1006 it fails (retryAttempts: 0).
    let closing;
    const closeStarted = new Promise((resolve) => (closing = resolve));
    class Socket extends WebSocket {
      close(...args) {
        closing();
        return super.close(...args);
      }
    }
    const client = wsClient({ lazy: true, webSocketImpl: Socket });
    const streamId = `${unique('cw')}-x`;
    await append(streamId, 2, 'seen');
    const first = subscribe(client, EVENTS, { afterPosition: 0, filter: { streamId } });
    await first.inbox.take(2);
    first.stop();
    // Start the next one while the socket is closing, as an app does when
    // one view unmounts and the next mounts.
    await within(5_000, 'the lazy close', closeStarted);
    const second = subscribe(client, EVENTS, { afterPosition: 0, filter: { streamId } });
    try {
      const events = await second.inbox.take(2);
      assert.deepEqual(events.map((d) => d.eventAppended.version), [1, 2]);
    } finally {
      second.stop();
    }
  });
});
