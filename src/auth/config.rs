//! How callers authenticate: the flags, as Hasura names them.

use std::path::PathBuf;

use clap::Args;

use super::Role;

#[derive(Debug, Clone, Default, Args)]
pub struct AuthConfig {
    /// A request with `X-Chronicle-Admin-Secret: <secret>` is admin.
    #[arg(long, env = "CHRONICLE_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<String>,

    /// Accept HS256 bearer tokens signed with this secret.
    #[arg(long, env = "CHRONICLE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Accept RS256 or ES256 bearer tokens signed by the key in this PEM
    /// file (a public key).
    #[arg(long, env = "CHRONICLE_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// Tokens must have this `iss`.
    #[arg(long, env = "CHRONICLE_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Tokens must have this `aud`.
    #[arg(long, env = "CHRONICLE_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// The role of requests that carry no credentials (none: they are
    /// refused with UNAUTHENTICATED).
    #[arg(long, env = "CHRONICLE_ANONYMOUS_ROLE", value_enum)]
    pub anonymous_role: Option<Role>,

    /// Serve without any credentials configured on an address other than
    /// loopback (every caller is then admin).
    #[arg(long, env = "CHRONICLE_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,

    /// Refuse introspection (and serve no GraphiQL) to callers below admin.
    #[arg(long, env = "CHRONICLE_DISABLE_INTROSPECTION")]
    pub disable_introspection: bool,
}
