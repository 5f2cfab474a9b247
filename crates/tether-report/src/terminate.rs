//! The report of `stop`.

use serde::Serialize;
use tether::contain::Containment;
use tether::terminate::StopOutcome;

use crate::{whole_ms, Report};

/// `tether stop --json`: what was done to the tree.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct StopReport {
    /// The target PID.
    pub pid: u32,
    /// Its identity, verified before anything was sent.
    pub identity: Option<String>,
    /// The target was gone before anything was done (stopping it is then a success).
    pub already_gone: bool,
    /// How the tree was found and held.
    pub containment: Containment,
    /// `frozen` (cgroup freezer), `stopped` (SIGSTOP) or `none`.
    pub held_by: String,
    /// Graceful signal, without `SIG`.
    pub signal: String,
    /// Kill signal, without `SIG`.
    pub kill_signal: String,
    /// Every PID the graceful signal was delivered to.
    pub signalled: Vec<u32>,
    /// PIDs still alive when the grace ended.
    pub survivors: Vec<u32>,
    /// Whether the kill signal was sent.
    pub escalated: bool,
    /// PIDs still alive when `stop` returned (normally empty).
    pub remaining: Vec<u32>,
    /// Grace period in milliseconds.
    pub grace_ms: u64,
    /// Time taken, in milliseconds.
    pub elapsed_ms: u64,
}

impl Report for StopReport {
    const SCHEMA: &'static str = "tether.stop/v1";
}

impl From<&StopOutcome> for StopReport {
    fn from(o: &StopOutcome) -> Self {
        StopReport {
            pid: o.pid,
            identity: o.identity.as_ref().map(ToString::to_string),
            already_gone: o.already_gone,
            containment: o.containment.clone(),
            held_by: o.held.as_str().into(),
            signal: o.signal.name(),
            kill_signal: o.kill_signal.name(),
            signalled: o.signalled.clone(),
            survivors: o.survivors.clone(),
            escalated: o.escalated,
            remaining: o.remaining.clone(),
            grace_ms: whole_ms(o.grace),
            elapsed_ms: whole_ms(o.elapsed),
        }
    }
}
