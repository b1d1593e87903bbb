//! The query root, merged from one object per area.

mod commands;
mod store;

use async_graphql::MergedObject;

#[derive(Default, MergedObject)]
pub struct Query(store::StoreQuery, commands::CommandsQuery);
