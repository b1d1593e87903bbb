//! The query root, merged from one object per area.

mod accounts;
mod commands;
mod daily_summaries;
mod history;
mod projections;
mod store;
mod transactions;
mod users;
mod viewer;

use async_graphql::MergedObject;

#[derive(Default, MergedObject)]
pub struct Query(
    accounts::AccountsQuery,
    transactions::TransactionsQuery,
    daily_summaries::DailySummariesQuery,
    users::UsersQuery,
    store::StoreQuery,
    commands::CommandsQuery,
    projections::ProjectionsQuery,
    history::HistoryQuery,
    viewer::ViewerQuery,
);
