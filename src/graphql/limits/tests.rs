//! The guard against the real schema's registry: each bound refuses with
//! its name, and a legitimate request passes untouched.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{Request, ServerError, ServerResult, Variables};
use serde_json::json;

use super::*;

/// Stands right after the guard and stops every request it lets through,
/// so that nothing needs a database.
struct Admitted;

const ADMITTED: &str = "admitted by the guard";

impl ExtensionFactory for Admitted {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Admitted)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Admitted {
    async fn prepare_request(
        &self,
        _ctx: &ExtensionContext<'_>,
        _request: Request,
        _next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        Err(ServerError::new(ADMITTED, None))
    }
}

/// The guard's verdict on a request: `Ok` when admitted, else the
/// refusing limit's name.
fn admit(limits: RequestLimits, query: &str, variables: serde_json::Value) -> Result<(), String> {
    let schema = crate::graphql::builder()
        .extension(Guard::new(limits))
        .extension(Admitted)
        .finish();
    let request = Request::new(query).variables(Variables::from_json(variables));
    let response = futures::executor::block_on(schema.execute(request));
    let error = response.errors.first().expect("an error, admitted or not");
    if error.message == ADMITTED {
        return Ok(());
    }
    let extensions = error.extensions.as_ref().expect("extensions");
    assert_eq!(
        extensions.get("code"),
        Some(&async_graphql::Value::from("BAD_USER_INPUT"))
    );
    match extensions.get("limit") {
        Some(async_graphql::Value::String(limit)) => Err(limit.clone()),
        other => panic!("no limit named: {other:?} ({})", error.message),
    }
}

#[track_caller]
fn refused_by(result: Result<(), String>, limit: &str) {
    match result {
        Err(refused) => assert_eq!(refused, limit),
        Ok(()) => panic!("expected a refusal by {limit}"),
    }
}

#[test]
fn a_legitimate_request_passes() {
    let query =
        "query($f: EventFilter) { events(first: 10, filter: $f) { edges { node { id data } } } }";
    let variables = json!({ "f": { "types": ["A", "B"], "category": "order" } });
    admit(RequestLimits::default(), query, variables).unwrap();
}

#[test]
fn a_document_at_the_nesting_bound_is_parsed_on_a_default_stack() {
    // Brackets nested exactly as deep as allowed: the parser recurses once
    // per level, and must have room to on a default-sized (2 MiB) thread.
    let inner = RequestLimits::NESTING - 2;
    let query = format!(
        "{{ stats(x: {}{}) {{ totalEvents }} }}",
        "[".repeat(inner),
        "]".repeat(inner)
    );
    let verdict = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || admit(RequestLimits::default(), &query, json!({})))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(verdict, Ok(()));
}

#[test]
fn deep_brackets_are_refused_before_parsing() {
    let query = format!(
        "{{ stats(x: {}{}) {{ totalEvents }} }}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    refused_by(
        admit(RequestLimits::default(), &query, json!({})),
        "maxNesting",
    );
}

#[test]
fn a_large_document_is_refused() {
    let limits = RequestLimits {
        max_document_bytes: 100,
        ..RequestLimits::default()
    };
    let query = format!("{{ stats {{ totalEvents }} }} # {}", "x".repeat(200));
    refused_by(admit(limits, &query, json!({})), "maxDocumentBytes");
}

#[test]
fn fragment_explosions_and_alias_floods_are_refused() {
    let mut explosion = String::from("query { ...F24 }\nfragment F0 on Query { __typename }\n");
    for i in 1..=24 {
        explosion.push_str(&format!(
            "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
            p = i - 1
        ));
    }
    refused_by(
        admit(RequestLimits::default(), &explosion, json!({})),
        "maxSelections",
    );
    let aliases: String = (0..1_000)
        .map(|i| format!("a{i}: stats {{ totalEvents }} "))
        .collect();
    refused_by(
        admit(
            RequestLimits::default(),
            &format!("{{ {aliases} }}"),
            json!({}),
        ),
        "maxAliases",
    );
}

#[test]
fn long_lists_and_strings_of_api_types_are_refused_but_json_is_not() {
    let query = "query($f: EventFilter) { events(filter: $f) { edges { cursor } } }";
    let many: Vec<String> = (0..10_001).map(|i| i.to_string()).collect();
    refused_by(
        admit(
            RequestLimits::default(),
            query,
            json!({ "f": { "types": many } }),
        ),
        "maxListLength",
    );
    let long = "c".repeat(RequestLimits::STRING_BYTES + 1);
    refused_by(
        admit(
            RequestLimits::default(),
            query,
            json!({ "f": { "category": long } }),
        ),
        "maxStringBytes",
    );
    // A JSON payload may hold a long array: the event limits bound it.
    let append = "mutation($d: JSON!) { appendEvents(input: { streamId: \"s-1\", events: [{ type: \"T\", data: $d }] }) { version } }";
    let data: Vec<u32> = (0..20_000).collect();
    admit(RequestLimits::default(), append, json!({ "d": data })).unwrap();
}

#[test]
fn nul_characters_are_refused_in_literals_variables_and_json() {
    refused_by(
        admit(
            RequestLimits::default(),
            "{ user(id: \"a\\u0000b\") { id } }",
            json!({}),
        ),
        "noNulCharacters",
    );
    refused_by(
        admit(
            RequestLimits::default(),
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": "a\u{0}b" }),
        ),
        "noNulCharacters",
    );
    let append = "mutation($d: JSON!) { appendEvents(input: { streamId: \"s-1\", events: [{ type: \"T\", data: $d }] }) { version } }";
    refused_by(
        admit(
            RequestLimits::default(),
            append,
            json!({ "d": { "k\u{0}": 1 } }),
        ),
        "noNulCharacters",
    );
}

#[test]
fn large_variables_are_refused() {
    let limits = RequestLimits {
        max_variables_bytes: 1_000,
        ..RequestLimits::default()
    };
    refused_by(
        admit(
            limits,
            "query($x: String) { stats { totalEvents } }",
            json!({ "x": "y".repeat(2_000) }),
        ),
        "maxVariablesBytes",
    );
}
