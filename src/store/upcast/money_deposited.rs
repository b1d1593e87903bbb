//! `MoneyDeposited` v1 → v2.
//!
//! v1 (before currencies): `{ "amount": 12, "description": ... }` with the
//! amount an integer of major units. v2: `{ "amount": 1200, "currency":
//! "USD", ... }` in minor units of the account's currency, which v1 did
//! not record: it comes from the account's opening event.

use serde_json::{Value, json};

use super::Upcaster;
use crate::domain::money::Currency;
use crate::store::RecordedEvent;

pub const V1_TO_V2: Upcaster = Upcaster {
    category: "account",
    event_type: "MoneyDeposited",
    from_version: 1,
    needs_origin: true,
    upcast,
};

fn upcast(data: Value, origin: Option<&RecordedEvent>) -> Result<Value, String> {
    let major = data["amount"].as_i64().ok_or_else(|| {
        format!(
            "v1 amount must be an integer of major units, got {}",
            data["amount"]
        )
    })?;
    let code = origin
        .filter(|o| o.event_type == "AccountOpened")
        .and_then(|o| o.data["currency"].as_str())
        .ok_or("the account's AccountOpened event (its currency) was not found")?;
    let currency = Currency::parse(code).map_err(|e| e.to_string())?;
    let minor = 10i64
        .checked_pow(currency.exponent())
        .and_then(|factor| major.checked_mul(factor))
        .ok_or("amount overflows in minor units")?;
    let mut upcast = json!({ "amount": minor, "currency": currency.as_str() });
    if let Some(description) = data.get("description").filter(|d| !d.is_null()) {
        upcast["description"] = description.clone();
    }
    Ok(upcast)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::super::Upcasters;
    use super::*;

    fn event(event_type: &str, schema_version: i32, data: Value) -> RecordedEvent {
        in_stream("account-1", event_type, schema_version, data)
    }

    fn in_stream(
        stream: &str,
        event_type: &str,
        schema_version: i32,
        data: Value,
    ) -> RecordedEvent {
        RecordedEvent {
            id: Uuid::new_v4(),
            stream_id: stream.into(),
            version: 1,
            position: 1,
            event_type: event_type.into(),
            schema_version,
            data,
            metadata: json!({}),
            recorded_at: Utc::now(),
            upcast_error: None,
        }
    }

    fn opened(currency: &str) -> RecordedEvent {
        event(
            "AccountOpened",
            1,
            json!({ "owner": "A", "currency": currency, "initialBalance": 0 }),
        )
    }

    #[test]
    fn a_v1_deposit_becomes_minor_units_in_the_accounts_currency() {
        let upcasters = Upcasters::standard();
        let v1 = event(
            "MoneyDeposited",
            1,
            json!({ "amount": 12, "description": "cash" }),
        );
        assert!(upcasters.is_stale(&v1) && upcasters.needs_origin(&v1));
        let v2 = upcasters.upcast(v1.clone(), Some(&opened("EUR")));
        assert_eq!(v2.upcast_error, None);
        assert_eq!(v2.schema_version, 2);
        assert_eq!(
            v2.data,
            json!({ "amount": 1200, "currency": "EUR", "description": "cash" })
        );
        let yen = upcasters.upcast(v1, Some(&opened("JPY")));
        assert_eq!(yen.data["amount"], 12, "JPY has no minor unit");
    }

    #[test]
    fn current_and_unknown_types_pass_through() {
        let upcasters = Upcasters::standard();
        let v2 = event(
            "MoneyDeposited",
            2,
            json!({ "amount": 5, "currency": "USD" }),
        );
        assert_eq!(upcasters.upcast(v2.clone(), None), v2);
        let generic = event("OrderPlaced", 7, json!({}));
        assert!(!upcasters.is_stale(&generic));
        assert_eq!(upcasters.upcast(generic.clone(), None), generic);
    }

    #[test]
    fn an_account_event_type_in_another_category_is_opaque() {
        let upcasters = Upcasters::standard();
        for stream in ["evil-1", "Account-f1", "accounts-1", "ACCOUNT-2"] {
            let lookalike = in_stream(stream, "MoneyDeposited", 1, json!({}));
            assert!(!upcasters.is_stale(&lookalike), "{stream}");
            assert_eq!(
                upcasters.upcast(lookalike.clone(), None),
                lookalike,
                "{stream}"
            );
        }
    }

    #[test]
    fn unknown_versions_are_errors_that_name_type_and_version() {
        let upcasters = Upcasters::standard();
        let error = |event: RecordedEvent| {
            let served = upcasters.upcast(event.clone(), None);
            assert_eq!(
                (served.schema_version, &served.data),
                (event.schema_version, &event.data),
                "served as stored"
            );
            served.upcast_error.expect("the reason")
        };
        let future = error(event("MoneyDeposited", 3, json!({})));
        assert!(future.contains("MoneyDeposited v3"), "{future}");
        let ancient = error(event("MoneyDeposited", 0, json!({})));
        assert!(ancient.contains("MoneyDeposited v0"), "{ancient}");
        let orphan = error(event("MoneyDeposited", 1, json!({ "amount": 1 })));
        assert!(orphan.contains("AccountOpened"), "{orphan}");
    }
}
