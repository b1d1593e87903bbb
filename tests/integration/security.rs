//! Credentials and roles over HTTP, on both databases: every role against
//! every root field of the schema, tokens that are missing, wrong or
//! expired, and the actor in event metadata. The WebSocket's credentials
//! and which pages may call are in `security_ws.rs`.

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use chronicle::Config;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::{TestServer, databases, error_code};

const JWT_SECRET: &str = "integration-test-jwt-secret";
pub(crate) const ADMIN_SECRET: &str = "integration-test-admin-secret";

pub(crate) fn secured() -> Config {
    let mut config = Config::default();
    config.auth.jwt_secret = Some(JWT_SECRET.into());
    config.auth.admin_secret = Some(ADMIN_SECRET.into());
    config
}

pub(crate) fn token(role: &str, sub: &str, expires_in: i64) -> String {
    let claims =
        json!({ "role": role, "sub": sub, "exp": chrono::Utc::now().timestamp() + expires_in });
    let key = EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

/// A caller's headers.
#[derive(Clone, Debug)]
enum As {
    Nobody,
    Bearer(String),
    Secret(&'static str),
}

async fn post(server: &TestServer, who: &As, query: &str, variables: Value) -> (u16, Value) {
    let mut request = server
        .client
        .post(server.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    request = match who {
        As::Nobody => request,
        As::Bearer(token) => request.header("authorization", format!("Bearer {token}")),
        As::Secret(secret) => request.header("x-chronicle-admin-secret", *secret),
    };
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// The root fields of the schema, by root type.
fn root_fields() -> Vec<(&'static str, String)> {
    let schema = parse_schema(chronicle::sdl()).unwrap();
    let mut fields = Vec::new();
    for (root, keyword) in [
        ("Query", "query"),
        ("Mutation", "mutation"),
        ("Subscription", "subscription"),
    ] {
        for definition in &schema.definitions {
            if let TypeSystemDefinition::Type(t) = definition
                && t.node.name.node == root
                && let TypeKind::Object(object) = &t.node.kind
            {
                fields.extend(
                    object
                        .fields
                        .iter()
                        .map(|f| (keyword, f.node.name.node.to_string())),
                );
            }
        }
    }
    fields
}

/// The role each root field needs, stated here apart from the server's
/// table, so that the two check each other.
fn needs(keyword: &str, field: &str) -> u8 {
    const ADMIN: &[&str] = &[
        "createSnapshot",
        "dropSnapshots",
        "pauseProjection",
        "rebuildProjection",
        "resumeProjection",
        "skipEvent",
    ];
    match keyword {
        "mutation" if ADMIN.contains(&field) => 2,
        "mutation" => 1,
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_root_field() {
    for db in databases().await {
        let server = TestServer::start_with(&db, secured()).await;
        let callers = [
            (0u8, As::Bearer(token("reader", "r", 600))),
            (1, As::Bearer(token("writer", "w", 600))),
            (2, As::Bearer(token("admin", "a", 600))),
            (2, As::Secret(ADMIN_SECRET)),
        ];
        let fields = root_fields();
        assert!(fields.len() > 30, "{fields:?}");
        let mut checked = 0;
        for (rank, who) in &callers {
            for (keyword, field) in &fields {
                // No arguments: a field that is allowed fails validation
                // instead, which is not a refusal of the caller.
                let (_, r) =
                    post(&server, who, &format!("{keyword} {{ {field} }}"), json!({})).await;
                let code = error_code(&r);
                if needs(keyword, field) > *rank {
                    assert_eq!(
                        code,
                        Some("FORBIDDEN"),
                        "{} {who:?} {keyword} {field}: {r}",
                        db.name
                    );
                } else {
                    assert!(
                        !matches!(code, Some("FORBIDDEN" | "UNAUTHENTICATED")),
                        "{} {who:?} {keyword} {field}: {r}",
                        db.name
                    );
                }
                checked += 1;
            }
        }
        println!("{}: {checked} role × field checks", db.name);
        assert_eq!(
            admin_total(&server).await,
            0,
            "{}: nothing was appended",
            db.name
        );
        server.stop().await;
    }
}

/// `totalEvents`, read with the admin secret.
pub(crate) async fn admin_total(server: &TestServer) -> i64 {
    let (_, r) = post(
        server,
        &As::Secret(ADMIN_SECRET),
        "{ stats { totalEvents } }",
        json!({}),
    )
    .await;
    r["data"]["stats"]["totalEvents"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_wrong_and_expired_credentials_are_401_unauthenticated() {
    for db in databases().await {
        let server = TestServer::start_with(&db, secured()).await;
        let query = "{ stats { totalEvents } }";
        for who in [
            As::Nobody,
            As::Secret("not-the-secret"),
            As::Bearer("not.a.jwt".into()),
            As::Bearer(token("reader", "r", -120)),
            As::Bearer(token("superuser", "r", 600)),
        ] {
            let (status, r) = post(&server, &who, query, json!({})).await;
            assert_eq!(
                (status, error_code(&r)),
                (401, Some("UNAUTHENTICATED")),
                "{} {who:?}: {r}",
                db.name
            );
        }
        // With an anonymous role, a request without credentials gets it.
        server.stop().await;
        let mut config = secured();
        config.auth.anonymous_role = Some(chronicle::Role::Reader);
        let server = TestServer::start_with(&db, config).await;
        let (status, r) = post(
            &server,
            &As::Nobody,
            "{ viewer { role subject } }",
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            r["data"]["viewer"],
            json!({ "role": "READER", "subject": null })
        );
        let (_, r) = post(
            &server,
            &As::Nobody,
            r#"mutation { openAccount(input: { owner: "A" }) { version } }"#,
            json!({}),
        )
        .await;
        assert_eq!(error_code(&r), Some("FORBIDDEN"), "{r}");
        assert_eq!(admin_total(&server).await, 0);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokens_subject_is_the_actor_of_every_event_it_causes() {
    for db in databases().await {
        let server = TestServer::start_with(&db, secured()).await;
        let alice = As::Bearer(token("writer", "alice", 600));
        let (_, r) = post(&server, &alice, "{ viewer { role subject } }", json!({})).await;
        assert_eq!(
            r["data"]["viewer"],
            json!({ "role": "WRITER", "subject": "alice" }),
            "{r}"
        );
        let (_, r) = post(
            &server,
            &alice,
            r#"mutation { openAccount(input: { accountId: "al", owner: "Alice" }) { events { metadata } } }"#,
            json!({}),
        )
        .await;
        assert_eq!(
            r["data"]["openAccount"]["events"][0]["metadata"]["actor"], "alice",
            "{r}"
        );
        // A generic append: the client may not claim another actor.
        let (_, r) = post(
            &server,
            &alice,
            crate::common::APPEND_EVENTS,
            json!({ "input": { "streamId": "notes-1", "events": [{ "type": "Noted", "data": {}, "metadata": { "actor": "mallory" } }] } }),
        )
        .await;
        assert_eq!(
            r["data"]["appendEvents"]["events"][0]["metadata"]["actor"], "alice",
            "{r}"
        );
        let (_, r) = post(
            &server,
            &As::Secret(ADMIN_SECRET),
            "{ viewer { role subject } }",
            json!({}),
        )
        .await;
        assert_eq!(
            r["data"]["viewer"],
            json!({ "role": "ADMIN", "subject": null }),
            "{r}"
        );
        server.stop().await;
    }
}
