//! Account commands over HTTP: openAccount, deposit, withdraw, transfer and
//! closeAccount, what they append and every way they are refused.

use serde_json::{Value, json};

use crate::commands_support::{
    assert_event, assert_metadata, assert_rejected, balance_of, events, open_account, run,
    send_correlated, stream_events,
};
use crate::common::{TestServer, databases};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_account_records_owner_currency_and_balance_in_minor_units_and_generates_what_is_omitted()
 {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;

        let input = json!({ "accountId": "acc-1", "owner": "  Ada  ", "initialBalance": "100.50",
            "currency": "EUR", "commandId": "open-1" });
        let response = send_correlated(&server, "openAccount", input, "corr-open-1").await;
        let result = &TestServer::data(&response)["openAccount"];
        assert_eq!(result["commandId"], "open-1", "{label}");
        assert_eq!(result["streamId"], "account-acc-1", "{label}");
        assert_eq!(result["version"], 1, "{label}");
        assert_eq!(result["position"], 1, "{label}");
        assert_eq!(events(result).len(), 1, "{label}");
        let opened = json!({ "owner": "Ada", "currency": "EUR", "initialBalance": 10050 });
        assert_event(
            &events(result)[0],
            "account-acc-1",
            1,
            "AccountOpened",
            &opened,
        );
        assert_eq!(events(result)[0]["position"], 1, "{label}");
        assert_metadata(result, "corr-open-1", label);

        // Only the owner: a new account id, a new command id, USD and zero.
        let result = run(&server, "openAccount", json!({ "owner": "Grace" })).await;
        let command_id = result["commandId"].as_str().expect("commandId");
        assert!(
            uuid::Uuid::parse_str(command_id).is_ok(),
            "{label}: {result}"
        );
        let stream = result["streamId"].as_str().expect("streamId");
        let account_id = stream.strip_prefix("account-").expect("an account stream");
        assert!(
            uuid::Uuid::parse_str(account_id).is_ok(),
            "{label}: {result}"
        );
        assert_eq!(result["version"], 1, "{label}");
        assert_eq!(result["position"], 2, "{label}");
        let opened = json!({ "owner": "Grace", "currency": "USD", "initialBalance": 0 });
        assert_event(&events(&result)[0], stream, 1, "AccountOpened", &opened);
        assert_metadata(&result, command_id, label);

        // A currency without decimals, the balance sent as a JSON number.
        let input = json!({ "accountId": "yen", "owner": "Kenji", "initialBalance": 500, "currency": "jpy" });
        let result = run(&server, "openAccount", input).await;
        let opened = json!({ "owner": "Kenji", "currency": "JPY", "initialBalance": 500 });
        assert_event(
            &events(&result)[0],
            "account-yen",
            1,
            "AccountOpened",
            &opened,
        );
        let command_id = result["commandId"].as_str().expect("commandId");
        assert_metadata(&result, command_id, label);

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposit_and_withdraw_each_append_one_event_with_the_amount_in_minor_units() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        open_account(&server, "dw", "10.00", "USD").await;

        let input = json!({ "accountId": "dw", "amount": "5.25", "description": "salary",
            "commandId": "dep-1" });
        let result = run(&server, "deposit", input).await;
        assert_eq!(result["commandId"], "dep-1", "{label}");
        assert_eq!(result["streamId"], "account-dw", "{label}");
        assert_eq!(result["version"], 2, "{label}");
        assert_eq!(result["position"], 2, "{label}");
        assert_eq!(events(&result).len(), 1, "{label}");
        let deposited = json!({ "amount": 525, "currency": "USD", "description": "salary" });
        assert_event(
            &events(&result)[0],
            "account-dw",
            2,
            "MoneyDeposited",
            &deposited,
        );
        assert_eq!(events(&result)[0]["schemaVersion"], 2, "{label}");
        assert_metadata(&result, "dep-1", label);

        // The amount as a JSON number; the correlation id from the header.
        let input = json!({ "accountId": "dw", "amount": 3, "commandId": "wd-1" });
        let response = send_correlated(&server, "withdraw", input, "corr-wd").await;
        let result = &TestServer::data(&response)["withdraw"];
        assert_eq!(result["commandId"], "wd-1", "{label}");
        assert_eq!(result["streamId"], "account-dw", "{label}");
        assert_eq!(result["version"], 3, "{label}");
        assert_eq!(result["position"], 3, "{label}");
        let withdrawn = json!({ "amount": 300, "currency": "USD" });
        assert_event(
            &events(result)[0],
            "account-dw",
            3,
            "MoneyWithdrawn",
            &withdrawn,
        );
        assert_metadata(result, "corr-wd", label);

        // Trailing zeros past the currency's decimals are not extra precision.
        let input = json!({ "accountId": "dw", "amount": "0.100" });
        let result = run(&server, "deposit", input).await;
        assert_eq!(events(&result)[0]["data"]["amount"], 10, "{label}");
        assert_eq!(
            balance_of(&server, "dw").await,
            1000 + 525 - 300 + 10,
            "{label}"
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_appends_the_debit_and_the_credit_in_one_command_tied_by_one_transfer_id() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        open_account(&server, "t-a", "50.00", "USD").await;
        open_account(&server, "t-b", "0", "USD").await;

        let input = json!({ "fromAccountId": "t-a", "toAccountId": "t-b", "amount": "12.34",
            "description": "rent", "commandId": "tr-1" });
        let response = send_correlated(&server, "transfer", input, "corr-tr").await;
        let result = &TestServer::data(&response)["transfer"];
        assert_eq!(result["commandId"], "tr-1", "{label}");
        assert_eq!(
            result["streamId"], "account-t-a",
            "{label}: the source's stream"
        );
        assert_eq!(result["version"], 2, "{label}");
        assert_eq!(events(result).len(), 2, "{label}");
        let (out, into) = (&events(result)[0], &events(result)[1]);
        let transfer_id = out["data"]["transferId"].as_str().expect("transferId");
        assert!(uuid::Uuid::parse_str(transfer_id).is_ok(), "{label}: {out}");
        let data = json!({ "transferId": transfer_id, "toAccountId": "t-b", "amount": 1234,
            "currency": "USD", "description": "rent" });
        assert_event(out, "account-t-a", 2, "MoneyTransferredOut", &data);
        let data = json!({ "transferId": transfer_id, "fromAccountId": "t-a", "amount": 1234,
            "currency": "USD", "description": "rent" });
        assert_event(into, "account-t-b", 2, "MoneyTransferredIn", &data);
        assert_eq!(out["position"], 3, "{label}");
        assert_eq!(into["position"], 4, "{label}");
        assert_eq!(result["position"], 4, "{label}: the last event's position");
        assert_metadata(result, "corr-tr", label);

        assert_eq!(balance_of(&server, "t-a").await, 5000 - 1234, "{label}");
        assert_eq!(balance_of(&server, "t-b").await, 1234, "{label}");

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_account_succeeds_once_the_balance_is_withdrawn_to_zero() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        open_account(&server, "c-1", "20.00", "USD").await;
        run(
            &server,
            "withdraw",
            json!({ "accountId": "c-1", "amount": "20.00" }),
        )
        .await;

        let input = json!({ "accountId": "c-1", "commandId": "close-1", "expectedVersion": 2 });
        let result = run(&server, "closeAccount", input).await;
        assert_eq!(result["commandId"], "close-1", "{label}");
        assert_eq!(result["streamId"], "account-c-1", "{label}");
        assert_eq!(result["version"], 3, "{label}");
        assert_eq!(result["position"], 3, "{label}");
        assert_event(
            &events(&result)[0],
            "account-c-1",
            3,
            "AccountClosed",
            &json!({}),
        );
        assert_metadata(&result, "close-1", label);
        let (version, _) = stream_events(&server, "account-c-1").await.expect("stream");
        assert_eq!(version, 3, "{label}");

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amount_that_is_not_a_positive_exact_amount_in_the_currency_is_bad_user_input() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "usd", "100.00", "USD").await;
        open_account(&server, "usd-2", "0", "USD").await;
        open_account(&server, "jpy", "1000", "JPY").await;

        let deposit =
            |account: &str, amount: &str| json!({ "accountId": account, "amount": amount });
        let transfer = |amount: &str| json!({ "fromAccountId": "usd", "toAccountId": "usd-2", "amount": amount });
        let open = |balance: &str| json!({ "accountId": "new", "owner": "Ada", "initialBalance": balance });
        let too_large = "99999999999999999999";
        let cases = [
            ("deposit", deposit("usd", "10.005"), "3 decimals in USD"),
            ("deposit", deposit("jpy", "1.5"), "a decimal in JPY"),
            ("withdraw", deposit("usd", "0.001"), "3 decimals in USD"),
            ("transfer", transfer("1.001"), "3 decimals in USD"),
            ("openAccount", open("1.234"), "3 decimals in USD"),
            ("deposit", deposit("usd", "0"), "zero"),
            ("deposit", deposit("usd", "0.00"), "zero with decimals"),
            ("deposit", deposit("usd", "-5"), "negative"),
            ("withdraw", deposit("usd", "-0.01"), "negative"),
            ("withdraw", deposit("usd", "0"), "zero"),
            ("transfer", transfer("0"), "zero"),
            ("transfer", transfer("-1"), "negative"),
            ("deposit", deposit("usd", "abc"), "not a number"),
            ("deposit", deposit("usd", "1e3"), "an exponent"),
            ("deposit", deposit("usd", ""), "empty"),
            (
                "deposit",
                deposit("usd", "1,000.00"),
                "a thousands separator",
            ),
            ("withdraw", deposit("usd", "12.34.5"), "two points"),
            ("transfer", transfer("ten"), "not a number"),
            ("openAccount", open("lots"), "not a number"),
            ("deposit", deposit("usd", too_large), "beyond 64 bits"),
            ("withdraw", deposit("usd", too_large), "beyond 64 bits"),
            ("transfer", transfer(too_large), "beyond 64 bits"),
            ("openAccount", open(too_large), "beyond 64 bits"),
            // Fits in 64 bits of cents, but not on top of the balance.
            (
                "deposit",
                deposit("usd", "92233720368547758.07"),
                "an overflowing balance",
            ),
        ];
        for (mutation, input, why) in cases {
            let label = format!("{} {mutation} {input}: {why}", db.name);
            assert_rejected(&server, mutation, input, "BAD_USER_INPUT", &label).await;
        }
        assert_eq!(balance_of(&server, "usd").await, 10_000, "{}", db.name);
        assert_eq!(balance_of(&server, "usd-2").await, 0, "{}", db.name);
        assert!(
            stream_events(&server, "account-new").await.is_none(),
            "{}",
            db.name
        );

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_owner_currency_or_account_id_a_transfer_to_itself_or_across_currencies_and_closing_with_money_are_bad_user_input()
 {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "usd", "10.00", "USD").await;
        open_account(&server, "eur", "10.00", "EUR").await;

        let open = |fields: Value| {
            let mut input = json!({ "accountId": "new", "owner": "Ada" });
            for (key, value) in fields.as_object().expect("fields") {
                input[key] = value.clone();
            }
            input
        };
        let transfer = |from: &str, to: &str| json!({ "fromAccountId": from, "toAccountId": to, "amount": "1.00" });
        let cases = [
            ("openAccount", open(json!({ "owner": "" })), "empty owner"),
            (
                "openAccount",
                open(json!({ "owner": "   " })),
                "blank owner",
            ),
            (
                "openAccount",
                open(json!({ "owner": "x".repeat(201) })),
                "owner too long",
            ),
            (
                "openAccount",
                open(json!({ "currency": "US" })),
                "2 letters",
            ),
            (
                "openAccount",
                open(json!({ "currency": "DOLLAR" })),
                "6 letters",
            ),
            (
                "openAccount",
                open(json!({ "currency": "U$D" })),
                "a symbol",
            ),
            ("openAccount", open(json!({ "currency": "" })), "empty"),
            (
                "openAccount",
                open(json!({ "initialBalance": "-1.00" })),
                "negative initial balance",
            ),
            ("openAccount", open(json!({ "accountId": "" })), "empty id"),
            (
                "openAccount",
                open(json!({ "accountId": "a b" })),
                "id with a space",
            ),
            ("transfer", transfer("usd", "usd"), "to itself"),
            ("transfer", transfer("usd", "eur"), "across currencies"),
            (
                "closeAccount",
                json!({ "accountId": "usd" }),
                "non-zero balance",
            ),
        ];
        for (mutation, input, why) in cases {
            let label = format!("{} {mutation} {input}: {why}", db.name);
            assert_rejected(&server, mutation, input, "BAD_USER_INPUT", &label).await;
        }
        assert_eq!(balance_of(&server, "usd").await, 1000, "{}", db.name);
        assert_eq!(balance_of(&server, "eur").await, 1000, "{}", db.name);
        let (version, _) = stream_events(&server, "account-usd").await.expect("usd");
        assert_eq!(version, 1, "{}: still open, nothing appended", db.name);

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_on_a_missing_account_are_not_found_and_opening_an_existing_one_is_already_exists()
{
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "here", "10.00", "USD").await;

        let money = json!({ "accountId": "missing", "amount": "1.00" });
        let cases = [
            ("deposit", money.clone()),
            ("withdraw", money),
            ("closeAccount", json!({ "accountId": "missing" })),
            (
                "transfer",
                json!({ "fromAccountId": "missing", "toAccountId": "here", "amount": "1.00" }),
            ),
            (
                "transfer",
                json!({ "fromAccountId": "here", "toAccountId": "missing", "amount": "1.00" }),
            ),
        ];
        for (mutation, input) in cases {
            let label = format!("{} {mutation} {input}", db.name);
            assert_rejected(&server, mutation, input, "NOT_FOUND", &label).await;
        }
        assert!(
            stream_events(&server, "account-missing").await.is_none(),
            "{}",
            db.name
        );

        let again = json!({ "accountId": "here", "owner": "Someone else", "initialBalance": "5" });
        let label = format!("{} open twice", db.name);
        assert_rejected(
            &server,
            "openAccount",
            again.clone(),
            "ALREADY_EXISTS",
            &label,
        )
        .await;

        // A closed account's id stays taken.
        open_account(&server, "gone", "0", "USD").await;
        run(&server, "closeAccount", json!({ "accountId": "gone" })).await;
        let reopen = json!({ "accountId": "gone", "owner": "Ada" });
        let label = format!("{} reopen a closed account", db.name);
        assert_rejected(&server, "openAccount", reopen, "ALREADY_EXISTS", &label).await;
        assert_eq!(balance_of(&server, "here").await, 1000, "{}", db.name);

        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdrawing_is_insufficient_funds_and_moving_money_on_a_closed_account_is_account_closed()
{
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "poor", "5.00", "USD").await;
        open_account(&server, "rich", "100.00", "USD").await;

        let cases = [
            ("withdraw", json!({ "accountId": "poor", "amount": "5.01" })),
            (
                "transfer",
                json!({ "fromAccountId": "poor", "toAccountId": "rich", "amount": "6" }),
            ),
        ];
        for (mutation, input) in cases {
            let label = format!("{} {mutation} {input}", db.name);
            assert_rejected(&server, mutation, input, "INSUFFICIENT_FUNDS", &label).await;
        }
        assert_eq!(balance_of(&server, "poor").await, 500, "{}", db.name);

        run(
            &server,
            "withdraw",
            json!({ "accountId": "poor", "amount": "5.00" }),
        )
        .await;
        run(&server, "closeAccount", json!({ "accountId": "poor" })).await;
        let cases = [
            ("deposit", json!({ "accountId": "poor", "amount": "1.00" })),
            ("withdraw", json!({ "accountId": "poor", "amount": "1.00" })),
            ("closeAccount", json!({ "accountId": "poor" })),
            (
                "transfer",
                json!({ "fromAccountId": "rich", "toAccountId": "poor", "amount": "1" }),
            ),
            (
                "transfer",
                json!({ "fromAccountId": "poor", "toAccountId": "rich", "amount": "1" }),
            ),
        ];
        for (mutation, input) in cases {
            let label = format!("{} {mutation} {input}", db.name);
            assert_rejected(&server, mutation, input, "ACCOUNT_CLOSED", &label).await;
        }
        assert_eq!(balance_of(&server, "rich").await, 10_000, "{}", db.name);

        server.stop().await;
    }
}
