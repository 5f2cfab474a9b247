//! Arguments from JavaScript, checked the way Node's own functions check theirs: a value of the
//! wrong type is a `TypeError`, a number that is not an integer where one is needed (or is out
//! of range) a `RangeError`; what only the library can judge (PID 0, an unknown signal name, a
//! bad regular expression) is its `InvalidArgumentError`.

use std::time::Duration;

use napi::bindgen_prelude::{Either, FromNapiValue, Function, JsValuesTupleIntoVec, Unknown};
use napi::ValueType;

use crate::error::{Fail, Result};

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// `typeof`, as messages name it.
fn type_of(v: &Unknown) -> &'static str {
    match v.get_type() {
        Ok(ValueType::Undefined) => "undefined",
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "boolean",
        Ok(ValueType::Number) => "number",
        Ok(ValueType::String) => "string",
        Ok(ValueType::Symbol) => "symbol",
        Ok(ValueType::Object) => "object",
        Ok(ValueType::Function) => "function",
        Ok(ValueType::BigInt) => "bigint",
        _ => "unknown",
    }
}

fn is_nullish(v: &Unknown) -> bool {
    matches!(v.get_type(), Ok(ValueType::Undefined) | Ok(ValueType::Null))
}

fn wrong_type(what: &str, want: &str, v: &Unknown) -> Fail {
    Fail::Type(format!(
        "{what} must be {want}; received a value of type {}",
        type_of(v)
    ))
}

/// An options object (`undefined` and `null` mean none), converted to its Rust shape; a field of
/// the wrong type is a `TypeError` naming it.
pub(crate) fn options<T: FromNapiValue>(v: Option<Unknown>, what: &str) -> Result<Option<T>> {
    let Some(v) = v.filter(|v| !is_nullish(v)) else {
        return Ok(None);
    };
    if v.get_type().ok() != Some(ValueType::Object) {
        return Err(wrong_type(what, "an object", &v));
    }
    // SAFETY: `v` is a live value of this call; the conversion checks every field's type.
    unsafe { v.cast::<T>() }.map(Some).map_err(|e| {
        Fail::Type(format!(
            "{what} has a field of the wrong type: {}",
            e.reason
        ))
    })
}

/// A number.
pub(crate) fn number(v: &Unknown, what: &str) -> Result<f64> {
    if v.get_type().ok() != Some(ValueType::Number) {
        return Err(wrong_type(what, "a number", v));
    }
    // SAFETY: checked to be a number just above.
    Ok(unsafe { v.cast::<f64>() }?)
}

/// A string.
pub(crate) fn string(v: &Unknown, what: &str) -> Result<String> {
    if v.get_type().ok() != Some(ValueType::String) {
        return Err(wrong_type(what, "a string", v));
    }
    // SAFETY: checked to be a string just above.
    Ok(unsafe { v.cast::<String>() }?)
}

/// A function.
pub(crate) fn function<'a, Args, Ret>(
    v: &Unknown<'a>,
    what: &str,
) -> Result<Function<'a, Args, Ret>>
where
    Args: JsValuesTupleIntoVec,
    Ret: FromNapiValue,
{
    if v.get_type().ok() != Some(ValueType::Function) {
        return Err(wrong_type(what, "a function", v));
    }
    // SAFETY: checked to be a function just above.
    Ok(unsafe { v.cast::<Function<'a, Args, Ret>>() }?)
}

/// A string, or an array of strings.
pub(crate) fn strings(v: &Unknown, what: &str) -> Result<Vec<String>> {
    match v.get_type().ok() {
        Some(ValueType::String) => Ok(vec![string(v, what)?]),
        // SAFETY: an object; the conversion checks that it is an array of strings.
        Some(ValueType::Object) => unsafe { v.cast::<Vec<String>>() }
            .map_err(|_| wrong_type(what, "a string or an array of strings", v)),
        _ => Err(wrong_type(what, "a string or an array of strings", v)),
    }
}

/// An integer (any sign): a `RangeError` for fractions, NaN, infinities and numbers beyond the
/// exactly representable ones.
pub(crate) fn integer(n: f64, what: &str) -> Result<i64> {
    if n.is_finite() && n.fract() == 0.0 && n.abs() <= MAX_SAFE {
        Ok(n as i64)
    } else {
        Err(Fail::Range(format!(
            "{what} must be an integer; received {n}"
        )))
    }
}

/// An integer from `lo` to `hi`.
pub(crate) fn integer_in(n: f64, lo: i64, hi: i64, what: &str) -> Result<i64> {
    let i = integer(n, what)?;
    if (lo..=hi).contains(&i) {
        Ok(i)
    } else {
        Err(Fail::Range(format!(
            "{what} must be from {lo} to {hi}; received {i}"
        )))
    }
}

/// A PID: an integer that passes the library's unconditional rails (not 0, not negative, not
/// above i32::MAX), which give the message.
pub(crate) fn pid(n: f64, what: &str) -> Result<u32> {
    Ok(tether::signal::rails::validate_pid(integer(n, what)?)?)
}

/// A duration in milliseconds (fractions allowed): not negative, finite.
pub(crate) fn millis(n: f64, what: &str) -> Result<Duration> {
    if n.is_finite() && n >= 0.0 {
        Ok(Duration::from_secs_f64(n / 1000.0))
    } else {
        Err(Fail::Range(format!(
            "{what} must be a number of milliseconds, 0 or more; received {n}"
        )))
    }
}

/// A port argument: a number or a string (checked by [`port_spec`]).
pub(crate) fn port(v: &Unknown, what: &str) -> Result<Either<String, f64>> {
    match v.get_type().ok() {
        Some(ValueType::Number) => Ok(Either::B(number(v, what)?)),
        Some(ValueType::String) => Ok(Either::A(string(v, what)?)),
        _ => Err(wrong_type(
            what,
            "a port number or a string such as '53/udp'",
            v,
        )),
    }
}

/// A port as `8080`, `"8080"`, `"8080/tcp"` or `"53/udp"`, through the library's one parser.
pub(crate) fn port_spec(
    v: &Either<String, f64>,
    what: &str,
) -> Result<(u16, Option<tether::net::Proto>)> {
    let text = match v {
        Either::A(s) => s.clone(),
        Either::B(n) => integer(*n, what)?.to_string(),
    };
    Ok(tether::net::parse_port_spec(&text)?)
}

/// A duration in whole milliseconds, as the library's queries take them: not negative, finite,
/// at most 2^53 - 1; a fraction is rounded up (so that a small limit never becomes 0, "none").
pub(crate) fn whole_millis(n: f64, what: &str) -> Result<u64> {
    if n.is_finite() && (0.0..=MAX_SAFE).contains(&n) {
        Ok(n.ceil() as u64)
    } else {
        Err(Fail::Range(format!(
            "{what} must be a number of milliseconds, 0 or more; received {n}"
        )))
    }
}

/// A count: an integer from 0 to `u32::MAX`.
pub(crate) fn count(n: f64, what: &str) -> Result<u32> {
    Ok(integer_in(n, 0, u32::MAX as i64, what)? as u32)
}
