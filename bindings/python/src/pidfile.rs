//! PID files: read one and tell whether the process it names still runs (`tether.pidfile`
//! in the library). Nothing is signalled or changed.

use std::path::PathBuf;

use pyo3::prelude::*;
use tether::pidfile::{self, Content, ExeCheck, IdentityStrength, PidFile, Status};

use crate::convert;
use crate::error::IntoPyResult;
use crate::identity::PyIdentity;

/// A PID file as read by `pidfile_read`.
#[pyclass(name = "PidFile", module = "tether", frozen)]
pub struct PyPidFile {
    inner: PidFile,
}

/// The verdict on a PID file: `state` is `"alive"`, `"stale"` (its process is gone and its
/// PID may belong to another one: `reason` says why) or `"gone"`. True (`bool(status)`) only
/// when alive.
#[pyclass(name = "PidFileStatus", module = "tether", frozen, get_all)]
pub struct PyPidFileStatus {
    /// `"alive"`, `"stale"` or `"gone"`.
    state: &'static str,
    /// The process's identity, verified now, when alive.
    identity: Option<PyIdentity>,
    /// When alive: `"strong"` (the full identity matched) or `"weak"` (a bare PID).
    strength: Option<&'static str>,
    /// When alive: `"same"`, `"changed"` (it runs another executable since) or `"unknown"`.
    exe: Option<&'static str>,
    /// When stale: `"rebooted"`, `"reused"`, `"exe_changed"` or `"started_after_file"`.
    reason: Option<&'static str>,
    /// When stale: why, in words.
    message: Option<String>,
}

#[pymethods]
impl PyPidFileStatus {
    fn __bool__(&self) -> bool {
        self.state == "alive"
    }

    fn __repr__(&self) -> String {
        match self.reason {
            Some(r) => format!("tether.PidFileStatus(state={:?}, reason={r:?})", self.state),
            None => format!("tether.PidFileStatus(state={:?})", self.state),
        }
    }
}

impl From<Status> for PyPidFileStatus {
    fn from(s: Status) -> Self {
        let mut out = PyPidFileStatus {
            state: "gone",
            identity: None,
            strength: None,
            exe: None,
            reason: None,
            message: None,
        };
        match s {
            Status::Alive {
                identity,
                strength,
                exe,
            } => {
                out.state = "alive";
                out.identity = Some(PyIdentity::new(identity));
                out.strength = Some(match strength {
                    IdentityStrength::Strong => "strong",
                    IdentityStrength::Weak => "weak",
                });
                out.exe = Some(match exe {
                    ExeCheck::Same => "same",
                    ExeCheck::Changed { .. } => "changed",
                    _ => "unknown",
                });
            }
            Status::Stale(reason) => {
                out.state = "stale";
                out.reason = Some(reason.as_str());
                out.message = Some(reason.to_string());
            }
            _ => {}
        }
        out
    }
}

#[pymethods]
impl PyPidFile {
    /// Where it was read.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path.clone()
    }

    /// The PID it names.
    #[getter]
    fn pid(&self) -> u32 {
        self.inner.pid()
    }

    /// The identity it records, or None for a legacy file (a bare PID).
    #[getter]
    fn identity(&self) -> Option<PyIdentity> {
        self.inner.identity().cloned().map(PyIdentity::new)
    }

    /// `"tether"` (a tether record) or `"legacy"` (a bare PID).
    #[getter]
    fn format(&self) -> &'static str {
        match self.inner.content {
            Content::Record(_) => "tether",
            _ => "legacy",
        }
    }

    /// The executable recorded, or None.
    #[getter]
    fn exe(&self) -> Option<String> {
        match &self.inner.content {
            Content::Record(r) => r.exe.clone(),
            _ => None,
        }
    }

    /// The command line recorded (empty for a legacy file).
    #[getter]
    fn argv(&self) -> Vec<String> {
        match &self.inner.content {
            Content::Record(r) => r.argv.clone(),
            _ => Vec::new(),
        }
    }

    /// When the file was last modified (Unix time, seconds).
    #[getter]
    fn modified(&self) -> f64 {
        convert::unix_secs(self.inner.modified)
    }

    /// Whether its owner held its lock when it was read.
    #[getter]
    fn locked(&self) -> bool {
        self.inner.locked
    }

    /// Whether the process it names runs now: a `PidFileStatus`.
    fn check(&self, py: Python<'_>) -> PyResult<PyPidFileStatus> {
        py.detach(|| self.inner.check())
            .py_err()
            .map(PyPidFileStatus::from)
    }

    fn __repr__(&self) -> String {
        format!(
            "tether.PidFile(path={:?}, pid={})",
            self.inner.path,
            self.inner.pid()
        )
    }
}

/// Read a PID file (never following a symbolic link): a tether record or a bare PID.
/// Errors: `NoSuchProcess` (kind `not_found`) when there is no file, `AccessDenied` when it
/// may not be read, `InvalidArgument` for a link, a directory or content that is not a PID
/// file.
#[pyfunction]
pub fn pidfile_read(py: Python<'_>, path: PathBuf) -> PyResult<PyPidFile> {
    py.detach(|| pidfile::read(&path))
        .py_err()
        .map(|inner| PyPidFile { inner })
}

/// Read a PID file and tell whether the process it names runs now: a `PidFileStatus`.
#[pyfunction]
pub fn pidfile_check(py: Python<'_>, path: PathBuf) -> PyResult<PyPidFileStatus> {
    py.detach(|| pidfile::read(&path).and_then(|f| f.check()))
        .py_err()
        .map(PyPidFileStatus::from)
}
