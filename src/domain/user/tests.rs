//! A user's rules, as given/when/then. The email's reservation is tested in
//! `email.rs`.

use super::*;
use crate::domain::DomainError::{AlreadyExists, Invalid, NotFound};
use crate::domain::testing::given;

fn registered(email: &str, name: &str) -> UserEvent {
    UserEvent::UserRegistered {
        email: email.into(),
        name: name.into(),
    }
}

fn ada() -> UserEvent {
    registered("ada@example.com", "Ada")
}

fn deleted() -> UserEvent {
    UserEvent::UserDeleted {}
}

fn register(email: &str, name: &str) -> UserCommand {
    UserCommand::Register {
        email: email.into(),
        name: name.into(),
    }
}

fn update(email: Option<&str>, name: Option<&str>) -> UserCommand {
    UserCommand::Update {
        email: email.map(Into::into),
        name: name.map(Into::into),
    }
}

fn updated(email: Option<&str>, name: Option<&str>) -> UserEvent {
    UserEvent::UserUpdated {
        email: email.map(Into::into),
        name: name.map(Into::into),
    }
}

#[test]
fn registering_stores_the_normalized_email_and_trimmed_name() {
    given::<User>([])
        .when(register(" Ada@Example.com ", "  Ada  "))
        .then([ada()]);
}

#[test]
fn registering_twice_already_exists() {
    given::<User>([ada()])
        .when(register("ada@example.com", "Ada"))
        .then_err(AlreadyExists);
}

#[test]
fn registering_a_deleted_user_again_already_exists() {
    given::<User>([ada(), deleted()])
        .when(register("ada@example.com", "Ada"))
        .then_err(AlreadyExists);
}

#[test]
fn registering_with_a_malformed_email_is_invalid() {
    given::<User>([])
        .when(register("ada.example.com", "Ada"))
        .then_err(Invalid);
}

#[test]
fn an_empty_name_is_invalid() {
    given::<User>([])
        .when(register("ada@example.com", "  "))
        .then_err(Invalid);
    given::<User>([ada()])
        .when(update(None, Some("")))
        .then_err(Invalid);
}

#[test]
fn a_name_over_200_characters_is_invalid() {
    given::<User>([])
        .when(register("ada@example.com", &"x".repeat(201)))
        .then_err(Invalid);
    given::<User>([ada()])
        .when(update(None, Some(&"x".repeat(201))))
        .then_err(Invalid);
    given::<User>([])
        .when(register("ada@example.com", &"é".repeat(200)))
        .events();
}

#[test]
fn updating_a_never_registered_user_is_not_found() {
    given::<User>([])
        .when(update(None, Some("Ada")))
        .then_err(NotFound);
}

#[test]
fn deleting_a_never_registered_user_is_not_found() {
    given::<User>([])
        .when(UserCommand::Delete)
        .then_err(NotFound);
}

#[test]
fn updating_a_deleted_user_is_not_found() {
    given::<User>([ada(), deleted()])
        .when(update(None, Some("Ada L.")))
        .then_err(NotFound);
}

#[test]
fn deleting_a_deleted_user_is_not_found() {
    given::<User>([ada(), deleted()])
        .when(UserCommand::Delete)
        .then_err(NotFound);
}

#[test]
fn deleting_a_user_records_the_deletion() {
    given::<User>([ada()])
        .when(UserCommand::Delete)
        .then([deleted()]);
}

#[test]
fn updating_with_neither_field_is_invalid() {
    given::<User>([ada()])
        .when(update(None, None))
        .then_err(Invalid);
}

#[test]
fn updating_records_only_the_fields_that_changed() {
    given::<User>([ada()])
        .when(update(Some("ada@example.com"), Some("Ada Lovelace")))
        .then([updated(None, Some("Ada Lovelace"))]);
    given::<User>([ada()])
        .when(update(Some("Ada@Example.ORG"), Some("Ada")))
        .then([updated(Some("ada@example.org"), None)]);
    given::<User>([ada()])
        .when(update(Some("lovelace@example.com"), Some("Lady Ada")))
        .then([updated(Some("lovelace@example.com"), Some("Lady Ada"))]);
}

#[test]
fn an_update_to_the_current_values_changes_nothing() {
    given::<User>([ada()])
        .when(update(Some(" ADA@example.com"), Some(" Ada ")))
        .then([]);
    given::<User>([ada()])
        .when(update(None, Some("Ada")))
        .then([]);
}

#[test]
fn an_update_with_a_malformed_email_is_invalid_even_if_the_name_is_unchanged() {
    given::<User>([ada()])
        .when(update(Some("not-an-email"), Some("Ada")))
        .then_err(Invalid);
}

#[test]
fn the_state_follows_registration_updates_and_deletion() {
    let history = [
        ada(),
        updated(Some("ada@example.org"), None),
        updated(None, Some("Ada Lovelace")),
    ];
    let user = User::default().fold(&history);
    assert_eq!(
        user,
        User {
            registered: true,
            email: "ada@example.org".into(),
            name: "Ada Lovelace".into(),
            deleted: false,
        }
    );
    assert!(user.apply(&deleted()).deleted);
}

#[test]
fn users_live_in_the_user_category() {
    assert_eq!(User::CATEGORY, "user");
    assert_eq!(EmailReservation::CATEGORY, "useremail");
}

/// The moves of `command` on a user with `history`.
#[track_caller]
fn moves(history: &[UserEvent], command: UserCommand) -> EmailMoves {
    let user = User::default().fold(history);
    email_moves(&user, &command).expect("moves")
}

fn moved(release: Option<&str>, reserve: Option<&str>) -> EmailMoves {
    EmailMoves {
        release: release.map(Into::into),
        reserve: reserve.map(Into::into),
    }
}

#[test]
fn registering_reserves_the_normalized_email() {
    assert_eq!(
        moves(&[], register(" Ada@Example.com ", "Ada")),
        moved(None, Some("ada@example.com"))
    );
}

#[test]
fn changing_the_email_releases_the_old_and_reserves_the_new() {
    assert_eq!(
        moves(&[ada()], update(Some("Lovelace@Example.com"), None)),
        moved(Some("ada@example.com"), Some("lovelace@example.com"))
    );
}

#[test]
fn an_update_to_the_same_email_or_of_the_name_moves_nothing() {
    assert_eq!(
        moves(&[ada()], update(Some(" ADA@example.com"), None)),
        moved(None, None)
    );
    assert_eq!(
        moves(&[ada()], update(None, Some("Ada L."))),
        moved(None, None)
    );
}

#[test]
fn deleting_a_live_user_releases_its_email_and_a_deleted_one_nothing() {
    assert_eq!(
        moves(&[ada()], UserCommand::Delete),
        moved(Some("ada@example.com"), None)
    );
    assert_eq!(
        moves(&[ada(), deleted()], UserCommand::Delete),
        moved(None, None)
    );
}

#[test]
fn releases_come_before_reservations() {
    let order: Vec<(String, EmailCommand)> = moved(Some("old@x.com"), Some("new@x.com"))
        .commands("u")
        .collect();
    assert_eq!(
        order,
        [
            (
                "old@x.com".to_owned(),
                EmailCommand::Release {
                    user_id: "u".into()
                }
            ),
            (
                "new@x.com".to_owned(),
                EmailCommand::Reserve {
                    user_id: "u".into()
                }
            ),
        ]
    );
}
