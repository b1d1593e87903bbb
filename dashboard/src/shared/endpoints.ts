// Where the pages talk to: the server that served them, never another
// host. The WebSocket path is the router's (src/http/mod.rs).

export const HTTP_URL = "/graphql";

export function wsUrl(): string {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/graphql/ws`;
}
