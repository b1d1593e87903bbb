//! Credentials as the server judges them: the admin secret, HS256, RS256
//! and ES256 tokens, and their claims.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::*;

const SECRET: &str = "a-jwt-secret-for-tests";
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn hs256(claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn with(config: AuthConfig) -> Authenticator {
    Authenticator::new(&config).unwrap()
}

fn jwt_config() -> AuthConfig {
    AuthConfig {
        jwt_secret: Some(SECRET.into()),
        ..AuthConfig::default()
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn with_nothing_configured_every_caller_is_admin() {
    let auth = with(AuthConfig::default());
    assert!(!auth.enabled());
    assert_eq!(
        auth.authenticate(Credentials::None).unwrap().role,
        Role::Admin
    );
}

#[test]
fn the_admin_secret_makes_an_admin_and_a_wrong_one_is_refused() {
    let auth = with(AuthConfig {
        admin_secret: Some("s3cret".into()),
        ..AuthConfig::default()
    });
    assert_eq!(
        auth.authenticate(Credentials::AdminSecret("s3cret"))
            .unwrap()
            .role,
        Role::Admin
    );
    assert!(matches!(
        auth.authenticate(Credentials::AdminSecret("s3cre")),
        Err(AuthError::Invalid(_))
    ));
    assert_eq!(
        auth.authenticate(Credentials::None),
        Err(AuthError::Missing)
    );
}

#[test]
fn a_token_gives_its_role_and_subject() {
    let auth = with(jwt_config());
    let token = hs256(json!({ "sub": "alice", "role": "writer", "exp": now() + 60 }));
    let who = auth
        .authenticate(Credentials::Authorization(&bearer(&token)))
        .unwrap();
    assert_eq!(
        (who.role, who.subject.as_deref()),
        (Role::Writer, Some("alice"))
    );
    assert!(who.expires_at.is_some());
}

#[test]
fn expired_early_forged_and_roleless_tokens_are_refused_with_the_reason() {
    let auth = with(jwt_config());
    let refused =
        |token: String| match auth.authenticate(Credentials::Authorization(&bearer(&token))) {
            Err(AuthError::Invalid(reason)) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        };
    assert!(refused(hs256(json!({ "role": "reader", "exp": now() - 120 }))).contains("expired"));
    assert!(
        refused(hs256(
            json!({ "role": "reader", "exp": now() + 600, "nbf": now() + 300 })
        ))
        .contains("nbf")
    );
    assert!(refused(hs256(json!({ "role": "root", "exp": now() + 60 }))).contains("role"));
    assert!(refused(hs256(json!({ "role": "reader" }))).contains("exp"));
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({ "role": "admin", "exp": now() + 60 }),
        &EncodingKey::from_secret(b"another secret").unwrap(),
    )
    .unwrap();
    assert!(refused(forged).contains("signature"));
    assert!(matches!(
        auth.authenticate(Credentials::Authorization("Basic abc")),
        Err(AuthError::Invalid(_))
    ));
}

#[test]
fn a_small_clock_skew_is_tolerated() {
    let auth = with(jwt_config());
    let token = hs256(json!({ "role": "reader", "exp": now() - 5 }));
    assert!(
        auth.authenticate(Credentials::Authorization(&bearer(&token)))
            .is_ok()
    );
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let auth = with(AuthConfig {
        jwt_issuer: Some("https://issuer.example".into()),
        jwt_audience: Some("chronicle".into()),
        ..jwt_config()
    });
    let good = hs256(
        json!({ "role": "reader", "exp": now() + 60, "iss": "https://issuer.example", "aud": "chronicle" }),
    );
    assert!(
        auth.authenticate(Credentials::Authorization(&bearer(&good)))
            .is_ok()
    );
    let other = hs256(
        json!({ "role": "reader", "exp": now() + 60, "iss": "https://evil.example", "aud": "chronicle" }),
    );
    assert!(
        auth.authenticate(Credentials::Authorization(&bearer(&other)))
            .is_err()
    );
    let elsewhere = hs256(
        json!({ "role": "reader", "exp": now() + 60, "iss": "https://issuer.example", "aud": "else" }),
    );
    assert!(
        auth.authenticate(Credentials::Authorization(&bearer(&elsewhere)))
            .is_err()
    );
}

#[test]
fn rs256_and_es256_tokens_verify_against_their_public_keys() {
    for (algorithm, private, public) in [
        (Algorithm::RS256, "rs256-private.pem", "rs256-public.pem"),
        (
            Algorithm::ES256,
            "es256-private-pkcs8.pem",
            "es256-public.pem",
        ),
    ] {
        let pem = std::fs::read(format!("{KEYS}/{private}")).unwrap();
        let key = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem).unwrap(),
            _ => EncodingKey::from_ec_pem(&pem).unwrap(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(algorithm),
            &json!({ "role": "admin", "sub": "ops", "exp": now() + 60 }),
            &key,
        )
        .unwrap();
        let auth = with(AuthConfig {
            jwt_public_key: Some(format!("{KEYS}/{public}").into()),
            ..AuthConfig::default()
        });
        let who = auth
            .authenticate(Credentials::Authorization(&bearer(&token)))
            .unwrap();
        assert_eq!(who.role, Role::Admin, "{algorithm:?}");
        // An HS256 token is not accepted where a key is configured.
        let hs = hs256(json!({ "role": "admin", "exp": now() + 60 }));
        assert!(
            auth.authenticate(Credentials::Authorization(&bearer(&hs)))
                .is_err()
        );
    }
}

#[test]
fn anonymous_callers_get_the_anonymous_role() {
    let auth = with(AuthConfig {
        anonymous_role: Some(Role::Reader),
        ..jwt_config()
    });
    assert_eq!(
        auth.authenticate(Credentials::None).unwrap().role,
        Role::Reader
    );
}

#[test]
fn connection_init_payloads_carry_credentials_in_every_usual_shape() {
    for payload in [
        json!({ "headers": { "Authorization": "Bearer t" } }),
        json!({ "Authorization": "Bearer t" }),
        json!({ "authorization": "Bearer t" }),
    ] {
        assert_eq!(
            from_init_payload(&payload),
            Credentials::Authorization("Bearer t"),
            "{payload}"
        );
    }
    let secret = json!({ "headers": { "X-Chronicle-Admin-Secret": "s" } });
    assert_eq!(from_init_payload(&secret), Credentials::AdminSecret("s"));
    assert_eq!(from_init_payload(&json!({})), Credentials::None);
    assert_eq!(
        from_init_payload(&serde_json::Value::Null),
        Credentials::None
    );
}
