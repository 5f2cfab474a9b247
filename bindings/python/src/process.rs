//! `tether.Process`: one process, held by a pidfd and the identity verified on it (psutil's
//! `Process` shape), and `StopResult`, what ending its tree did.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString};
use tether::contain::Containment;
use tether::inspect::FieldSet;
use tether::ready::Cancel;
use tether::signal::Signal;
use tether::terminate::{StopOptions, StopOutcome};
use tether::wait::{ExitInfo, ExitStatus, WaitState};
use tether::{Process, ProcessRef};

use crate::attrs::{Attr, Spec};
use crate::convert;
use crate::error::{exception, IntoPyResult};
use crate::identity::{with_pid, PyIdentity};
use crate::inspect::PyProcessInfo;
use crate::interrupt::run_cancellable;

/// A process named by a Python value: a PID (`int`), a PID or identity string, or a
/// `ProcessIdentity`.
pub fn process_ref(v: &Bound<'_, PyAny>) -> PyResult<ProcessRef> {
    if let Ok(id) = v.cast::<PyIdentity>() {
        return Ok(ProcessRef::Identity(id.get().inner.clone()));
    }
    if v.is_instance_of::<PyInt>() {
        return convert::pid(v).map(ProcessRef::Pid);
    }
    if let Ok(s) = v.cast::<PyString>() {
        return s.to_cow()?.parse().py_err();
    }
    Err(PyTypeError::new_err(format!(
        "a process is named by a PID (int), a PID or identity string, or a ProcessIdentity, not {}",
        v.get_type().name()?
    )))
}

/// subprocess's return code of an exit: the exit code, or minus the signal that killed it.
pub fn returncode(e: &ExitInfo) -> i32 {
    match (e.code, e.signal) {
        (Some(c), _) => c,
        (None, Some(s)) => -s,
        (None, None) => 0,
    }
}

/// The `TimeoutExpired` of a wait (psutil's: `seconds`, `pid`).
pub fn timeout_expired(py: Python<'_>, pid: u32, timeout: Option<Duration>) -> PyErr {
    let secs = timeout.map_or(0.0, convert::secs);
    let e = tether::Error::new(
        tether::ErrorKind::TimedOut,
        format!("timeout after {secs} seconds (pid={pid})"),
    );
    let extra = PyDict::new(py);
    if let Err(err) = extra
        .set_item("pid", pid)
        .and_then(|()| extra.set_item("seconds", secs))
    {
        return err;
    }
    exception(py, &e, Some(extra))
}

/// A process: open it with `Process(pid)`, `Process("PID:START:BOOT8")`,
/// `Process(identity)` or `Process()` (this one).
///
/// The handle holds a pidfd and the identity verified on it: signals go through the pidfd, so
/// they reach this process or nobody, never a later process that reused its PID; reads by PID
/// are re-verified afterwards. After the process exits, the handle reads nothing and signals
/// nobody (`NoSuchProcess`).
#[pyclass(name = "Process", module = "tether", frozen)]
pub struct PyProcess {
    inner: Process,
}

impl PyProcess {
    /// Wrap a library handle.
    pub fn new(inner: Process) -> Self {
        PyProcess { inner }
    }

    fn err(&self, py: Python<'_>, e: tether::Error) -> PyErr {
        with_pid(py, &e, self.inner.pid())
    }
}

#[pymethods]
impl PyProcess {
    /// Open the process: `NoSuchProcess` when there is none (also for a thread id: the message
    /// names its process), `ProcessReused` when an identity's PID now belongs to another
    /// process, `AccessDenied` when /proc hides it, `InvalidArgument` for a PID the rails
    /// refuse (0, negative, too large) or a malformed string.
    #[new]
    #[pyo3(signature = (pid=None))]
    fn py_new(py: Python<'_>, pid: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let r = match pid.filter(|p| !p.is_none()) {
            None => ProcessRef::Pid(std::process::id()),
            Some(p) => process_ref(p)?,
        };
        let n = r.pid();
        py.detach(|| Process::open_ref(&r))
            .map(Self::new)
            .map_err(|e| with_pid(py, &e, n))
    }

    /// Open the process an identity names (the same as `Process(identity)`).
    #[staticmethod]
    fn from_identity(py: Python<'_>, identity: &Bound<'_, PyAny>) -> PyResult<Self> {
        Self::py_new(py, Some(identity))
    }

    /// The PID.
    #[getter]
    fn pid(&self) -> u32 {
        self.inner.pid()
    }

    /// The identity verified when the handle was opened.
    #[getter]
    fn identity(&self) -> PyIdentity {
        PyIdentity::new(self.inner.identity().clone())
    }

    /// Its record, with the attributes `attrs` (as `tether.get`): re-verified after the read,
    /// so `NoSuchProcess` rather than a record of a process that reused the PID.
    #[pyo3(signature = (attrs=None, ad_value=None))]
    fn info(
        &self,
        py: Python<'_>,
        attrs: Option<&Bound<'_, PyAny>>,
        ad_value: Option<Py<PyAny>>,
    ) -> PyResult<PyProcessInfo> {
        let spec = Arc::new(Spec::new(py, attrs, ad_value)?);
        let fields = spec.fields();
        let info = py
            .detach(|| self.inner.info(fields))
            .map_err(|e| self.err(py, e))?;
        Ok(PyProcessInfo::new(info, spec))
    }

    /// psutil's `name()`: the kernel's name of the process (its comm, at most 15 bytes).
    fn name(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.one(py, Attr::Name)
    }

    /// psutil's `exe()`: its executable (None for a kernel thread, or when this user may not
    /// read it).
    fn exe(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.one(py, Attr::Exe)
    }

    /// psutil's `cmdline()`: its command line as a list.
    fn cmdline(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.one(py, Attr::Cmdline)
    }

    /// psutil's `ppid()`: its parent's PID.
    fn ppid(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.one(py, Attr::Ppid)
    }

    /// psutil's `status()`: `"running"`, `"sleeping"`, `"zombie"`, ...
    fn status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.one(py, Attr::Status)
    }

    /// psutil's `username()`: the name of its effective user.
    fn username(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.one(py, Attr::Username)
    }

    /// psutil's `create_time()`: when it started, in Unix seconds.
    fn create_time(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.one(py, Attr::CreateTime)
    }

    /// Whether it still runs: `False` once it has exited (a zombie included).
    fn is_running(&self, py: Python<'_>) -> PyResult<bool> {
        self.inner.is_running().map_err(|e| self.err(py, e))
    }

    /// Its children (with `recursive=True`, all its descendants, breadth first), each opened
    /// as a `Process`. Found through `/proc/PID/task/*/children`, never a scan of /proc.
    #[pyo3(signature = (recursive=false))]
    fn children(&self, py: Python<'_>, recursive: bool) -> PyResult<Vec<PyProcess>> {
        let kids = py
            .detach(|| {
                if recursive {
                    self.inner.descendants()
                } else {
                    self.inner.children()
                }
            })
            .map_err(|e| self.err(py, e))?;
        Ok(kids.into_iter().map(Self::new).collect())
    }

    /// The PIDs of its ancestors, nearest first.
    fn ancestors(&self, py: Python<'_>) -> PyResult<Vec<u32>> {
        py.detach(|| self.inner.ancestors())
            .map_err(|e| self.err(py, e))
    }

    /// Send a signal (`int`, `signal.Signals` or a name such as `"TERM"`) through the pidfd.
    /// `NoSuchProcess` when it has exited, `AccessDenied` for another user's process,
    /// `Refused` for a target behind the rails (PID 1, this process, its ancestors, ...).
    fn send_signal(&self, py: Python<'_>, sig: &Bound<'_, PyAny>) -> PyResult<()> {
        let sig = crate::signal::parse(sig)?;
        self.signal(py, sig)
    }

    /// `send_signal(SIGTERM)`.
    fn terminate(&self, py: Python<'_>) -> PyResult<()> {
        self.signal(py, Signal::TERM)
    }

    /// `send_signal(SIGKILL)`.
    fn kill(&self, py: Python<'_>) -> PyResult<()> {
        self.signal(py, Signal::KILL)
    }

    /// Wait for it to exit, up to `timeout` seconds (`None`: as long as it takes): psutil's
    /// `wait`. Returns the exit code when it is a child of this process (minus the signal
    /// number when a signal killed it, as `subprocess`), else `None`. Nothing is reaped: a
    /// child stays for its owner (e.g. `subprocess.Popen`) to wait for. Raises
    /// `TimeoutExpired` (with `seconds` and `pid`) when the timeout passes first. The GIL is
    /// released; Ctrl-C ends the wait.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i32>> {
        let timeout = convert::opt_duration(timeout, "timeout")?;
        let inner = &self.inner;
        let cancel = Cancel::new().py_err()?;
        let waited = run_cancellable(
            py,
            || cancel.cancel(),
            || inner.wait_cancellable(timeout, &cancel),
        )?;
        // `None` (cancelled) only when a signal handler raised, and then that error is raised.
        let r = waited.py_err()?.and_then(|o| match o.state {
            WaitState::TimedOut | WaitState::Running => None,
            WaitState::Exited(ExitStatus::Known(e)) => Some(Some(returncode(&e))),
            _ => Some(None),
        });
        match r {
            Some(code) => Ok(code),
            None => Err(timeout_expired(py, inner.pid(), timeout)),
        }
    }

    /// End it and its whole tree with the one terminate policy: the tree held still, `signal`
    /// (default TERM) and SIGCONT to every member, up to `grace` seconds (default 10) to exit,
    /// then `kill_signal` (default KILL) to what is left. A process already gone is a success
    /// (`already_gone`). `force` overrides the rails. Returns a `StopResult`. The GIL is
    /// released; the call lasts at most about `grace` + `kill_wait` (default 5 s).
    #[pyo3(signature = (grace=None, *, signal=None, kill_signal=None, force=false, kill_wait=None))]
    fn terminate_tree(
        &self,
        py: Python<'_>,
        grace: Option<&Bound<'_, PyAny>>,
        signal: Option<&Bound<'_, PyAny>>,
        kill_signal: Option<&Bound<'_, PyAny>>,
        force: bool,
        kill_wait: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyStopResult> {
        let opts = stop_options(grace, signal, kill_signal, force, kill_wait)?;
        let out = py
            .detach(|| self.inner.terminate_tree(&opts))
            .map_err(|e| self.err(py, e))?;
        PyStopResult::new(py, &out)
    }

    /// The same process: equal identities (by their string forms, as `ProcessIdentity`).
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Self>().is_ok_and(|o| {
            o.get().inner.identity().to_string() == self.inner.identity().to_string()
        })
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner.identity().to_string().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        format!(
            "tether.Process(pid={}, identity='{}')",
            self.inner.pid(),
            self.inner.identity()
        )
    }
}

impl PyProcess {
    /// One attribute, read as `info([attr])` reads it (re-verified after the read).
    fn one(&self, py: Python<'_>, a: Attr) -> PyResult<Py<PyAny>> {
        let fields = FieldSet::of(a.fields());
        let info = py
            .detach(|| self.inner.info(fields))
            .map_err(|e| self.err(py, e))?;
        a.value(py, &info, &py.None())
    }

    fn signal(&self, py: Python<'_>, sig: Signal) -> PyResult<()> {
        // The rails read /proc: with the GIL released, as every call that reads it.
        py.detach(|| self.inner.signal(sig))
            .map_err(|e| self.err(py, e))
    }
}

/// The options of a tree stop from keyword arguments.
pub fn stop_options(
    grace: Option<&Bound<'_, PyAny>>,
    signal: Option<&Bound<'_, PyAny>>,
    kill_signal: Option<&Bound<'_, PyAny>>,
    force: bool,
    kill_wait: Option<&Bound<'_, PyAny>>,
) -> PyResult<StopOptions> {
    let mut opts = StopOptions::default();
    if let Some(g) = convert::opt_duration(grace, "grace")? {
        opts.grace = g;
    }
    if let Some(s) = signal.filter(|s| !s.is_none()) {
        opts.signal = crate::signal::parse(s)?;
    }
    if let Some(s) = kill_signal.filter(|s| !s.is_none()) {
        opts.kill_signal = crate::signal::parse(s)?;
    }
    opts.force = force;
    if let Some(k) = convert::opt_duration(kill_wait, "kill_wait")? {
        opts.kill_wait = k;
    }
    Ok(opts)
}

/// How a tree is contained: `mechanism` (`"cgroup"`, `"session_subreaper"`,
/// `"process_group"`, `"none"`), `strength` (`"kernel_enforced"`, `"group_subreaper"`,
/// `"group_only"`, `"none"`), the cgroup path, the process group, and why a stronger
/// mechanism was not used.
#[pyclass(name = "Containment", module = "tether", frozen, get_all)]
pub struct PyContainment {
    mechanism: &'static str,
    strength: &'static str,
    cgroup: Option<String>,
    pgid: Option<u32>,
    fallback_reason: Option<String>,
}

impl From<&Containment> for PyContainment {
    fn from(c: &Containment) -> Self {
        use tether::contain::{Mechanism, Strength};
        PyContainment {
            mechanism: match c.mechanism {
                Mechanism::Cgroup => "cgroup",
                Mechanism::SessionSubreaper => "session_subreaper",
                Mechanism::ProcessGroup => "process_group",
                _ => "none",
            },
            strength: match c.strength {
                Strength::KernelEnforced => "kernel_enforced",
                Strength::GroupSubreaper => "group_subreaper",
                Strength::GroupOnly => "group_only",
                _ => "none",
            },
            cgroup: c.cgroup.clone(),
            pgid: c.pgid,
            fallback_reason: c.fallback_reason.clone(),
        }
    }
}

#[pymethods]
impl PyContainment {
    fn __repr__(&self) -> String {
        format!(
            "tether.Containment(mechanism={:?}, strength={:?})",
            self.mechanism, self.strength
        )
    }
}

/// What `terminate_tree` did. True (`bool(result)`) when nothing of the tree remains.
#[pyclass(name = "StopResult", module = "tether", frozen, get_all)]
pub struct PyStopResult {
    /// The target PID.
    pid: u32,
    /// Its identity, verified before anything was sent (None when it was already gone).
    identity: Option<PyIdentity>,
    /// It was gone before anything was done (a success).
    already_gone: bool,
    /// How the tree was found and held (`Containment`).
    containment: Py<PyContainment>,
    /// How it was held still: `"frozen"`, `"stopped"` or `"none"`.
    held: &'static str,
    /// The graceful signal's name (`"SIGTERM"`).
    signal: String,
    /// The kill signal's name.
    kill_signal: String,
    /// Every PID the graceful signal was delivered to.
    signalled: Vec<u32>,
    /// PIDs still alive when the grace ended.
    survivors: Vec<u32>,
    /// Whether the kill signal was sent.
    escalated: bool,
    /// PIDs still alive at the end (normally empty).
    remaining: Vec<u32>,
    /// The grace period, in seconds.
    grace: f64,
    /// Seconds taken.
    elapsed: f64,
}

impl PyStopResult {
    /// Convert a library outcome.
    pub fn new(py: Python<'_>, o: &StopOutcome) -> PyResult<Self> {
        Ok(PyStopResult {
            pid: o.pid,
            identity: o.identity.clone().map(PyIdentity::new),
            already_gone: o.already_gone,
            containment: Py::new(py, PyContainment::from(&o.containment))?,
            held: o.held.as_str(),
            signal: o.signal.to_string(),
            kill_signal: o.kill_signal.to_string(),
            signalled: o.signalled.clone(),
            survivors: o.survivors.clone(),
            escalated: o.escalated,
            remaining: o.remaining.clone(),
            grace: convert::secs(o.grace),
            elapsed: convert::secs(o.elapsed),
        })
    }
}

#[pymethods]
impl PyStopResult {
    fn __bool__(&self) -> bool {
        self.remaining.is_empty()
    }

    fn __repr__(&self) -> String {
        format!(
            "tether.StopResult(pid={}, already_gone={}, signalled={:?}, escalated={}, remaining={:?})",
            self.pid,
            if self.already_gone { "True" } else { "False" },
            self.signalled,
            if self.escalated { "True" } else { "False" },
            self.remaining
        )
    }
}
