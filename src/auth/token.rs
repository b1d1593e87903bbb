//! Bearer tokens: JWTs verified with the configured secret (HS256) or
//! public key (RS256, ES256), `exp` required and `nbf` checked with a small
//! leeway, `iss` and `aud` when configured. The `role` claim gives the
//! role; `sub` the actor.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{AuthConfig, AuthError, Principal, Role};

/// Seconds a clock may be off between the token's issuer and this server.
const LEEWAY_SECONDS: u64 = 30;

pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

#[derive(Deserialize)]
struct Claims {
    role: Option<String>,
    sub: Option<String>,
    exp: Option<i64>,
}

impl TokenVerifier {
    /// The verifier `config` asks for, or none when it names no secret and
    /// no key.
    pub fn from_config(config: &AuthConfig) -> Result<Option<Self>, String> {
        let (key, algorithms) = match (&config.jwt_secret, &config.jwt_public_key) {
            (Some(_), Some(_)) => {
                return Err("give --jwt-secret or --jwt-public-key, not both".into());
            }
            (Some(secret), None) if !secret.is_empty() => {
                let key = DecodingKey::from_secret(secret.as_bytes())
                    .map_err(|e| format!("--jwt-secret cannot be used: {e}"))?;
                (key, vec![Algorithm::HS256])
            }
            (None, Some(path)) => {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("cannot read --jwt-public-key {}: {e}", path.display()))?;
                public_key(&pem).map_err(|e| {
                    format!(
                        "--jwt-public-key {} is not an RSA or EC public key in PEM: {e}",
                        path.display()
                    )
                })?
            }
            _ => return Ok(None),
        };
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_aud = config.jwt_audience.is_some();
        if let Some(audience) = &config.jwt_audience {
            validation.set_audience(&[audience]);
        }
        if let Some(issuer) = &config.jwt_issuer {
            validation.set_issuer(&[issuer]);
        }
        Ok(Some(Self { key, validation }))
    }

    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|err| AuthError::Invalid(describe(&err)))?;
        let claims = data.claims;
        let role = claims
            .role
            .as_deref()
            .and_then(Role::parse)
            .ok_or_else(|| {
                AuthError::Invalid(
                    "the token's `role` claim must be reader, writer or admin".into(),
                )
            })?;
        Ok(Principal {
            role,
            subject: claims.sub.filter(|s| !s.is_empty()),
            expires_at: claims
                .exp
                .and_then(|exp| DateTime::<Utc>::from_timestamp(exp, 0)),
        })
    }
}

/// An RSA key for RS256 or an EC key for ES256.
fn public_key(pem: &[u8]) -> Result<(DecodingKey, Vec<Algorithm>), jsonwebtoken::errors::Error> {
    match DecodingKey::from_rsa_pem(pem) {
        Ok(key) => Ok((key, vec![Algorithm::RS256])),
        Err(_) => DecodingKey::from_ec_pem(pem).map(|key| (key, vec![Algorithm::ES256])),
    }
}

/// What was wrong with a token, in the caller's terms.
fn describe(err: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match err.kind() {
        K::ExpiredSignature => "the token has expired".into(),
        K::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        K::InvalidIssuer => "the token's issuer is not accepted".into(),
        K::InvalidAudience => "the token's audience is not accepted".into(),
        K::InvalidSignature => "the token's signature does not verify".into(),
        K::InvalidAlgorithm => {
            "the token is signed with an algorithm this server does not accept".into()
        }
        K::MissingRequiredClaim(claim) => format!("the token has no `{claim}` claim"),
        _ => "the token is not a valid JWT".into(),
    }
}
