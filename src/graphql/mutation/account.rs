//! Account mutations: openAccount, deposit, withdraw, transfer, closeAccount.

use async_graphql::{Context, ID, InputObject, Object};

use super::{commands, context};
use crate::commands::{CloseAccount, Deposit, OpenAccount, TransferMoney};
use crate::graphql::ApiError;
use crate::graphql::scalars::{Decimal, Long};
use crate::graphql::types::CommandResult;

#[derive(InputObject)]
pub struct OpenAccountInput {
    /// Generated when omitted.
    pub account_id: Option<ID>,
    pub owner: String,
    pub initial_balance: Option<Decimal>,
    pub currency: Option<String>,
    /// Idempotency key: retrying with the same commandId returns the first
    /// result and appends nothing.
    pub command_id: Option<ID>,
}

#[derive(InputObject)]
pub struct DepositInput {
    pub account_id: ID,
    pub amount: Decimal,
    pub description: Option<String>,
    pub command_id: Option<ID>,
    /// When given, the command fails with CONCURRENCY_CONFLICT unless the
    /// account is at this version.
    pub expected_version: Option<Long>,
}

#[derive(InputObject)]
pub struct WithdrawInput {
    pub account_id: ID,
    pub amount: Decimal,
    pub description: Option<String>,
    pub command_id: Option<ID>,
    pub expected_version: Option<Long>,
}

#[derive(InputObject)]
pub struct TransferInput {
    pub from_account_id: ID,
    pub to_account_id: ID,
    pub amount: Decimal,
    pub description: Option<String>,
    pub command_id: Option<ID>,
}

#[derive(InputObject)]
pub struct CloseAccountInput {
    pub account_id: ID,
    pub command_id: Option<ID>,
    pub expected_version: Option<Long>,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    async fn open_account(
        &self,
        ctx: &Context<'_>,
        input: OpenAccountInput,
    ) -> Result<CommandResult, ApiError> {
        let command = context(ctx, input.command_id)?;
        let open = OpenAccount {
            account_id: input.account_id.map(|id| id.0),
            owner: input.owner,
            initial_balance: input.initial_balance.map(|d| d.0),
            currency: input.currency,
        };
        Ok(commands(ctx).open_account(&command, open).await?.into())
    }

    async fn deposit(
        &self,
        ctx: &Context<'_>,
        input: DepositInput,
    ) -> Result<CommandResult, ApiError> {
        let command = context(ctx, input.command_id)?;
        let deposit = movement(
            input.account_id,
            input.amount,
            input.description,
            input.expected_version,
        );
        Ok(commands(ctx).deposit(&command, deposit).await?.into())
    }

    async fn withdraw(
        &self,
        ctx: &Context<'_>,
        input: WithdrawInput,
    ) -> Result<CommandResult, ApiError> {
        let command = context(ctx, input.command_id)?;
        let withdraw = movement(
            input.account_id,
            input.amount,
            input.description,
            input.expected_version,
        );
        Ok(commands(ctx).withdraw(&command, withdraw).await?.into())
    }

    /// Atomic: both accounts' events commit together or not at all.
    async fn transfer(
        &self,
        ctx: &Context<'_>,
        input: TransferInput,
    ) -> Result<CommandResult, ApiError> {
        let command = context(ctx, input.command_id)?;
        let transfer = TransferMoney {
            from_account_id: input.from_account_id.0,
            to_account_id: input.to_account_id.0,
            amount: input.amount.0,
            description: input.description,
        };
        Ok(commands(ctx).transfer(&command, transfer).await?.into())
    }

    async fn close_account(
        &self,
        ctx: &Context<'_>,
        input: CloseAccountInput,
    ) -> Result<CommandResult, ApiError> {
        let command = context(ctx, input.command_id)?;
        let close = CloseAccount {
            account_id: input.account_id.0,
            expected_version: input.expected_version.map(|v| v.0),
        };
        Ok(commands(ctx).close_account(&command, close).await?.into())
    }
}

/// Deposits and withdrawals carry the same fields (their GraphQL inputs are
/// two types only because the contract names them apart).
fn movement(
    account_id: ID,
    amount: Decimal,
    description: Option<String>,
    expected: Option<Long>,
) -> Deposit {
    Deposit {
        account_id: account_id.0,
        amount: amount.0,
        description,
        expected_version: expected.map(|v| v.0),
    }
}
