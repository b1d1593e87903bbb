//! The account aggregate on cqrs-es + postgres-es, in process, the way
//! their documentation sets it up: `postgres_cqrs(pool, queries, services)`
//! with no queries, no snapshots and no cache, so every command reads the
//! account's events, replays them and inserts the new ones in a
//! transaction.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cqrs_es::AggregateError;
use postgres_es::{PostgresCqrs, postgres_cqrs};
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;

use crate::account::{Account, AccountCommand, AccountError};
use crate::cpu::Sample;
use crate::drive::{Done, drive};

const SCHEMA: &str = include_str!("schema.sql");

/// The account aggregate on cqrs-es + postgres-es, in this process.
/// Creates postgres-es's tables in the database, which must be empty.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub database_url: String,
    #[command(flatten)]
    pub load: crate::drive::Load,
    /// Connections in the sqlx pool (Chronicle's default is 16).
    #[arg(long, default_value_t = 16)]
    pub pool: u32,
    /// How many times a deposit that meets a conflict is sent again
    /// (cqrs-es itself never retries; 0 counts each conflict as an error).
    #[arg(long, default_value_t = 0)]
    pub retry_conflicts: u32,
}

pub fn account_id(k: usize) -> String {
    format!("acct-{k}")
}

pub async fn run(args: Args) -> Result<Value, Box<dyn Error>> {
    let pool = PgPoolOptions::new()
        .max_connections(args.pool)
        .connect(&args.database_url)
        .await?;
    sqlx::raw_sql(SCHEMA)
        .execute(&pool)
        .await
        .map_err(|e| format!("creating the postgres-es tables (is the database fresh?): {e}"))?;
    let cqrs: Arc<PostgresCqrs<Account>> = Arc::new(postgres_cqrs(pool.clone(), vec![], ()));

    open_accounts(&cqrs, args.load.accounts, args.pool as usize).await?;

    let retries = args.retry_conflicts;
    let framework = cqrs.clone();
    let cpu_before = Sample::take(None)?;
    let mut run = drive(
        args.load.clients,
        args.load.seconds,
        args.load.accounts,
        move |k| {
            let cqrs = framework.clone();
            async move { deposit(&cqrs, &account_id(k), retries).await }
        },
    )
    .await;
    let cpu_after = Sample::take(None)?;
    run.report_errors();
    pool.close().await;
    let mut line = run.summary("cqrs-es", args.load.clients, args.load.accounts);
    line["cpu_ms_per_command"] = cpu_before.per_command(&cpu_after, run.commands());
    Ok(line)
}

/// A deposit of 1.00; on a conflict, again up to `retries` more times.
async fn deposit(cqrs: &PostgresCqrs<Account>, id: &str, retries: u32) -> Done {
    let mut conflicts = 0;
    loop {
        match cqrs
            .execute(id, AccountCommand::Deposit { amount: 100 })
            .await
        {
            Ok(()) => {
                return Done {
                    conflicts,
                    error: None,
                };
            }
            Err(AggregateError::AggregateConflict) => {
                conflicts += 1;
                if conflicts > u64::from(retries) {
                    return Done {
                        conflicts,
                        error: Some("aggregate conflict".to_owned()),
                    };
                }
            }
            Err(e) => {
                return Done {
                    conflicts,
                    error: Some(e.to_string()),
                };
            }
        }
    }
}

/// Opens accounts `acct-0` .. `acct-{n-1}` with `concurrency` tasks; one that
/// exists already is left as it is.
async fn open_accounts(
    cqrs: &Arc<PostgresCqrs<Account>>,
    n: usize,
    concurrency: usize,
) -> Result<(), Box<dyn Error>> {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (cqrs, next) = (cqrs.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= n {
                        return Ok(());
                    }
                    let open = AccountCommand::OpenAccount {
                        owner: format!("Owner {k}"),
                        currency: "USD".to_owned(),
                        initial_balance: 0,
                    };
                    match cqrs.execute(&account_id(k), open).await {
                        Ok(()) | Err(AggregateError::UserError(AccountError::AlreadyExists)) => {}
                        Err(e) => return Err(format!("opening {}: {e}", account_id(k))),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}
