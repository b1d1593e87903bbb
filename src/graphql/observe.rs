//! What operators see of each GraphQL operation, over HTTP and WebSocket:
//! a `graphql` span naming the operation and its type, so every log line
//! of its work carries them (inside the HTTP request's span, which carries
//! the request id); one log line when it ends, with its duration and its
//! error codes; and its type handed back to the transport, which labels
//! its request metrics with it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerResult};
use tracing::Instrument;

/// Where the transport learns which type of operation a request ran:
/// put in the request's data, filled in when the operation runs.
#[derive(Clone, Default)]
pub struct OperationSlot(Arc<Mutex<Option<&'static str>>>);

impl OperationSlot {
    /// `query`, `mutation` or `subscription`; `None` when no operation
    /// ran (the request was refused before).
    pub fn get(&self) -> Option<&'static str> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, kind: &'static str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(kind);
    }
}

pub struct Observe;

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Observed::default())
    }
}

#[derive(Default)]
struct Observed {
    /// The type of the operation the request names, once it is parsed.
    kind: Mutex<Option<&'static str>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for Observed {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let mut request = next.run(ctx, request).await?;
        let name = request.operation_name.clone();
        // The request limits' guard parsed the document already.
        if let Ok(doc) = request.parsed_query() {
            let kind = kind_of(doc, name.as_deref());
            *self.kind.lock().unwrap_or_else(|e| e.into_inner()) = kind;
        }
        Ok(request)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let kind = *self.kind.lock().unwrap_or_else(|e| e.into_inner());
        let kind = kind.unwrap_or("query");
        if let Some(slot) = ctx.data_opt::<OperationSlot>() {
            slot.set(kind);
        }
        let name = operation_name.unwrap_or("");
        let span = tracing::info_span!("graphql", operation_name = name, operation_type = kind);
        let started = Instant::now();
        let response = next.run(ctx, operation_name).instrument(span.clone()).await;
        let codes: Vec<String> = response
            .errors
            .iter()
            .filter_map(|e| e.extensions.as_ref()?.get("code").map(|c| c.to_string()))
            .collect();
        span.in_scope(|| {
            tracing::info!(
                duration_ms = started.elapsed().as_secs_f64() * 1000.0,
                errors = response.errors.len(),
                error_codes = %codes.join(","),
                "graphql operation"
            );
        });
        response
    }
}

/// The type of the operation `name` picks from `doc`.
fn kind_of(doc: &ExecutableDocument, name: Option<&str>) -> Option<&'static str> {
    let operation = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => None,
    }?;
    Some(match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_operation_gives_the_type() {
        let doc = async_graphql::parser::parse_query(
            "query A { stats { totalEvents } } mutation B { __typename }",
        )
        .unwrap();
        assert_eq!(kind_of(&doc, Some("B")), Some("mutation"));
        assert_eq!(kind_of(&doc, Some("A")), Some("query"));
        assert_eq!(kind_of(&doc, None), None);
        let one = async_graphql::parser::parse_query("subscription { __typename }").unwrap();
        assert_eq!(kind_of(&one, None), Some("subscription"));
    }
}
