//! User commands: register, update, delete.
//!
//! An email belongs to at most one live user. That rule spans users, so it
//! lives on a reservation stream per email (`useremail-{hash}`), appended in
//! the same atomic append as the user's own events: the domain says which
//! reservations a command moves (`domain::user::email_moves`), and each is
//! decided on its reservation here. Two users racing for one email both
//! expect the reservation's version; one wins, the other sees
//! ALREADY_EXISTS on retry.

use serde::Serialize;
use uuid::Uuid;

use super::command::{Command, Plan};
use super::{
    CacheUpdate, CommandContext, CommandError, Commands, append_of, single_plan, stream_of,
};
use crate::domain::Aggregate;
use crate::domain::user::{User, UserCommand, email_moves, email_stream_id};
use crate::store::StreamId;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterUser {
    /// The client's id for the user; one is generated when absent.
    pub user_id: Option<String>,
    pub email: String,
    pub name: String,
    /// The id the user gets, chosen once for every retry; not logged.
    #[serde(skip)]
    id: String,
}

impl RegisterUser {
    pub fn new(user_id: Option<String>, email: String, name: String) -> Self {
        let id = user_id
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        Self {
            user_id,
            email,
            name,
            id,
        }
    }
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

impl Command for RegisterUser {
    const NAME: &'static str = "registerUser";

    fn locks(&self) -> Vec<String> {
        vec![lock_of(&self.id)]
    }

    async fn plan(&self, ctx: &CommandContext, commands: &Commands) -> Result<Plan, CommandError> {
        let register = UserCommand::Register {
            email: self.email.clone(),
            name: self.name.clone(),
        };
        decide(commands, ctx, &self.id, None, &register).await
    }
}

impl Command for UpdateUser {
    const NAME: &'static str = "updateUser";

    fn locks(&self) -> Vec<String> {
        vec![lock_of(&self.user_id)]
    }

    fn expected_version(&self) -> Option<i64> {
        self.expected_version
    }

    async fn plan(&self, ctx: &CommandContext, commands: &Commands) -> Result<Plan, CommandError> {
        let update = UserCommand::Update {
            email: self.email.clone(),
            name: self.name.clone(),
        };
        decide(commands, ctx, &self.user_id, self.expected_version, &update).await
    }
}

impl Command for DeleteUser {
    const NAME: &'static str = "deleteUser";

    fn locks(&self) -> Vec<String> {
        vec![lock_of(&self.user_id)]
    }

    fn expected_version(&self) -> Option<i64> {
        self.expected_version
    }

    async fn plan(&self, ctx: &CommandContext, commands: &Commands) -> Result<Plan, CommandError> {
        let delete = UserCommand::Delete;
        decide(commands, ctx, &self.user_id, self.expected_version, &delete).await
    }
}

fn lock_of(id: &str) -> String {
    format!("{}-{id}", User::CATEGORY)
}

/// Loads the user once, decides `command` on it, then decides the email
/// reservations it moves, all in one plan.
async fn decide(
    commands: &Commands,
    ctx: &CommandContext,
    user_id: &str,
    expected: Option<i64>,
    command: &UserCommand,
) -> Result<Plan, CommandError> {
    let stream = stream_of::<User>(user_id)?;
    let loaded = commands.users.load_expecting(&stream, expected).await?;
    let events = loaded.state.decide(command)?;
    let moves = email_moves(&loaded.state, command)?;
    let mut plan = single_plan(stream, loaded, events, ctx, CacheUpdate::User)?;
    if plan.appends.is_empty() {
        return Ok(plan);
    }
    for (email, move_command) in moves.commands(user_id) {
        let stream = StreamId::parse(email_stream_id(&email))?;
        let reservation = commands.emails.load(&stream).await?;
        let events = reservation.state.decide(&move_command)?;
        if let Some(append) = append_of(&stream, &reservation, &events, ctx)? {
            plan.appends.push(append);
            plan.cache
                .push(CacheUpdate::Email(stream, reservation.state.fold(&events)));
        }
    }
    Ok(plan)
}
