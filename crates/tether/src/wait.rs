//! Event-driven waiting for any process ([`crate::Process::wait`], [`wait_all`],
//! [`wait_many`]): a pidfd becomes readable when its process exits, so a wait is one `poll`
//! with a timeout, never a sleep loop. The exit status is known for this
//! process's own children (read with `waitid(P_PIDFD, WNOWAIT)`, leaving the reaping to their
//! owner); for other processes the kernel does not tell, and the result says so.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::identity::ProcessIdentity;
use crate::process::{Process, ProcessRef};
use crate::ready::Cancel;
use crate::sys::os::pidfd;
use crate::sys::os::supervise::{self as sysproc, Hang, RawExit, Reap};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ExitInfo {
    /// Exit code, when it exited normally.
    pub code: Option<i32>,
    /// Terminating signal number, when a signal killed it.
    pub signal: Option<i32>,
    /// Whether it dumped core.
    pub core_dumped: bool,
}

impl ExitInfo {
    /// The code a POSIX shell shows for it: the exit code, or 128 + signal.
    pub fn shell_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 0,
        }
    }
}

impl From<RawExit> for ExitInfo {
    fn from(r: RawExit) -> Self {
        match r {
            RawExit::Code(c) => ExitInfo {
                code: Some(c),
                signal: None,
                core_dumped: false,
            },
            RawExit::Signal(s, core) => ExitInfo {
                code: None,
                signal: Some(s),
                core_dumped: core,
            },
        }
    }
}

/// What a wait found for one process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitOutcome {
    /// The PID waited for.
    pub pid: u32,
    /// Its identity, when it was alive at the start of the wait.
    pub identity: Option<ProcessIdentity>,
    /// How the wait ended for it.
    pub state: WaitState,
    /// Time spent waiting for it: until it exited, or until the wait timed out (zero when it
    /// was gone before the wait began, or still running when a wait for any target ended).
    pub waited: Duration,
}

/// How a wait ended for one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitState {
    /// It existed but was gone before the wait began (an identity whose process had exited,
    /// or a PID whose process exited while it was being identified).
    AlreadyGone,
    /// It exited during the wait.
    Exited(ExitStatus),
    /// The timeout passed while it was still alive.
    TimedOut,
    /// Still running when the wait ended because another target exited ([`WaitMode::Any`]).
    Running,
}

/// The exit status of a process that exited during a wait, as far as the kernel tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitStatus {
    /// How it ended (the kernel tells the parent only: our own children).
    Known(ExitInfo),
    /// Not a child of this process: the kernel reports exit status only to the parent.
    NotAChild,
    /// The exit was not yet reported.
    NotYetReported,
}

impl WaitOutcome {
    /// The outcome of a wait for a process known to be gone before it began (for example one
    /// named by a stale PID file): nothing to wait for.
    pub fn already_gone(pid: u32, identity: Option<ProcessIdentity>) -> WaitOutcome {
        WaitOutcome {
            pid,
            identity,
            state: WaitState::AlreadyGone,
            waited: Duration::ZERO,
        }
    }
    /// It is gone: it exited during the wait, or before it began.
    pub fn exited(&self) -> bool {
        matches!(self.state, WaitState::AlreadyGone | WaitState::Exited(_))
    }
    /// The timeout passed while it was still alive.
    pub fn timed_out(&self) -> bool {
        self.state == WaitState::TimedOut
    }
    /// How it ended, when the kernel said.
    pub fn exit(&self) -> Option<ExitInfo> {
        match self.state {
            WaitState::Exited(ExitStatus::Known(e)) => Some(e),
            _ => None,
        }
    }
}

/// When a wait on several targets is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WaitMode {
    /// When every target has exited (as `pidwait` and the shell's `wait` do).
    #[default]
    All,
    /// When the first target exits.
    Any,
}

/// What a wait on several processes found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitManyOutcome {
    /// All or any.
    pub mode: WaitMode,
    /// One outcome per target, in the order given.
    pub targets: Vec<WaitOutcome>,
    /// The wait is over: every target (`All`) or at least one (`Any`) has exited.
    pub done: bool,
    /// The timeout passed first.
    pub timed_out: bool,
    /// Time spent waiting.
    pub waited: Duration,
}

/// Wait for several processes at once: until all have exited ([`WaitMode::All`]) or the first
/// has ([`WaitMode::Any`]), up to `timeout` for the whole wait (`None` = forever). One `poll`
/// over their pidfds per exit, never a scan. A timeout is reported (`timed_out`, and
/// [`WaitState::TimedOut`] for each that still runs), not an error. A process that had
/// already exited when the wait began is [`WaitState::Exited`] at once.
///
/// ```
/// use std::time::Duration;
/// use tether::wait::{wait_all, WaitMode};
/// use tether::Process;
/// let mut a = std::process::Command::new("true").spawn().unwrap();
/// let mut b = std::process::Command::new("false").spawn().unwrap();
/// let procs = [Process::open(a.id()).unwrap(), Process::open(b.id()).unwrap()];
/// let r = wait_all(&procs, WaitMode::All, Some(Duration::from_secs(30))).unwrap();
/// assert!(r.done);
/// assert_eq!(r.targets[1].exit().unwrap().code, Some(1)); // our child: the status is known
/// a.wait().unwrap();
/// b.wait().unwrap();
/// ```
pub fn wait_all(
    procs: &[Process],
    mode: WaitMode,
    timeout: Option<Duration>,
) -> Result<WaitManyOutcome> {
    let began = Instant::now();
    let slots = procs.iter().map(|p| (p.pid(), Some(p))).collect();
    uncancelled(wait_slots(slots, mode, timeout, began, None))
}

/// [`wait_all`] that another thread can end early: `Ok(None)` when `cancel` is cancelled
/// (before or during the wait; its eventfd is polled with the pidfds, so at once).
pub fn wait_all_cancellable(
    procs: &[Process],
    mode: WaitMode,
    timeout: Option<Duration>,
    cancel: &Cancel,
) -> Result<Option<WaitManyOutcome>> {
    let began = Instant::now();
    let slots = procs.iter().map(|p| (p.pid(), Some(p))).collect();
    wait_slots(slots, mode, timeout, began, Some(cancel))
}

/// The outcome of a wait that had no canceller.
fn uncancelled(r: Result<Option<WaitManyOutcome>>) -> Result<WaitManyOutcome> {
    r?.ok_or_else(|| {
        Error::new(
            crate::ErrorKind::System,
            "a wait without canceller was cancelled",
        )
    })
}

/// [`wait_all`] for processes named by PID or identity, each opened first, so that a bad one
/// fails the wait before it begins: a bare PID that names no process (`NotFound`, also for a
/// thread id), an identity whose PID now belongs to another process (`IdentityMismatch`). One
/// that existed and is gone (an identity whose process exited) is [`WaitState::AlreadyGone`]
/// ([`Process::open_unless_gone`]).
///
/// Each target is held by a pidfd while the wait lasts: for more targets than the open-files
/// limit allows, raise it first ([`crate::limits::raise_open_files`]).
pub fn wait_many(
    targets: &[ProcessRef],
    mode: WaitMode,
    timeout: Option<Duration>,
) -> Result<WaitManyOutcome> {
    let began = Instant::now();
    let opened = targets
        .iter()
        .map(Process::open_unless_gone)
        .collect::<Result<Vec<_>>>()?;
    let slots = targets
        .iter()
        .zip(&opened)
        .map(|(t, p)| (t.pid(), p.as_ref()))
        .collect();
    uncancelled(wait_slots(slots, mode, timeout, began, None))
}

/// The one wait: `(pid, the open process or None when it was already gone)` per target.
/// `None` when `cancel` was cancelled.
fn wait_slots(
    slots: Vec<(u32, Option<&Process>)>,
    mode: WaitMode,
    timeout: Option<Duration>,
    began: Instant,
    cancel: Option<&Cancel>,
) -> Result<Option<WaitManyOutcome>> {
    if slots.is_empty() {
        return Err(Error::invalid("no process to wait for"));
    }
    let deadline = timeout.map(|t| began + t);
    let mut outcomes: Vec<WaitOutcome> = slots
        .iter()
        .map(|(pid, p)| WaitOutcome {
            pid: *pid,
            identity: p.map(|p| p.identity().clone()),
            state: match p {
                Some(_) => WaitState::Running,
                None => WaitState::AlreadyGone,
            },
            waited: Duration::ZERO,
        })
        .collect();
    let over = |outcomes: &[WaitOutcome]| match mode {
        WaitMode::All => outcomes.iter().all(WaitOutcome::exited),
        WaitMode::Any => outcomes.iter().any(WaitOutcome::exited),
    };
    let mut timed_out = false;
    while !over(&outcomes) {
        let pending: Vec<usize> = (0..outcomes.len())
            .filter(|&i| !outcomes[i].exited())
            .collect();
        if cancel.is_some_and(Cancel::is_cancelled) {
            return Ok(None);
        }
        let mut polled: Vec<BorrowedFd<'_>> = pending
            .iter()
            .filter_map(|&i| slots[i].1.map(|p| p.as_fd()))
            .collect();
        // Last, after the pidfds, so that `ready[k]` still lines up with `pending[k]`.
        if let Some(c) = cancel {
            polled.push(c.as_fd());
        }
        let ready = pidfd::poll_exits(&polled, deadline)?;
        if cancel.is_some_and(Cancel::is_cancelled) {
            return Ok(None);
        }
        if !ready.contains(&true) {
            timed_out = true;
            for &i in &pending {
                outcomes[i].state = WaitState::TimedOut;
                outcomes[i].waited = began.elapsed();
            }
            break;
        }
        for (k, &i) in pending.iter().enumerate() {
            if ready[k] {
                if let Some(p) = slots[i].1 {
                    outcomes[i].state = WaitState::Exited(exit_status(p.as_fd()));
                    outcomes[i].waited = began.elapsed();
                }
            }
        }
    }
    Ok(Some(WaitManyOutcome {
        mode,
        done: over(&outcomes),
        targets: outcomes,
        timed_out,
        waited: began.elapsed(),
    }))
}

/// The status of an exited process, read without reaping it (WNOWAIT leaves that to its owner).
fn exit_status(fd: BorrowedFd<'_>) -> ExitStatus {
    match sysproc::waitid_pidfd(fd, Hang::NoHang, Reap::Keep) {
        Ok(Some(raw)) => ExitStatus::Known(raw.into()),
        Ok(None) => ExitStatus::NotYetReported,
        Err(_) => ExitStatus::NotAChild,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::identity::ProcessIdentity;

    /// One target, as `tether wait` waits for it.
    fn wait(t: &ProcessRef, timeout: Option<Duration>) -> Result<WaitOutcome> {
        let mut r = wait_many(std::slice::from_ref(t), WaitMode::All, timeout)?;
        Ok(r.targets.remove(0))
    }

    fn piped_sh(script: &str) -> std::process::Child {
        std::process::Command::new("sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    #[test]
    fn own_child_status_and_timeout() {
        let mut child = piped_sh("read x; exit 3");
        let t = ProcessRef::Pid(child.id());
        let r = wait(&t, Some(Duration::from_millis(50))).unwrap();
        assert_eq!(r.state, WaitState::TimedOut);
        assert!(r.timed_out() && !r.exited());
        drop(child.stdin.take());
        let r = wait(&t, Some(Duration::from_secs(10))).unwrap();
        assert!(r.exited() && !r.timed_out());
        assert_eq!(r.exit().unwrap().code, Some(3));
        // WNOWAIT left the reaping to the owner.
        assert_eq!(child.wait().unwrap().code(), Some(3));
        // Reaped, its PID names nothing: a bare PID that names no process is an error.
        let e = wait(&t, Some(Duration::from_secs(1))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message().contains("no such process"), "{e}");
    }

    #[test]
    fn stale_identity_is_already_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let id = ProcessIdentity::of(child.id()).unwrap();
        child.wait().unwrap();
        let r = wait(&ProcessRef::Identity(id), None).unwrap();
        assert_eq!(r.state, WaitState::AlreadyGone);
        assert!(r.exited() && r.identity.is_none());
    }

    #[test]
    fn identity_of_another_process_is_a_mismatch() {
        let mut child = piped_sh("read x");
        let mut id = ProcessIdentity::of(child.id()).unwrap();
        id.start_ticks += 1;
        id.pidfs_inode = None;
        let e = wait(&ProcessRef::Identity(id), Some(Duration::from_secs(5))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IdentityMismatch);
        drop(child.stdin.take());
        child.wait().unwrap();
    }

    #[test]
    fn thread_id_is_named_as_a_thread() {
        crate::sys::os::proc::with_thread_id(|tid| {
            let e = wait(&ProcessRef::Pid(tid), Some(Duration::from_millis(10))).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotFound);
            let want = format!("PID {tid} is a thread of process {}", std::process::id());
            assert!(e.message().contains(&want), "{e}");
        });
    }

    #[test]
    fn several_targets_all_and_any() {
        let mut a = piped_sh("read x; exit 4");
        let mut b = piped_sh("read x; exit 5");
        let targets = [ProcessRef::Pid(a.id()), ProcessRef::Pid(b.id())];
        // Any: the first exit ends the wait; the other is still running.
        drop(a.stdin.take());
        let r = wait_many(&targets, WaitMode::Any, Some(Duration::from_secs(20))).unwrap();
        assert!(r.done && !r.timed_out);
        assert_eq!(r.targets[0].exit().unwrap().code, Some(4));
        assert_eq!(r.targets[1].state, WaitState::Running);
        // All, with a deadline while one still runs: timed out, and the report says which.
        let r = wait_many(&targets, WaitMode::All, Some(Duration::from_millis(50))).unwrap();
        assert!(r.timed_out && !r.done);
        assert!(r.targets[0].exited() && r.targets[1].timed_out());
        drop(b.stdin.take());
        let r = wait_many(&targets, WaitMode::All, Some(Duration::from_secs(20))).unwrap();
        assert!(r.done && !r.timed_out);
        assert_eq!(r.targets[1].exit().unwrap().code, Some(5));
        a.wait().unwrap();
        b.wait().unwrap();
        // One bad target fails the whole wait before it begins.
        let e = wait_many(&targets, WaitMode::Any, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
}
