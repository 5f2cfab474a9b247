//! The report of `run` (and the `timeout` link).

use std::ffi::OsString;
use std::time::Duration;

use serde::Serialize;
use tether::command::SpawnError;
use tether::contain::Containment;
use tether::run::{signal_name, GnuExit, RunOutcome};
use tether::wait::ExitInfo;

use crate::{whole_ms, Report};

/// One signal run sent.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct SentSignal {
    /// Name without `SIG`.
    pub signal: String,
    /// `timeout`, `kill_after` or `forwarded`.
    pub reason: String,
    /// Milliseconds after the start.
    pub at_ms: u64,
    /// How many processes it was delivered to.
    pub delivered_to: usize,
}

impl From<&tether::run::SentSignal> for SentSignal {
    fn from(s: &tether::run::SentSignal) -> Self {
        SentSignal {
            signal: signal_name(s.signal),
            reason: s.reason.as_str().into(),
            at_ms: whole_ms(s.at),
            delivered_to: s.delivered_to,
        }
    }
}

/// `tether run --json`: what happened.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct RunReport {
    /// The command line.
    pub command: Vec<String>,
    /// PID of the command, once started.
    pub pid: Option<u32>,
    /// Containment used.
    pub containment: Option<Containment>,
    /// The limit passed.
    pub timed_out: bool,
    /// Signals sent, in order.
    pub signals: Vec<SentSignal>,
    /// SIGKILL had to be sent while the command was alive.
    pub escalated: bool,
    /// How the command ended, when it ran.
    pub child_exit: Option<ExitInfo>,
    /// Processes the command left behind, ended when it exited.
    pub leftovers_killed: Vec<u32>,
    /// The exit code a shell sees (GNU `timeout` semantics).
    pub exit_code: i32,
    /// When set, run passes on a death by this signal (as GNU re-raises it): the process
    /// should end by it, and a shell sees `128 + exit_signal` = `exit_code`.
    pub exit_signal: Option<i32>,
    /// run's own error, for 125/126/127.
    pub error: Option<String>,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

impl Report for RunReport {
    const SCHEMA: &'static str = "tether.run/v1";
}

impl RunReport {
    /// The report of a run that started: its outcome and the exit GNU `timeout` would end with.
    pub fn new(o: &RunOutcome, exit: GnuExit) -> Self {
        RunReport {
            command: command_line(&o.command),
            pid: Some(o.pid),
            containment: Some(o.containment.clone()),
            timed_out: o.timed_out,
            signals: o.signals.iter().map(SentSignal::from).collect(),
            escalated: o.escalated,
            child_exit: o.child_exit,
            leftovers_killed: o.leftovers_killed.clone(),
            exit_code: exit.code,
            exit_signal: exit.signal,
            error: o.error.as_ref().map(|e| e.message().to_string()),
            elapsed_ms: whole_ms(o.elapsed),
        }
    }

    /// The report of a run whose command could not be started (`exit` is 125, 126 or 127),
    /// after `elapsed`.
    pub fn not_started(
        command: &[OsString],
        error: &SpawnError,
        exit: GnuExit,
        elapsed: Duration,
    ) -> Self {
        RunReport {
            command: command_line(command),
            pid: None,
            containment: None,
            timed_out: false,
            signals: Vec::new(),
            escalated: false,
            child_exit: None,
            leftovers_killed: Vec::new(),
            exit_code: exit.code,
            exit_signal: exit.signal,
            error: Some(error.message().to_string()),
            elapsed_ms: whole_ms(elapsed),
        }
    }
}

fn command_line(argv: &[OsString]) -> Vec<String> {
    argv.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}
