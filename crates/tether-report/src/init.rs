//! `tether init`'s report.

use std::ffi::OsString;

use serde::Serialize;
use tether::init::InitOutcome;
use tether::wait::ExitInfo;

use crate::Report;

/// `tether init --json`: what init did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct InitReport {
    /// The command line.
    pub command: Vec<String>,
    /// PID of the command.
    pub pid: u32,
    /// tether init ran as PID 1 of its PID namespace.
    pub pid1: bool,
    /// tether init was a child subreaper (when not PID 1).
    pub subreaper: bool,
    /// Signals went to the command's process group (-g).
    pub group: bool,
    /// How the command ended.
    pub child_exit: ExitInfo,
    /// The exit code of tether init: the command's, or 128+N, after --remap-exit.
    pub exit_code: i32,
    /// Signals received and passed on (delivered).
    pub signals_forwarded: u64,
    /// Orphaned processes reaped while the command ran (not counting the leftovers below).
    pub zombies_reaped: u64,
    /// What the command left running, ended when it exited.
    pub leftovers: Leftovers,
    /// Ending the leftovers failed (the exit code is still the command's).
    pub error: Option<String>,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

/// The leftovers of [`InitReport`].
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Leftovers {
    /// PIDs that were sent TERM.
    pub signalled: Vec<u32>,
    /// PIDs still alive when the grace ended, sent KILL.
    pub killed: Vec<u32>,
    /// PIDs still alive when tether init gave up waiting (normally empty).
    pub remaining: Vec<u32>,
    /// The grace in milliseconds.
    pub grace_ms: u64,
}

impl Report for InitReport {
    const SCHEMA: &'static str = "tether.init/v1";
}

impl InitReport {
    /// The report of one `tether init` run of `command`.
    pub fn new(command: &[OsString], o: &InitOutcome) -> InitReport {
        InitReport {
            command: command
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            pid: o.pid,
            pid1: o.pid1,
            subreaper: o.subreaper,
            group: o.group,
            child_exit: o.exit,
            exit_code: o.exit_code,
            signals_forwarded: o.signals_forwarded,
            zombies_reaped: o.zombies_reaped,
            leftovers: Leftovers {
                signalled: o.leftovers.signalled.clone(),
                killed: if o.leftovers.escalated {
                    o.leftovers.survivors.clone()
                } else {
                    Vec::new()
                },
                remaining: o.leftovers.remaining.clone(),
                grace_ms: o.grace.as_millis() as u64,
            },
            error: o.end_error.as_ref().map(|e| e.message().to_string()),
            elapsed_ms: o.elapsed.as_millis() as u64,
        }
    }
}
