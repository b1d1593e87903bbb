//! Chronicle: an event-sourced CQRS server with a GraphQL API.
//!
//! # Layout
//! - `app.rs`: the composition root: builds the parts below, wires them,
//!   and serves. `config/`: the command line, one type per concern.
//! - `domain/`: pure aggregates (`account/`, `user/`), money, and the
//!   `Aggregate` trait. Where a command is decided: `*/decide.rs`.
//! - `commands/`: one type per command (`command.rs` is the trait;
//!   `account.rs`, `transfer.rs`, `user.rs`), run by one executor
//!   (`execute.rs`: the command log, locks, retries); the aggregate cache
//!   (`repository.rs`).
//! - `store/`: the event store. Where an event is stored: `store/commit/`
//!   (one transaction per batch), fed by the group-commit writer
//!   (`store/writer.rs`); the append rules are in `store/plan.rs`, the
//!   upcasters applied on read in `store/upcast/`.
//! - `read_models/`: one module per read model, holding its projection and
//!   its queries. Where a read model updates a row: its `fold`. The
//!   projector tasks are in `read_models/runtime/`.
//! - `subscriptions/`: where a subscription is fed: `hub.rs` (fan-out) and
//!   `event_feed.rs` (catch-up, then live).
//! - `graphql/`: the schema: `query/`, `mutation/` (one file per area),
//!   `types/` (API types, separate from the SeaORM entities), `limits/`
//!   (what one request may ask), and `error.rs`, the one place where errors
//!   get their `extensions.code`.
//! - `http/`: the axum router, GraphQL over HTTP (`graphql.rs`) and over
//!   WebSocket (`websocket/`), the browser pages (`ui.rs`: GraphiQL and the
//!   dashboard, embedded from `dashboard/dist`), health and `/metrics`.
//! - `error_code.rs`: the one vocabulary of error codes; `metrics.rs`:
//!   metric names and the Prometheus recorder; `db.rs`: connection
//!   settings.
//!
//! The tables are SeaORM entities in the `entity` crate; their migrations
//! are in the `migration` crate. `docs/architecture.md` draws how a
//! mutation becomes events, rows and subscription messages.

mod app;
mod auth;
mod cluster;
mod commands;
mod config;
mod db;
mod domain;
mod error_code;
mod graphql;
mod http;
mod logging;
mod metrics;
mod paging;
mod read_models;
mod store;
mod subscriptions;

pub use app::{AppState, StartError, exposure_refusal, serve, store_config};
pub use auth::{AuthConfig, Role};
pub use commands::{
    AsOf, CloseAccount, Command, CommandContext, CommandError, CommandOutput, Commands, DeleteUser,
    Deposit, Loaded, Movement, OpenAccount, RegisterUser, Repository, TransferMoney, UpdateUser,
    Withdraw,
};
pub use config::{
    ApiConfig, Cli, CliCommand, CommandConfig, Config, DEFAULT_DATABASE_URL, DatabaseArgs,
    EventLimits, LogArgs, LogFormat, RequestLimits, ServeArgs, ServerConfig, SubscriptionConfig,
};
pub use db::{connect, connect_and_migrate};
pub use error_code::ErrorCode;
pub use graphql::{ChronicleSchema, SchemaParts, build_schema, sdl};
pub use http::router;
pub use logging::init as init_logging;
pub use read_models::{ProjectionState, ProjectionStatus, Projections, ProjectionsError};
pub use store::{
    AppendOutcome, AppendRequest, CommandEntry, CommandRecord, CommandStatus, Direction,
    EventStore, ExpectedVersion, LogFilter, MAX_APPEND_EVENTS, NewEvent, RecordedEvent,
    StoreConfig, StoreError, StoreStats, StoredSnapshot, StreamAppend, StreamId, StreamInfo,
    Upcasters, category_of,
};
