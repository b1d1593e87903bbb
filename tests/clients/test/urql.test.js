// urql (@urql/core) against a live server: queries and mutations through
// fetchExchange, subscriptions through subscriptionExchange forwarding to a
// graphql-ws client.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { Client, cacheExchange, fetchExchange, gql, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';

import { Inbox, httpUrl, openAccount, recordingFetch, wsUrl } from './support.js';

// One socket for the whole file (lazy: false): a lazy client closes its
// socket when its last subscription ends and opens another for the next,
// which the close handshake bug covered in graphql-ws.test.js breaks.
const wsClient = createWsClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
const recorder = recordingFetch();
const client = new Client({
  url: httpUrl,
  fetch: recorder.fetch,
  exchanges: [
    cacheExchange,
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query || '' };
        return {
          subscribe(sink) {
            const unsubscribe = wsClient.subscribe(input, sink);
            return { unsubscribe };
          },
        };
      },
    }),
  ],
});

after(() => wsClient.dispose());

const ACCOUNT = gql`
  query Account($id: ID!, $minPosition: Long) {
    account(id: $id, minPosition: $minPosition) { id owner balance currency version openedAt }
  }
`;
const DEPOSIT = gql`
  mutation Deposit($input: DepositInput!) {
    deposit(input: $input) { commandId position version events { type data } }
  }
`;
const WITHDRAW = gql`
  mutation Withdraw($input: WithdrawInput!) {
    withdraw(input: $input) { position }
  }
`;
const APPENDED = gql`
  subscription Appended($afterPosition: Long, $filter: EventFilter) {
    eventAppended(afterPosition: $afterPosition, filter: $filter) { position streamId version type data }
  }
`;

test('a query reads an account (over GET, as urql sends queries), typed as the scalars say', async () => {
  const { accountId, position } = await openAccount('7.50');
  const result = await client.query(ACCOUNT, { id: accountId, minPosition: position }).toPromise();
  assert.equal(result.error, undefined);
  const { account } = result.data;
  assert.equal(account.balance, '7.50');
  assert.equal(account.version, 1);
  assert.equal(typeof account.version, 'number', 'Long is a JSON number');
  assert.ok(!Number.isNaN(Date.parse(account.openedAt)), 'DateTime is an RFC 3339 string');
  assert.equal(recorder.requests.at(-1).method, 'GET');
});

test('a mutation runs, and a refused one is a CombinedError with the code', async () => {
  const { accountId } = await openAccount('1.00');
  const deposited = await client.mutation(DEPOSIT, { input: { accountId, amount: '3.00' } }).toPromise();
  assert.equal(deposited.error, undefined);
  assert.equal(deposited.data.deposit.version, 2);
  assert.equal(deposited.data.deposit.events[0].type, 'MoneyDeposited');
  assert.equal(recorder.requests.at(-1).method, 'POST');

  const refused = await client.mutation(WITHDRAW, { input: { accountId, amount: '4.01' } }).toPromise();
  assert.ok(refused.error, 'an error');
  assert.equal(refused.error.networkError, undefined);
  assert.equal(refused.error.graphQLErrors[0].extensions.code, 'INSUFFICIENT_FUNDS');

  const float = await client.mutation(DEPOSIT, { input: { accountId, amount: 1.5 } }).toPromise();
  assert.equal(float.error.graphQLErrors[0].extensions.code, 'BAD_USER_INPUT', 'a Decimal sent as a float is refused');
});

test('a subscription receives stored events, then the one a mutation appends', async () => {
  const { accountId, streamId, position } = await openAccount('2.00');
  const inbox = new Inbox();
  const { unsubscribe } = client
    .subscription(APPENDED, { afterPosition: position - 1, filter: { streamId } })
    .subscribe((result) => (result.error ? inbox.fail(result.error) : inbox.push(result.data.eventAppended)));
  try {
    const [opened] = await inbox.take(1);
    assert.equal(opened.type, 'AccountOpened');
    const deposit = await client.mutation(DEPOSIT, { input: { accountId, amount: '0.50' } }).toPromise();
    assert.equal(deposit.error, undefined);
    const [, deposited] = await inbox.take(2);
    assert.equal(deposited.type, 'MoneyDeposited');
    assert.equal(deposited.streamId, streamId);
    assert.equal(deposited.position, deposit.data.deposit.position);
  } finally {
    unsubscribe();
  }
});

test('a subscription the server cannot validate comes back as an error result', async () => {
  const inbox = new Inbox();
  const { unsubscribe } = client
    .subscription(gql`subscription Broken { eventAppended { noSuchField } }`, {})
    .subscribe((result) => (result.error ? inbox.fail(result.error) : inbox.push(result.data)));
  try {
    const error = await inbox.failure();
    assert.match(error.graphQLErrors[0].message, /noSuchField/);
  } finally {
    unsubscribe();
  }
});
