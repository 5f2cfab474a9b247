//! Process identity: a PID plus what makes it unique over time, so that a reused PID is never
//! mistaken for the process it once named.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::sys::os::{clock, pidfd, proc::ProcReader};

/// PID + start time in clock ticks since boot + boot id (+ the pidfs inode of its pidfd, on
/// kernels that have pidfs). Two processes never share all of these within one boot.
///
/// The short string form is `PID:START_TICKS:BOOT8[:INODE]`, e.g. `4242:1234567:9f1c0a3e`:
///
/// ```
/// use tether::ProcessIdentity;
/// let id: ProcessIdentity = "4242:1234567:9f1c0a3e:88".parse().unwrap();
/// assert_eq!(id.pid, 4242);
/// assert_eq!(id.to_string(), "4242:1234567:9f1c0a3e:88");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProcessIdentity {
    /// Process id, in the PID namespace of the observer.
    pub pid: u32,
    /// Start time in clock ticks since boot (field 22 of /proc/PID/stat).
    pub start_ticks: u64,
    /// Kernel boot id, lower-case hex without dashes; the string form keeps its first 8 digits.
    pub boot_id: String,
    /// Inode of the process's pidfd on pidfs (Linux 6.9+); unique per process within a boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfs_inode: Option<u64>,
}

/// The answer of [`ProcessIdentity::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IdentityCheck {
    /// The process is the one the identity was taken from, and it is alive (or a zombie).
    Same,
    /// No process has that PID (or the machine rebooted since).
    Gone,
    /// The PID now belongs to a different process.
    Reused,
}

impl ProcessIdentity {
    /// An identity from a PID and a start time read elsewhere, on this boot, without a pidfs inode.
    pub fn from_parts(pid: u32, start_ticks: u64) -> Self {
        ProcessIdentity {
            pid,
            start_ticks,
            boot_id: clock::boot_id().to_string(),
            pidfs_inode: None,
        }
    }

    /// Take the identity of the live process `pid` (to keep the pidfd it was taken on too,
    /// open a [`crate::Process`] instead).
    ///
    /// Errors: `NotFound` when no process has that PID, or it exited before it could be
    /// identified; `PermissionDenied` when its /proc entry is hidden from this user.
    pub fn of(pid: u32) -> Result<Self> {
        let fd = pidfd::open(pid)?;
        Self::of_pidfd(pid, &fd)
    }

    /// Take the identity of the process behind an open pidfd (see [`ProcessIdentity::of`]).
    pub(crate) fn of_pidfd(pid: u32, fd: &OwnedFd) -> Result<Self> {
        let start_ticks = start_on_pidfd(pid, fd)?;
        Ok(ProcessIdentity {
            pid,
            start_ticks,
            boot_id: clock::boot_id().to_string(),
            pidfs_inode: pidfd::inode(fd.as_fd()),
        })
    }

    /// Same, Gone or Reused, as of now. Gone only when the kernel says no such process exists
    /// (or the machine rebooted since); a process of another user is as much Same as our own.
    ///
    /// Errors: anything that prevents an answer (out of file descriptors, /proc unreadable).
    pub fn check(&self) -> Result<IdentityCheck> {
        match self.open() {
            Ok(_) => Ok(IdentityCheck::Same),
            Err(e) if e.kind() == ErrorKind::IdentityMismatch => Ok(IdentityCheck::Reused),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(IdentityCheck::Gone),
            Err(e) => Err(e),
        }
    }

    /// Open a pidfd on the process and verify, on that pidfd, that it is this identity.
    /// Anything then sent through the returned pidfd reaches this process or nobody.
    ///
    /// Errors: `NotFound` when it is gone, `IdentityMismatch` when the PID was reused.
    /// [`crate::Process::from_identity`] is the public form.
    pub(crate) fn open(&self) -> Result<OwnedFd> {
        if !self.same_boot() {
            return Err(Error::not_found(format!(
                "process {} belonged to an earlier boot",
                self.pid
            )));
        }
        let fd = pidfd::open(self.pid).map_err(|e| match e.kind() {
            // It existed when the identity was taken; now the PID names nothing (or a thread).
            ErrorKind::NotFound => Error::not_found(format!("process {} has exited", self.pid)),
            _ => e,
        })?;
        if let (Some(want), Some(have)) = (self.pidfs_inode, pidfd::inode(fd.as_fd())) {
            if want != have {
                return Err(self.reused());
            }
        }
        if start_on_pidfd(self.pid, &fd)? == self.start_ticks {
            Ok(fd)
        } else {
            Err(self.reused())
        }
    }

    /// Whether the identity was taken on this boot (an identity without a boot id matches any).
    pub(crate) fn same_boot(&self) -> bool {
        let here = clock::boot_id();
        self.boot_id.is_empty() || here.is_empty() || here.starts_with(&self.boot_id)
    }

    fn reused(&self) -> Error {
        Error::new(
            ErrorKind::IdentityMismatch,
            format!(
                "PID {} now belongs to a different process than identity {self}",
                self.pid
            ),
        )
    }
}

/// The start time of the process behind `fd`, read from /proc/`pid`/stat and confirmed on the
/// pidfd: the stat read happens after the pidfd was opened, and the pidfd is checked afterwards.
/// If its process is still running, or was a zombie (whose PID cannot be handed out yet), the
/// stat we read was its own.
///
/// `NotFound` only when the pidfd says its process exited (and the PID no longer shows it);
/// `PermissionDenied` when the process runs but /proc hides it (`hidepid`).
fn start_on_pidfd(pid: u32, fd: &OwnedFd) -> Result<u64> {
    let first = read_start(pid);
    let alive = pidfd::is_alive(fd)?;
    match first {
        Ok((ticks, state)) if alive || matches!(state, 'Z' | 'X') => Ok(ticks),
        // It exited after the read. While it is an unreaped zombie its PID stays its own, so a
        // second read that shows a zombie with the same start time still describes it.
        Ok((ticks, _)) => match read_start(pid) {
            Ok((again, 'Z' | 'X')) if again == ticks => Ok(ticks),
            _ => Err(Error::not_found(format!(
                "process {pid} exited while being identified"
            ))),
        },
        Err(e) if e.kind() == ErrorKind::NotFound && alive => Err(Error::new(
            ErrorKind::PermissionDenied,
            format!("process {pid} is running, but /proc/{pid} is hidden from this user"),
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::not_found(format!(
            "process {pid} exited while being identified"
        ))),
        Err(e) => Err(e),
    }
}

/// Start time and state letter of `pid`.
pub(crate) fn read_start(pid: u32) -> Result<(u64, char)> {
    let mut r = ProcReader::new().map_err(|e| Error::from_io("opening /proc", &e))?;
    r.stat(pid).map(|s| (s.starttime, s.state)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) {
            Error::not_found(format!("no such process {pid}"))
        } else {
            Error::from_io(format_args!("reading /proc/{pid}/stat"), &e)
        }
    })
}

impl fmt::Display for ProcessIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let boot = &self.boot_id[..self.boot_id.len().min(8)];
        write!(f, "{}:{}:{}", self.pid, self.start_ticks, boot)?;
        if let Some(ino) = self.pidfs_inode {
            write!(f, ":{ino}")?;
        }
        Ok(())
    }
}

impl FromStr for ProcessIdentity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "bad identity '{s}': expected PID:START_TICKS:BOOT_ID[:INODE] as printed by `tether info`"
            ))
        };
        let parts: Vec<&str> = s.split(':').collect();
        if !(3..=4).contains(&parts.len()) {
            return Err(bad());
        }
        let pid: u32 = parts[0].parse().map_err(|_| bad())?;
        if pid == 0 || pid > i32::MAX as u32 {
            return Err(bad());
        }
        let start_ticks = parts[1].parse().map_err(|_| bad())?;
        let boot_id = parts[2].to_ascii_lowercase();
        if boot_id.is_empty() || !boot_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let pidfs_inode = match parts.get(3) {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None => None,
        };
        Ok(ProcessIdentity {
            pid,
            start_ticks,
            boot_id,
            pidfs_inode,
        })
    }
}

/// Serialising identities held by records in their string form (`PID:START:BOOT8[:INODE]`),
/// as the JSON reports carry them.
pub(crate) mod serde_string {
    use super::ProcessIdentity;

    /// `None` as `null`.
    pub fn option<S: serde::Serializer>(
        id: &Option<ProcessIdentity>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.collect_str(id),
            None => s.serialize_none(),
        }
    }

    /// `None` as an empty string.
    pub fn or_empty<S: serde::Serializer>(
        id: &Option<ProcessIdentity>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.collect_str(id),
            None => s.serialize_str(""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_round_trip_and_errors() {
        let id: ProcessIdentity = "10:20:abcdef01".parse().unwrap();
        assert_eq!((id.pid, id.start_ticks, id.pidfs_inode), (10, 20, None));
        assert_eq!(id.to_string(), "10:20:abcdef01");
        for bad in [
            "",
            "10",
            "10:20",
            "x:1:ab",
            "0:1:ab",
            "10:-1:ab",
            "10:1:zz",
            "1:2:ab:c",
            "1:2:ab:3:4",
        ] {
            let e = bad.parse::<ProcessIdentity>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn own_identity_is_same() {
        let id = ProcessIdentity::of(std::process::id()).unwrap();
        assert_eq!(id.check().unwrap(), IdentityCheck::Same);
        let parsed: ProcessIdentity = id.to_string().parse().unwrap();
        assert_eq!(parsed.check().unwrap(), IdentityCheck::Same);
        let mut other = id.clone();
        other.start_ticks += 1;
        assert_eq!(other.check().unwrap(), IdentityCheck::Reused);
        let mut reboot = id;
        reboot.boot_id = "00000000".into();
        assert_eq!(reboot.check().unwrap(), IdentityCheck::Gone);
    }

    #[test]
    fn exited_child_is_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let id = ProcessIdentity::of(child.id()).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(id.check().unwrap(), IdentityCheck::Gone);
    }
}
