//! Signals: names and numbers, the safety rails ([`rails`]), and identity-checked sending
//! through pidfds: one process with [`Process::signal`], a batch with [`send_all`] (validate
//! every target, then send), process groups with [`send_groups`].
//!
//! ```
//! use tether::signal::Signal;
//! use tether::Process;
//! let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
//! let p = Process::open(child.id()).unwrap(); // the pidfd and the verified identity
//! p.signal(Signal::TERM).unwrap();            // reaches this process or nobody
//! child.wait().unwrap();
//! assert!(!p.is_running().unwrap());
//! ```

pub mod rails;

use std::fmt;
use std::os::fd::AsFd;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::identity::ProcessIdentity;
use crate::process::Process;
use crate::sys::os::{pidfd, proc::ProcReader, process};
use rails::{validate_pid, Subject};

/// A Linux signal number, 1..=SIGRTMAX.
///
/// ```
/// use tether::signal::Signal;
/// assert_eq!("term".parse::<Signal>().unwrap().number(), 15);
/// assert_eq!("SIGRTMIN+2".parse::<Signal>().unwrap().name(), "RTMIN+2");
/// assert_eq!("9".parse::<Signal>().unwrap().name(), "KILL");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

/// Standard signals by number (index = number); empty where Linux has none (32, 33 are glibc's).
const NAMES: [&str; 32] = [
    "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// Other names the kernel headers and util-linux accept.
const ALIASES: [(&str, i32); 4] = [("IOT", 6), ("CLD", 17), ("POLL", 29), ("UNUSED", 31)];

fn rtmin() -> i32 {
    process::rt_range().0
}
fn rtmax() -> i32 {
    process::rt_range().1
}

impl Signal {
    /// SIGTERM.
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// SIGKILL.
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// SIGCONT.
    pub const CONT: Signal = Signal(libc::SIGCONT);
    /// SIGSTOP.
    pub const STOP: Signal = Signal(libc::SIGSTOP);
    /// SIGINT.
    pub const INT: Signal = Signal(libc::SIGINT);
    /// SIGHUP.
    pub const HUP: Signal = Signal(libc::SIGHUP);
    /// SIGQUIT.
    pub const QUIT: Signal = Signal(libc::SIGQUIT);

    /// A signal from its number; `InvalidArgument` outside 1..=SIGRTMAX or for the numbers
    /// reserved by the C library (32, 33).
    pub fn from_number(n: i32) -> Result<Signal> {
        if (1..32).contains(&n) || (rtmin()..=rtmax()).contains(&n) {
            Ok(Signal(n))
        } else {
            Err(Error::invalid(format!("invalid signal number {n}")))
        }
    }

    /// The number.
    pub fn number(self) -> i32 {
        self.0
    }

    /// The name without `SIG`, as `kill -l` spells it (`TERM`, `RTMIN+3`, `RTMAX-1`).
    pub fn name(self) -> String {
        let (n, lo, hi) = (self.0, rtmin(), rtmax());
        if n < 32 {
            return NAMES[n as usize].to_string();
        }
        // Same split as bash: the lower half counts up from RTMIN, the upper down from RTMAX.
        let mid = lo + (hi - lo) / 2;
        match n {
            _ if n == lo => "RTMIN".into(),
            _ if n == hi => "RTMAX".into(),
            _ if n <= mid => format!("RTMIN+{}", n - lo),
            _ => format!("RTMAX-{}", hi - n),
        }
    }

    /// Every signal, in number order.
    pub fn all() -> impl Iterator<Item = Signal> {
        (1..32).chain(rtmin()..=rtmax()).map(Signal)
    }

    /// The listing `kill -l` of bash prints: `NN) SIGNAME`, five to a line, each entry followed
    /// by a tab except at the end of a full line (bash leaves a tab before the final newline).
    pub fn kill_l_table() -> String {
        let mut out = String::new();
        for (i, s) in Signal::all().enumerate() {
            out.push_str(&format!("{:2}) SIG{}", s.0, s.name()));
            out.push(if i % 5 == 4 { '\n' } else { '\t' });
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIG{}", self.name())
    }
}

impl Serialize for Signal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl schemars::JsonSchema for Signal {
    fn schema_name() -> String {
        "Signal".into()
    }
    fn json_schema(g: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        String::json_schema(g)
    }
}

impl FromStr for Signal {
    type Err = Error;

    /// Accepts a number, or a name with or without `SIG` in any case, including
    /// `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N`.
    fn from_str(s: &str) -> Result<Signal> {
        let t = s.trim();
        if let Ok(n) = t.parse::<i32>() {
            return Signal::from_number(n);
        }
        let up = t.to_ascii_uppercase();
        let name = up.strip_prefix("SIG").unwrap_or(&up);
        let unknown = || Error::invalid(format!("unknown signal '{s}' (see `tether signals`)"));
        if let Some(i) = NAMES.iter().position(|n| !n.is_empty() && *n == name) {
            return Ok(Signal(i as i32));
        }
        if let Some((_, n)) = ALIASES.iter().find(|(a, _)| *a == name) {
            return Ok(Signal(*n));
        }
        let rt = |base: i32, off: &str, sign: i32| -> Result<Signal> {
            let k: i32 = if off.is_empty() {
                0
            } else {
                off.parse().map_err(|_| unknown())?
            };
            Signal::from_number(base + sign * k).map_err(|_| unknown())
        };
        if let Some(off) = name.strip_prefix("RTMIN") {
            return rt(
                rtmin(),
                off.strip_prefix('+')
                    .unwrap_or(if off.is_empty() { "" } else { "x" }),
                1,
            );
        }
        if let Some(off) = name.strip_prefix("RTMAX") {
            return rt(
                rtmax(),
                off.strip_prefix('-')
                    .unwrap_or(if off.is_empty() { "" } else { "x" }),
                -1,
            );
        }
        Err(unknown())
    }
}

/// Options of a signal, or of a batch: start from [`SignalOptions::default`] and set what
/// differs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SignalOptions {
    /// Override the forceable rails (see [`rails::Rails`]).
    pub force: bool,
    /// Refuse unless every target runs this executable (compared after canonicalising).
    pub require_exe: Option<std::path::PathBuf>,
    /// Validate everything (permission to signal included), send nothing.
    pub dry_run: bool,
}

/// What happened to one target of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOutcome {
    /// The PID (or process group id) signalled.
    pub pid: u32,
    /// Whether the target was a process group.
    pub group: bool,
    /// The identity verified before sending (for groups: of the leader, when there is one).
    pub identity: Option<ProcessIdentity>,
    /// Sent, would send (dry run), gone (exited between validation and sending) or exists
    /// (signal 0: the process exists; nothing was sent).
    pub outcome: SendState,
}

/// See [`SendOutcome::outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SendState {
    /// The kernel accepted the signal.
    Sent,
    /// Dry run: it would have been sent.
    WouldSend,
    /// The process exited after it was validated; nothing was sent.
    Gone,
    /// Signal 0 ([`probe`]): the process exists; nothing was sent.
    Exists,
}

/// Send `sig` to every process, or to none: every target is validated first — the rails
/// ([`rails::check`]), permission to signal it, `require_exe` — and the first failure aborts
/// the batch before anything is sent (each identity was verified when its [`Process`] was
/// opened). Each is then signalled through the pidfd its identity was verified on.
///
/// Errors: `Refused` (a rail, unless `force`), `PermissionDenied` (another user's process),
/// `NotFound` (one has exited), `IdentityMismatch` (`require_exe` differs).
///
/// ```
/// use tether::signal::{send_all, SendState, Signal, SignalOptions};
/// use tether::Process;
/// let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
/// let p = Process::open(child.id()).unwrap();
/// let r = send_all(&[p], Signal::KILL, &SignalOptions::default()).unwrap();
/// assert_eq!(r[0].outcome, SendState::Sent);
/// child.wait().unwrap();
/// ```
pub fn send_all(
    targets: &[Process],
    sig: Signal,
    opts: &SignalOptions,
) -> Result<Vec<SendOutcome>> {
    let subjects: Vec<Subject> = targets.iter().map(|p| Subject::Process(p.pid())).collect();
    rails::check(&subjects, opts.force)?;
    for p in targets {
        if !pidfd::may_signal(p.as_fd(), p.pid())? {
            return Err(exited(p.pid()));
        }
        if let Some(want) = &opts.require_exe {
            check_exe(p, want)?;
        }
    }
    let mut out = Vec::with_capacity(targets.len());
    for p in targets {
        let outcome = if opts.dry_run {
            SendState::WouldSend
        } else {
            match pidfd::send_signal(p.as_fd(), sig.number()) {
                Ok(()) => SendState::Sent,
                Err(rustix::io::Errno::SRCH) => SendState::Gone,
                Err(e) => {
                    return Err(Error::from_errno(
                        format_args!("sending {sig} to {}", p.pid()),
                        e,
                    ))
                }
            }
        };
        out.push(process_outcome(p, outcome));
    }
    Ok(out)
}

/// Signal 0, as `kill -0` means it: does each process still exist? Nothing is sent, so neither
/// the rails nor permission play a part: a process of another user exists (where `kill(2)`
/// would answer EPERM). Zombies exist until reaped, as for `kill(2)`. `require_exe` is checked
/// as [`send_all`] checks it; the first process that no longer exists is a `NotFound` error.
pub fn probe(targets: &[Process], opts: &SignalOptions) -> Result<Vec<SendOutcome>> {
    let mut out = Vec::with_capacity(targets.len());
    for p in targets {
        match pidfd::send_signal(p.as_fd(), 0) {
            Ok(()) | Err(rustix::io::Errno::PERM) => {}
            Err(rustix::io::Errno::SRCH) => return Err(exited(p.pid())),
            Err(e) => {
                return Err(Error::from_errno(
                    format_args!("checking process {}", p.pid()),
                    e,
                ))
            }
        }
        if let Some(want) = &opts.require_exe {
            check_exe(p, want)?;
        }
        out.push(process_outcome(p, SendState::Exists));
    }
    Ok(out)
}

/// Send `sig` to every process group (`kill(-pgid)`), or to none: each group id passes the
/// rails (not 0, not 1, not the caller's group or one holding its ancestors, unless `force`)
/// and must exist with permission to signal it, before anything is sent. A group has no
/// pidfd: the outcome carries its leader's identity when the leader still exists.
pub fn send_groups(pgids: &[u32], sig: Signal, opts: &SignalOptions) -> Result<Vec<SendOutcome>> {
    let subjects: Vec<Subject> = pgids.iter().map(|g| Subject::Group(*g)).collect();
    rails::check(&subjects, opts.force)?;
    for &g in pgids {
        check_group(g, true)?;
    }
    let mut out = Vec::with_capacity(pgids.len());
    for &g in pgids {
        let outcome = if opts.dry_run {
            SendState::WouldSend
        } else {
            match send_group(g, sig) {
                Ok(()) => SendState::Sent,
                Err(rustix::io::Errno::SRCH) => SendState::Gone,
                Err(e) => return Err(Error::from_errno(format_args!("sending {sig} to {g}"), e)),
            }
        };
        out.push(group_outcome(g, outcome));
    }
    Ok(out)
}

/// Signal 0 to process groups: does each exist? As [`probe`], nothing is sent and neither the
/// rails nor permission play a part (only the unconditional rail: no group 0).
pub fn probe_groups(pgids: &[u32]) -> Result<Vec<SendOutcome>> {
    let mut out = Vec::with_capacity(pgids.len());
    for &g in pgids {
        validate_pid(g as i64)?;
        check_group(g, false)?;
        out.push(group_outcome(g, SendState::Exists));
    }
    Ok(out)
}

fn exited(pid: u32) -> Error {
    Error::not_found(format!("process {pid} has exited"))
}

fn process_outcome(p: &Process, outcome: SendState) -> SendOutcome {
    SendOutcome {
        pid: p.pid(),
        group: false,
        identity: Some(p.identity().clone()),
        outcome,
    }
}

fn group_outcome(pgid: u32, outcome: SendState) -> SendOutcome {
    SendOutcome {
        pid: pgid,
        group: true,
        identity: ProcessIdentity::of(pgid).ok(),
        outcome,
    }
}

fn check_exe(p: &Process, want: &std::path::Path) -> Result<()> {
    let pid = p.pid();
    let want_c = std::fs::canonicalize(want).unwrap_or_else(|_| want.to_path_buf());
    let mut r = ProcReader::new().map_err(|e| Error::from_io("opening /proc", &e))?;
    let have = r
        .exe(pid)
        .map_err(|e| Error::from_io(format_args!("reading /proc/{pid}/exe"), &e))?;
    // Re-check liveness after the read, so the exe we compared belonged to the pidfd's process.
    if !p.is_running()? {
        return Err(Error::not_found(format!("process {pid} exited")));
    }
    match have {
        Some(h) if std::path::Path::new(&h) == want_c => Ok(()),
        other => Err(Error::new(
            ErrorKind::IdentityMismatch,
            format!(
                "process {pid} runs {}, not {}; nothing was signalled",
                other.as_deref().unwrap_or("(unknown executable)"),
                want_c.display()
            ),
        )),
    }
}

/// Signal 0 to the group probes it without delivering anything: ESRCH means no such group;
/// EPERM means it exists (an error only when it is to be signalled).
fn check_group(pgid: u32, signalling: bool) -> Result<()> {
    match process::kill_group(pgid, 0) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::PERM) if !signalling => Ok(()),
        Err(rustix::io::Errno::PERM) => Err(Error::new(
            ErrorKind::PermissionDenied,
            format!("not permitted to signal process group {pgid}: it belongs to another user"),
        )),
        Err(rustix::io::Errno::SRCH) => Err(Error::not_found(format!("no process group {pgid}"))),
        Err(e) => Err(Error::from_errno(
            format_args!("checking process group {pgid}"),
            e,
        )),
    }
}

/// `kill(-pgid, sig)`, without the forceable rails (never 0 or 1: `kill_group` refuses
/// them): for a tree's own process group ([`crate::contain::Tree`]).
pub(crate) fn send_group(pgid: u32, sig: Signal) -> std::result::Result<(), rustix::io::Errno> {
    process::kill_group(pgid, sig.number())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        for s in ["TERM", "term", "SIGTERM", "sigterm", "15", " 15 "] {
            assert_eq!(s.parse::<Signal>().unwrap(), Signal::TERM, "{s}");
        }
        assert_eq!("IOT".parse::<Signal>().unwrap().number(), 6);
        assert_eq!(
            "RTMIN".parse::<Signal>().unwrap().number(),
            libc::SIGRTMIN()
        );
        assert_eq!(
            "rtmax-1".parse::<Signal>().unwrap().number(),
            libc::SIGRTMAX() - 1
        );
        for bad in [
            "", "FOO", "0", "32", "65", "-9", "RTMIN+99", "RTMINX", "RTMAX+1", "SIG",
        ] {
            let e = bad.parse::<Signal>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
        for s in Signal::all() {
            assert_eq!(s.name().parse::<Signal>().unwrap(), s);
        }
    }

    use crate::testing::sleeper;

    #[test]
    fn rails_refuse_a_batch_before_anything_is_sent() {
        let me = Process::current().unwrap();
        let parent = Process::open(process::parent_pid().unwrap()).unwrap();
        let group = process::own_pgrp().unwrap();
        // As dry runs, so that even a broken rail could deliver nothing.
        let opts = SignalOptions {
            dry_run: true,
            ..Default::default()
        };
        for p in [&me, &parent] {
            let e = send_all(std::slice::from_ref(p), Signal::CONT, &opts).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Refused, "{p:?}");
        }
        let e = send_groups(&[group], Signal::CONT, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Refused);
        let mut forced = opts.clone();
        forced.force = true;
        assert_eq!(
            send_all(std::slice::from_ref(&me), Signal::CONT, &forced).unwrap()[0].outcome,
            SendState::WouldSend
        );
        // A valid target next to a refused one: neither is signalled.
        let mut child = sleeper();
        let p = Process::open(child.id()).unwrap();
        let both = [p, parent];
        let e = send_all(&both, Signal::KILL, &SignalOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert!(child.try_wait().unwrap().is_none());
        let r = send_all(&both[..1], Signal::KILL, &SignalOptions::default()).unwrap();
        assert_eq!(r[0].outcome, SendState::Sent);
        assert_eq!(r[0].identity.as_ref(), Some(both[0].identity()));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(9));
        // Reaped: the next send finds it gone, and says so before sending anything.
        let e = send_all(&both[..1], Signal::KILL, &SignalOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn probe_sends_nothing_and_answers_existence() {
        let mut child = sleeper();
        let p = [Process::open(child.id()).unwrap()];
        let r = probe(&p, &SignalOptions::default()).unwrap();
        assert_eq!(r[0].outcome, SendState::Exists);
        // The rails play no part in a probe: our parent exists.
        let parent = Process::open(process::parent_pid().unwrap()).unwrap();
        assert_eq!(
            probe(&[parent], &SignalOptions::default()).unwrap()[0].outcome,
            SendState::Exists
        );
        let mut group = probe_groups(&[process::own_pgrp().unwrap()]).unwrap();
        assert!(group.remove(0).group);
        child.kill().unwrap();
        child.wait().unwrap();
        let e = probe(&p, &SignalOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            probe_groups(&[0]).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn require_exe_refuses_another_executable() {
        let mut child = sleeper();
        let p = [Process::open(child.id()).unwrap()];
        let opts = SignalOptions {
            require_exe: Some("/bin/sh".into()),
            ..Default::default()
        };
        let e = send_all(&p, Signal::KILL, &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IdentityMismatch);
        assert!(e.message().contains("nothing was signalled"), "{e}");
        assert!(child.try_wait().unwrap().is_none());
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
