// Apollo Client 4 against a live server: automatic persisted queries
// (PersistedQueryLink over POST and GET), batching (BatchHttpLink),
// subscriptions (GraphQLWsLink over graphql-ws), typed errors and the
// normalized cache.
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { Inbox, httpUrl, openAccount, recordingFetch, unique, wsUrl } from './support.js';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

const ACCOUNT = gql`
  query Account($id: ID!, $minPosition: Long) {
    account(id: $id, minPosition: $minPosition) { id owner balance currency version }
  }
`;
const DEPOSIT = gql`
  mutation Deposit($input: DepositInput!) {
    deposit(input: $input) { commandId position version }
  }
`;
const WITHDRAW = gql`
  mutation Withdraw($input: WithdrawInput!) {
    withdraw(input: $input) { commandId position version }
  }
`;
const OPEN = gql`
  mutation Open($input: OpenAccountInput!) {
    openAccount(input: $input) { streamId position version }
  }
`;

const clients = [];
after(() => {
  for (const client of clients) client.stop();
});

function apollo(link) {
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  clients.push(client);
  return client;
}

const persistedQuery = (request) => request.body.extensions?.persistedQuery;

describe('PersistedQueryLink', () => {
  for (const useGETForHashedQueries of [false, true]) {
    test(`sends the hash alone, resends the text once when the server asks, then the hash alone again (useGETForHashedQueries: ${useGETForHashedQueries})`, async () => {
      const { accountId, position } = await openAccount('12.34');
      const variables = { id: accountId, minPosition: position };
      const recorder = recordingFetch();
      const link = new PersistedQueryLink({ sha256, useGETForHashedQueries })
        .concat(new HttpLink({ uri: httpUrl, fetch: recorder.fetch }));
      // A document of its own (the alias is new on every run), so its hash
      // is new to the server even when the suite runs twice against it.
      const query = gql(`
        query PersistedAccount($id: ID!, $minPosition: Long) {
          ${unique('run')}: __typename
          account(id: $id, minPosition: $minPosition) { id balance currency }
        }
      `);

      const first = await apollo(link).query({ query, variables, fetchPolicy: 'network-only' });
      assert.equal(first.data.account.balance, '12.34');
      assert.equal(recorder.requests.length, 2, 'one hash-only request, one retry with the text');
      const [hashOnly, withText] = recorder.requests;
      assert.equal(hashOnly.method, useGETForHashedQueries ? 'GET' : 'POST');
      assert.equal(hashOnly.body.query, undefined, 'the first request carries no text');
      assert.equal(persistedQuery(hashOnly).version, 1);
      assert.match(persistedQuery(hashOnly).sha256Hash, /^[0-9a-f]{64}$/);
      assert.equal(hashOnly.response.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
      assert.equal(withText.method, 'POST');
      assert.match(withText.body.query, /PersistedAccount/);
      assert.equal(persistedQuery(withText).sha256Hash, persistedQuery(hashOnly).sha256Hash);
      assert.equal(withText.response.errors, undefined);

      // A second client (nothing cached) runs the same query: the server
      // now knows the hash, so one hash-only request is enough.
      const again = await apollo(link).query({ query, variables, fetchPolicy: 'network-only' });
      assert.equal(again.data.account.balance, '12.34');
      assert.equal(recorder.requests.length, 3);
      const later = recorder.requests[2];
      assert.equal(later.method, useGETForHashedQueries ? 'GET' : 'POST');
      assert.equal(later.body.query, undefined);
      assert.equal(persistedQuery(later).sha256Hash, persistedQuery(hashOnly).sha256Hash);
      assert.equal(later.response.errors, undefined);
    });
  }

  test('a mutation goes as a hash over POST even with useGETForHashedQueries', async () => {
    const { accountId } = await openAccount('1.00');
    const recorder = recordingFetch();
    const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: true })
      .concat(new HttpLink({ uri: httpUrl, fetch: recorder.fetch }));
    const result = await apollo(link).mutate({
      mutation: DEPOSIT,
      variables: { input: { accountId, amount: '2.50', commandId: unique('cmd') } },
    });
    assert.equal(result.data.deposit.version, 2);
    assert.ok(recorder.requests.length >= 1);
    assert.ok(recorder.requests.every((r) => r.method === 'POST'));
  });
});

describe('BatchHttpLink', () => {
  test('operations fired in one tick go in one request holding an array, each answered in order', async () => {
    const { accountId: existing, position: existingAt } = await openAccount('50.00');
    const fresh = unique('acct');
    const recorder = recordingFetch();
    const client = apollo(new BatchHttpLink({ uri: httpUrl, fetch: recorder.fetch, batchMax: 10, batchInterval: 20 }));

    const [opened, deposited, read, refused] = await Promise.allSettled([
      client.mutate({ mutation: OPEN, variables: { input: { accountId: fresh, owner: 'Batch', currency: 'EUR', initialBalance: '5.00' } } }),
      // Runs after the opening in the same batch: the server answers a
      // batch's operations one after another, in the order sent.
      client.mutate({ mutation: DEPOSIT, variables: { input: { accountId: fresh, amount: '1.25' } } }),
      client.query({ query: ACCOUNT, variables: { id: existing, minPosition: existingAt }, fetchPolicy: 'network-only' }),
      client.mutate({ mutation: WITHDRAW, variables: { input: { accountId: existing, amount: '50.01' } } }),
    ]);

    assert.equal(recorder.requests.length, 1, 'one HTTP request for the four operations');
    const [request] = recorder.requests;
    assert.equal(request.method, 'POST');
    assert.ok(Array.isArray(request.body), 'the body is an array');
    assert.equal(request.body.length, 4);
    assert.ok(Array.isArray(request.response), 'the answer is an array');
    assert.equal(request.response.length, 4);

    assert.equal(opened.status, 'fulfilled');
    assert.equal(opened.value.data.openAccount.streamId, `account-${fresh}`);
    assert.equal(deposited.status, 'fulfilled', `deposit after opening: ${deposited.reason}`);
    assert.equal(deposited.value.data.deposit.version, 2);
    assert.equal(read.status, 'fulfilled');
    assert.equal(read.value.data.account.balance, '50.00');
    assert.equal(refused.status, 'rejected');
    assert.ok(CombinedGraphQLErrors.is(refused.reason));
    assert.equal(refused.reason.errors[0].extensions.code, 'INSUFFICIENT_FUNDS');
  });
});

describe('PersistedQueryLink over BatchHttpLink', () => {
  test('hash-only operations go in one batch; the ones the server asks for are resent with their text; later batches are hash-only', async () => {
    const opened = await Promise.all([openAccount('1.11'), openAccount('2.22')]);
    const recorder = recordingFetch();
    const link = new PersistedQueryLink({ sha256 })
      .concat(new BatchHttpLink({ uri: httpUrl, fetch: recorder.fetch, batchMax: 10, batchInterval: 20 }));
    const query = gql(`
      query BatchedPersisted($id: ID!, $minPosition: Long) {
        ${unique('run')}: __typename
        account(id: $id, minPosition: $minPosition) { id balance }
      }
    `);
    const runBoth = (client) =>
      Promise.all(opened.map(({ accountId, position }) =>
        client.query({ query, variables: { id: accountId, minPosition: position }, fetchPolicy: 'network-only' })));

    const first = await runBoth(apollo(link));
    assert.deepEqual(first.map((r) => r.data.account.balance), ['1.11', '2.22']);
    const [hashOnly, ...retries] = recorder.requests;
    assert.ok(Array.isArray(hashOnly.body) && hashOnly.body.length === 2, 'the first request is one batch of two');
    for (const [i, operation] of hashOnly.body.entries()) {
      assert.equal(operation.query, undefined);
      assert.equal(hashOnly.response[i].errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
    }
    const resent = retries.flatMap((r) => (Array.isArray(r.body) ? r.body : [r.body]));
    assert.equal(resent.length, 2, 'each operation is resent once');
    assert.ok(resent.every((op) => /BatchedPersisted/.test(op.query) && op.extensions.persistedQuery));

    const before = recorder.requests.length;
    const again = await runBoth(apollo(link));
    assert.deepEqual(again.map((r) => r.data.account.balance), ['1.11', '2.22']);
    assert.equal(recorder.requests.length, before + 1, 'one more request');
    const later = recorder.requests.at(-1);
    assert.ok(Array.isArray(later.body) && later.body.length === 2);
    assert.ok(later.body.every((op) => op.query === undefined), 'hash-only');
    assert.ok(later.response.every((r) => r.errors === undefined));
  });
});

describe('errors', () => {
  test('a refused command is a GraphQL error with its code', async () => {
    const { accountId } = await openAccount('10.00');
    const client = apollo(new HttpLink({ uri: httpUrl }));
    await assert.rejects(
      client.mutate({ mutation: WITHDRAW, variables: { input: { accountId, amount: '10.01' } } }),
      (err) => {
        assert.ok(CombinedGraphQLErrors.is(err), `a GraphQL error, got ${err}`);
        assert.equal(err.errors[0].extensions.code, 'INSUFFICIENT_FUNDS');
        assert.deepEqual(err.errors[0].path, ['withdraw']);
        return true;
      },
    );
    const result = await client.mutate({
      mutation: WITHDRAW,
      variables: { input: { accountId, amount: '10.01' } },
      errorPolicy: 'all',
    });
    assert.equal(result.data?.withdraw ?? null, null);
    assert.equal(result.error.errors[0].extensions.code, 'INSUFFICIENT_FUNDS');
  });
});

describe('GraphQLWsLink and the cache', () => {
  test('a subscription receives the event a mutation appends; the cache normalizes the account by id', async () => {
    const { accountId, streamId, position: openedAt } = await openAccount('20.00');
    const wsClient = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 });
    const link = ApolloLink.split(
      (operation) => operation.operationType === 'subscription',
      new GraphQLWsLink(wsClient),
      new HttpLink({ uri: httpUrl }),
    );
    const client = apollo(link);
    const inbox = new Inbox();
    const subscription = client
      .subscribe({
        query: gql`
          subscription Appended($afterPosition: Long, $filter: EventFilter) {
            eventAppended(afterPosition: $afterPosition, filter: $filter) { id position streamId version type data }
          }
        `,
        variables: { afterPosition: openedAt - 1, filter: { streamId } },
      })
      .subscribe({
        next: (result) => (result.error ? inbox.fail(result.error) : inbox.push(result.data.eventAppended)),
        error: inbox.fail,
        complete: inbox.complete,
      });
    try {
      const [opened] = await inbox.take(1);
      assert.equal(opened.type, 'AccountOpened');
      assert.equal(opened.position, openedAt);

      const before = await client.query({ query: ACCOUNT, variables: { id: accountId, minPosition: openedAt } });
      assert.equal(before.data.account.balance, '20.00');

      const deposit = await client.mutate({ mutation: DEPOSIT, variables: { input: { accountId, amount: '5.00' } } });
      const [, deposited] = await inbox.take(2);
      assert.equal(deposited.type, 'MoneyDeposited');
      assert.equal(deposited.position, deposit.data.deposit.position);
      assert.equal(deposited.streamId, streamId);
      assert.equal(deposited.version, 2);

      // Refetch the account as another query shape; it lands on the same
      // normalized entity, so every query reading it sees the new balance.
      await client.query({
        query: gql`query Balance($id: ID!, $minPosition: Long) { account(id: $id, minPosition: $minPosition) { id balance version } }`,
        variables: { id: accountId, minPosition: deposit.data.deposit.position },
        fetchPolicy: 'network-only',
      });
      const cacheId = client.cache.identify({ __typename: 'Account', id: accountId });
      assert.equal(cacheId, `Account:${accountId}`);
      const cached = client.readFragment({ id: cacheId, fragment: gql`fragment Cached on Account { id owner balance version }` });
      assert.deepEqual({ ...cached }, { __typename: 'Account', id: accountId, owner: 'Client Test', balance: '25.00', version: 2 });
      const fromCache = await client.query({ query: ACCOUNT, variables: { id: accountId, minPosition: openedAt }, fetchPolicy: 'cache-only' });
      assert.equal(fromCache.data.account.balance, '25.00');
    } finally {
      subscription.unsubscribe();
      await wsClient.dispose();
    }
  });
});
