//! Run a command with a time limit: the contract of GNU `timeout`, on a contained tree. A run is
//! a [`Command`](crate::command::Command) with a time limit, run to completion
//! ([`Command::status`](crate::command::Command::status)), plus GNU's exit-code mapping
//! ([`gnu_exit`], [`gnu_spawn_exit`]); the parsers of GNU's durations and signals are here too.
//!
//! Exit codes are GNU's: 124 when the limit passed (unless `preserve_status`), 125 for run's own
//! errors, 126 when the command cannot be invoked, 127 when it is not found, the command's own
//! code otherwise; a command killed by signal N makes run end by the same signal (so a shell sees
//! 128+N), and when SIGKILL had to be sent to a contained tree, run ends by SIGKILL too (137), as
//! GNU does.
//!
//! Unlike GNU, the command's whole tree is contained (cgroup or session + subreaper), nothing it
//! started outlives the run, and it returns as soon as the tree is gone: a child that exits is
//! seen at once through its pidfd, and the kill-after period is never waited out for nothing.
//! The signals are sent by the one terminate policy ([`crate::terminate`]): the tree is held
//! still, signalled, continued, and escalated to KILL after `kill_after`.
//!
//! ```
//! use std::time::Duration;
//! use tether::run::gnu_exit;
//!
//! let outcome = tether::Command::new("sleep")
//!     .arg("10")
//!     .timeout(Duration::from_millis(100))
//!     .status()?;
//! assert!(outcome.timed_out);
//! assert_eq!(gnu_exit(&outcome, false).code, 124); // GNU timeout's "the limit passed"
//! # Ok::<(), tether::command::SpawnError>(())
//! ```
//!
//! Signals, as GNU `timeout` handles them (with
//! [`Command::forward_signals`](crate::command::Command::forward_signals), for a front end that
//! stands in for the command): SIGCHLD is set back to its default action while the command runs
//! (a caller that ignores it would otherwise make the command's exit status unreadable); TERM,
//! INT, HUP, QUIT, USR1, USR2 and the timeout signal are passed on to the tree, and a SIGALRM
//! received counts as the time limit passing (so an outer `timeout -s ALRM` times out an inner
//! one). A signal the caller ignored stays ignored: the run does not react to it, and the command
//! starts with it ignored ([`ChildSignals`](crate::contain::ChildSignals)), except the timeout signal, which the command always
//! starts with at its default action. When the command shares this process group
//! ([`ContainMode::None`](crate::contain::ContainMode::None), GNU's `--foreground`), TTIN and
//! TTOU are ignored by this process while it runs, so that a command reading the terminal from
//! the background stops alone and the time limit still applies.
//!
//! Signal 0 is a [`SentSignal`] with `signal: None` and `delivered_to` 0; [`signal_name`] names
//! it `EXIT` (as `kill -l 0` and GNU's `-v` name it), as the JSON report does.
//!
//! The library prints nothing: what happens is reported through [`RunEvent`]s (GNU's `-v`
//! lines, see [`Command::status_with_events`](crate::command::Command::status_with_events)) and
//! the returned [`RunOutcome`]; the caller formats and exits.

use std::ffi::OsString;
use std::time::Duration;

use crate::command::{SpawnError, SpawnErrorKind};
use crate::contain::{Containment, Mechanism};
use crate::error::{Error, Result};
use crate::identity::ProcessIdentity;
use crate::signal::Signal;
use crate::sys::os::supervise as sysproc;
use crate::wait::ExitInfo;

pub use crate::sys::os::supervise::capture_inherited_signals;

/// GNU `timeout`'s exit code when the limit passed.
pub const EXIT_TIMEDOUT: i32 = 124;
/// GNU `timeout`'s exit code for its own failures.
pub const EXIT_CANCELED: i32 = 125;
/// The command was found but could not be invoked.
pub const EXIT_CANNOT_INVOKE: i32 = 126;
/// The command was not found.
pub const EXIT_ENOENT: i32 = 127;

/// Why a signal is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendReason {
    /// The time limit passed (or a SIGALRM was received).
    Timeout,
    /// The kill-after period passed: KILL.
    KillAfter,
    /// This process received the signal and passes it on.
    Forwarded,
}

impl SendReason {
    /// The name used in reports: `timeout`, `kill_after`, `forwarded`.
    pub fn as_str(self) -> &'static str {
        match self {
            SendReason::Timeout => "timeout",
            SendReason::KillAfter => "kill_after",
            SendReason::Forwarded => "forwarded",
        }
    }
}

/// Something a run does, reported as it happens (GNU `timeout -v` prints one line for each).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunEvent {
    /// The command has started (it has called `exec`): its PID, e.g. for a PID file.
    Started {
        /// The command's PID.
        pid: u32,
    },
    /// A signal is about to be sent to the command (its tree, when contained).
    Sending {
        /// The signal; `None` is signal 0 (nothing is sent).
        signal: Option<Signal>,
        /// Why.
        reason: SendReason,
    },
}

/// The name GNU `timeout -v` gives a signal: `TERM`, `RTMIN+2`, and `EXIT` for signal 0.
pub fn signal_name(signal: Option<Signal>) -> String {
    signal.map_or_else(|| "EXIT".to_string(), Signal::name)
}

/// One signal a run sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentSignal {
    /// The signal; `None` is signal 0 (nothing was sent).
    pub signal: Option<Signal>,
    /// Why it was sent.
    pub reason: SendReason,
    /// When, after the start.
    pub at: Duration,
    /// How many processes it was delivered to.
    pub delivered_to: usize,
}

/// What a run of a [`Command`](crate::command::Command) did
/// ([`Command::status`](crate::command::Command::status), [`crate::command::Output::status`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOutcome {
    /// The command line.
    pub command: Vec<OsString>,
    /// PID of the command.
    pub pid: u32,
    /// Its identity, verified when it started.
    pub identity: ProcessIdentity,
    /// Containment used.
    pub containment: Containment,
    /// The limit passed.
    pub timed_out: bool,
    /// Signals sent, in order.
    pub signals: Vec<SentSignal>,
    /// SIGKILL had to be sent after the kill-after period.
    pub escalated: bool,
    /// How the command ended; `None` when waiting for it failed (see `error`).
    pub child_exit: Option<ExitInfo>,
    /// Processes the command left behind, ended when it exited.
    pub leftovers_killed: Vec<u32>,
    /// A failure after the command started: waiting for it failed, so it was ended with its
    /// tree and its exit status is unknown.
    pub error: Option<Error>,
    /// Wall time, from before the start to the end of the tree.
    pub elapsed: Duration,
}

impl RunOutcome {
    /// The command exited with code 0 (and the limit did not pass).
    pub fn success(&self) -> bool {
        !self.timed_out && self.child_exit.is_some_and(|e| e.code == Some(0))
    }

    /// Whether the signals went to the command alone (no containment, GNU `--foreground`).
    fn command_only(&self) -> bool {
        self.containment.mechanism == Mechanism::None
    }
}

/// How a process standing in for the command (GNU `timeout`, `tether run`) should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GnuExit {
    /// The exit code a shell sees.
    pub code: i32,
    /// When set, the process should end by this signal number (as GNU re-raises it, see
    /// [`raise_exit_signal`]); a shell then sees `128 + signal` = `code`.
    pub signal: Option<i32>,
}

impl GnuExit {
    fn code(code: i32) -> GnuExit {
        GnuExit { code, signal: None }
    }
}

/// GNU `timeout`'s exit for a run: 124 when the limit passed (unless `preserve_status`), the
/// command's code, or its signal passed on; 137 (by SIGKILL) when KILL had to be sent to a
/// contained tree, as GNU kills its own process group; 125 when the command's exit status is
/// unknown ([`RunOutcome::error`]).
///
/// ```
/// # use std::time::Duration;
/// let o = tether::Command::new("sh").args(["-c", "exit 3"]).status()?;
/// assert_eq!(tether::run::gnu_exit(&o, false).code, 3);
/// # Ok::<(), tether::command::SpawnError>(())
/// ```
pub fn gnu_exit(outcome: &RunOutcome, preserve_status: bool) -> GnuExit {
    let sent_kill = outcome
        .signals
        .iter()
        .any(|s| s.signal == Some(Signal::KILL) && s.reason != SendReason::Forwarded);
    if sent_kill && !outcome.command_only() {
        // GNU sends KILL to its own process group, itself included: the shell sees 137.
        return GnuExit {
            code: 128 + libc::SIGKILL,
            signal: Some(libc::SIGKILL),
        };
    }
    let mut preserve = preserve_status;
    let mut signal = None;
    let status = match outcome.child_exit {
        Some(ExitInfo { code: Some(c), .. }) => c,
        Some(ExitInfo {
            signal: Some(s), ..
        }) => {
            if !outcome.timed_out {
                signal = Some(s);
            }
            if outcome.timed_out && s == libc::SIGKILL {
                preserve = true;
            }
            128 + s
        }
        _ => EXIT_CANCELED,
    };
    if outcome.timed_out && !preserve {
        return GnuExit::code(EXIT_TIMEDOUT);
    }
    GnuExit {
        code: status,
        signal,
    }
}

/// GNU `timeout`'s exit when the command could not be started: 127 when it was not found, 126
/// when it was found but could not be invoked, 125 for every other failure (the run's own).
pub fn gnu_spawn_exit(error: &SpawnError) -> GnuExit {
    GnuExit::code(match error.kind() {
        SpawnErrorKind::NotFound => EXIT_ENOENT,
        SpawnErrorKind::NotExecutable => EXIT_CANNOT_INVOKE,
        _ => EXIT_CANCELED,
    })
}

/// Make the calling process die of `sig`, as GNU `timeout` passes on a command's death by a
/// signal ([`GnuExit::signal`]): the default action is restored, core dumps of this process are
/// disabled, the signal is unblocked and raised. Returns only if that did not end the process
/// (e.g. as PID 1 of a namespace, which default actions do not end): the caller then exits with
/// `128 + sig`. For a command-line front end; the library never calls it.
pub fn raise_exit_signal(sig: i32) {
    sysproc::die_by_signal(sig);
}

/// Parse a GNU/Go duration for run (`0` = no limit); values past any clock, up to `inf`, mean
/// "practically forever" ([`Duration::MAX`]). The error is GNU's message.
pub fn parse_timeout(s: &str) -> Result<Duration> {
    crate::duration::parse_duration_saturating(s)
        .map_err(|_| Error::invalid(format!("invalid time interval '{s}'")))
}

/// Parse a `-s` signal as GNU `timeout` does: a name with or without `SIG` in any case
/// (`TERM`, `sigkill`, `RTMIN+2`), a number, or a shell exit status (`143` is TERM: values
/// above 128 are masked as shells outcome them). `0`, `EXIT` and `SIGEXIT` are signal 0,
/// returned as `None` (nothing is sent). The error is GNU's message.
///
/// ```
/// use tether::run::parse_signal;
/// use tether::signal::Signal;
/// assert_eq!(parse_signal("kill").unwrap(), Some(Signal::KILL));
/// assert_eq!(parse_signal("143").unwrap(), Some(Signal::TERM));
/// assert_eq!(parse_signal("EXIT").unwrap(), None);
/// assert!(parse_signal(" 15").is_err());
/// ```
pub fn parse_signal(s: &str) -> Result<Option<Signal>> {
    let invalid = || Error::invalid(format!("'{s}': invalid signal"));
    let number = |digits: &str| -> Option<i64> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<i64>().ok()
    };
    let n: i64 = if s.starts_with(|c: char| c.is_ascii_digit()) {
        let n = number(s)
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(invalid)?;
        // A shell's $? after a death by signal N is 128+N (ksh: 256+N).
        n & if n >= 0xFF { 0xFF } else { 0x7F }
    } else {
        let up = s.to_ascii_uppercase();
        let by_name = |name: &str| -> Option<i64> {
            if name == "EXIT" {
                return Some(0);
            }
            if name.starts_with(|c: char| c.is_ascii_digit()) {
                return number(name).filter(|n| *n <= 64);
            }
            if !name.starts_with(|c: char| c.is_ascii_alphabetic()) || name == "UNUSED" {
                return None;
            }
            name.parse::<Signal>().ok().map(|s| i64::from(s.number()))
        };
        by_name(&up)
            .or_else(|| up.strip_prefix("SIG").and_then(by_name))
            .ok_or_else(invalid)?
    };
    if n == 0 {
        return Ok(None);
    }
    Signal::from_number(n as i32)
        .map(Some)
        .map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn exit_code_passes_through() {
        let r = sh("exit 7").status().unwrap();
        assert_eq!(gnu_exit(&r, false), GnuExit::code(7));
        assert!(!r.timed_out && !r.success());
    }

    #[test]
    fn timeout_gives_124_and_returns_early() {
        let r = Command::new("sleep")
            .arg("30")
            .timeout(Duration::from_millis(100))
            .kill_after(Duration::from_secs(20))
            .status()
            .unwrap();
        assert_eq!(gnu_exit(&r, false).code, 124);
        assert_eq!(gnu_exit(&r, true).code, 128 + libc::SIGTERM);
        assert!(r.timed_out && !r.escalated);
        assert_eq!(r.child_exit.unwrap().signal, Some(libc::SIGTERM));
        assert!(r.elapsed < Duration::from_secs(15), "{:?}", r.elapsed);
    }

    #[test]
    fn not_found_and_not_executable() {
        let e = Command::new("/nonexistent/tether-x").status().unwrap_err();
        assert_eq!(gnu_spawn_exit(&e).code, 127);
        let e = Command::new("/etc/passwd").status().unwrap_err();
        assert_eq!(gnu_spawn_exit(&e).code, 126);
        let e = Command::new("true")
            .current_dir("/nonexistent/tether-dir")
            .status()
            .unwrap_err();
        assert_eq!(gnu_spawn_exit(&e).code, 125, "{e}");
    }

    #[test]
    fn signal_death_is_passed_on() {
        let r = sh("kill -USR1 $$").status().unwrap();
        let exit = gnu_exit(&r, false);
        assert_eq!(exit.signal, Some(libc::SIGUSR1));
        assert_eq!(exit.code, 128 + libc::SIGUSR1);
    }

    #[test]
    fn kill_after_escalates_to_137_by_sigkill() {
        let r = sh("trap '' TERM; sleep 30")
            .timeout(Duration::from_millis(100))
            .kill_after(Duration::from_millis(100))
            .status()
            .unwrap();
        assert!(r.timed_out && r.escalated, "{r:?}");
        assert_eq!(
            gnu_exit(&r, false),
            GnuExit {
                code: 137,
                signal: Some(libc::SIGKILL)
            }
        );
    }
}
