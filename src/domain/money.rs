//! Money as the API sees it (`Amount`, an exact decimal string) and as the
//! domain keeps it (`Money`, integer minor units of a `Currency`).
//!
//! There is no float anywhere on the way: the API's decimal string is parsed
//! by `rust_decimal` and converted to minor units only when the currency is
//! known, so "10.505" USD is rejected instead of being rounded.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::DomainError;

/// The most significant digits an amount may have: what a `Decimal`'s
/// 96-bit mantissa holds for every value of that many digits.
const MAX_SIGNIFICANT_DIGITS: usize = 28;

/// Inputs echoed back in error messages are cut to this many characters, so
/// a megabyte of garbage does not come back as a megabyte of error.
const ECHO_LIMIT: usize = 40;

/// An ISO 4217 currency code: three ASCII uppercase letters.
///
/// Any three letters are accepted (the list of live codes changes over time
/// and is not the domain's business); the code only decides how many decimal
/// places amounts in it have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

// In snapshots a currency is its code.
impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    /// Trims and uppercases `input`, which must then be three ASCII letters.
    pub fn parse(input: &str) -> Result<Currency, DomainError> {
        let code = input.trim().to_ascii_uppercase();
        match <[u8; 3]>::try_from(code.as_bytes()) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_uppercase) => Ok(Currency(bytes)),
            _ => Err(DomainError::Invalid(format!(
                "currency must be a 3-letter ISO 4217 code such as USD, got {}",
                echo(input)
            ))),
        }
    }

    pub fn as_str(&self) -> &str {
        // `parse` admits only ASCII letters, so this cannot fail; "XXX" is
        // ISO 4217's own code for "no currency" should it ever.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// How many decimal places amounts in this currency have (ISO 4217's
    /// minor unit).
    pub fn exponent(&self) -> u32 {
        let code = self.as_str();
        if NO_DECIMALS.contains(&code) {
            0
        } else if THREE_DECIMALS.contains(&code) {
            3
        } else {
            2
        }
    }
}

/// Currencies without minor units; every other has two, but for
/// [`THREE_DECIMALS`].
pub const NO_DECIMALS: &[&str] = &[
    "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG",
];
/// Currencies with three decimal places.
pub const THREE_DECIMALS: &[&str] = &["BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD"];

impl Default for Currency {
    fn default() -> Self {
        Currency::USD
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

/// An exact decimal amount as the API sends it, not yet tied to a currency.
///
/// It keeps the scale it was written with ("10.500" stays "10.500"), so an
/// error message can quote the client's amount back.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Amount(Decimal);

impl Amount {
    /// Parses `[+-]digits[.digits]`, surrounding whitespace allowed.
    ///
    /// Stricter than `Decimal::from_str`, which also takes `_` separators and
    /// exponents: an amount is money, so "1e3" is more likely a float that
    /// leaked through a client than a thousand.
    pub fn parse(input: &str) -> Result<Amount, DomainError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(DomainError::Invalid("amount is empty".to_owned()));
        }
        let (negative, unsigned) = match text.as_bytes()[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (unsigned, ""),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || (unsigned.contains('.') && !digits(fraction)) {
            return Err(DomainError::Invalid(format!(
                "amount must be a decimal number such as 12.34 (no exponent), got {}",
                echo(input)
            )));
        }
        let significant = whole
            .bytes()
            .chain(fraction.bytes())
            .skip_while(|&b| b == b'0')
            .count();
        if significant > MAX_SIGNIFICANT_DIGITS {
            return Err(DomainError::Invalid(format!(
                "amount has more than {MAX_SIGNIFICANT_DIGITS} significant digits"
            )));
        }
        let mut value = Decimal::from_str_exact(unsigned).map_err(|_| {
            DomainError::Invalid(format!(
                "amount cannot be represented exactly, got {}",
                echo(input)
            ))
        })?;
        // "-0" is zero: keeping its sign would print "-0" back to the client.
        value.set_sign_negative(negative && !value.is_zero());
        Ok(Amount(value))
    }

    /// The amount in minor units of `currency`.
    ///
    /// Trailing zeros past the currency's decimals are fine ("10.500" USD is
    /// 1050 cents); a nonzero digit there is an error, never rounded away.
    pub fn to_minor(&self, currency: &Currency) -> Result<Money, DomainError> {
        let exponent = currency.exponent();
        let value = self.0.normalize();
        if value.scale() > exponent {
            let places = match exponent {
                0 => "no decimal places".to_owned(),
                1 => "at most 1 decimal place".to_owned(),
                n => format!("at most {n} decimal places"),
            };
            return Err(DomainError::Invalid(format!(
                "{currency} amounts have {places}, got {self}"
            )));
        }
        let too_large = || {
            DomainError::Invalid(format!(
                "amount is too large: the most one amount or balance may be is {}",
                Money::MAX.display(currency)
            ))
        };
        let minor = 10i128
            .checked_pow(exponent - value.scale())
            .and_then(|factor| value.mantissa().checked_mul(factor))
            .ok_or_else(too_large)?;
        if minor.unsigned_abs() > Money::MAX.0.unsigned_abs() as u128 {
            return Err(too_large());
        }
        Ok(Money(minor as i64))
    }
}

impl Amount {
    /// The smallest whole number of minor units at or above this amount,
    /// for a currency with `exponent` decimals (a lower bound in a filter,
    /// where extra decimals round up instead of being an error); `None`
    /// beyond the 64-bit range.
    pub fn ceil_minor(&self, exponent: u32) -> Option<i64> {
        use rust_decimal::prelude::ToPrimitive;
        let scaled = self
            .0
            .checked_mul(Decimal::from(10i64.checked_pow(exponent)?))?;
        scaled.ceil().to_i64()
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Amount {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

/// An amount in minor units (cents for USD, yen for JPY) of a currency kept
/// beside it.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// The largest amount a command may move and the largest balance an
    /// account may hold: 10^15 minor units (ten trillion dollars, a
    /// quadrillion yen). It keeps every fold total: a balance, and any
    /// movement of one, stays far inside 64 bits, and so do the sums of
    /// read models over accounts (which are 128-bit where they are
    /// unbounded in count, see the DailySummary projection).
    pub const MAX: Money = Money(1_000_000_000_000_000);

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// The exact decimal string with exactly the currency's decimals:
    /// 1050 USD is "10.50", -5 USD is "-0.05", 1050 JPY is "1050".
    pub fn format(self, currency: &Currency) -> String {
        format_minor(i128::from(self.0), currency)
    }

    /// `format` followed by the currency code, as error messages quote it.
    pub fn display(self, currency: &Currency) -> String {
        format!("{} {currency}", self.format(currency))
    }
}

/// Minor units (of any width: sums over many accounts are 128-bit) as the
/// exact decimal string of `currency`.
pub fn format_minor(minor: i128, currency: &Currency) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    // unsigned_abs, because the minimum has no positive counterpart.
    let digits = minor.unsigned_abs();
    let exponent = currency.exponent();
    if exponent == 0 {
        return format!("{sign}{digits}");
    }
    let unit = 10u128.pow(exponent);
    format!(
        "{sign}{}.{:0width$}",
        digits / unit,
        digits % unit,
        width = exponent as usize
    )
}

fn echo(input: &str) -> String {
    if input.chars().count() <= ECHO_LIMIT {
        format!("{input:?}")
    } else {
        let head: String = input.chars().take(ECHO_LIMIT).collect();
        format!("{head:?}...")
    }
}

#[cfg(test)]
mod ceil_tests {
    use super::*;

    #[test]
    fn a_lower_bound_rounds_extra_decimals_up() {
        let amount = Amount::parse("10.001").unwrap();
        assert_eq!(amount.ceil_minor(2), Some(1001));
        assert_eq!(amount.ceil_minor(3), Some(10001));
        assert_eq!(amount.ceil_minor(0), Some(11));
        assert_eq!(Amount::parse("-1.5").unwrap().ceil_minor(0), Some(-1));
        assert_eq!(
            Amount::parse("99999999999999999999").unwrap().ceil_minor(2),
            None
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::USD
    }

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn minor(amount: &str, code: &str) -> Result<Money, DomainError> {
        Amount::parse(amount)?.to_minor(&currency(code))
    }

    fn invalid_message(result: Result<impl fmt::Debug, DomainError>) -> String {
        match result {
            Err(DomainError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn currency_codes_are_trimmed_and_uppercased() {
        assert_eq!(currency(" eur ").as_str(), "EUR");
        assert_eq!(currency("Jpy").to_string(), "JPY");
    }

    #[test]
    fn currency_codes_must_be_three_ascii_letters() {
        for bad in ["", "US", "USDX", "U5D", "ÜSD", "US D", "€"] {
            invalid_message(Currency::parse(bad));
        }
    }

    #[test]
    fn the_default_currency_is_usd() {
        assert_eq!(Currency::default(), usd());
    }

    #[test]
    fn currency_exponents_follow_iso_4217() {
        assert_eq!(currency("JPY").exponent(), 0);
        assert_eq!(currency("XOF").exponent(), 0);
        assert_eq!(currency("KWD").exponent(), 3);
        assert_eq!(currency("LYD").exponent(), 3);
        assert_eq!(currency("EUR").exponent(), 2);
        assert_eq!(currency("ZZZ").exponent(), 2);
    }

    #[test]
    fn amounts_convert_to_minor_units_of_their_currency() {
        assert_eq!(minor("10.5", "USD"), Ok(Money(1050)));
        assert_eq!(minor("10.50", "USD"), Ok(Money(1050)));
        assert_eq!(minor("10", "USD"), Ok(Money(1000)));
        assert_eq!(minor("0.01", "USD"), Ok(Money(1)));
        assert_eq!(minor("1050", "JPY"), Ok(Money(1050)));
        assert_eq!(minor("1.234", "KWD"), Ok(Money(1234)));
        assert_eq!(minor("-2.5", "USD"), Ok(Money(-250)));
        assert_eq!(minor("+2.5", "USD"), Ok(Money(250)));
        assert_eq!(minor(" 7 ", "USD"), Ok(Money(700)));
    }

    #[test]
    fn trailing_zeros_past_the_currency_decimals_are_fine() {
        assert_eq!(minor("10.500", "USD"), Ok(Money(1050)));
        assert_eq!(minor("100.000", "JPY"), Ok(Money(100)));
    }

    #[test]
    fn more_decimals_than_the_currency_has_is_invalid_and_names_them() {
        assert_eq!(
            invalid_message(minor("10.505", "USD")),
            "USD amounts have at most 2 decimal places, got 10.505"
        );
        assert_eq!(
            invalid_message(minor("10.5", "JPY")),
            "JPY amounts have no decimal places, got 10.5"
        );
        assert_eq!(
            invalid_message(minor("1.2345", "BHD")),
            "BHD amounts have at most 3 decimal places, got 1.2345"
        );
    }

    #[test]
    fn amounts_beyond_the_largest_balance_are_too_large() {
        assert_eq!(minor("10000000000000.00", "USD"), Ok(Money::MAX));
        assert_eq!(minor("-10000000000000", "USD"), Ok(Money(-Money::MAX.0)));
        assert_eq!(minor("1000000000000000", "JPY"), Ok(Money::MAX));
        for too_large in [
            "10000000000000.01",
            "92233720368547758.07",
            "92233720368547758.08",
        ] {
            assert!(
                invalid_message(minor(too_large, "USD")).starts_with("amount is too large"),
                "{too_large}"
            );
        }
        invalid_message(minor("9999999999999999999999999999", "KWD"));
    }

    #[test]
    fn exponent_notation_and_other_non_decimals_are_invalid() {
        for bad in [
            "1e3", "1E3", "1.5e2", "", "   ", "-", ".5", "5.", "1_000", "1,000", "0x10", "NaN",
            "inf", "--1", "1.2.3", "١٢",
        ] {
            invalid_message(Amount::parse(bad));
        }
    }

    #[test]
    fn more_than_28_significant_digits_is_invalid() {
        let digits28 = "1234567890123456789012345678";
        assert!(Amount::parse(digits28).is_ok());
        assert!(Amount::parse(&format!("000{digits28}")).is_ok());
        assert!(Amount::parse("0.0000000000000000000000000001").is_ok());
        invalid_message(Amount::parse(&format!("{digits28}9")));
        invalid_message(Amount::parse(&format!("1.{digits28}")));
        invalid_message(Amount::parse("0.00000000000000000000000000001"));
    }

    #[test]
    fn amounts_display_as_written() {
        assert_eq!(Amount::parse("10.500").unwrap().to_string(), "10.500");
        assert_eq!(Amount::parse("-0").unwrap().to_string(), "0");
        assert_eq!(
            Amount::parse("-0.00").unwrap().to_minor(&usd()),
            Ok(Money(0))
        );
    }

    #[test]
    fn money_formats_with_exactly_the_currency_decimals() {
        assert_eq!(Money(1050).format(&usd()), "10.50");
        assert_eq!(Money(5).format(&usd()), "0.05");
        assert_eq!(Money(0).format(&usd()), "0.00");
        assert_eq!(Money(-5).format(&usd()), "-0.05");
        assert_eq!(Money(-1050).format(&usd()), "-10.50");
        assert_eq!(Money(1050).format(&currency("JPY")), "1050");
        assert_eq!(Money(-3).format(&currency("JPY")), "-3");
        assert_eq!(Money(1234).format(&currency("KWD")), "1.234");
        assert_eq!(Money(i64::MAX).format(&usd()), "92233720368547758.07");
        assert_eq!(Money(i64::MIN).format(&usd()), "-92233720368547758.08");
        assert_eq!(
            format_minor(i128::MIN, &usd()),
            "-1701411834604692317316873037158841057.28"
        );
        assert_eq!(Money(1050).display(&usd()), "10.50 USD");
    }

    #[test]
    fn formatted_money_parses_back_to_the_same_minor_units() {
        for code in ["USD", "JPY", "KWD"] {
            let currency = currency(code);
            for units in [0, 1, -1, 99, 100, 123_456, Money::MAX.0, -Money::MAX.0] {
                let text = Money(units).format(&currency);
                assert_eq!(
                    Amount::parse(&text).unwrap().to_minor(&currency),
                    Ok(Money(units))
                );
            }
        }
    }

    #[test]
    fn money_arithmetic_is_checked() {
        assert_eq!(Money(1).checked_add(Money(2)), Some(Money(3)));
        assert_eq!(Money(i64::MAX).checked_add(Money(1)), None);
        assert_eq!(Money(1).checked_sub(Money(2)), Some(Money(-1)));
        assert_eq!(Money(i64::MIN).checked_sub(Money(1)), None);
    }
}
