use chronicle::{AppState, Cli, CliCommand};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        CliCommand::Schema => print!("{}", chronicle::sdl()),
        CliCommand::Migrate(db) => {
            chronicle::connect_and_migrate(&db).await?;
            tracing::info!("migrations are up to date");
        }
        CliCommand::Serve(args) => {
            let state = AppState::start(&args.database, args.config.clone()).await?;
            let listener = tokio::net::TcpListener::bind(args.listen).await?;
            tracing::info!(
                "Chronicle listening on http://{} (GraphiQL at /, GraphQL at /graphql)",
                listener.local_addr()?
            );
            chronicle::serve(listener, state, shutdown_signal()).await?;
        }
    }
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, let requests in flight finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
