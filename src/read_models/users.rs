//! Users: one row per user with its email, name, version and whether it
//! was deleted (deleted users stay, marked).
//!
//! Only `user-` streams count: the `useremail-` streams that reserve an
//! email are another aggregate's, whose category merely starts alike. A
//! batch is applied like AccountBalances': the rows it touches are
//! recalled or loaded once, folded with the pure [`fold`], and written
//! back in one upsert.

use std::collections::{BTreeSet, HashMap};

use entity::users as row;
pub use entity::users::Model as UserRow;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseExecutor, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter,
};

use serde_json::json;

use super::memo;
use super::rows::{Kind, RowsWrite, time};
use super::{Projection, ProjectionError, Target, Writes};
use crate::domain::Aggregate;
use crate::domain::user::{User, UserEvent};
use crate::paging::{ListOrder, Slice};
use crate::store::RecordedEvent;

pub struct Users;

#[async_trait::async_trait]
impl Projection for Users {
    fn name(&self) -> &'static str {
        "Users"
    }

    fn category(&self) -> &'static str {
        User::CATEGORY
    }

    async fn apply(
        &self,
        to: &mut Target<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let events = user_events(events)?;
        if events.is_empty() {
            return Ok(());
        }
        let ids: BTreeSet<String> = events.iter().map(|(id, _, _)| id.clone()).collect();
        let reads = to.reads;
        let mut rows = memo::recall(to.memo, ids, |missing| load(reads, missing)).await?;
        for (id, recorded, event) in &events {
            let current = rows.remove(id);
            rows.insert(id.clone(), fold(current, id, recorded, event)?);
        }
        upsert(to.writes, rows.values());
        memo::keep(to.memo, rows);
        Ok(())
    }

    async fn reset(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        row::Entity::delete_many().exec(txn).await?;
        Ok(())
    }
}

/// The user events of a batch, with their user ids, decoded.
fn user_events(
    events: &[RecordedEvent],
) -> Result<Vec<(String, &RecordedEvent, UserEvent)>, ProjectionError> {
    super::decode(events, User::CATEGORY)
}

/// The row after one event. Pure: `apply` and the tests fold with it.
pub fn fold(
    current: Option<row::Model>,
    user_id: &str,
    recorded: &RecordedEvent,
    event: &UserEvent,
) -> Result<row::Model, ProjectionError> {
    if let UserEvent::UserRegistered { email, name } = event {
        return Ok(row::Model {
            user_id: user_id.to_owned(),
            email: email.clone(),
            name: name.clone(),
            deleted: false,
            version: recorded.version,
            created_at: recorded.recorded_at,
            updated_at: recorded.recorded_at,
        });
    }
    let mut row = current.ok_or_else(|| {
        ProjectionError::Event(format!(
            "{} at position {} is for user {user_id}, who was never registered",
            recorded.event_type, recorded.position
        ))
    })?;
    match event {
        UserEvent::UserUpdated { email, name } => {
            if let Some(email) = email {
                row.email.clone_from(email);
            }
            if let Some(name) = name {
                row.name.clone_from(name);
            }
        }
        UserEvent::UserDeleted {} => row.deleted = true,
        UserEvent::UserRegistered { .. } => {}
    }
    row.version = recorded.version;
    row.updated_at = recorded.recorded_at;
    Ok(row)
}

/// The stored rows of `ids`, by id.
async fn load(
    reads: &DatabaseExecutor<'_>,
    ids: Vec<String>,
) -> Result<HashMap<String, row::Model>, DbErr> {
    let rows = row::Entity::find()
        .filter(row::Column::UserId.is_in(ids))
        .all(reads)
        .await?;
    Ok(rows.into_iter().map(|m| (m.user_id.clone(), m)).collect())
}

/// The rows' upsert (`rows.rs`).
static UPSERT: RowsWrite = RowsWrite::new(
    "users",
    &[
        ("user_id", Kind::Text),
        ("email", Kind::Text),
        ("name", Kind::Text),
        ("deleted", Kind::Bool),
        ("version", Kind::BigInt),
        ("created_at", Kind::Time),
        ("updated_at", Kind::Time),
    ],
    Some(&["user_id"]),
);

fn upsert<'a>(writes: &mut Writes, rows: impl IntoIterator<Item = &'a row::Model>) {
    let rows = rows
        .into_iter()
        .map(|m| {
            json!({
                "user_id": m.user_id, "email": m.email, "name": m.name,
                "deleted": m.deleted, "version": m.version,
                "created_at": time(m.created_at), "updated_at": time(m.updated_at),
            })
        })
        .collect();
    writes.push_rows(&UPSERT, rows);
}

// ------------------------------------------------------------- queries

/// One user's row, deleted or not.
pub async fn get<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<Option<UserRow>, DbErr> {
    row::Entity::find_by_id(user_id.to_owned()).one(db).await
}

/// A slice of the users, listed by id.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    slice: &Slice<String>,
) -> Result<Vec<UserRow>, DbErr> {
    slice
        .apply(
            row::Entity::find(),
            row::Column::UserId,
            ListOrder::Ascending,
        )
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::testing::recorded;

    fn registered() -> UserEvent {
        UserEvent::UserRegistered {
            email: "ada@example.com".into(),
            name: "Ada".into(),
        }
    }

    #[test]
    fn an_update_changes_only_the_fields_it_names() {
        let row = fold(None, "u", &recorded("user-u", 1, 1), &registered()).unwrap();
        let update = UserEvent::UserUpdated {
            email: None,
            name: Some("Ada L.".into()),
        };
        let row = fold(Some(row), "u", &recorded("user-u", 2, 5), &update).unwrap();
        assert_eq!(
            (row.email.as_str(), row.name.as_str()),
            ("ada@example.com", "Ada L.")
        );
        assert_eq!(row.version, 2);
    }

    #[test]
    fn a_deleted_user_stays_marked_deleted() {
        let row = fold(None, "u", &recorded("user-u", 1, 1), &registered()).unwrap();
        let row = fold(
            Some(row),
            "u",
            &recorded("user-u", 2, 2),
            &UserEvent::UserDeleted {},
        )
        .unwrap();
        assert!(row.deleted);
        assert_eq!(row.version, 2);
    }

    #[test]
    fn email_reservation_streams_are_not_users() {
        let mut reservation = recorded("useremail-0b7f", 1, 1);
        reservation.event_type = "EmailReserved".into();
        assert!(user_events(&[reservation]).unwrap().is_empty());
    }

    #[test]
    fn an_update_of_a_user_never_registered_stops_the_projection() {
        let err = fold(
            None,
            "u",
            &recorded("user-u", 1, 1),
            &UserEvent::UserDeleted {},
        )
        .unwrap_err();
        assert!(matches!(err, ProjectionError::Event(m) if m.contains("never registered")));
    }
}
