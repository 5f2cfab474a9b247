//! Run a command again until it succeeds: a policy (how many attempts, an overall deadline,
//! which exit codes are worth another attempt), a delay schedule (fixed, linear or exponential,
//! capped, optionally jittered; pure and testable, [`Schedule`]), and the attempt loop
//! ([`run`]), which reports what happens through [`RetryEvent`]s and returns a
//! [`RetryOutcome`]. It never prints.
//!
//! Each attempt is a contained [`Command`] run to its end ([`Command::status`]): nothing an
//! attempt started outlives it. With an attempt timeout, an attempt runs under the GNU
//! `timeout` contract (the timeout signal, then KILL after `kill_after`) and counts as exit
//! code 124, a failure that may be retried. The overall deadline (`max_time`) bounds the whole,
//! delays included: no delay is started that would end past it, and an attempt still running
//! when it passes is ended like a timed-out one (124), after which nothing is retried.
//!
//! Which failures are retried ([`RetryOptions::decide`]), in this order:
//! 1. a code in `stop_on` is never retried;
//! 2. a code in `retry_on` is retried (also one of the defaults below);
//! 3. when `retry_on` is given, no other code is retried;
//! 4. the codes that mean "do not retry", [`DEFAULT_STOP_CODES`] (2 usage, 126 not executable,
//!    127 not found, 130 interrupted (SIGINT), 143 terminated (SIGTERM)), are not retried;
//! 5. every other non-zero code is.
//!
//! An attempt killed by signal N has code 128 + N (SIGINT: 130, SIGTERM: 143, so neither is
//! retried by default); one that could not be started has 127 (not found), 126 (not
//! executable) or 125 (any other failure to start, retried by default).
//!
//! With [`RetryOptions::handle_signals`] (for a single-threaded front end such as `tether
//! retry`), TERM, INT, HUP and QUIT received while an attempt runs are passed on to its tree
//! ([`Command::forward_signals`], KILL follows after `kill_after`) and received while waiting
//! between attempts end the wait; either way nothing more is retried
//! ([`Ending::Interrupted`]).
//!
//! With [`RetryOptions::cancel`] (for a binding's context or abort signal), cancelling ends the
//! running attempt's whole tree, or the wait between attempts, at once; nothing more is retried
//! ([`Ending::Cancelled`]).
//!
//! ```
//! use std::time::Duration;
//! use tether::retry::{self, Backoff, Ending, RetryOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let mark = dir.path().join("second");
//! // Fails (exit 7) the first time, succeeds the second.
//! let script = format!("[ -e {0} ] || {{ touch {0}; exit 7; }}", mark.display());
//! let mut opts = RetryOptions::default();
//! opts.attempts = 3;
//! opts.schedule.backoff = Backoff::Fixed;
//! opts.schedule.delay = Duration::from_millis(10);
//! let mut cmd = tether::Command::new("sh");
//! cmd.args(["-c", &script]);
//! let outcome = retry::run(&mut cmd, &opts, &mut |_| {})?;
//! assert_eq!(outcome.ending, Ending::Succeeded);
//! assert_eq!(outcome.attempts.len(), 2);
//! assert_eq!(outcome.attempts[0].code, 7);
//! assert_eq!(outcome.exit_code, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::os::fd::AsFd;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::command::{Command, SpawnError};
use crate::error::{Error, Result};
use crate::ready::Cancel;
use crate::run::{gnu_spawn_exit, RunEvent, RunOutcome, SendReason, EXIT_TIMEDOUT};
use crate::signal::Signal;
use crate::sys::os::supervise::{self as sysproc, SignalFd};

/// Exit codes that mean "do not retry" unless `retry_on` names them: 2 (usage error), 126 (not
/// executable), 127 (not found), 130 (interrupted, SIGINT), 143 (terminated, SIGTERM).
pub const DEFAULT_STOP_CODES: [i32; 5] = [2, 126, 127, 130, 143];

/// The signals that stop retrying when received ([`RetryOptions::handle_signals`]).
pub const STOP_SIGNALS: [Signal; 4] = [Signal::TERM, Signal::INT, Signal::HUP, Signal::QUIT];

/// How the delay grows from one retry to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backoff {
    /// The same delay every time.
    Fixed,
    /// `delay × n` before the n-th retry.
    Linear,
    /// `delay × 2^(n-1)` before the n-th retry.
    Exponential,
}

impl Backoff {
    /// The name: `fixed`, `linear`, `exponential`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backoff::Fixed => "fixed",
            Backoff::Linear => "linear",
            Backoff::Exponential => "exponential",
        }
    }
}

impl FromStr for Backoff {
    type Err = Error;
    fn from_str(s: &str) -> Result<Backoff> {
        match s {
            "fixed" => Ok(Backoff::Fixed),
            "linear" => Ok(Backoff::Linear),
            "exponential" => Ok(Backoff::Exponential),
            _ => Err(Error::invalid(format!(
                "unknown backoff '{s}': use fixed, linear or exponential"
            ))),
        }
    }
}

/// The delays between attempts: a pure function of the retry number (and, with jitter, of a
/// random fraction), so that it can be checked exactly. Also usable on its own (restart
/// delays of a supervisor).
///
/// ```
/// use std::time::Duration;
/// use tether::retry::{Backoff, Schedule};
/// let mut s = Schedule::default(); // exponential from 1 s, no cap, no jitter
/// s.delay = Duration::from_millis(100);
/// s.max_delay = Some(Duration::from_millis(500));
/// assert_eq!(s.backoff, Backoff::Exponential);
/// let ms: Vec<u128> = (1..=5).map(|n| s.base_delay(n).as_millis()).collect();
/// assert_eq!(ms, [100, 200, 400, 500, 500]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Schedule {
    /// How the delay grows.
    pub backoff: Backoff,
    /// The first delay (and the step of linear growth).
    pub delay: Duration,
    /// No delay is longer (before jitter). `None`: no cap.
    pub max_delay: Option<Duration>,
    /// Spread each delay at random over its upper half (`[d/2, d]`), so that many clients
    /// retrying at once do not retry in step; the lower half keeps a minimum pause.
    pub jitter: bool,
}

impl Default for Schedule {
    /// Exponential from 1 s, no cap, no jitter.
    fn default() -> Schedule {
        Schedule {
            backoff: Backoff::Exponential,
            delay: Duration::from_secs(1),
            max_delay: None,
            jitter: false,
        }
    }
}

impl Schedule {
    /// The delay before retry `n` (1 = after the first failed attempt), capped by `max_delay`,
    /// without jitter. Saturates instead of overflowing.
    pub fn base_delay(&self, n: u32) -> Duration {
        let n = n.max(1);
        let d = match self.backoff {
            Backoff::Fixed => self.delay,
            Backoff::Linear => self.delay.saturating_mul(n),
            Backoff::Exponential => {
                let factor = 1u32.checked_shl(n - 1).filter(|_| n <= 32);
                factor.map_or(Duration::MAX, |f| self.delay.saturating_mul(f))
            }
        };
        self.max_delay.map_or(d, |m| d.min(m))
    }

    /// The range the delay before retry `n` falls in: `[base, base]` without jitter,
    /// `[base/2, base]` with it.
    pub fn bounds(&self, n: u32) -> (Duration, Duration) {
        let base = self.base_delay(n);
        if self.jitter {
            (base / 2, base)
        } else {
            (base, base)
        }
    }

    /// The delay before retry `n` for a random fraction `r` in `[0, 1]` (ignored without
    /// jitter): `lower + r × (upper − lower)` of [`Schedule::bounds`].
    pub fn delay_for(&self, n: u32, r: f64) -> Duration {
        let (lo, hi) = self.bounds(n);
        lo + (hi - lo).mul_f64(r.clamp(0.0, 1.0))
    }

    /// The delay before retry `n`, with a fresh random fraction when jittered.
    pub fn next_delay(&self, n: u32) -> Duration {
        let r = if self.jitter { fastrand::f64() } else { 0.0 };
        self.delay_for(n, r)
    }
}

/// A set of exit codes (1–255), written as a list of codes and ranges: `1,6-7,28`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeSet {
    /// Inclusive ranges, as given.
    ranges: Vec<(i32, i32)>,
}

impl CodeSet {
    /// The empty set.
    pub fn new() -> CodeSet {
        CodeSet::default()
    }

    /// Whether `code` is in the set.
    pub fn contains(&self, code: i32) -> bool {
        self.ranges.iter().any(|&(a, b)| (a..=b).contains(&code))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Add the codes of `other`.
    pub fn extend(&mut self, other: &CodeSet) {
        self.ranges.extend_from_slice(&other.ranges);
    }

    /// The ranges, as given (`(7, 7)` for a single code).
    pub fn ranges(&self) -> &[(i32, i32)] {
        &self.ranges
    }

    /// The first code in both sets, if any.
    pub fn overlap(&self, other: &CodeSet) -> Option<i32> {
        (1..=255).find(|&c| self.contains(c) && other.contains(c))
    }
}

impl std::fmt::Display for CodeSet {
    /// `1,6-7,28`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .ranges
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for CodeSet {
    type Err = Error;
    /// `1,6-7,28`: codes 1–255 (0 is success, never a failure), ranges low-high.
    fn from_str(s: &str) -> Result<CodeSet> {
        let bad = |why: &str| {
            Error::invalid(format!(
                "invalid exit code list '{s}': {why} (codes 1-255, e.g. 1,6-7,28)"
            ))
        };
        let code = |t: &str| -> Result<i32> {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(&format!("'{t}' is not a number")));
            }
            match t.parse::<i32>() {
                Ok(c @ 1..=255) => Ok(c),
                _ => Err(bad(&format!("{t} is out of range"))),
            }
        };
        let mut ranges = Vec::new();
        for part in s.split(',') {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (code(a)?, code(b)?),
                None => {
                    let c = code(part)?;
                    (c, c)
                }
            };
            if a > b {
                return Err(bad(&format!("range {a}-{b} is backwards")));
            }
            ranges.push((a, b));
        }
        Ok(CodeSet { ranges })
    }
}

/// Why a failed attempt is not retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopRule {
    /// The code is one of [`DEFAULT_STOP_CODES`].
    Default,
    /// The code is in `stop_on`.
    StopOn,
    /// `retry_on` was given and does not hold the code.
    NotRetryOn,
}

impl StopRule {
    /// The name used in reports: `default`, `stop_on`, `not_in_retry_on`.
    pub fn as_str(self) -> &'static str {
        match self {
            StopRule::Default => "default",
            StopRule::StopOn => "stop_on",
            StopRule::NotRetryOn => "not_in_retry_on",
        }
    }
}

/// What a code means to the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// 0: done.
    Success,
    /// A failure worth another attempt.
    Retry,
    /// A failure not to retry.
    Stop(StopRule),
}

/// What to retry, how often and how long to wait.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryOptions {
    /// At most this many attempts (the first included); 0: no limit (until success, a code
    /// not retried, or `max_time`). Default 3.
    pub attempts: u32,
    /// The overall deadline, delays included. `None`: none.
    pub max_time: Option<Duration>,
    /// The delays.
    pub schedule: Schedule,
    /// Retry only these codes (they override [`DEFAULT_STOP_CODES`]). `None`: every code but
    /// the stop codes.
    pub retry_on: Option<CodeSet>,
    /// Never retry these codes (on top of the defaults; they win over `retry_on`).
    pub stop_on: CodeSet,
    /// Each attempt's time limit. `None`: none.
    pub attempt_timeout: Option<Duration>,
    /// KILL follows the timeout signal (or a signal passed on) after this long, when the
    /// attempt's tree is still running. Default 5 s; zero: never.
    pub kill_after: Duration,
    /// Pass TERM, INT, HUP and QUIT on to the running attempt and stop retrying when one is
    /// received (see the module documentation). Process-wide effects as
    /// [`Command::forward_signals`]; for single-threaded front ends. Default off.
    pub handle_signals: bool,
    /// End the retries early from another thread: the running attempt's tree is ended (as
    /// [`Command::cancel`] does) or the wait between attempts cut short, and the outcome is
    /// [`Ending::Cancelled`]. Default none.
    pub cancel: Option<Cancel>,
}

/// The default of [`RetryOptions::kill_after`].
pub const DEFAULT_KILL_AFTER: Duration = Duration::from_secs(5);

impl Default for RetryOptions {
    fn default() -> RetryOptions {
        RetryOptions {
            attempts: 3,
            max_time: None,
            schedule: Schedule::default(),
            retry_on: None,
            stop_on: CodeSet::new(),
            attempt_timeout: None,
            kill_after: DEFAULT_KILL_AFTER,
            handle_signals: false,
            cancel: None,
        }
    }
}

impl RetryOptions {
    /// Check the options: a code both in `retry_on` and in `stop_on` is an error.
    pub fn validate(&self) -> Result<()> {
        if let Some(c) = self
            .retry_on
            .as_ref()
            .and_then(|r| r.overlap(&self.stop_on))
        {
            return Err(Error::invalid(format!(
                "exit code {c} is both retried and never retried: list it once"
            )));
        }
        Ok(())
    }

    /// What an attempt's code means (see the module documentation for the order of rules).
    pub fn decide(&self, code: i32) -> Verdict {
        if code == 0 {
            return Verdict::Success;
        }
        if self.stop_on.contains(code) {
            return Verdict::Stop(StopRule::StopOn);
        }
        match &self.retry_on {
            Some(r) if r.contains(code) => Verdict::Retry,
            Some(_) => Verdict::Stop(StopRule::NotRetryOn),
            None if DEFAULT_STOP_CODES.contains(&code) => Verdict::Stop(StopRule::Default),
            None => Verdict::Retry,
        }
    }
}

/// Which limit ended an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// The attempt's own time limit.
    AttemptTimeout,
    /// The overall deadline.
    MaxTime,
}

impl Limit {
    /// The name used in reports: `attempt_timeout`, `max_time`.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::AttemptTimeout => "attempt_timeout",
            Limit::MaxTime => "max_time",
        }
    }
}

/// One attempt.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Attempt {
    /// 1 for the first.
    pub number: u32,
    /// Its code: the exit code, 128 + N when signal N killed it, 124 when a limit ended it,
    /// 125/126/127 when it could not be started, 125 when waiting for it failed.
    pub code: i32,
    /// The run, when the command started.
    pub run: Option<RunOutcome>,
    /// Why it could not be started.
    pub spawn_error: Option<SpawnError>,
    /// The limit that ended it, if one did.
    pub limit: Option<Limit>,
    /// When it started, after the start of the first.
    pub started_at: Duration,
    /// How long it took.
    pub duration: Duration,
    /// The pause after it, before the next attempt (`None` when none followed; the full
    /// planned pause even if a signal cut it short).
    pub delay: Option<Duration>,
}

impl Attempt {
    fn from_run(number: u32, started_at: Duration, run: RunOutcome, limit: Limit) -> Attempt {
        let code = if run.timed_out {
            EXIT_TIMEDOUT
        } else {
            run.child_exit
                .map_or(crate::run::EXIT_CANCELED, |e| e.shell_code())
        };
        Attempt {
            number,
            code,
            limit: run.timed_out.then_some(limit),
            started_at,
            duration: run.elapsed,
            run: Some(run),
            spawn_error: None,
            delay: None,
        }
    }

    fn not_started(number: u32, started_at: Duration, e: SpawnError, took: Duration) -> Attempt {
        Attempt {
            number,
            code: gnu_spawn_exit(&e).code,
            run: None,
            spawn_error: Some(e),
            limit: None,
            started_at,
            duration: took,
            delay: None,
        }
    }

    /// Why it could not be started, or why waiting for it failed, in words.
    pub fn error(&self) -> Option<String> {
        self.spawn_error
            .as_ref()
            .map(|e| e.message().to_string())
            .or_else(|| {
                self.run
                    .as_ref()?
                    .error
                    .as_ref()
                    .map(|e| e.message().to_string())
            })
    }

    /// The signal that killed it, if one did.
    pub fn signal(&self) -> Option<i32> {
        if self.limit.is_some() {
            return None;
        }
        self.run.as_ref()?.child_exit?.signal
    }

    /// The stop signal this process received and passed on while the attempt ran.
    fn received(&self) -> Option<Signal> {
        self.run.as_ref()?.signals.iter().find_map(|s| {
            s.signal
                .filter(|sig| s.reason == SendReason::Forwarded && STOP_SIGNALS.contains(sig))
        })
    }
}

/// When a signal stopped the retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// While an attempt ran (it was passed on to the attempt).
    Attempt,
    /// While waiting between attempts.
    Delay,
}

impl Phase {
    /// The name used in reports: `attempt`, `delay`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Attempt => "attempt",
            Phase::Delay => "delay",
        }
    }
}

/// Why the retries ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ending {
    /// An attempt succeeded.
    Succeeded,
    /// Every attempt allowed was made.
    Exhausted,
    /// The last attempt's code is not retried.
    NotRetried(StopRule),
    /// The overall deadline: it ended the last attempt, or the next delay would have crossed
    /// it.
    MaxTime,
    /// A stop signal was received ([`RetryOptions::handle_signals`]).
    Interrupted {
        /// The signal.
        signal: Signal,
        /// When.
        during: Phase,
    },
    /// [`RetryOptions::cancel`] was cancelled.
    Cancelled {
        /// When.
        during: Phase,
    },
}

impl Ending {
    /// The name used in reports: `succeeded`, `exhausted`, `not_retried`, `max_time`,
    /// `interrupted`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Succeeded => "succeeded",
            Ending::Exhausted => "exhausted",
            Ending::NotRetried(_) => "not_retried",
            Ending::MaxTime => "max_time",
            Ending::Interrupted { .. } => "interrupted",
            Ending::Cancelled { .. } => "cancelled",
        }
    }
}

/// What the retries did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryOutcome {
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// Why it ended.
    pub ending: Ending,
    /// The exit code to end with: the last attempt's code, or 128 + N when signal N was
    /// received while waiting between attempts.
    pub exit_code: i32,
    /// Wall time of the whole.
    pub elapsed: Duration,
}

/// What the loop reports as it goes.
#[derive(Debug)]
#[non_exhaustive]
pub enum RetryEvent<'a> {
    /// An attempt's command has started.
    Started {
        /// Its number (1 for the first).
        number: u32,
        /// Its PID.
        pid: u32,
    },
    /// An attempt has ended; `next` says what follows.
    Ended {
        /// The attempt.
        attempt: &'a Attempt,
        /// What follows.
        next: Next,
    },
    /// A stop signal was received while waiting between attempts.
    Interrupted {
        /// The signal.
        signal: Signal,
    },
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Another attempt after this pause.
    Retry(Duration),
    /// Nothing: the retries end so.
    End(Ending),
}

/// Run `cmd` until it succeeds, as `opts` says, calling `on_event` as attempts start and end.
/// The command's time limit and kill-after period are set for each attempt (overwriting what
/// `cmd` had), and signal forwarding with [`RetryOptions::handle_signals`].
///
/// Errors: the options are invalid, or (with `handle_signals`) the signals cannot be watched
/// between attempts. A command that cannot be started is an attempt (codes 125–127).
pub fn run(
    cmd: &mut Command,
    opts: &RetryOptions,
    on_event: &mut dyn FnMut(&RetryEvent<'_>),
) -> Result<RetryOutcome> {
    opts.validate()?;
    let began = Instant::now();
    let deadline = opts.max_time.and_then(|m| began.checked_add(m));
    cmd.kill_after(opts.kill_after)
        .forward_signals(opts.handle_signals);
    if let Some(c) = &opts.cancel {
        cmd.cancel(c.clone());
    }
    let cancelled = || opts.cancel.as_ref().is_some_and(Cancel::is_cancelled);
    let mut attempts: Vec<Attempt> = Vec::new();
    let finish = |attempts: Vec<Attempt>, ending: Ending, exit_code: i32| RetryOutcome {
        attempts,
        ending,
        exit_code,
        elapsed: began.elapsed(),
    };
    loop {
        let number = attempts.len() as u32 + 1;
        let attempt = run_attempt(cmd, opts, number, began, deadline, on_event);
        let next = match attempt.received() {
            Some(signal) => Next::End(Ending::Interrupted {
                signal,
                during: Phase::Attempt,
            }),
            None if cancelled() => Next::End(Ending::Cancelled {
                during: Phase::Attempt,
            }),
            None => plan(opts, &attempt, deadline),
        };
        let mut attempt = attempt;
        if let Next::Retry(d) = next {
            attempt.delay = Some(d);
        }
        on_event(&RetryEvent::Ended {
            attempt: &attempt,
            next,
        });
        let code = attempt.code;
        attempts.push(attempt);
        let delay = match next {
            Next::End(ending) => return Ok(finish(attempts, ending, code)),
            Next::Retry(d) => d,
        };
        match pause(delay, opts.handle_signals, opts.cancel.as_ref())? {
            Pause::Over => {}
            Pause::Signal(signal) => {
                on_event(&RetryEvent::Interrupted { signal });
                let ending = Ending::Interrupted {
                    signal,
                    during: Phase::Delay,
                };
                return Ok(finish(attempts, ending, 128 + signal.number()));
            }
            Pause::Cancelled => {
                let ending = Ending::Cancelled {
                    during: Phase::Delay,
                };
                return Ok(finish(attempts, ending, code));
            }
        }
    }
}

/// Run attempt `number`, under the attempt timeout and what is left of the overall deadline.
fn run_attempt(
    cmd: &mut Command,
    opts: &RetryOptions,
    number: u32,
    began: Instant,
    deadline: Option<Instant>,
    on_event: &mut dyn FnMut(&RetryEvent<'_>),
) -> Attempt {
    let start = Instant::now();
    let started_at = start.duration_since(began);
    let left = deadline.map(|d| d.saturating_duration_since(start));
    // The nearer limit decides; at a tie the overall deadline does (nothing follows it).
    let (limit, which) = match (opts.attempt_timeout, left) {
        (Some(t), Some(l)) if t < l => (Some(t), Limit::AttemptTimeout),
        (_, Some(l)) => (Some(l.max(Duration::from_nanos(1))), Limit::MaxTime),
        (Some(t), None) => (Some(t), Limit::AttemptTimeout),
        (None, None) => (None, Limit::AttemptTimeout),
    };
    cmd.timeout(limit.unwrap_or(Duration::ZERO));
    let status = cmd.status_with_events(&mut |ev| {
        if let RunEvent::Started { pid } = ev {
            on_event(&RetryEvent::Started { number, pid: *pid });
        }
    });
    match status {
        Ok(run) => Attempt::from_run(number, started_at, run, which),
        Err(e) => Attempt::not_started(number, started_at, e, start.elapsed()),
    }
}

/// What follows a finished attempt that no signal interrupted.
fn plan(opts: &RetryOptions, attempt: &Attempt, deadline: Option<Instant>) -> Next {
    if attempt.limit == Some(Limit::MaxTime) {
        return Next::End(Ending::MaxTime);
    }
    match opts.decide(attempt.code) {
        Verdict::Success => return Next::End(Ending::Succeeded),
        Verdict::Stop(rule) => return Next::End(Ending::NotRetried(rule)),
        Verdict::Retry => {}
    }
    if opts.attempts != 0 && attempt.number >= opts.attempts {
        return Next::End(Ending::Exhausted);
    }
    let delay = opts.schedule.next_delay(attempt.number);
    // No delay that would end at or past the deadline: the next attempt would have no time.
    let crosses =
        deadline.is_some_and(|d| Instant::now().checked_add(delay).is_none_or(|t| t >= d));
    if crosses {
        return Next::End(Ending::MaxTime);
    }
    Next::Retry(delay)
}

/// How a pause between attempts ended.
enum Pause {
    /// It lasted its time.
    Over,
    /// A stop signal came (with `handle_signals`).
    Signal(Signal),
    /// The canceller was cancelled.
    Cancelled,
}

/// Wait `delay` between attempts, watching the stop signals (with `handle_signals`) and the
/// canceller, whichever comes first.
fn pause(delay: Duration, handle_signals: bool, cancel: Option<&Cancel>) -> Result<Pause> {
    // A signal the caller ignored stays ignored (as while an attempt runs).
    let sigfd = if handle_signals {
        let watched: Vec<i32> = STOP_SIGNALS
            .iter()
            .map(|s| s.number())
            .filter(|&s| !sysproc::is_ignored(s))
            .collect();
        Some(
            SignalFd::new(&watched)
                .map_err(|e| Error::from_io("watching signals between attempts", &e))?,
        )
    } else {
        None
    };
    let until = Instant::now().checked_add(delay);
    let got = loop {
        if let Some((signo, _)) = sigfd.as_ref().and_then(SignalFd::read) {
            if let Ok(signal) = Signal::from_number(signo) {
                break Pause::Signal(signal);
            }
        }
        if cancel.is_some_and(Cancel::is_cancelled) {
            break Pause::Cancelled;
        }
        if until.is_some_and(|u| Instant::now() >= u) {
            break Pause::Over;
        }
        let fds: Vec<_> = sigfd
            .as_ref()
            .map(|f| f.as_fd())
            .into_iter()
            .chain(cancel.map(|c| c.as_fd()))
            .map(|fd| (fd, false))
            .collect();
        sysproc::poll_fds(&fds, until)
            .map_err(|e| Error::from_io("waiting between attempts", &e))?;
    };
    // Left blocked: one arriving from now on is read (and passed on) by the next attempt, which
    // then ends the retries; before the first attempt nothing was blocked.
    if let Some(f) = sigfd {
        f.keep_blocked();
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn schedule(backoff: Backoff, delay: u64, max: Option<u64>, jitter: bool) -> Schedule {
        Schedule {
            backoff,
            delay: ms(delay),
            max_delay: max.map(ms),
            jitter,
        }
    }

    fn delays(s: &Schedule, n: u32) -> Vec<u128> {
        (1..=n).map(|i| s.base_delay(i).as_millis()).collect()
    }

    #[test]
    fn fixed_linear_exponential_schedules() {
        let fixed = schedule(Backoff::Fixed, 250, None, false);
        assert_eq!(delays(&fixed, 4), [250, 250, 250, 250]);
        let linear = schedule(Backoff::Linear, 250, None, false);
        assert_eq!(delays(&linear, 4), [250, 500, 750, 1000]);
        let exp = schedule(Backoff::Exponential, 250, None, false);
        assert_eq!(delays(&exp, 5), [250, 500, 1000, 2000, 4000]);
    }

    #[test]
    fn max_delay_caps_every_backoff() {
        let linear = schedule(Backoff::Linear, 300, Some(700), false);
        assert_eq!(delays(&linear, 4), [300, 600, 700, 700]);
        let exp = schedule(Backoff::Exponential, 100, Some(350), false);
        assert_eq!(delays(&exp, 5), [100, 200, 350, 350, 350]);
        let fixed = schedule(Backoff::Fixed, 900, Some(400), false);
        assert_eq!(delays(&fixed, 2), [400, 400]);
    }

    #[test]
    fn huge_retry_numbers_saturate() {
        let exp = schedule(Backoff::Exponential, 1000, None, false);
        assert_eq!(exp.base_delay(33), Duration::MAX);
        assert_eq!(exp.base_delay(u32::MAX), Duration::MAX);
        let capped = schedule(Backoff::Exponential, 1000, Some(60_000), false);
        assert_eq!(capped.base_delay(u32::MAX), ms(60_000));
        let linear = schedule(Backoff::Linear, u64::MAX, None, false);
        assert_eq!(linear.base_delay(u32::MAX), Duration::MAX);
    }

    #[test]
    fn jitter_spreads_over_the_upper_half() {
        let s = schedule(Backoff::Exponential, 100, Some(1000), true);
        assert_eq!(s.bounds(3), (ms(200), ms(400)));
        assert_eq!(s.delay_for(3, 0.0), ms(200));
        assert_eq!(s.delay_for(3, 0.5), ms(300));
        assert_eq!(s.delay_for(3, 1.0), ms(400));
        assert_eq!(s.delay_for(3, 7.0), ms(400), "fractions are clamped");
        assert_eq!(s.bounds(9), (ms(500), ms(1000)), "capped before jitter");
        for n in 1..=6 {
            let (lo, hi) = s.bounds(n);
            for _ in 0..200 {
                let d = s.next_delay(n);
                assert!(lo <= d && d <= hi, "{d:?} outside {lo:?}..={hi:?}");
            }
        }
        let plain = schedule(Backoff::Fixed, 100, None, false);
        assert_eq!(plain.delay_for(1, 0.9), ms(100), "no jitter: r is ignored");
        assert_eq!(plain.next_delay(1), ms(100));
    }

    #[test]
    fn backoff_names_round_trip() {
        for b in [Backoff::Fixed, Backoff::Linear, Backoff::Exponential] {
            assert_eq!(b.as_str().parse::<Backoff>().unwrap(), b);
        }
        let e = "expo".parse::<Backoff>().unwrap_err();
        assert!(e.message().contains("fixed, linear or exponential"), "{e}");
    }

    #[test]
    fn code_sets_parse_lists_and_ranges() {
        let s: CodeSet = "1,6-7,28".parse().unwrap();
        for c in [1, 6, 7, 28] {
            assert!(s.contains(c), "{c}");
        }
        for c in [0, 2, 5, 8, 27, 29, 255] {
            assert!(!s.contains(c), "{c}");
        }
        assert_eq!(s.to_string(), "1,6-7,28");
        assert_eq!(s.ranges(), [(1, 1), (6, 7), (28, 28)]);
        let all: CodeSet = "1-255".parse().unwrap();
        assert!(all.contains(255) && !all.contains(0));
        for bad in ["", "0", "256", "7-3", "a", "1,,2", "-1", "1-", "3 4", "+5"] {
            let e = bad.parse::<CodeSet>().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message().contains("e.g. 1,6-7,28"), "{bad}: {e}");
        }
    }

    #[test]
    fn default_policy_stops_on_the_do_not_retry_codes() {
        let o = RetryOptions::default();
        assert_eq!(o.decide(0), Verdict::Success);
        for c in DEFAULT_STOP_CODES {
            assert_eq!(o.decide(c), Verdict::Stop(StopRule::Default), "{c}");
        }
        for c in [1, 6, 7, 28, 124, 125, 137, 255] {
            assert_eq!(o.decide(c), Verdict::Retry, "{c}");
        }
    }

    #[test]
    fn stop_on_and_retry_on_combine_with_the_defaults() {
        let mut o = RetryOptions {
            stop_on: "22,28".parse().unwrap(),
            ..Default::default()
        };
        assert_eq!(o.decide(22), Verdict::Stop(StopRule::StopOn));
        assert_eq!(
            o.decide(2),
            Verdict::Stop(StopRule::Default),
            "defaults stay"
        );
        assert_eq!(o.decide(7), Verdict::Retry);

        o.retry_on = Some("2,6-7".parse().unwrap());
        assert_eq!(o.decide(2), Verdict::Retry, "retry_on overrides a default");
        assert_eq!(o.decide(6), Verdict::Retry);
        assert_eq!(o.decide(1), Verdict::Stop(StopRule::NotRetryOn));
        assert_eq!(o.decide(127), Verdict::Stop(StopRule::NotRetryOn));
        assert_eq!(o.decide(22), Verdict::Stop(StopRule::StopOn));
        o.validate().unwrap();

        o.retry_on = Some("20-30".parse().unwrap());
        let e = o.validate().unwrap_err();
        assert!(e.message().contains("exit code 22"), "{e}");
    }
}
