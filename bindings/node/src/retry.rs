//! `retry`: run a command again until it succeeds, over the library's `tether::retry::run`.
//!
//! The options become a `tether.retry-query/v1` query, whose `to_retry()` holds the defaults
//! and checks (codes never retried by default, the delay schedule); the outcome is the
//! `tether.retry/v1` report in camelCase. The retry runs on a thread of its own; an
//! `AbortSignal` raises its canceller (`RetryOptions::cancel`), which ends the running
//! attempt's whole tree (or the wait between attempts) at once, and the promise then rejects
//! with `signal.reason`, as `run` does.

use std::collections::HashMap;
use std::ffi::OsString;

use napi::bindgen_prelude::{Either, Object, Unknown};
use napi::Env;
use napi_derive::napi;
use tether::retry::Ending;
use tether_report::query::{RetryQuery, StdioQuery};
use tether_report::RetryReport;

use crate::abort;
use crate::args;
use crate::error::{Fail, Result};

/// How to retry a command. Durations are in milliseconds (whole ones: a fraction is rounded
/// up).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct RetryOptions<'a> {
    /// Attempts at most, the first included (default 3; 0: no limit).
    pub attempts: Option<f64>,
    /// The overall deadline, delays included (default: none). An attempt still running when
    /// it passes is ended (code 124) and nothing more is retried.
    pub max_time_ms: Option<f64>,
    /// How delays grow: `'fixed'`, `'linear'` or `'exponential'` (default).
    #[napi(ts_type = "'fixed' | 'linear' | 'exponential'")]
    pub backoff: Option<String>,
    /// The delay before the first retry (default 1000).
    pub delay_ms: Option<f64>,
    /// The cap on each delay (default: none).
    pub max_delay_ms: Option<f64>,
    /// Spread each delay at random over `[d/2, d]`.
    pub jitter: Option<bool>,
    /// Retry only these exit codes (`'1,6-7,28'` or `[1, 6, 7, 28]`); they override the codes
    /// never retried by default (2, 126, 127, 130, 143).
    #[napi(ts_type = "string | number[]")]
    pub retry_on: Option<Either<String, Vec<f64>>>,
    /// Never retry these exit codes, on top of the defaults.
    #[napi(ts_type = "string | number[]")]
    pub stop_on: Option<Either<String, Vec<f64>>>,
    /// Each attempt's time limit (default: none), under GNU `timeout`'s contract: a timed-out
    /// attempt has code 124.
    pub attempt_timeout_ms: Option<f64>,
    /// KILL an attempt still running this long after the timeout signal (default 5000; 0:
    /// never).
    pub kill_after_ms: Option<f64>,
    /// Sent when an attempt's limit passes (default `'TERM'`).
    #[napi(ts_type = "string | number")]
    pub timeout_signal: Option<Either<String, i32>>,
    /// Working directory (default: this process's).
    pub cwd: Option<String>,
    /// The whole environment of the command, as `run` and `child_process` take it (default:
    /// this process's).
    pub env: Option<HashMap<String, String>>,
    /// `'auto'` (default), `'cgroup'`, `'group'` or `'none'`.
    pub contain: Option<String>,
    /// Where the command's stdin, stdout and stderr go: `'inherit'` (default) or `'ignore'`;
    /// one value for all three, or a list of three. A retry does not capture.
    #[napi(ts_type = "'inherit' | 'ignore' | Array<'inherit' | 'ignore'>")]
    pub stdio: Option<Either<String, Vec<String>>>,
    /// Aborting it ends the running attempt's whole tree (or the wait between attempts) at
    /// once; nothing more is retried and the promise rejects with `signal.reason`.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Unknown<'a>>,
}

/// One attempt.
#[napi(object, object_from_js = false)]
pub struct RetryAttempt {
    /// 1 for the first.
    pub number: u32,
    /// The command's PID, when it started.
    pub pid: Option<u32>,
    /// Its code: the exit code, 128 + N when signal N killed it, 124 when a limit ended it,
    /// 125/126/127 when it could not be started.
    pub code: i32,
    /// The signal that killed it (`'KILL'`), unless a limit ended it.
    pub signal: Option<String>,
    /// The limit that ended it: `'attempt_timeout'` or `'max_time'`.
    pub limit: Option<String>,
    /// A limit ended it (`limit` is set; `code` is 124).
    pub timed_out: bool,
    /// When it started, in milliseconds after the start of the first attempt.
    pub started_at_ms: f64,
    /// How long it ran, in milliseconds.
    pub duration_ms: f64,
    /// The pause after it before the next attempt, in milliseconds (none after the last).
    pub delay_ms: Option<f64>,
    /// Why it could not be started, or waiting for it failed.
    pub error: Option<String>,
}

/// How a retry went (the `tether.retry/v1` report, in camelCase).
#[napi(object, object_from_js = false)]
pub struct RetryResult {
    /// `'succeeded'`, `'exhausted'` (every attempt made), `'not_retried'` (the last code is not
    /// retried) or `'max_time'` (the overall deadline).
    pub outcome: String,
    /// With `not_retried`: the rule, `'default'`, `'stop_on'` or `'not_in_retry_on'`.
    pub rule: Option<String>,
    /// The last attempt's code (0 on success).
    pub exit_code: i32,
    /// Every attempt, in order.
    pub attempts: Vec<RetryAttempt>,
    /// Wall time of the whole, in milliseconds.
    pub elapsed_ms: f64,
    /// The command line.
    pub command: Vec<String>,
}

impl From<RetryReport> for RetryResult {
    fn from(r: RetryReport) -> Self {
        RetryResult {
            outcome: r.outcome,
            rule: r.rule,
            exit_code: r.exit_code,
            attempts: r
                .attempts
                .into_iter()
                .map(|a| RetryAttempt {
                    number: a.number,
                    pid: a.pid,
                    code: a.code,
                    signal: a.signal,
                    timed_out: a.limit.is_some(),
                    limit: a.limit,
                    started_at_ms: a.started_at_ms as f64,
                    duration_ms: a.duration_ms as f64,
                    delay_ms: a.delay_ms.map(|d| d as f64),
                    error: a.error,
                })
                .collect(),
            elapsed_ms: r.elapsed_ms as f64,
            command: r.command,
        }
    }
}

/// A code list as the query takes it: the string as given, or the numbers joined by commas.
fn codes(v: Option<Either<String, Vec<f64>>>, what: &str) -> Result<Option<String>> {
    Ok(match v {
        None => None,
        Some(Either::A(s)) => Some(s),
        Some(Either::B(list)) => Some(
            list.iter()
                .map(|&n| args::integer(n, what).map(|c| c.to_string()))
                .collect::<Result<Vec<_>>>()?
                .join(","),
        ),
    })
}

fn stdio(name: &str) -> Result<StdioQuery> {
    match name {
        "inherit" => Ok(StdioQuery::Inherit),
        "ignore" => Ok(StdioQuery::Null),
        other => Err(Fail::Value(format!(
            "options.stdio must be 'inherit' or 'ignore'; received '{other}'"
        ))),
    }
}

/// The query of a retry, and the signal to listen to.
fn query<'a>(
    argv: &Unknown,
    options: Option<Unknown<'a>>,
) -> Result<(RetryQuery, Option<Unknown<'a>>)> {
    let argv = args::strings(argv, "argv")?;
    let o: RetryOptions<'a> = args::options(options, "options")?.unwrap_or_default();
    let ms = |v: Option<f64>, what: &str| v.map(|v| args::whole_millis(v, what)).transpose();
    let mut q = RetryQuery::new(argv);
    let c = &mut q.command;
    c.cwd = o.cwd;
    if let Some(env) = o.env {
        c.env_clear = true;
        c.env = env.into_iter().collect();
    }
    c.contain = o.contain;
    c.timeout_signal = o.timeout_signal.map(|s| match s {
        Either::A(name) => name,
        Either::B(n) => n.to_string(),
    });
    if let Some(s) = o.stdio {
        let names = match s {
            Either::A(one) => vec![one.clone(), one.clone(), one],
            Either::B(list) if list.len() == 3 => list,
            Either::B(_) => {
                return Err(Fail::Value(
                    "options.stdio must be one value or a list of three".into(),
                ))
            }
        };
        c.stdin = Some(stdio(&names[0])?);
        c.stdout = Some(stdio(&names[1])?);
        c.stderr = Some(stdio(&names[2])?);
    }
    q.attempts = o
        .attempts
        .map(|n| args::count(n, "options.attempts"))
        .transpose()?;
    q.max_time_ms = ms(o.max_time_ms, "options.maxTimeMs")?;
    q.backoff = o.backoff;
    q.delay_ms = ms(o.delay_ms, "options.delayMs")?;
    q.max_delay_ms = ms(o.max_delay_ms, "options.maxDelayMs")?;
    q.jitter = o.jitter.unwrap_or(false);
    q.retry_on = codes(o.retry_on, "options.retryOn")?;
    q.stop_on = codes(o.stop_on, "options.stopOn")?;
    q.attempt_timeout_ms = ms(o.attempt_timeout_ms, "options.attemptTimeoutMs")?;
    q.kill_after_ms = ms(o.kill_after_ms, "options.killAfterMs")?;
    Ok((q, o.signal))
}

/// Run `argv` until it succeeds, as `tether retry` does: each attempt a contained tree run to
/// its end (nothing it started outlives it), its output inherited (or discarded with `stdio:
/// 'ignore'`), failures retried after a growing delay unless their code means "do not retry"
/// (2, 126, 127, 130, 143 by default). Resolves with every attempt and why the retries ended; a
/// retry that ends with a failing code is a result, not an error. Rejects for bad options
/// (`InvalidArgumentError`, `TypeError`, `RangeError`) and, with `signal.reason`, when
/// `options.signal` aborts (the running attempt's tree is ended first). The retry runs on a
/// thread of its own: the event loop keeps turning.
#[napi(
    ts_args_type = "argv: string[], options?: RetryOptions",
    ts_return_type = "Promise<RetryResult>"
)]
pub fn retry<'env>(
    env: &'env Env,
    argv: Unknown,
    options: Option<Unknown>,
) -> napi::Result<Object<'env>> {
    abort::spawn(
        env,
        "tether-retry",
        |cancel| {
            let (q, signal) = query(&argv, options)?;
            let (cmd, mut opts) = q.to_retry()?;
            // Every retry can be cancelled: by its signal, or when this environment goes away.
            opts.cancel = Some(cancel.clone());
            let command: Vec<OsString> = q.command.argv.iter().map(OsString::from).collect();
            Ok(((cmd, opts, command), signal))
        },
        |(mut cmd, opts, command), _| {
            let outcome = tether::retry::run(&mut cmd, &opts, &mut |_| {})?;
            Ok((RetryReport::new(&command, &opts, &outcome), outcome.ending))
        },
        |result, _| matches!(result, Ok((_, Ending::Cancelled { .. }))),
        |result| Ok(RetryResult::from(result?.0)),
    )
}
