// The dashboard's frame: the header (pages, connection, who the server
// thinks you are, credentials), the page the hash names, and the live
// feed beside every page so a command's events show wherever it is sent.
import { type FormEvent, useEffect, useState } from "react";

import { onSocketState, type SocketState } from "../shared/client";
import { type Credentials, loadCredentials, saveCredentials } from "../shared/credentials";
import { explain } from "../shared/errors";
import { Account } from "./Account";
import { Accounts } from "./Accounts";
import { Feed } from "./Feed";
import { useQuery, useRoute } from "./hooks";
import { Overview } from "./Overview";
import { Streams } from "./Streams";

export function App() {
  const route = useRoute();
  const [page, id] = route;
  const nav = [
    { href: "#/", label: "Overview", active: !page },
    { href: "#/accounts", label: "Accounts", active: page === "accounts" },
    { href: "#/streams", label: "Streams", active: page === "streams" },
  ];
  return (
    <>
      <header className="top">
        <h1>Chronicle</h1>
        <nav>
          {nav.map((n) => (
            <a key={n.href} href={n.href} className={n.active ? "active" : ""}>
              {n.label}
            </a>
          ))}
          <a href="/">GraphiQL</a>
        </nav>
        <div className="spacer" />
        <Connection />
        <Viewer />
        <CredentialsField />
      </header>
      <div className="layout">
        <main>
          {page === "accounts" && id !== undefined ? (
            <Account key={id} id={id} />
          ) : page === "accounts" ? (
            <Accounts />
          ) : page === "streams" ? (
            <Streams id={id} />
          ) : (
            <Overview />
          )}
        </main>
        <aside>
          <Feed />
        </aside>
      </div>
    </>
  );
}

function Connection() {
  const [state, setState] = useState<SocketState>("connecting");
  useEffect(() => onSocketState(setState), []);
  const words = { connecting: "connecting…", connected: "live", closed: "reconnecting…" }[state];
  return (
    <span className={`socket socket-${state}`} title="The WebSocket that carries the live views">
      ● {words}
    </span>
  );
}

/** Who the server thinks the caller is. */
function Viewer() {
  const viewer = useQuery<{ viewer: { role: string; subject: string | null } }>(
    "{ viewer { role subject } }",
    {},
    "viewer",
  );
  if (viewer.error !== undefined) {
    return (
      <span className="viewer error" data-testid="viewer">
        {explain(viewer.error)}
      </span>
    );
  }
  const v = viewer.data?.viewer;
  if (!v) return null;
  return (
    <span className="viewer" data-testid="viewer" title="The role and actor your credentials give you">
      {v.role.toLowerCase()}
      {v.subject ? ` · ${v.subject}` : ""}
    </span>
  );
}

function CredentialsField() {
  const [open, setOpen] = useState(false);
  const [stored] = useState<Credentials | null>(loadCredentials);
  const [kind, setKind] = useState<Credentials["kind"]>(stored?.kind ?? "secret");
  const [value, setValue] = useState("");
  // Every panel starts again with the new credentials: a reload is the
  // one way that misses none (the tab's session storage outlives it).
  const save = (e: FormEvent) => {
    e.preventDefault();
    saveCredentials(value.trim() ? { kind, value } : null);
    window.location.reload();
  };
  const forget = () => {
    saveCredentials(null);
    window.location.reload();
  };
  return (
    <div className="credentials">
      <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}>
        Credentials{stored ? `: ${stored.kind === "secret" ? "admin secret" : "token"}` : ""}
      </button>
      {open && (
        <form onSubmit={save} className="credentials-form">
          <p className="muted small">
            Only when the server has auth on. Kept in this tab's session storage and sent with every
            request and on the WebSocket.
          </p>
          <label>
            <select value={kind} onChange={(e) => setKind(e.target.value as Credentials["kind"])} name="kind">
              <option value="secret">Admin secret</option>
              <option value="token">Bearer token</option>
            </select>
          </label>
          <input
            type="password"
            name="credential"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder={kind === "secret" ? "X-Chronicle-Admin-Secret" : "JWT"}
            autoComplete="off"
          />
          <button type="submit">Save</button>
          {stored && (
            <button type="button" onClick={forget}>
              Forget
            </button>
          )}
        </form>
      )}
    </div>
  );
}
