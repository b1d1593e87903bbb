//! `Viewer`: who the caller is, as the server sees its credentials.

use async_graphql::{Enum, SimpleObject};

use crate::auth::{Principal, Role as AuthRole};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum Role {
    Reader,
    Writer,
    Admin,
}

impl From<AuthRole> for Role {
    fn from(role: AuthRole) -> Self {
        match role {
            AuthRole::Reader => Self::Reader,
            AuthRole::Writer => Self::Writer,
            AuthRole::Admin => Self::Admin,
        }
    }
}

/// Who the caller is, as the server sees the request's credentials.
#[derive(Clone, Debug, SimpleObject)]
pub struct Viewer {
    pub role: Role,
    /// The token's sub claim; null for the admin secret or when auth is off.
    pub subject: Option<String>,
}

impl From<&Principal> for Viewer {
    fn from(p: &Principal) -> Self {
        Self {
            role: p.role.into(),
            subject: p.subject.clone(),
        }
    }
}
