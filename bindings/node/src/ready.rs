//! Readiness waits: `waitFor`, cancelled by an `AbortSignal`.
//!
//! A wait runs on a thread of its own and polls a [`Cancel`] eventfd with its other events; the
//! signal's `abort` listener raises it, so an aborted wait stops waiting (and its thread ends)
//! at once, and the promise rejects with `signal.reason`, as `fetch` and the timers do.

use std::collections::HashMap;

use napi::bindgen_prelude::{Either, Object, Unknown};
use napi::Env;
use napi_derive::napi;
use tether::ready::{
    parse_header, parse_method, parse_status_ranges, Outcome, Target, WaitOptions, Watch,
};
use tether_report::WaitForReport;

use crate::args::{self, millis};
use crate::error::{Fail, Result};
use crate::{abort, json_name};

/// Options of HTTP(S) targets.
#[napi(object, object_to_js = false)]
pub struct HttpOptions {
    /// Accepted statuses, e.g. `'200'`, `'200-299,304'` (default 200–399).
    pub status: Option<String>,
    /// The body must match this regular expression.
    pub body: Option<String>,
    /// Skip certificate verification.
    pub insecure: Option<bool>,
    /// `GET` (default), `HEAD`, `POST`, `PUT`, `DELETE`, `OPTIONS` or `PATCH`.
    pub method: Option<String>,
    /// Request headers.
    pub headers: Option<HashMap<String, String>>,
}

/// Options of `file:` targets.
#[napi(object, object_to_js = false)]
pub struct FileOptions {
    /// The file must be non-empty.
    pub non_empty: Option<bool>,
    /// Its size and modification time must not have changed for this many milliseconds.
    pub stable_ms: Option<f64>,
}

/// How to wait.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct WaitForOptions<'a> {
    /// Give up after this many milliseconds: the promise resolves with outcome `timed_out`
    /// (default: no limit).
    pub timeout_ms: Option<f64>,
    /// Backoff cap of polled checks, in milliseconds (default 1000).
    pub interval_ms: Option<f64>,
    /// Longest time one attempt may take (a connect, a request, a `cmd:` run), in milliseconds.
    pub attempt_timeout_ms: Option<f64>,
    /// Ready when any target is (default: all).
    pub any: Option<bool>,
    /// Wait until the targets are no longer ready (a port freed, a file removed, …).
    pub reverse: Option<bool>,
    /// End at once, with outcome `process_died`, if this process exits first (or is not running
    /// when the wait starts): a PID or an identity string.
    pub watch_pid: Option<Either<f64, String>>,
    pub http: Option<HttpOptions>,
    pub file: Option<FileOptions>,
    /// Aborting it ends the wait: the promise rejects with `signal.reason`.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Unknown<'a>>,
}

/// The state of one target.
#[napi(object, object_from_js = false)]
pub struct TargetResult {
    /// The target as given.
    pub target: String,
    /// `tcp`, `http`, `file`, `unix`, `log`, `exit`, `owner` or `cmd`.
    pub kind: String,
    pub ready: bool,
    /// Milliseconds from the start of the wait to this target being ready.
    pub time_to_ready_ms: Option<f64>,
    /// Checks made (connect attempts, requests, file checks, command runs).
    pub attempts: f64,
    /// Why the last check was not ready.
    pub last_error: Option<String>,
}

/// How a wait ended (the `tether.wait-for/v1` report, in camelCase).
#[napi(object, object_from_js = false)]
pub struct WaitForResult {
    /// `ready`, `timed_out`, `process_died` (the watched process exited first) or `failed` (a
    /// target can never become ready).
    pub outcome: String,
    pub ready: bool,
    pub elapsed_ms: f64,
    pub any: bool,
    pub reverse: bool,
    /// The watched process: its identity string, or its PID when it was not running at the start.
    pub watched: Option<String>,
    /// One per target, in the order given.
    pub targets: Vec<TargetResult>,
}

impl From<WaitForReport> for WaitForResult {
    fn from(r: WaitForReport) -> Self {
        WaitForResult {
            outcome: json_name(r.outcome),
            ready: r.ready,
            elapsed_ms: r.elapsed_ms,
            any: r.any,
            reverse: r.reverse,
            watched: r.watched,
            targets: r
                .targets
                .into_iter()
                .map(|t| TargetResult {
                    target: t.target,
                    kind: t.kind,
                    ready: t.ready,
                    time_to_ready_ms: t.time_to_ready_ms,
                    attempts: t.attempts as f64,
                    last_error: t.last_error,
                })
                .collect(),
        }
    }
}

/// A wait, checked and ready to run.
struct Prepared<'a> {
    targets: Vec<Target>,
    labels: Vec<String>,
    opts: WaitOptions,
    signal: Option<Unknown<'a>>,
}

fn prepare<'a>(targets: &Unknown, options: Option<Unknown<'a>>) -> Result<Prepared<'a>> {
    let labels = args::strings(targets, "targets")?;
    let targets = labels
        .iter()
        .map(|t| t.parse::<Target>())
        .collect::<tether::Result<Vec<_>>>()?;
    let o: WaitForOptions<'a> = args::options(options, "options")?.unwrap_or_default();
    let mut opts = WaitOptions::default();
    opts.timeout = o
        .timeout_ms
        .map(|t| millis(t, "options.timeoutMs"))
        .transpose()?;
    if let Some(i) = o.interval_ms {
        opts.interval = millis(i, "options.intervalMs")?;
        if opts.interval.is_zero() {
            return Err(Fail::Range("options.intervalMs must be more than 0".into()));
        }
    }
    opts.attempt_timeout = o
        .attempt_timeout_ms
        .map(|t| millis(t, "options.attemptTimeoutMs"))
        .transpose()?;
    opts.any = o.any.unwrap_or(false);
    opts.reverse = o.reverse.unwrap_or(false);
    opts.watch = match o.watch_pid {
        None => None,
        Some(Either::A(n)) => Some(Watch::Pid(args::pid(n, "options.watchPid")?)),
        Some(Either::B(s)) => Some(match s.parse::<tether::ProcessRef>()? {
            tether::ProcessRef::Identity(id) => Watch::Identity(id),
            r => Watch::Pid(r.pid()),
        }),
    };
    if let Some(h) = o.http {
        if let Some(s) = &h.status {
            opts.http.status = parse_status_ranges(s)?;
        }
        opts.http.body = h
            .body
            .as_deref()
            .map(tether::inspect::compile_regex)
            .transpose()?;
        opts.http.insecure = h.insecure.unwrap_or(false);
        if let Some(m) = &h.method {
            opts.http.method = parse_method(m)?;
        }
        let mut headers: Vec<(String, String)> =
            h.headers.unwrap_or_default().into_iter().collect();
        headers.sort();
        opts.http.headers = headers
            .iter()
            .map(|(k, v)| parse_header(&format!("{k}: {v}")))
            .collect::<tether::Result<_>>()?;
    }
    if let Some(f) = o.file {
        opts.file.non_empty = f.non_empty.unwrap_or(false);
        opts.file.stable = f
            .stable_ms
            .map(|s| millis(s, "options.file.stableMs"))
            .transpose()?;
    }
    Ok(Prepared {
        targets,
        labels,
        opts,
        signal: o.signal,
    })
}

/// Wait until the targets are ready: `host:port`, `:port`, `tcp://host:port`, `http(s)://…`,
/// `file:PATH`, `unix:PATH`, `log:PATH=REGEX`, `exit:PID|IDENTITY`, `owner:PORT[/PROTO]=PID`
/// or `cmd:COMMAND`. Resolves with the outcome (`timed_out`, too, is an outcome, not an error);
/// rejects with `signal.reason` when `options.signal` aborts, and for bad targets or options.
/// The wait runs on a thread of its own: the event loop keeps turning, and libuv's pool is left
/// alone.
#[napi(
    ts_args_type = "targets: string | string[], options?: WaitForOptions",
    ts_return_type = "Promise<WaitForResult>"
)]
pub fn wait_for<'env>(
    env: &'env Env,
    targets: Unknown,
    options: Option<Unknown>,
) -> napi::Result<Object<'env>> {
    abort::spawn(
        env,
        "tether-wait-for",
        |cancel| {
            let mut p = prepare(&targets, options)?;
            // Every wait can be cancelled: by its signal, or when this environment goes away.
            p.opts.cancel = Some(cancel.clone());
            let Prepared {
                targets,
                labels,
                opts,
                signal,
            } = p;
            Ok(((targets, labels, opts), signal))
        },
        |(targets, labels, opts), _| {
            Ok(tether::ready::wait_for_labeled(
                targets, labels, &opts, None,
            )?)
        },
        |outcome, _| {
            outcome
                .as_ref()
                .is_ok_and(|o| o.outcome == Outcome::Cancelled)
        },
        |outcome| Ok(WaitForResult::from(WaitForReport::from(&outcome?))),
    )
}
