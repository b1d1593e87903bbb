//! What the read models must hold, folded here from the event log as the
//! API serves it (`events`), independently of the server's own folds; and
//! what they do hold, read through the API in the same shape.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::TestServer;

/// Every read model, as JSON objects with the API's field names.
#[derive(Debug, PartialEq)]
pub struct ReadModels {
    /// Sorted by id: the server's order is the database's collation, and
    /// PostgreSQL's need not be byte order.
    pub accounts: Vec<Value>,
    /// Per account, newest first.
    pub transactions: BTreeMap<String, Vec<Value>>,
    /// By date, then currency.
    pub daily: Vec<Value>,
    /// Sorted by id, like `accounts`.
    pub users: Vec<Value>,
}

pub const ACCOUNT_FIELDS: &str =
    "id owner currency balance status version transactionCount openedAt updatedAt";
pub const TRANSACTION_FIELDS: &str =
    "id accountId kind amount balanceAfter description counterpartyAccountId position occurredAt";
pub const DAILY_FIELDS: &str = "date currency deposits withdrawals netChange transactionCount";
pub const USER_FIELDS: &str = "id email name deleted version createdAt updatedAt";

/// The whole log, ascending.
pub async fn log(server: &TestServer) -> Vec<Value> {
    let query = "query($after: Long) { events(afterPosition: $after, first: 1000) {
        edges { node { id streamId version position type data recordedAt } }
        pageInfo { hasNextPage } } }";
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let response = server.gql(query, json!({ "after": after })).await;
        let page = &TestServer::data(&response)["events"];
        for edge in page["edges"].as_array().expect("edges") {
            after = edge["node"]["position"].as_i64().expect("position");
            events.push(edge["node"].clone());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return events;
        }
    }
}

/// The position of the last event stored.
pub async fn head(server: &TestServer) -> i64 {
    let response = server.gql("{ stats { headPosition } }", json!({})).await;
    TestServer::data(&response)["stats"]["headPosition"]
        .as_i64()
        .expect("headPosition")
}

/// Minor units as the API writes them (the currencies the tests use).
pub fn money(minor: i64, currency: &str) -> String {
    if currency == "JPY" {
        return minor.to_string();
    }
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

struct Account {
    owner: String,
    currency: String,
    balance: i64,
    closed: bool,
    version: i64,
    count: i64,
    opened_at: Value,
    updated_at: Value,
}

/// The read models the contract describes, folded from `events`.
pub fn fold(events: &[Value]) -> ReadModels {
    let mut accounts: BTreeMap<String, Account> = BTreeMap::new();
    let mut transactions: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut daily: BTreeMap<(String, String), [i64; 3]> = BTreeMap::new();
    let mut users: BTreeMap<String, Value> = BTreeMap::new();
    for e in events {
        let stream = e["streamId"].as_str().expect("streamId");
        let data = &e["data"];
        let at = e["recordedAt"].clone();
        let version = e["version"].as_i64().expect("version");
        if let Some(id) = stream.strip_prefix("user-") {
            match e["type"].as_str() {
                Some("UserRegistered") => {
                    let user = json!({ "id": id, "email": data["email"], "name": data["name"],
                        "deleted": false, "version": version, "createdAt": at, "updatedAt": at });
                    users.insert(id.to_owned(), user);
                }
                Some(other) => {
                    let user = users.get_mut(id).expect("a registered user");
                    for field in ["email", "name"] {
                        if data.get(field).is_some() {
                            user[field] = data[field].clone();
                        }
                    }
                    user["deleted"] = json!(user["deleted"] == true || other == "UserDeleted");
                    user["version"] = json!(version);
                    user["updatedAt"] = at;
                }
                None => panic!("an event without a type: {e}"),
            }
            continue;
        }
        let Some(id) = stream.strip_prefix("account-") else {
            continue;
        };
        let amount = data["amount"].as_i64().unwrap_or(0);
        let kind = match e["type"].as_str().expect("type") {
            "AccountOpened" => {
                let initial = data["initialBalance"].as_i64().expect("initialBalance");
                accounts.insert(
                    id.to_owned(),
                    Account {
                        owner: data["owner"].as_str().expect("owner").to_owned(),
                        currency: data["currency"].as_str().expect("currency").to_owned(),
                        balance: initial,
                        closed: false,
                        version,
                        count: 0,
                        opened_at: at.clone(),
                        updated_at: at.clone(),
                    },
                );
                Some(("OPENING", initial, initial, 0))
            }
            "MoneyDeposited" => Some(("DEPOSIT", amount, amount, 0)),
            "MoneyWithdrawn" => Some(("WITHDRAWAL", -amount, 0, amount)),
            "MoneyTransferredOut" => Some(("TRANSFER_OUT", -amount, 0, 0)),
            "MoneyTransferredIn" => Some(("TRANSFER_IN", amount, 0, 0)),
            "AccountClosed" => None,
            other => panic!("unexpected account event {other}"),
        };
        let account = accounts.get_mut(id).expect("an opened account");
        account.version = version;
        account.updated_at = at.clone();
        let Some((kind, delta, deposit, withdrawal)) = kind else {
            account.closed = true;
            continue;
        };
        if kind != "OPENING" {
            account.balance += delta;
        }
        account.count += 1;
        let currency = account.currency.clone();
        let counterparty = data
            .get("toAccountId")
            .or_else(|| data.get("fromAccountId"))
            .cloned()
            .unwrap_or(Value::Null);
        let row = json!({
            "id": e["id"], "accountId": id, "kind": kind,
            "amount": money(if kind == "OPENING" { delta } else { amount }, &currency),
            "balanceAfter": money(account.balance, &currency),
            "description": data.get("description").cloned().unwrap_or(Value::Null),
            "counterpartyAccountId": counterparty,
            "position": e["position"], "occurredAt": at,
        });
        transactions
            .entry(id.to_owned())
            .or_default()
            .insert(0, row);
        if kind != "TRANSFER_IN" {
            let date = at.as_str().expect("recordedAt")[..10].to_owned();
            let sums = daily.entry((date, currency)).or_default();
            sums[0] += deposit;
            sums[1] += withdrawal;
            sums[2] += 1;
        }
    }
    ReadModels {
        accounts: accounts
            .into_iter()
            .map(|(id, a)| {
                json!({ "id": id, "owner": a.owner, "currency": a.currency,
                    "balance": money(a.balance, &a.currency),
                    "status": if a.closed { "CLOSED" } else { "OPEN" },
                    "version": a.version, "transactionCount": a.count,
                    "openedAt": a.opened_at, "updatedAt": a.updated_at })
            })
            .collect(),
        transactions,
        daily: daily
            .into_iter()
            .map(|((date, currency), [deposits, withdrawals, count])| {
                json!({ "date": date, "currency": currency,
                    "deposits": money(deposits, &currency),
                    "withdrawals": money(withdrawals, &currency),
                    "netChange": money(deposits - withdrawals, &currency),
                    "transactionCount": count })
            })
            .collect(),
        users: users.into_values().collect(),
    }
}

/// Server settings for tests that [`read`] every read model at once: one
/// query asks for every account with every transaction, beyond what the
/// default complexity bound admits.
pub fn whole_read_models() -> chronicle::Config {
    let mut limits = chronicle::Config::default();
    limits.requests.max_complexity = usize::MAX;
    limits
}

/// The read models as the server answers once it reflects `min_position`;
/// transactions through `Account.transactions` (the DataLoader), checked
/// against the top-level `transactions` field for every account.
pub async fn read(server: &TestServer, min_position: i64) -> ReadModels {
    let query = format!(
        "query($p: Long) {{
          accounts(first: 1000, minPosition: $p) {{ edges {{ node {{ {ACCOUNT_FIELDS}
            transactions(first: 1000) {{ edges {{ node {{ {TRANSACTION_FIELDS} }} }} }} }} }} }}
          dailySummaries(minPosition: $p) {{ {DAILY_FIELDS} }}
          users(first: 1000, minPosition: $p) {{ edges {{ node {{ {USER_FIELDS} }} }} }} }}"
    );
    let response = server.gql(&query, json!({ "p": min_position })).await;
    let data = TestServer::data(&response);
    let nodes = |list: &Value| -> Vec<Value> {
        list["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"].clone())
            .collect()
    };
    let mut accounts = nodes(&data["accounts"]);
    let mut transactions = BTreeMap::new();
    for account in &mut accounts {
        let object = account.as_object_mut().expect("an account");
        let history = nodes(&object.remove("transactions").expect("transactions"));
        let id = object["id"].as_str().expect("id").to_owned();
        transactions.insert(id, history);
    }
    for (id, history) in &transactions {
        assert_eq!(
            &account_transactions(server, id, min_position).await,
            history,
            "{id}"
        );
    }
    transactions.retain(|_, history| !history.is_empty());
    let mut users = nodes(&data["users"]);
    let by_id = |a: &Value, b: &Value| a["id"].as_str().cmp(&b["id"].as_str());
    accounts.sort_by(by_id);
    users.sort_by(by_id);
    ReadModels {
        accounts,
        transactions,
        daily: data["dailySummaries"].as_array().expect("daily").clone(),
        users,
    }
}

/// One account's whole history through `transactions(accountId)`.
pub async fn account_transactions(server: &TestServer, id: &str, min_position: i64) -> Vec<Value> {
    let query = format!(
        "query($id: ID!, $p: Long) {{ transactions(accountId: $id, first: 1000, minPosition: $p)
           {{ edges {{ node {{ {TRANSACTION_FIELDS} }} }} }} }}"
    );
    let response = server
        .gql(&query, json!({ "id": id, "p": min_position }))
        .await;
    TestServer::data(&response)["transactions"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// `projection(name)`'s status fields.
pub async fn projection(server: &TestServer, name: &str) -> Value {
    let query = "query($name: String!) { projection(name: $name) {
        name status position headPosition lag lastError failedPosition } }";
    let response = server.gql(query, json!({ "name": name })).await;
    TestServer::data(&response)["projection"].clone()
}

pub const PROJECTIONS: [&str; 4] = [
    "AccountBalances",
    "TransactionHistory",
    "DailySummary",
    "Users",
];
