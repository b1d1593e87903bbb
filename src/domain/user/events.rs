//! What happened to a user.

use serde::{Deserialize, Serialize};

use crate::domain::DomainEvent;

// The variant names are the stored event types, which say whose event it
// is when read from the global log.
#[allow(clippy::enum_variant_names)]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum UserEvent {
    /// `email` is normalized (`normalize_email`), `name` trimmed.
    UserRegistered {
        email: String,
        name: String,
    },
    /// Only the fields that changed.
    UserUpdated {
        #[serde(skip_serializing_if = "Option::is_none")]
        email: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    UserDeleted {},
}

impl DomainEvent for UserEvent {
    fn schema_version(_event_type: &str) -> i32 {
        1
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_update_stores_only_the_fields_that_changed() {
        let event = UserEvent::UserUpdated {
            email: None,
            name: Some("Ada".into()),
        };
        let (event_type, data) = event.to_parts().unwrap();
        assert_eq!(event_type, "UserUpdated");
        assert_eq!(data, json!({ "name": "Ada" }));
        assert_eq!(UserEvent::from_parts(&event_type, data).unwrap(), event);
    }

    #[test]
    fn user_events_round_trip_through_their_stored_form() {
        for event in [
            UserEvent::UserRegistered {
                email: "ada@example.com".into(),
                name: "Ada".into(),
            },
            UserEvent::UserUpdated {
                email: Some("ada@example.org".into()),
                name: None,
            },
            UserEvent::UserDeleted {},
        ] {
            let (event_type, data) = event.to_parts().unwrap();
            assert_eq!(UserEvent::schema_version(&event_type), 1);
            assert_eq!(UserEvent::from_parts(&event_type, data).unwrap(), event);
        }
    }
}
