// What every browser test shares: headless Chromium (Debian's, never a
// downloaded one), a guard that aborts and records every request to a
// host other than 127.0.0.1, page errors collected, screenshots into
// screenshots/ (git ignores it), and GraphQL from the test itself.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export const BASE = process.env.CHRONICLE_URL;
if (!BASE) throw new Error("CHRONICLE_URL is not set: run scripts/test-browser.sh");

const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), "screenshots");
mkdirSync(SCREENSHOTS, { recursive: true });

const LOCAL = new Set(["127.0.0.1"]);

/** A browser with one page; `outside` lists what the page tried to reach elsewhere. */
export async function open() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const outside = [];
  const problems = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if ((url.protocol === "http:" || url.protocol === "https:") && !LOCAL.has(url.hostname)) {
      outside.push(url.href);
      return route.abort("blockedbyclient");
    }
    return route.continue();
  });
  const page = await context.newPage();
  page.on("websocket", (ws) => {
    if (!LOCAL.has(new URL(ws.url()).hostname)) outside.push(ws.url());
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  page.on("requestfailed", (request) => {
    const failure = request.failure()?.errorText ?? "";
    // A page leaving aborts its own requests; those are not failures.
    if (!failure.includes("ERR_ABORTED")) problems.push(`request failed: ${request.url()} ${failure}`);
  });
  return {
    page,
    outside,
    problems,
    async screenshot(name) {
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
    },
    async close() {
      await browser.close();
    },
    /** Fails unless the page stayed on 127.0.0.1 and raised no error
     * (but those `expected` matches, e.g. a 401 the test asked for). */
    assertClean(expected = /^$/) {
      assert.deepEqual(outside, [], "the page tried to reach another host");
      const unexpected = problems.filter((p) => !expected.test(p));
      assert.deepEqual(unexpected, [], "the page reported errors");
    },
  };
}

/** A GraphQL request from the test (not the page), failing on errors. */
export async function gql(query, variables, { url = BASE, headers = {} } = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}
