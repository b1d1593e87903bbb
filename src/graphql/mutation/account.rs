//! Account mutations: openAccount, deposit, withdraw, transfer, closeAccount.

use async_graphql::{Context, ID, InputObject, Object};

use super::execute;
use crate::commands::{CloseAccount, Deposit, Movement, OpenAccount, TransferMoney, Withdraw};
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
        let open = OpenAccount::new(
            input.account_id.map(|id| id.0),
            input.owner,
            input.initial_balance.map(|d| d.0),
            input.currency,
        );
        execute(ctx, input.command_id, open).await
    }

    async fn deposit(
        &self,
        ctx: &Context<'_>,
        input: DepositInput,
    ) -> Result<CommandResult, ApiError> {
        let movement = movement(
            input.account_id,
            input.amount,
            input.description,
            input.expected_version,
        );
        execute(ctx, input.command_id, Deposit::new(movement)).await
    }

    async fn withdraw(
        &self,
        ctx: &Context<'_>,
        input: WithdrawInput,
    ) -> Result<CommandResult, ApiError> {
        let movement = movement(
            input.account_id,
            input.amount,
            input.description,
            input.expected_version,
        );
        execute(ctx, input.command_id, Withdraw::new(movement)).await
    }

    /// Atomic: both accounts' events commit together or not at all.
    async fn transfer(
        &self,
        ctx: &Context<'_>,
        input: TransferInput,
    ) -> Result<CommandResult, ApiError> {
        let transfer = TransferMoney::new(
            input.from_account_id.0,
            input.to_account_id.0,
            input.amount.0,
            input.description,
        );
        execute(ctx, input.command_id, transfer).await
    }

    async fn close_account(
        &self,
        ctx: &Context<'_>,
        input: CloseAccountInput,
    ) -> Result<CommandResult, ApiError> {
        let close = CloseAccount {
            account_id: input.account_id.0,
            expected_version: input.expected_version.map(|v| v.0),
        };
        execute(ctx, input.command_id, close).await
    }
}

/// Deposits and withdrawals carry the same fields (their GraphQL inputs are
/// two types only because the contract names them apart).
fn movement(
    account_id: ID,
    amount: Decimal,
    description: Option<String>,
    expected: Option<Long>,
) -> Movement {
    Movement {
        account_id: account_id.0,
        amount: amount.0,
        description,
        expected_version: expected.map(|v| v.0),
    }
}
