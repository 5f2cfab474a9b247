//! Signals: names and numbers, safety rails, and identity-checked sending through pidfds.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::identity::ProcessIdentity;
use crate::inspect::{Field, FieldSet};
use crate::sys::os::{pidfd, proc::ProcReader, process};

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

/// What a signal is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// A bare PID: its identity is taken when the batch is validated.
    Pid(u32),
    /// A process named by identity: refused unless it is still that process.
    Identity(ProcessIdentity),
    /// A process group, by its id.
    Group(u32),
}

impl Target {
    /// Parse a command-line target: a PID, or an identity string.
    pub fn parse(s: &str) -> Result<Target> {
        if s.contains(':') {
            return s.parse().map(Target::Identity);
        }
        parse_pid(s).map(Target::Pid)
    }

    /// The PID (or group id) it names.
    pub fn pid(&self) -> u32 {
        match self {
            Target::Pid(p) | Target::Group(p) => *p,
            Target::Identity(id) => id.pid,
        }
    }

    /// Open a pidfd on the process this target names and verify its identity on it.
    ///
    /// The honest answers: a bare PID that names no process is an error (`NotFound`, "no such
    /// process"; also for the id of a thread, naming its process), while a bare PID whose
    /// process exits while it is being identified is [`Resolved::Gone`] (it did exist). An
    /// identity whose process has exited is `Gone`; one whose PID now belongs to another
    /// process is an `IdentityMismatch` error. Only ESRCH counts as gone: a process of another
    /// user is found like any other, and failures such as EMFILE are errors.
    ///
    /// Process groups have no pidfd: `InvalidArgument`.
    pub fn resolve(&self) -> Result<Resolved> {
        let gone_is_fine = |e: Error| {
            if e.kind() == ErrorKind::NotFound {
                Ok(Resolved::Gone)
            } else {
                Err(e)
            }
        };
        match self {
            Target::Pid(p) => {
                validate_pid(*p as i64)?;
                let fd = pidfd::open(*p)?;
                match ProcessIdentity::of_pidfd(*p, &fd) {
                    Ok(id) => Ok(Resolved::Alive(fd, id)),
                    Err(e) => gone_is_fine(e),
                }
            }
            Target::Identity(id) => match id.open() {
                Ok(fd) => Ok(Resolved::Alive(fd, id.clone())),
                Err(e) => gone_is_fine(e),
            },
            Target::Group(g) => Err(Error::invalid(format!(
                "process group {g} is not a process; give a PID or an identity"
            ))),
        }
    }
}

/// What [`Target::resolve`] found.
#[derive(Debug)]
#[non_exhaustive]
pub enum Resolved {
    /// The process runs (or is an unreaped zombie): a pidfd on it and its verified identity.
    Alive(OwnedFd, ProcessIdentity),
    /// The process existed and has exited.
    Gone,
}

/// Parse a PID, applying the rails every PID passes: not 0, not negative, not above i32::MAX.
pub fn parse_pid(s: &str) -> Result<u32> {
    let n: i64 = s.trim().parse().map_err(|_| {
        Error::invalid(format!(
            "bad PID '{s}': expected a positive integer or an identity string"
        ))
    })?;
    validate_pid(n)
}

/// The unconditional rail: PID 0 (the caller's group), negative PIDs (groups / everything)
/// and PIDs beyond `i32::MAX` are never valid targets.
pub fn validate_pid(n: i64) -> Result<u32> {
    if n == 0 {
        return Err(Error::invalid(
            "PID 0 means the caller's own process group; refusing",
        ));
    }
    if n < 0 {
        return Err(Error::invalid(format!(
            "negative PID {n} would signal a process group or every process; refusing"
        )));
    }
    if n > i32::MAX as i64 {
        return Err(Error::invalid(format!("PID {n} is out of range")));
    }
    Ok(n as u32)
}

/// The forceable rails, as they stand for the calling process: what it must not signal or stop
/// unless forced, because doing so would end the caller itself or whatever started it.
///
/// Refused: PID 1 (init) and its group; tether itself; each of its ancestors (its parent, the
/// shell or script that started it, ...); the leader of its process group and of its session;
/// its own process group, and a process group that holds one of its ancestors or its session
/// leader. A process that merely shares tether's group (a sibling started by the same script)
/// is not refused: signalling it ends nothing else.
#[derive(Debug, Clone)]
pub struct Rails {
    me: u32,
    pgrp: Option<u32>,
    sid: Option<u32>,
    /// Ancestors nearest first, with their process groups.
    ancestors: Vec<(u32, Option<u32>)>,
}

impl Rails {
    /// The rails of the calling process, read now.
    pub fn current() -> Rails {
        let me = std::process::id();
        let ancestors = crate::inspect::ancestors(me, FieldSet::of(&[Field::Pgid]))
            .map(|list| {
                list.iter()
                    .map(|p| (p.pid, p.pgid.filter(|g| *g > 0).map(|g| g as u32)))
                    .collect()
            })
            .unwrap_or_default();
        let mut rails = Rails {
            me,
            pgrp: process::own_pgrp(),
            sid: process::own_sid(),
            ancestors,
        };
        // The parent is an ancestor even when /proc could not be read.
        if let Some(parent) = process::parent_pid() {
            if !rails.ancestors.iter().any(|(p, _)| *p == parent) {
                rails.ancestors.insert(0, (parent, None));
            }
        }
        rails
    }

    /// Why `target` is refused, if it is (a sentence naming the target; no advice).
    pub fn reason(&self, target: &Target) -> Option<String> {
        match target {
            Target::Group(g) => {
                let g = *g;
                if g == 1 {
                    return Some("process group 1 is init's".into());
                }
                if Some(g) == self.pgrp {
                    return Some(format!("process group {g} is tether's own"));
                }
                if Some(g) == self.sid {
                    return Some(format!(
                        "process group {g} is that of tether's session leader"
                    ));
                }
                self.ancestors
                    .iter()
                    .find(|(_, pg)| *pg == Some(g))
                    .map(|(a, _)| format!("process group {g} holds PID {a}, an ancestor of tether"))
            }
            t => {
                let p = t.pid();
                if p == 1 {
                    return Some("PID 1 is init; ending it ends the system or container".into());
                }
                if p == self.me {
                    return Some(format!("PID {p} is tether itself"));
                }
                if self.ancestors.first().map(|(a, _)| *a) == Some(p) {
                    return Some(format!("PID {p} is tether's parent"));
                }
                if self.ancestors.iter().any(|(a, _)| *a == p) {
                    return Some(format!(
                        "PID {p} is an ancestor of tether (the shell or program that started it)"
                    ));
                }
                if Some(p) == self.pgrp {
                    return Some(format!("PID {p} leads tether's own process group"));
                }
                if Some(p) == self.sid {
                    return Some(format!("PID {p} leads tether's session"));
                }
                None
            }
        }
    }
}

/// Why `target` is refused by the forceable rails of the calling process, if it is.
pub fn rail_reason(target: &Target) -> Option<String> {
    Rails::current().reason(target)
}

/// The one rail check of every operation that acts on processes (`kill`, `stop`, stop by port):
/// unless `force`, the first target behind a rail is a `Refused` error saying why, before
/// anything was done to any of them.
pub(crate) fn check_rails(targets: &[Target], force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    let rails = Rails::current();
    for t in targets {
        if let Some(why) = rails.reason(t) {
            return Err(Error::new(ErrorKind::Refused, format!("refusing: {why}")));
        }
    }
    Ok(())
}

/// Options of a signal batch: start from [`SendOptions::default`] and set what differs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SendOptions {
    /// Override the forceable rails (see [`Rails`]).
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

struct Validated {
    target: Target,
    fd: Option<OwnedFd>,
    identity: Option<ProcessIdentity>,
}

/// Send `sig` to every target, or to none: every target is validated first (rails, identity on a
/// pidfd, permission to signal it, `require_exe`), and the first failure aborts the batch before
/// anything is sent. Processes are then signalled through the very pidfds their identity was
/// verified on.
///
/// Process groups have no pidfd; a group is signalled with `kill(-pgid)` after its leader's
/// identity (when the leader still exists) was verified.
pub fn send(targets: &[Target], sig: Signal, opts: &SendOptions) -> Result<Vec<SendOutcome>> {
    check_rails(targets, opts.force)?;
    let mut checked = Vec::with_capacity(targets.len());
    for t in targets {
        checked.push(validate(t, opts, true)?);
    }
    let mut out = Vec::with_capacity(checked.len());
    for v in checked {
        let outcome = if opts.dry_run {
            SendState::WouldSend
        } else {
            deliver(&v, sig)?
        };
        out.push(outcome_of(v, outcome));
    }
    Ok(out)
}

/// Signal 0, as `kill -0` means it: does each target exist? Nothing is sent, so neither the
/// rails nor permission play a part: a process of another user exists (where `kill(2)` would
/// answer EPERM). Zombies exist until reaped, as for `kill(2)`. Every target is validated as
/// [`send`] validates (identity, `require_exe`); the first that does not exist, or whose
/// identity names another process now, is the error.
pub fn probe(targets: &[Target], opts: &SendOptions) -> Result<Vec<SendOutcome>> {
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        let v = validate(t, opts, false)?;
        out.push(outcome_of(v, SendState::Exists));
    }
    Ok(out)
}

fn outcome_of(v: Validated, outcome: SendState) -> SendOutcome {
    SendOutcome {
        pid: v.target.pid(),
        group: matches!(v.target, Target::Group(_)),
        identity: v.identity,
        outcome,
    }
}

/// Validate one target; with `signalling`, also that this caller may signal it.
fn validate(t: &Target, opts: &SendOptions, signalling: bool) -> Result<Validated> {
    validate_pid(t.pid() as i64)?;
    let (fd, identity) = match t {
        Target::Group(g) => {
            check_group(*g, signalling)?;
            (None, ProcessIdentity::of(*g).ok())
        }
        _ => match t.resolve()? {
            Resolved::Alive(fd, id) => (Some(fd), Some(id)),
            Resolved::Gone => {
                return Err(Error::not_found(format!("process {} has exited", t.pid())))
            }
        },
    };
    if let Some(fd) = &fd {
        if signalling && !pidfd::may_signal(fd.as_fd(), t.pid())? {
            return Err(Error::not_found(format!("process {} has exited", t.pid())));
        }
        if let Some(want) = &opts.require_exe {
            check_exe(t.pid(), fd, want)?;
        }
    }
    Ok(Validated {
        target: t.clone(),
        fd,
        identity,
    })
}

fn check_exe(pid: u32, fd: &OwnedFd, want: &std::path::Path) -> Result<()> {
    let want_c = std::fs::canonicalize(want).unwrap_or_else(|_| want.to_path_buf());
    let mut r = ProcReader::new().map_err(|e| Error::from_io("opening /proc", &e))?;
    let have = r
        .exe(pid)
        .map_err(|e| Error::from_io(format_args!("reading /proc/{pid}/exe"), &e))?;
    // Re-check liveness after the read, so the exe we compared belonged to the pidfd's process.
    if !pidfd::is_alive(fd)? {
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

fn deliver(v: &Validated, sig: Signal) -> Result<SendState> {
    let res = match (&v.target, &v.fd) {
        (Target::Group(g), _) => send_group(*g, sig),
        (_, Some(fd)) => pidfd::send_signal(fd.as_fd(), sig.number()),
        (_, None) => unreachable!("processes are validated with a pidfd"),
    };
    match res {
        Ok(()) => Ok(SendState::Sent),
        Err(rustix::io::Errno::SRCH) => Ok(SendState::Gone),
        Err(e) => Err(Error::from_errno(
            format_args!("sending {sig} to {}", v.target.pid()),
            e,
        )),
    }
}

/// `kill(-pgid, sig)` with the rails applied (never 0 or 1).
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

    #[test]
    fn unconditional_rails() {
        for n in [0i64, -1, -42, i32::MAX as i64 + 1, i64::MAX] {
            assert_eq!(
                validate_pid(n).unwrap_err().kind(),
                ErrorKind::InvalidArgument,
                "{n}"
            );
        }
        assert!(parse_pid("abc").is_err());
        assert!(parse_pid("0").is_err());
        assert!(parse_pid("-1").is_err());
        assert_eq!(parse_pid("42").unwrap(), 42);
    }

    #[test]
    fn forceable_rails() {
        let me = std::process::id();
        let parent = rustix::process::getppid().unwrap().as_raw_nonzero().get() as u32;
        let group = unsafe { libc::getpgrp() } as u32;
        // PID 1 and group 1 are only ever given to the rail check itself, never to a send.
        let mut refused = vec![
            Target::Pid(1),
            Target::Group(1),
            Target::Pid(me),
            Target::Pid(parent),
            Target::Group(group),
        ];
        // Every ancestor (the shell that started a script, the script, ...) and its group.
        let ancestors = crate::inspect::ancestors(me, FieldSet::of(&[Field::Pgid])).unwrap();
        for a in &ancestors {
            refused.push(Target::Pid(a.pid));
            // A group outside our PID namespace reads as 0, and is no target at all.
            if let Some(g) = a.pgid.filter(|g| *g > 0) {
                refused.push(Target::Group(g as u32));
            }
        }
        if let Some(sid) = process::own_sid() {
            refused.push(Target::Pid(sid));
        }
        let rails = Rails::current();
        for t in &refused {
            assert!(rails.reason(t).is_some(), "{t:?}");
        }
        // A sibling sharing our process group is not refused: signalling it ends nothing else.
        let mut sibling = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert_eq!(rails.reason(&Target::Pid(sibling.id())), None);
        sibling.kill().unwrap();
        sibling.wait().unwrap();
        // Through `send`, as a dry run so that even a broken rail could deliver nothing.
        let opts = SendOptions {
            dry_run: true,
            ..Default::default()
        };
        for t in [Target::Pid(me), Target::Pid(parent), Target::Group(group)] {
            let e = send(std::slice::from_ref(&t), Signal::CONT, &opts).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Refused, "{t:?}");
        }
        let forced = SendOptions {
            force: true,
            ..opts
        };
        assert_eq!(
            send(&[Target::Pid(me)], Signal::CONT, &forced).unwrap()[0].outcome,
            SendState::WouldSend
        );
    }

    #[test]
    fn probe_sends_nothing_and_answers_existence() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let t = [Target::Pid(child.id())];
        let r = probe(&t, &SendOptions::default()).unwrap();
        assert_eq!(r[0].outcome, SendState::Exists);
        // The rails play no part in a probe: our parent exists.
        let parent = Target::Pid(process::parent_pid().unwrap());
        assert_eq!(
            probe(&[parent], &SendOptions::default()).unwrap()[0].outcome,
            SendState::Exists
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let e = probe(&t, &SendOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn batch_sends_nothing_when_one_target_fails() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let targets = [Target::Pid(child.id()), Target::Pid(1)];
        assert!(send(&targets, Signal::KILL, &SendOptions::default()).is_err());
        // Still alive: the valid target was not signalled either.
        assert!(child.try_wait().unwrap().is_none());
        let r = send(
            &[Target::Pid(child.id())],
            Signal::KILL,
            &SendOptions::default(),
        )
        .unwrap();
        assert_eq!(r[0].outcome, SendState::Sent);
        let st = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(9));
    }
}
