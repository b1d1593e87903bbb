//! Transfers: one command, two accounts, one atomic multi-stream append.
//!
//! Both accounts are loaded, the pure `decide_transfer` checks both sides,
//! and the debit and credit commit together or not at all. The store's
//! single writer orders all appends, so opposite transfers between the same
//! accounts cannot deadlock; a lost race is a conflict and a retry.

use serde::Serialize;
use uuid::Uuid;

use super::account::lock_of;
use super::command::{Command, Plan};
use super::{CacheUpdate, CommandContext, CommandError, Commands, append_of, stream_of};
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
    /// One id for both sides and for every retry of this command.
    #[serde(skip)]
    transfer_id: Uuid,
}

impl TransferMoney {
    pub fn new(
        from_account_id: String,
        to_account_id: String,
        amount: String,
        description: Option<String>,
    ) -> Self {
        Self {
            from_account_id,
            to_account_id,
            amount,
            description,
            transfer_id: Uuid::new_v4(),
        }
    }
}

impl Command for TransferMoney {
    const NAME: &'static str = "transfer";

    fn locks(&self) -> Vec<String> {
        vec![lock_of(&self.from_account_id), lock_of(&self.to_account_id)]
    }

    async fn plan(&self, ctx: &CommandContext, commands: &Commands) -> Result<Plan, CommandError> {
        let transfer = Transfer {
            transfer_id: self.transfer_id,
            amount: Amount::parse(&self.amount)?,
            description: self.description.clone(),
        };
        let (from_id, to_id) = (self.from_account_id.as_str(), self.to_account_id.as_str());
        let from_stream = stream_of::<Account>(from_id)?;
        let to_stream = stream_of::<Account>(to_id)?;
        let (from, to) = tokio::try_join!(
            commands.accounts.load(&from_stream),
            commands.accounts.load(&to_stream)
        )?;
        let (debit, credit) = decide_transfer(from_id, &from.state, to_id, &to.state, &transfer)?;
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
