// The dashboard against a fresh server, as a user drives it: open an
// account and deposit through the forms and see the event in the live
// feed and the balance change; a withdrawal the server refuses shows its
// reason in plain words; a rebuild shows REBUILDING then RUNNING; the
// time slider shows an older balance. The steps share one page and run
// in order.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { BASE, gql, open } from "./harness.mjs";

const TIMEOUT = 15_000;
let browser;
before(async () => {
  browser = await open();
});
after(async () => {
  await browser?.close();
});

/** Waits until `locator` has an element whose text contains `text`. */
async function see(locator, text) {
  await locator.filter({ hasText: text }).first().waitFor({ timeout: TIMEOUT });
}

async function submit(form, fields) {
  for (const [name, value] of Object.entries(fields)) {
    await form.locator(`[name="${name}"]`).fill(value);
  }
  await form.locator('button[type="submit"]').click();
}

test("the dashboard shows the projections and an empty feed on a fresh store", async () => {
  const { page } = browser;
  await page.goto(`${BASE}/dashboard`);
  const projections = page.locator("tr[data-projection]");
  await see(projections, "AccountBalances");
  await see(projections, "TransactionHistory");
  await see(page.locator(".socket"), "live");
  await see(page.locator("[data-testid=viewer]"), "admin");
  browser.assertClean();
});

test("an account opened and credited through the forms shows in the feed and the table", async () => {
  const { page } = browser;
  await page.goto(`${BASE}/dashboard#/accounts`);
  const open = page.locator("form[data-form=open]");
  await submit(open, { accountId: "alice", owner: "Alice", currency: "EUR", initialBalance: "100.00" });
  await see(open.locator("[role=status]"), "Opened alice");
  const balance = page.locator("tr[data-account=alice] .balance");
  await see(balance, "100.00 EUR");

  const deposit = page.locator("form[data-form=deposit]");
  await submit(deposit, { accountId: "alice", amount: "50.00", description: "salary" });
  await see(deposit.locator("[role=status]"), "Deposited 50.00 into alice");
  await see(balance, "150.00 EUR");

  const feed = page.locator("[data-testid=feed] li");
  await see(feed.filter({ hasText: "account-alice" }), "MoneyDeposited");
  await see(feed.filter({ hasText: "account-alice" }), "AccountOpened");
  browser.assertClean();
});

test("a withdrawal the server refuses says why in plain words", async () => {
  const { page } = browser;
  const withdraw = page.locator("form[data-form=withdraw]");
  await submit(withdraw, { accountId: "alice", amount: "1000.00" });
  await see(withdraw.locator("[role=status]"), "not enough money in alice's account");
  await see(withdraw.locator("[role=status]"), "INSUFFICIENT_FUNDS");
  await see(page.locator("tr[data-account=alice] .balance"), "150.00 EUR");
  await browser.screenshot("dashboard-accounts");
  // The refusal reached the page as a GraphQL error, not as a failed request.
  browser.assertClean();
});

test("the feed filters by type, pauses, and links each event to its stream", async () => {
  const { page } = browser;
  const feed = page.locator("[data-testid=feed] li");
  await page.selectOption("select[name=type]", "MoneyDeposited");
  await see(feed, "MoneyDeposited");
  assert.equal(await feed.filter({ hasText: "AccountOpened" }).count(), 0);
  await page.selectOption("select[name=type]", "");

  await page.getByRole("button", { name: "Pause" }).click();
  const deposit = page.locator("form[data-form=deposit]");
  await submit(deposit, { accountId: "alice", amount: "5.00", description: "while paused" });
  await see(page.getByRole("button", { name: /Resume/ }), "1 new");
  await page.getByRole("button", { name: /Resume/ }).click();
  await see(feed, "while paused");

  await feed.filter({ hasText: "AccountOpened" }).locator("a", { hasText: "account-alice" }).click();
  const events = page.locator("[data-testid=stream-events] li");
  await see(events, "AccountOpened");
  await page.selectOption("select[name=direction]", "BACKWARD");
  await see(events.first(), "v3");
  await see(events.first(), "while paused");
  await see(events.first(), "correlationId");
  browser.assertClean();
});

test("rebuilding a projection shows REBUILDING, then RUNNING", async () => {
  const { page } = browser;
  await page.goto(`${BASE}/dashboard#/`);
  const row = page.locator("tr[data-projection=AccountBalances]");
  await see(row.locator("[data-testid=status]"), "RUNNING");
  await row.getByRole("button", { name: "Rebuild" }).click();
  await see(row.locator("[data-testid=trail]"), "REBUILDING");
  await see(row.locator("[data-testid=trail]"), "RUNNING");
  await see(row.locator("[data-testid=status]"), "RUNNING");
  const trail = await row.locator("[data-testid=trail]").innerText();
  assert.ok(trail.indexOf("REBUILDING") < trail.lastIndexOf("RUNNING"), trail);
  browser.assertClean();
});

test("the time slider shows the account as it was at an older version", async () => {
  const { page } = browser;
  await page.goto(`${BASE}/dashboard#/accounts/alice`);
  await see(page.locator("[data-testid=balance]"), "155.00 EUR");
  const at = page.locator("[data-testid=balance-at]");
  await see(at, "At version 3");
  await page.locator('input[type=range][name=version]').focus();
  await page.keyboard.press("Home");
  await see(at, "At version 1");
  await see(at, "100.00 EUR");
  await page.keyboard.press("ArrowRight");
  await see(at, "150.00 EUR");
  await browser.screenshot("dashboard-account");
  browser.assertClean();
});

test("the overview after some activity", async () => {
  const { page } = browser;
  await page.goto(`${BASE}/dashboard#/`);
  await see(page.locator(".card"), "Events");
  await see(page.locator("section[aria-label='Events by type'] tr"), "MoneyDeposited");
  await see(page.locator("section[aria-label='Events by category'] tr"), "account");
  await browser.screenshot("dashboard");
  browser.assertClean();
});

test("the accounts table pages and searches, and a transfer moves money between two", async () => {
  const { page } = browser;
  const ids = Array.from({ length: 11 }, (_, i) => `p${String(i + 1).padStart(2, "0")}`);
  for (const id of ids) {
    await gql(`mutation($in: OpenAccountInput!) { openAccount(input: $in) { position } }`, {
      in: { accountId: id, owner: `Owner ${id}`, currency: "EUR", initialBalance: "10.00" },
    });
  }
  await page.goto(`${BASE}/dashboard#/accounts`);
  const rows = page.locator("[data-testid=accounts] tbody tr");
  await see(rows, "alice");
  assert.equal(await rows.count(), 10, "a page holds ten accounts");
  await page.getByRole("button", { name: "Next" }).click();
  await see(rows, "p10");
  await see(page.locator(".pager"), "page 2");
  await page.getByRole("button", { name: "Previous" }).click();
  await see(rows, "alice");

  await page.fill("input[name=search]", "Owner p07");
  await page.getByRole("button", { name: "Search" }).click();
  await see(rows, "p07");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=accounts] tbody tr").length === 1);
  await page.fill("input[name=search]", "p03");
  await page.getByRole("button", { name: "Search" }).click();
  await see(rows, "Owner p03");
  await page.getByRole("button", { name: "Clear" }).click();

  const transfer = page.locator("form[data-form=transfer]");
  await submit(transfer, { fromAccountId: "p01", toAccountId: "p02", amount: "2.50" });
  await see(transfer.locator("[role=status]"), "Moved 2.50 from p01 to p02");
  await see(page.locator("tr[data-account=p01] .balance"), "7.50 EUR");
  await see(page.locator("tr[data-account=p02] .balance"), "12.50 EUR");
  await submit(transfer, { fromAccountId: "p01", toAccountId: "nobody", amount: "1.00" });
  await see(transfer.locator("[role=status]"), "NOT_FOUND");
  browser.assertClean();
});
