//! Account commands on one account: open, deposit, withdraw, close.
//! (Transfers span two accounts: `transfer.rs`.)

use serde::Serialize;
use uuid::Uuid;

use super::{
    CacheUpdate, CommandContext, CommandError, CommandOutput, Commands, lock_key, single_plan,
    stream_of,
};
use crate::domain::Aggregate;
use crate::domain::account::{Account, AccountCommand};
use crate::domain::money::{Amount, Currency};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenAccount {
    /// Generated when absent.
    pub account_id: Option<String>,
    pub owner: String,
    pub initial_balance: Option<String>,
    pub currency: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deposit {
    pub account_id: String,
    pub amount: String,
    pub description: Option<String>,
    pub expected_version: Option<i64>,
}

/// Same shape as a deposit.
pub type Withdraw = Deposit;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseAccount {
    pub account_id: String,
    pub expected_version: Option<i64>,
}

fn input_of(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

impl Commands {
    pub async fn open_account(
        &self,
        ctx: &CommandContext,
        input: OpenAccount,
    ) -> Result<CommandOutput, CommandError> {
        // Chosen once, so every retry of this command opens the same account.
        let account_id = input
            .account_id
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        let logged = input_of(&input);
        let input = &input;
        let account_id = &account_id;
        let key = lock_key::<Account>(account_id);
        self.run(ctx, "openAccount", logged, false, &[&key], move || {
            Box::pin(async move {
                let command = AccountCommand::Open {
                    owner: input.owner.clone(),
                    currency: match &input.currency {
                        Some(code) => Currency::parse(code)?,
                        None => Currency::default(),
                    },
                    initial_balance: Amount::parse(
                        input.initial_balance.as_deref().unwrap_or("0"),
                    )?,
                };
                self.decide_account(ctx, account_id, None, &command).await
            })
        })
        .await
    }

    pub async fn deposit(
        &self,
        ctx: &CommandContext,
        input: Deposit,
    ) -> Result<CommandOutput, CommandError> {
        self.move_money(ctx, "deposit", input, |amount, description| {
            AccountCommand::Deposit {
                amount,
                description,
            }
        })
        .await
    }

    pub async fn withdraw(
        &self,
        ctx: &CommandContext,
        input: Withdraw,
    ) -> Result<CommandOutput, CommandError> {
        self.move_money(ctx, "withdraw", input, |amount, description| {
            AccountCommand::Withdraw {
                amount,
                description,
            }
        })
        .await
    }

    pub async fn close_account(
        &self,
        ctx: &CommandContext,
        input: CloseAccount,
    ) -> Result<CommandOutput, CommandError> {
        let fixed = input.expected_version.is_some();
        let logged = input_of(&input);
        let input = &input;
        let key = lock_key::<Account>(&input.account_id);
        self.run(ctx, "closeAccount", logged, fixed, &[&key], move || {
            Box::pin(async move {
                self.decide_account(
                    ctx,
                    &input.account_id,
                    input.expected_version,
                    &AccountCommand::Close,
                )
                .await
            })
        })
        .await
    }

    async fn move_money(
        &self,
        ctx: &CommandContext,
        command_type: &str,
        input: Deposit,
        command: impl Fn(Amount, Option<String>) -> AccountCommand + Sync,
    ) -> Result<CommandOutput, CommandError> {
        let fixed = input.expected_version.is_some();
        let logged = input_of(&input);
        let input = &input;
        let command = &command;
        let key = lock_key::<Account>(&input.account_id);
        self.run(ctx, command_type, logged, fixed, &[&key], move || {
            Box::pin(async move {
                let command = command(Amount::parse(&input.amount)?, input.description.clone());
                self.decide_account(ctx, &input.account_id, input.expected_version, &command)
                    .await
            })
        })
        .await
    }

    async fn decide_account(
        &self,
        ctx: &CommandContext,
        account_id: &str,
        expected: Option<i64>,
        command: &AccountCommand,
    ) -> Result<super::Plan, CommandError> {
        let stream = stream_of::<Account>(account_id)?;
        let loaded = self.accounts.load_expecting(&stream, expected).await?;
        let events = loaded.state.decide(command)?;
        single_plan(stream, loaded, events, ctx, CacheUpdate::Account)
    }
}
