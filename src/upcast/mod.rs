//! Upcasting: events stored under an older schema are turned into the
//! current one as they are read, so the store's callers (aggregates,
//! projections, the API) only ever see current events. Stored rows are
//! never rewritten.
//!
//! An upcaster takes one event type from one schema version to the next;
//! the registry chains them. It may need the event's stream origin (its
//! version-1 event): an old deposit had no currency, and the account's
//! opening says which it was. Types the registry does not know (generic
//! streams written through `appendEvents`) pass through untouched.

mod money_deposited;

use std::collections::HashMap;

use serde_json::Value;

use crate::store::RecordedEvent;

/// One step: `event_type` from `from_version` to `from_version + 1`.
pub struct Upcaster {
    pub event_type: &'static str,
    pub from_version: i32,
    /// Whether `upcast` needs the stream's first event.
    pub needs_origin: bool,
    pub upcast: fn(Value, Option<&RecordedEvent>) -> Result<Value, String>,
}

/// The current schema version of each known event type, and the steps
/// that lead there.
pub struct Upcasters {
    current: HashMap<&'static str, i32>,
    steps: HashMap<(&'static str, i32), Upcaster>,
}

impl Upcasters {
    /// Chronicle's own event history.
    pub fn standard() -> Self {
        Self::new([("MoneyDeposited", 2)], [money_deposited::V1_TO_V2])
    }

    pub fn new(
        current: impl IntoIterator<Item = (&'static str, i32)>,
        steps: impl IntoIterator<Item = Upcaster>,
    ) -> Self {
        Self {
            current: current.into_iter().collect(),
            steps: steps
                .into_iter()
                .map(|u| ((u.event_type, u.from_version), u))
                .collect(),
        }
    }

    /// Whether `event` is older than its type's current schema (or of a
    /// version this code does not know).
    pub fn is_stale(&self, event: &RecordedEvent) -> bool {
        self.current
            .get(event.event_type.as_str())
            .is_some_and(|current| event.schema_version != *current)
    }

    pub fn needs_origin(&self, event: &RecordedEvent) -> bool {
        self.is_stale(event)
            && self
                .steps
                .get(&(self.key(event), event.schema_version))
                .is_some_and(|u| u.needs_origin)
    }

    /// The event in its type's current schema. An event from the future or
    /// with a gap in the chain is an error that names both.
    pub fn upcast(
        &self,
        mut event: RecordedEvent,
        origin: Option<&RecordedEvent>,
    ) -> Result<RecordedEvent, String> {
        let Some(&current) = self.current.get(event.event_type.as_str()) else {
            return Ok(event);
        };
        while event.schema_version < current {
            let step = self
                .steps
                .get(&(self.key(&event), event.schema_version))
                .ok_or_else(|| {
                    format!(
                        "no upcaster turns {} v{} into v{current} (event {} at position {})",
                        event.event_type, event.schema_version, event.id, event.position
                    )
                })?;
            event.data = (step.upcast)(event.data, origin).map_err(|err| {
                format!(
                    "cannot upcast {} v{} (event {} at position {}): {err}",
                    event.event_type, event.schema_version, event.id, event.position
                )
            })?;
            event.schema_version += 1;
        }
        if event.schema_version > current {
            return Err(format!(
                "{} v{} is newer than this server knows (v{current}); event {} at position {}",
                event.event_type, event.schema_version, event.id, event.position
            ));
        }
        Ok(event)
    }

    fn key(&self, event: &RecordedEvent) -> &'static str {
        self.current
            .get_key_value(event.event_type.as_str())
            .map_or("", |(k, _)| *k)
    }
}
