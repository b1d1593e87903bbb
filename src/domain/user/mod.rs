//! A user: registered with an email and a name, updated, deleted.
//!
//! Where a command is decided: `decide.rs`. An email belongs to one user at
//! a time; a user stream cannot see the others, so that rule is held by a
//! second aggregate, the email's reservation (`email.rs`), which the caller
//! decides beside the user for each move `moves.rs` names.

mod decide;
mod email;
mod events;
mod moves;

#[cfg(test)]
mod tests;

pub use decide::UserCommand;
pub use email::{EmailCommand, EmailReservation, email_stream_id, normalize_email};
// Nothing names the reservation's events yet (the command layer reaches
// them as `EmailReservation::Event`), but they are the aggregate's API.
#[allow(unused_imports)]
pub use email::EmailEvent;
pub use events::UserEvent;
#[cfg(test)]
pub use moves::EmailMoves;
pub use moves::email_moves;

use super::{Aggregate, DomainError};

/// A user's state, folded from its events. `email` is normalized.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub registered: bool,
    pub email: String,
    pub name: String,
    pub deleted: bool,
}

impl Aggregate for User {
    type Event = UserEvent;
    type Command = UserCommand;

    const CATEGORY: &'static str = "user";

    fn apply(mut self, event: &UserEvent) -> Self {
        match event {
            UserEvent::UserRegistered { email, name } => {
                self.registered = true;
                self.email.clone_from(email);
                self.name.clone_from(name);
            }
            UserEvent::UserUpdated { email, name } => {
                if let Some(email) = email {
                    self.email.clone_from(email);
                }
                if let Some(name) = name {
                    self.name.clone_from(name);
                }
            }
            UserEvent::UserDeleted {} => self.deleted = true,
        }
        self
    }

    fn decide(&self, command: &UserCommand) -> Result<Vec<UserEvent>, DomainError> {
        decide::decide(self, command)
    }
}
