//! Chronicle: an event-sourced CQRS server with a GraphQL API.
//!
//! # Layout
//! - `domain/`: pure aggregates (`account/`, `user/`), money, and the
//!   `Aggregate` trait. Where a command is decided: `*/decide.rs`.
//! - `commands/`: load, decide, append with the loaded version; the
//!   aggregate cache (`repository.rs`), retries and the command log
//!   (`execute.rs`), one file per aggregate's commands.
//! - `store/`: the event store. Where an event is stored: `store/commit.rs`
//!   (one transaction per batch), fed by the group-commit writer
//!   (`store/writer.rs`); the append rules are in `store/plan.rs`.
//! - `graphql/`: the schema: `query/`, `mutation/` (one file per area),
//!   `types/` (API types, separate from the SeaORM entities), `scalars.rs`,
//!   and `error.rs`, the one place where errors get their
//!   `extensions.code`.
//! - `http.rs`: the axum router (GraphQL over HTTP, GraphiQL, health,
//!   `/metrics`); `metrics.rs`: metric names and the Prometheus recorder.
//! - `server.rs`: start-up (connect, migrate, open the store) and `serve`.
//! - `db.rs`: connection settings; `config.rs`: command line.
//!
//! The tables are SeaORM entities in the `entity` crate; their migrations
//! are in the `migration` crate.

mod app;
mod commands;
mod config;
mod db;
mod domain;
mod error_code;
mod graphql;
mod http;
mod metrics;
mod read_models;
mod store;
mod subscriptions;

pub use app::{AppState, serve, store_config};
pub use commands::{
    AsOf, CloseAccount, Command, CommandContext, CommandError, CommandOutput, Commands, DeleteUser,
    Deposit, Loaded, Movement, OpenAccount, RegisterUser, Repository, TransferMoney, UpdateUser,
    Withdraw,
};
pub use config::{
    ApiConfig, Cli, CliCommand, CommandConfig, Config, DEFAULT_DATABASE_URL, DatabaseArgs,
    EventLimits, RequestLimits, ServeArgs, SubscriptionConfig,
};
pub use db::{connect, connect_and_migrate};
pub use error_code::ErrorCode;
pub use graphql::{ChronicleSchema, SchemaParts, build_schema, sdl};
pub use http::router;
pub use read_models::{ProjectionState, ProjectionStatus, Projections, ProjectionsError};
pub use store::{
    AppendOutcome, AppendRequest, CommandEntry, CommandRecord, CommandStatus, Direction,
    EventStore, ExpectedVersion, LogFilter, MAX_APPEND_EVENTS, NewEvent, RecordedEvent,
    StoreConfig, StoreError, StoreStats, StoredSnapshot, StreamAppend, StreamId, StreamInfo,
    Upcasters, category_of,
};
