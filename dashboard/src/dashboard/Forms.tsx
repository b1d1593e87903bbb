// The command forms: open an account, deposit, withdraw, transfer. Each
// sends one mutation and says what happened in plain words, the server's
// refusal included (through the one table in shared/errors.ts). A
// success hands the command's position on, so the views that show it
// can read their own write.
import { type FormEvent, type ReactNode, useState } from "react";

import { gql } from "../shared/client";
import { type ErrorContext, errorCode, explain } from "../shared/errors";

type Result = { kind: "ok" | "error"; text: string; code?: string } | null;
type CommandResult = { position: number; version: number; streamId: string };

const RESULT = "{ position version streamId }";

function useCommand(onDone: (position: number) => void) {
  const [result, setResult] = useState<Result>(null);
  const [busy, setBusy] = useState(false);
  const run = async (
    mutation: string,
    input: Record<string, unknown>,
    context: ErrorContext,
    said: (r: CommandResult) => string,
  ) => {
    setBusy(true);
    setResult(null);
    try {
      const data = await gql<Record<string, CommandResult>>(mutation, { input });
      const r = Object.values(data)[0];
      setResult({ kind: "ok", text: said(r) });
      onDone(r.position);
    } catch (err) {
      setResult({ kind: "error", text: explain(err, context), code: errorCode(err) });
    } finally {
      setBusy(false);
    }
  };
  return { result, busy, run };
}

function Form(props: {
  title: string;
  name: string;
  busy: boolean;
  result: Result;
  onSubmit: () => void;
  children: ReactNode;
}) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    props.onSubmit();
  };
  return (
    <form className="command" onSubmit={submit} aria-label={props.title} data-form={props.name}>
      <h3>{props.title}</h3>
      <div className="fields">{props.children}</div>
      <button type="submit" disabled={props.busy}>
        {props.title}
      </button>
      {props.result && (
        <p className={props.result.kind === "ok" ? "ok" : "error"} role="status">
          {props.result.text}
          {props.result.code && <span className="code"> ({props.result.code})</span>}
        </p>
      )}
    </form>
  );
}

function Field(props: {
  label: string;
  name: string;
  value: string;
  set: (v: string) => void;
  placeholder?: string;
  required?: boolean;
}) {
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        value={props.value}
        placeholder={props.placeholder}
        required={props.required}
        onChange={(e) => props.set(e.target.value)}
      />
    </label>
  );
}

/** Amounts go to the server as typed: it parses decimals exactly. */
const trimmed = (s: string) => s.trim() || undefined;

export function OpenAccountForm({ onDone }: { onDone: (position: number) => void }) {
  const [id, setId] = useState("");
  const [owner, setOwner] = useState("");
  const [currency, setCurrency] = useState("EUR");
  const [initial, setInitial] = useState("");
  const { result, busy, run } = useCommand(onDone);
  const submit = () =>
    run(
      `mutation Open($input: OpenAccountInput!) { openAccount(input: $input) ${RESULT} }`,
      {
        accountId: trimmed(id),
        owner: owner.trim(),
        currency: trimmed(currency),
        initialBalance: trimmed(initial),
      },
      { accountId: trimmed(id) },
      (r) => `Opened ${r.streamId.replace(/^account-/, "")}.`,
    );
  return (
    <Form title="Open account" name="open" busy={busy} result={result} onSubmit={submit}>
      <Field label="Account id" name="accountId" value={id} set={setId} placeholder="generated when empty" />
      <Field label="Owner" name="owner" value={owner} set={setOwner} required />
      <Field label="Currency" name="currency" value={currency} set={setCurrency} />
      <Field label="Initial balance" name="initialBalance" value={initial} set={setInitial} placeholder="0.00" />
    </Form>
  );
}

export function MoveMoneyForm(props: {
  kind: "deposit" | "withdraw";
  onDone: (position: number) => void;
  accountId?: string;
}) {
  const [id, setId] = useState(props.accountId ?? "");
  const [amount, setAmount] = useState("");
  const [description, setDescription] = useState("");
  const { result, busy, run } = useCommand(props.onDone);
  const account = props.accountId ?? id.trim();
  const deposit = props.kind === "deposit";
  const submit = () =>
    run(
      deposit
        ? `mutation Deposit($input: DepositInput!) { deposit(input: $input) ${RESULT} }`
        : `mutation Withdraw($input: WithdrawInput!) { withdraw(input: $input) ${RESULT} }`,
      { accountId: account, amount: amount.trim(), description: trimmed(description) },
      { accountId: account },
      (r) =>
        `${deposit ? "Deposited" : "Withdrew"} ${amount.trim()} ${deposit ? "into" : "from"} ${account} (version ${r.version}).`,
    );
  return (
    <Form
      title={deposit ? "Deposit" : "Withdraw"}
      name={props.kind}
      busy={busy}
      result={result}
      onSubmit={submit}
    >
      {props.accountId === undefined && (
        <Field label="Account id" name="accountId" value={id} set={setId} required />
      )}
      <Field label="Amount" name="amount" value={amount} set={setAmount} placeholder="10.00" required />
      <Field label="Description" name="description" value={description} set={setDescription} />
    </Form>
  );
}

export function TransferForm({ onDone, from: fixed }: { onDone: (position: number) => void; from?: string }) {
  const [from, setFrom] = useState(fixed ?? "");
  const [to, setTo] = useState("");
  const [amount, setAmount] = useState("");
  const { result, busy, run } = useCommand(onDone);
  const source = fixed ?? from.trim();
  const submit = () =>
    run(
      `mutation Transfer($input: TransferInput!) { transfer(input: $input) ${RESULT} }`,
      { fromAccountId: source, toAccountId: to.trim(), amount: amount.trim() },
      { accountId: source, toAccountId: to.trim() },
      () => `Moved ${amount.trim()} from ${source} to ${to.trim()}.`,
    );
  return (
    <Form title="Transfer" name="transfer" busy={busy} result={result} onSubmit={submit}>
      {fixed === undefined && <Field label="From" name="fromAccountId" value={from} set={setFrom} required />}
      <Field label="To" name="toAccountId" value={to} set={setTo} required />
      <Field label="Amount" name="amount" value={amount} set={setAmount} placeholder="10.00" required />
    </Form>
  );
}
