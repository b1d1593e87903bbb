//! Which email reservations a user command moves: the address a user gives
//! up and the one it takes. Pure, beside `decide`: the caller decides each
//! move on the email's own reservation aggregate, in the same atomic
//! append as the user's events.

use super::{EmailCommand, User, UserCommand, normalize_email};
use crate::domain::DomainError;

/// The addresses a command releases and reserves, normalized.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmailMoves {
    pub release: Option<String>,
    pub reserve: Option<String>,
}

impl EmailMoves {
    /// Each move as a command on its email's reservation, releases first.
    pub fn commands(self, user_id: &str) -> impl Iterator<Item = (String, EmailCommand)> + '_ {
        let release = self.release.map(|email| {
            let command = EmailCommand::Release {
                user_id: user_id.to_owned(),
            };
            (email, command)
        });
        let reserve = self.reserve.map(|email| {
            let command = EmailCommand::Reserve {
                user_id: user_id.to_owned(),
            };
            (email, command)
        });
        release.into_iter().chain(reserve)
    }
}

/// The moves of `command` on `user`: registering reserves its email; an
/// update that really changes the email of a registered user releases the
/// old one and reserves the new; deleting a live user releases its email.
pub fn email_moves(user: &User, command: &UserCommand) -> Result<EmailMoves, DomainError> {
    Ok(match command {
        UserCommand::Register { email, .. } => EmailMoves {
            release: None,
            reserve: Some(normalize_email(email)?),
        },
        UserCommand::Update {
            email: Some(email), ..
        } => {
            let new = normalize_email(email)?;
            if user.registered && new != user.email {
                EmailMoves {
                    release: Some(user.email.clone()),
                    reserve: Some(new),
                }
            } else {
                EmailMoves::default()
            }
        }
        UserCommand::Update { email: None, .. } => EmailMoves::default(),
        UserCommand::Delete if user.registered && !user.deleted => EmailMoves {
            release: Some(user.email.clone()),
            reserve: None,
        },
        UserCommand::Delete => EmailMoves::default(),
    })
}
