//! The contract's custom scalars. `DateTime` comes from async-graphql's
//! chrono support (RFC 3339).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use super::error::bad_input_value;
use crate::domain::money::{Currency, format_minor};
use crate::graphql::ApiError;

/// 64-bit signed integer (positions, versions). A JSON number on output;
/// input accepts a number or a string of digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Long(pub i64);

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

/// Exact decimal amount, e.g. "1000.50". A string on output; input accepts
/// a string or a number. Never a float inside: the text is kept as given
/// and parsed exactly by the domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal(pub String);

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => Ok(Decimal(s.trim().to_owned())),
            // A JSON number's own text (serde_json keeps it exact for
            // integers; a fractional literal is as exact as the client sent).
            Value::Number(n) => Ok(Decimal(n.to_string())),
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

/// Any JSON value.
#[derive(Clone, Debug, PartialEq)]
pub struct Json(pub serde_json::Value);

#[Scalar(name = "JSON")]
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
}
