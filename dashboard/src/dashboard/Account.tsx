// One account: its balance and history (read models), forms for it, and
// a time slider that rebuilds the account from its events as it was at
// any version (`accountAt`). New events on its stream reload the page's
// data, waiting for the read models to reflect them.
import { useEffect, useState } from "react";

import { explain } from "../shared/errors";
import { count, dateTime, streamHref } from "./format";
import { MoveMoneyForm, TransferForm } from "./Forms";
import { useQuery, useSubscription } from "./hooks";

type Movement = {
  id: string;
  kind: string;
  amount: string;
  balanceAfter: string;
  counterpartyAccountId: string | null;
  description: string | null;
  occurredAt: string;
  position: number;
};

type AccountPage = {
  account: {
    id: string;
    owner: string;
    balance: string;
    currency: string;
    status: string;
    version: number;
    transactionCount: number;
    openedAt: string;
    transactions: { nodes: Movement[] };
  } | null;
};

const ACCOUNT = `query Account($id: ID!, $minPosition: Long) {
  account(id: $id, minPosition: $minPosition) {
    id owner balance currency status version transactionCount openedAt
    transactions(first: 50) { nodes { id kind amount balanceAfter counterpartyAccountId description occurredAt position } }
  }
}`;

type Past = {
  accountAt: { version: number; balance: string; currency: string; status: string; asOf: string; owner: string } | null;
};

const AT = `query At($id: ID!, $version: Long!) {
  accountAt(id: $id, version: $version) { version balance currency status asOf owner }
}`;

export function Account({ id }: { id: string }) {
  const page = useQuery<AccountPage>(ACCOUNT, { id }, id);
  useSubscription<{ eventAppended: { position: number } }>(
    `subscription Mine($filter: EventFilter) { eventAppended(filter: $filter) { position } }`,
    { filter: { streamId: `account-${id}` } },
    (data) => page.reload(data.eventAppended.position),
    id,
  );
  const account = page.data?.account;

  return (
    <>
      <p>
        <a href="#/accounts">← Accounts</a>
      </p>
      {page.error !== undefined && <p className="error">{explain(page.error, { accountId: id })}</p>}
      {page.data && !account && <p className="muted">There is no account {id} (yet).</p>}
      {account && (
        <>
          <section className="panel account-head" aria-label="Account">
            <div>
              <h2>
                {account.id} <span className="muted">· {account.owner}</span>
              </h2>
              <p className="muted">
                {account.status} · opened {dateTime(account.openedAt)} · version {account.version} ·{" "}
                <a href={streamHref(`account-${account.id}`)}>events</a>
              </p>
            </div>
            <div className="big" data-testid="balance">
              {account.balance} {account.currency}
            </div>
          </section>
          <TimeSlider id={account.id} version={account.version} />
          <section className="forms forms-row" aria-label="Commands">
            <MoveMoneyForm kind="deposit" accountId={account.id} onDone={page.reload} />
            <MoveMoneyForm kind="withdraw" accountId={account.id} onDone={page.reload} />
            <TransferForm from={account.id} onDone={page.reload} />
          </section>
          <History movements={account.transactions.nodes} />
        </>
      )}
    </>
  );
}

function TimeSlider({ id, version }: { id: string; version: number }) {
  const [at, setAt] = useState(version);
  const [following, setFollowing] = useState(true);
  // At the newest version, the slider follows new events.
  useEffect(() => {
    if (following) setAt(version);
  }, [version, following]);
  const past = useQuery<Past>(AT, { id, version: at }, `${id}@${at}`);
  const move = (v: number) => {
    const bounded = Math.min(version, Math.max(1, v));
    setAt(bounded);
    setFollowing(bounded === version);
  };
  const state = past.data?.accountAt;
  return (
    <section className="panel" aria-label="Time travel">
      <header className="panel-head">
        <h2>As it was</h2>
        <span className="muted">rebuilt from the events up to the chosen version</span>
      </header>
      <div className="slider">
        <button type="button" onClick={() => move(at - 1)} disabled={at <= 1} aria-label="One version back">
          ◀
        </button>
        <input
          type="range"
          min={1}
          max={Math.max(1, version)}
          value={at}
          onChange={(e) => move(Number(e.target.value))}
          aria-label="Version"
          name="version"
        />
        <button type="button" onClick={() => move(at + 1)} disabled={at >= version} aria-label="One version on">
          ▶
        </button>
        <span className="muted">
          version {at} of {version}
        </span>
      </div>
      {past.error !== undefined && <p className="error">{explain(past.error, { accountId: id })}</p>}
      {state && (
        <p data-testid="balance-at">
          At version {state.version} ({dateTime(state.asOf)}): balance{" "}
          <strong>
            {state.balance} {state.currency}
          </strong>
          , {state.status}
        </p>
      )}
    </section>
  );
}

function History({ movements }: { movements: Movement[] }) {
  return (
    <section className="panel" aria-label="Transactions">
      <header className="panel-head">
        <h2>Transactions</h2>
        <span className="muted">newest first</span>
      </header>
      {movements.length === 0 ? (
        <p className="muted">No movements yet.</p>
      ) : (
        <table className="grid">
          <thead>
            <tr>
              <th>When</th>
              <th>Kind</th>
              <th className="num">Amount</th>
              <th className="num">Balance after</th>
              <th>Note</th>
            </tr>
          </thead>
          <tbody>
            {movements.map((m) => (
              <tr key={m.id}>
                <td className="muted nowrap">{dateTime(m.occurredAt)}</td>
                <td className="nowrap">{m.kind.replace("_", " ").toLowerCase()}</td>
                <td className="num">{m.amount}</td>
                <td className="num">{m.balanceAfter}</td>
                <td>
                  {m.counterpartyAccountId && (
                    <a href={`#/accounts/${encodeURIComponent(m.counterpartyAccountId)}`}>{m.counterpartyAccountId}</a>
                  )}{" "}
                  {m.description ?? ""} <span className="muted">#{count(m.position)}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
