//! Event-driven waiting for any process: a pidfd becomes readable when its process exits, so a
//! wait is one `poll` with a timeout, never a sleep loop. The exit status is known for this
//! process's own children (read with `waitid(P_PIDFD, WNOWAIT)`, leaving the reaping to their
//! owner); for other processes the kernel does not tell, and the result says so.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::report::Report;
use crate::signal::{Resolved, Target};
use crate::sys::os::pidfd;
use crate::sys::os::supervise::{self as sysproc, RawExit};

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

/// `tether wait --json` with one target: what the wait found. With several targets, one of
/// these per target, under `targets` of `tether.wait-many/v1`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WaitReport {
    /// The PID waited for.
    pub pid: u32,
    /// Its identity, when it was alive at the start of the wait.
    pub identity: Option<String>,
    /// It existed but was gone before the wait began (an identity whose process had exited, or
    /// a PID whose process exited while it was being identified).
    pub already_gone: bool,
    /// It is gone now.
    pub exited: bool,
    /// The timeout passed while it was still alive.
    pub timed_out: bool,
    /// Its exit status, where the kernel gives it (own children only); `null` otherwise.
    pub exit: Option<ExitInfo>,
    /// Why `exit` is null, when it is.
    pub exit_unknown_reason: Option<String>,
    /// Time spent waiting for it, in milliseconds (until it exited, or until the wait ended).
    pub waited_ms: u64,
    /// How the exit was observed: always `pidfd` (poll on a pidfd; no polling loop).
    pub mechanism: String,
}

impl Report for WaitReport {
    const SCHEMA: &'static str = "tether.wait/v1";
}

impl WaitReport {
    fn new(pid: u32) -> Self {
        WaitReport {
            pid,
            identity: None,
            already_gone: false,
            exited: false,
            timed_out: false,
            exit: None,
            exit_unknown_reason: None,
            waited_ms: 0,
            mechanism: MECHANISM.into(),
        }
    }
}

const MECHANISM: &str = "pidfd";

/// When a wait on several targets is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitMode {
    /// When every target has exited (as `pidwait` and the shell's `wait` do).
    #[default]
    All,
    /// When the first target exits.
    Any,
}

/// `tether wait --json` with several targets.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WaitManyReport {
    /// `all` or `any`.
    pub mode: WaitMode,
    /// One report per target, in the order given.
    pub targets: Vec<WaitReport>,
    /// The wait is over: every target (`all`) or at least one (`any`) has exited.
    pub done: bool,
    /// The timeout passed first.
    pub timed_out: bool,
    /// Time spent waiting, in milliseconds.
    pub waited_ms: u64,
    /// How exits were observed: always `pidfd` (one poll over every pidfd; no polling loop).
    pub mechanism: String,
}

impl Report for WaitManyReport {
    const SCHEMA: &'static str = "tether.wait-many/v1";
}

/// Wait for `target` (a PID or an identity) to exit, up to `timeout` (`None` = forever).
///
/// A timeout is reported with `timed_out`, not as an error. A target that existed and is gone
/// (an identity whose process exited) is reported `already_gone`. Errors, before any waiting:
/// a bare PID that names no process (`NotFound`, also for a thread id), an identity whose PID
/// now belongs to another process (`IdentityMismatch`). See [`Target::resolve`].
pub fn wait(target: &Target, timeout: Option<Duration>) -> Result<WaitReport> {
    let mut r = wait_many(std::slice::from_ref(target), WaitMode::All, timeout)?;
    Ok(r.targets.remove(0))
}

/// Wait for several targets at once: until all have exited ([`WaitMode::All`]) or the first
/// has ([`WaitMode::Any`]), up to `timeout` for the whole wait. Every target is resolved before
/// the wait begins, so a bad one fails it at once (as for [`wait`]); then it is one `poll` over
/// all their pidfds per exit, never a scan.
pub fn wait_many(
    targets: &[Target],
    mode: WaitMode,
    timeout: Option<Duration>,
) -> Result<WaitManyReport> {
    if targets.is_empty() {
        return Err(Error::invalid("no process to wait for"));
    }
    let began = Instant::now();
    let deadline = timeout.map(|t| began + t);
    if targets.len() > 64 {
        sysproc::raise_nofile_limit();
    }
    let mut reports = Vec::with_capacity(targets.len());
    let mut fds: Vec<Option<OwnedFd>> = Vec::with_capacity(targets.len());
    for t in targets {
        let mut r = WaitReport::new(t.pid());
        match t.resolve()? {
            Resolved::Alive(fd, id) => {
                r.identity = Some(id.to_string());
                fds.push(Some(fd));
            }
            Resolved::Gone => {
                r.already_gone = true;
                r.exited = true;
                r.exit_unknown_reason = Some("the process was gone before the wait began".into());
                fds.push(None);
            }
        }
        reports.push(r);
    }
    let over = |reports: &[WaitReport]| match mode {
        WaitMode::All => reports.iter().all(|r| r.exited),
        WaitMode::Any => reports.iter().any(|r| r.exited),
    };
    let mut timed_out = false;
    while !over(&reports) {
        let pending: Vec<usize> = (0..reports.len()).filter(|&i| !reports[i].exited).collect();
        let polled: Vec<BorrowedFd<'_>> = pending
            .iter()
            .filter_map(|&i| fds[i].as_ref().map(|f| f.as_fd()))
            .collect();
        let ready = pidfd::poll_exits(&polled, deadline)?;
        if !ready.contains(&true) {
            timed_out = true;
            for &i in &pending {
                reports[i].timed_out = true;
                reports[i].waited_ms = began.elapsed().as_millis() as u64;
            }
            break;
        }
        for (k, &i) in pending.iter().enumerate() {
            if ready[k] {
                if let Some(fd) = &fds[i] {
                    record_exit(&mut reports[i], fd.as_fd(), began);
                }
            }
        }
    }
    Ok(WaitManyReport {
        mode,
        done: over(&reports),
        targets: reports,
        timed_out,
        waited_ms: began.elapsed().as_millis() as u64,
        mechanism: MECHANISM.into(),
    })
}

fn record_exit(report: &mut WaitReport, fd: BorrowedFd<'_>, began: Instant) {
    report.exited = true;
    report.waited_ms = began.elapsed().as_millis() as u64;
    // WNOWAIT: read the status of our own child without reaping it from its owner.
    match sysproc::waitid_pidfd(fd, true, true) {
        Ok(Some(raw)) => report.exit = Some(raw.into()),
        Ok(None) => {
            report.exit_unknown_reason = Some("the exit was not yet reported".into());
        }
        Err(_) => {
            report.exit_unknown_reason = Some(
                "not a child of this process: the kernel reports exit status only to the parent"
                    .into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::identity::ProcessIdentity;

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
        let t = Target::Pid(child.id());
        let r = wait(&t, Some(Duration::from_millis(50))).unwrap();
        assert!(r.timed_out && !r.exited && !r.already_gone);
        drop(child.stdin.take());
        let r = wait(&t, Some(Duration::from_secs(10))).unwrap();
        assert!(r.exited && !r.timed_out);
        assert_eq!(r.exit.unwrap().code, Some(3));
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
        let r = wait(&Target::Identity(id), None).unwrap();
        assert!(r.already_gone && r.exited);
    }

    #[test]
    fn identity_of_another_process_is_a_mismatch() {
        let mut child = piped_sh("read x");
        let mut id = ProcessIdentity::of(child.id()).unwrap();
        id.start_ticks += 1;
        id.pidfs_inode = None;
        let e = wait(&Target::Identity(id), Some(Duration::from_secs(5))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IdentityMismatch);
        drop(child.stdin.take());
        child.wait().unwrap();
    }

    #[test]
    fn thread_id_is_named_as_a_thread() {
        crate::sys::os::proc::with_thread_id(|tid| {
            let e = wait(&Target::Pid(tid), Some(Duration::from_millis(10))).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotFound);
            let want = format!("PID {tid} is a thread of process {}", std::process::id());
            assert!(e.message().contains(&want), "{e}");
        });
    }

    #[test]
    fn several_targets_all_and_any() {
        let mut a = piped_sh("read x; exit 4");
        let mut b = piped_sh("read x; exit 5");
        let targets = [Target::Pid(a.id()), Target::Pid(b.id())];
        // Any: the first exit ends the wait; the other is still running.
        drop(a.stdin.take());
        let r = wait_many(&targets, WaitMode::Any, Some(Duration::from_secs(20))).unwrap();
        assert!(r.done && !r.timed_out);
        assert_eq!(r.targets[0].exit.unwrap().code, Some(4));
        assert!(!r.targets[1].exited && !r.targets[1].timed_out);
        // All, with a deadline while one still runs: timed out, and the report says which.
        let r = wait_many(&targets, WaitMode::All, Some(Duration::from_millis(50))).unwrap();
        assert!(r.timed_out && !r.done);
        assert!(r.targets[0].exited && r.targets[1].timed_out);
        drop(b.stdin.take());
        let r = wait_many(&targets, WaitMode::All, Some(Duration::from_secs(20))).unwrap();
        assert!(r.done && !r.timed_out);
        assert_eq!(r.targets[1].exit.unwrap().code, Some(5));
        a.wait().unwrap();
        b.wait().unwrap();
        // One bad target fails the whole wait before it begins.
        let e = wait_many(&targets, WaitMode::Any, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
}
