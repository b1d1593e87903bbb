//! The checks an append passes before it reaches the writer: what one
//! append may carry, whatever the streams hold.

use super::{MAX_APPEND_EVENTS, StoreError, StreamAppend, json};
use crate::config::EventLimits;

pub(super) fn validate(appends: &[StreamAppend], limits: &EventLimits) -> Result<(), StoreError> {
    if appends.is_empty() {
        return Err(StoreError::invalid("an append needs at least one stream"));
    }
    let mut streams = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    let mut total = 0;
    for append in appends {
        if !streams.insert(append.stream.as_str()) {
            return Err(StoreError::invalid(format!(
                "stream {} appears twice in one append",
                append.stream
            )));
        }
        if append.events.is_empty() {
            return Err(StoreError::invalid(format!(
                "the append to stream {} has no events",
                append.stream
            )));
        }
        total += append.events.len();
        for (i, event) in append.events.iter().enumerate() {
            event.validate()?;
            let what = || format!("event {i} of the append to {}", append.stream);
            json::check_event(&event.data, &event.metadata, limits, &what)?;
            if let Some(id) = event.id
                && !ids.insert(id)
            {
                return Err(StoreError::invalid(format!(
                    "event id {id} appears twice in one append"
                )));
            }
        }
    }
    if total > MAX_APPEND_EVENTS {
        return Err(StoreError::invalid(format!(
            "an append may carry at most {MAX_APPEND_EVENTS} events, got {total}"
        )));
    }
    Ok(())
}
