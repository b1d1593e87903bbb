//! User commands over HTTP: registerUser, updateUser and deleteUser, the
//! email reservation that keeps an email to one live user, and every way
//! they are refused.

use serde_json::json;

use crate::commands_support::{
    assert_event, assert_metadata, assert_rejected, events, run, send_correlated, stream_events,
};
use crate::common::{TestServer, databases};

/// Registers `user` with `email` and name "Ada"; returns the result.
async fn register(server: &TestServer, user: &str, email: &str) -> serde_json::Value {
    let input = json!({ "userId": user, "email": email, "name": "Ada" });
    run(server, "registerUser", input).await
}

/// The reservation stream an email's registration appended to.
fn reservation_stream(result: &serde_json::Value) -> String {
    let stream = events(result)
        .iter()
        .find(|e| e["type"] == "EmailReserved")
        .expect("an EmailReserved event")["streamId"]
        .as_str()
        .expect("streamId")
        .to_owned();
    assert!(stream.starts_with("useremail-"), "{stream}");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_user_appends_the_registration_and_reserves_the_normalized_email() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;

        let input = json!({ "userId": "u-1", "email": " Ada@Example.COM ", "name": " Ada ",
            "commandId": "reg-1" });
        let response = send_correlated(&server, "registerUser", input, "corr-reg").await;
        let result = &TestServer::data(&response)["registerUser"];
        assert_eq!(result["commandId"], "reg-1", "{label}");
        assert_eq!(result["streamId"], "user-u-1", "{label}");
        assert_eq!(result["version"], 1, "{label}");
        assert_eq!(events(result).len(), 2, "{label}: {result}");
        let registered = json!({ "email": "ada@example.com", "name": "Ada" });
        assert_event(
            &events(result)[0],
            "user-u-1",
            1,
            "UserRegistered",
            &registered,
        );
        let reservation = reservation_stream(result);
        let reserved = json!({ "userId": "u-1" });
        assert_event(
            &events(result)[1],
            &reservation,
            1,
            "EmailReserved",
            &reserved,
        );
        assert_eq!(result["position"], events(result)[1]["position"], "{label}");
        assert_eq!(result["position"], 2, "{label}");
        assert_metadata(result, "corr-reg", label);

        // No user id and no command id: both are generated.
        let input = json!({ "email": "grace@example.com", "name": "Grace" });
        let result = run(&server, "registerUser", input).await;
        let command_id = result["commandId"].as_str().expect("commandId");
        assert!(
            uuid::Uuid::parse_str(command_id).is_ok(),
            "{label}: {result}"
        );
        let stream = result["streamId"].as_str().expect("streamId");
        let user_id = stream.strip_prefix("user-").expect("a user stream");
        assert!(uuid::Uuid::parse_str(user_id).is_ok(), "{label}: {result}");
        let registered = json!({ "email": "grace@example.com", "name": "Grace" });
        assert_event(
            &events(&result)[0],
            stream,
            1,
            "UserRegistered",
            &registered,
        );
        assert_eq!(
            events(&result)[1]["data"],
            json!({ "userId": user_id }),
            "{label}"
        );
        assert_metadata(&result, command_id, label);

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_user_records_only_what_changed_and_moves_the_email_reservation() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        let old_reservation =
            reservation_stream(&register(&server, "u-2", "ada@example.com").await);

        let input = json!({ "userId": "u-2", "name": "Ada L", "commandId": "upd-1" });
        let result = run(&server, "updateUser", input).await;
        assert_eq!(result["commandId"], "upd-1", "{label}");
        assert_eq!(result["streamId"], "user-u-2", "{label}");
        assert_eq!(result["version"], 2, "{label}");
        assert_eq!(result["position"], 3, "{label}");
        assert_eq!(events(&result).len(), 1, "{label}: the email did not move");
        let updated = json!({ "name": "Ada L" });
        assert_event(&events(&result)[0], "user-u-2", 2, "UserUpdated", &updated);
        assert_metadata(&result, "upd-1", label);

        let input = json!({ "userId": "u-2", "email": "ADA.L@example.com", "name": "Ada L",
            "commandId": "upd-2" });
        let response = send_correlated(&server, "updateUser", input, "corr-upd").await;
        let result = &TestServer::data(&response)["updateUser"];
        assert_eq!(result["version"], 3, "{label}");
        assert_eq!(events(result).len(), 3, "{label}: {result}");
        let updated = json!({ "email": "ada.l@example.com" });
        assert_event(&events(result)[0], "user-u-2", 3, "UserUpdated", &updated);
        let user = json!({ "userId": "u-2" });
        assert_event(
            &events(result)[1],
            &old_reservation,
            2,
            "EmailReleased",
            &user,
        );
        let new_reservation = events(result)[2]["streamId"].as_str().expect("streamId");
        assert_ne!(new_reservation, old_reservation, "{label}");
        assert_event(
            &events(result)[2],
            new_reservation,
            1,
            "EmailReserved",
            &user,
        );
        assert_eq!(result["position"], events(result)[2]["position"], "{label}");
        assert_metadata(result, "corr-upd", label);

        // The same values again change nothing: a success without events.
        let total = server.total_events().await;
        let input = json!({ "userId": "u-2", "email": "ada.l@EXAMPLE.com", "name": " Ada L " });
        let result = run(&server, "updateUser", input).await;
        assert_eq!(result["streamId"], "user-u-2", "{label}");
        assert_eq!(result["version"], 3, "{label}");
        assert_eq!(result["events"], json!([]), "{label}");
        assert_eq!(server.total_events().await, total, "{label}");

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_user_appends_the_deletion_and_releases_the_email() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        let reservation = reservation_stream(&register(&server, "u-3", "ada@example.com").await);

        let input = json!({ "userId": "u-3", "commandId": "del-1", "expectedVersion": 1 });
        let result = run(&server, "deleteUser", input).await;
        assert_eq!(result["commandId"], "del-1", "{label}");
        assert_eq!(result["streamId"], "user-u-3", "{label}");
        assert_eq!(result["version"], 2, "{label}");
        assert_eq!(result["position"], 4, "{label}");
        assert_eq!(events(&result).len(), 2, "{label}: {result}");
        assert_event(
            &events(&result)[0],
            "user-u-3",
            2,
            "UserDeleted",
            &json!({}),
        );
        let user = json!({ "userId": "u-3" });
        assert_event(&events(&result)[1], &reservation, 2, "EmailReleased", &user);
        assert_metadata(&result, "del-1", label);

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_email_or_name_or_an_update_with_nothing_to_update_is_bad_user_input() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        register(&server, "u-4", "ada@example.com").await;

        let with_email = |email: &str| json!({ "userId": "new", "email": email, "name": "Ada" });
        let with_name =
            |name: &str| json!({ "userId": "new", "email": "new@example.com", "name": name });
        let cases = [
            ("registerUser", with_email(""), "empty email"),
            ("registerUser", with_email("   "), "blank email"),
            ("registerUser", with_email("ada.example.com"), "no @"),
            (
                "registerUser",
                with_email("@example.com"),
                "nothing before @",
            ),
            ("registerUser", with_email("ada@"), "nothing after @"),
            (
                "registerUser",
                with_email("ada@example"),
                "no dot in domain",
            ),
            (
                "registerUser",
                with_email("ada@example..com"),
                "empty label",
            ),
            ("registerUser", with_email("a@b@example.com"), "two @"),
            ("registerUser", with_email("a da@example.com"), "a space"),
            (
                "registerUser",
                with_email(&format!("{}@example.com", "a".repeat(65))),
                "local part too long",
            ),
            ("registerUser", with_name(""), "empty name"),
            ("registerUser", with_name("  "), "blank name"),
            ("registerUser", with_name(&"n".repeat(201)), "name too long"),
            (
                "registerUser",
                json!({ "userId": "", "email": "new@example.com", "name": "Ada" }),
                "empty user id",
            ),
            (
                "updateUser",
                json!({ "userId": "u-4" }),
                "nothing to update",
            ),
            (
                "updateUser",
                json!({ "userId": "u-4", "email": "not-an-email" }),
                "invalid email",
            ),
            (
                "updateUser",
                json!({ "userId": "u-4", "name": " " }),
                "blank name",
            ),
            (
                "updateUser",
                json!({ "userId": "u-4", "email": "ada@example.com", "name": "" }),
                "same email, bad name",
            ),
        ];
        for (mutation, input, why) in cases {
            let label = format!("{} {mutation} {input}: {why}", db.name);
            assert_rejected(&server, mutation, input, "BAD_USER_INPUT", &label).await;
        }
        assert!(
            stream_events(&server, "user-new").await.is_none(),
            "{}",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_or_deleting_a_missing_or_deleted_user_is_not_found() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        register(&server, "u-5", "ada@example.com").await;
        run(&server, "deleteUser", json!({ "userId": "u-5" })).await;

        let cases = [
            ("updateUser", json!({ "userId": "nobody", "name": "Ada" })),
            (
                "updateUser",
                json!({ "userId": "nobody", "email": "nobody@example.com" }),
            ),
            ("deleteUser", json!({ "userId": "nobody" })),
            ("updateUser", json!({ "userId": "u-5", "name": "Back" })),
            (
                "updateUser",
                json!({ "userId": "u-5", "email": "back@example.com" }),
            ),
            ("deleteUser", json!({ "userId": "u-5" })),
        ];
        for (mutation, input) in cases {
            let label = format!("{} {mutation} {input}", db.name);
            assert_rejected(&server, mutation, input, "NOT_FOUND", &label).await;
        }

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_id_and_an_email_in_any_letter_case_can_each_be_registered_only_once() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        register(&server, "u-a", "ada@example.com").await;
        register(&server, "u-c", "carol@example.com").await;

        let cases = [
            (
                "registerUser",
                json!({ "userId": "u-a", "email": "other@example.com", "name": "Other" }),
                "the same user id",
            ),
            (
                "registerUser",
                json!({ "userId": "u-b", "email": "ADA@Example.com", "name": "Ada B" }),
                "the same email in another case",
            ),
            (
                "updateUser",
                json!({ "userId": "u-c", "email": " Ada@EXAMPLE.com" }),
                "changing to a taken email",
            ),
        ];
        for (mutation, input, why) in cases {
            let label = format!("{} {mutation} {input}: {why}", db.name);
            assert_rejected(&server, mutation, input, "ALREADY_EXISTS", &label).await;
        }
        assert!(
            stream_events(&server, "user-u-b").await.is_none(),
            "{}",
            db.name
        );
        // The refused id's other email was not reserved by the attempt.
        register(&server, "u-d", "other@example.com").await;

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_freed_by_deleting_its_user_or_by_an_email_change_can_be_registered_again() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;

        register(&server, "u-d", "dora@example.com").await;
        run(&server, "deleteUser", json!({ "userId": "u-d" })).await;
        let result = register(&server, "u-e", "Dora@Example.com").await;
        assert_eq!(result["streamId"], "user-u-e", "{label}");

        register(&server, "u-f", "fred@example.com").await;
        let input = json!({ "userId": "u-f", "email": "fred2@example.com" });
        run(&server, "updateUser", input).await;
        let result = register(&server, "u-g", "fred@example.com").await;
        assert_eq!(result["streamId"], "user-u-g", "{label}");
        let input = json!({ "userId": "u-h", "email": "fred2@example.com", "name": "H" });
        let why = format!("{label}: the new email is taken");
        assert_rejected(&server, "registerUser", input, "ALREADY_EXISTS", &why).await;

        // The first holder can take its old email back once it is free again.
        run(&server, "deleteUser", json!({ "userId": "u-g" })).await;
        let input = json!({ "userId": "u-f", "email": "fred@example.com" });
        let result = run(&server, "updateUser", input).await;
        assert_eq!(result["version"], 3, "{label}");

        server.stop().await;
    }
}
