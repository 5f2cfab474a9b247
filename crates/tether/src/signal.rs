//! Signals: names and numbers, safety rails, and identity-checked sending through pidfds.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::identity::ProcessIdentity;
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

/// The forceable rails: PID 1, the caller, its parent, and its own process group.
/// Returns the reason a target is refused, if it is.
pub fn rail_reason(target: &Target) -> Option<String> {
    let me = std::process::id();
    let parent = process::parent_pid();
    let own_group = process::own_pgrp();
    match target {
        Target::Group(g) if *g == 1 => Some("process group 1 is init's".into()),
        Target::Group(g) if Some(*g) == own_group => {
            Some(format!("process group {g} is tether's own"))
        }
        Target::Group(_) => None,
        t => match t.pid() {
            1 => Some("PID 1 is init; ending it ends the system or container".into()),
            p if p == me => Some(format!("PID {p} is tether itself")),
            p if Some(p) == parent => Some(format!("PID {p} is tether's parent")),
            _ => None,
        },
    }
}

/// Options of a signal batch.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// Override the forceable rails (PID 1, self, parent, own group).
    pub force: bool,
    /// Refuse unless every target runs this executable (compared after canonicalising).
    pub require_exe: Option<std::path::PathBuf>,
    /// Validate everything, send nothing.
    pub dry_run: bool,
}

/// What happened to one target of a batch.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SendOutcome {
    /// The PID (or process group id) signalled.
    pub pid: u32,
    /// Whether the target was a process group.
    pub group: bool,
    /// The identity verified before sending (for groups: of the leader, when there is one).
    pub identity: Option<String>,
    /// `sent`, `would_send` (dry run) or `gone` (exited between validation and sending).
    pub outcome: SendState,
}

/// See [`SendOutcome::outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendState {
    /// The kernel accepted the signal.
    Sent,
    /// Dry run: it would have been sent.
    WouldSend,
    /// The process exited after it was validated; nothing was sent.
    Gone,
}

struct Validated {
    target: Target,
    fd: Option<OwnedFd>,
    identity: Option<ProcessIdentity>,
}

/// Send `sig` to every target, or to none: every target is validated first (rails, identity on a
/// pidfd, `require_exe`), and the first failure aborts the batch before anything is sent.
/// Processes are then signalled through the very pidfds their identity was verified on.
///
/// Process groups have no pidfd; a group is signalled with `kill(-pgid)` after its leader's
/// identity (when the leader still exists) was verified.
pub fn send(targets: &[Target], sig: Signal, opts: &SendOptions) -> Result<Vec<SendOutcome>> {
    let mut checked = Vec::with_capacity(targets.len());
    for t in targets {
        checked.push(validate(t, opts)?);
    }
    let mut out = Vec::with_capacity(checked.len());
    for v in checked {
        let outcome = if opts.dry_run {
            SendState::WouldSend
        } else {
            deliver(&v, sig)?
        };
        out.push(SendOutcome {
            pid: v.target.pid(),
            group: matches!(v.target, Target::Group(_)),
            identity: v.identity.map(|i| i.to_string()),
            outcome,
        });
    }
    Ok(out)
}

fn validate(t: &Target, opts: &SendOptions) -> Result<Validated> {
    validate_pid(t.pid() as i64)?;
    if !opts.force {
        if let Some(why) = rail_reason(t) {
            return Err(Error::new(
                ErrorKind::Refused,
                format!("refusing: {why} (use force to override)"),
            ));
        }
    }
    let (fd, identity) = match t {
        Target::Identity(id) => {
            let fd = id.open()?;
            (Some(fd), Some(id.clone()))
        }
        Target::Pid(p) => {
            let fd = pidfd::open(*p)?;
            let id = ProcessIdentity::of_pidfd(*p, &fd)?;
            (Some(fd), Some(id))
        }
        Target::Group(g) => {
            if !group_exists(*g) {
                return Err(Error::not_found(format!("no process group {g}")));
            }
            (None, ProcessIdentity::of(*g).ok())
        }
    };
    if let (Some(want), Some(fd)) = (&opts.require_exe, &fd) {
        check_exe(t.pid(), fd, want)?;
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
    if !pidfd::is_alive(fd) {
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

fn group_exists(pgid: u32) -> bool {
    // Signal 0 to the group probes existence without delivering anything.
    rustix::process::Pid::from_raw(pgid as i32)
        .is_some_and(|p| rustix::process::test_kill_process_group(p).is_ok())
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
        for t in [
            Target::Pid(1),
            Target::Group(1),
            Target::Pid(me),
            Target::Pid(parent),
            Target::Group(group),
        ] {
            assert!(rail_reason(&t).is_some(), "{t:?}");
        }
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
