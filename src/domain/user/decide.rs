//! Where a user's commands are decided.

use super::{User, UserEvent, normalize_email};
use crate::domain::DomainError;

const MAX_NAME_CHARS: usize = 200;

/// What a client can ask of a user. The email's uniqueness is not decided
/// here but on its reservation (`EmailCommand`), which the caller decides
/// beside this for every new email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserCommand {
    Register {
        email: String,
        name: String,
    },
    Update {
        email: Option<String>,
        name: Option<String>,
    },
    Delete,
}

pub(super) fn decide(user: &User, command: &UserCommand) -> Result<Vec<UserEvent>, DomainError> {
    match command {
        UserCommand::Register { email, name } => {
            if user.registered {
                return Err(DomainError::AlreadyExists("user already exists".to_owned()));
            }
            Ok(vec![UserEvent::UserRegistered {
                email: normalize_email(email)?,
                name: normalize_name(name)?,
            }])
        }
        UserCommand::Update { email, name } => {
            ensure_active(user)?;
            if email.is_none() && name.is_none() {
                return Err(DomainError::Invalid("nothing to update".to_owned()));
            }
            // Both are validated before either is compared, so an update
            // that repeats the current email with a bad name still fails.
            let email = email.as_deref().map(normalize_email).transpose()?;
            let name = name.as_deref().map(normalize_name).transpose()?;
            let email = email.filter(|email| *email != user.email);
            let name = name.filter(|name| *name != user.name);
            if email.is_none() && name.is_none() {
                return Ok(vec![]);
            }
            Ok(vec![UserEvent::UserUpdated { email, name }])
        }
        UserCommand::Delete => {
            ensure_active(user)?;
            Ok(vec![UserEvent::UserDeleted {}])
        }
    }
}

fn ensure_active(user: &User) -> Result<(), DomainError> {
    if !user.registered {
        return Err(DomainError::NotFound("user does not exist".to_owned()));
    }
    // A deleted user is gone to the client, so NotFound as well; the
    // message tells the two apart for whoever reads the log.
    if user.deleted {
        return Err(DomainError::NotFound("user was deleted".to_owned()));
    }
    Ok(())
}

fn normalize_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::Invalid("name must not be empty".to_owned()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(DomainError::Invalid(format!(
            "name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}
