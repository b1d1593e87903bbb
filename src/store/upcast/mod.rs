//! Upcasting: events stored under an older schema are turned into the
//! current one as they are read, so the store's callers (aggregates,
//! projections, the API) only ever see current events. Stored rows are
//! never rewritten.
//!
//! An upcaster takes one event type of one stream category from one schema
//! version to the next; the registry chains them. Event types belong to
//! their aggregate's category: `MoneyDeposited` in `account-…` is an
//! account's deposit, while a `MoneyDeposited` that a client appended to
//! `orders-1` (or to `Account-1`: categories match exactly) is opaque data
//! that no upcaster touches. An upcaster may need the event's stream
//! origin (its version-1 event): an old deposit had no currency, and the
//! account's opening says which it was.
//!
//! An event that cannot be brought to its current schema (a version this
//! code does not know, a step that fails) is served as stored, with the
//! reason in `RecordedEvent::upcast_error`: one bad row must not make the
//! log, its stream or a subscription unreadable. Whoever folds events
//! (an aggregate, a projection) refuses such an event instead of
//! misreading it.

mod money_deposited;

use std::collections::HashMap;

use serde_json::Value;

use super::{RecordedEvent, category_of};

/// One step: `event_type` of streams in `category` from `from_version` to
/// `from_version + 1`.
pub struct Upcaster {
    pub category: &'static str,
    pub event_type: &'static str,
    pub from_version: i32,
    /// Whether `upcast` needs the stream's first event.
    pub needs_origin: bool,
    pub upcast: fn(Value, Option<&RecordedEvent>) -> Result<Value, String>,
}

/// A category and an event type in it.
type Kind = (&'static str, &'static str);

/// The current schema version of each known event type, and the steps
/// that lead there.
pub struct Upcasters {
    current: HashMap<Kind, i32>,
    steps: HashMap<(Kind, i32), Upcaster>,
}

impl Upcasters {
    /// Chronicle's own event history.
    pub fn standard() -> Self {
        Self::new(
            [(("account", "MoneyDeposited"), 2)],
            [money_deposited::V1_TO_V2],
        )
    }

    pub fn new(
        current: impl IntoIterator<Item = (Kind, i32)>,
        steps: impl IntoIterator<Item = Upcaster>,
    ) -> Self {
        Self {
            current: current.into_iter().collect(),
            steps: steps
                .into_iter()
                .map(|u| (((u.category, u.event_type), u.from_version), u))
                .collect(),
        }
    }

    /// The registry's own spelling of `event`'s kind, with its current
    /// version, when the registry knows it.
    fn current_of(&self, event: &RecordedEvent) -> Option<(Kind, i32)> {
        let category = category_of(&event.stream_id);
        self.current
            .iter()
            .find(|((c, t), _)| *c == category && *t == event.event_type)
            .map(|(kind, version)| (*kind, *version))
    }

    /// Whether `event` is not at its type's current schema (older, or of
    /// a version this code does not know).
    pub fn is_stale(&self, event: &RecordedEvent) -> bool {
        self.current_of(event)
            .is_some_and(|(_, current)| event.schema_version != current)
    }

    pub fn needs_origin(&self, event: &RecordedEvent) -> bool {
        self.current_of(event).is_some_and(|(kind, current)| {
            event.schema_version != current
                && self
                    .steps
                    .get(&(kind, event.schema_version))
                    .is_some_and(|u| u.needs_origin)
        })
    }

    /// The event in its type's current schema; when that cannot be, the
    /// event as stored with the reason in `upcast_error`.
    pub fn upcast(&self, event: RecordedEvent, origin: Option<&RecordedEvent>) -> RecordedEvent {
        let Some((kind, current)) = self.current_of(&event) else {
            return event;
        };
        let stored = event.clone();
        match self.chain(event, kind, current, origin) {
            Ok(current) => current,
            Err(reason) => RecordedEvent {
                upcast_error: Some(reason),
                ..stored
            },
        }
    }

    fn chain(
        &self,
        mut event: RecordedEvent,
        kind: Kind,
        current: i32,
        origin: Option<&RecordedEvent>,
    ) -> Result<RecordedEvent, String> {
        while event.schema_version < current {
            let step = self
                .steps
                .get(&(kind, event.schema_version))
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
}
