// The accounts table (AccountBalances, by id) with a search and pages,
// beside the command forms. A command's position is passed back as
// minPosition, so the table shows the write that was just made.
import { type FormEvent, useState } from "react";

import { explain } from "../shared/errors";
import { accountHref, count, dateTime } from "./format";
import { MoveMoneyForm, OpenAccountForm, TransferForm } from "./Forms";
import { useQuery } from "./hooks";

export type AccountRow = {
  id: string;
  owner: string;
  balance: string;
  currency: string;
  status: string;
  version: number;
  transactionCount: number;
  updatedAt: string;
};

const ROW = "id owner balance currency status version transactionCount updatedAt";
const PAGE = 10;

const ACCOUNTS = `query Accounts($first: Int!, $after: String, $filter: AccountFilter, $id: ID!, $byId: Boolean!, $minPosition: Long) {
  accounts(first: $first, after: $after, filter: $filter, minPosition: $minPosition) {
    nodes { ${ROW} }
    pageInfo { hasNextPage endCursor }
  }
  match: account(id: $id, minPosition: $minPosition) @include(if: $byId) { ${ROW} }
}`;

type Page = {
  accounts: { nodes: AccountRow[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
  match?: AccountRow | null;
};

export function Accounts() {
  const [search, setSearch] = useState("");
  const [typed, setTyped] = useState("");
  // The cursors of the pages before this one: "Previous" pops one.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const page = useQuery<Page>(
    ACCOUNTS,
    {
      first: PAGE,
      after,
      filter: search ? { owner: search } : null,
      id: search || "-",
      byId: search !== "",
    },
    `${search}|${after}`,
  );
  const changed = (position: number) => page.reload(position);
  const find = (e: FormEvent) => {
    e.preventDefault();
    setSearch(typed.trim());
    setCursors([null]);
  };

  const rows = page.data?.accounts.nodes ?? [];
  const match = page.data?.match;
  const all = match && !rows.some((r) => r.id === match.id) ? [match, ...rows] : rows;
  return (
    <div className="accounts-page">
      <section className="panel" aria-label="Accounts">
        <header className="panel-head">
          <h2>Accounts</h2>
          <form onSubmit={find} className="search" role="search">
            <input
              name="search"
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
              placeholder="account id or owner"
              aria-label="Search accounts"
            />
            <button type="submit">Search</button>
            {search && (
              <button
                type="button"
                onClick={() => {
                  setTyped("");
                  setSearch("");
                  setCursors([null]);
                }}
              >
                Clear
              </button>
            )}
          </form>
        </header>
        {page.error !== undefined && <p className="error">{explain(page.error)}</p>}
        <table className="grid" data-testid="accounts">
          <thead>
            <tr>
              <th>Account</th>
              <th>Owner</th>
              <th className="num">Balance</th>
              <th>Status</th>
              <th className="num">Version</th>
              <th className="num">Movements</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {all.map((a) => (
              <tr key={a.id} data-account={a.id}>
                <td>
                  <a href={accountHref(a.id)}>{a.id}</a>
                </td>
                <td>{a.owner}</td>
                <td className="num balance">
                  {a.balance} {a.currency}
                </td>
                <td>{a.status}</td>
                <td className="num">{count(a.version)}</td>
                <td className="num">{count(a.transactionCount)}</td>
                <td className="muted">{dateTime(a.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {all.length === 0 && !page.loading && (
          <p className="muted">{search ? `No account with id or owner “${search}”.` : "No accounts yet."}</p>
        )}
        <div className="pager">
          <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous
          </button>
          <span className="muted">page {cursors.length}</span>
          <button
            type="button"
            disabled={!page.data?.accounts.pageInfo.hasNextPage}
            onClick={() => setCursors([...cursors, page.data?.accounts.pageInfo.endCursor ?? null])}
          >
            Next
          </button>
        </div>
      </section>
      <section className="forms forms-grid" aria-label="Commands">
        <OpenAccountForm onDone={changed} />
        <MoveMoneyForm kind="deposit" onDone={changed} />
        <MoveMoneyForm kind="withdraw" onDone={changed} />
        <TransferForm onDone={changed} />
      </section>
    </div>
  );
}
