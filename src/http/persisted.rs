//! Automatic persisted queries, as Apollo Client's `PersistedQueryLink`
//! speaks them: a request may send `extensions.persistedQuery.sha256Hash`
//! instead of its text. A hash this server holds stands for its text; an
//! unknown one is answered `PERSISTED_QUERY_NOT_FOUND` (message
//! `PersistedQueryNotFound`, which older links look for), and the client
//! sends the text with the hash, which the server checks and keeps.
//!
//! The texts are resolved here, in the HTTP layer, before the GET rule
//! (no mutation over GET) and the request limits see the request, so a
//! hash-only request is held to the same rules as its text. The cache is
//! bounded in bytes (least recently used go first) and per node: a node
//! that does not hold a hash asks for the text, which costs one round trip.

use std::sync::Arc;

use async_graphql::{ErrorExtensionValues, Request, ServerError, Value};
use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::error_code::ErrorCode;

/// The only version of the protocol.
const VERSION: i64 = 1;

#[derive(Clone)]
pub struct PersistedQueries {
    texts: Cache<String, Arc<str>>,
}

impl PersistedQueries {
    pub fn new(max_bytes: u64) -> Self {
        let texts = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|hash: &String, text: &Arc<str>| {
                u32::try_from(hash.len() + text.len()).unwrap_or(u32::MAX)
            })
            .build();
        Self { texts }
    }

    /// Fills in the text of a request that names a persisted query, or
    /// keeps the text it sends under its hash. A request without the
    /// extension is left as it is.
    pub fn resolve(&self, request: &mut Request) -> Result<(), ServerError> {
        let Some(extension) = request.extensions.get("persistedQuery") else {
            return Ok(());
        };
        let hash = requested_hash(extension)?;
        if request.query.is_empty() {
            let text = self.texts.get(&hash).ok_or_else(not_found)?;
            request.query = text.to_string();
            return Ok(());
        }
        if sha256_hex(&request.query) != hash {
            return Err(bad_input("provided sha does not match query"));
        }
        self.texts.insert(hash, Arc::from(request.query.as_str()));
        Ok(())
    }
}

/// The hash a `persistedQuery` extension names, in lowercase hex.
fn requested_hash(extension: &Value) -> Result<String, ServerError> {
    let Value::Object(fields) = extension else {
        return Err(bad_input("extensions.persistedQuery must be an object"));
    };
    let version = match fields.get("version") {
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    if version != Some(VERSION) {
        return Err(bad_input(
            "unsupported persisted query version: only version 1 is served",
        ));
    }
    match fields.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(hash.to_ascii_lowercase())
        }
        _ => Err(bad_input(
            "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits",
        )),
    }
}

pub fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn not_found() -> ServerError {
    error("PersistedQueryNotFound", ErrorCode::PersistedQueryNotFound)
}

fn bad_input(message: &str) -> ServerError {
    error(message, ErrorCode::BadUserInput)
}

fn error(message: &str, code: ErrorCode) -> ServerError {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    let mut err = ServerError::new(message, None);
    err.extensions = Some(extensions);
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = "{ stats { totalEvents } }";

    fn naming(hash: &str, query: &str) -> Request {
        let mut request = Request::new(query);
        let extension = serde_json::json!({ "version": 1, "sha256Hash": hash });
        request.extensions.insert(
            "persistedQuery".into(),
            Value::from_json(extension).unwrap(),
        );
        request
    }

    fn code(err: &ServerError) -> String {
        let extensions = err.extensions.as_ref().unwrap();
        extensions.get("code").unwrap().to_string()
    }

    #[test]
    fn given_an_unknown_hash_when_it_comes_alone_then_the_text_is_asked_for() {
        let cache = PersistedQueries::new(1 << 20);
        let err = cache
            .resolve(&mut naming(&sha256_hex(QUERY), ""))
            .unwrap_err();
        assert_eq!(err.message, "PersistedQueryNotFound");
        assert_eq!(code(&err), "\"PERSISTED_QUERY_NOT_FOUND\"");
    }

    #[test]
    fn given_a_text_sent_with_its_hash_when_the_hash_comes_alone_then_it_stands_for_the_text() {
        let cache = PersistedQueries::new(1 << 20);
        let hash = sha256_hex(QUERY);
        cache.resolve(&mut naming(&hash, QUERY)).unwrap();
        let mut later = naming(&hash.to_uppercase(), "");
        cache.resolve(&mut later).unwrap();
        assert_eq!(later.query, QUERY);
    }

    #[test]
    fn a_hash_that_does_not_match_its_text_is_refused_and_not_kept() {
        let cache = PersistedQueries::new(1 << 20);
        let other = sha256_hex("{ __typename }");
        let err = cache.resolve(&mut naming(&other, QUERY)).unwrap_err();
        assert_eq!(code(&err), "\"BAD_USER_INPUT\"");
        assert!(cache.resolve(&mut naming(&other, "")).is_err());
    }

    #[test]
    fn malformed_extensions_are_bad_input() {
        let cache = PersistedQueries::new(1 << 20);
        for extension in [
            serde_json::json!("abc"),
            serde_json::json!({ "version": 2, "sha256Hash": sha256_hex(QUERY) }),
            serde_json::json!({ "version": 1, "sha256Hash": "xyz" }),
        ] {
            let mut request = Request::new("");
            request.extensions.insert(
                "persistedQuery".into(),
                Value::from_json(extension).unwrap(),
            );
            let err = cache.resolve(&mut request).unwrap_err();
            assert_eq!(code(&err), "\"BAD_USER_INPUT\"");
        }
    }

    #[test]
    fn a_request_without_the_extension_is_untouched() {
        let cache = PersistedQueries::new(1 << 20);
        let mut request = Request::new(QUERY);
        cache.resolve(&mut request).unwrap();
        assert_eq!(request.query, QUERY);
    }

    #[test]
    fn the_known_hash_of_apollos_documentation_example_matches() {
        // sha256 of "{__typename}", as `PersistedQueryLink` computes it.
        assert_eq!(
            sha256_hex("{__typename}"),
            "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"
        );
    }
}
