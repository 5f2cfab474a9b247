//! The report of `retry`.

use std::ffi::OsString;

use serde::Serialize;
use tether::contain::Containment;
use tether::retry::{Attempt, Ending, RetryOptions, RetryOutcome};
use tether::signal::Signal;

use crate::run::SentSignal;
use crate::{whole_ms, Report};

/// One attempt.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct AttemptReport {
    /// 1 for the first.
    pub number: u32,
    /// PID of the command, when it started.
    pub pid: Option<u32>,
    /// Its code: the exit code, 128+N when signal N killed it, 124 when a limit ended it,
    /// 125/126/127 when it could not be started.
    pub code: i32,
    /// The signal that killed it (name without `SIG`), unless a limit ended it.
    pub signal: Option<String>,
    /// The limit that ended it: `attempt_timeout` or `max_time`.
    pub limit: Option<String>,
    /// Milliseconds after the start of the first attempt.
    pub started_at_ms: u64,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// The pause after it before the next attempt, in milliseconds (none after the last).
    pub delay_ms: Option<u64>,
    /// Signals sent to its tree (limit, KILL, passed on), in order.
    pub signals: Vec<SentSignal>,
    /// Containment used, when it started.
    pub containment: Option<Containment>,
    /// Why it could not be started, or waiting for it failed.
    pub error: Option<String>,
}

impl From<&Attempt> for AttemptReport {
    fn from(a: &Attempt) -> Self {
        let run = a.run.as_ref();
        let error = a.error();
        AttemptReport {
            number: a.number,
            pid: run.map(|r| r.pid),
            code: a.code,
            signal: a.signal().map(signal_name),
            limit: a.limit.map(|l| l.as_str().to_string()),
            started_at_ms: whole_ms(a.started_at),
            duration_ms: whole_ms(a.duration),
            delay_ms: a.delay.map(whole_ms),
            signals: run
                .map(|r| r.signals.iter().map(SentSignal::from).collect())
                .unwrap_or_default(),
            containment: run.map(|r| r.containment.clone()),
            error,
        }
    }
}

/// The policy a retry ran with.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct RetryPolicyReport {
    /// Attempts allowed (0: no limit).
    pub attempts: u32,
    /// The overall deadline in milliseconds, if any.
    pub max_time_ms: Option<u64>,
    /// Each attempt's time limit in milliseconds, if any.
    pub attempt_timeout_ms: Option<u64>,
    /// `fixed`, `linear` or `exponential`.
    pub backoff: String,
    /// The first delay in milliseconds.
    pub delay_ms: u64,
    /// The cap on delays in milliseconds, if any.
    pub max_delay_ms: Option<u64>,
    /// Delays are spread over `[d/2, d]`.
    pub jitter: bool,
    /// Only these codes are retried (`1,6-7,28`), when given.
    pub retry_on: Option<String>,
    /// These codes are never retried, on top of `default_stop_codes`.
    pub stop_on: Option<String>,
    /// The codes not retried unless `retry_on` names them.
    pub default_stop_codes: Vec<i32>,
}

impl From<&RetryOptions> for RetryPolicyReport {
    fn from(o: &RetryOptions) -> Self {
        RetryPolicyReport {
            attempts: o.attempts,
            max_time_ms: o.max_time.map(whole_ms),
            attempt_timeout_ms: o.attempt_timeout.map(whole_ms),
            backoff: o.schedule.backoff.as_str().to_string(),
            delay_ms: whole_ms(o.schedule.delay),
            max_delay_ms: o.schedule.max_delay.map(whole_ms),
            jitter: o.schedule.jitter,
            retry_on: o.retry_on.as_ref().map(ToString::to_string),
            stop_on: (!o.stop_on.is_empty()).then(|| o.stop_on.to_string()),
            default_stop_codes: tether::retry::DEFAULT_STOP_CODES.to_vec(),
        }
    }
}

/// `tether retry --json`: every attempt and why the retries ended.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct RetryReport {
    /// The command line.
    pub command: Vec<String>,
    /// `succeeded`, `exhausted` (every attempt made), `not_retried` (the last code is not
    /// retried), `max_time` (the overall deadline), `interrupted` (a signal was received), `cancelled` (the caller cancelled it).
    pub outcome: String,
    /// With `not_retried`: the rule, `default`, `stop_on` or `not_in_retry_on`.
    pub rule: Option<String>,
    /// With `interrupted`: the signal received (name without `SIG`).
    pub interrupted_by: Option<String>,
    /// With `interrupted` or `cancelled`: `attempt` (while an attempt ran) or `delay`.
    pub interrupted_during: Option<String>,
    /// The exit code: the last attempt's code, or 128+N for signal N received between
    /// attempts.
    pub exit_code: i32,
    /// Every attempt, in order.
    pub attempts: Vec<AttemptReport>,
    /// The policy.
    pub policy: RetryPolicyReport,
    /// Wall time of the whole, in milliseconds.
    pub elapsed_ms: u64,
}

impl Report for RetryReport {
    const SCHEMA: &'static str = "tether.retry/v1";
}

impl RetryReport {
    /// The report of a retry of `command` with `opts`.
    pub fn new(command: &[OsString], opts: &RetryOptions, o: &RetryOutcome) -> Self {
        let (rule, by, during) = match o.ending {
            Ending::NotRetried(rule) => (Some(rule.as_str().to_string()), None, None),
            Ending::Interrupted { signal, during } => {
                (None, Some(signal.name()), Some(during.as_str().to_string()))
            }
            Ending::Cancelled { during } => (None, None, Some(during.as_str().to_string())),
            _ => (None, None, None),
        };
        RetryReport {
            command: command
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            outcome: o.ending.as_str().to_string(),
            rule,
            interrupted_by: by,
            interrupted_during: during,
            exit_code: o.exit_code,
            attempts: o.attempts.iter().map(AttemptReport::from).collect(),
            policy: RetryPolicyReport::from(opts),
            elapsed_ms: whole_ms(o.elapsed),
        }
    }
}

fn signal_name(n: i32) -> String {
    Signal::from_number(n).map_or_else(|_| n.to_string(), Signal::name)
}
