//! `tether.Jobs`: background jobs without a daemon (the library's `tether::job`), each held by
//! a small supervisor process (`tether __job-supervisor`) that outlives the caller.
//!
//! A thin layer: the start's options become a `tether.job-query/v1` query
//! ([`tether_report::query::JobQuery`]), whose `to_spec()` holds the defaults and the checks;
//! statuses are converted to `JobStatus` objects (times as Unix seconds, durations as seconds,
//! as elsewhere in the binding).

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple, PyType};
use tether::job::{self, JobStatus, Launcher, RunRecord, StartOutcome, StateDir, Stream};
use tether::ready::Cancel;
use tether::{Error, ErrorKind};
use tether_report::query::JobQuery;

use crate::command::{os_string, text_argv};
use crate::convert;
use crate::error::{invalid, to_py, IntoPyResult};
use crate::identity::PyIdentity;
use crate::interrupt::{run_cancellable, run_cancellable_or_undo};

/// One run of a job's command, as its status's `history` keeps it.
#[pyclass(name = "JobRun", module = "tether", frozen, get_all)]
pub struct PyJobRun {
    /// The PID it ran as.
    pid: u32,
    /// When it started (Unix seconds).
    started_at: Option<f64>,
    /// When it ended (Unix seconds), or None while it runs.
    ended_at: Option<f64>,
    /// Its exit code, when it exited.
    exit_code: Option<i32>,
    /// The signal number that killed it, when one did.
    signal: Option<i32>,
}

#[pymethods]
impl PyJobRun {
    fn __repr__(&self) -> String {
        format!(
            "tether.JobRun(pid={}, exit_code={}, signal={})",
            self.pid,
            opt(self.exit_code),
            opt(self.signal)
        )
    }
}

/// A job's status, as `tether status NAME --json` reports it (`tether.job/v1`), in Python's
/// spelling: times are Unix seconds (float), durations seconds, signals numbers.
#[pyclass(name = "JobStatus", module = "tether", frozen, get_all)]
pub struct PyJobStatus {
    /// The job's name.
    name: String,
    /// This start's unique id (new at each start, kept across restarts).
    id: String,
    /// `"pending"`, `"running"`, `"exited"`, `"failed"`, `"killed"`, `"backoff"` or
    /// `"stopped"`.
    status: &'static str,
    /// The command's PID (of the current run, or the last one).
    pid: Option<u32>,
    /// The command's identity.
    identity: Option<PyIdentity>,
    /// The last run's exit code, when it exited.
    exit_code: Option<i32>,
    /// The signal number that killed the last run, when one did.
    signal: Option<i32>,
    /// When the current (or last) run started (Unix seconds).
    started_at: Option<f64>,
    /// How long the current run has been running, or the last one ran (seconds).
    duration: Option<f64>,
    /// How many times the command was started again.
    restarts: u32,
    /// Why the last run ended, in words (also why the job gave up or was not started).
    last_exit_reason: Option<String>,
    /// Whether the readiness targets were met.
    ready: bool,
    /// When the next start is due, in `"backoff"` (Unix seconds).
    next_start_at: Option<f64>,
    /// The supervisor's identity.
    supervisor: Option<PyIdentity>,
    /// The supervisor was lost (killed) while the job was active; its watchdog ended the
    /// command (the status is then `"killed"`).
    supervisor_lost: bool,
    /// The program and arguments.
    command: Vec<String>,
    /// The restart policy: `"no"`, `"on-failure"` or `"always"`.
    restart: &'static str,
    /// When the status was last written (Unix seconds).
    updated_at: Option<f64>,
    /// The latest runs, oldest first (at most 20).
    history: Vec<Py<PyJobRun>>,
    /// `start`: the job was running already; nothing was started.
    already_running: bool,
    /// `stop`: the job was not running; nothing was signalled.
    already_stopped: bool,
    /// `remove`: its directory (status, logs) was removed.
    removed: bool,
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "None".to_string(), |v| v.to_string())
}

/// An RFC 3339 time of the status file as Unix seconds.
fn time(s: Option<&str>) -> Option<f64> {
    s.and_then(job::parse_rfc3339).map(convert::unix_secs)
}

/// A signal name of the status file (`SIGTERM`) as its number.
fn signal_number(s: Option<&str>) -> Option<i32> {
    s.and_then(|s| s.parse::<tether::signal::Signal>().ok())
        .map(|s| s.number())
}

fn identity(s: Option<&str>) -> Option<PyIdentity> {
    s.and_then(|s| s.parse().ok()).map(PyIdentity::new)
}

impl PyJobStatus {
    fn new(py: Python<'_>, s: &JobStatus) -> PyResult<PyJobStatus> {
        let run = |r: &RunRecord| PyJobRun {
            pid: r.pid,
            started_at: time(Some(&r.started_at)),
            ended_at: time(r.ended_at.as_deref()),
            exit_code: r.exit_code,
            signal: signal_number(r.signal.as_deref()),
        };
        Ok(PyJobStatus {
            name: s.name.clone(),
            id: s.id.clone(),
            status: s.status.as_str(),
            pid: s.pid,
            identity: identity(s.identity.as_deref()),
            exit_code: s.exit_code,
            signal: signal_number(s.signal.as_deref()),
            started_at: time(s.started_at.as_deref()),
            duration: s
                .duration
                .as_deref()
                .and_then(|d| tether::duration::parse_duration(d).ok())
                .map(convert::secs),
            restarts: s.restarts,
            last_exit_reason: s.last_exit_reason.clone(),
            ready: s.ready,
            next_start_at: time(s.next_start_at.as_deref()),
            supervisor: s
                .supervisor
                .as_ref()
                .and_then(|x| identity(Some(&x.identity))),
            supervisor_lost: s.supervisor_lost,
            command: s.command.clone(),
            restart: s.restart.as_str(),
            updated_at: time(Some(&s.updated_at)),
            history: s
                .history
                .iter()
                .map(|r| Py::new(py, run(r)))
                .collect::<PyResult<_>>()?,
            already_running: false,
            already_stopped: false,
            removed: false,
        })
    }
}

#[pymethods]
impl PyJobStatus {
    /// True while the job is active (`pending`, `running` or `backoff`).
    fn __bool__(&self) -> bool {
        matches!(self.status, "pending" | "running" | "backoff")
    }

    fn __repr__(&self) -> String {
        let mut flags = String::new();
        for (set, name) in [
            (self.already_running, "already_running"),
            (self.already_stopped, "already_stopped"),
            (self.removed, "removed"),
        ] {
            if set {
                flags.push_str(&format!(", {name}=True"));
            }
        }
        format!(
            "tether.JobStatus(name='{}', status='{}', pid={}, exit_code={}, restarts={}{flags})",
            self.name,
            self.status,
            opt(self.pid),
            opt(self.exit_code),
            self.restarts
        )
    }
}

/// A path argument (str or os.PathLike) as text, for the query.
fn path_text(v: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    os_string(v)?
        .into_string()
        .map_err(|s| invalid(format!("{what} {s:?} is not valid UTF-8")))
}

/// A duration argument as milliseconds for the query (None stays None: the query's default).
fn millis(v: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<u64>> {
    Ok(convert::opt_duration(v, what)?.map(|d| d.as_millis().min(u64::MAX as u128) as u64))
}

/// One string or a sequence of strings.
fn strings(v: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<String>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(vec![s.to_string()]);
    }
    v.try_iter()
        .and_then(|it| it.map(|x| x?.extract::<String>()).collect())
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a str or a list of str")))
}

/// `backoff`: a `(min, max)` pair of durations, or a string `"100ms..30s"`.
fn backoff(v: &Bound<'_, PyAny>) -> PyResult<(Duration, Duration)> {
    if let Ok(s) = v.cast::<PyString>() {
        return job::parse_backoff(&s.to_string()).py_err();
    }
    let pair = v
        .cast::<PyTuple>()
        .ok()
        .filter(|t| t.len() == 2)
        .ok_or_else(|| {
            PyTypeError::new_err("backoff must be a (min, max) pair of durations or 'MIN..MAX'")
        })?;
    Ok((
        convert::duration(&pair.get_item(0)?, "backoff")?,
        convert::duration(&pair.get_item(1)?, "backoff")?,
    ))
}

/// The state directory and the program of a set of jobs (see the class documentation).
#[pyclass(name = "Jobs", module = "tether", frozen)]
pub struct PyJobs {
    state: StateDir,
    program: Option<PathBuf>,
}

impl PyJobs {
    /// The launcher of supervisors, found now (a missing program is `ProgramNotFound`).
    fn launcher(&self, py: Python<'_>) -> PyResult<Launcher> {
        Launcher::tether(self.program.as_deref()).map_err(|e| program_not_found(py, &e))
    }
}

/// Run `start` (a job's start or restart, cancelled by the token it is given) with the GIL
/// released, interruptible in the main thread as the binding's runs are (`interrupt::run_cancellable`):
/// when a signal handler raises (Ctrl-C), the start is cancelled (the library's supervisor stops
/// the job and the call returns once it has) and the exception propagates. A start that was done
/// before the cancel was seen is undone: the job is stopped, since its caller never hears that it
/// runs (one that was running already is left alone).
fn start_interruptible(
    py: Python<'_>,
    state: &StateDir,
    name: &str,
    start: impl FnOnce(&Cancel) -> tether::Result<StartOutcome> + Send,
) -> PyResult<StartOutcome> {
    let cancel = Cancel::new().py_err()?;
    let token = cancel.clone();
    run_cancellable_or_undo(
        py,
        || cancel.cancel(),
        move || start(&token),
        |done| {
            if let Ok(o) = done {
                if !o.already_running {
                    let _ = job::stop(state, name, job::START_ABORT_GRACE);
                }
            }
        },
    )?
    .py_err()
}

/// The launcher's `NotFound` as `ProgramNotFound` (a `FileNotFoundError`), as `run` raises for
/// a missing program.
fn program_not_found(py: Python<'_>, e: &Error) -> PyErr {
    if e.kind() != ErrorKind::NotFound {
        return to_py(e.clone());
    }
    static NOT_FOUND: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let build = || -> PyResult<PyErr> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("kind", e.kind().as_str())?;
        let class = NOT_FOUND.import(py, "tether._errors", "ProgramNotFound")?;
        Ok(PyErr::from_value(
            class.call((e.message(),), Some(&kwargs))?,
        ))
    };
    build().unwrap_or_else(|err| err)
}

#[pymethods]
impl PyJobs {
    /// Jobs kept in `state_dir` (default: `$TETHER_STATE_DIR`, else the XDG state directory
    /// `~/.local/state/tether`), supervised by the `tether` program `program` (default:
    /// `$TETHER_BIN`, else `tether` in `PATH`; only `start` and `restart` need it).
    #[new]
    #[pyo3(signature = (state_dir=None, program=None))]
    fn new(
        state_dir: Option<&Bound<'_, PyAny>>,
        program: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let dir = state_dir
            .filter(|d| !d.is_none())
            .map(os_string)
            .transpose()?
            .map(PathBuf::from);
        let program = program
            .filter(|p| !p.is_none())
            .map(os_string)
            .transpose()?
            .map(PathBuf::from);
        Ok(PyJobs {
            state: StateDir::resolve(dir.as_deref()).py_err()?,
            program,
        })
    }

    /// The state directory (absolute).
    #[getter]
    fn state_dir(&self) -> PathBuf {
        self.state.path().to_path_buf()
    }

    /// Start job `name` running `argv` under a supervisor of its own, and wait until the
    /// command runs and, with `ready`, is ready. A name that is running already starts nothing:
    /// its status is returned with `already_running` true.
    ///
    /// `restart`: `"no"` (default), `"on-failure"` or `"always"`; `max_restarts` (default: no
    /// limit); `backoff` a `(min, max)` pair of durations or `"100ms..30s"`, or `backoff_min`/
    /// `backoff_max` (default 0.1 s to 30 s); `min_uptime` (default 1 s) resets the backoff;
    /// `env` variables set on top of this process's environment; `cwd` (default: this
    /// process's); `log_max_size` bytes per log before rotation (default 10 MiB) and
    /// `log_keep` rotated files (default 3); `ready` targets as `wait_for` takes them;
    /// `requires` jobs that must be running and ready first; `timeout` for requirements and
    /// readiness (default 30 s: then the job is stopped and `TimeoutExpired` raised);
    /// `pidfile` a PID file written for each run.
    ///
    /// Blocks until the job runs (ready); the GIL is released meanwhile. Ctrl-C in the main
    /// thread cancels the start: the job is stopped, then `KeyboardInterrupt` propagates.
    #[pyo3(signature = (
        name, argv, *, restart=None, max_restarts=None, backoff=None, backoff_min=None,
        backoff_max=None, min_uptime=None, cwd=None, env=None, log_max_size=None,
        log_keep=None, ready=None, requires=None, timeout=None, pidfile=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        py: Python<'_>,
        name: &str,
        argv: &Bound<'_, PyAny>,
        restart: Option<String>,
        max_restarts: Option<&Bound<'_, PyAny>>,
        backoff: Option<&Bound<'_, PyAny>>,
        backoff_min: Option<&Bound<'_, PyAny>>,
        backoff_max: Option<&Bound<'_, PyAny>>,
        min_uptime: Option<&Bound<'_, PyAny>>,
        cwd: Option<&Bound<'_, PyAny>>,
        env: Option<&Bound<'_, PyAny>>,
        log_max_size: Option<&Bound<'_, PyAny>>,
        log_keep: Option<&Bound<'_, PyAny>>,
        ready: Option<&Bound<'_, PyAny>>,
        requires: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
        pidfile: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyJobStatus> {
        let mut q = JobQuery::new(name, text_argv(argv)?);
        q.restart = restart;
        q.max_restarts = convert::opt_count(max_restarts, "max_restarts")?;
        let (mut min, mut max) = (
            millis(backoff_min, "backoff_min")?,
            millis(backoff_max, "backoff_max")?,
        );
        if let Some(b) = backoff.filter(|b| !b.is_none()) {
            if min.is_some() || max.is_some() {
                return Err(PyTypeError::new_err(
                    "give backoff or backoff_min/backoff_max, not both",
                ));
            }
            let (a, b) = self::backoff(b)?;
            (min, max) = (Some(a.as_millis() as u64), Some(b.as_millis() as u64));
        }
        (q.backoff_min_ms, q.backoff_max_ms) = (min, max);
        q.min_uptime_ms = millis(min_uptime, "min_uptime")?;
        q.cwd = cwd
            .filter(|c| !c.is_none())
            .map(|c| path_text(c, "cwd"))
            .transpose()?;
        if let Some(env) = env.filter(|e| !e.is_none()) {
            let env = env
                .cast::<PyDict>()
                .map_err(|_| PyTypeError::new_err("env must be a dict of str to str"))?;
            for (k, v) in env.iter() {
                q.env.insert(k.extract()?, v.extract()?);
            }
        }
        q.log_max_size = log_max_size
            .filter(|s| !s.is_none())
            .map(|s| crate::command::size(s, "log_max_size").map(|n| n as u64))
            .transpose()?;
        q.log_keep = convert::opt_count(log_keep, "log_keep")?;
        q.ready = match ready.filter(|r| !r.is_none()) {
            Some(r) => crate::ready::targets(r)?.1,
            None => Vec::new(),
        };
        q.requires = strings(requires, "requires")?;
        q.timeout_ms = millis(timeout, "timeout")?;
        q.pidfile = pidfile
            .filter(|p| !p.is_none())
            .map(|p| path_text(p, "pidfile"))
            .transpose()?;
        let spec = q.to_spec().py_err()?;
        let launcher = self.launcher(py)?;
        let state = &self.state;
        let out = start_interruptible(py, state, &spec.name, |cancel| {
            job::start_cancellable(state, &spec, &launcher, cancel)
        })?;
        let mut s = PyJobStatus::new(py, &out.status)?;
        s.already_running = out.already_running;
        Ok(s)
    }

    /// The status of job `name` (`NoSuchProcess` when there is none).
    fn status(&self, py: Python<'_>, name: &str) -> PyResult<PyJobStatus> {
        let state = &self.state;
        let s = py.detach(|| job::status(state, name)).py_err()?;
        PyJobStatus::new(py, &s)
    }

    /// The status of every job, by name.
    fn list(&self, py: Python<'_>) -> PyResult<Vec<PyJobStatus>> {
        let state = &self.state;
        let all = py.detach(|| job::list(state)).py_err()?;
        all.iter().map(|s| PyJobStatus::new(py, s)).collect()
    }

    /// Stop job `name`: TERM to its tree, KILL after `grace` (default 10 s) to what is left;
    /// returns its status (`"stopped"`). A job that is not running is a success with
    /// `already_stopped` true. Blocks until the supervisor has finished (GIL released).
    #[pyo3(signature = (name, grace=None))]
    fn stop(
        &self,
        py: Python<'_>,
        name: &str,
        grace: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyJobStatus> {
        let grace = convert::opt_duration(grace, "grace")?.unwrap_or(job::DEFAULT_STOP_GRACE);
        let state = &self.state;
        let out = py.detach(|| job::stop(state, name, grace)).py_err()?;
        let mut s = PyJobStatus::new(py, &out.status)?;
        s.already_stopped = out.already_stopped;
        Ok(s)
    }

    /// Stop job `name` (if it runs, with `grace`) and start it again with the options it was
    /// last started with; returns its new status. Ctrl-C in the main thread cancels the start
    /// as it does `start`'s (the job is stopped, then `KeyboardInterrupt` propagates).
    #[pyo3(signature = (name, grace=None))]
    fn restart(
        &self,
        py: Python<'_>,
        name: &str,
        grace: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyJobStatus> {
        let grace = convert::opt_duration(grace, "grace")?.unwrap_or(job::DEFAULT_STOP_GRACE);
        let launcher = self.launcher(py)?;
        let state = &self.state;
        let out = start_interruptible(py, state, name, |cancel| {
            job::restart_cancellable(state, name, grace, &launcher, cancel)
        })?;
        let mut s = PyJobStatus::new(py, &out.status)?;
        s.already_running = out.already_running;
        Ok(s)
    }

    /// Stop job `name` (if it runs, with `grace`) and remove its directory, logs included;
    /// returns its last status, with `removed` true.
    #[pyo3(signature = (name, grace=None))]
    fn remove(
        &self,
        py: Python<'_>,
        name: &str,
        grace: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyJobStatus> {
        let grace = convert::opt_duration(grace, "grace")?.unwrap_or(job::DEFAULT_STOP_GRACE);
        let state = &self.state;
        let last = py.detach(|| job::remove(state, name, grace)).py_err()?;
        let mut s = PyJobStatus::new(py, &last)?;
        s.removed = true;
        Ok(s)
    }

    /// The last `lines` lines (default 10) of job `name`'s stdout log, or of its stderr log
    /// with `stderr=True`, as bytes (rotated files included when needed).
    #[pyo3(signature = (name, stderr=false, lines=10))]
    fn logs<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        stderr: bool,
        lines: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let stream = if stderr {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let state = &self.state;
        let bytes = py
            .detach(|| job::tail(&job::log_path(state, name, stream)?, lines))
            .py_err()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Follow job `name`'s stdout log (stderr's with `stderr=True`), as `tether logs -f`
    /// does: an iterator of bytes that yields the last `lines` lines (default 10) in one
    /// chunk, if there are any, then what the job writes as it writes it, and ends when the job
    /// is no longer supervised (it stopped or exited). A job that does not exist raises
    /// `NoSuchProcess` here, not at the first `next()`.
    ///
    /// `next()` waits with the GIL released; in the main thread, Ctrl-C ends the follow and
    /// `KeyboardInterrupt` propagates. Use it as a context manager, or call `close()`, to stop
    /// following before the job ends.
    #[pyo3(signature = (name, stderr=false, lines=10))]
    fn follow(
        &self,
        py: Python<'_>,
        name: &str,
        stderr: bool,
        lines: usize,
    ) -> PyResult<PyJobLogFollower> {
        let stream = if stderr {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        PyJobLogFollower::start(py, self.state.clone(), name.to_string(), stream, lines)
    }

    fn __repr__(&self) -> String {
        format!("tether.Jobs(state_dir='{}')", self.state.path().display())
    }
}

/// Chunks (of at most 64 KiB, but the first) waiting for the consumer: past that, the
/// follower blocks, so that a slow consumer holds back the reading rather than memory.
const QUEUED_CHUNKS: usize = 16;

/// `Jobs.follow`'s iterator: a thread runs the library's `job::follow_logs` and sends what it
/// reads over a bounded channel; `next()` takes it from there.
#[pyclass(name = "JobLogFollower", module = "tether", frozen)]
pub struct PyJobLogFollower {
    name: String,
    /// Cancelled to end the follow (`close()`, Ctrl-C, garbage collection): the library polls
    /// it, so the follower thread returns at once.
    stop: Cancel,
    inner: Mutex<FollowState>,
}

/// Only ever locked briefly, with the GIL held: nothing blocks while holding it.
struct FollowState {
    /// None once the follow has ended, and while a `next()` waits on it (`waiting`).
    rx: Option<Receiver<Vec<u8>>>,
    /// A `next()` holds the receiver and waits with the GIL released.
    waiting: bool,
    /// The follower thread, until joined.
    thread: Option<JoinHandle<tether::Result<()>>>,
}

impl PyJobLogFollower {
    /// Open the log (a start error, no such job, is raised here) and start the follower
    /// thread.
    fn start(
        py: Python<'_>,
        state: StateDir,
        name: String,
        stream: Stream,
        lines: usize,
    ) -> PyResult<PyJobLogFollower> {
        let log = py
            .detach(|| job::JobLogFollower::open(&state, &name, stream, lines))
            .py_err()?;
        let (tx, rx) = mpsc::sync_channel(QUEUED_CHUNKS);
        let stop = Cancel::new().py_err()?;
        let thread = std::thread::Builder::new()
            .name("tether-follow".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    // A send fails once the consumer is gone: the follow then ends.
                    log.run(&mut |b| tx.send(b.to_vec()).is_ok(), Some(&stop))
                        .map(|_| ())
                }
            })
            .map_err(|e| {
                let msg = format!("starting a thread to follow the log: {e}");
                to_py(Error::new(ErrorKind::System, msg))
            })?;
        Ok(PyJobLogFollower {
            name,
            stop,
            inner: Mutex::new(FollowState {
                rx: Some(rx),
                waiting: false,
                thread: Some(thread),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, FollowState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The follow is over: drop the channel (a follower blocked on a full one gives up) and
    /// join the thread (the library returns at once after the stop); its error, if it had
    /// one and nobody was told yet.
    fn end(&self, py: Python<'_>) -> PyResult<()> {
        let thread = {
            let mut st = self.state();
            st.rx = None;
            st.thread.take()
        };
        match thread.map(|t| py.detach(|| t.join())) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(to_py(e)),
            Some(Err(_)) => Err(PyRuntimeError::new_err(
                "the log follower's thread panicked",
            )),
        }
    }
}

#[pymethods]
impl PyJobLogFollower {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let rx = {
            let mut st = self.state();
            if st.waiting {
                // As a generator that is already executing.
                return Err(PyRuntimeError::new_err(
                    "another thread is already waiting on this follower",
                ));
            }
            let Some(rx) = st.rx.take() else {
                return Ok(None);
            };
            // What is queued already is taken without a wait (and without a thread).
            match rx.try_recv() {
                Ok(c) => {
                    st.rx = Some(rx);
                    return Ok(Some(PyBytes::new(py, &c)));
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    drop(st);
                    return self.end(py).map(|()| None);
                }
            }
            st.waiting = true;
            rx
        };
        // Ctrl-C cancels the follow: the follower returns at once and drops its end
        // of the channel, which ends the wait; the follow is over then, as a generator is
        // after an exception.
        let stop = &self.stop;
        let got = run_cancellable(
            py,
            || stop.cancel(),
            move || {
                let c = rx.recv().ok();
                (rx, c)
            },
        );
        let mut st = self.state();
        st.waiting = false;
        match got {
            Ok((rx, Some(c))) => {
                // Unless closed meanwhile (from another thread).
                if !self.stop.is_cancelled() {
                    st.rx = Some(rx);
                }
                Ok(Some(PyBytes::new(py, &c)))
            }
            Ok((_, None)) => {
                drop(st);
                self.end(py).map(|()| None)
            }
            Err(e) => {
                drop(st);
                let _ = self.end(py);
                Err(e)
            }
        }
    }

    /// Stop following (the thread is gone when it returns); later `next()` calls raise
    /// `StopIteration`. Closing again does nothing.
    fn close(&self, py: Python<'_>) {
        self.stop.cancel();
        // Errors were for `next()`: a closed follow has nothing more to say.
        let _ = self.end(py);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Leaving the block stops following (`close()`); exceptions pass on.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        let open = if self.state().thread.is_some() {
            "True"
        } else {
            "False"
        };
        format!("tether.JobLogFollower(name='{}', open={open})", self.name)
    }
}

impl Drop for PyJobLogFollower {
    /// Garbage collection stops the follow without joining the thread: that would hold the
    /// GIL while the thread finishes a read, and the thread holds nothing of Python's; it ends
    /// on its own, at once.
    fn drop(&mut self) {
        self.stop.cancel();
        let st = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        st.rx = None;
    }
}
