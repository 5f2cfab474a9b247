//! `tether.retry`: run a command again until it succeeds (the library's `tether::retry::run`).
//!
//! A thin layer: the keyword arguments become a `tether.retry-query/v1` query
//! ([`tether_report::query::RetryQuery`]), whose `to_retry()` holds the defaults and the
//! checks; the streams given as descriptors or files are set on the command it returns. Ctrl-C
//! in the main thread cancels the retry through `RetryOptions::cancel` (the running attempt's
//! tree ends at once) and raises `KeyboardInterrupt`, as `run` does.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyString, PyType};
use tether::command::Stdio;
use tether::ready::Cancel;
use tether::retry::{Attempt, Ending, RetryOutcome};
use tether_report::query::{RetryQuery, StdioQuery};

use crate::command::{os_string, stdio, text_argv};
use crate::convert;
use crate::error::{invalid, IntoPyResult};
use crate::interrupt::run_cancellable;

/// One attempt of a retry.
#[pyclass(name = "RetryAttempt", module = "tether", frozen, get_all)]
pub struct PyRetryAttempt {
    /// 1 for the first.
    number: u32,
    /// The command's PID, when it started.
    pid: Option<u32>,
    /// Its code: the exit code, 128 + N when signal N killed it, 124 when a time limit ended
    /// it, 125/126/127 when it could not be started.
    code: i32,
    /// The signal number that killed it, unless a limit ended it.
    signal: Option<i32>,
    /// The limit that ended it: `"attempt_timeout"` or `"max_time"`, else None.
    limit: Option<&'static str>,
    /// A time limit ended it (`limit` is not None; `code` is 124).
    timed_out: bool,
    /// When it started, in seconds after the start of the first attempt.
    started_at: f64,
    /// How long it took, in seconds.
    duration: f64,
    /// The pause after it before the next attempt, in seconds (None after the last).
    delay: Option<f64>,
    /// Why it could not be started, or waiting for it failed.
    error: Option<String>,
}

impl From<&Attempt> for PyRetryAttempt {
    fn from(a: &Attempt) -> Self {
        let run = a.run.as_ref();
        PyRetryAttempt {
            number: a.number,
            pid: run.map(|r| r.pid),
            code: a.code,
            signal: a.signal(),
            limit: a.limit.map(|l| l.as_str()),
            timed_out: a.limit.is_some(),
            started_at: convert::secs(a.started_at),
            duration: convert::secs(a.duration),
            delay: a.delay.map(convert::secs),
            error: a.error(),
        }
    }
}

#[pymethods]
impl PyRetryAttempt {
    fn __repr__(&self) -> String {
        format!(
            "tether.RetryAttempt(number={}, code={}, timed_out={}, duration={:.3})",
            self.number,
            self.code,
            if self.timed_out { "True" } else { "False" },
            self.duration
        )
    }
}

/// What `retry` returns: every attempt and why the retries ended. A failing last attempt is
/// not an exception (as `subprocess.run` without `check`): look at `outcome` and `returncode`,
/// or call `check_returncode()`.
#[pyclass(name = "RetryResult", module = "tether", frozen, get_all)]
pub struct PyRetryResult {
    /// The command line, as given.
    args: Py<PyAny>,
    /// `"succeeded"`, `"exhausted"` (every attempt made), `"not_retried"` (the last code is
    /// not retried: see `rule`) or `"max_time"` (the overall deadline); `"cancelled"` is
    /// the library's word for a cancelled retry, which Ctrl-C turns into `KeyboardInterrupt`.
    outcome: &'static str,
    /// With `"not_retried"`: `"default"`, `"stop_on"` or `"not_in_retry_on"`.
    rule: Option<&'static str>,
    /// With `"cancelled"`: `"attempt"` (while an attempt ran) or `"delay"`.
    cancelled_during: Option<&'static str>,
    /// The last attempt's code (see `RetryAttempt.code`).
    returncode: i32,
    /// The same as `returncode`.
    exit_code: i32,
    /// Every attempt, in order.
    attempts: Vec<Py<PyRetryAttempt>>,
    /// Wall time of the whole, in seconds.
    elapsed: f64,
}

impl PyRetryResult {
    fn new(py: Python<'_>, args: Py<PyAny>, o: &RetryOutcome) -> PyResult<Self> {
        let (rule, during) = match o.ending {
            Ending::NotRetried(rule) => (Some(rule.as_str()), None),
            Ending::Cancelled { during } => (None, Some(during.as_str())),
            _ => (None, None),
        };
        Ok(PyRetryResult {
            args,
            outcome: o.ending.as_str(),
            rule,
            cancelled_during: during,
            returncode: o.exit_code,
            exit_code: o.exit_code,
            attempts: o
                .attempts
                .iter()
                .map(|a| Py::new(py, PyRetryAttempt::from(a)))
                .collect::<PyResult<_>>()?,
            elapsed: convert::secs(o.elapsed),
        })
    }
}

#[pymethods]
impl PyRetryResult {
    /// True when an attempt succeeded.
    fn __bool__(&self) -> bool {
        self.outcome == "succeeded"
    }

    /// Raise `subprocess.CalledProcessError` when `returncode` is not 0.
    fn check_returncode(&self, py: Python<'_>) -> PyResult<()> {
        if self.returncode == 0 {
            return Ok(());
        }
        static CALLED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let e = CALLED
            .import(py, "subprocess", "CalledProcessError")?
            .call1((self.returncode, &self.args))?;
        Err(PyErr::from_value(e))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "tether.RetryResult(args={}, outcome='{}', returncode={}, attempts={})",
            self.args.bind(py).repr()?,
            self.outcome,
            self.returncode,
            self.attempts.len()
        ))
    }
}

/// Duration in milliseconds for the query (None stays None: the query's default).
fn millis(v: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<u64>> {
    Ok(convert::opt_duration(v, what)?.map(|d| d.as_millis().min(u64::MAX as u128) as u64))
}

/// A code list: `"1,6-7,28"`, one int, or an iterable of ints (the library parses it).
fn codes(v: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<String>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Some(s.to_string()));
    }
    let bad = || {
        PyTypeError::new_err(format!(
            "{what} must be a str such as '1,6-7', an int or a list of ints"
        ))
    };
    let ints: Vec<i64> = if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
        vec![convert::int_saturating(v)?]
    } else {
        v.try_iter()
            .map_err(|_| bad())?
            .map(|x| {
                let x = x?;
                if x.is_instance_of::<PyBool>() || !x.is_instance_of::<PyInt>() {
                    return Err(bad());
                }
                convert::int_saturating(&x)
            })
            .collect::<PyResult<_>>()?
    };
    if ints.is_empty() {
        return Err(invalid(format!("{what} is empty: name at least one code")));
    }
    Ok(Some(
        ints.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(","),
    ))
}

/// A stream of the retried command: None (inherited), `DEVNULL`, a descriptor or a file
/// object (`PIPE` is refused: a retry does not capture).
fn stream(
    v: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<(Option<StdioQuery>, Option<Stdio>)> {
    if let Some(v) = v.filter(|v| v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>()) {
        if convert::int_saturating(v)? == -1 {
            return Err(PyValueError::new_err(format!(
                "{what}=PIPE: retry does not capture output (use run() or spawn())"
            )));
        }
    }
    Ok(match stdio(v, what, false)? {
        None => (None, None),
        Some(Stdio::Null) => (Some(StdioQuery::Null), None),
        Some(s) => (None, Some(s)),
    })
}

/// Run a command until it succeeds, as `tether retry` does, and return a `RetryResult`.
///
/// `attempts` at most (default 3; 0: no limit); `max_time` bounds the whole, delays included;
/// `backoff` is `"fixed"`, `"linear"` or `"exponential"` (default) from `delay` (default 1 s),
/// capped at `max_delay`, spread over `[d/2, d]` with `jitter`. Exit codes 2, 126, 127, 130
/// and 143 are not retried unless `retry_on` names them (`"1,6-7,28"`, an int or a list of
/// ints: then only those are retried); `stop_on` adds codes never retried. Each attempt is a
/// contained tree; with `attempt_timeout` it runs under GNU `timeout`'s contract (TERM, KILL
/// after `kill_after`, default 5 s) and counts as code 124.
///
/// The output is not captured: `stdin`, `stdout` and `stderr` are inherited unless given
/// (`DEVNULL`, a descriptor or a file object). `env` is the whole environment (as in `run`);
/// `cwd` the working directory. Bad options raise `InvalidArgument` (a `ValueError`) or
/// `TypeError`; a command that cannot be started is an attempt (code 127, 126 or 125).
///
/// The GIL is released throughout; Ctrl-C in the main thread ends the running attempt's tree
/// (or the wait between attempts) at once and raises `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (
    args, *, attempts=None, max_time=None, backoff=None, delay=None, max_delay=None,
    jitter=false, retry_on=None, stop_on=None, attempt_timeout=None, kill_after=None,
    cwd=None, env=None, stdin=None, stdout=None, stderr=None
))]
#[allow(clippy::too_many_arguments)]
pub fn retry(
    py: Python<'_>,
    args: &Bound<'_, PyAny>,
    attempts: Option<&Bound<'_, PyAny>>,
    max_time: Option<&Bound<'_, PyAny>>,
    backoff: Option<String>,
    delay: Option<&Bound<'_, PyAny>>,
    max_delay: Option<&Bound<'_, PyAny>>,
    jitter: bool,
    retry_on: Option<&Bound<'_, PyAny>>,
    stop_on: Option<&Bound<'_, PyAny>>,
    attempt_timeout: Option<&Bound<'_, PyAny>>,
    kill_after: Option<&Bound<'_, PyAny>>,
    cwd: Option<&Bound<'_, PyAny>>,
    env: Option<&Bound<'_, PyAny>>,
    stdin: Option<&Bound<'_, PyAny>>,
    stdout: Option<&Bound<'_, PyAny>>,
    stderr: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyRetryResult> {
    let mut q = RetryQuery::new(text_argv(args)?);
    q.attempts = convert::opt_count(attempts, "attempts")?;
    q.max_time_ms = millis(max_time, "max_time")?;
    q.backoff = backoff;
    q.delay_ms = millis(delay, "delay")?;
    q.max_delay_ms = millis(max_delay, "max_delay")?;
    q.jitter = jitter;
    q.retry_on = codes(retry_on, "retry_on")?;
    q.stop_on = codes(stop_on, "stop_on")?;
    q.attempt_timeout_ms = millis(attempt_timeout, "attempt_timeout")?;
    q.kill_after_ms = millis(kill_after, "kill_after")?;
    if let Some(cwd) = cwd.filter(|c| !c.is_none()) {
        q.command.cwd = Some(
            os_string(cwd)?
                .into_string()
                .map_err(|s| invalid(format!("cwd {s:?} is not valid UTF-8")))?,
        );
    }
    if let Some(env) = env.filter(|e| !e.is_none()) {
        // As run() and subprocess: the mapping is the whole environment.
        let env = env
            .cast::<PyDict>()
            .map_err(|_| PyTypeError::new_err("env must be a dict (the whole environment)"))?;
        q.command.env_clear = true;
        for (k, v) in env.iter() {
            q.command.env.insert(k.extract()?, v.extract()?);
        }
    }
    let streams = [
        stream(stdin, "stdin")?,
        stream(stdout, "stdout")?,
        stream(stderr, "stderr")?,
    ];
    (q.command.stdin, q.command.stdout, q.command.stderr) =
        (streams[0].0, streams[1].0, streams[2].0);
    let (mut cmd, mut opts) = q.to_retry().py_err()?;
    let [i, o, e] = streams.map(|s| s.1);
    if let Some(s) = i {
        cmd.stdin(s);
    }
    if let Some(s) = o {
        cmd.stdout(s);
    }
    if let Some(s) = e {
        cmd.stderr(s);
    }
    let cancel = Cancel::new().py_err()?;
    opts.cancel = Some(cancel.clone());
    let outcome = run_cancellable(
        py,
        || cancel.cancel(),
        move || tether::retry::run(&mut cmd, &opts, &mut |_| {}),
    )?
    .py_err()?;
    PyRetryResult::new(py, args.clone().unbind(), &outcome)
}
