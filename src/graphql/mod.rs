//! The GraphQL schema: roots merged from one file per area, API types of
//! their own, and one error mapping. No transport code lives here.

mod access;
mod consistency;
mod error;
mod limits;
mod loaders;
mod mutation;
mod observe;
mod pagination;
mod query;
mod scalars;
mod subscription;
mod types;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Schema, SchemaBuilder};

use std::sync::Arc;

use crate::commands::Commands;
use crate::config::Config;
use crate::read_models::Projections;
use crate::store::EventStore;
use crate::subscriptions::Hub;

pub(crate) use error::{ApiError, finish};
pub(crate) use limits::{Refusal, check_text};
pub(crate) use mutation::RequestMeta;
pub(crate) use observe::OperationSlot;
use subscription::SubscriptionRoot;
pub(crate) use subscription::SubscriptionSlots;

pub type ChronicleSchema = Schema<query::Query, mutation::Mutation, SubscriptionRoot>;

pub(crate) fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, SubscriptionRoot> {
    Schema::build(
        query::Query::default(),
        mutation::Mutation::default(),
        SubscriptionRoot,
    )
}

/// What the schema's resolvers work on, handed over by the composition
/// root.
pub struct SchemaParts {
    pub store: EventStore,
    pub commands: Arc<Commands>,
    pub projections: Projections,
    pub hub: Hub,
    pub config: Config,
}

/// The schema with its data. Building it touches no database and starts
/// nothing: every part is already running.
pub fn build_schema(parts: SchemaParts) -> ChronicleSchema {
    let SchemaParts {
        store,
        commands,
        projections,
        hub,
        config,
    } = parts;
    let requests = &config.requests;
    builder()
        .extension(limits::Guard::new(requests.clone()))
        .extension(access::AccessGuard::new(config.auth.disable_introspection))
        .extension(observe::Observe)
        .limit_depth(requests.max_query_depth)
        .limit_complexity(requests.max_complexity)
        .limit_directives(requests.max_directives)
        .data(DataLoader::new(
            loaders::TransactionsLoader::new(store.clone()),
            tokio::spawn,
        ))
        .data(hub)
        .data(store)
        .data(commands)
        .data(projections)
        .data(config.api)
        .finish()
}

/// The SDL that `schema.graphql` must equal, with fields sorted so that a
/// reordering in code does not show up as a change.
pub fn sdl() -> String {
    builder().finish().sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .sorted_fields()
            .include_specified_by(),
    )
}

#[cfg(test)]
mod tests {
    /// `schema.graphql` is what clients and reviewers read; it must be the
    /// code's schema exactly. `UPDATE_SCHEMA=1 cargo test` rewrites it.
    #[test]
    fn schema_graphql_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
        let sdl = super::sdl();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &sdl).expect("write schema.graphql");
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == sdl,
            "schema.graphql differs from the code: run `cargo run -- schema > schema.graphql` \
             (or `UPDATE_SCHEMA=1 cargo test`) and review the diff"
        );
    }
}
