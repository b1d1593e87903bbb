// GraphiQL on the server's own endpoint: queries and mutations over HTTP,
// subscriptions over graphql-ws. Headers typed in the headers editor go
// with every HTTP request and, for subscriptions, in `connection_init`
// (the server reads credentials from there), so one editor authenticates
// both.
import { createGraphiQLFetcher, type Fetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import "./page.css";
import { getOperationAST, type OperationDefinitionNode, parse } from "graphql";
import { type Client, createClient, type SubscribePayload } from "graphql-ws";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { HTTP_URL, wsUrl } from "../shared/endpoints";

// Shows something on an empty store, and what there is on a busy one.
const DEFAULT_QUERY = `# Chronicle's GraphQL API. Run with Ctrl-Enter; the docs are on the left.
# The dashboard is at /dashboard.
#
# Subscriptions work here too, for example:
#   subscription { eventAppended(filter: { category: "account" }) { position streamId type data } }

query Overview {
  stats {
    totalEvents
    totalStreams
    headPosition
    eventsByType { type count }
  }
  projections { name status position lag eventsProcessed }
  accounts(first: 5) {
    edges { node { id owner balance currency status } }
  }
  viewer { role subject }
}
`;

const http = createGraphiQLFetcher({ url: HTTP_URL, enableIncrementalDelivery: false });

// One socket per set of headers: a new set (a token pasted into the
// editor) opens a new socket whose `connection_init` carries it.
let socket: { key: string; client: Client } | undefined;

function socketFor(headers: Record<string, unknown>): Client {
  const key = JSON.stringify(headers);
  if (socket?.key !== key) {
    socket?.client.dispose();
    socket = {
      key,
      client: createClient({ url: wsUrl(), connectionParams: { headers }, lazy: true }),
    };
  }
  return socket.client;
}

/** The operation GraphiQL is about to run. It may pass the name of an
 * operation the edited text no longer has; then the text's only one. */
function operationOf(query: string, operationName?: string | null): OperationDefinitionNode | null {
  try {
    const document = parse(query);
    return (
      getOperationAST(document, operationName ?? undefined) ??
      getOperationAST(document, undefined) ??
      null
    );
  } catch {
    return null; // the server says what is wrong with it
  }
}

const fetcher: Fetcher = (params, opts) => {
  const operation = operationOf(params.query, params.operationName);
  if (operation?.operation !== "subscription") {
    const operationName = operation ? (operation.name?.value ?? null) : params.operationName;
    return http({ ...params, operationName }, opts);
  }
  return overSocket(socketFor(opts?.headers ?? {}), {
    query: params.query,
    operationName: operation.name?.value,
    variables: params.variables ?? undefined,
  }) as ReturnType<Fetcher>;
};

/** The subscription's results; a socket the server closed (credentials
 * refused, say) ends it with an error that says so, where GraphiQL would
 * show an empty event object. */
async function* overSocket(client: Client, payload: SubscribePayload) {
  try {
    yield* client.iterate(payload);
  } catch (err) {
    if (Array.isArray(err)) {
      yield { errors: err };
    } else if (err instanceof CloseEvent) {
      const why = err.reason || (err.code === 4401 ? "no credentials: add them in the headers editor" : "");
      yield { errors: [{ message: `the server closed the WebSocket (${err.code}${why ? `: ${why}` : ""})` }] };
    } else {
      yield { errors: [{ message: `the WebSocket failed: ${String(err)}` }] };
    }
  }
}

const root = document.getElementById("graphiql");
if (root) {
  root.textContent = "";
  createRoot(root).render(
    <StrictMode>
      <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} />
    </StrictMode>,
  );
}
