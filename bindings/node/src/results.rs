//! The results of waits, stops and runs, in camelCase: the JSON reports of tether-report
//! (`tether.wait/v1`, `tether.stop/v1`), converted field by field, so that the names and
//! meanings are the CLI's.

use napi_derive::napi;
use tether_report::{StopReport, WaitReport};

use crate::json_name;

/// How a process ended.
#[napi(object, object_from_js = false)]
pub struct ExitResult {
    /// Its exit code, when it exited normally.
    pub code: Option<i32>,
    /// The signal that killed it (`'KILL'`, `'TERM'`), when one did.
    pub signal: Option<String>,
    pub core_dumped: bool,
    /// What a shell shows: the exit code, or 128 + the signal number.
    pub shell_code: i32,
}

impl From<tether::wait::ExitInfo> for ExitResult {
    fn from(e: tether::wait::ExitInfo) -> Self {
        ExitResult {
            code: e.code,
            signal: e.signal.map(signal_name),
            core_dumped: e.core_dumped,
            shell_code: e.shell_code(),
        }
    }
}

/// A signal's name without `SIG`, or its number when this system has no name for it.
pub(crate) fn signal_name(n: i32) -> String {
    tether::signal::Signal::from_number(n).map_or_else(|_| n.to_string(), |s| s.name())
}

/// The containment a tree runs in.
#[napi(object, object_from_js = false)]
pub struct ContainmentResult {
    /// `cgroup`, `session`, `process_group` or `none`.
    pub mechanism: String,
    /// `strong`, `weak` or `none`.
    pub strength: String,
    /// The cgroup path (under the cgroup2 mount), for `cgroup`.
    pub cgroup: Option<String>,
    /// The process group the tree started in, when it has its own.
    pub pgid: Option<u32>,
    /// Why a stronger mechanism was not used.
    pub fallback_reason: Option<String>,
}

impl From<tether::contain::Containment> for ContainmentResult {
    fn from(c: tether::contain::Containment) -> Self {
        ContainmentResult {
            mechanism: json_name(c.mechanism),
            strength: json_name(c.strength),
            cgroup: c.cgroup,
            pgid: c.pgid,
            fallback_reason: c.fallback_reason,
        }
    }
}

/// What a wait for one process found (the `tether.wait/v1` report).
#[napi(object, object_from_js = false)]
pub struct WaitResult {
    pub pid: u32,
    /// Its identity string, when it was alive at the start of the wait.
    pub identity: Option<String>,
    /// It was gone before the wait began.
    pub already_gone: bool,
    /// It is gone now.
    pub exited: bool,
    /// The timeout passed while it was still alive.
    pub timed_out: bool,
    /// How it ended, when the kernel tells (only for this process's own children).
    pub exit: Option<ExitResult>,
    /// Why `exit` is null, when it is although the process exited.
    pub exit_unknown_reason: Option<String>,
    pub waited_ms: f64,
}

impl WaitResult {
    pub(crate) fn of(o: &tether::wait::WaitOutcome) -> WaitResult {
        let r = WaitReport::from(o);
        WaitResult {
            pid: r.pid,
            identity: r.identity,
            already_gone: r.already_gone,
            exited: r.exited,
            timed_out: r.timed_out,
            exit: r.exit.map(ExitResult::from),
            exit_unknown_reason: r.exit_unknown_reason,
            waited_ms: r.waited_ms as f64,
        }
    }
}

/// What stopping a tree did (the `tether.stop/v1` report).
#[napi(object, object_from_js = false)]
pub struct StopResult {
    pub pid: u32,
    /// Its identity, verified before anything was sent.
    pub identity: Option<String>,
    /// It was gone before anything was done (stopping it is then a success).
    pub already_gone: bool,
    pub containment: ContainmentResult,
    /// `frozen` (cgroup freezer), `stopped` (SIGSTOP) or `none`.
    pub held_by: String,
    /// The graceful signal, without `SIG`.
    pub signal: String,
    pub kill_signal: String,
    /// Every PID the graceful signal was delivered to.
    pub signalled: Vec<u32>,
    /// PIDs still alive when the grace ended.
    pub survivors: Vec<u32>,
    /// Whether the kill signal was sent.
    pub escalated: bool,
    /// PIDs still alive at the end (normally none).
    pub remaining: Vec<u32>,
    pub grace_ms: f64,
    pub elapsed_ms: f64,
}

impl StopResult {
    pub(crate) fn of(o: &tether::terminate::StopOutcome) -> StopResult {
        let r = StopReport::from(o);
        StopResult {
            pid: r.pid,
            identity: r.identity,
            already_gone: r.already_gone,
            containment: r.containment.into(),
            held_by: r.held_by,
            signal: r.signal,
            kill_signal: r.kill_signal,
            signalled: r.signalled,
            survivors: r.survivors,
            escalated: r.escalated,
            remaining: r.remaining,
            grace_ms: r.grace_ms as f64,
            elapsed_ms: r.elapsed_ms as f64,
        }
    }
}

/// How to stop a tree.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct StopOptions {
    /// The graceful signal (default `'TERM'`).
    #[napi(ts_type = "string | number")]
    pub signal: Option<napi::bindgen_prelude::Either<String, i32>>,
    /// How long the tree gets to exit after it, in milliseconds (default 10000).
    pub grace_ms: Option<f64>,
    /// Sent to what is left when the grace ends (default `'KILL'`).
    #[napi(ts_type = "string | number")]
    pub kill_signal: Option<napi::bindgen_prelude::Either<String, i32>>,
    /// Past the forceable rails (PID 1, this process's ancestors, its own group).
    pub force: Option<bool>,
}

/// A signal option given as a name or a number.
pub(crate) fn signal_option(
    v: napi::bindgen_prelude::Either<String, i32>,
) -> crate::error::Result<tether::signal::Signal> {
    Ok(match v {
        napi::bindgen_prelude::Either::A(s) => s.parse()?,
        napi::bindgen_prelude::Either::B(n) => tether::signal::Signal::from_number(n)?,
    })
}

impl StopOptions {
    pub(crate) fn to_library(&self) -> crate::error::Result<tether::terminate::StopOptions> {
        let mut o = tether::terminate::StopOptions::default();
        if let Some(s) = &self.signal {
            o.signal = signal_option(s.clone())?;
        }
        if let Some(s) = &self.kill_signal {
            o.kill_signal = signal_option(s.clone())?;
        }
        if let Some(g) = self.grace_ms {
            o.grace = crate::args::millis(g, "options.graceMs")?;
        }
        o.force = self.force.unwrap_or(false);
        Ok(o)
    }
}
