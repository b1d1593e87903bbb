// The caller's credentials: the admin secret or a bearer token, kept in
// the tab's session storage (gone when the tab closes, never sent to any
// other page) and sent on every HTTP request and in the WebSocket's
// `connection_init`, as the server reads them (README "Auth").

export type Credentials = { kind: "secret" | "token"; value: string };

const KEY = "chronicle.credentials";

export function loadCredentials(): Credentials | null {
  try {
    const stored = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
    if (stored && (stored.kind === "secret" || stored.kind === "token") && stored.value) {
      return { kind: stored.kind, value: String(stored.value) };
    }
  } catch {
    // unreadable: as if none were stored
  }
  return null;
}

export function saveCredentials(credentials: Credentials | null): void {
  if (credentials && credentials.value.trim()) {
    sessionStorage.setItem(KEY, JSON.stringify({ ...credentials, value: credentials.value.trim() }));
  } else {
    sessionStorage.removeItem(KEY);
  }
}

/** The headers that carry the stored credentials, if any. */
export function authHeaders(): Record<string, string> {
  const credentials = loadCredentials();
  if (!credentials) return {};
  return credentials.kind === "secret"
    ? { "X-Chronicle-Admin-Secret": credentials.value }
    : { Authorization: `Bearer ${credentials.value}` };
}
