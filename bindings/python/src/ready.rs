//! `wait_for`: readiness waits (ports, URLs, files, log lines, exits, port owners, commands).
//!
//! The wait runs with the GIL released and sleeps until an event or a due check. Ctrl-C: in the
//! main thread, the wait runs on a worker thread while the main thread sleeps until it is done
//! or a signal interrupts it ([`crate::interrupt`]: no periodic wake-up); a handler that raises
//! (`KeyboardInterrupt` by default) cancels the wait through a `ready::Cancel` and the
//! exception propagates. A check already under way (a connect, an HTTP request, a `cmd:` run)
//! finishes first, within its attempt timeout. Other threads cannot receive signals in Python,
//! so their waits run in the calling thread.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyInt, PyString, PyTuple};
use tether::ready::{
    parse_header, parse_method, parse_status_ranges, wait_for_labeled, watch_pidfile, Cancel,
    Outcome, Target, TargetOutcome, WaitForOutcome, WaitOptions, Watch,
};
use tether::ProcessIdentity;

use crate::convert;
use crate::error::{invalid, IntoPyResult};
use crate::identity::PyIdentity;
use crate::interrupt::run_cancellable;

/// The state of one target at the end of a wait.
#[pyclass(name = "TargetResult", module = "tether", frozen, get_all)]
pub struct PyTargetResult {
    /// The target as given.
    target: String,
    /// `"tcp"`, `"http"`, `"file"`, `"unix"`, `"log"`, `"exit"`, `"owner"` or `"cmd"`.
    kind: &'static str,
    /// It is ready (with `reverse`: no longer ready).
    ready: bool,
    /// Seconds from the start of the wait to this target being ready, or None.
    time_to_ready: Option<f64>,
    /// Checks made (connect attempts, requests, file checks, command runs).
    attempts: u64,
    /// Why the last check was not ready, or None.
    last_error: Option<String>,
}

#[pymethods]
impl PyTargetResult {
    fn __repr__(&self) -> String {
        format!(
            "tether.TargetResult(target={:?}, ready={}, attempts={})",
            self.target,
            if self.ready { "True" } else { "False" },
            self.attempts
        )
    }
}

/// What `wait_for` found.
#[pyclass(name = "WaitResult", module = "tether", frozen, get_all)]
pub struct PyWaitResult {
    /// `"ready"`, `"timed_out"`, `"process_died"` or `"failed"`.
    outcome: &'static str,
    /// Whether the targets are ready (with `reverse`: no longer are).
    ready: bool,
    /// Seconds the wait took.
    elapsed: f64,
    /// Ready when any target was (rather than all).
    any: bool,
    /// The wait was for the targets to be no longer ready.
    reverse: bool,
    /// The watched process (its identity string when it was running at the start), or None.
    watched: Option<String>,
    /// One result per target, in the order given.
    targets: Vec<Py<PyTargetResult>>,
}

#[pymethods]
impl PyWaitResult {
    fn __bool__(&self) -> bool {
        self.ready
    }

    fn __repr__(&self) -> String {
        format!(
            "tether.WaitResult(outcome={:?}, elapsed={:.3}, targets={})",
            self.outcome,
            self.elapsed,
            self.targets.len()
        )
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Ready => "ready",
        Outcome::TimedOut => "timed_out",
        Outcome::ProcessDied => "process_died",
        Outcome::Failed => "failed",
        _ => "cancelled",
    }
}

fn target_result(t: &TargetOutcome) -> PyTargetResult {
    PyTargetResult {
        target: t.target.clone(),
        kind: t.kind.as_str(),
        ready: t.ready,
        time_to_ready: t.time_to_ready.map(convert::secs),
        attempts: t.attempts,
        last_error: t.last_error.clone(),
    }
}

fn result(py: Python<'_>, r: &WaitForOutcome) -> PyResult<PyWaitResult> {
    Ok(PyWaitResult {
        outcome: outcome_name(r.outcome),
        ready: r.ready(),
        elapsed: convert::secs(r.elapsed),
        any: r.any,
        reverse: r.reverse,
        watched: r.watched.as_ref().map(Watch::to_string),
        targets: r
            .targets
            .iter()
            .map(|t| Py::new(py, target_result(t)))
            .collect::<PyResult<_>>()?,
    })
}

/// One target as given: a string in the CLI's forms, or an int port (`8080` = `":8080"`).
fn target(v: &Bound<'_, PyAny>) -> PyResult<(Target, String)> {
    let label = if v.is_instance_of::<PyInt>() {
        let (port, _) = convert::port(v)?;
        format!(":{port}")
    } else if let Ok(s) = v.cast::<PyString>() {
        s.to_string()
    } else {
        return Err(PyTypeError::new_err(format!(
            "a target must be a str (':8080', 'http://…', 'file:PATH', …) or an int port, not {}",
            v.get_type().name()?
        )));
    };
    Ok((label.parse().py_err()?, label))
}

/// The targets: one target, or an iterable of them.
pub(crate) fn targets(v: &Bound<'_, PyAny>) -> PyResult<(Vec<Target>, Vec<String>)> {
    let items: Vec<Bound<'_, PyAny>> =
        if v.is_instance_of::<PyString>() || v.is_instance_of::<PyInt>() {
            vec![v.clone()]
        } else if v.is_instance_of::<PyBytes>() {
            // Iterating bytes would give ints, read as ports.
            return Err(PyTypeError::new_err("targets must be str, not bytes"));
        } else {
            v.try_iter()
                .map_err(|_| {
                    PyTypeError::new_err("targets must be a str, an int port, or a list of them")
                })?
                .collect::<PyResult<_>>()?
        };
    let mut ts = Vec::with_capacity(items.len());
    let mut labels = Vec::with_capacity(items.len());
    for item in &items {
        let (t, l) = target(item)?;
        ts.push(t);
        labels.push(l);
    }
    if ts.is_empty() {
        return Err(invalid("no target to wait for"));
    }
    Ok((ts, labels))
}

/// `watch_pid`: a PID, an identity string, or a `ProcessIdentity`.
fn watch(v: &Bound<'_, PyAny>) -> PyResult<Watch> {
    if let Ok(id) = v.cast::<PyIdentity>() {
        return Ok(Watch::Identity(id.get().inner.clone()));
    }
    if v.is_instance_of::<PyInt>() {
        return convert::pid(v).map(Watch::Pid);
    }
    if let Ok(s) = v.cast::<PyString>() {
        let s = s.to_cow()?;
        return if s.contains(':') {
            s.parse::<ProcessIdentity>().py_err().map(Watch::Identity)
        } else {
            tether::signal::rails::parse_pid(&s)
                .py_err()
                .map(Watch::Pid)
        };
    }
    Err(PyTypeError::new_err(
        "watch_pid must be a PID (int), an identity string or a ProcessIdentity",
    ))
}

/// `http_status`: `"200-299,304"`, one int, or a list of ints and `(low, high)` pairs.
fn statuses(v: &Bound<'_, PyAny>) -> PyResult<Vec<(u16, u16)>> {
    if let Ok(s) = v.cast::<PyString>() {
        return parse_status_ranges(&s.to_cow()?).py_err();
    }
    let items: Vec<Bound<'_, PyAny>> = if v.is_instance_of::<PyInt>() {
        vec![v.clone()]
    } else {
        v.try_iter()?.collect::<PyResult<_>>()?
    };
    let mut spec = Vec::new();
    for item in items {
        if let Ok(t) = item.cast::<PyTuple>() {
            let (a, b): (i64, i64) = t.extract()?;
            spec.push(format!("{a}-{b}"));
        } else {
            let n: i64 = item.extract().map_err(|_| {
                PyTypeError::new_err("http_status items must be ints or (low, high) pairs")
            })?;
            spec.push(n.to_string());
        }
    }
    parse_status_ranges(&spec.join(",")).py_err()
}

/// `http_headers`: a dict, or a list of `"Name: value"` strings or `(name, value)` pairs.
fn headers(v: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let header = |name: &str, value: &str| parse_header(&format!("{name}: {value}")).py_err();
    let mut out = Vec::new();
    if let Ok(d) = v.cast::<PyDict>() {
        for (k, val) in d.iter() {
            out.push(header(&k.extract::<String>()?, &val.extract::<String>()?)?);
        }
        return Ok(out);
    }
    for item in v.try_iter()? {
        let item = item?;
        out.push(match item.cast::<PyString>() {
            Ok(s) => parse_header(&s.to_cow()?).py_err()?,
            Err(_) => {
                let (k, val): (String, String) = item.extract()?;
                header(&k, &val)?
            }
        });
    }
    Ok(out)
}

/// Run the wait with the GIL released, interruptible in the main thread as the binding's other
/// blocking calls are ([`run_cancellable`]): when a signal handler raises, the wait is
/// cancelled through its `ready::Cancel` and the exception propagates.
fn run(
    py: Python<'_>,
    targets: Vec<Target>,
    labels: Vec<String>,
    mut opts: WaitOptions,
) -> PyResult<WaitForOutcome> {
    let cancel = Cancel::new().py_err()?;
    opts.cancel = Some(cancel.clone());
    run_cancellable(
        py,
        || cancel.cancel(),
        move || wait_for_labeled(targets, labels, &opts, None),
    )?
    .py_err()
}

/// The message of a wait that did not end ready.
fn message(r: &WaitForOutcome, timeout: Option<Duration>) -> String {
    let pending = r.pending();
    let what = if r.reverse {
        "still ready"
    } else {
        "not ready"
    };
    match r.outcome {
        Outcome::TimedOut => format!(
            "timed out after {:.3} s{}: {what}: {}",
            r.elapsed.as_secs_f64(),
            timeout.map_or(String::new(), |t| format!(
                " (timeout {} s)",
                t.as_secs_f64()
            )),
            pending.join(", ")
        ),
        Outcome::ProcessDied => format!(
            "the watched process {} exited first; {what}: {}",
            r.watched.as_ref().map_or("?".into(), Watch::to_string),
            pending.join(", ")
        ),
        _ => format!("a target can never become ready: {}", pending.join(", ")),
    }
}

/// Wait until targets are ready (all of them; any one with `any=True`; with `reverse=True`,
/// until they are no longer ready).
///
/// A target is a string in `tether wait-for`'s forms, or an int port:
/// `8080` / `":8080"` / `"host:8080"` / `"tcp://host:8080"` (a TCP connect succeeds),
/// `"http://…"` / `"https://…"` (an accepted status, see `http_*`), `"file:PATH"` (exists;
/// `non_empty`, `stable`), `"unix:PATH"` (a Unix socket accepts), `"log:PATH=REGEX"` (a matching
/// line is appended), `"exit:PID"` / `"exit:IDENTITY"` (the process is gone),
/// `"owner:PORT[/udp]=PID"` (the port is held by PID or a descendant), `"cmd:COMMAND"`
/// (`sh -c COMMAND` exits 0).
///
/// Durations are seconds (int, float), `timedelta`s or strings (`"500ms"`, `"2m"`). `timeout`
/// None waits forever. `watch_pid` (a PID, identity string or `ProcessIdentity`) or
/// `watch_pidfile` ends the wait early when that process exits.
///
/// Returns a `WaitResult`. When the targets are not ready and `check` is true (the default),
/// raises `TimeoutExpired` (the timeout passed) or `WaitFailed` (the watched process died, or a
/// target can never become ready), with the `WaitResult` in their `result` attribute;
/// `check=False` returns it instead. Bad targets or options raise `InvalidArgument`.
///
/// The GIL is released while waiting. In the main thread, Ctrl-C (any Python signal handler
/// that raises) ends the wait as soon as the signal comes (no periodic wake-up) and its
/// exception propagates.
#[pyfunction]
#[pyo3(signature = (
    targets, timeout=None, *, any=false, reverse=false, interval=None, attempt_timeout=None,
    watch_pid=None, watch_pidfile=None, http_status=None, http_body=None, http_method=None,
    http_headers=None, insecure=false, non_empty=false, stable=None, check=true
))]
#[allow(clippy::too_many_arguments)]
pub fn wait_for(
    py: Python<'_>,
    targets: &Bound<'_, PyAny>,
    timeout: Option<&Bound<'_, PyAny>>,
    any: bool,
    reverse: bool,
    interval: Option<&Bound<'_, PyAny>>,
    attempt_timeout: Option<&Bound<'_, PyAny>>,
    watch_pid: Option<&Bound<'_, PyAny>>,
    watch_pidfile: Option<PathBuf>,
    http_status: Option<&Bound<'_, PyAny>>,
    http_body: Option<&str>,
    http_method: Option<&str>,
    http_headers: Option<&Bound<'_, PyAny>>,
    insecure: bool,
    non_empty: bool,
    stable: Option<&Bound<'_, PyAny>>,
    check: bool,
) -> PyResult<PyWaitResult> {
    let (targets, labels) = self::targets(targets)?;
    let mut opts = WaitOptions::default();
    opts.timeout = convert::opt_duration(timeout, "timeout")?;
    if let Some(i) = convert::opt_duration(interval, "interval")? {
        if i.is_zero() {
            return Err(invalid("interval must be more than 0"));
        }
        opts.interval = i;
    }
    opts.attempt_timeout = convert::opt_duration(attempt_timeout, "attempt_timeout")?;
    opts.any = any;
    opts.reverse = reverse;
    opts.watch = match (watch_pid.filter(|w| !w.is_none()), watch_pidfile) {
        (Some(_), Some(_)) => {
            return Err(invalid("watch_pid and watch_pidfile exclude each other"))
        }
        (Some(w), None) => Some(watch(w)?),
        (None, Some(path)) => Some(py.detach(|| self::watch_pidfile(&path)).py_err()?),
        (None, None) => None,
    };
    if let Some(s) = http_status.filter(|s| !s.is_none()) {
        opts.http.status = statuses(s)?;
    }
    if let Some(b) = http_body {
        opts.http.body = Some(tether::inspect::compile_regex(b).py_err()?);
    }
    if let Some(m) = http_method {
        opts.http.method = parse_method(m).py_err()?;
    }
    if let Some(h) = http_headers.filter(|h| !h.is_none()) {
        opts.http.headers = headers(h)?;
    }
    opts.http.insecure = insecure;
    opts.file.non_empty = non_empty;
    opts.file.stable = convert::opt_duration(stable, "stable")?;
    let timeout = opts.timeout;
    let r = run(py, targets, labels, opts)?;
    let res = result(py, &r)?;
    if !check || r.ready() {
        return Ok(res);
    }
    failure(py, &r, timeout, res)
}

/// The exception of a wait that did not end ready: `TimeoutExpired` for the timeout,
/// `WaitFailed` otherwise, each with the result in `result`.
fn failure(
    py: Python<'_>,
    r: &WaitForOutcome,
    timeout: Option<Duration>,
    res: PyWaitResult,
) -> PyResult<PyWaitResult> {
    static WAIT_FAILED: PyOnceLock<Py<pyo3::types::PyType>> = PyOnceLock::new();
    let msg = message(r, timeout);
    let kwargs = PyDict::new(py);
    kwargs.set_item("result", Py::new(py, res)?)?;
    if r.outcome == Outcome::TimedOut {
        kwargs.set_item("seconds", timeout.map(convert::secs))?;
        let e = tether::Error::new(tether::ErrorKind::TimedOut, msg);
        return Err(crate::error::exception(py, &e, Some(kwargs)));
    }
    kwargs.set_item("kind", outcome_name(r.outcome))?;
    let cls = WAIT_FAILED.import(py, "tether._errors", "WaitFailed")?;
    Err(PyErr::from_value(cls.call((msg,), Some(&kwargs))?))
}
