//! `peer-bench`: Chronicle's bank account on cqrs-es + postgres-es against
//! Chronicle itself, on the same PostgreSQL. See README.md.

mod account;
mod chronicle;
mod cpu;
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
    Peer(peer::Args),
    Chronicle(chronicle::Args),
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
        Command::Peer(args) => peer::run(args).await,
        Command::Chronicle(args) => chronicle::run(args).await,
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
