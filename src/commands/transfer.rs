//! Transfers: one command, two accounts, one atomic multi-stream append.
//!
//! Both accounts are loaded, the pure `decide_transfer` checks both sides,
//! and the debit and credit commit together or not at all. The store's
//! single writer orders all appends, so opposite transfers between the same
//! accounts cannot deadlock; a lost race is a conflict and a retry.

use serde::Serialize;
use uuid::Uuid;

use super::{
    CacheUpdate, CommandContext, CommandError, CommandOutput, Commands, Plan, append_of, lock_key,
    stream_of,
};
use crate::domain::Aggregate;
use crate::domain::account::{Account, Transfer, decide_transfer};
use crate::domain::money::Amount;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferMoney {
    pub from_account_id: String,
    pub to_account_id: String,
    pub amount: String,
    pub description: Option<String>,
}

impl Commands {
    pub async fn transfer(
        &self,
        ctx: &CommandContext,
        input: TransferMoney,
    ) -> Result<CommandOutput, CommandError> {
        // One id for both sides and for every retry of this command.
        let transfer_id = Uuid::new_v4();
        let logged = serde_json::to_value(&input).unwrap_or_default();
        let input = &input;
        let keys = [
            lock_key::<Account>(&input.from_account_id),
            lock_key::<Account>(&input.to_account_id),
        ];
        self.run(
            ctx,
            "transfer",
            logged,
            false,
            &[&keys[0], &keys[1]],
            move || {
                Box::pin(async move {
                    let transfer = Transfer {
                        transfer_id,
                        amount: Amount::parse(&input.amount)?,
                        description: input.description.clone(),
                    };
                    self.decide_transfer(ctx, input, &transfer).await
                })
            },
        )
        .await
    }

    async fn decide_transfer(
        &self,
        ctx: &CommandContext,
        input: &TransferMoney,
        transfer: &Transfer,
    ) -> Result<Plan, CommandError> {
        let (from_id, to_id) = (input.from_account_id.as_str(), input.to_account_id.as_str());
        let from_stream = stream_of::<Account>(from_id)?;
        let to_stream = stream_of::<Account>(to_id)?;
        let (from, to) = tokio::try_join!(
            self.accounts.load(&from_stream),
            self.accounts.load(&to_stream)
        )?;
        let (debit, credit) = decide_transfer(from_id, &from.state, to_id, &to.state, transfer)?;
        let appends = [
            append_of(&from_stream, &from, &debit, ctx)?,
            append_of(&to_stream, &to, &credit, ctx)?,
        ];
        Ok(Plan {
            appends: appends.into_iter().flatten().collect(),
            primary: from_stream.clone(),
            unchanged_version: from.version,
            cache: vec![
                CacheUpdate::Account(from_stream, from.state.fold(&debit)),
                CacheUpdate::Account(to_stream, to.state.fold(&credit)),
            ],
        })
    }
}
