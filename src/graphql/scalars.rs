//! The contract's custom scalars, each with a description that states its
//! wire format (what GraphQL Code Generator and other clients read to type
//! them) and an `@specifiedBy` URL where a specification exists.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::Utc;

use super::error::bad_input_value;
use crate::domain::money::{Currency, format_minor};
use crate::graphql::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Long(pub i64);

/// 64-bit signed integer (positions, versions). A JSON number on output;
/// input accepts a number or a string of digits. Positions and versions
/// stay below 2^53 (9007199254740992), so a JavaScript number holds them
/// exactly; map it to `number` in generated types.
#[Scalar(name = "Long")]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        parse_long(value).map_err(bad_input_value)
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

fn parse_long(value: Value) -> InputValueResult<Long> {
    match &value {
        Value::Number(n) => n
            .as_i64()
            .map(Long)
            .ok_or_else(|| InputValueError::custom(format!("{n} is not a 64-bit integer"))),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Long)
            .map_err(|_| InputValueError::custom(format!("\"{s}\" is not a 64-bit integer"))),
        _ => Err(InputValueError::expected_type(value)),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal(pub String);

/// The largest integer a JSON number carries exactly through any client
/// (2^53 - 1): past it, or with a fraction or an exponent, a number may
/// already have passed through a float.
const MAX_EXACT_NUMBER: u64 = (1 << 53) - 1;

/// Exact decimal amount, e.g. "1000.50". A string on output; input accepts
/// a string, or a JSON integer below 2^53 (exact). A JSON number with a
/// fraction or an exponent is refused with BAD_USER_INPUT: send a string.
/// Never a float inside. Map it to `string` in generated types.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => Ok(Decimal(s.trim().to_owned())),
            Value::Number(n) if n.as_u64().is_some_and(|v| v <= MAX_EXACT_NUMBER) => {
                Ok(Decimal(n.to_string()))
            }
            Value::Number(n)
                if n.as_i64()
                    .is_some_and(|v| v.unsigned_abs() <= MAX_EXACT_NUMBER) =>
            {
                Ok(Decimal(n.to_string()))
            }
            Value::Number(n) => Err(bad_input_value(InputValueError::custom(format!(
                "the amount {n} is a JSON number that may have passed through a float: send it as a string, e.g. \"12.34\""
            )))),
            _ => Err(bad_input_value(InputValueError::expected_type(value))),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// Minor units of a stored currency as a `Decimal`. A currency this code
/// cannot read is corrupt data, an internal error, never a guess.
pub fn money(minor: impl Into<i128>, currency: &str) -> Result<Decimal, ApiError> {
    let code = Currency::parse(currency).map_err(|_| {
        ApiError::Internal(format!("stored currency {currency:?} is not a currency"))
    })?;
    Ok(Decimal(format_minor(minor.into(), &code)))
}

#[derive(Clone, Debug, PartialEq)]
pub struct Json(pub serde_json::Value);

/// Any JSON value (object, array, string, number, boolean or null), sent
/// as itself, not as a string. Map it to a recursive JSON type, e.g. in
/// TypeScript `type JsonValue = string | number | boolean | null |
/// JsonValue[] | { [key: string]: JsonValue }`.
#[Scalar(
    name = "JSON",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc8259"
)]
impl ScalarType for Json {
    fn parse(value: Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(Json)
            .map_err(|err| bad_input_value(InputValueError::custom(err)))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}

/// A moment in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// RFC 3339 timestamp, UTC, e.g. "2026-11-22T10:00:00+00:00" (a string
/// both ways; any offset is accepted on input). Map it to `string`.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s.trim())
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| {
                    bad_input_value(InputValueError::custom(format!(
                        "{s:?} is not an RFC 3339 timestamp"
                    )))
                }),
            _ => Err(bad_input_value(InputValueError::expected_type(value))),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        Self(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_accepts_numbers_and_digit_strings_beyond_32_bits() {
        assert_eq!(
            Long::parse(Value::from(5_000_000_000_i64)).unwrap(),
            Long(5_000_000_000)
        );
        assert_eq!(
            Long::parse(Value::from("9007199254740993")).unwrap(),
            Long(9_007_199_254_740_993)
        );
        assert!(Long::parse(Value::from("12a")).is_err());
        assert!(Long::parse(Value::from(1.5)).is_err());
        assert!(Long::parse(Value::Boolean(true)).is_err());
    }

    #[test]
    fn decimals_refuse_numbers_that_may_have_been_floats() {
        assert_eq!(
            Decimal::parse(Value::from("0.1")).unwrap(),
            Decimal("0.1".into())
        );
        assert_eq!(
            Decimal::parse(Value::from(42)).unwrap(),
            Decimal("42".into())
        );
        assert_eq!(
            Decimal::parse(Value::from(-7)).unwrap(),
            Decimal("-7".into())
        );
        assert!(Decimal::parse(Value::from(0.1)).is_err());
        assert!(Decimal::parse(Value::from(1e3)).is_err());
        assert!(Decimal::parse(Value::from(1u64 << 53)).is_err());
        assert!(Decimal::parse(Value::from((1u64 << 53) - 1)).is_ok());
    }

    #[test]
    fn datetimes_are_rfc_3339_in_utc() {
        let t = DateTime::parse(Value::from("2026-11-22T12:00:00+02:00")).unwrap();
        assert_eq!(t.to_value(), Value::from("2026-11-22T10:00:00+00:00"));
        assert!(DateTime::parse(Value::from("22/11/2026")).is_err());
    }
}
