//! What an event's `data` and `metadata` may be: bounded in size and
//! nesting, and free of NUL characters, so that whatever the store accepts
//! it can read back.
//!
//! The JSON decoder that reads a row back (serde_json, under sqlx) stops
//! at 128 levels of nesting, and PostgreSQL's `jsonb` refuses a `\u0000`
//! anywhere: an event stored past either would fail every read of the log
//! after it. The nesting is measured with an explicit stack, so a value
//! nested far deeper than the bound is refused without recursing into it.

use std::io;

use serde::Serialize;
use serde_json::{Map, Value};

use super::StoreError;
use crate::config::EventLimits;

/// Checks `data` and `metadata` of one event against `limits`; `what`
/// names the event in the message.
pub fn check_event(
    data: &Value,
    metadata: &Map<String, Value>,
    limits: &EventLimits,
    what: &dyn Fn() -> String,
) -> Result<(), StoreError> {
    let depth = limits.max_event_depth as usize;
    let invalid =
        |part: &str, problem: String| StoreError::invalid(format!("{} {part} {problem}", what()));
    check_shape(data, depth).map_err(|p| invalid("data", p))?;
    // The metadata is an object: its values sit one level down.
    for (key, value) in metadata {
        no_nul(key).map_err(|p| invalid("metadata", p))?;
        check_shape(value, depth.saturating_sub(1)).map_err(|p| invalid("metadata", p))?;
    }
    let size = size_up_to(data, limits.max_event_bytes)
        .saturating_add(size_up_to(metadata, limits.max_event_bytes));
    if size > limits.max_event_bytes {
        return Err(StoreError::invalid(format!(
            "{} is larger than {} bytes of JSON (data and metadata together)",
            what(),
            limits.max_event_bytes
        )));
    }
    Ok(())
}

/// Nesting at most `max_depth` (a scalar is depth 0, `[]` and `{}` 1) and
/// no NUL in any string or key.
fn check_shape(value: &Value, max_depth: usize) -> Result<(), String> {
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::Array(items) => {
                if depth + 1 > max_depth {
                    return Err(too_deep(max_depth));
                }
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            Value::Object(fields) => {
                if depth + 1 > max_depth {
                    return Err(too_deep(max_depth));
                }
                for (key, v) in fields {
                    no_nul(key)?;
                    stack.push((v, depth + 1));
                }
            }
            Value::String(s) => no_nul(s)?,
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    Ok(())
}

fn too_deep(max_depth: usize) -> String {
    format!("nests arrays and objects more than {max_depth} deep")
}

fn no_nul(s: &str) -> Result<(), String> {
    if s.contains('\0') {
        Err("contains the NUL character (U+0000), which cannot be stored".to_owned())
    } else {
        Ok(())
    }
}

/// The length of `value` as JSON text, counting no further than just past
/// `cap`. Serialized into a counter, so nothing is allocated; the depth was
/// bounded first, so the serializer's recursion is too.
fn size_up_to(value: &impl Serialize, cap: usize) -> usize {
    let mut counter = Counter { bytes: 0, cap };
    // The counter stops the serializer with an error once past the cap.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.bytes
}

struct Counter {
    bytes: usize,
    cap: usize,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes += buf.len();
        if self.bytes > self.cap {
            return Err(io::Error::other("over the cap"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested(depth: usize) -> Value {
        let mut value = json!(1);
        for _ in 0..depth {
            value = json!([value]);
        }
        value
    }

    fn check(data: &Value, limits: &EventLimits) -> Result<(), StoreError> {
        check_event(data, &Map::new(), limits, &|| "the event".to_owned())
    }

    #[test]
    fn nesting_up_to_the_bound_is_accepted_and_past_it_refused() {
        let limits = EventLimits::default();
        let depth = limits.max_event_depth as usize;
        assert!(check(&nested(depth), &limits).is_ok());
        let err = check(&nested(depth + 1), &limits).unwrap_err().to_string();
        assert!(err.contains("deep"), "{err}");
    }

    #[test]
    fn a_value_nested_far_past_the_bound_is_refused_without_recursing() {
        // Built and dropped on a big stack; checked on a small one.
        let deep = std::thread::Builder::new()
            .stack_size(64 * 1024 * 1024)
            .spawn(|| {
                let mut value = Value::Null;
                for _ in 0..100_000 {
                    value = Value::Array(vec![value]);
                }
                let result = std::thread::scope(|s| {
                    std::thread::Builder::new()
                        .stack_size(64 * 1024)
                        .spawn_scoped(s, || check_shape(&value, 32).is_err())
                        .unwrap()
                        .join()
                        .unwrap()
                });
                // Dropping a deep value recurses; unwind it by hand.
                while let Value::Array(mut items) = value {
                    value = items.pop().unwrap_or(Value::Null);
                }
                result
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(deep);
    }

    #[test]
    fn size_counts_data_and_metadata_together() {
        let limits = EventLimits {
            max_event_bytes: 100,
            ..EventLimits::default()
        };
        let data = json!({ "text": "x".repeat(60) });
        assert!(check(&data, &limits).is_ok());
        let mut meta = Map::new();
        meta.insert("more".into(), json!("y".repeat(40)));
        assert!(check_event(&data, &meta, &limits, &|| "e".into()).is_err());
        assert_eq!(size_up_to(&json!({"a":[1,2]}), 1000), 11);
    }

    #[test]
    fn nul_characters_are_refused_in_strings_and_keys() {
        let limits = EventLimits::default();
        assert!(check(&json!({ "a": "x\u{0}y" }), &limits).is_err());
        assert!(check(&json!({ "k\u{0}": 1 }), &limits).is_err());
        assert!(check(&json!({ "a": "\u{1}" }), &limits).is_ok());
    }
}
