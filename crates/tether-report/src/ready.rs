//! The report of `wait-for`.

use serde::Serialize;
use tether::ready::{Outcome, TargetOutcome, WaitForOutcome};

use crate::{fractional_ms, Report};

/// The state of one target.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct TargetResult {
    /// The target as given.
    pub target: String,
    #[doc = concat!("The kind of target (`tcp`, `http`, `file`, `unix`, `log`, `exit`, `owner`, `cmd`).")]
    pub kind: String,
    #[doc = concat!("Whether the target was ready (not ready, with `reverse`) when the wait ended.")]
    pub ready: bool,
    /// Milliseconds from the start of the wait to this target being ready.
    pub time_to_ready_ms: Option<f64>,
    /// Checks made (connect attempts, requests, file checks, command runs).
    pub attempts: u64,
    /// Why the last check was not ready.
    pub last_error: Option<String>,
}

impl From<&TargetOutcome> for TargetResult {
    fn from(t: &TargetOutcome) -> Self {
        TargetResult {
            target: t.target.clone(),
            kind: t.kind.as_str().into(),
            ready: t.ready,
            time_to_ready_ms: t.time_to_ready.map(fractional_ms),
            attempts: t.attempts,
            last_error: t.last_error.clone(),
        }
    }
}

/// `tether wait-for --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct WaitForReport {
    #[doc = concat!("How the wait ended.")]
    pub outcome: Outcome,
    #[doc = concat!("Whether the wait succeeded: every target ready (or any, with `any`).")]
    pub ready: bool,
    #[doc = concat!("Milliseconds from the start of the wait to its end.")]
    pub elapsed_ms: f64,
    #[doc = concat!("Ready when any target was (otherwise all).")]
    pub any: bool,
    #[doc = concat!("Waited for the targets to become not ready.")]
    pub reverse: bool,
    /// The process whose death ends the wait: its identity string, or its PID when it did not
    /// exist at the start.
    pub watched: Option<String>,
    #[doc = concat!("Each target's state, in the order given.")]
    pub targets: Vec<TargetResult>,
}
impl Report for WaitForReport {
    const SCHEMA: &'static str = "tether.wait-for/v1";
}

impl From<&WaitForOutcome> for WaitForReport {
    fn from(o: &WaitForOutcome) -> Self {
        WaitForReport {
            outcome: o.outcome,
            ready: o.ready(),
            elapsed_ms: fractional_ms(o.elapsed),
            any: o.any,
            reverse: o.reverse,
            watched: o.watched.as_ref().map(ToString::to_string),
            targets: o.targets.iter().map(TargetResult::from).collect(),
        }
    }
}
