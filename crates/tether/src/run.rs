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

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::contain::{spawn, ContainMode, Containment, SpawnSpec, DEFAULT_DEATH_GRACE};
use crate::error::{Error, Result};
use crate::report::Report;
use crate::signal::Signal;
use crate::sys::os::pidfd;
use crate::sys::os::supervise::{self as sysproc, SignalFd, SUPERVISED_SIGNALS};
use crate::wait::ExitInfo;

/// GNU `timeout`'s exit code when the limit passed.
pub const EXIT_TIMEDOUT: i32 = 124;
/// GNU `timeout`'s exit code for its own failures.
pub const EXIT_CANCELED: i32 = 125;
/// The command was found but could not be invoked.
pub const EXIT_CANNOT_INVOKE: i32 = 126;
/// The command was not found.
pub const EXIT_ENOENT: i32 = 127;

/// Options of [`run`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// What to start; `spec.mode` is the containment (ignored with `foreground`).
    pub spec: SpawnSpec,
    /// The limit; `None` or zero means none (GNU's `0`).
    pub timeout: Option<Duration>,
    /// Sent when the limit passes (GNU `-s`, default TERM).
    pub signal: Signal,
    /// Send KILL this long after the first signal if the command is still running (GNU `-k`).
    pub kill_after: Option<Duration>,
    /// Exit with the command's status even when the limit passed (GNU `--preserve-status`).
    pub preserve_status: bool,
    /// GNU `--foreground`: the command stays in this process group, only it is signalled, and
    /// its children are not ended. No containment.
    pub foreground: bool,
    /// Print a line on stderr for every signal sent (GNU `-v`).
    pub verbose: bool,
    /// Prefix of diagnostics (`timeout`, `tether run`).
    pub program_name: String,
    /// Pass TERM, INT, HUP, QUIT, USR1 and USR2 received by this process on to the tree
    /// (blocks them in the calling thread and reads them with a signalfd).
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
            signal: Signal::TERM,
            kill_after: None,
            preserve_status: false,
            foreground: false,
            verbose: false,
            program_name: "tether run".into(),
            forward_signals: false,
            adopt_children: false,
        }
    }
}

/// One signal run sent.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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

/// `tether run --json`: what happened.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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
    fn failed(command: Vec<String>, code: i32, msg: String, began: Instant) -> RunReport {
        RunReport {
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
            error: Some(msg),
            elapsed_ms: began.elapsed().as_millis() as u64,
        }
    }

    /// End this process the way GNU `timeout` would with this result: by `exit_signal` when
    /// set (falling back to exit 128+N if the signal does not end it), else with `exit_code`.
    pub fn exit_process(&self) -> ! {
        if let Some(sig) = self.exit_signal {
            sysproc::die_by_signal(sig);
        }
        std::process::exit(self.exit_code)
    }
}

fn strip_os_error(msg: &str) -> String {
    match msg.rfind(" (os error ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Run the command. Never fails: run's own errors become exit code 125 (126/127 for a command
/// that cannot be run), with the message in `error` (and on stderr when `verbose`... always,
/// as GNU prints them).
pub fn run(opts: &RunOptions) -> RunReport {
    let began = Instant::now();
    let command: Vec<String> = opts
        .spec
        .argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let prog = &opts.program_name;
    let name = command.first().cloned().unwrap_or_default();
    let fail = |code: i32, msg: String| {
        eprintln!("{prog}: {msg}");
        RunReport::failed(command.clone(), code, msg, began)
    };
    if command.is_empty() {
        return fail(EXIT_CANCELED, "missing command".into());
    }
    let sigfd = if opts.forward_signals {
        match SignalFd::new(&SUPERVISED_SIGNALS) {
            Ok(s) => Some(s),
            Err(e) => return fail(EXIT_CANCELED, format!("blocking signals: {e}")),
        }
    } else {
        None
    };
    let mut spec = opts.spec.clone();
    if opts.foreground {
        spec.mode = ContainMode::None;
    }
    // GNU sets the -s signal as the command's parent-death signal: if run is killed (SIGKILL
    // included), the tree gets that signal first, and whatever is left after -k (or after
    // DEFAULT_DEATH_GRACE) is killed.
    spec.death_signal = Some(opts.signal);
    spec.death_grace = opts
        .kill_after
        .filter(|k| !k.is_zero())
        .unwrap_or(DEFAULT_DEATH_GRACE);
    let mut c = match spawn(&spec) {
        Ok(c) => c,
        Err(e) => {
            let msg = strip_os_error(e.error.message());
            let code = if e.not_found {
                EXIT_ENOENT
            } else if e.error.message().contains("failed to run command") {
                EXIT_CANNOT_INVOKE
            } else {
                EXIT_CANCELED
            };
            return fail(code, msg);
        }
    };
    if opts.adopt_children {
        c.set_adopt_children(true);
    }
    let mut report = RunReport {
        command: command.clone(),
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
        elapsed_ms: 0,
    };
    let deadline = opts.timeout.filter(|t| !t.is_zero()).map(|t| began + t);
    let mut kill_deadline: Option<Instant> = None;
    let mut kill_after = opts.kill_after.filter(|k| !k.is_zero());
    let mut sent_kill = false;
    let contained = !opts.foreground;

    // Send `sig` to the command (foreground) or its tree, then SIGCONT as GNU does.
    let send = |c: &mut crate::contain::Contained,
                report: &mut RunReport,
                sig: Signal,
                reason: &str,
                cont: bool|
     -> usize {
        if opts.verbose {
            eprintln!("{prog}: sending signal {} to command '{name}'", sig.name());
        }
        let delivered = if contained {
            let tree = c.tree();
            if sig == Signal::KILL && tree.cgroup_dir().is_some() {
                let n = tree.alive().len().max(1);
                let _ = tree.kill_remaining(Instant::now());
                n
            } else {
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
        } else {
            usize::from(pidfd::send_signal(c.pidfd().as_fd(), sig.number()).is_ok())
        };
        report.signals.push(SentSignal {
            signal: sig.name(),
            reason: reason.into(),
            at_ms: began.elapsed().as_millis() as u64,
            delivered_to: delivered,
        });
        delivered
    };

    let exit = loop {
        match c.try_reap() {
            Ok(Some(e)) => break Some(e),
            Ok(None) => {}
            Err(_) => break None,
        }
        let now = Instant::now();
        if let Some(d) = deadline.filter(|d| !report.timed_out && now >= *d) {
            let _ = d;
            report.timed_out = true;
            if opts.signal == Signal::KILL {
                sent_kill = true;
            }
            send(&mut c, &mut report, opts.signal, "timeout", true);
            if let Some(k) = kill_after.take() {
                kill_deadline = Some(Instant::now() + k);
            }
            continue;
        }
        if let Some(kd) = kill_deadline.filter(|kd| now >= *kd) {
            let _ = kd;
            kill_deadline = None;
            sent_kill = true;
            report.escalated = true;
            send(&mut c, &mut report, Signal::KILL, "kill_after", false);
            continue;
        }
        let next = [deadline.filter(|_| !report.timed_out), kill_deadline]
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
                eprintln!("{prog}: waiting for the command: {e}");
                report.error = Some(format!("waiting for the command: {e}"));
                break None;
            }
        };
        drop(fds);
        if ready.get(1).copied().unwrap_or(false) {
            if let Some(s) = &sigfd {
                while let Some((signo, _from)) = s.read() {
                    if signo == libc::SIGCHLD {
                        c.tree().reap_adopted();
                        continue;
                    }
                    let Ok(sig) = Signal::from_number(signo) else {
                        continue;
                    };
                    let terminating = signo != libc::SIGUSR1 && signo != libc::SIGUSR2;
                    send(&mut c, &mut report, sig, "forwarded", terminating);
                    if terminating {
                        if let Some(k) = kill_after.take() {
                            kill_deadline = Some(Instant::now() + k);
                        }
                    }
                }
            }
        }
    };
    report.child_exit = exit;
    if contained {
        report.leftovers_killed = c.end_tree().unwrap_or_default();
    }
    drop(c);
    drop(sigfd);

    // GNU's exit logic.
    if sent_kill && contained {
        // GNU sends KILL to its own process group, itself included: the shell sees 137.
        report.exit_code = 128 + libc::SIGKILL;
        report.exit_signal = Some(libc::SIGKILL);
    } else {
        let mut preserve = opts.preserve_status;
        let status = match exit {
            Some(ExitInfo { code: Some(c), .. }) => c,
            Some(ExitInfo {
                signal: Some(s), ..
            }) => {
                if !report.timed_out {
                    report.exit_signal = Some(s);
                }
                if report.timed_out && s == libc::SIGKILL {
                    preserve = true;
                }
                128 + s
            }
            _ => EXIT_CANCELED,
        };
        report.exit_code = if report.timed_out && !preserve {
            EXIT_TIMEDOUT
        } else {
            status
        };
    }
    report.elapsed_ms = began.elapsed().as_millis() as u64;
    report
}

/// Parse a GNU/Go duration for run (`0` = no limit); the error names the bad text.
pub fn parse_timeout(s: &str) -> Result<Duration> {
    crate::duration::parse_duration(s)
        .map_err(|_| Error::invalid(format!("invalid time interval '{s}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(argv: &[&str]) -> RunOptions {
        let mut o = RunOptions::new(SpawnSpec::new(argv.iter().copied()));
        o.program_name = "tether-test".into();
        o
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
        assert!(r.elapsed_ms < 5000, "{}", r.elapsed_ms);
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
