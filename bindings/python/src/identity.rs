//! `tether.ProcessIdentity`: PID + start time in clock ticks + boot id (+ pidfs inode), the
//! token that survives PID reuse.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyType};
use tether::{IdentityCheck, ProcessIdentity};

use crate::convert;
use crate::error::{exception, IntoPyResult};

/// A process identity. Build it with `ProcessIdentity(s)` / `ProcessIdentity.parse(s)` from its
/// string form `PID:START_TICKS:BOOT8[:INODE]`, or take it with `ProcessIdentity.of(pid)`.
///
/// Two identities are equal when their string forms are: the string keeps 8 digits of the boot
/// id, so an identity taken here equals the one parsed from its string.
#[pyclass(name = "ProcessIdentity", module = "tether", frozen)]
#[derive(Debug, Clone)]
pub struct PyIdentity {
    pub inner: ProcessIdentity,
}

impl PyIdentity {
    /// Wrap a library identity.
    pub fn new(inner: ProcessIdentity) -> Self {
        PyIdentity { inner }
    }
}

#[pymethods]
impl PyIdentity {
    /// Parse the string form; `InvalidArgument` when malformed.
    #[new]
    fn py_new(s: &str) -> PyResult<Self> {
        s.parse().py_err().map(Self::new)
    }

    /// Parse the string form (the same as the constructor).
    #[staticmethod]
    fn parse(s: &str) -> PyResult<Self> {
        Self::py_new(s)
    }

    /// The identity of the live process `pid`: `NoSuchProcess` when there is none,
    /// `AccessDenied` when /proc hides it.
    #[staticmethod]
    fn of(py: Python<'_>, pid: &Bound<'_, PyAny>) -> PyResult<Self> {
        let pid = convert::pid(pid)?;
        py.detach(|| ProcessIdentity::of(pid))
            .map_err(|e| with_pid(py, &e, pid))
            .map(Self::new)
    }

    /// The identity of the calling process.
    #[staticmethod]
    fn current(py: Python<'_>) -> PyResult<Self> {
        let pid = std::process::id();
        py.detach(|| ProcessIdentity::of(pid))
            .map_err(|e| with_pid(py, &e, pid))
            .map(Self::new)
    }

    /// `IdentityCheck.SAME`, `GONE` or `REUSED`, as of now. Errors only when no answer can be
    /// had (out of file descriptors, /proc unreadable).
    fn check<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let id = self.inner.clone();
        let answer = py.detach(move || id.check()).py_err()?;
        let value = match answer {
            IdentityCheck::Same => "same",
            IdentityCheck::Gone => "gone",
            _ => "reused",
        };
        static CHECK: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        CHECK
            .import(py, "tether._types", "IdentityCheck")?
            .call1((value,))
    }

    /// Process id, in the PID namespace of the observer.
    #[getter]
    fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// Start time in clock ticks since boot.
    #[getter]
    fn start_ticks(&self) -> u64 {
        self.inner.start_ticks
    }

    /// Kernel boot id (lower-case hex; the string form keeps its first 8 digits).
    #[getter]
    fn boot_id(&self) -> &str {
        &self.inner.boot_id
    }

    /// Inode of the process's pidfd on pidfs (Linux 6.9+), or None.
    #[getter]
    fn pidfs_inode(&self) -> Option<u64> {
        self.inner.pidfs_inode
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Self>()
            .is_ok_and(|o| o.get().inner.to_string() == self.inner.to_string())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.to_string().hash(&mut h);
        h.finish()
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("tether.ProcessIdentity('{}')", self.inner)
    }

    /// Pickles as its string form.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyType>, (Bound<'py, PyString>,))> {
        let s = PyString::new(slf.py(), &slf.get().inner.to_string());
        Ok((slf.get_type(), (s,)))
    }
}

/// An error about process `pid`, with the exception's `pid` attribute set.
pub fn with_pid(py: Python<'_>, e: &tether::Error, pid: u32) -> PyErr {
    let extra = PyDict::new(py);
    match extra.set_item("pid", pid) {
        Ok(()) => exception(py, e, Some(extra)),
        Err(err) => err,
    }
}
