//! What happened to an account. All amounts are minor units of `currency`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::DomainEvent;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum AccountEvent {
    AccountOpened {
        owner: String,
        currency: String,
        initial_balance: i64,
    },
    MoneyDeposited {
        amount: i64,
        currency: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    MoneyWithdrawn {
        amount: i64,
        currency: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    MoneyTransferredOut {
        transfer_id: Uuid,
        to_account_id: String,
        amount: i64,
        currency: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    MoneyTransferredIn {
        transfer_id: Uuid,
        from_account_id: String,
        amount: i64,
        currency: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    AccountClosed {},
}

impl DomainEvent for AccountEvent {
    fn schema_version(event_type: &str) -> i32 {
        match event_type {
            // v1 held a major-unit amount and no currency; its upcaster
            // comes with the store's upcasting.
            "MoneyDeposited" => 2,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_are_stored_under_their_variant_name_with_camel_case_fields() {
        let event = AccountEvent::AccountOpened {
            owner: "Ada".into(),
            currency: "USD".into(),
            initial_balance: 1050,
        };
        let (event_type, data) = event.to_parts().unwrap();
        assert_eq!(event_type, "AccountOpened");
        assert_eq!(
            data,
            json!({ "owner": "Ada", "currency": "USD", "initialBalance": 1050 })
        );
        assert_eq!(AccountEvent::from_parts(&event_type, data).unwrap(), event);
    }

    #[test]
    fn a_missing_description_is_left_out_of_the_stored_data() {
        let event = AccountEvent::MoneyTransferredOut {
            transfer_id: Uuid::nil(),
            to_account_id: "b".into(),
            amount: 5,
            currency: "USD".into(),
            description: None,
        };
        let (_, data) = event.to_parts().unwrap();
        assert_eq!(
            data,
            json!({
                "transferId": Uuid::nil(),
                "toAccountId": "b",
                "amount": 5,
                "currency": "USD",
            })
        );
        assert_eq!(
            AccountEvent::from_parts("MoneyTransferredOut", data).unwrap(),
            event
        );
    }

    #[test]
    fn a_closed_account_event_has_empty_data() {
        let (event_type, data) = AccountEvent::AccountClosed {}.to_parts().unwrap();
        assert_eq!((event_type.as_str(), &data), ("AccountClosed", &json!({})));
        assert_eq!(
            AccountEvent::from_parts("AccountClosed", data).unwrap(),
            AccountEvent::AccountClosed {}
        );
    }

    #[test]
    fn money_deposited_is_at_schema_version_2_and_the_rest_at_1() {
        // Through to_parts, so a renamed variant cannot leave the "2"
        // behind on a name that is no longer written.
        let deposited = AccountEvent::MoneyDeposited {
            amount: 1,
            currency: "USD".into(),
            description: None,
        };
        let (event_type, _) = deposited.to_parts().unwrap();
        assert_eq!(AccountEvent::schema_version(&event_type), 2);
        let (event_type, _) = AccountEvent::AccountClosed {}.to_parts().unwrap();
        assert_eq!(AccountEvent::schema_version(&event_type), 1);
        assert_eq!(AccountEvent::schema_version("MoneyWithdrawn"), 1);
    }
}
