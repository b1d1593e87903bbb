//! Bounded work per request, checked before anything runs.
//!
//! One async-graphql extension (`Guard`) sees every request, over HTTP and
//! WebSocket alike, before it is parsed: it refuses a document too large
//! or nested too deep as text (`scan.rs`, so the recursive parser never
//! sees it), variables too large, then parses the document itself (once
//! per distinct text: `documents.rs`) and
//! refuses one whose fragments expand to too many selections or aliases
//! (`document.rs`) or whose arguments break the list, string or NUL rules
//! (`arguments.rs`). Only then does the request go on, with the parsed
//! document attached so that it is not parsed twice, to async-graphql's
//! own validation, which also bounds depth, complexity and directives
//! (configured in `graphql::build_schema`).
//!
//! Every refusal is `BAD_USER_INPUT` with `extensions.limit` naming the
//! bound and `extensions.max` its value, and costs time linear in the
//! request's size.

mod arguments;
mod document;
mod documents;
mod scan;

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{Pos, Request, ServerError, ServerResult, Value as ConstValue};

use crate::config::RequestLimits;

pub use arguments::Bounds;

/// A request refused for breaking one bound.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// The bound's name as clients see it (`extensions.limit`).
    pub limit: &'static str,
    pub max: usize,
    pub message: String,
    pub pos: Option<Pos>,
}

impl Refusal {
    pub fn new(limit: &'static str, max: usize, message: String, pos: Option<Pos>) -> Self {
        Self {
            limit,
            max,
            message,
            pos,
        }
    }

    pub fn into_server_error(self) -> ServerError {
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", crate::ErrorCode::BadUserInput.as_str());
        extensions.set("limit", self.limit);
        extensions.set("max", self.max as u64);
        let mut err = ServerError::new(self.message, self.pos);
        err.extensions = Some(extensions);
        err
    }
}

/// The extension that enforces [`RequestLimits`] on every request.
pub struct Guard {
    limits: Arc<RequestLimits>,
    documents: Arc<documents::Documents>,
}

impl Guard {
    pub fn new(limits: RequestLimits) -> Self {
        Self {
            limits: Arc::new(limits),
            documents: Arc::new(documents::Documents::new()),
        }
    }
}

impl ExtensionFactory for Guard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension {
            limits: self.limits.clone(),
            documents: self.documents.clone(),
        })
    }
}

struct GuardExtension {
    limits: Arc<RequestLimits>,
    documents: Arc<documents::Documents>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for GuardExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = self
            .admit(&ctx.schema_env.registry, request)
            .map_err(Refusal::into_server_error)?;
        next.run(ctx, request).await
    }
}

impl GuardExtension {
    fn admit(
        &self,
        registry: &async_graphql::registry::Registry,
        mut request: Request,
    ) -> Result<Request, Refusal> {
        let limits = &self.limits;
        check_text(&request.query, limits)?;
        check_variables(&request.variables, limits)?;
        // A syntax error is left for async-graphql to report as usual.
        let Some(parsed) = self.documents.parse(&request.query) else {
            return Ok(request);
        };
        let shape = parsed.shape;
        if shape.selections > limits.max_selections {
            return Err(Refusal::new(
                "maxSelections",
                limits.max_selections,
                format!(
                    "the document selects {} fields once its fragments are expanded; the limit is {}",
                    shape.selections, limits.max_selections
                ),
                None,
            ));
        }
        if shape.aliases > limits.max_aliases {
            return Err(Refusal::new(
                "maxAliases",
                limits.max_aliases,
                format!(
                    "the document has {} aliased fields once its fragments are expanded; the limit is {}",
                    shape.aliases, limits.max_aliases
                ),
                None,
            ));
        }
        let bounds = Bounds {
            max_list_length: limits.max_list_length,
            max_string_bytes: limits.max_string_bytes,
        };
        arguments::check(registry, &parsed.document, &request.variables, bounds)?;
        request.set_parsed_query(parsed.document.clone());
        Ok(request)
    }
}

/// The checks on the query text, before it is parsed.
pub fn check_text(query: &str, limits: &RequestLimits) -> Result<(), Refusal> {
    if query.len() > limits.max_document_bytes {
        return Err(Refusal::new(
            "maxDocumentBytes",
            limits.max_document_bytes,
            format!(
                "the document is {} bytes long; the limit is {}",
                query.len(),
                limits.max_document_bytes
            ),
            None,
        ));
    }
    let nesting = scan::nesting(query, limits.max_nesting);
    if nesting > limits.max_nesting {
        return Err(Refusal::new(
            "maxNesting",
            limits.max_nesting,
            format!(
                "the document nests brackets more than {} deep",
                limits.max_nesting
            ),
            None,
        ));
    }
    Ok(())
}

fn check_variables(
    variables: &async_graphql::Variables,
    limits: &RequestLimits,
) -> Result<(), Refusal> {
    let mut size = 0usize;
    for (name, value) in variables.iter() {
        size = size.saturating_add(name.len() + 4);
        size = size.saturating_add(json_size(value, limits.max_variables_bytes));
        if size > limits.max_variables_bytes {
            return Err(Refusal::new(
                "maxVariablesBytes",
                limits.max_variables_bytes,
                format!(
                    "the variables are larger than {} bytes",
                    limits.max_variables_bytes
                ),
                None,
            ));
        }
    }
    Ok(())
}

/// About how many bytes `value` takes as JSON, counting no further than
/// `cap` (the caller only needs to know whether it is over).
fn json_size(value: &ConstValue, cap: usize) -> usize {
    let mut size = 0usize;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        size = size.saturating_add(match value {
            ConstValue::Null | ConstValue::Boolean(_) => 5,
            ConstValue::Number(_) => 8,
            ConstValue::String(s) => s.len() + 2,
            ConstValue::Binary(b) => b.len() * 2 + 2,
            ConstValue::Enum(e) => e.len() + 2,
            ConstValue::List(items) => {
                stack.extend(items);
                items.len() + 2
            }
            ConstValue::Object(fields) => {
                for (key, v) in fields {
                    size = size.saturating_add(key.len() + 4);
                    stack.push(v);
                }
                2
            }
        });
        if size > cap {
            break;
        }
    }
    size
}

#[cfg(test)]
mod tests;
