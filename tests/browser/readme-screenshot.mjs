// Makes docs/dashboard.png, the README's picture of the dashboard: some
// minutes' worth of activity squeezed into one, then the overview at
// 1280x800. Not a test; run it by hand against a fresh server:
//   CHRONICLE_URL=http://127.0.0.1:8080 node tests/browser/readme-screenshot.mjs
import { execFileSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { BASE, gql, open } from "./harness.mjs";

const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "dashboard.png");
const SECONDS = Number(process.env.SECONDS_OF_ACTIVITY ?? 60);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = (list) => list[Math.floor(Math.random() * list.length)];

const people = ["alice", "bob", "carol", "dave", "erin", "frank"];
for (const id of people) {
  await gql(`mutation($in: OpenAccountInput!) { openAccount(input: $in) { position } }`, {
    in: { accountId: id, owner: id[0].toUpperCase() + id.slice(1), currency: "EUR", initialBalance: "500.00" },
  });
}

const browser = await open();
await browser.page.goto(`${BASE}/dashboard#/`);

const until = Date.now() + SECONDS * 1000;
let order = 0;
while (Date.now() < until) {
  const burst = 1 + Math.floor(Math.random() * 6);
  for (let i = 0; i < burst; i++) {
    const amount = `${1 + Math.floor(Math.random() * 40)}.${String(Math.floor(Math.random() * 100)).padStart(2, "0")}`;
    const kind = Math.random();
    try {
      if (kind < 0.4) {
        await gql(`mutation($in: DepositInput!) { deposit(input: $in) { position } }`, {
          in: { accountId: pick(people), amount, description: "top-up" },
        });
      } else if (kind < 0.65) {
        await gql(`mutation($in: WithdrawInput!) { withdraw(input: $in) { position } }`, {
          in: { accountId: pick(people), amount },
        });
      } else if (kind < 0.9) {
        const from = pick(people);
        const to = pick(people.filter((p) => p !== from));
        await gql(`mutation($in: TransferInput!) { transfer(input: $in) { position } }`, {
          in: { fromAccountId: from, toAccountId: to, amount },
        });
      } else {
        order += 1;
        await gql(`mutation($in: AppendEventsInput!) { appendEvents(input: $in) { position } }`, {
          in: {
            streamId: `order-${order}`,
            events: [
              { type: "OrderPlaced", data: { total: amount } },
              { type: "OrderPaid", data: {} },
            ],
          },
        });
      }
    } catch {
      // an overdrawn account: part of the picture
    }
  }
  await sleep(300 + Math.random() * 1200);
}

await browser.page.waitForTimeout(2500);
await browser.screenshot("readme");
// Fewer colours (pngquant, when installed): a third of the size, and it
// looks the same.
const source = join(dirname(fileURLToPath(import.meta.url)), "screenshots", "readme.png");
try {
  execFileSync("pngquant", ["--quality", "70-90", "--strip", "--force", "--output", OUT, source]);
} catch {
  copyFileSync(source, OUT);
}
browser.assertClean();
await browser.close();
console.log(`wrote ${OUT}`);
