//! How the process logs: the format and the level.

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// JSON when stdout is not a terminal (a file, a pipe, a container's
    /// log collector), coloured text when it is.
    #[default]
    Auto,
    /// Human-readable lines; coloured only on a terminal.
    Text,
    /// One JSON object per line, with the fields of every span it is in
    /// (the request id, the GraphQL operation).
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(long, env = "CHRONICLE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto, global = true)]
    pub log_format: LogFormat,

    /// Log level: `error`, `warn`, `info`, `debug` or `trace`, or filter
    /// directives such as `info,chronicle::store=debug`. `RUST_LOG`, when
    /// set, is used instead.
    #[arg(long, env = "CHRONICLE_LOG_LEVEL", default_value = LogArgs::LEVEL, global = true)]
    pub log_level: String,
}

impl LogArgs {
    pub const LEVEL: &str = "info";
}

impl Default for LogArgs {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Auto,
            log_level: Self::LEVEL.to_owned(),
        }
    }
}
