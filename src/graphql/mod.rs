//! The GraphQL schema: roots merged from one file per area, API types of
//! their own, and one error mapping. No transport code lives here.

mod error;
mod mutation;
mod pagination;
mod query;
mod scalars;
mod types;

use async_graphql::{EmptySubscription, Schema, SchemaBuilder};

use crate::config::Limits;
use crate::store::EventStore;

pub(crate) use error::ApiError;

pub type ChronicleSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, EmptySubscription> {
    Schema::build(query::Query::default(), mutation::Mutation::default(), EmptySubscription)
}

/// The schema with its data; building it touches no database.
pub fn build_schema(store: EventStore, limits: Limits) -> ChronicleSchema {
    builder()
        .limit_depth(limits.max_query_depth)
        .data(store)
        .data(limits)
        .finish()
}

/// The SDL that `schema.graphql` must equal, with fields sorted so that a
/// reordering in code does not show up as a change.
pub fn sdl() -> String {
    builder()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().sorted_fields())
}
