//! The role check, in one place: an extension that sees every operation,
//! over HTTP and WebSocket, before it is validated or run, and refuses one
//! whose root fields need a role above the caller's (`auth::access` is the
//! table). The transport authenticated the caller and put its
//! [`Principal`] in the request's data (HTTP) or the connection's
//! (WebSocket); an operation that arrives without one is refused.

use std::any::TypeId;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{Data, ErrorExtensionValues, Request, ServerError, ServerResult};

use crate::auth::{Principal, access};
use crate::error_code::ErrorCode;

pub struct AccessGuard {
    introspection_for_admins_only: bool,
}

impl AccessGuard {
    pub fn new(introspection_for_admins_only: bool) -> Self {
        Self {
            introspection_for_admins_only,
        }
    }
}

impl ExtensionFactory for AccessGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Check {
            introspection_for_admins_only: self.introspection_for_admins_only,
        })
    }
}

struct Check {
    introspection_for_admins_only: bool,
}

/// The caller a request runs for.
pub fn principal<'a>(request: &'a Data, session: &'a Data) -> Option<&'a Principal> {
    [request, session]
        .into_iter()
        .find_map(|data| data.get(&TypeId::of::<Principal>()))
        .and_then(|any| any.downcast_ref::<Principal>())
}

#[async_graphql::async_trait::async_trait]
impl Extension for Check {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let Some(role) = principal(&request.data, ctx.session_data).map(|p| p.role) else {
            return Err(refusal(
                ErrorCode::Unauthenticated,
                "this request carries no caller".into(),
            ));
        };
        let operation = request.operation_name.clone();
        // A syntax error is left for the parser to report.
        if let Ok(doc) = request.parsed_query()
            && let Err(denied) = access::check(
                doc,
                operation.as_deref(),
                role,
                self.introspection_for_admins_only,
            )
        {
            let message = format!(
                "`{}` needs the {} role; this caller is {}",
                denied.field,
                denied.needs.as_str(),
                role.as_str()
            );
            return Err(refusal(ErrorCode::Forbidden, message));
        }
        next.run(ctx, request).await
    }
}

fn refusal(code: ErrorCode, message: String) -> ServerError {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    let mut err = ServerError::new(message, None);
    err.extensions = Some(extensions);
    err
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_schema;
    use async_graphql::parser::types::{OperationType, TypeKind, TypeSystemDefinition};

    use crate::auth::access;

    /// Every root field of the schema has an entry in the access table, and
    /// every entry names a field that exists: a new field cannot be
    /// forgotten, a removed one cannot linger.
    #[test]
    fn every_root_field_has_a_role_and_every_role_a_field() {
        let schema = parse_schema(crate::graphql::sdl()).expect("the SDL parses");
        for (root, operation) in [
            ("Query", OperationType::Query),
            ("Mutation", OperationType::Mutation),
            ("Subscription", OperationType::Subscription),
        ] {
            let fields: Vec<String> = schema
                .definitions
                .iter()
                .filter_map(|d| match d {
                    TypeSystemDefinition::Type(t) if t.node.name.node == root => Some(&t.node.kind),
                    _ => None,
                })
                .flat_map(|kind| match kind {
                    TypeKind::Object(object) => object
                        .fields
                        .iter()
                        .map(|f| f.node.name.node.to_string())
                        .collect::<Vec<_>>(),
                    _ => Vec::new(),
                })
                .collect();
            assert!(!fields.is_empty(), "{root} has fields");
            for field in &fields {
                assert!(
                    access::required(operation, field, false).is_some(),
                    "{root}.{field} has no entry in auth::access"
                );
            }
            for (name, _) in access::table(operation) {
                assert!(
                    fields.iter().any(|f| f == name),
                    "auth::access names {root}.{name}, which does not exist"
                );
            }
        }
    }
}
