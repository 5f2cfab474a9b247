//! Terminate a process tree, also one tether did not start: verify the identity, collect the
//! tree (descendants, the process group or session it leads, and its cgroup when it owns one),
//! hold it still (freeze the cgroup, or SIGSTOP), send the graceful signal and SIGCONT, wait
//! event-driven, and send the kill signal only to what is still alive when the grace ends.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use crate::contain::{Containment, Descendants, Hold, Mechanism, Strength, Tree, TreeWait};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::ProcessIdentity;
use crate::process::{Process, ProcessRef};
use crate::signal::rails::{self, Subject};
use crate::signal::Signal;
use crate::sys::os::proc::ProcReader;
use crate::sys::os::{cgroup, family, pidfd};

/// Options of [`stop`]: start from [`StopOptions::default`] and set what differs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StopOptions {
    /// The graceful signal (default TERM).
    pub signal: Signal,
    /// How long the tree gets to exit after the graceful signal (default 10 s).
    pub grace: Duration,
    /// Sent to survivors when the grace ends (default KILL).
    pub kill_signal: Signal,
    /// Override the forceable rails (see [`crate::signal::rails::Rails`]).
    pub force: bool,
    /// How long to wait for the kill signal to take effect before reporting what remains.
    pub kill_wait: Duration,
}

impl Default for StopOptions {
    fn default() -> Self {
        StopOptions {
            signal: Signal::TERM,
            grace: Duration::from_secs(10),
            kill_signal: Signal::KILL,
            force: false,
            kill_wait: Duration::from_secs(5),
        }
    }
}

/// What [`stop`] did to the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StopOutcome {
    /// The target PID.
    pub pid: u32,
    /// Its identity, verified before anything was sent.
    pub identity: Option<ProcessIdentity>,
    /// The target was gone before anything was done (stopping it is then a success).
    pub already_gone: bool,
    /// How the tree was found and held.
    pub containment: Containment,
    /// How the tree was held still while it was signalled.
    pub held: Hold,
    /// The graceful signal.
    pub signal: Signal,
    /// The kill signal.
    pub kill_signal: Signal,
    /// Every PID the graceful signal was delivered to.
    pub signalled: Vec<u32>,
    /// PIDs still alive when the grace ended.
    pub survivors: Vec<u32>,
    /// Whether the kill signal was sent.
    pub escalated: bool,
    /// PIDs still alive when `stop` returned (normally empty).
    pub remaining: Vec<u32>,
    /// The grace period.
    pub grace: Duration,
    /// Time taken.
    pub elapsed: Duration,
}

impl StopOutcome {
    /// The outcome of stopping a process that was gone before anything was done (an identity
    /// whose process has exited: [`crate::Process::open_unless_gone`] gave `None`). Stopping
    /// it is then a success: nothing was signalled, nothing remains.
    pub fn already_gone(pid: u32, opts: &StopOptions) -> StopOutcome {
        let none = Containment {
            mechanism: Mechanism::None,
            strength: Strength::None,
            cgroup: None,
            pgid: None,
            fallback_reason: None,
        };
        StopOutcome {
            already_gone: true,
            ..StopOutcome::new(pid, None, none, opts)
        }
    }
}

/// Stop `target` and its tree ([`crate::Process::terminate_tree`]). Idempotent: a process that
/// has exited (or exits before anything is sent) is a success with `already_gone`. Refused
/// before anything is done: a target behind the rails unless `force` (`Refused`,
/// [`crate::signal::rails`]), a process this caller may not signal (`PermissionDenied`).
///
/// Every member of the tree is held by a pidfd while it is ended: for trees larger than the
/// open-files limit allows, raise it first ([`crate::limits::raise_open_files`]).
///
/// ```
/// use std::time::Duration;
/// use tether::terminate::StopOptions;
/// use tether::Process;
/// let mut child = std::process::Command::new("sh")
///     .args(["-c", "sleep 30 & sleep 30 & wait"])
///     .spawn()
///     .unwrap();
/// let mut opts = StopOptions::default();
/// opts.grace = Duration::from_secs(5);
/// let r = Process::open(child.id()).unwrap().terminate_tree(&opts).unwrap();
/// assert!(r.remaining.is_empty());
/// child.wait().unwrap();
/// ```
pub fn stop(target: &Process, opts: &StopOptions) -> Result<StopOutcome> {
    let began = Instant::now();
    let pid = target.pid();
    rails::check(&[Subject::Process(pid)], opts.force)?;
    let mut done = StopOutcome::already_gone(pid, opts);
    // Permission first: a process of another user is refused before anything is held or sent.
    if !pidfd::may_signal(target.as_fd(), pid)? {
        done.elapsed = began.elapsed();
        return Ok(done);
    }
    done.already_gone = false;
    done.identity = Some(target.identity().clone());

    let st = ProcReader::new()
        .and_then(|mut r| r.stat(pid))
        .map_err(|e| Error::from_io(format_args!("reading /proc/{pid}/stat"), &e));
    let st = match st {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            done.already_gone = true;
            return Ok(done);
        }
        Err(e) => return Err(e),
    };
    if !target.is_running()? {
        done.already_gone = true;
        return Ok(done);
    }
    let pgid = (st.pgrp == pid as i32).then_some(pid);
    let sid = (st.session == pid as i32).then_some(pid);
    // The descendants first (the children files of each member: the cost of the tree). If the
    // target's cgroup holds nothing but them and its group and session, the cgroup is the tree;
    // otherwise the members of the group or session it leads that are not descendants are found
    // by the one pass over /proc.
    // The tree holds a pidfd of its own on the root (a duplicate of the handle's).
    let root_fd = target
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::from_io(format_args!("duplicating the pidfd of {pid}"), &e))?;
    let mut tree = Tree::new(pid, Some(root_fd), None, None, Descendants::Included);
    tree.set_group_and_session(pgid, sid);
    tree.collect()?;
    let owned = owned_cgroup(pid, pgid, sid, tree.seen());
    match &owned {
        Some((_, dir)) => tree.set_cgroup(dir.clone()),
        None if pgid.is_some() || sid.is_some() => {
            tree.find_group_members();
            tree.collect()?;
        }
        None => {}
    }
    done.containment = match &owned {
        Some((rel, _)) => Containment {
            mechanism: Mechanism::Cgroup,
            strength: Strength::KernelEnforced,
            cgroup: Some(rel.clone()),
            pgid,
            fallback_reason: None,
        },
        None if pgid.is_some() || sid.is_some() => Containment {
            mechanism: Mechanism::ProcessGroup,
            strength: Strength::GroupOnly,
            cgroup: None,
            pgid,
            fallback_reason: Some("the target owns no cgroup of its own".into()),
        },
        None => Containment {
            mechanism: Mechanism::None,
            strength: Strength::None,
            cgroup: None,
            pgid: None,
            fallback_reason: Some(
                "the target owns no cgroup and leads no process group: descendants only".into(),
            ),
        },
    };

    let outcome = terminate_tree(&mut tree, opts)?;
    if let Some((_, dir)) = &owned {
        if outcome.remaining.is_empty() {
            remove_dead_leaves(dir);
        }
    }
    done.held = outcome.held;
    done.signalled = outcome.signalled;
    done.survivors = outcome.survivors;
    done.escalated = outcome.escalated;
    done.remaining = outcome.remaining;
    done.elapsed = began.elapsed();
    Ok(done)
}

impl StopOutcome {
    /// The outcome of a stop of `pid` that has sent nothing yet.
    pub(crate) fn new(
        pid: u32,
        identity: Option<ProcessIdentity>,
        containment: Containment,
        opts: &StopOptions,
    ) -> StopOutcome {
        StopOutcome {
            pid,
            identity,
            already_gone: false,
            containment,
            held: Hold::None,
            signal: opts.signal,
            kill_signal: opts.kill_signal,
            signalled: Vec::new(),
            survivors: Vec::new(),
            escalated: false,
            remaining: Vec::new(),
            grace: opts.grace,
            elapsed: Duration::ZERO,
        }
    }

    /// Take in what [`terminate_tree`] did.
    pub(crate) fn record(&mut self, out: TreeOutcome) {
        self.held = out.held;
        self.signalled = out.signalled;
        self.survivors = out.survivors;
        self.escalated = out.escalated;
        self.remaining = out.remaining;
    }
}

/// Stop the process `target` names and its tree: the rails first (`Refused`), then the process
/// is opened ([`Process::open_unless_gone`]) and stopped ([`stop`]). An identity whose process
/// has exited is a success with `already_gone` (it existed, and is gone); a bare PID that names
/// no process is `NotFound` (a mistyped PID must not pass), an identity whose PID now belongs
/// to another process is `IdentityMismatch`.
pub fn stop_ref(target: &ProcessRef, opts: &StopOptions) -> Result<StopOutcome> {
    rails::check(&[Subject::Process(target.pid())], opts.force)?;
    match Process::open_unless_gone(target)? {
        Some(p) => stop(&p, opts),
        None => Ok(StopOutcome::already_gone(target.pid(), opts)),
    }
}

/// The result of [`terminate_tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeOutcome {
    /// How the tree was held still while the graceful signal was sent.
    pub held: Hold,
    /// Every PID the graceful signal was delivered to.
    pub signalled: Vec<u32>,
    /// PIDs still alive when the grace ended.
    pub survivors: Vec<u32>,
    /// Whether the kill signal was sent.
    pub escalated: bool,
    /// PIDs still alive at the end.
    pub remaining: Vec<u32>,
}

/// How [`signal_tree`] lets the tree go after the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resume {
    /// Send SIGCONT to every member after the signal, so that a stopped process acts on it too
    /// (GNU `timeout` follows its signal with SIGCONT; `stop` does the same).
    Always,
    /// Only undo the hold: thaw the frozen cgroup, or continue what the hold stopped. A signal
    /// passed on for the command to handle (USR1) does not wake a process stopped on purpose.
    Held,
}

/// What [`signal_tree`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Signalled {
    /// How the tree was held still while it was signalled.
    pub held: Hold,
    /// Every PID the signal was delivered to.
    pub pids: Vec<u32>,
}

/// The first step of the terminate policy: hold the tree still (freeze its cgroup, or SIGSTOP
/// every member until no new one appears, so that a fork loop cannot outrun it), send `sig` to
/// every member, and let go as `resume` says. Returns at once; waiting is the caller's.
pub fn signal_tree(tree: &mut Tree, sig: Signal, resume: Resume) -> Result<Signalled> {
    let held = tree.hold()?;
    let pids = match tree.signal(sig) {
        Ok(p) => p,
        Err(e) => {
            tree.release(held);
            return Err(e);
        }
    };
    match resume {
        Resume::Always => tree.release(held),
        Resume::Held => tree.unhold(held),
    }
    Ok(Signalled { held, pids })
}

/// The last step of the terminate policy: send `kill_signal` to whatever of the tree is left
/// (held still meanwhile; SIGKILL in a cgroup is one write to `cgroup.kill`), then wait,
/// event-driven, until the tree is gone or `until` passes (`until` now: no wait). Returns the
/// PIDs it was sent to (in a cgroup with SIGKILL: the members alive when it began).
pub fn escalate(tree: &mut Tree, kill_signal: Signal, until: Instant) -> Result<Vec<u32>> {
    if kill_signal == Signal::KILL && tree.cgroup_dir().is_some() {
        return tree.kill_remaining(until);
    }
    let held = tree.hold()?;
    let sent = tree.signal(kill_signal)?;
    // KILL ends stopped processes: nothing to continue.
    if kill_signal != Signal::KILL {
        tree.release(held);
    }
    tree.wait_empty(Some(until), &[])?;
    Ok(sent)
}

/// The one terminate policy, used by `stop`, [`crate::command::Child::stop`], `init` and (step
/// by step, between its other events) `run`: [`signal_tree`] with the graceful signal and
/// SIGCONT, wait for the grace (event-driven: pidfds or `cgroup.events`), [`escalate`] to the
/// survivors, wait up to `kill_wait`, and reap what this process adopted.
pub fn terminate_tree(tree: &mut Tree, opts: &StopOptions) -> Result<TreeOutcome> {
    let first = signal_tree(tree, opts.signal, Resume::Always)?;
    let mut out = TreeOutcome {
        held: first.held,
        signalled: first.pids,
        survivors: Vec::new(),
        escalated: false,
        remaining: Vec::new(),
    };
    let grace_end = Instant::now() + opts.grace;
    if tree.wait_empty(Some(grace_end), &[])? == TreeWait::Empty {
        tree.reap_adopted();
        return Ok(out);
    }
    out.survivors = tree.alive();
    out.escalated = true;
    escalate(tree, opts.kill_signal, Instant::now() + opts.kill_wait)?;
    tree.collect()?;
    out.remaining = tree.alive();
    tree.reap_adopted();
    Ok(out)
}

/// The target's cgroup, when it owns it: not the root, not tether's own cgroup or one of its
/// ancestors, and either the `tether-*` leaf of a `run` whose command the target is, or holding
/// nothing but the target's tree: its descendants `found` by the walk, and the group and session
/// it leads (one `getpgid`/`getsid` per member of the cgroup, no pass over /proc). A grandchild
/// in a leaf of `run` does not own it: the leaf also holds its parents.
fn owned_cgroup(
    pid: u32,
    pgid: Option<u32>,
    sid: Option<u32>,
    found: &[u32],
) -> Option<(String, std::path::PathBuf)> {
    let rel = cgroup::cgroup_of(pid).ok()?;
    if rel == "/" || rel.is_empty() {
        return None;
    }
    let own = cgroup::cgroup_of(std::process::id()).ok()?;
    let own_slash = format!("{}/", own.trim_end_matches('/'));
    let rel_slash = format!("{}/", rel.trim_end_matches('/'));
    if own_slash.starts_with(&rel_slash) {
        return None;
    }
    let dir = cgroup::dir_of(&rel)?;
    if !cgroup::has_kill_and_freeze(&dir) {
        return None;
    }
    // The command of a `run` (its parent is the run's watchdog, outside the leaf): the leaf is
    // its tree, escapers adopted by the watchdog included.
    let leaf = rel.rsplit('/').next().unwrap_or("").starts_with("tether-");
    if leaf && family::parentage(pid).is_some_and(|p| is_watchdog(p.ppid)) {
        return Some((rel, dir));
    }
    let found: std::collections::HashSet<u32> = found.iter().copied().collect();
    let members = cgroup::procs_recursive(&dir).ok()?;
    members
        .iter()
        .all(|&m| found.contains(&m) || family::in_group_or_session(m, pgid, sid))
        .then_some((rel, dir))
}

/// Whether `pid` is a watchdog of `run` (named `tether-watch`).
fn is_watchdog(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/comm")).is_ok_and(|c| c == b"tether-watch\n")
}

/// After a tree in its own cgroup was ended: remove the `tether-*` leaves nested below it (left
/// by `run`s inside the tree, killed with it), deepest first, and the cgroup itself when it is a
/// leaf of a `run` that is gone (`tether-PID-N` with no process PID), which nobody else would
/// remove.
fn remove_dead_leaves(dir: &std::path::Path) {
    let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let owner = name
        .strip_prefix("tether-")
        .and_then(|r| r.split('-').next())
        .and_then(|p| p.parse::<u32>().ok());
    match owner {
        Some(p) if family::parentage(p).is_none() => {
            let _ = cgroup::remove_tree(dir);
        }
        _ => cgroup::remove_tether_leaves(dir),
    }
}
