//! Command line and environment: `chronicle serve | migrate | schema`, and
//! the server's configuration, one type per concern. Each setting's
//! default is written once, as a constant beside its type, and used both
//! by the flag and by `Default`.

mod limits;
mod logging;
mod node;
mod server;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub use limits::{EventLimits, RequestLimits};
pub use logging::{LogArgs, LogFormat};
pub use node::{NodeConfig, NodeRole};
pub use server::ServerConfig;

use crate::auth::AuthConfig;

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
    pub command: CliCommand,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run migrations, then serve GraphQL over HTTP and WebSocket.
    Serve(Box<ServeArgs>),
    /// Run pending migrations and exit.
    Migrate(DatabaseArgs),
    /// Print the GraphQL schema (SDL) that `schema.graphql` must equal.
    Schema,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CHRONICLE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://path.db` (created when missing) or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Connections in the database pool.
    #[arg(long, env = "CHRONICLE_DB_POOL_SIZE", default_value_t = DatabaseArgs::POOL_SIZE)]
    pub db_pool_size: u32,

    /// How long a request waits for a database connection before it fails
    /// with UNAVAILABLE, in milliseconds.
    #[arg(long, env = "CHRONICLE_DB_ACQUIRE_TIMEOUT_MS", default_value_t = DatabaseArgs::ACQUIRE_TIMEOUT_MS)]
    pub db_acquire_timeout_ms: u64,
}

impl DatabaseArgs {
    pub const POOL_SIZE: u32 = 16;
    pub const ACQUIRE_TIMEOUT_MS: u64 = 3_000;
}

impl Default for DatabaseArgs {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            db_pool_size: Self::POOL_SIZE,
            db_acquire_timeout_ms: Self::ACQUIRE_TIMEOUT_MS,
        }
    }
}

/// Everything a server is configured with beside its address and database.
#[derive(Debug, Clone, Default, Args)]
pub struct Config {
    #[command(flatten)]
    pub node: NodeConfig,
    #[command(flatten)]
    pub auth: AuthConfig,
    #[command(flatten)]
    pub server: ServerConfig,
    #[command(flatten)]
    pub api: ApiConfig,
    #[command(flatten)]
    pub requests: RequestLimits,
    #[command(flatten)]
    pub events: EventLimits,
    #[command(flatten)]
    pub commands: CommandConfig,
    #[command(flatten)]
    pub projections: ProjectionConfig,
    #[command(flatten)]
    pub subscriptions: SubscriptionConfig,
}

impl Config {
    /// Whether GraphiQL is served: not with `--disable-graphiql`, nor when
    /// introspection is refused (it could show no schema).
    pub fn serves_graphiql(&self) -> bool {
        !self.server.disable_graphiql && !self.auth.disable_introspection
    }
}

/// How queries page and wait.
#[derive(Debug, Clone, Args)]
pub struct ApiConfig {
    /// Largest `first` a paged list accepts.
    #[arg(long, env = "CHRONICLE_MAX_PAGE_SIZE", default_value_t = ApiConfig::MAX_PAGE_SIZE)]
    pub max_page_size: usize,

    /// Page size when a list query gives no `first`.
    #[arg(long, env = "CHRONICLE_DEFAULT_PAGE_SIZE", default_value_t = ApiConfig::DEFAULT_PAGE_SIZE)]
    pub default_page_size: usize,

    /// How long a query given `minPosition` waits for the projections it
    /// reads before failing with CONSISTENCY_TIMEOUT, in milliseconds.
    #[arg(long, env = "CHRONICLE_CONSISTENCY_TIMEOUT_MS", default_value_t = ApiConfig::CONSISTENCY_TIMEOUT_MS)]
    pub consistency_timeout_ms: u64,
}

impl ApiConfig {
    pub const MAX_PAGE_SIZE: usize = 1000;
    pub const DEFAULT_PAGE_SIZE: usize = 100;
    pub const CONSISTENCY_TIMEOUT_MS: u64 = 5_000;
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_page_size: Self::MAX_PAGE_SIZE,
            default_page_size: Self::DEFAULT_PAGE_SIZE,
            consistency_timeout_ms: Self::CONSISTENCY_TIMEOUT_MS,
        }
    }
}

/// The write model: how many aggregates stay in memory, how often
/// snapshots are written.
#[derive(Debug, Clone, Args)]
pub struct CommandConfig {
    /// Aggregates kept in memory per aggregate type (LRU).
    #[arg(long, env = "CHRONICLE_AGGREGATE_CACHE_SIZE", default_value_t = CommandConfig::CACHE_SIZE)]
    pub aggregate_cache_size: u64,

    /// A snapshot of an aggregate is written each time its stream crosses
    /// a multiple of this many events (0: never).
    #[arg(long, env = "CHRONICLE_SNAPSHOT_EVERY", default_value_t = CommandConfig::SNAPSHOT_EVERY)]
    pub snapshot_every: i64,
}

impl CommandConfig {
    pub const CACHE_SIZE: u64 = 10_000;
    pub const SNAPSHOT_EVERY: i64 = 100;
}

impl Default for CommandConfig {
    fn default() -> Self {
        Self {
            aggregate_cache_size: Self::CACHE_SIZE,
            snapshot_every: Self::SNAPSHOT_EVERY,
        }
    }
}

/// How often the read models apply new commits.
#[derive(Debug, Clone, Args)]
pub struct ProjectionConfig {
    /// The shortest time between the starts of two read-model
    /// transactions of the caught-up projections, in milliseconds (0: one
    /// as soon as the log moves). Commits that arrive in between are
    /// applied together; a query given `minPosition` on this node cuts the
    /// wait short. On SQLite the transactions are also at least four event
    /// commits apart (not with 0).
    #[arg(
        long,
        env = "CHRONICLE_PROJECTION_INTERVAL_MS",
        default_value_t = ProjectionConfig::INTERVAL_MS
    )]
    pub projection_interval_ms: u64,
}

impl ProjectionConfig {
    pub const INTERVAL_MS: u64 = 5;

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.projection_interval_ms)
    }
}

impl Default for ProjectionConfig {
    fn default() -> Self {
        Self {
            projection_interval_ms: Self::INTERVAL_MS,
        }
    }
}

/// WebSocket connections and the subscriptions they hold.
#[derive(Debug, Clone, Args)]
pub struct SubscriptionConfig {
    /// WebSocket connections open at once; more are refused with 503.
    #[arg(long, env = "CHRONICLE_MAX_CONNECTIONS", default_value_t = SubscriptionConfig::MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Subscriptions one WebSocket connection may hold at once.
    #[arg(
        long,
        env = "CHRONICLE_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = SubscriptionConfig::MAX_PER_CONNECTION
    )]
    pub max_subscriptions_per_connection: usize,
}

impl SubscriptionConfig {
    pub const MAX_CONNECTIONS: usize = 20_000;
    pub const MAX_PER_CONNECTION: usize = 100;
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        Self {
            max_connections: Self::MAX_CONNECTIONS,
            max_subscriptions_per_connection: Self::MAX_PER_CONNECTION,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The flags' defaults and `Default` come from the same constants; this
    /// holds them to it, so that a test server runs as `chronicle serve`.
    #[test]
    fn the_flags_defaults_are_the_types_defaults() {
        let cli = Cli::parse_from(["chronicle", "serve"]);
        let CliCommand::Serve(args) = cli.command else {
            panic!("serve");
        };
        let defaults = Config::default();
        assert_eq!(format!("{:?}", args.config), format!("{defaults:?}"));
        assert_eq!(
            format!("{:?}", args.database),
            format!("{:?}", DatabaseArgs::default())
        );
    }
}
