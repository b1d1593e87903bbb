//! Account commands on one account: open, deposit, withdraw, close. Each
//! turns its input into an `AccountCommand` and has the account decide it.
//! (Transfers span two accounts: `transfer.rs`.)

use std::marker::PhantomData;

use serde::Serialize;
use uuid::Uuid;

use super::command::{Command, Plan};
use super::{CacheUpdate, CommandContext, CommandError, Commands, single_plan, stream_of};
use crate::domain::Aggregate;
use crate::domain::account::{Account, AccountCommand};
use crate::domain::money::{Amount, Currency};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenAccount {
    /// The client's id for the account; one is generated when absent.
    pub account_id: Option<String>,
    pub owner: String,
    pub initial_balance: Option<String>,
    pub currency: Option<String>,
    /// The id the account gets: chosen once, so every retry of this
    /// command opens the same account. Not part of the logged input.
    #[serde(skip)]
    id: String,
}

impl OpenAccount {
    pub fn new(
        account_id: Option<String>,
        owner: String,
        initial_balance: Option<String>,
        currency: Option<String>,
    ) -> Self {
        let id = account_id
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        Self {
            account_id,
            owner,
            initial_balance,
            currency,
            id,
        }
    }
}

/// What a deposit and a withdrawal carry.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Movement {
    pub account_id: String,
    pub amount: String,
    pub description: Option<String>,
    pub expected_version: Option<i64>,
}

/// Money in or out of one account: one type, two commands.
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub struct Move<D> {
    movement: Movement,
    #[serde(skip)]
    direction: PhantomData<D>,
}

pub type Deposit = Move<In>;
pub type Withdraw = Move<Out>;

impl<D> Move<D> {
    pub fn new(movement: Movement) -> Self {
        Self {
            movement,
            direction: PhantomData,
        }
    }
}

/// Which way a [`Move`] goes: its command name and domain command.
pub trait Direction: Send + Sync {
    const NAME: &'static str;
    fn command(amount: Amount, description: Option<String>) -> AccountCommand;
}

#[derive(Clone, Debug)]
pub struct In;

#[derive(Clone, Debug)]
pub struct Out;

impl Direction for In {
    const NAME: &'static str = "deposit";

    fn command(amount: Amount, description: Option<String>) -> AccountCommand {
        AccountCommand::Deposit {
            amount,
            description,
        }
    }
}

impl Direction for Out {
    const NAME: &'static str = "withdraw";

    fn command(amount: Amount, description: Option<String>) -> AccountCommand {
        AccountCommand::Withdraw {
            amount,
            description,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseAccount {
    pub account_id: String,
    pub expected_version: Option<i64>,
}

impl Command for OpenAccount {
    const NAME: &'static str = "openAccount";

    fn locks(&self) -> Vec<String> {
        vec![lock_of(&self.id)]
    }

    async fn plan(&self, ctx: &CommandContext, commands: &Commands) -> Result<Plan, CommandError> {
        let command = AccountCommand::Open {
            owner: self.owner.clone(),
            currency: match &self.currency {
                Some(code) => Currency::parse(code)?,
                None => Currency::default(),
            },
            initial_balance: Amount::parse(self.initial_balance.as_deref().unwrap_or("0"))?,
        };
        decide(commands, ctx, &self.id, None, &command).await
    }
}

impl<D: Direction> Command for Move<D> {
    const NAME: &'static str = D::NAME;

    fn locks(&self) -> Vec<String> {
        vec![lock_of(&self.movement.account_id)]
    }

    fn expected_version(&self) -> Option<i64> {
        self.movement.expected_version
    }

    async fn plan(&self, ctx: &CommandContext, commands: &Commands) -> Result<Plan, CommandError> {
        let m = &self.movement;
        let command = D::command(Amount::parse(&m.amount)?, m.description.clone());
        decide(commands, ctx, &m.account_id, m.expected_version, &command).await
    }
}

impl Command for CloseAccount {
    const NAME: &'static str = "closeAccount";

    fn locks(&self) -> Vec<String> {
        vec![lock_of(&self.account_id)]
    }

    fn expected_version(&self) -> Option<i64> {
        self.expected_version
    }

    async fn plan(&self, ctx: &CommandContext, commands: &Commands) -> Result<Plan, CommandError> {
        let close = AccountCommand::Close;
        decide(
            commands,
            ctx,
            &self.account_id,
            self.expected_version,
            &close,
        )
        .await
    }
}

/// The key a command on account `id` locks: its stream id, whether or not
/// the id is valid (validation comes in `plan`).
pub(super) fn lock_of(id: &str) -> String {
    format!("{}-{id}", Account::CATEGORY)
}

/// Loads the account (checking the client's expected version), has it
/// decide, and plans the append.
async fn decide(
    commands: &Commands,
    ctx: &CommandContext,
    account_id: &str,
    expected: Option<i64>,
    command: &AccountCommand,
) -> Result<Plan, CommandError> {
    let stream = stream_of::<Account>(account_id)?;
    let loaded = commands.accounts.load_expecting(&stream, expected).await?;
    let events = loaded.state.decide(command)?;
    single_plan(stream, loaded, events, ctx, CacheUpdate::Account)
}
