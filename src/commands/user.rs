//! User commands: register, update, delete.
//!
//! An email belongs to at most one live user. That rule spans users, so it
//! lives on a reservation stream per email (`useremail-{hash}`), appended in
//! the same atomic append as the user's own events: registering reserves,
//! changing the email releases the old one and reserves the new one,
//! deleting releases. Two users racing for one email both expect the
//! reservation's version; one wins, the other sees ALREADY_EXISTS on retry.

use serde::Serialize;
use uuid::Uuid;

use super::{
    CacheUpdate, CommandContext, CommandError, CommandOutput, Commands, Plan, append_of, lock_key,
    single_plan, stream_of,
};
use crate::domain::Aggregate;
use crate::domain::user::{EmailCommand, User, UserCommand, email_stream_id, normalize_email};
use crate::store::StreamId;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterUser {
    /// Generated when absent.
    pub user_id: Option<String>,
    pub email: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateUser {
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub expected_version: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteUser {
    pub user_id: String,
    pub expected_version: Option<i64>,
}

impl Commands {
    pub async fn register_user(
        &self,
        ctx: &CommandContext,
        input: RegisterUser,
    ) -> Result<CommandOutput, CommandError> {
        let user_id = input
            .user_id
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        let logged = serde_json::to_value(&input).unwrap_or_default();
        let input = &input;
        let user_id = &user_id;
        let key = lock_key::<User>(user_id);
        self.run(ctx, "registerUser", logged, false, &[&key], move || {
            Box::pin(async move {
                let command = UserCommand::Register {
                    email: input.email.clone(),
                    name: input.name.clone(),
                };
                let email = normalize_email(&input.email)?;
                self.decide_user(ctx, user_id, None, &command, None, Some(&email))
                    .await
            })
        })
        .await
    }

    pub async fn update_user(
        &self,
        ctx: &CommandContext,
        input: UpdateUser,
    ) -> Result<CommandOutput, CommandError> {
        let logged = serde_json::to_value(&input).unwrap_or_default();
        let input = &input;
        let key = lock_key::<User>(&input.user_id);
        self.run(
            ctx,
            "updateUser",
            logged,
            input.expected_version.is_some(),
            &[&key],
            move || {
                Box::pin(async move {
                    let command = UserCommand::Update {
                        email: input.email.clone(),
                        name: input.name.clone(),
                    };
                    let new_email = input.email.as_deref().map(normalize_email).transpose()?;
                    let stream = stream_of::<User>(&input.user_id)?;
                    let current = self
                        .users
                        .load_expecting(&stream, input.expected_version)
                        .await?;
                    let old_email = current.state.email.clone();
                    // Only a real change of address moves the reservation.
                    let moving = new_email
                        .as_ref()
                        .filter(|e| **e != old_email && current.state.registered);
                    let release = moving.map(|_| old_email.as_str());
                    self.decide_user(
                        ctx,
                        &input.user_id,
                        input.expected_version,
                        &command,
                        release,
                        moving.map(|s| s.as_str()),
                    )
                    .await
                })
            },
        )
        .await
    }

    pub async fn delete_user(
        &self,
        ctx: &CommandContext,
        input: DeleteUser,
    ) -> Result<CommandOutput, CommandError> {
        let logged = serde_json::to_value(&input).unwrap_or_default();
        let input = &input;
        let key = lock_key::<User>(&input.user_id);
        self.run(
            ctx,
            "deleteUser",
            logged,
            input.expected_version.is_some(),
            &[&key],
            move || {
                Box::pin(async move {
                    let stream = stream_of::<User>(&input.user_id)?;
                    let current = self
                        .users
                        .load_expecting(&stream, input.expected_version)
                        .await?;
                    let email = current.state.email.clone();
                    let release = (current.state.registered && !current.state.deleted)
                        .then_some(email.as_str());
                    self.decide_user(
                        ctx,
                        &input.user_id,
                        input.expected_version,
                        &UserCommand::Delete,
                        release,
                        None,
                    )
                    .await
                })
            },
        )
        .await
    }

    /// Decides `command` on the user, then releases and reserves emails as
    /// given, all in one plan.
    async fn decide_user(
        &self,
        ctx: &CommandContext,
        user_id: &str,
        expected: Option<i64>,
        command: &UserCommand,
        release: Option<&str>,
        reserve: Option<&str>,
    ) -> Result<Plan, CommandError> {
        let stream = stream_of::<User>(user_id)?;
        let loaded = self.users.load_expecting(&stream, expected).await?;
        let events = loaded.state.decide(command)?;
        let mut plan = single_plan(stream, loaded, events, ctx, CacheUpdate::User)?;
        if plan.appends.is_empty() {
            return Ok(plan);
        }
        let moves = [
            release.map(|e| {
                (
                    e,
                    EmailCommand::Release {
                        user_id: user_id.to_owned(),
                    },
                )
            }),
            reserve.map(|e| {
                (
                    e,
                    EmailCommand::Reserve {
                        user_id: user_id.to_owned(),
                    },
                )
            }),
        ];
        for (email, command) in moves.into_iter().flatten() {
            let stream = StreamId::parse(email_stream_id(email))?;
            let loaded = self.emails.load(&stream).await?;
            let events = loaded.state.decide(&command)?;
            if let Some(append) = append_of(&stream, &loaded, &events, ctx)? {
                plan.appends.push(append);
                plan.cache
                    .push(CacheUpdate::Email(stream, loaded.state.fold(&events)));
            }
        }
        Ok(plan)
    }
}
