//! An email address's reservation: the aggregate that makes an email belong
//! to at most one user. Registering (or changing to) an email reserves it on
//! its own stream, `useremail-{hash}`, in the same atomic batch as the
//! user's event; a second user's reservation of it then fails to decide, or
//! loses the race on the stream's expected version.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Aggregate, DomainError, DomainEvent};

const MAX_EMAIL_CHARS: usize = 254;
const MAX_LOCAL_PART_CHARS: usize = 64;

/// The namespace of `email_stream_id`'s v5 UUIDs. Changing it would orphan
/// every reservation already stored, so it never changes.
pub const EMAIL_NAMESPACE: Uuid = Uuid::from_u128(0xa41f_2e42_c51c_45fe_a980_d3b4_877b_070e);

/// The reservation stream of an email, which must already be normalized.
/// Hashed because an email may be longer than a stream id may be (255
/// bytes), and so that stream ids do not spell out addresses.
pub fn email_stream_id(normalized_email: &str) -> String {
    format!(
        "{}-{}",
        EmailReservation::CATEGORY,
        Uuid::new_v5(&EMAIL_NAMESPACE, normalized_email.as_bytes())
    )
}

/// Trims, lowercases and checks an email address.
///
/// Lowercasing the local part is stricter than RFC 5321, which lets it be
/// case-sensitive; no mail system in use relies on that, and without it
/// "Ada@x.com" and "ada@x.com" could be two users. The check is a sanity
/// check, not RFC 5322: the proof that an address works is a mail to it.
pub fn normalize_email(input: &str) -> Result<String, DomainError> {
    let invalid = |reason: &str| Err(DomainError::Invalid(format!("email {reason}")));
    let email = input.trim().to_lowercase();
    if email.is_empty() {
        return invalid("must not be empty");
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return invalid(&format!("must be at most {MAX_EMAIL_CHARS} characters"));
    }
    if email.chars().any(char::is_whitespace) {
        return invalid("must not contain whitespace");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return invalid("must contain an @");
    };
    if domain.contains('@') {
        return invalid("must contain exactly one @");
    }
    if local.is_empty() {
        return invalid("must have a name before the @");
    }
    if local.chars().count() > MAX_LOCAL_PART_CHARS {
        return invalid(&format!(
            "must have at most {MAX_LOCAL_PART_CHARS} characters before the @"
        ));
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return invalid("must have a domain such as example.com after the @");
    }
    Ok(email)
}

/// Who holds an email: the id of the user it is registered to, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailReservation {
    pub holder: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum EmailEvent {
    EmailReserved { user_id: String },
    EmailReleased { user_id: String },
}

impl DomainEvent for EmailEvent {
    fn schema_version(_event_type: &str) -> i32 {
        1
    }
}

/// Reserving and releasing are idempotent for their user, so a caller that
/// retries a registration or a deletion does not trip over its own first
/// attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailCommand {
    Reserve { user_id: String },
    Release { user_id: String },
}

impl Aggregate for EmailReservation {
    type Event = EmailEvent;
    type Command = EmailCommand;

    const CATEGORY: &'static str = "useremail";

    fn apply(mut self, event: &EmailEvent) -> Self {
        match event {
            EmailEvent::EmailReserved { user_id } => self.holder = Some(user_id.clone()),
            EmailEvent::EmailReleased { user_id } => {
                if self.holder.as_ref() == Some(user_id) {
                    self.holder = None;
                }
            }
        }
        self
    }

    fn decide(&self, command: &EmailCommand) -> Result<Vec<EmailEvent>, DomainError> {
        match command {
            EmailCommand::Reserve { user_id } => match &self.holder {
                None => Ok(vec![EmailEvent::EmailReserved {
                    user_id: user_id.clone(),
                }]),
                Some(holder) if holder == user_id => Ok(vec![]),
                Some(_) => Err(DomainError::AlreadyExists(
                    "email is already registered to another user".to_owned(),
                )),
            },
            EmailCommand::Release { user_id } => {
                if self.holder.as_ref() == Some(user_id) {
                    Ok(vec![EmailEvent::EmailReleased {
                        user_id: user_id.clone(),
                    }])
                } else {
                    Ok(vec![])
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DomainError::AlreadyExists;
    use crate::domain::testing::given;

    fn reserved(user_id: &str) -> EmailEvent {
        EmailEvent::EmailReserved {
            user_id: user_id.into(),
        }
    }

    fn released(user_id: &str) -> EmailEvent {
        EmailEvent::EmailReleased {
            user_id: user_id.into(),
        }
    }

    fn reserve(user_id: &str) -> EmailCommand {
        EmailCommand::Reserve {
            user_id: user_id.into(),
        }
    }

    fn release(user_id: &str) -> EmailCommand {
        EmailCommand::Release {
            user_id: user_id.into(),
        }
    }

    #[test]
    fn reserving_a_free_email_gives_it_to_the_user() {
        given::<EmailReservation>([])
            .when(reserve("u1"))
            .then([reserved("u1")]);
    }

    #[test]
    fn reserving_an_email_held_by_another_user_already_exists() {
        given::<EmailReservation>([reserved("u1")])
            .when(reserve("u2"))
            .then_err(AlreadyExists);
    }

    #[test]
    fn reserving_an_email_the_user_already_holds_changes_nothing() {
        given::<EmailReservation>([reserved("u1")])
            .when(reserve("u1"))
            .then([]);
    }

    #[test]
    fn releasing_by_the_holder_frees_the_email() {
        given::<EmailReservation>([reserved("u1")])
            .when(release("u1"))
            .then([released("u1")]);
    }

    #[test]
    fn releasing_by_another_user_changes_nothing() {
        given::<EmailReservation>([reserved("u1")])
            .when(release("u2"))
            .then([]);
        given::<EmailReservation>([]).when(release("u2")).then([]);
    }

    #[test]
    fn a_released_email_can_be_reserved_by_another_user() {
        given::<EmailReservation>([reserved("u1"), released("u1")])
            .when(reserve("u2"))
            .then([reserved("u2")]);
    }

    #[test]
    fn reservation_events_round_trip_through_their_stored_form() {
        for event in [reserved("u1"), released("u1")] {
            let (event_type, data) = event.to_parts().unwrap();
            assert_eq!(data, serde_json::json!({ "userId": "u1" }));
            assert_eq!(EmailEvent::from_parts(&event_type, data).unwrap(), event);
        }
    }

    #[test]
    fn the_stream_id_is_a_stable_hash_in_the_useremail_category() {
        let id = email_stream_id("ada@example.com");
        assert_eq!(id, email_stream_id("ada@example.com"));
        assert_ne!(id, email_stream_id("bob@example.com"));
        assert!(id.starts_with("useremail-"));
        assert_eq!(id.len(), "useremail-".len() + 36);
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(185));
        assert_eq!(email_stream_id(&long).len(), id.len());
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalize_email("  Ada.Lovelace@Example.COM \n").unwrap(),
            "ada.lovelace@example.com"
        );
        assert_eq!(
            normalize_email("a+tag@sub.example.co.uk").unwrap(),
            "a+tag@sub.example.co.uk"
        );
    }

    #[test]
    fn malformed_emails_are_invalid() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@@example.com",
            "ada@b@example.com",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@.com",
            "ada@example.",
            "ada@example..com",
            "ada lovelace@example.com",
            "ada@exa\tmple.com",
        ] {
            assert!(
                matches!(normalize_email(bad), Err(DomainError::Invalid(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn email_length_limits_are_64_before_the_at_and_254_in_all() {
        let local64 = "a".repeat(64);
        assert!(normalize_email(&format!("{local64}@example.com")).is_ok());
        assert!(normalize_email(&format!("{local64}a@example.com")).is_err());
        // 64 + 1 + 185 + 4 = 254
        let longest = format!("{local64}@{}.com", "b".repeat(185));
        assert!(normalize_email(&longest).is_ok());
        assert!(normalize_email(&format!("{local64}@{}.com", "b".repeat(186))).is_err());
    }

    #[test]
    fn the_error_says_what_is_wrong() {
        assert_eq!(
            normalize_email("ada@localhost").unwrap_err().to_string(),
            "email must have a domain such as example.com after the @"
        );
    }
}
