// The dashboard on a server with auth on (scripts/test-browser.sh starts
// one with an admin secret and a JWT secret): without credentials it
// says so; the admin secret or a token typed under "Credentials" is kept
// in session storage, sent on HTTP and in the WebSocket's
// connection_init, and the header shows the role and the actor.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, test } from "node:test";

import { gql, open } from "./harness.mjs";

const URL = process.env.CHRONICLE_AUTH_URL;
const SECRET = process.env.CHRONICLE_AUTH_ADMIN_SECRET;
const JWT_SECRET = process.env.CHRONICLE_AUTH_JWT_SECRET;
const skip = !URL && "no server with auth (run scripts/test-browser.sh)";
const TIMEOUT = 15_000;
/** What a page without credentials is bound to log. */
const REFUSED = /status of 401/;

let browser;
before(async () => {
  if (!skip) browser = await open();
});
after(async () => {
  await browser?.close();
});

async function see(locator, text) {
  await locator.filter({ hasText: text }).first().waitFor({ timeout: TIMEOUT });
}

function token(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${body}.${createHmac("sha256", JWT_SECRET).update(body).digest("base64url")}`;
}

async function enter(page, kind, value) {
  await page.getByRole("button", { name: /^Credentials/ }).click();
  await page.selectOption("select[name=kind]", kind);
  await page.fill("input[name=credential]", value);
  await Promise.all([page.waitForEvent("load"), page.getByRole("button", { name: "Save" }).click()]);
}

test("without credentials the dashboard says the server wants them", { skip }, async () => {
  const { page } = browser;
  await page.goto(`${URL}/dashboard`);
  await see(page.locator("[data-testid=viewer]"), "the server wants credentials");
  browser.assertClean(REFUSED);
});

test("the admin secret goes on every request and in connection_init", { skip }, async () => {
  const { page } = browser;
  const sent = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/graphql")) sent.push(request.headers()["x-chronicle-admin-secret"]);
  });
  const inits = [];
  page.on("websocket", (ws) =>
    ws.on("framesent", (frame) => {
      const message = JSON.parse(String(frame.payload));
      if (message.type === "connection_init") inits.push(message.payload);
    }),
  );
  await enter(page, "secret", SECRET);
  await see(page.locator("[data-testid=viewer]"), "admin");
  await see(page.locator(".socket"), "live");
  await see(page.locator("tr[data-projection]"), "AccountBalances");
  assert.ok(sent.length > 0 && sent.every((value) => value === SECRET), JSON.stringify(sent));
  assert.deepEqual(inits.at(-1), { headers: { "X-Chronicle-Admin-Secret": SECRET } });
  const stored = await page.evaluate(() => sessionStorage.getItem("chronicle.credentials"));
  assert.deepEqual(JSON.parse(stored), { kind: "secret", value: SECRET });
  browser.assertClean(REFUSED);
});

test("a token shows its role and actor, and the events it writes carry the actor", { skip }, async () => {
  const { page } = browser;
  const exp = Math.floor(Date.now() / 1000) + 600;
  await enter(page, "token", token({ sub: "carol", role: "writer", exp }));
  await see(page.locator("[data-testid=viewer]"), "writer · carol");
  await page.goto(`${URL}/dashboard#/accounts`);
  const form = page.locator("form[data-form=open]");
  await form.locator("[name=accountId]").fill("carols");
  await form.locator("[name=owner]").fill("Carol");
  await form.locator('button[type="submit"]').click();
  await see(form.locator("[role=status]"), "Opened carols");
  await page.goto(`${URL}/dashboard#/streams/account-carols`);
  await see(page.locator("[data-testid=stream-events] li"), '"actor": "carol"');
  // A writer may not rebuild: the refusal is said in plain words.
  await page.goto(`${URL}/dashboard#/`);
  const row = page.locator("tr[data-projection=Users]");
  await row.getByRole("button", { name: "Rebuild" }).click();
  await see(row, "your role may not do this");
  browser.assertClean(REFUSED);
});

test("GraphiQL sends the headers editor's headers over HTTP and in connection_init", { skip }, async () => {
  const { page } = browser;
  await page.goto(`${URL}/`);
  const editor = (selector) => `${selector} .CodeMirror`;
  const set = (selector, text) =>
    page.$$eval(
      editor(selector),
      (els, value) => els.find((el) => !el.closest(".hidden")).CodeMirror.setValue(value),
      text,
    );
  const result = (text) =>
    page.waitForFunction(
      (wanted) => document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue().includes(wanted),
      text,
      { timeout: TIMEOUT },
    );
  await page.waitForSelector(editor(".graphiql-query-editor"));
  await page.click(".graphiql-editor-tools button:has-text('Headers')");
  await set(".graphiql-editor-tool", JSON.stringify({ "X-Chronicle-Admin-Secret": SECRET }));
  await set(".graphiql-query-editor", "{ viewer { role } }");
  await page.click(".graphiql-execute-button");
  await result('"ADMIN"');

  const stream = `graphiql-auth-${Date.now()}`;
  await gql(
    `mutation($in: AppendEventsInput!) { appendEvents(input: $in) { position } }`,
    { in: { streamId: stream, events: [{ type: "SeenWithTheSecret", data: {} }] } },
    { url: URL, headers: { "X-Chronicle-Admin-Secret": SECRET } },
  );
  await set(
    ".graphiql-query-editor",
    `subscription { eventAppended(afterPosition: 0, filter: { streamId: "${stream}" }) { type } }`,
  );
  await page.click(".graphiql-execute-button");
  await result("SeenWithTheSecret");
  browser.assertClean(REFUSED);
});
