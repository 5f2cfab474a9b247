//! Event-driven waiting for any process: a pidfd becomes readable when its process exits, so a
//! wait is one `poll` with a timeout, never a sleep loop. The exit status is known for this
//! process's own children (read with `waitid(P_PIDFD, WNOWAIT)`, leaving the reaping to their
//! owner); for other processes the kernel does not tell, and the result says so.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{ErrorKind, Result};
use crate::identity::ProcessIdentity;
use crate::report::Report;
use crate::signal::{validate_pid, Target};
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

/// `tether wait --json`: what a wait found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WaitReport {
    /// The PID waited for.
    pub pid: u32,
    /// Its identity, when it was alive at the start of the wait.
    pub identity: Option<String>,
    /// It was already gone (or its identity named an earlier process) before the wait began.
    pub already_gone: bool,
    /// It is gone now.
    pub exited: bool,
    /// The timeout passed while it was still alive.
    pub timed_out: bool,
    /// Its exit status, where the kernel gives it (own children only); `null` otherwise.
    pub exit: Option<ExitInfo>,
    /// Why `exit` is null, when it is.
    pub exit_unknown_reason: Option<String>,
    /// Time spent waiting, in milliseconds.
    pub waited_ms: u64,
    /// How the exit was observed: always `pidfd` (poll on a pidfd; no polling loop).
    pub mechanism: String,
}

impl Report for WaitReport {
    const SCHEMA: &'static str = "tether.wait/v1";
}

/// Wait for `target` (a PID or an identity) to exit, up to `timeout` (`None` = forever).
///
/// A target that is already gone, or whose identity now names a different process, is reported
/// `already_gone` (not an error). A timeout is reported with `timed_out`, not as an error.
pub fn wait(target: &Target, timeout: Option<Duration>) -> Result<WaitReport> {
    let began = Instant::now();
    let pid = target.pid();
    validate_pid(pid as i64)?;
    let mut report = WaitReport {
        pid,
        identity: None,
        already_gone: false,
        exited: false,
        timed_out: false,
        exit: None,
        exit_unknown_reason: None,
        waited_ms: 0,
        mechanism: "pidfd".into(),
    };
    let opened = match target {
        Target::Identity(id) => id.open().map(|fd| (fd, id.clone())),
        Target::Pid(p) | Target::Group(p) => {
            pidfd::open(*p).and_then(|fd| ProcessIdentity::of_pidfd(*p, &fd).map(|id| (fd, id)))
        }
    };
    let (fd, id) = match opened {
        Ok(x) => x,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IdentityMismatch) => {
            report.already_gone = true;
            report.exited = true;
            report.exit_unknown_reason = Some("the process was gone before the wait began".into());
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    report.identity = Some(id.to_string());
    let done = pidfd::wait_readable(fd.as_fd(), timeout)?;
    report.waited_ms = began.elapsed().as_millis() as u64;
    if !done {
        report.timed_out = true;
        return Ok(report);
    }
    report.exited = true;
    // WNOWAIT: read the status of our own child without reaping it from its owner.
    match sysproc::waitid_pidfd(fd.as_fd(), true, true) {
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
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_child_status_and_timeout() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "read x; exit 3"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let t = Target::Pid(child.id());
        let r = wait(&t, Some(Duration::from_millis(50))).unwrap();
        assert!(r.timed_out && !r.exited && !r.already_gone);
        drop(child.stdin.take());
        let r = wait(&t, Some(Duration::from_secs(10))).unwrap();
        assert!(r.exited && !r.timed_out);
        assert_eq!(r.exit.unwrap().code, Some(3));
        // WNOWAIT left the reaping to the owner.
        assert_eq!(child.wait().unwrap().code(), Some(3));
        let r = wait(&t, Some(Duration::from_secs(1))).unwrap();
        assert!(r.already_gone && r.exit.is_none());
    }

    #[test]
    fn stale_identity_is_already_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let id = ProcessIdentity::of(child.id()).unwrap();
        child.wait().unwrap();
        let r = wait(&Target::Identity(id), None).unwrap();
        assert!(r.already_gone && r.exited);
    }
}
