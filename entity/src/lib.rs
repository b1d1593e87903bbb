//! SeaORM entities of Chronicle's tables, one file per table.
//!
//! These are plain row types: the GraphQL API has its own types, and the
//! server converts between them, so a column can change without the public
//! schema changing by accident.

pub mod account_summaries;
pub mod commands;
pub mod daily_summaries;
pub mod events;
pub mod nodes;
pub mod projection_checkpoints;
pub mod snapshots;
pub mod streams;
pub mod transactions;
pub mod users;
