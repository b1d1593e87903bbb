//! Who the caller is, and what their role may do.
//!
//! Credentials take the shape Hasura users know: an admin secret in the
//! `X-Chronicle-Admin-Secret` header, or a JWT bearer token whose `role`
//! claim names one of [`Role`] and whose `sub` is the actor recorded in
//! every event the caller's commands append. Over WebSocket the same
//! credentials come in the `connection_init` payload. `access.rs` is the
//! one table of which role each root field needs; the GraphQL layer
//! applies it to every operation before anything runs.
//!
//! With no secret and no JWT key configured, auth is off and every caller
//! is `admin`: fine on a developer's loopback, refused elsewhere unless the
//! operator says `--allow-unauthenticated` (see `app.rs`).

pub mod access;
mod config;
mod token;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use config::AuthConfig;
use token::TokenVerifier;

/// The header that carries the admin secret.
pub const ADMIN_SECRET_HEADER: &str = "x-chronicle-admin-secret";

/// What a caller may do; each role may do everything the ones before it
/// may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Role {
    /// Queries and subscriptions.
    Reader,
    /// Also commands and `appendEvents`.
    Writer,
    /// Also operating projections and snapshots.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Writer => "writer",
            Self::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Reader, Self::Writer, Self::Admin]
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(text))
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub role: Role,
    /// The token's `sub`: the actor in event metadata. None for the admin
    /// secret, anonymous callers, and when auth is off.
    pub subject: Option<String>,
    /// When the token stops being valid (a WebSocket ends its operations
    /// then).
    pub expires_at: Option<DateTime<Utc>>,
}

impl Principal {
    fn role(role: Role) -> Self {
        Self {
            role,
            subject: None,
            expires_at: None,
        }
    }
}

/// The credentials a request or connection carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials<'a> {
    None,
    AdminSecret(&'a str),
    /// An `Authorization` value, scheme included.
    Authorization(&'a str),
}

/// Why credentials were not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials, and anonymous callers have no role.
    #[error("credentials are required: an Authorization bearer token or the admin secret")]
    Missing,
    /// Credentials that do not check out (the reason is for the caller:
    /// it says which check failed, never what the secret is).
    #[error("invalid credentials: {0}")]
    Invalid(String),
}

/// Checks credentials against the configured secret and key.
pub struct Authenticator {
    admin_secret: Option<String>,
    tokens: Option<TokenVerifier>,
    anonymous: Option<Role>,
}

impl Authenticator {
    /// The authenticator `config` describes; `Err` says in one line what
    /// is wrong with it (an unreadable key file, say).
    pub fn new(config: &AuthConfig) -> Result<Self, String> {
        Ok(Self {
            admin_secret: config.admin_secret.clone().filter(|s| !s.is_empty()),
            tokens: TokenVerifier::from_config(config)?,
            anonymous: config.anonymous_role,
        })
    }

    /// Whether any credential is configured. When not, every caller is
    /// admin.
    pub fn enabled(&self) -> bool {
        self.admin_secret.is_some() || self.tokens.is_some()
    }

    pub fn authenticate(&self, credentials: Credentials<'_>) -> Result<Principal, AuthError> {
        if !self.enabled() {
            return Ok(Principal::role(Role::Admin));
        }
        match credentials {
            Credentials::None => self
                .anonymous
                .map(Principal::role)
                .ok_or(AuthError::Missing),
            Credentials::AdminSecret(given) => match &self.admin_secret {
                Some(secret) if constant_time_eq(given.as_bytes(), secret.as_bytes()) => {
                    Ok(Principal::role(Role::Admin))
                }
                _ => Err(AuthError::Invalid("the admin secret is wrong".into())),
            },
            Credentials::Authorization(value) => {
                let Some(token) = bearer(value) else {
                    return Err(AuthError::Invalid(
                        "the Authorization header must be `Bearer <token>`".into(),
                    ));
                };
                match &self.tokens {
                    Some(tokens) => tokens.verify(token),
                    None => Err(AuthError::Invalid("this server accepts no tokens".into())),
                }
            }
        }
    }
}

/// The credentials of an HTTP request's headers: the admin secret wins
/// when both are sent.
pub fn from_headers(headers: &axum::http::HeaderMap) -> Credentials<'_> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(secret) = text(ADMIN_SECRET_HEADER) {
        return Credentials::AdminSecret(secret);
    }
    match text("authorization") {
        Some(value) => Credentials::Authorization(value),
        None => Credentials::None,
    }
}

/// The credentials of a WebSocket `connection_init` payload, in any of the
/// shapes clients send: `{"headers": {...}}` or the headers at the top
/// level, names in any case.
pub fn from_init_payload(payload: &Value) -> Credentials<'_> {
    fn lookup<'a>(object: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.as_str())
    }
    let mut places = Vec::new();
    if let Some(headers) = payload.get("headers").and_then(Value::as_object) {
        places.push(headers);
    }
    if let Some(top) = payload.as_object() {
        places.push(top);
    }
    for object in places {
        if let Some(secret) = lookup(object, ADMIN_SECRET_HEADER) {
            return Credentials::AdminSecret(secret);
        }
        if let Some(value) = lookup(object, "authorization") {
            return Credentials::Authorization(value);
        }
    }
    Credentials::None
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares without stopping at the first difference, so the time taken
/// says nothing about how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests;
