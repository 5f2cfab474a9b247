//! Run a command with a time limit: the contract of GNU `timeout`, on a contained tree.
//!
//! Exit codes are GNU's: 124 when the limit passed (unless `preserve_status`), 125 for run's own
//! errors, 126 when the command cannot be invoked, 127 when it is not found, the command's own
//! code otherwise; a command killed by signal N makes run end by the same signal (so a shell sees
//! 128+N), and when SIGKILL had to be sent, run ends by SIGKILL too (137), as GNU does.
//!
//! Unlike GNU, the command's whole tree is contained (cgroup or session + subreaper), nothing it
//! started outlives `run`, and `run` returns as soon as the tree is gone: a child that exits is
//! seen at once through its pidfd, and the kill-after period is never waited out for nothing.
//!
//! Signals, as GNU `timeout` handles them: SIGCHLD is set back to its default action while the
//! command runs (a caller that ignores it would otherwise make the command's exit status
//! unreadable); with [`RunOptions::forward_signals`], TERM, INT, HUP, QUIT, USR1, USR2 and the
//! signal given with `-s` are passed on to the tree, and a SIGALRM received counts as the time
//! limit passing (so an outer `timeout -s ALRM` times out an inner one). A signal the caller
//! ignored stays ignored: `run` does not react to it, and the command starts with it ignored
//! ([`ChildSignals`]), except the `-s` signal, which the command always starts with at its
//! default action. With `forward_signals`, when the command shares this process group
//! (`foreground`, or no containment), TTIN and TTOU are ignored by this process while it runs,
//! so that a command reading the terminal from the background stops alone and the time limit
//! still applies (the command gets them as they were).
//!
//! Signal 0 is a [`SentSignal`] with `signal: None` and `delivered_to` 0; [`signal_name`] names
//! it `EXIT` (as `kill -l 0` and GNU's `-v` name it), as the JSON report does.
//!
//! The library prints nothing: what happens is reported through [`RunEvent`]s (GNU's `-v`
//! lines) and the returned [`RunOutcome`]; the caller formats and exits.

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

pub use crate::contain::ChildSignals;
use crate::contain::{spawn, ContainMode, Contained, Containment, SpawnSpec, DEFAULT_DEATH_GRACE};
use crate::error::{strip_os_error, Error, Result};
use crate::signal::Signal;
use crate::sys::os::pidfd;
use crate::sys::os::supervise::{self as sysproc, SignalFd, SUPERVISED_SIGNALS};
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

/// Options of [`run`]: start from [`RunOptions::new`] and set what differs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// What to start; `spec.mode` is the containment (ignored with `foreground`).
    pub spec: SpawnSpec,
    /// The limit; `None` or zero means none (GNU's `0`). [`Duration::MAX`] never passes.
    pub timeout: Option<Duration>,
    /// Sent when the limit passes (GNU `-s`, default TERM). `None` is GNU's signal 0: nothing
    /// is sent, so only `kill_after` ends the command.
    pub signal: Option<Signal>,
    /// Send KILL this long after the first signal if the command is still running (GNU `-k`).
    pub kill_after: Option<Duration>,
    /// Exit with the command's status even when the limit passed (GNU `--preserve-status`).
    pub preserve_status: bool,
    /// GNU `--foreground`: the command stays in this process group, only it is signalled, and
    /// its children are not ended. No containment.
    pub foreground: bool,
    /// Pass TERM, INT, HUP, QUIT, USR1, USR2 and `signal` received by this process on to the
    /// tree, and read SIGALRM as the limit passing. They are blocked in the calling thread and
    /// read through a signalfd, and stay blocked when `run` returns, so that one arriving after
    /// the command ended cannot end this process before it reports (GNU `timeout` behaves the
    /// same); a caller that goes on running restores its mask itself.
    pub forward_signals: bool,
    /// Count every child of this process as part of the tree (orphans adopted as subreaper).
    /// Only for a process that owns all its children, like the `tether` command.
    pub adopt_children: bool,
}

impl RunOptions {
    /// Options for `argv` with GNU defaults: no limit, TERM, no kill-after, contained.
    pub fn new(spec: SpawnSpec) -> Self {
        RunOptions {
            spec,
            timeout: None,
            signal: Some(Signal::TERM),
            kill_after: None,
            preserve_status: false,
            foreground: false,
            forward_signals: false,
            adopt_children: false,
        }
    }
}

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

/// Something `run` does, reported as it happens (GNU `timeout -v` prints one line for each).
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

/// One signal `run` sent.
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

/// What [`run`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOutcome {
    /// The command line.
    pub command: Vec<OsString>,
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
    /// When set, run passes on a death by this signal number (as GNU re-raises it): the process
    /// should end by it, and a shell sees `128 + exit_signal` = `exit_code`.
    pub exit_signal: Option<i32>,
    /// run's own error, for 125/126/127 (for 126/127, the message names the OS error in words
    /// only, as GNU's does).
    pub error: Option<Error>,
    /// Wall time.
    pub elapsed: Duration,
}

impl RunOutcome {
    fn failed(command: Vec<OsString>, code: i32, error: Error, began: Instant) -> RunOutcome {
        RunOutcome {
            command,
            pid: None,
            containment: None,
            timed_out: false,
            signals: Vec::new(),
            escalated: false,
            child_exit: None,
            leftovers_killed: Vec::new(),
            exit_code: code,
            exit_signal: None,
            error: Some(error),
            elapsed: began.elapsed(),
        }
    }
}

/// Make the calling process die of `sig`, as GNU `timeout` passes on a command's death by a
/// signal ([`RunOutcome::exit_signal`]): the default action is restored, core dumps of this
/// process are disabled, the signal is unblocked and raised. Returns only if that did not end
/// the process (e.g. as PID 1 of a namespace, which default actions do not end): the caller
/// then exits with `128 + sig`. For a command-line front end; the library never calls it.
/// See [`RunOutcome::exit_signal`].
pub fn raise_exit_signal(sig: i32) {
    sysproc::die_by_signal(sig);
}

/// Run the command. Never fails: run's own errors become exit code 125 (126/127 for a command
/// that cannot be run), with the error in [`RunOutcome::error`].
pub fn run(opts: &RunOptions) -> RunOutcome {
    run_with_events(opts, &mut |_| {})
}

/// [`run`], calling `on_event` as things happen (before each signal is sent), e.g. to print
/// GNU `timeout -v` lines at the moment they apply.
pub fn run_with_events(opts: &RunOptions, on_event: &mut dyn FnMut(&RunEvent)) -> RunOutcome {
    let began = Instant::now();
    let command = opts.spec.argv.clone();
    if command.is_empty() {
        let e = Error::invalid("missing command");
        return RunOutcome::failed(command, EXIT_CANCELED, e, began);
    }
    let mut spec = opts.spec.clone();
    if opts.foreground {
        spec.mode = ContainMode::None;
    }
    // GNU sets the -s signal as the command's parent-death signal: if run is killed (SIGKILL
    // included), the tree gets that signal first, and whatever is left after -k (or after
    // DEFAULT_DEATH_GRACE) is killed.
    spec.death_signal = opts.signal;
    spec.death_grace = opts
        .kill_after
        .filter(|k| !k.is_zero())
        .unwrap_or(DEFAULT_DEATH_GRACE);
    let shares_group = spec.mode == ContainMode::None;
    let state = SignalState::prepare(opts, shares_group, &mut spec.signals);
    let sigfd = if opts.forward_signals {
        match SignalFd::new(&state.forwarded) {
            Ok(s) => Some(s),
            Err(e) => {
                let e = Error::from_io("blocking signals", &e);
                return RunOutcome::failed(command, EXIT_CANCELED, e, began);
            }
        }
    } else {
        None
    };
    let mut c = match spawn(&spec) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.not_found {
                EXIT_ENOENT
            } else if e.error.message().contains("failed to run command") {
                EXIT_CANNOT_INVOKE
            } else {
                EXIT_CANCELED
            };
            if let Some(s) = sigfd {
                s.keep_blocked();
            }
            let msg = strip_os_error(e.error.message()).to_string();
            return RunOutcome::failed(command, code, e.error.with_message(msg), began);
        }
    };
    if opts.adopt_children {
        c.set_adopt_children(true);
    }
    on_event(&RunEvent::Started { pid: c.pid() });
    // A tether run inside this one looks after its own tree, as nested GNU timeouts do.
    c.tree().set_delegate_nested_runs(true);
    let outcome = RunOutcome {
        command,
        pid: Some(c.pid()),
        containment: Some(c.containment().clone()),
        timed_out: false,
        signals: Vec::new(),
        escalated: false,
        child_exit: None,
        leftovers_killed: Vec::new(),
        exit_code: 0,
        exit_signal: None,
        error: None,
        elapsed: Duration::ZERO,
    };
    let mut r = Runner {
        opts,
        contained: !opts.foreground,
        outcome,
        began,
        kill_after: opts.kill_after.filter(|k| !k.is_zero()),
        kill_deadline: None,
        sent_kill: false,
        on_event,
    };
    // `checked_add` fails only for limits beyond any clock: "practically forever".
    let deadline = opts
        .timeout
        .filter(|t| !t.is_zero())
        .and_then(|t| began.checked_add(t));

    let exit = loop {
        match c.try_reap() {
            Ok(Some(e)) => break Some(e),
            Ok(None) => {}
            Err(_) => break None,
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| !r.outcome.timed_out && now >= d) {
            r.time_out(&mut c);
            continue;
        }
        if r.kill_deadline.is_some_and(|kd| now >= kd) {
            r.kill_after_passed(&mut c);
            continue;
        }
        let next = [deadline.filter(|_| !r.outcome.timed_out), r.kill_deadline]
            .into_iter()
            .flatten()
            .min();
        let mut fds: Vec<(BorrowedFd<'_>, bool)> = vec![(c.pidfd().as_fd(), false)];
        if let Some(s) = &sigfd {
            fds.push((s.as_fd(), false));
        }
        let ready = match sysproc::poll_fds(&fds, next) {
            Ok(r) => r,
            Err(e) => {
                // Cannot wait any more: end the tree (below) and fail with 125.
                r.outcome.error = Some(Error::from_io("waiting for the command", &e));
                break None;
            }
        };
        drop(fds);
        if ready.get(1).copied().unwrap_or(false) {
            if let Some(s) = &sigfd {
                while let Some((signo, _from)) = s.read() {
                    r.received(&mut c, signo);
                }
            }
        }
    };
    let mut outcome = r.finish(c, exit);
    drop(state);
    if let Some(s) = sigfd {
        s.keep_blocked();
    }
    outcome.elapsed = began.elapsed();
    outcome
}

/// The signal dispositions `run` changes in this process while the command runs, restored
/// when dropped, and the set it forwards.
struct SignalState {
    /// SIGCHLD was ignored (and is set to default while running).
    chld_ignored: bool,
    /// TTIN / TTOU were ignored before `run` ignored them (None: not touched).
    tty: Option<(bool, bool)>,
    /// Signals to block and read through the signalfd.
    forwarded: Vec<i32>,
}

impl SignalState {
    fn prepare(opts: &RunOptions, shares_group: bool, child: &mut ChildSignals) -> SignalState {
        // GNU: "Don't inherit CHLD handling from parent": with SIGCHLD ignored the kernel
        // reaps the command itself and its status is lost. The command gets it at default too.
        let chld_ignored = sysproc::set_ignored(libc::SIGCHLD, false);
        let mut tty = None;
        let user_sig = opts.signal.map(Signal::number);
        if shares_group && opts.forward_signals {
            let ttin = sysproc::set_ignored(libc::SIGTTIN, true);
            let ttou = sysproc::set_ignored(libc::SIGTTOU, true);
            child.set(libc::SIGTTIN, ttin);
            child.set(libc::SIGTTOU, ttou);
            tty = Some((ttin, ttou));
        }
        // The `-s` signal is always handled (as GNU installs its handler for it), so the
        // command starts with it at its default action even when the caller ignored it.
        if let Some(sig) = user_sig {
            if sig != libc::SIGCHLD && sysproc::ignored_at_start(sig) {
                child.set(sig, false);
            }
        }
        let mut forwarded = Vec::new();
        if opts.forward_signals {
            for &sig in &SUPERVISED_SIGNALS {
                // A signal the caller ignored stays ignored: not blocked, so the kernel drops it.
                if sig == libc::SIGCHLD || Some(sig) == user_sig || !sysproc::is_ignored(sig) {
                    forwarded.push(sig);
                }
            }
            if let Some(sig) = user_sig {
                let blockable = sig != libc::SIGKILL && sig != libc::SIGSTOP;
                // Ignored by us while the command shares the group: never "received".
                let tty_sig = shares_group && (sig == libc::SIGTTIN || sig == libc::SIGTTOU);
                if blockable && !tty_sig && !forwarded.contains(&sig) {
                    forwarded.push(sig);
                }
            }
        }
        SignalState {
            chld_ignored,
            tty,
            forwarded,
        }
    }
}

impl Drop for SignalState {
    fn drop(&mut self) {
        if self.chld_ignored {
            sysproc::set_ignored(libc::SIGCHLD, true);
        }
        if let Some((ttin, ttou)) = self.tty {
            sysproc::set_ignored(libc::SIGTTIN, ttin);
            sysproc::set_ignored(libc::SIGTTOU, ttou);
        }
    }
}

/// The state of one run while the command is alive.
struct Runner<'a> {
    opts: &'a RunOptions,
    contained: bool,
    outcome: RunOutcome,
    began: Instant,
    /// The kill-after period, until it is started.
    kill_after: Option<Duration>,
    kill_deadline: Option<Instant>,
    sent_kill: bool,
    on_event: &'a mut dyn FnMut(&RunEvent),
}

impl Runner<'_> {
    /// The limit passed, or a SIGALRM was received (GNU reads both the same way).
    fn time_out(&mut self, c: &mut Contained) {
        if self.outcome.timed_out && self.kill_deadline.is_some() {
            // GNU's next alarm after the first is the KILL of `-k`.
            self.kill_after_passed(c);
            return;
        }
        self.outcome.timed_out = true;
        if self.opts.signal == Some(Signal::KILL) {
            self.sent_kill = true;
        }
        self.send(c, self.opts.signal, SendReason::Timeout, true);
        self.start_kill_after();
    }

    fn start_kill_after(&mut self) {
        if let Some(k) = self.kill_after.take() {
            // None (beyond any clock) never passes.
            self.kill_deadline = Instant::now().checked_add(k);
        }
    }

    fn kill_after_passed(&mut self, c: &mut Contained) {
        self.kill_deadline = None;
        self.sent_kill = true;
        self.outcome.escalated = true;
        self.send(c, Some(Signal::KILL), SendReason::KillAfter, false);
    }

    /// A signal arrived through the signalfd.
    fn received(&mut self, c: &mut Contained, signo: i32) {
        if signo == libc::SIGCHLD {
            c.tree().reap_adopted();
            return;
        }
        if signo == libc::SIGALRM {
            self.time_out(c);
            return;
        }
        let Ok(sig) = Signal::from_number(signo) else {
            return;
        };
        // GNU's terminating signals and its `-s` signal: passed on, followed by SIGCONT, and
        // they start the kill-after period. USR1/USR2 are only passed on.
        let terminating = Some(sig) == self.opts.signal
            || matches!(
                signo,
                libc::SIGTERM | libc::SIGINT | libc::SIGHUP | libc::SIGQUIT
            );
        self.send(c, Some(sig), SendReason::Forwarded, terminating);
        if terminating {
            self.start_kill_after();
        }
    }

    /// Send `sig` to the command (foreground) or its tree, then SIGCONT as GNU does when
    /// `cont`. Signal 0 (`None`) sends nothing.
    fn send(&mut self, c: &mut Contained, sig: Option<Signal>, reason: SendReason, cont: bool) {
        (self.on_event)(&RunEvent::Sending {
            signal: sig,
            reason,
        });
        let delivered = match sig {
            None => 0,
            Some(sig) if self.contained => send_to_tree(c, sig, cont),
            Some(sig) => usize::from(pidfd::send_signal(c.pidfd().as_fd(), sig.number()).is_ok()),
        };
        self.outcome.signals.push(SentSignal {
            signal: sig,
            reason,
            at: self.began.elapsed(),
            delivered_to: delivered,
        });
    }

    /// GNU's exit logic, once the command is gone: end what is left of the tree and decide the
    /// exit code.
    fn finish(self, mut c: Contained, exit: Option<ExitInfo>) -> RunOutcome {
        let mut outcome = self.outcome;
        outcome.child_exit = exit;
        if self.contained {
            outcome.leftovers_killed = c.end_tree().unwrap_or_default();
        }
        drop(c);
        if self.sent_kill && self.contained {
            // GNU sends KILL to its own process group, itself included: the shell sees 137.
            outcome.exit_code = 128 + libc::SIGKILL;
            outcome.exit_signal = Some(libc::SIGKILL);
            return outcome;
        }
        let mut preserve = self.opts.preserve_status;
        let status = match exit {
            Some(ExitInfo { code: Some(c), .. }) => c,
            Some(ExitInfo {
                signal: Some(s), ..
            }) => {
                if !outcome.timed_out {
                    outcome.exit_signal = Some(s);
                }
                if outcome.timed_out && s == libc::SIGKILL {
                    preserve = true;
                }
                128 + s
            }
            _ => EXIT_CANCELED,
        };
        outcome.exit_code = if outcome.timed_out && !preserve {
            EXIT_TIMEDOUT
        } else {
            status
        };
        outcome
    }
}

/// Deliver `sig` to every process of a contained tree (held still while it is signalled).
/// Returns how many it reached.
fn send_to_tree(c: &mut Contained, sig: Signal, cont: bool) -> usize {
    let tree = c.tree();
    if sig == Signal::KILL && tree.cgroup_dir().is_some() {
        let n = tree.alive().len().max(1);
        let _ = tree.kill_remaining(Instant::now());
        return n;
    }
    let held = tree.hold().unwrap_or(crate::contain::Hold::None);
    let n = tree.signal(sig).map(|v| v.len()).unwrap_or(0);
    if held == crate::contain::Hold::Frozen {
        if let Some(d) = tree.cgroup_dir() {
            let _ = crate::sys::os::cgroup::set_frozen(d, false, Duration::ZERO);
        }
    }
    // GNU follows the signal with SIGCONT; members we stopped need it anyway.
    let wake = (cont || held == crate::contain::Hold::Stopped)
        && sig != Signal::KILL
        && sig != Signal::CONT;
    if wake {
        tree.resume();
    }
    n
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

    fn opts(argv: &[&str]) -> RunOptions {
        RunOptions::new(SpawnSpec::new(argv.iter().copied()))
    }

    #[test]
    fn exit_code_passes_through() {
        let r = run(&opts(&["sh", "-c", "exit 7"]));
        assert_eq!((r.exit_code, r.exit_signal, r.timed_out), (7, None, false));
        assert!(r.containment.is_some());
    }

    #[test]
    fn timeout_gives_124_and_returns_early() {
        let mut o = opts(&["sleep", "30"]);
        o.timeout = Some(Duration::from_millis(100));
        o.kill_after = Some(Duration::from_secs(20));
        let r = run(&o);
        assert_eq!(r.exit_code, 124);
        assert!(r.timed_out && !r.escalated);
        assert_eq!(r.child_exit.unwrap().signal, Some(libc::SIGTERM));
        assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    }

    #[test]
    fn not_found_and_not_executable() {
        assert_eq!(run(&opts(&["/nonexistent/tether-x"])).exit_code, 127);
        assert_eq!(run(&opts(&["/etc/passwd"])).exit_code, 126);
    }

    #[test]
    fn signal_death_is_passed_on() {
        let r = run(&opts(&["sh", "-c", "kill -USR1 $$"]));
        assert_eq!(r.exit_signal, Some(libc::SIGUSR1));
        assert_eq!(r.exit_code, 128 + libc::SIGUSR1);
    }
}
