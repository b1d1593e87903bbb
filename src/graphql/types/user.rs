//! `User` (the Users read model).

use crate::read_models::users::UserRow;
use async_graphql::{ID, SimpleObject};

use crate::graphql::scalars::{DateTime, Long};

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
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

impl From<UserRow> for User {
    fn from(m: UserRow) -> Self {
        Self {
            id: ID(m.user_id),
            email: m.email,
            name: m.name,
            deleted: m.deleted,
            version: Long(m.version),
            created_at: m.created_at.into(),
            updated_at: m.updated_at.into(),
        }
    }
}
