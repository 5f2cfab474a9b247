//! The reports of `wait`.

use serde::Serialize;
use tether::wait::{ExitInfo, ExitStatus, WaitManyOutcome, WaitMode, WaitOutcome, WaitState};

use crate::{whole_ms, Report};

/// How exits are observed: a poll on pidfds, never a polling loop.
const MECHANISM: &str = "pidfd";

/// `tether wait --json` with one target: what the wait found. With several targets, one of
/// these per target, under `targets` of `tether.wait-many/v1`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct WaitReport {
    /// The PID waited for.
    pub pid: u32,
    /// Its identity, when it was alive at the start of the wait.
    pub identity: Option<String>,
    /// It existed but was gone before the wait began (an identity whose process had exited, or
    /// a PID whose process exited while it was being identified).
    pub already_gone: bool,
    /// It is gone now.
    pub exited: bool,
    /// The timeout passed while it was still alive.
    pub timed_out: bool,
    /// Its exit status, where the kernel gives it (own children only); `null` otherwise.
    pub exit: Option<ExitInfo>,
    /// Why `exit` is null, when it is.
    pub exit_unknown_reason: Option<String>,
    /// Time spent waiting for it, in milliseconds (until it exited, or until the wait ended).
    pub waited_ms: u64,
    /// How the exit was observed: always `pidfd` (poll on a pidfd; no polling loop).
    pub mechanism: String,
}

impl Report for WaitReport {
    const SCHEMA: &'static str = "tether.wait/v1";
}

impl From<&WaitOutcome> for WaitReport {
    fn from(o: &WaitOutcome) -> Self {
        let unknown = match o.state {
            WaitState::AlreadyGone => Some("the process was gone before the wait began"),
            WaitState::Exited(ExitStatus::NotYetReported) => Some("the exit was not yet reported"),
            WaitState::Exited(ExitStatus::NotAChild) => Some(
                "not a child of this process: the kernel reports exit status only to the parent",
            ),
            _ => None,
        };
        WaitReport {
            pid: o.pid,
            identity: o.identity.as_ref().map(ToString::to_string),
            already_gone: o.state == WaitState::AlreadyGone,
            exited: o.exited(),
            timed_out: o.timed_out(),
            exit: o.exit(),
            exit_unknown_reason: unknown.map(Into::into),
            waited_ms: whole_ms(o.waited),
            mechanism: MECHANISM.into(),
        }
    }
}

/// `tether wait --json` with several targets.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct WaitManyReport {
    /// `all` or `any`.
    pub mode: WaitMode,
    /// One report per target, in the order given.
    pub targets: Vec<WaitReport>,
    /// The wait is over: every target (`all`) or at least one (`any`) has exited.
    pub done: bool,
    /// The timeout passed first.
    pub timed_out: bool,
    /// Time spent waiting, in milliseconds.
    pub waited_ms: u64,
    /// How exits were observed: always `pidfd` (one poll over every pidfd; no polling loop).
    pub mechanism: String,
}

impl Report for WaitManyReport {
    const SCHEMA: &'static str = "tether.wait-many/v1";
}

impl From<&WaitManyOutcome> for WaitManyReport {
    fn from(o: &WaitManyOutcome) -> Self {
        WaitManyReport {
            mode: o.mode,
            targets: o.targets.iter().map(WaitReport::from).collect(),
            done: o.done,
            timed_out: o.timed_out,
            waited_ms: whole_ms(o.waited),
            mechanism: MECHANISM.into(),
        }
    }
}
