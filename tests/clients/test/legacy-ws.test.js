// The legacy `graphql-ws` subprotocol (subscriptions-transport-ws), spoken
// by hand to see every message (ack, `ka`, data, error, complete) and by
// the subscriptions-transport-ws client itself.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { SubscriptionClient } from 'subscriptions-transport-ws';
import WebSocket from 'ws';

import { Inbox, openAccount, post, within, wsUrl } from './support.js';

/** A WebSocket whose messages are awaited in order, by type. */
class RawSocket {
  #inbox = new Inbox();
  #read = 0;

  constructor(protocol) {
    this.socket = new WebSocket(wsUrl, protocol);
    this.socket.on('message', (raw) => this.#inbox.push(JSON.parse(String(raw))));
    this.socket.on('error', this.#inbox.fail);
    this.socket.on('close', (code) => this.#inbox.fail(new Error(`socket closed with ${code}`)));
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', resolve);
      this.socket.once('error', reject);
    });
  }

  send(message) {
    this.socket.send(JSON.stringify(message));
  }

  /** The next message that is not a `ka` (or the next `ka` when asked). */
  async next(type) {
    for (;;) {
      const [message] = (await this.#inbox.take(this.#read + 1)).slice(-1);
      this.#read += 1;
      if (type === 'ka' ? message.type === 'ka' : message.type !== 'ka') return message;
    }
  }

  close() {
    this.socket.terminate();
  }
}

const sockets = [];
after(() => sockets.forEach((s) => s.close()));

async function connected() {
  const socket = new RawSocket('graphql-ws');
  sockets.push(socket);
  await socket.opened;
  assert.equal(socket.socket.protocol, 'graphql-ws');
  socket.send({ type: 'connection_init', payload: {} });
  return socket;
}

const EVENTS = `
  subscription Events($afterPosition: Long, $filter: EventFilter) {
    eventAppended(afterPosition: $afterPosition, filter: $filter) { position streamId version type }
  }
`;
const DEPOSIT = `mutation($in: DepositInput!) { deposit(input: $in) { position } }`;

test('connection_init is acknowledged and then keep-alives (ka) arrive', async () => {
  const socket = await connected();
  assert.deepEqual(await socket.next(), { type: 'connection_ack' });
  assert.deepEqual(await socket.next('ka'), { type: 'ka' });
});

test('start delivers data for stored and live events; stop is answered with complete', async () => {
  const { accountId, streamId, position } = await openAccount('3.00');
  const socket = await connected();
  assert.equal((await socket.next()).type, 'connection_ack');
  socket.send({ id: '1', type: 'start', payload: { query: EVENTS, variables: { afterPosition: position - 1, filter: { streamId } } } });

  const opened = await socket.next();
  assert.equal(opened.type, 'data');
  assert.equal(opened.id, '1');
  assert.equal(opened.payload.data.eventAppended.type, 'AccountOpened');

  const deposit = await post(DEPOSIT, { in: { accountId, amount: '1.00' } });
  const deposited = await socket.next();
  assert.equal(deposited.type, 'data');
  assert.deepEqual(deposited.payload.data.eventAppended, {
    position: deposit.deposit.position,
    streamId,
    version: 2,
    type: 'MoneyDeposited',
  });

  socket.send({ id: '1', type: 'stop' });
  assert.deepEqual(await socket.next(), { type: 'complete', id: '1' });
});

test('a start that fails validation gets an error message, no data', async () => {
  const socket = await connected();
  assert.equal((await socket.next()).type, 'connection_ack');
  socket.send({ id: 'bad', type: 'start', payload: { query: 'subscription { eventAppended { noSuchField } }' } });
  const answer = await socket.next();
  assert.equal(answer.type, 'error');
  assert.equal(answer.id, 'bad');
  assert.match(JSON.stringify(answer.payload), /noSuchField/);
});

test('the subscriptions-transport-ws client subscribes and receives an appended event', async (t) => {
  const { accountId, streamId, position } = await openAccount('4.00');
  const inbox = new Inbox();
  let client;
  const connected = new Promise((resolve, reject) => {
    client = new SubscriptionClient(wsUrl, { reconnect: false, connectionCallback: (error) => (error ? reject(error) : resolve()) }, WebSocket);
  });
  t.after(() => client.close());
  await within(10_000, 'connection_ack', connected);
  const subscription = client
    .request({ query: EVENTS, variables: { afterPosition: position - 1, filter: { streamId } } })
    .subscribe({ next: (result) => (result.errors ? inbox.fail(result.errors) : inbox.push(result.data.eventAppended)), error: inbox.fail, complete: inbox.complete });
  try {
    const [opened] = await inbox.take(1);
    assert.equal(opened.type, 'AccountOpened');
    const deposit = await post(DEPOSIT, { in: { accountId, amount: '0.25' } });
    const [, deposited] = await inbox.take(2);
    assert.equal(deposited.type, 'MoneyDeposited');
    assert.equal(deposited.position, deposit.deposit.position);
  } finally {
    subscription.unsubscribe();
  }
});
