use std::process::ExitCode;
use std::time::Duration;

use chronicle::{AppState, Cli, CliCommand};
use clap::Parser;

/// Many small, short-lived allocations per request (JSON values, SQL
/// statements, GraphQL documents): glibc's malloc and free took 12-20 % of
/// the server's CPU in profiles; with mimalloc the server spent about 8 %
/// less CPU per command at 64 clients (docs/benchmarks-history.md, "The
/// command path, second pass").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the command; a failure is one line on stderr and exit code 1.
#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("chronicle: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    chronicle::init_logging(&cli.log)?;
    match cli.command {
        CliCommand::Schema => print!("{}", chronicle::sdl()),
        CliCommand::Migrate(db) => {
            chronicle::connect_and_migrate(&db).await?;
            tracing::info!("migrations are up to date");
        }
        CliCommand::Serve(args) => {
            if let Some(refusal) = chronicle::exposure_refusal(args.listen, &args.config) {
                return Err(refusal.into());
            }
            let listener = tokio::net::TcpListener::bind(args.listen).await?;
            let addr = listener.local_addr()?;
            let mut config = args.config.clone();
            // The default node id names the port, known once bound.
            config.node.node_id = Some(config.node.id(Some(addr)));
            let state = AppState::start(&args.database, config).await?;
            tracing::info!(
                node = %state.node_id,
                role = args.config.node.role.as_str(),
                "Chronicle listening on http://{addr} (GraphQL at /graphql, the dashboard at /dashboard{})",
                if args.config.serves_graphiql() {
                    ", GraphiQL at /"
                } else {
                    ""
                }
            );
            let grace = args.config.server.shutdown_timeout();
            chronicle::serve(listener, state, shutdown_signal(grace)).await?;
            tracing::info!("stopped");
        }
    }
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, let requests in flight finish. The
/// process exits (0) after `grace` whatever is still running then.
async fn shutdown_signal(grace: Duration) {
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
    tracing::info!(?grace, "shutting down");
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        tracing::warn!("the shutdown took longer than {grace:?}; exiting now");
        std::process::exit(0);
    });
}
