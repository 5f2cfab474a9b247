//! tether errors as Python exceptions.
//!
//! The exception classes are defined in Python (`tether/_errors.py`), where a class can derive
//! from two bases (`AccessDenied` is a `tether.Error` and a `PermissionError`); this module
//! looks them up once and raises them with the library's message, kind and OS error number.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use tether::{Error, ErrorKind};

/// The module that defines the exception classes.
const ERRORS: &str = "tether._errors";

/// The exception class named `name` in `tether._errors`, looked up once.
fn class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.import(py, ERRORS, name)
}

/// The Python class of a kind: one class per kind, `Error` itself for `System` and for kinds
/// added later (the Rust enum is non-exhaustive).
fn class_of(py: Python<'_>, kind: ErrorKind) -> PyResult<&Bound<'_, PyType>> {
    static NOT_FOUND: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static DENIED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static REUSED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static REFUSED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static INVALID: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static TIMEOUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static UNSUPPORTED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static BASE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    match kind {
        ErrorKind::NotFound => class(py, &NOT_FOUND, "NoSuchProcess"),
        ErrorKind::PermissionDenied => class(py, &DENIED, "AccessDenied"),
        ErrorKind::IdentityMismatch => class(py, &REUSED, "ProcessReused"),
        ErrorKind::Refused => class(py, &REFUSED, "Refused"),
        ErrorKind::InvalidArgument => class(py, &INVALID, "InvalidArgument"),
        ErrorKind::TimedOut => class(py, &TIMEOUT, "TimeoutExpired"),
        ErrorKind::NotSupported => class(py, &UNSUPPORTED, "NotSupported"),
        _ => class(py, &BASE, "Error"),
    }
}

/// Extra attributes of an exception (`pid`, `result`, …), set as keyword arguments.
pub type Extra<'py> = Option<Bound<'py, PyDict>>;

/// Build the exception for a library error, with `kind` (the stable name), `errno` and any
/// `extra` keyword arguments.
pub fn exception(py: Python<'_>, e: &Error, extra: Extra<'_>) -> PyErr {
    match build(py, e.kind(), e.message(), e.raw_os_error(), extra) {
        Ok(err) => err,
        // Only when tether._errors cannot be imported (a broken installation).
        Err(err) => err,
    }
}

fn build(
    py: Python<'_>,
    kind: ErrorKind,
    message: &str,
    errno: Option<i32>,
    extra: Extra<'_>,
) -> PyResult<PyErr> {
    let kwargs = extra.unwrap_or_else(|| PyDict::new(py));
    kwargs.set_item("kind", kind.as_str())?;
    if let Some(n) = errno {
        kwargs.set_item("errno", n)?;
    }
    let value = class_of(py, kind)?.call((message,), Some(&kwargs))?;
    Ok(PyErr::from_value(value))
}

/// A library error as a Python exception (no extra attributes).
pub fn to_py(e: Error) -> PyErr {
    Python::attach(|py| exception(py, &e, None))
}

/// `InvalidArgument` (a `ValueError`) with `message`.
pub fn invalid(message: impl Into<String>) -> PyErr {
    to_py(Error::invalid(message))
}

/// Shorthand for results of the library.
pub trait IntoPyResult<T> {
    /// The error as its Python exception.
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for tether::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
