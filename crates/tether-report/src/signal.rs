//! The reports of `kill` and `signals`.

use serde::Serialize;
use tether::signal::{SendState, Signal};

use crate::Report;

/// `tether kill --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct KillReport {
    /// Signal name without `SIG`.
    pub signal: String,
    #[doc = concat!("Signal number (0 for a probe).")]
    pub signal_number: i32,
    /// Validated only; nothing sent.
    pub dry_run: bool,
    /// Filters matched these processes, but `--yes` was not given: nothing sent.
    pub preview: bool,
    #[doc = concat!("Every target, validated before anything was sent.")]
    pub targets: Vec<SendOutcome>,
}
impl Report for KillReport {
    const SCHEMA: &'static str = "tether.kill/v1";
}

impl KillReport {
    /// The report of a batch: `signal` `None` is signal 0 (a probe), `dry_run` as asked,
    /// `preview` when filters matched but sending was not confirmed.
    pub fn new(
        signal: Option<Signal>,
        dry_run: bool,
        preview: bool,
        targets: &[tether::signal::SendOutcome],
    ) -> Self {
        KillReport {
            signal: signal.map_or("0".into(), |s| s.name()),
            signal_number: signal.map_or(0, |s| s.number()),
            dry_run,
            preview,
            targets: targets.iter().map(SendOutcome::from).collect(),
        }
    }
}

/// What happened to one target of a batch.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct SendOutcome {
    /// The PID (or process group id) signalled.
    pub pid: u32,
    /// Whether the target was a process group.
    pub group: bool,
    /// The identity verified before sending (for groups: of the leader, when there is one).
    pub identity: Option<String>,
    /// `sent`, `would_send` (dry run), `gone` (exited between validation and sending) or
    /// `exists` (signal 0: the process exists; nothing was sent).
    pub outcome: SendState,
}

impl From<&tether::signal::SendOutcome> for SendOutcome {
    fn from(o: &tether::signal::SendOutcome) -> Self {
        SendOutcome {
            pid: o.pid,
            group: o.group,
            identity: o.identity.as_ref().map(ToString::to_string),
            outcome: o.outcome,
        }
    }
}

/// `tether signals --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct SignalsReport {
    #[doc = concat!("Every signal this system knows, with its number and name.")]
    pub signals: Vec<SignalEntry>,
}

/// One signal.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct SignalEntry {
    #[doc = concat!("The signal number.")]
    pub number: i32,
    /// Name without `SIG`, as `kill -l` spells it.
    pub name: String,
}
impl Report for SignalsReport {
    const SCHEMA: &'static str = "tether.signals/v1";
}

impl From<Signal> for SignalEntry {
    fn from(s: Signal) -> Self {
        SignalEntry {
            number: s.number(),
            name: s.name(),
        }
    }
}

impl<'a> FromIterator<&'a Signal> for SignalsReport {
    fn from_iter<I: IntoIterator<Item = &'a Signal>>(it: I) -> Self {
        SignalsReport {
            signals: it.into_iter().copied().map(SignalEntry::from).collect(),
        }
    }
}
