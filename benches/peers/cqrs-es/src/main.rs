//! `peer-bench`: Chronicle's bank account on cqrs-es + postgres-es against
//! Chronicle itself, on the same PostgreSQL. See README.md.

mod account;
mod chronicle;
mod drive;
mod peer;
mod probe;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "peer-bench",
    about = "cqrs-es + postgres-es vs Chronicle: the same deposits, timed"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The account aggregate on cqrs-es + postgres-es, in this process.
    /// Creates postgres-es's tables in the database, which must be empty.
    Peer {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1000)]
        accounts: usize,
        /// Connections in the sqlx pool (Chronicle's default is 16).
        #[arg(long, default_value_t = 16)]
        pool: u32,
        /// How many times a deposit that meets a conflict is sent again
        /// (cqrs-es itself never retries; 0 counts each conflict as an error).
        #[arg(long, default_value_t = 0)]
        retry_conflicts: u32,
    },
    /// Drives a running Chronicle server over GraphQL.
    Chronicle {
        /// The server's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1000)]
        accounts: usize,
        /// The server's process id, to report its CPU time per 1,000 commands.
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Single-row durable commits on one connection: tags the disk fast or slow.
    Probe {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 500)]
        millis: u64,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Peer {
            database_url,
            clients,
            seconds,
            accounts,
            pool,
            retry_conflicts,
        } => {
            peer::run(peer::Args {
                database_url,
                clients,
                seconds,
                accounts,
                pool,
                retry_conflicts,
            })
            .await
        }
        Command::Chronicle {
            url,
            clients,
            seconds,
            accounts,
            pid,
        } => {
            chronicle::run(chronicle::Args {
                url,
                clients,
                seconds,
                accounts,
                pid,
            })
            .await
        }
        Command::Probe {
            database_url,
            millis,
        } => probe::run(&database_url, millis).await,
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("peer-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
