// Small display helpers shared by the panels.

export function time(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString();
}

/** The time alone for today, else the date too. */
export function dateTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toDateString() === new Date().toDateString()
    ? date.toLocaleTimeString()
    : date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** A JSON value on one line, cut to `max` characters. */
export function brief(value: unknown, max = 90): string {
  const text = JSON.stringify(value) ?? "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

export function streamHref(streamId: string): string {
  return `#/streams/${encodeURIComponent(streamId)}`;
}

export function accountHref(accountId: string): string {
  return `#/accounts/${encodeURIComponent(accountId)}`;
}
