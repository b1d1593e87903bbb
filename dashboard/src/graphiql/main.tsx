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
import { type Client, createClient } from "graphql-ws";
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
    return http({ ...params, operationName: operation?.name?.value ?? params.operationName }, opts);
  }
  const client = socketFor(opts?.headers ?? {});
  // graphql-ws yields the formatted results GraphiQL shows; only the
  // declared error types differ.
  return client.iterate({
    query: params.query,
    operationName: operation.name?.value,
    variables: params.variables ?? undefined,
  }) as ReturnType<Fetcher>;
};

const root = document.getElementById("graphiql");
if (root) {
  root.textContent = "";
  createRoot(root).render(
    <StrictMode>
      <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} />
    </StrictMode>,
  );
}
