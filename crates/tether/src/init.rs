//! A container init (PID 1), or a child subreaper anywhere else: start one command, pass every
//! signal on to it, reap every zombie, and when the command exits end what it left behind and
//! return its exit status. tini's behaviour is the floor; where this differs, it says so.
//!
//! - **Signals.** Every signal that can be caught is blocked and read through a signalfd, then
//!   sent to the command (through its pidfd), or with [`InitOptions::group`] to its process
//!   group, as tini does (`-g`). Not passed on, as with tini: SIGCHLD (it means "reap"), the
//!   signals a fault raises in this process itself (SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT,
//!   SIGTRAP, SIGSYS), SIGTTIN and SIGTTOU (ignored here, restored in the command), and SIGKILL
//!   and SIGSTOP (which cannot be caught). SIGTSTP, SIGCONT, SIGWINCH, SIGPIPE, the real-time
//!   signals and the rest are passed on. Unlike tini, a signal this process raised on itself (a
//!   SIGPIPE from writing to a closed stderr) is not passed on.
//! - **Terminal.** The command starts in a process group of its own, in this session. When this
//!   process's group is the foreground group of the terminal on stdin, the command's group is
//!   made the foreground group before it runs (tini does so whenever stdin is a terminal, even
//!   from the background; this one does not take the foreground from another group).
//! - **Reaping.** Every child that exits is reaped, the command's orphans included: as PID 1
//!   they come here anyway; anywhere else this process makes itself a child subreaper (tini
//!   only does with `-s`, and otherwise warns). Reaping never waits behind passing signals on:
//!   after each batch of signals, every exited child is reaped.
//! - **Exit.** The command's exit code, or 128+N when signal N killed it, then mapped through
//!   [`InitOptions::remap_exit`] (tini's `-e N` is `N:0`).
//! - **Leftovers.** When the command exits, whatever of its tree is still running (descendants,
//!   orphans adopted here) is ended with the library's one terminate policy: held still, TERM,
//!   [`InitOptions::grace`], then KILL to what survives ([`crate::terminate::terminate_tree`]).
//!   tini exits at once instead: as PID 1 the kernel then SIGKILLs the rest of the namespace
//!   without a TERM first; as a subreaper the rest runs on, orphaned.
//! - **The command's parent-death signal** is SIGKILL: if this process is killed (not as PID 1,
//!   whose death ends the namespace anyway), the command does not run on without it.
//!
//! Process-wide effects, since an init owns its process: the forwarded signals stay blocked
//! when [`run_init`] returns (so that one arriving after the command ended cannot end this
//! process before the caller reports), SIGCHLD is set to its default action while it runs,
//! SIGTTIN and SIGTTOU stay ignored, the
//! parent-death signal ([`InitOptions::pdeathsig`]) and the subreaper flag stay set, and the
//! open-file soft limit is raised to the hard one once the command has exited (to hold a large
//! tree of leftovers by pidfds; no child inherits it then).
//!
//! ```
//! use tether::init::{run_init, InitOptions};
//! let outcome = run_init(&InitOptions::new(["sh", "-c", "sleep 1 & exit 3"])).unwrap();
//! assert_eq!(outcome.exit_code, 3); // and the background `sleep 1` was ended
//! ```

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use crate::command::{Child, Command, SpawnErrorKind};
use crate::contain::{ChildSignals, ContainMode, Descendants, Tree};
use crate::error::{Error, Result};
use crate::run::{EXIT_CANNOT_INVOKE, EXIT_ENOENT};
use crate::signal::Signal;
use crate::sys::os::supervise::{self as sysproc, SignalFd};
use crate::sys::os::{pidfd, process as sysprocess, reaper};
use crate::terminate::{terminate_tree, StopOptions, TreeOutcome};
use crate::wait::ExitInfo;

/// How long leftovers get after TERM before KILL, unless the caller says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Exit code of init's own failures (tini's too).
pub const EXIT_FAILED: i32 = 1;

/// Signals that are never read and passed on: the ones a fault in this process raises (left at
/// their default action, so that a crash here is a crash), the terminal stops (ignored here),
/// and the two that cannot be caught.
const NOT_FORWARDED: [i32; 11] = [
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGKILL,
    libc::SIGSTOP,
];

/// How many signals are passed on before every exited child is reaped again, so that a flood of
/// signals cannot hold reaping up.
const SIGNAL_BATCH: usize = 64;

/// What to run as init, and how.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Program and arguments; the program is looked up in PATH.
    pub argv: Vec<OsString>,
    /// Pass signals on to the command's process group rather than the command alone (tini -g).
    pub group: bool,
    /// Exit code mappings `(from, to)`, applied to the final code (the command's code, or
    /// 128+N). A code appears at most once as `from`.
    pub remap_exit: Vec<(u8, u8)>,
    /// The signal this process gets when its parent dies (tini -p); it is passed on to the
    /// command like any other.
    pub pdeathsig: Option<Signal>,
    /// How long leftovers get after TERM, once the command has exited, before KILL.
    pub grace: Duration,
    /// Require the child subreaper flag when this process is not PID 1: failing to set it is an
    /// error. Without it, a failure is reported ([`InitEvent::NoSubreaper`]) and init goes on.
    pub subreaper: bool,
}

impl InitOptions {
    /// Options for `argv` with defaults: signals to the command alone, no remapping, no
    /// parent-death signal, [`DEFAULT_GRACE`].
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        InitOptions {
            argv: argv.into_iter().map(Into::into).collect(),
            group: false,
            remap_exit: Vec::new(),
            pdeathsig: None,
            grace: DEFAULT_GRACE,
            subreaper: false,
        }
    }

    /// Check the options before anything is started: a command is given, and no exit code is
    /// mapped twice. ([`run_init`] checks too; a front end calls this first to tell a usage
    /// error from a failure.)
    pub fn validate(&self) -> Result<()> {
        if self.argv.is_empty() {
            return Err(Error::invalid("no command given"));
        }
        let mut seen = [false; 256];
        for (from, _) in &self.remap_exit {
            if std::mem::replace(&mut seen[*from as usize], true) {
                return Err(Error::invalid(format!(
                    "exit code {from} is mapped more than once (give one mapping per code)"
                )));
            }
        }
        Ok(())
    }
}

/// Something init does, reported as it happens (`tether init -v` prints a line for each).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum InitEvent {
    /// The command started.
    Started {
        /// Its PID.
        pid: u32,
    },
    /// This process is not PID 1 and could not become a child subreaper: orphans of the
    /// command go to another reaper and are neither reaped nor ended here.
    NoSubreaper {
        /// Why.
        error: Error,
    },
    /// A signal received was passed on.
    Forwarded {
        /// The signal.
        signal: Signal,
        /// The command's PID (its process group's id when `group`).
        pid: u32,
        /// Sent to the process group.
        group: bool,
        /// The send succeeded (it fails when the command has just exited).
        delivered: bool,
    },
    /// A process other than the command was reaped (an orphan).
    Reaped {
        /// Its PID.
        pid: u32,
        /// How it ended.
        exit: ExitInfo,
    },
    /// The command exited.
    Exited {
        /// Its PID.
        pid: u32,
        /// How it ended.
        exit: ExitInfo,
    },
    /// What the command left running was ended.
    Ended {
        /// What the terminate policy did.
        outcome: TreeOutcome,
    },
}

/// What [`run_init`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InitOutcome {
    /// The command's PID.
    pub pid: u32,
    /// This process was PID 1 (of its PID namespace).
    pub pid1: bool,
    /// This process was a child subreaper (when not PID 1).
    pub subreaper: bool,
    /// Signals went to the command's process group.
    pub group: bool,
    /// How the command ended.
    pub exit: ExitInfo,
    /// The exit code to exit with: the command's, or 128+N, after remapping.
    pub exit_code: i32,
    /// How many signals were passed on (delivered).
    pub signals_forwarded: u64,
    /// How many processes other than the command were reaped by init's own wait loop (orphans
    /// of the command; the leftovers ended at the end are in `leftovers`).
    pub zombies_reaped: u64,
    /// What ending the leftovers did (all empty when nothing was left).
    pub leftovers: TreeOutcome,
    /// The grace the leftovers had.
    pub grace: Duration,
    /// Ending the leftovers failed; the exit code is still the command's.
    pub end_error: Option<Error>,
    /// From start to the end of the tree.
    pub elapsed: Duration,
}

/// Why [`run_init`] failed before the command ran, with the exit code a shell would see.
#[derive(Debug, Clone)]
pub struct InitError {
    /// What went wrong.
    pub error: Error,
    /// 127 the command was not found, 126 it could not be invoked, 1 init itself failed.
    pub exit_code: i32,
}

impl InitError {
    fn failed(error: Error) -> InitError {
        InitError {
            error,
            exit_code: EXIT_FAILED,
        }
    }
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for InitError {}

/// Parse a `--remap-exit` mapping `N:M` (each 0-255).
///
/// ```
/// use tether::init::parse_remap_exit;
/// assert_eq!(parse_remap_exit("143:0").unwrap(), (143, 0));
/// assert!(parse_remap_exit("256:0").is_err());
/// assert!(parse_remap_exit("1").is_err());
/// ```
pub fn parse_remap_exit(s: &str) -> Result<(u8, u8)> {
    let code = |t: &str| -> Option<u8> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u8>().ok())
            .flatten()
    };
    s.split_once(':')
        .and_then(|(n, m)| Some((code(n)?, code(m)?)))
        .ok_or_else(|| {
            Error::invalid(format!(
                "invalid exit code mapping '{s}': use N:M with N and M from 0 to 255 (e.g. 143:0)"
            ))
        })
}

/// The exit code for how the command ended: its code, or 128+N, within 0-255 as tini keeps it,
/// then mapped.
pub fn exit_code_of(exit: &ExitInfo, remap: &[(u8, u8)]) -> i32 {
    let code = (exit.shell_code() & 0xFF) as u8;
    remap
        .iter()
        .find(|(from, _)| *from == code)
        .map_or(code, |(_, to)| *to) as i32
}

/// Run `opts.argv` as init and return once it has exited and its leftovers are gone.
pub fn run_init(opts: &InitOptions) -> std::result::Result<InitOutcome, InitError> {
    run_init_with_events(opts, &mut |_| {})
}

/// [`run_init`], calling `on_event` as things happen.
pub fn run_init_with_events(
    opts: &InitOptions,
    on_event: &mut dyn FnMut(&InitEvent),
) -> std::result::Result<InitOutcome, InitError> {
    let began = Instant::now();
    opts.validate().map_err(InitError::failed)?;
    let me = std::process::id();
    let pid1 = me == 1;

    let dispositions = Dispositions::set();
    let mut child_signals = ChildSignals::inherited();
    dispositions.give_back(&mut child_signals);
    let read: Vec<i32> = Signal::all()
        .map(Signal::number)
        .filter(|s| !NOT_FORWARDED.contains(s))
        .collect();
    let sigfd = SignalFd::new(&read)
        .map_err(|e| InitError::failed(Error::from_io("blocking signals", &e)))?;
    // From here on, a signal that arrives waits in the signalfd: none is lost before the
    // command runs, and none ends this process after it has (the mask stays).
    let sigfd = KeepBlocked(Some(sigfd));

    if let Some(sig) = opts.pdeathsig {
        reaper::set_parent_death_signal(sig.number()).map_err(|e| {
            InitError::failed(Error::from_io("setting the parent-death signal", &e))
        })?;
    }
    let subreaper = if pid1 {
        false
    } else {
        match crate::contain::become_subreaper() {
            Ok(()) => true,
            Err(error) => {
                if opts.subreaper {
                    return Err(InitError::failed(error));
                }
                on_event(&InitEvent::NoSubreaper { error });
                false
            }
        }
    };

    let child = start(opts, child_signals)?;
    let pid = child.pid();
    on_event(&InitEvent::Started { pid });
    let mut st = State {
        opts,
        pid,
        child,
        me,
        exit: None,
        forwarded: 0,
        reaped: 0,
        on_event,
    };
    let loop_error = st.supervise(sigfd.get());
    let State {
        mut child,
        exit,
        forwarded,
        mut reaped,
        on_event,
        ..
    } = st;

    // The command is gone (or can no longer be waited for): end the rest of its tree, all of
    // this process's descendants. (A tree larger than the open-files limit is held in part: a
    // caller may raise the limit when it sees `InitEvent::Exited`, see
    // `crate::limits::raise_open_files`; the CLI does.)
    let fd = child.as_fd().try_clone_to_owned().ok();
    let mut tree = Tree::new(pid, fd, None, None, Descendants::Included);
    tree.set_adopt_children(true);
    let stop = StopOptions {
        signal: Signal::TERM,
        grace: opts.grace,
        kill_signal: Signal::KILL,
        ..StopOptions::default()
    };
    let ended = terminate_tree(&mut tree, &stop);
    let (leftovers, end_error) = match ended {
        Ok(o) => (o, None),
        Err(e) => (empty_outcome(), Some(e)),
    };
    if !leftovers.signalled.is_empty() {
        on_event(&InitEvent::Ended {
            outcome: leftovers.clone(),
        });
    }
    // Whatever exited meanwhile and is not reaped yet.
    let mut exit = exit;
    while let Ok(Some((p, raw))) = reaper::reap_any() {
        if p == pid {
            exit = Some(ExitInfo::from(raw));
        } else {
            reaped += 1;
        }
    }
    if let Some(e) = exit {
        child.set_exit(e);
    }
    // The command and its tree are gone: nothing is left for the handle to end.
    drop(child);
    drop(dispositions);
    if let Some(e) = loop_error {
        return Err(InitError::failed(e));
    }
    let Some(exit) = exit else {
        return Err(InitError::failed(Error::new(
            crate::ErrorKind::System,
            "the command's exit status was lost",
        )));
    };
    Ok(InitOutcome {
        pid,
        pid1,
        subreaper,
        group: opts.group,
        exit,
        exit_code: exit_code_of(&exit, &opts.remap_exit),
        signals_forwarded: forwarded,
        zombies_reaped: reaped,
        leftovers,
        grace: opts.grace,
        end_error,
        elapsed: began.elapsed(),
    })
}

/// Start the command as our own child (no watchdog, no cgroup: this process is the reaper), in
/// a new process group of this session, holding the terminal's foreground when we held it; it
/// gets SIGKILL if this process dies.
fn start(opts: &InitOptions, signals: ChildSignals) -> std::result::Result<Child, InitError> {
    Command::new(&opts.argv[0])
        .args(&opts.argv[1..])
        .contain(ContainMode::None)
        .process_group(true)
        .foreground_tty(reaper::holds_terminal_foreground())
        .death_signal(Some(Signal::KILL))
        .child_signals(signals)
        .spawn()
        .map_err(|e| InitError {
            exit_code: match e.kind() {
                SpawnErrorKind::NotFound => EXIT_ENOENT,
                SpawnErrorKind::NotExecutable => EXIT_CANNOT_INVOKE,
                _ => EXIT_FAILED,
            },
            error: e.into(),
        })
}

/// The main loop's state.
struct State<'a, 'e> {
    opts: &'a InitOptions,
    pid: u32,
    child: Child,
    me: u32,
    exit: Option<ExitInfo>,
    forwarded: u64,
    reaped: u64,
    on_event: &'e mut dyn FnMut(&InitEvent),
}

impl State<'_, '_> {
    /// Reap, wait for a signal or the command's exit, pass signals on; until the command has
    /// been reaped. Returns an error only when waiting itself failed.
    fn supervise(&mut self, sigfd: &SignalFd) -> Option<Error> {
        loop {
            if let Err(e) = self.reap() {
                return Some(e);
            }
            if self.exit.is_some() {
                return None;
            }
            let fds: [(BorrowedFd<'_>, bool); 2] =
                [(sigfd.as_fd(), false), (self.child.as_fd(), false)];
            if let Err(e) = sysproc::poll_fds(&fds, None) {
                return Some(Error::from_io("waiting for signals", &e));
            }
            for _ in 0..SIGNAL_BATCH {
                let Some((signo, from)) = sigfd.read() else {
                    break;
                };
                self.received(signo, from);
            }
        }
    }

    /// Reap every child that has exited.
    fn reap(&mut self) -> Result<()> {
        loop {
            match reaper::reap_any() {
                Ok(Some((p, raw))) => {
                    let exit = ExitInfo::from(raw);
                    if p == self.pid {
                        self.exit = Some(exit);
                        self.child.set_exit(exit);
                        (self.on_event)(&InitEvent::Exited { pid: p, exit });
                    } else {
                        self.reaped += 1;
                        (self.on_event)(&InitEvent::Reaped { pid: p, exit });
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(Error::from_io("reaping children", &e)),
            }
        }
    }

    fn received(&mut self, signo: i32, from: u32) {
        // SIGCHLD means "reap", done at the top of the loop. A signal this process sent itself
        // (SIGPIPE from a write to a closed pipe) is ours, not the command's.
        if signo == libc::SIGCHLD || from == self.me {
            return;
        }
        let Ok(signal) = Signal::from_number(signo) else {
            return;
        };
        let delivered = if self.opts.group {
            sysprocess::kill_group(self.pid, signo).is_ok()
        } else {
            pidfd::send_signal(self.child.as_fd(), signo).is_ok()
        };
        if delivered {
            self.forwarded += 1;
        }
        (self.on_event)(&InitEvent::Forwarded {
            signal,
            pid: self.pid,
            group: self.opts.group,
            delivered,
        });
    }
}

fn empty_outcome() -> TreeOutcome {
    TreeOutcome {
        held: crate::contain::Hold::None,
        signalled: Vec::new(),
        survivors: Vec::new(),
        escalated: false,
        remaining: Vec::new(),
    }
}

/// The signalfd, closed on drop with its signals left blocked.
struct KeepBlocked(Option<SignalFd>);

impl KeepBlocked {
    fn get(&self) -> &SignalFd {
        self.0.as_ref().expect("present until drop")
    }
}

impl Drop for KeepBlocked {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.keep_blocked();
        }
    }
}

/// The dispositions init changes: SIGCHLD at its default action while the command runs
/// (ignored, the kernel would reap the command and its status would be lost; restored on drop),
/// SIGTTIN and SIGTTOU ignored for good, as tini ignores them (the command may hold the
/// terminal's foreground, and init must not be stopped for writing its report to it).
struct Dispositions {
    chld: bool,
    ttin: bool,
    ttou: bool,
}

impl Dispositions {
    fn set() -> Dispositions {
        Dispositions {
            chld: sysproc::set_ignored(libc::SIGCHLD, false),
            ttin: sysproc::set_ignored(libc::SIGTTIN, true),
            ttou: sysproc::set_ignored(libc::SIGTTOU, true),
        }
    }

    /// The command starts with these three as this process had them.
    fn give_back(&self, child: &mut ChildSignals) {
        child.set(libc::SIGCHLD, self.chld);
        child.set(libc::SIGTTIN, self.ttin);
        child.set(libc::SIGTTOU, self.ttou);
    }
}

impl Drop for Dispositions {
    fn drop(&mut self) {
        if self.chld {
            sysproc::set_ignored(libc::SIGCHLD, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: Option<i32>, signal: Option<i32>) -> ExitInfo {
        ExitInfo {
            code,
            signal,
            core_dumped: false,
        }
    }

    #[test]
    fn exit_codes_and_remapping() {
        assert_eq!(exit_code_of(&exit(Some(3), None), &[]), 3);
        assert_eq!(exit_code_of(&exit(None, Some(15)), &[]), 143);
        assert_eq!(exit_code_of(&exit(None, Some(15)), &[(143, 0)]), 0);
        assert_eq!(exit_code_of(&exit(Some(3), None), &[(143, 0), (3, 7)]), 7);
        assert_eq!(exit_code_of(&exit(Some(4), None), &[(3, 7)]), 4);
    }

    #[test]
    fn remap_parsing() {
        assert_eq!(parse_remap_exit("0:255").unwrap(), (0, 255));
        for bad in [
            "", ":", "1:", ":1", "1:2:3", "-1:0", "1:256", "a:b", " 1:2", "+1:2",
        ] {
            assert!(parse_remap_exit(bad).is_err(), "{bad:?}");
        }
        let mut o = InitOptions::new(["true"]);
        o.remap_exit = vec![(1, 0), (1, 2)];
        assert!(o.validate().is_err());
        assert!(InitOptions::new(Vec::<OsString>::new()).validate().is_err());
    }
}
