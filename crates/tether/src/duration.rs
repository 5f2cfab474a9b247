//! Durations in the forms people type: GNU (`5`, `1.5`, `2m`, `1d`, `2.34e+5d`, `0x1p-3`, `inf`)
//! and Go (`500ms`, `1h30m`, `2m30.5s`).
//!
//! One grammar for every command. The GNU form is what `timeout` reads with `strtold` plus one
//! optional suffix: leading blanks, a sign, a decimal or hexadecimal floating-point number (or
//! `inf`/`infinity`), then nothing or one of `s`, `m`, `h`, `d`. Anything else is read as a Go
//! duration: one or more `NUMBER UNIT` pairs with units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`,
//! `d`. Values are converted exactly (integer arithmetic on the digits, no binary rounding) and
//! rounded up to the next nanosecond, as GNU does, so a tiny positive value such as `1e-10000`
//! is 1 ns and never zero. Negative values and NaN are refused; `-0` is zero.
//!
//! Two range policies: [`parse_duration`] refuses values beyond [`MAX_DURATION_SECS`] (callers
//! add them to clocks), and [`parse_duration_saturating`] turns anything larger, up to infinity,
//! into [`Duration::MAX`], "practically forever", as GNU `timeout` does with values past the
//! range of `time_t`.

use std::time::Duration;

use crate::error::{Error, Result};

/// The largest duration [`parse_duration`] accepts, in seconds (about 31 700 years).
pub const MAX_DURATION_SECS: u64 = 1_000_000_000_000;

/// Parse a duration. A bare number is seconds. `0` is zero, which callers that take a limit
/// read as "no limit", as GNU `timeout` does. Surrounding blanks are ignored.
///
/// ```
/// use std::time::Duration;
/// use tether::duration::parse_duration;
/// assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
/// assert_eq!(parse_duration("2.5e1m").unwrap(), Duration::from_secs(1500));
/// assert!(parse_duration("5x").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = |why: &str| {
        Error::invalid(format!(
            "invalid duration '{s}': {why} (use e.g. 5, 1.5, 2m, 1d, 500ms, 1h30m)"
        ))
    };
    match parse_nanos(s.trim()) {
        Ok(Nanos::Finite(n)) if n <= u128::from(MAX_DURATION_SECS) * NANOS => Ok(from_nanos(n)),
        Ok(_) => Err(bad("too large")),
        Err(why) => Err(bad(why)),
    }
}

/// Parse a duration as GNU `timeout` does: the same grammar as [`parse_duration`] (blanks are
/// allowed before the number, not after), but values too large for a clock, up to `inf`, mean
/// [`Duration::MAX`] instead of an error. The error names only what is wrong.
///
/// ```
/// use std::time::Duration;
/// use tether::duration::parse_duration_saturating;
/// assert_eq!(parse_duration_saturating("9223372036854775808d").unwrap(), Duration::MAX);
/// assert_eq!(parse_duration_saturating("1e-10000").unwrap(), Duration::from_nanos(1));
/// assert!(parse_duration_saturating("-1").is_err());
/// ```
pub fn parse_duration_saturating(s: &str) -> Result<Duration> {
    match parse_nanos(s) {
        Ok(Nanos::Finite(n)) => Ok(from_nanos(n)),
        Ok(Nanos::Infinite) => Ok(Duration::MAX),
        Err(why) => Err(Error::invalid(format!("invalid duration '{s}': {why}"))),
    }
}

const NANOS: u128 = 1_000_000_000;

/// A parsed value in nanoseconds; `Finite` values above `Duration::MAX` saturate later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nanos {
    Finite(u128),
    Infinite,
}

fn from_nanos(n: u128) -> Duration {
    let secs = n / NANOS;
    if secs > u128::from(u64::MAX) {
        return Duration::MAX;
    }
    Duration::new(secs as u64, (n % NANOS) as u32)
}

fn parse_nanos(s: &str) -> std::result::Result<Nanos, &'static str> {
    if s.trim().is_empty() {
        return Err("empty");
    }
    match parse_gnu(s) {
        Some(r) => r,
        None => parse_go(s),
    }
}

/// Multiplier of a GNU suffix.
fn gnu_suffix(c: u8) -> Option<u128> {
    match c {
        b's' => Some(1),
        b'm' => Some(60),
        b'h' => Some(3600),
        b'd' => Some(86400),
        _ => None,
    }
}

/// The GNU form; `None` when the text is not one number with at most one suffix letter (so it
/// may still be a Go duration).
fn parse_gnu(s: &str) -> Option<std::result::Result<Nanos, &'static str>> {
    let b = s.as_bytes();
    // strtold skips the C locale's blanks.
    let mut i = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .unwrap_or(b.len());
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let (num, used) = scan_number(&b[i..])?;
    let rest = &b[i + used..];
    let scale = match rest {
        [] => 1,
        [c] => gnu_suffix(*c)?,
        _ => return None,
    };
    Some(match num {
        Number::Nan => Err("not a number"),
        Number::Zero => Ok(Nanos::Finite(0)),
        _ if negative => Err("negative"),
        Number::Infinite => Ok(Nanos::Infinite),
        Number::Decimal(d) => Ok(d.nanos(scale, 9)),
        Number::Hex(h) => Ok(h.nanos(scale)),
    })
}

/// Go's form: `NUMBER UNIT` pairs, e.g. `1h30m`, `2m30.5s`, `500ms`.
fn parse_go(s: &str) -> std::result::Result<Nanos, &'static str> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r']);
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.starts_with('-') {
        return Err("negative");
    }
    let mut rest = t.as_bytes();
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let Some((d, used)) = scan_decimal(rest, false) else {
            return Err("expected a number");
        };
        rest = &rest[used..];
        let unit_len = rest
            .iter()
            .position(|c| c.is_ascii_digit() || *c == b'.')
            .unwrap_or(rest.len());
        let unit = std::str::from_utf8(&rest[..unit_len]).map_err(|_| "unknown unit")?;
        rest = &rest[unit_len..];
        // Nanoseconds per unit, as (multiplier, power of ten).
        let (mult, pow10) = match unit {
            "" => return Err("missing unit"),
            "ns" => (1, 0),
            "us" | "µs" | "μs" => (1, 3),
            "ms" => (1, 6),
            "s" => (1, 9),
            "m" => (60, 9),
            "h" => (3600, 9),
            "d" => (86400, 9),
            _ => return Err("unknown unit"),
        };
        match d.nanos(mult, pow10) {
            Nanos::Finite(n) => total = total.saturating_add(n),
            Nanos::Infinite => return Ok(Nanos::Infinite),
        }
    }
    Ok(Nanos::Finite(total))
}

enum Number {
    Zero,
    Nan,
    Infinite,
    Decimal(Decimal),
    Hex(Hex),
}

/// Recognise a strtold number at the start of `b` (after the sign). Returns the number and
/// how many bytes it used, or `None` when no number starts there.
fn scan_number(b: &[u8]) -> Option<(Number, usize)> {
    let lower = |n: usize| -> Vec<u8> { b.iter().take(n).map(u8::to_ascii_lowercase).collect() };
    if lower(8) == b"infinity" {
        return Some((Number::Infinite, 8));
    }
    if lower(3) == b"inf" {
        return Some((Number::Infinite, 3));
    }
    if lower(3) == b"nan" {
        // "nan(chars)" is one token too.
        let mut used = 3;
        if b.get(3) == Some(&b'(') {
            if let Some(close) = b[4..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                .filter(|&p| b[4 + p] == b')')
            {
                used = 4 + close + 1;
            }
        }
        return Some((Number::Nan, used));
    }
    if b.len() > 2 && b[0] == b'0' && (b[1] | 0x20) == b'x' {
        if let Some((h, used)) = scan_hex(&b[2..]) {
            let n = if h.0.mantissa == 0 {
                Number::Zero
            } else {
                Number::Hex(h)
            };
            return Some((n, used + 2));
        }
    }
    let (d, used) = scan_decimal(b, true)?;
    let n = if d.0.mantissa == 0 {
        Number::Zero
    } else {
        Number::Decimal(d)
    };
    Some((n, used))
}

/// Significant decimal digits kept exactly; `mantissa * 86400` must fit in a u128.
const MAX_DEC_DIGITS: usize = 33;
/// Significant hexadecimal digits kept exactly (64 bits).
const MAX_HEX_DIGITS: usize = 16;

/// Digits read exactly: `mantissa * 10^exponent` (decimal) or `mantissa * 2^exponent`
/// (hexadecimal), with `sticky` set when nonzero digits beyond the kept ones were dropped.
#[derive(Debug, Clone, Copy)]
struct Digits {
    mantissa: u128,
    exponent: i64,
    sticky: bool,
}

/// A decimal number: `mantissa * 10^exponent`.
#[derive(Debug, Clone, Copy)]
struct Decimal(Digits);

/// A hexadecimal number: `mantissa * 2^exponent`.
#[derive(Debug, Clone, Copy)]
struct Hex(Digits);

impl Decimal {
    /// Nanoseconds of `self * mult * 10^pow10`, rounded up.
    fn nanos(&self, mult: u128, pow10: i64) -> Nanos {
        let d = self.0;
        let m = d.mantissa * mult;
        let k = d.exponent.saturating_add(pow10);
        if k >= 0 {
            let Ok(k) = u32::try_from(k) else {
                return Nanos::Infinite;
            };
            return match 10u128.checked_pow(k).and_then(|p| m.checked_mul(p)) {
                Some(n) => Nanos::Finite(n),
                None => Nanos::Infinite,
            };
        }
        let q = match u32::try_from(k.unsigned_abs())
            .ok()
            .and_then(|e| 10u128.checked_pow(e))
        {
            Some(p) => {
                let q = m / p;
                if q * p != m || d.sticky {
                    q + 1
                } else {
                    q
                }
            }
            // Smaller than a nanosecond by far: round up to one.
            None => 1,
        };
        Nanos::Finite(q)
    }
}

impl Hex {
    /// Nanoseconds of `self * scale` seconds, rounded up.
    fn nanos(&self, scale: u128) -> Nanos {
        let d = self.0;
        // mantissa < 2^64, so this fits in 111 bits.
        let a = d.mantissa * scale * NANOS;
        if d.exponent >= 0 {
            if a == 0 {
                return Nanos::Finite(0);
            }
            if d.exponent >= i64::from(a.leading_zeros()) {
                return Nanos::Infinite;
            }
            return Nanos::Finite(a << d.exponent);
        }
        let shift = d.exponent.unsigned_abs();
        if shift >= 128 {
            return Nanos::Finite(1);
        }
        let q = a >> shift;
        let exact = q << shift == a;
        Nanos::Finite(if exact && !d.sticky { q } else { q + 1 })
    }
}

/// How to read the digits of one radix.
struct Radix {
    base: u32,
    /// Exponent change per digit: one power of ten, or four powers of two.
    step: i64,
    max_digits: usize,
    /// The letter of the exponent part (`e`, `p`), when one may follow.
    exponent_marker: Option<u8>,
}

fn scan_decimal(b: &[u8], exponent: bool) -> Option<(Decimal, usize)> {
    let radix = Radix {
        base: 10,
        step: 1,
        max_digits: MAX_DEC_DIGITS,
        exponent_marker: exponent.then_some(b'e'),
    };
    scan_digits(b, &radix).map(|(d, used)| (Decimal(d), used))
}

/// The part of a hexadecimal float after `0x`.
fn scan_hex(b: &[u8]) -> Option<(Hex, usize)> {
    let radix = Radix {
        base: 16,
        step: 4,
        max_digits: MAX_HEX_DIGITS,
        exponent_marker: Some(b'p'),
    };
    scan_digits(b, &radix).map(|(d, used)| (Hex(d), used))
}

/// `[digits][.digits]` (at least one digit), then, when the radix has one and it follows, the
/// exponent part `e[+-]digits` / `p[+-]digits`. Returns the digits and the bytes used.
fn scan_digits(b: &[u8], radix: &Radix) -> Option<(Digits, usize)> {
    let mut d = Digits {
        mantissa: 0,
        exponent: 0,
        sticky: false,
    };
    let mut i = 0;
    let mut digits = 0;
    let mut kept = 0;
    let mut seen_dot = false;
    while i < b.len() {
        let c = b[i];
        if c == b'.' && !seen_dot {
            seen_dot = true;
        } else if let Some(v) = (c as char).to_digit(radix.base) {
            digits += 1;
            if kept < radix.max_digits {
                // Leading zeros do not count against the kept digits.
                if d.mantissa != 0 || v != 0 {
                    kept += 1;
                }
                d.mantissa = d.mantissa * u128::from(radix.base) + u128::from(v);
                if seen_dot {
                    d.exponent -= radix.step;
                }
            } else {
                d.sticky |= v != 0;
                if !seen_dot {
                    d.exponent += radix.step;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if let Some(marker) = radix.exponent_marker {
        if i < b.len() && (b[i] | 0x20) == marker {
            if let Some((e, used)) = scan_exponent(&b[i + 1..]) {
                d.exponent = d.exponent.saturating_add(e);
                i += 1 + used;
            }
        }
    }
    Some((d, i))
}

/// `[+-]digits` of an exponent, saturating.
fn scan_exponent(b: &[u8]) -> Option<(i64, usize)> {
    let (neg, start) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let n = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let v = b[start..start + n].iter().fold(0i64, |acc, c| {
        acc.saturating_mul(10).saturating_add(i64::from(c - b'0'))
    });
    Some((if neg { -v } else { v }, start + n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> u128 {
        parse_duration(s).unwrap().as_millis()
    }

    fn sat(s: &str) -> Duration {
        parse_duration_saturating(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn gnu_and_go_forms() {
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("5"), 5000);
        assert_eq!(ms("0.25"), 250);
        assert_eq!(ms(".5"), 500);
        assert_eq!(ms("5."), 5000);
        assert_eq!(ms("2m"), 120_000);
        assert_eq!(ms("1d"), 86_400_000);
        assert_eq!(ms("1.5h"), 5_400_000);
        assert_eq!(ms("2m30s"), 150_000);
        assert_eq!(ms("1h30m"), 5_400_000);
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("1e3"), 1_000_000);
        assert_eq!(ms("1.5e3s"), 1_500_000);
        assert_eq!(ms("2.34e+5d"), 234_000 * 86_400_000);
        assert_eq!(ms("+5"), 5000);
        assert_eq!(ms(" 5 "), 5000);
        assert_eq!(ms("-0"), 0);
        assert_eq!(ms("0x10"), 16_000);
        assert_eq!(ms("0x1p-3"), 125);
        assert_eq!(ms("0x.8"), 500);
        assert_eq!(parse_duration("10us").unwrap(), Duration::from_micros(10));
        assert_eq!(parse_duration("1µs").unwrap(), Duration::from_micros(1));
        assert_eq!(parse_duration("7ns").unwrap(), Duration::from_nanos(7));
    }

    #[test]
    fn exact_and_rounded_up() {
        assert_eq!(sat("0.1"), Duration::from_millis(100));
        assert_eq!(sat("9.999999999"), Duration::new(9, 999_999_999));
        assert_eq!(sat("1.0000000001"), Duration::new(1, 1));
        assert_eq!(sat("1e-10"), Duration::from_nanos(1));
        assert_eq!(sat("1e-5000"), Duration::from_nanos(1));
        assert_eq!(sat("1e-10000"), Duration::from_nanos(1));
        assert_eq!(
            sat("0.00000000000000000000000000000000000000000001"),
            Duration::from_nanos(1)
        );
        assert_eq!(sat("0e-10000"), Duration::ZERO);
        assert_eq!(sat("0x0p+99999"), Duration::ZERO);
        assert_eq!(sat("0x1p-100"), Duration::from_nanos(1));
    }

    #[test]
    fn saturates_past_any_clock() {
        assert_eq!(sat("9223372036854775808"), Duration::from_secs(1 << 63));
        assert!(parse_duration("9223372036854775808").is_err());
        for s in [
            "9223372036854775808d",
            "18446744073709551616",
            "1.18e+4932",
            "1.18e4932d",
            "1e99999999999999999999999",
            "inf",
            "INFINITY",
            "0x1p100000",
            "99999999999999999999999999999999999999999999999999d",
        ] {
            assert_eq!(sat(s), Duration::MAX, "{s}");
            assert!(parse_duration(s).is_err(), "{s}");
        }
        assert_eq!(sat("2.34e+5d"), Duration::from_secs(234_000 * 86_400));
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            " ",
            "x",
            "5x",
            "-1",
            "1..2",
            "1h30",
            "s",
            "1e",
            "1es",
            "nan",
            "NaN(1)",
            "5ss",
            "42D",
            "1,5",
            ".s",
            "-0.1",
            " -0.1",
            " -1e-10000",
            "-1.18e+4932",
            "-inf",
            "0x",
            "0xg",
            "1e3ms",
            "--1",
            "invalid",
        ] {
            assert!(parse_duration_saturating(bad).is_err(), "{bad:?}");
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        // GNU reads leading blanks only.
        assert!(parse_duration_saturating("5 ").is_err());
        assert!(parse_duration_saturating(" 5").is_ok());
    }
}
