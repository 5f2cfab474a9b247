//! Signal names and numbers, as the CLI reads them (`TERM`, `sigterm`, `15`, `RTMIN+2`).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};
use tether::signal::Signal;

use crate::convert;
use crate::error::IntoPyResult;

/// A signal given as a number (an `int`, `signal.Signals` included) or a name with or without
/// `SIG`, in any case.
pub fn parse(v: &Bound<'_, PyAny>) -> PyResult<Signal> {
    if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
        let n = i32::try_from(convert::int_saturating(v)?).unwrap_or(i32::MAX);
        return Signal::from_number(n).py_err();
    }
    if let Ok(s) = v.cast::<PyString>() {
        return s.to_cow()?.parse().py_err();
    }
    Err(PyTypeError::new_err(format!(
        "a signal must be an int or a name such as 'TERM', not {}",
        v.get_type().name()?
    )))
}

/// The number of a signal (`"TERM"`, `"SIGTERM"`, `"term"`, `15`, `"RTMIN+2"`);
/// `InvalidArgument` for an unknown one.
#[pyfunction]
pub fn signal_number(sig: &Bound<'_, PyAny>) -> PyResult<i32> {
    parse(sig).map(Signal::number)
}

/// The name of a signal with its `SIG` prefix, as Python's `signal.Signals` spells it
/// (`"SIGTERM"`, `"SIGRTMIN+2"`).
#[pyfunction]
pub fn signal_name(sig: &Bound<'_, PyAny>) -> PyResult<String> {
    parse(sig).map(|s| s.to_string())
}

/// Every signal of this system as `(number, name)` pairs in number order, real-time signals
/// included (`kill -l`'s list).
#[pyfunction]
pub fn signals() -> Vec<(i32, String)> {
    Signal::all().map(|s| (s.number(), s.to_string())).collect()
}
