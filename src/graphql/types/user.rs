//! `User` (the Users read model).

use crate::read_models::users::UserRow;
use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};

use crate::graphql::scalars::Long;

/// A user as the Users projection sees it; deleted users are kept, marked.
#[derive(Clone, Debug, SimpleObject)]
pub struct User {
    pub id: ID,
    /// Normalized: trimmed and lowercased.
    pub email: String,
    pub name: String,
    pub deleted: bool,
    /// The user stream version this row reflects.
    pub version: Long,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(m: UserRow) -> Self {
        Self {
            id: ID(m.user_id),
            email: m.email,
            name: m.name,
            deleted: m.deleted,
            version: Long(m.version),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}
