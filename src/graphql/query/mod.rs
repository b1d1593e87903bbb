//! The query root, merged from one object per area.

mod accounts;
mod commands;
mod projections;
mod store;

use async_graphql::MergedObject;

#[derive(Default, MergedObject)]
pub struct Query(
    accounts::AccountsQuery,
    store::StoreQuery,
    commands::CommandsQuery,
    projections::ProjectionsQuery,
);
