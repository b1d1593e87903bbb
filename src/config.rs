//! Command line and environment: `chronicle serve | migrate | schema`.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// The SQLite file used when no database URL is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://chronicle.db";

#[derive(Debug, Parser)]
#[command(
    name = "chronicle",
    version,
    about = "An event-sourced CQRS server with a GraphQL API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run migrations, then serve GraphQL over HTTP and WebSocket.
    Serve(ServeArgs),
    /// Run pending migrations and exit.
    Migrate(DatabaseArgs),
    /// Print the GraphQL schema (SDL) that `schema.graphql` must equal.
    Schema,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://path.db` (created when missing) or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Connections in the database pool.
    #[arg(long, env = "CHRONICLE_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CHRONICLE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub limits: Limits,
}

/// Tunables of the API.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest `first` a paged list accepts.
    #[arg(long, env = "CHRONICLE_MAX_PAGE_SIZE", default_value_t = 1000)]
    pub max_page_size: usize,

    /// Page size when a list query gives no `first`.
    #[arg(long, env = "CHRONICLE_DEFAULT_PAGE_SIZE", default_value_t = 100)]
    pub default_page_size: usize,

    /// Aggregates kept in memory per aggregate type (LRU).
    #[arg(long, env = "CHRONICLE_AGGREGATE_CACHE_SIZE", default_value_t = 10_000)]
    pub aggregate_cache_size: u64,

    /// How long a query given `minPosition` waits for the projections it
    /// reads before failing with CONSISTENCY_TIMEOUT, in milliseconds.
    #[arg(
        long,
        env = "CHRONICLE_CONSISTENCY_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    pub consistency_timeout_ms: u64,

    /// A snapshot of an aggregate is written each time its stream crosses
    /// a multiple of this many events (0: never).
    #[arg(long, env = "CHRONICLE_SNAPSHOT_EVERY", default_value_t = 100)]
    pub snapshot_every: i64,

    /// WebSocket connections open at once; more are refused with 503.
    #[arg(long, env = "CHRONICLE_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Subscriptions one WebSocket connection may hold at once.
    #[arg(
        long,
        env = "CHRONICLE_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 100
    )]
    pub max_subscriptions_per_connection: usize,

    /// Deepest GraphQL query accepted.
    #[arg(long, env = "CHRONICLE_MAX_QUERY_DEPTH", default_value_t = 16)]
    pub max_query_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_page_size: 1000,
            default_page_size: 100,
            aggregate_cache_size: 10_000,
            consistency_timeout_ms: 5_000,
            snapshot_every: 100,
            max_connections: 20_000,
            max_subscriptions_per_connection: 100,
            max_query_depth: 16,
        }
    }
}

impl Default for DatabaseArgs {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            db_pool_size: 16,
        }
    }
}
