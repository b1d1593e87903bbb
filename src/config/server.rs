//! What the HTTP server admits and serves: origins, load, time, GraphiQL.

use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// An origin whose pages may call the API (CORS) and open its
    /// WebSocket; repeatable, `*` for any (then without credentials).
    /// Default: loopback origins when listening on loopback, none otherwise.
    #[arg(
        long = "cors-origin",
        env = "CHRONICLE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Requests served at once; more get 429 with Retry-After.
    #[arg(long, env = "CHRONICLE_MAX_IN_FLIGHT", default_value_t = ServerConfig::MAX_IN_FLIGHT)]
    pub max_in_flight: usize,

    /// Requests served at once for one client address.
    #[arg(long, env = "CHRONICLE_MAX_IN_FLIGHT_PER_IP", default_value_t = ServerConfig::MAX_IN_FLIGHT_PER_IP)]
    pub max_in_flight_per_ip: usize,

    /// How long one request may take before it is answered with TIMEOUT,
    /// in milliseconds (a command that was committing still commits:
    /// retry it with its commandId).
    #[arg(long, env = "CHRONICLE_REQUEST_TIMEOUT_MS", default_value_t = ServerConfig::REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,

    /// WebSocket connections open at once from one client address.
    #[arg(long, env = "CHRONICLE_MAX_CONNECTIONS_PER_IP", default_value_t = ServerConfig::MAX_CONNECTIONS_PER_IP)]
    pub max_connections_per_ip: usize,

    /// How long a shutdown (SIGTERM, Ctrl-C) may take, in milliseconds:
    /// requests in flight finish, WebSockets are closed, projections end
    /// their batch; the process exits within it.
    #[arg(long, env = "CHRONICLE_SHUTDOWN_TIMEOUT_MS", default_value_t = ServerConfig::SHUTDOWN_TIMEOUT_MS)]
    pub shutdown_timeout_ms: u64,

    /// Serve no GraphiQL (at `/` and on a browser's GET of `/graphql`);
    /// the API and the dashboard stay.
    #[arg(long, env = "CHRONICLE_DISABLE_GRAPHIQL")]
    pub disable_graphiql: bool,
}

impl ServerConfig {
    pub const MAX_IN_FLIGHT: usize = 1024;
    pub const MAX_IN_FLIGHT_PER_IP: usize = 256;
    pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
    pub const MAX_CONNECTIONS_PER_IP: usize = 1_000;
    pub const SHUTDOWN_TIMEOUT_MS: u64 = 10_000;

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            max_in_flight: Self::MAX_IN_FLIGHT,
            max_in_flight_per_ip: Self::MAX_IN_FLIGHT_PER_IP,
            request_timeout_ms: Self::REQUEST_TIMEOUT_MS,
            max_connections_per_ip: Self::MAX_CONNECTIONS_PER_IP,
            shutdown_timeout_ms: Self::SHUTDOWN_TIMEOUT_MS,
            disable_graphiql: false,
        }
    }
}
