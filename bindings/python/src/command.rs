//! `tether.run` and `tether.spawn`: commands started as contained trees (the library's
//! `Command`), with GNU `timeout`'s time limit, bounded output capture, and a handle (`Child`)
//! that ends the whole tree.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Instant;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyString, PyType};
use tether::command::{Child, Command, Output, SpawnError, SpawnErrorKind, Stdio};
use tether::contain::{ContainMode, Guard};
use tether::ready::Cancel;
use tether::run::{gnu_exit, RunOutcome};

use crate::convert;
use crate::error::{invalid, to_py, IntoPyResult};
use crate::identity::PyIdentity;
use crate::interrupt::run_cancellable;
use crate::process::{returncode, stop_options, timeout_expired, PyContainment, PyStopResult};

/// `subprocess.PIPE`: a new pipe to the child (`spawn` only).
const PIPE: i64 = -1;
/// `subprocess.STDOUT`: not supported.
const STDOUT: i64 = -2;
/// `subprocess.DEVNULL`: /dev/null.
const DEVNULL: i64 = -3;

/// One argument: `str`, `bytes` or an `os.PathLike`.
pub(crate) fn os_string(v: &Bound<'_, PyAny>) -> PyResult<OsString> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(OsString::from_vec(b.as_bytes().to_vec()));
    }
    if v.is_instance_of::<PyString>() {
        return v.extract();
    }
    static FSPATH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let path = FSPATH
        .import(v.py(), "os", "fspath")?
        .call1((v,))
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "arguments must be str, bytes or os.PathLike, not {}",
                v.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
    os_string(&path)
}

/// The command line: a sequence of arguments (a single `str`, `bytes` or path is the program
/// alone, as in `subprocess`).
pub(crate) fn argv(args: &Bound<'_, PyAny>) -> PyResult<Vec<OsString>> {
    let items: Vec<OsString> = if args.is_instance_of::<PyString>()
        || args.is_instance_of::<PyBytes>()
        || args.hasattr("__fspath__")?
    {
        vec![os_string(args)?]
    } else {
        args.try_iter()
            .map_err(|_| {
                PyTypeError::new_err("args must be a sequence of str, bytes or os.PathLike")
            })?
            .map(|a| os_string(&a?))
            .collect::<PyResult<_>>()?
    };
    if items.is_empty() {
        return Err(invalid("args is empty: name the program to run"));
    }
    Ok(items)
}

/// The command line as text, for the queries of jobs and retry (their commands are JSON
/// strings): as [`argv`], and each argument valid UTF-8.
pub(crate) fn text_argv(args: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    argv(args)?
        .into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| invalid(format!("argument {a:?} is not valid UTF-8")))
        })
        .collect()
}

/// A standard stream: `None` (inherited), `DEVNULL`, `PIPE` (when `pipe_ok`), a file
/// descriptor or an object with `fileno()` (the child gets a copy).
pub(crate) fn stdio(
    v: Option<&Bound<'_, PyAny>>,
    what: &str,
    pipe_ok: bool,
) -> PyResult<Option<Stdio>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let fd: i64 = if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
        v.extract()?
    } else if v.hasattr("fileno")? {
        v.call_method0("fileno")?.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} must be None, DEVNULL, PIPE, a file descriptor or a file object"
        )));
    };
    match fd {
        DEVNULL => Ok(Some(Stdio::Null)),
        PIPE if pipe_ok => Ok(Some(Stdio::Piped)),
        PIPE => Err(PyValueError::new_err(format!(
            "{what}=PIPE is for spawn(); run() captures with capture_output=True"
        ))),
        STDOUT => Err(PyValueError::new_err(format!(
            "{what}=STDOUT is not supported: give the same file for stdout and stderr"
        ))),
        n if n >= 0 => {
            static DUP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            // os.dup checks the descriptor and raises OSError for a bad one.
            let copy: i32 = DUP.import(v.py(), "os", "dup")?.call1((n,))?.extract()?;
            // SAFETY: os.dup returned a new descriptor that nothing else owns.
            let owned = unsafe { OwnedFd::from_raw_fd(copy) };
            Ok(Some(Stdio::from(owned)))
        }
        n => Err(invalid(format!("{what}: bad file descriptor {n}"))),
    }
}

/// The options both `run` and `spawn` take.
struct Options<'a, 'py> {
    cwd: Option<&'a Bound<'py, PyAny>>,
    env: Option<&'a Bound<'py, PyAny>>,
    timeout: Option<&'a Bound<'py, PyAny>>,
    kill_after: Option<&'a Bound<'py, PyAny>>,
    timeout_signal: Option<&'a Bound<'py, PyAny>>,
    contain: Option<&'a str>,
}

/// The library's command from the arguments.
fn command(args: &Bound<'_, PyAny>, o: &Options<'_, '_>) -> PyResult<Command> {
    let argv = argv(args)?;
    let mut cmd = Command::new(&argv[0]);
    // A Python program is a long-lived host: one shared guard, reused cgroup leaves.
    cmd.args(&argv[1..]).guard(Guard::Shared);
    if let Some(cwd) = o.cwd.filter(|c| !c.is_none()) {
        cmd.current_dir(os_string(cwd)?);
    }
    if let Some(env) = o.env.filter(|e| !e.is_none()) {
        // As subprocess: the mapping is the whole environment.
        let env = env
            .cast::<PyDict>()
            .map_err(|_| PyTypeError::new_err("env must be a dict (the whole environment)"))?;
        cmd.env_clear();
        for (k, v) in env.iter() {
            cmd.env(os_string(&k)?, os_string(&v)?);
        }
    }
    if let Some(t) = convert::opt_duration(o.timeout, "timeout")? {
        cmd.timeout(t);
    }
    if let Some(k) = convert::opt_duration(o.kill_after, "kill_after")? {
        cmd.kill_after(k);
    }
    if let Some(s) = o.timeout_signal.filter(|s| !s.is_none()) {
        cmd.timeout_signal(Some(crate::signal::parse(s)?));
    }
    if let Some(m) = o.contain {
        cmd.contain(m.parse::<ContainMode>().py_err()?);
    }
    Ok(cmd)
}

/// A start failure as a Python exception: `ProgramNotFound` (a `FileNotFoundError`) for a
/// missing program, `ProgramNotExecutable` (a `PermissionError`) for one that cannot be run,
/// the library error's class otherwise.
fn spawn_error(py: Python<'_>, e: &SpawnError) -> PyErr {
    static NOT_FOUND: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static NOT_EXEC: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let class = match e.kind() {
        SpawnErrorKind::NotFound => NOT_FOUND.import(py, "tether._errors", "ProgramNotFound"),
        SpawnErrorKind::NotExecutable => {
            NOT_EXEC.import(py, "tether._errors", "ProgramNotExecutable")
        }
        _ => return to_py(e.error().clone()),
    };
    let build = || -> PyResult<PyErr> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("kind", e.error().kind().as_str())?;
        kwargs.set_item("errno", e.raw_os_error())?;
        Ok(PyErr::from_value(
            class?.call((e.message(),), Some(&kwargs))?,
        ))
    };
    build().unwrap_or_else(|err| err)
}

/// What `run` returns: `subprocess.CompletedProcess`'s fields and what the time limit did.
///
/// `returncode` follows GNU `timeout`: 124 when the time limit passed (the command was sent
/// `timeout_signal`), 137 when it had to be killed after `kill_after`, otherwise the command's
/// exit code, or 128 + N when signal N killed it; 125 when its status is unknown (waiting for
/// it failed: see `error`). `exit_code` and `signal` say how the command itself ended.
#[pyclass(name = "CompletedProcess", module = "tether", frozen, get_all)]
pub struct PyCompletedProcess {
    /// The command line, as given.
    args: Py<PyAny>,
    /// GNU `timeout`'s exit code (see the class documentation).
    returncode: i32,
    /// The captured stdout (its last `capture_limit` bytes), or None when not captured.
    stdout: Option<Py<PyBytes>>,
    /// The captured stderr, or None.
    stderr: Option<Py<PyBytes>>,
    /// Bytes of stdout dropped from the front to keep the last `capture_limit`.
    stdout_dropped: u64,
    /// Bytes of stderr dropped.
    stderr_dropped: u64,
    /// The time limit passed.
    timed_out: bool,
    /// KILL had to be sent after `kill_after`.
    escalated: bool,
    /// The command's exit code, when it exited normally.
    exit_code: Option<i32>,
    /// The signal that killed the command, when one did.
    signal: Option<i32>,
    /// The command's PID.
    pid: u32,
    /// The command's identity.
    identity: PyIdentity,
    /// The containment it ran in.
    containment: Py<PyContainment>,
    /// Processes it left running when it exited, which were ended.
    leftovers_killed: Vec<u32>,
    /// A failure after the start (waiting for it failed; it was ended with its tree), or None.
    error: Option<String>,
    /// Seconds from before the start to the end of the tree.
    elapsed: f64,
}

impl PyCompletedProcess {
    fn new(
        py: Python<'_>,
        args: Py<PyAny>,
        status: &RunOutcome,
        captured: Option<(Vec<u8>, Vec<u8>, u64, u64)>,
    ) -> PyResult<Self> {
        let (stdout, stderr, out_dropped, err_dropped) = match captured {
            Some((o, e, od, ed)) => (
                Some(PyBytes::new(py, &o).unbind()),
                Some(PyBytes::new(py, &e).unbind()),
                od,
                ed,
            ),
            None => (None, None, 0, 0),
        };
        Ok(PyCompletedProcess {
            args,
            returncode: gnu_exit(status, false).code,
            stdout,
            stderr,
            stdout_dropped: out_dropped,
            stderr_dropped: err_dropped,
            timed_out: status.timed_out,
            escalated: status.escalated,
            exit_code: status.child_exit.and_then(|e| e.code),
            signal: status.child_exit.and_then(|e| e.signal),
            pid: status.pid,
            identity: PyIdentity::new(status.identity.clone()),
            containment: Py::new(py, PyContainment::from(&status.containment))?,
            leftovers_killed: status.leftovers_killed.clone(),
            error: status.error.as_ref().map(|e| e.message().to_string()),
            elapsed: convert::secs(status.elapsed),
        })
    }
}

#[pymethods]
impl PyCompletedProcess {
    /// Raise `subprocess.CalledProcessError` when `returncode` is not 0.
    fn check_returncode(&self, py: Python<'_>) -> PyResult<()> {
        if self.returncode == 0 {
            return Ok(());
        }
        static CALLED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let kwargs = PyDict::new(py);
        kwargs.set_item("output", &self.stdout)?;
        kwargs.set_item("stderr", &self.stderr)?;
        let e = CALLED
            .import(py, "subprocess", "CalledProcessError")?
            .call((self.returncode, &self.args), Some(&kwargs))?;
        Err(PyErr::from_value(e))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "tether.CompletedProcess(args={}, returncode={}, timed_out={})",
            self.args.bind(py).repr()?,
            self.returncode,
            if self.timed_out { "True" } else { "False" }
        ))
    }
}

/// Run a command to its end as a contained tree and return a `CompletedProcess`.
///
/// `args` is the program and its arguments (str, bytes or os.PathLike; the program is looked
/// up in `PATH`). `timeout` (seconds, a `timedelta` or a string such as `"2m"`) is GNU
/// `timeout`'s limit: when it passes, `timeout_signal` (default TERM) goes to the whole tree,
/// then KILL after `kill_after` if it still runs; the result says `timed_out` and its
/// `returncode` is 124 (137 when KILL was needed). Whatever the command leaves running when it
/// exits is ended.
///
/// With `capture_output=True` (the default) stdout and stderr are captured, keeping the last
/// `capture_limit` bytes of each (default 1 MiB; an int or a size such as `"64K"`) and counting
/// what was dropped; stdin is /dev/null unless given. With `capture_output=False` the streams
/// are inherited unless given (`DEVNULL`, a descriptor or a file object). `env` is the whole
/// environment (as in subprocess); `cwd` the working directory; `contain` is `"auto"`
/// (default), `"cgroup"`, `"group"` or `"none"`. `check=True` raises
/// `subprocess.CalledProcessError` for a non-zero `returncode`.
///
/// Start failures raise `ProgramNotFound` (a `FileNotFoundError`), `ProgramNotExecutable` (a
/// `PermissionError`) or another `tether.Error`. The GIL is released while the command runs;
/// Ctrl-C in the main thread ends the whole tree at once and raises `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (
    args, *, timeout=None, kill_after=None, timeout_signal=None, cwd=None, env=None,
    capture_output=true, capture_limit=None, stdin=None, stdout=None, stderr=None,
    contain=None, check=false
))]
#[allow(clippy::too_many_arguments)]
pub fn run(
    py: Python<'_>,
    args: &Bound<'_, PyAny>,
    timeout: Option<&Bound<'_, PyAny>>,
    kill_after: Option<&Bound<'_, PyAny>>,
    timeout_signal: Option<&Bound<'_, PyAny>>,
    cwd: Option<&Bound<'_, PyAny>>,
    env: Option<&Bound<'_, PyAny>>,
    capture_output: bool,
    capture_limit: Option<&Bound<'_, PyAny>>,
    stdin: Option<&Bound<'_, PyAny>>,
    stdout: Option<&Bound<'_, PyAny>>,
    stderr: Option<&Bound<'_, PyAny>>,
    contain: Option<&str>,
    check: bool,
) -> PyResult<PyCompletedProcess> {
    let opts = Options {
        cwd,
        env,
        timeout,
        kill_after,
        timeout_signal,
        contain,
    };
    let mut cmd = command(args, &opts)?;
    let (out, err) = (
        stdio(stdout, "stdout", false)?,
        stdio(stderr, "stderr", false)?,
    );
    if capture_output && (out.is_some() || err.is_some()) {
        return Err(PyValueError::new_err(
            "stdout and stderr may not be given with capture_output=True",
        ));
    }
    if let Some(s) = stdio(stdin, "stdin", false)? {
        cmd.stdin(s);
    }
    if let Some(s) = out {
        cmd.stdout(s);
    }
    if let Some(s) = err {
        cmd.stderr(s);
    }
    if let Some(limit) = capture_limit.filter(|l| !l.is_none()) {
        cmd.capture_limit(size(limit, "capture_limit")?);
    }
    let cancel = Cancel::new().py_err()?;
    cmd.cancel(cancel.clone());
    enum Ran {
        Captured(Output),
        Status(RunOutcome),
    }
    let ran = run_cancellable(
        py,
        || cancel.cancel(),
        move || {
            if capture_output {
                cmd.output().map(Ran::Captured)
            } else {
                cmd.status().map(Ran::Status)
            }
        },
    )?
    .map_err(|e| spawn_error(py, &e))?;
    let result = match ran {
        Ran::Captured(o) => PyCompletedProcess::new(
            py,
            args.clone().unbind(),
            &o.status,
            Some((o.stdout, o.stderr, o.stdout_dropped, o.stderr_dropped)),
        )?,
        Ran::Status(s) => PyCompletedProcess::new(py, args.clone().unbind(), &s, None)?,
    };
    if check {
        result.check_returncode(py)?;
    }
    Ok(result)
}

/// A byte count: an int, or a size string (`"64K"`, `"1M"`).
pub(crate) fn size(v: &Bound<'_, PyAny>, what: &str) -> PyResult<usize> {
    let n: u64 = if v.is_instance_of::<PyString>() {
        tether::size::parse_size(&v.extract::<String>()?).py_err()?
    } else if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
        let n = convert::int_saturating(v)?;
        u64::try_from(n).map_err(|_| invalid(format!("{what} must be >= 0, not {n}")))?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a number of bytes (int) or a size such as '64K'"
        )));
    };
    usize::try_from(n).map_err(|_| invalid(format!("{what} is too large: {n}")))
}

/// A started command and its whole tree, from `spawn`: `subprocess.Popen`'s shape for the
/// command, plus the tree.
///
/// `wait`/`poll` are for the command itself (and apply its time limit); `send_signal`,
/// `terminate_tree` and `kill_tree` act on the whole tree. Use it as a context manager:
/// leaving the block ends whatever is left of the tree (`close()`: SIGKILL, wait until it is
/// gone, clean up). Garbage collection of an unclosed handle also kills the tree, without
/// waiting.
#[pyclass(name = "Child", module = "tether", frozen)]
pub struct PyChild {
    inner: Mutex<Option<Child>>,
    /// The cancel tokens of the waits in progress (`wait`), which hold `inner` while they
    /// sleep: another call that needs the child cancels them, and they take it back after
    /// ([`PyChild::lock_child`]).
    waits: Mutex<Vec<Cancel>>,
    pid: u32,
    identity: PyIdentity,
    containment: Py<PyContainment>,
    args: Py<PyAny>,
    stdin: Py<PyAny>,
    stdout: Py<PyAny>,
    stderr: Py<PyAny>,
    returncode: Mutex<Option<i32>>,
}

impl PyChild {
    /// The child, for a call other than `wait`. A wait in progress holds it while it sleeps:
    /// its round is cancelled, and the `waits` lock is kept until the child is ours, so that
    /// the wait cannot start its next round (and take the child back) first.
    fn lock_child(&self) -> MutexGuard<'_, Option<Child>> {
        match self.inner.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => {
                let mut waits = lock(&self.waits);
                waits.drain(..).for_each(|t| t.cancel());
                let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                drop(waits);
                guard
            }
        }
    }

    /// Run `f` on the child with the GIL released (the lock is only ever taken so, and so
    /// never waited for while holding the GIL). `Error` when the handle was closed.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Child) -> tether::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut guard = self.lock_child();
            match guard.as_mut() {
                Some(c) => f(c),
                None => Err(tether::Error::new(
                    tether::ErrorKind::InvalidArgument,
                    "the child was closed",
                )),
            }
        })
        .py_err()
    }

    fn note_exit(&self, code: i32) -> i32 {
        *self.returncode.lock().unwrap_or_else(|e| e.into_inner()) = Some(code);
        code
    }

    fn known_returncode(&self) -> Option<i32> {
        *self.returncode.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A pipe end as a Python binary file object (`mode` "rb" or "wb"), or None.
fn file_object(py: Python<'_>, f: Option<std::fs::File>, mode: &str) -> PyResult<Py<PyAny>> {
    let Some(f) = f else {
        return Ok(py.None());
    };
    static OPEN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let fd = f.into_raw_fd();
    match OPEN.import(py, "builtins", "open")?.call1((fd, mode)) {
        Ok(obj) => Ok(obj.unbind()),
        Err(e) => {
            // SAFETY: `open` failed, so the descriptor is still ours to close.
            drop(unsafe { OwnedFd::from_raw_fd(fd) });
            Err(e)
        }
    }
}

#[pymethods]
impl PyChild {
    /// The command's PID.
    #[getter]
    fn pid(&self) -> u32 {
        self.pid
    }

    /// The command's identity, taken when it started.
    #[getter]
    fn identity(&self) -> PyIdentity {
        self.identity.clone()
    }

    /// The containment the tree runs in.
    #[getter]
    fn containment(&self, py: Python<'_>) -> Py<PyContainment> {
        self.containment.clone_ref(py)
    }

    /// The command line, as given.
    #[getter]
    fn args(&self, py: Python<'_>) -> Py<PyAny> {
        self.args.clone_ref(py)
    }

    /// Our end of the command's stdin (a binary file) with `stdin=PIPE`, else None.
    #[getter]
    fn stdin(&self, py: Python<'_>) -> Py<PyAny> {
        self.stdin.clone_ref(py)
    }

    /// Our end of its stdout with `stdout=PIPE`, else None.
    #[getter]
    fn stdout(&self, py: Python<'_>) -> Py<PyAny> {
        self.stdout.clone_ref(py)
    }

    /// Our end of its stderr with `stderr=PIPE`, else None.
    #[getter]
    fn stderr(&self, py: Python<'_>) -> Py<PyAny> {
        self.stderr.clone_ref(py)
    }

    /// The command's return code once it is known (exit code, or minus the signal that
    /// killed it, as `subprocess`), else None.
    #[getter]
    fn returncode(&self) -> Option<i32> {
        self.known_returncode()
    }

    /// Wait for the command (not the whole tree) to exit, up to `timeout`; return its
    /// `returncode`. Raises `TimeoutExpired` when the timeout passes first (the command keeps
    /// running). The command's own time limit is applied meanwhile. The GIL is released;
    /// Ctrl-C ends the wait (the tree keeps running until the handle is closed).
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<i32> {
        if let Some(code) = self.known_returncode() {
            return Ok(code);
        }
        let timeout = convert::opt_duration(timeout, "timeout")?;
        let (inner, waits) = (&self.inner, &self.waits);
        // A timeout beyond any clock never passes.
        let until = timeout.and_then(|t| Instant::now().checked_add(t));
        let stop = AtomicBool::new(false);
        // Ctrl-C: the wait stops (and its round is cancelled).
        let interrupt = || {
            stop.store(true, Ordering::SeqCst);
            lock(waits).drain(..).for_each(|t| t.cancel());
        };
        // `None`: the timeout passed (or the wait was stopped, and then the signal handler's
        // error is raised instead).
        let exit = run_cancellable(py, interrupt, || loop {
            // One round: a wait that holds the child until it exits, the timeout passes, or
            // another call (`poll`, `send_signal`, …) or Ctrl-C cancels the round's token.
            let round = Cancel::new()?;
            lock(waits).push(round.clone());
            let r = if stop.load(Ordering::SeqCst) {
                Ok(None)
            } else {
                let left = until.map(|u| u.saturating_duration_since(Instant::now()));
                let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
                match guard.as_mut() {
                    Some(c) => c.wait_cancellable(left, &round),
                    None => Err(tether::Error::new(
                        tether::ErrorKind::InvalidArgument,
                        "the child was closed before its exit was known",
                    )),
                }
            };
            let fd = round.as_fd().as_raw_fd();
            lock(waits).retain(|t| t.as_fd().as_raw_fd() != fd);
            match r {
                // Another call took the child: the wait goes on once it is done.
                Ok(None) if round.is_cancelled() && !stop.load(Ordering::SeqCst) => {}
                r => break r,
            }
        })?
        .py_err()?;
        match exit {
            Some(e) => Ok(self.note_exit(returncode(&e))),
            None => Err(timeout_expired(py, self.pid, timeout)),
        }
    }

    /// The `returncode` if the command has exited, else None, without waiting.
    fn poll(&self, py: Python<'_>) -> PyResult<Option<i32>> {
        if let Some(code) = self.known_returncode() {
            return Ok(Some(code));
        }
        let exit = self.with(py, |c| c.try_wait())?;
        Ok(exit.map(|e| self.note_exit(returncode(&e))))
    }

    /// Send a signal to every process of the tree; returns the PIDs it was delivered to.
    fn send_signal(&self, py: Python<'_>, sig: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
        let sig = crate::signal::parse(sig)?;
        self.with(py, |c| c.signal(sig))
    }

    /// End the tree with the one terminate policy (see `Process.terminate_tree`); returns a
    /// `StopResult`. The handle stays open: `close()` (or leaving the `with` block) cleans up.
    #[pyo3(signature = (grace=None, *, signal=None, kill_signal=None, kill_wait=None))]
    fn terminate_tree(
        &self,
        py: Python<'_>,
        grace: Option<&Bound<'_, PyAny>>,
        signal: Option<&Bound<'_, PyAny>>,
        kill_signal: Option<&Bound<'_, PyAny>>,
        kill_wait: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyStopResult> {
        let opts = stop_options(grace, signal, kill_signal, false, kill_wait)?;
        let out = self.with(py, |c| c.stop(&opts))?;
        let _ = self.poll(py);
        PyStopResult::new(py, &out)
    }

    /// Kill the whole tree with SIGKILL and wait (up to 5 s) until it is gone; returns the
    /// PIDs that were still alive.
    fn kill_tree(&self, py: Python<'_>) -> PyResult<Vec<u32>> {
        let killed = self.with(py, |c| c.kill_tree())?;
        let _ = self.poll(py);
        Ok(killed)
    }

    /// End whatever is left of the tree (SIGKILL), wait until it is gone, remove its cgroup
    /// leaf and release its watchdog. Returns the PIDs that had to be killed. Closing again
    /// does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<Vec<u32>> {
        let done = py.detach(|| {
            let mut guard = self.lock_child();
            let Some(mut child) = guard.take() else {
                return (None, Ok(Vec::new()));
            };
            // Killed and its exit collected first, so that `returncode` is known afterwards.
            let killed = child.kill_tree();
            let exit = child.try_wait().ok().flatten();
            let closed = child.close();
            (exit, killed.and_then(|k| closed.map(|_| k)))
        });
        if let (Some(e), None) = (done.0, self.known_returncode()) {
            self.note_exit(returncode(&e));
        }
        done.1.py_err()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Leaving the block ends the tree (`close()`); exceptions pass on.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "tether.Child(pid={}, identity='{}', returncode={:?})",
            self.pid,
            self.identity.inner,
            self.known_returncode()
        )
    }
}

/// Start a command as a contained tree and return its `Child` handle, at once.
///
/// Arguments as `run` (`args`, `cwd`, `env`, `timeout`, `kill_after`, `timeout_signal`,
/// `contain`); `stdin`, `stdout` and `stderr` may also be `PIPE`, whose ends become the
/// handle's `stdin`/`stdout`/`stderr` binary files. The time limit is applied while the
/// handle is waited for. Use it in a `with` block, or call `close()`: either ends the tree.
#[pyfunction]
#[pyo3(signature = (
    args, *, cwd=None, env=None, stdin=None, stdout=None, stderr=None, timeout=None,
    kill_after=None, timeout_signal=None, contain=None
))]
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    py: Python<'_>,
    args: &Bound<'_, PyAny>,
    cwd: Option<&Bound<'_, PyAny>>,
    env: Option<&Bound<'_, PyAny>>,
    stdin: Option<&Bound<'_, PyAny>>,
    stdout: Option<&Bound<'_, PyAny>>,
    stderr: Option<&Bound<'_, PyAny>>,
    timeout: Option<&Bound<'_, PyAny>>,
    kill_after: Option<&Bound<'_, PyAny>>,
    timeout_signal: Option<&Bound<'_, PyAny>>,
    contain: Option<&str>,
) -> PyResult<PyChild> {
    let opts = Options {
        cwd,
        env,
        timeout,
        kill_after,
        timeout_signal,
        contain,
    };
    let mut cmd = command(args, &opts)?;
    for (v, what, set) in [
        (
            stdin,
            "stdin",
            Command::stdin as fn(&mut Command, Stdio) -> &mut Command,
        ),
        (stdout, "stdout", Command::stdout),
        (stderr, "stderr", Command::stderr),
    ] {
        if let Some(s) = stdio(v, what, true)? {
            set(&mut cmd, s);
        }
    }
    let mut child = py.detach(|| cmd.spawn()).map_err(|e| spawn_error(py, &e))?;
    let pid = child.pid();
    let identity = PyIdentity::new(child.identity().clone());
    let containment = Py::new(py, PyContainment::from(child.containment()))?;
    let (i, o, e) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    Ok(PyChild {
        inner: Mutex::new(Some(child)),
        waits: Mutex::new(Vec::new()),
        pid,
        identity,
        containment,
        args: args.clone().unbind(),
        stdin: file_object(py, i, "wb")?,
        stdout: file_object(py, o, "rb")?,
        stderr: file_object(py, e, "rb")?,
        returncode: Mutex::new(None),
    })
}

/// A lock whose holder cannot leave its data half-changed (a list of tokens), poisoned or not.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
