//! The process's log: text for a person at a terminal, JSON lines for
//! everything else (files, pipes, collectors), never ANSI colours in a
//! file. Each line carries the fields of the spans it was logged in: the
//! HTTP request's `request_id` (or the WebSocket's `connection_id`), and
//! the GraphQL operation's name and type.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogArgs, LogFormat};

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("--log-level {0:?} is not a level or a filter: {1}")]
    Level(String, String),
}

/// Installs the process's subscriber; call once, first thing.
pub fn init(args: &LogArgs) -> Result<(), LogError> {
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| args.log_level.clone());
    let filter = EnvFilter::try_new(&directives)
        .map_err(|err| LogError::Level(directives.clone(), err.to_string()))?;
    let terminal = std::io::stdout().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json(args.log_format, terminal) {
        builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .init();
    } else {
        builder.with_ansi(terminal).init();
    }
    Ok(())
}

fn json(format: LogFormat, terminal: bool) -> bool {
    match format {
        LogFormat::Auto => !terminal,
        LogFormat::Text => false,
        LogFormat::Json => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_json_exactly_when_stdout_is_not_a_terminal() {
        assert!(json(LogFormat::Auto, false));
        assert!(!json(LogFormat::Auto, true));
        assert!(json(LogFormat::Json, true));
        assert!(!json(LogFormat::Text, false));
    }
}
