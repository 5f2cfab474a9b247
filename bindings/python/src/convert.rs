//! Python values to the library's types: durations, ports, PIDs. A value of the wrong type is a
//! `TypeError`; a value of the right type that the library refuses is `tether.InvalidArgument`
//! (a `ValueError`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
use tether::duration::{parse_duration, MAX_DURATION_SECS};
use tether::net::{parse_port_spec, Proto};

use crate::error::{invalid, IntoPyResult};

/// A duration: seconds as an `int` or `float`, a `datetime.timedelta`, or a string in the
/// CLI's forms (`"5"`, `"1.5"`, `"2m"`, `"500ms"`, `"1h30m"`). `what` names the argument in
/// errors.
pub fn duration(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Duration> {
    if value.is_instance_of::<PyString>() {
        return parse_duration(&value.extract::<String>()?)
            .map_err(|e| invalid(format!("{what}: {}", e.message())));
    }
    let secs: f64 = if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be seconds (int or float), a timedelta or a duration string, not bool"
        )));
    } else if value.is_instance_of::<PyInt>() {
        int_saturating(value)? as f64
    } else if value.is_instance_of::<PyFloat>() {
        value.extract()?
    } else if let Ok(total) = value.call_method0("total_seconds") {
        // datetime.timedelta (and look-alikes such as pandas' Timedelta).
        total.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} must be seconds (int or float), a timedelta or a duration string, not {}",
            value.get_type().name()?
        )));
    };
    seconds(secs, what)
}

/// A duration from seconds: finite, not negative, at most the library's maximum.
pub fn seconds(secs: f64, what: &str) -> PyResult<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return Err(invalid(format!(
            "{what} must be a non-negative number of seconds, not {secs}"
        )));
    }
    if secs > MAX_DURATION_SECS as f64 {
        return Err(invalid(format!("{what} is too large: {secs} seconds")));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// An optional duration, where `None` stays `None`.
pub fn opt_duration(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Duration>> {
    match value {
        Some(v) if !v.is_none() => duration(v, what).map(Some),
        _ => Ok(None),
    }
}

/// A port: an `int` (1–65535) or a string `"N"`, `"N/tcp"`, `"N/udp"`, with the protocol
/// when the string names one.
pub fn port(value: &Bound<'_, PyAny>) -> PyResult<(u16, Option<Proto>)> {
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(
            "port must be an int or a string, not bool",
        ));
    }
    if value.is_instance_of::<PyInt>() {
        let n = int_saturating(value)?;
        return match u16::try_from(n) {
            Ok(p) if p > 0 => Ok((p, None)),
            _ => Err(invalid(format!(
                "bad port '{n}': expected a number from 1 to 65535"
            ))),
        };
    }
    if value.is_instance_of::<PyString>() {
        return parse_port_spec(&value.extract::<String>()?).py_err();
    }
    Err(PyTypeError::new_err(format!(
        "port must be an int or a string such as '8080/udp', not {}",
        value.get_type().name()?
    )))
}

/// A protocol name: `tcp`, `udp` or `unix`.
pub fn proto(name: &str) -> PyResult<Proto> {
    match name.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        "unix" => Ok(Proto::Unix),
        _ => Err(invalid(format!(
            "unknown protocol '{name}': use tcp, udp or unix"
        ))),
    }
}

/// A PID given as an `int`: 1 to 2^31-1, as the library's rails require.
pub fn pid(value: &Bound<'_, PyAny>) -> PyResult<u32> {
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "a PID must be an int, not {}",
            value.get_type().name()?
        )));
    }
    tether::signal::rails::validate_pid(int_saturating(value)?).py_err()
}

/// A count (`attempts`, `max_restarts`, …): an `int` from 0 to 2^32-1; `None` stays `None`.
/// A negative or huge one is `InvalidArgument`, not `OverflowError`.
pub fn opt_count(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<u32>> {
    let Some(v) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an int, not {}",
            v.get_type().name()?
        )));
    }
    let n = int_saturating(v)?;
    u32::try_from(n)
        .map(Some)
        .map_err(|_| invalid(format!("{what} must be from 0 to {}, not {n}", u32::MAX)))
}

/// A Python `int` as an `i64`, saturating: an int beyond the range is `i64::MIN` or
/// `i64::MAX`, so that range checks report it rather than an `OverflowError`.
pub fn int_saturating(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    match value.extract::<i64>() {
        Ok(n) => Ok(n),
        Err(_) if value.lt(0)? => Ok(i64::MIN),
        Err(_) => Ok(i64::MAX),
    }
}

/// Seconds as a float.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Unix time in seconds as a float.
pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}
