// GraphiQL, served by the binary with no internet: it renders, runs its
// default query over HTTP, and runs a subscription over the WebSocket.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { BASE, gql, open } from "./harness.mjs";

let browser;
before(async () => {
  browser = await open();
});
after(async () => {
  await browser?.close();
});

const editor = (selector) => `${selector} .CodeMirror`;

/** The text of one of GraphiQL's CodeMirror editors. */
async function editorText(page, selector) {
  return page.$eval(editor(selector), (el) => el.CodeMirror.getValue());
}

async function resultContains(page, text) {
  await page.waitForFunction(
    ([selector, wanted]) => document.querySelector(selector)?.CodeMirror?.getValue().includes(wanted),
    [editor(".result-window"), text],
    { timeout: 15_000 },
  );
}

test("GraphiQL renders offline at / and runs its default query", async () => {
  const { page } = browser;
  await page.goto(`${BASE}/`);
  await page.waitForSelector(".graphiql-container");
  await page.waitForSelector(editor(".graphiql-query-editor"));
  const query = await editorText(page, ".graphiql-query-editor");
  assert.match(query, /projections/, "the default query shows the projections");
  await page.click(".graphiql-execute-button");
  await resultContains(page, '"totalEvents"');
  await resultContains(page, '"AccountBalances"');
  await browser.screenshot("graphiql");
  browser.assertClean();
});

test("a browser's GET of /graphql is GraphiQL too", async () => {
  const { page } = browser;
  await page.goto(`${BASE}/graphql`);
  await page.waitForSelector(".graphiql-container");
  browser.assertClean();
});

test("GraphiQL runs a subscription: stored events first, then live ones", async () => {
  const { page } = browser;
  await page.goto(`${BASE}/`);
  await page.waitForSelector(editor(".graphiql-query-editor"));
  const stream = `graphiql-${Date.now()}`;
  const append = (type) =>
    gql(
      `mutation($in: AppendEventsInput!) { appendEvents(input: $in) { position } }`,
      { in: { streamId: stream, events: [{ type, data: { from: "the test" } }] } },
    );
  await append("FirstPing");
  await page.$eval(
    editor(".graphiql-query-editor"),
    (el, text) => el.CodeMirror.setValue(text),
    `subscription { eventAppended(afterPosition: 0, filter: { streamId: "${stream}" }) { position streamId type data } }`,
  );
  await page.click(".graphiql-execute-button");
  await resultContains(page, "FirstPing");
  await append("SecondPing");
  await resultContains(page, "SecondPing");
  await browser.screenshot("graphiql-subscription");
  browser.assertClean();
});
