//! pidfds: stable handles on processes. A signal sent through a pidfd reaches the process the
//! pidfd was opened on, or nobody; never a later process that got the same PID.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The `f_type` of pidfs (kernel 6.9+), where every pidfd has an inode unique to its process.
const PIDFS_MAGIC: i64 = 0x5049_4446;

/// Open a pidfd on `pid`.
///
/// Errors: `NotFound` when no process has that PID (ESRCH), also when `pid` is the id of a
/// thread rather than of a process (the message then names the process); anything else
/// (EMFILE, ENOSYS, ...) is an error of its own kind, never "not found".
pub fn open(pid: u32) -> Result<OwnedFd> {
    let p = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| Error::invalid(format!("invalid PID {pid}")))?;
    match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => Ok(fd),
        Err(rustix::io::Errno::SRCH) => Err(Error::not_found(format!("no such process {pid}"))),
        // pidfd_open refuses a thread id that is not a thread-group leader: EINVAL before
        // Linux 6.9, ENOENT since. /proc still answers for the thread and names its process.
        Err(e @ (rustix::io::Errno::INVAL | rustix::io::Errno::NOENT)) => {
            match super::proc::ProcReader::new().and_then(|mut r| r.tgid(pid)) {
                Ok(tgid) if tgid != pid => Err(Error::not_found(format!(
                    "PID {pid} is a thread of process {tgid}, not a process"
                ))),
                Ok(_) => Err(Error::from_errno(format_args!("opening process {pid}"), e)),
                Err(_) => Err(Error::not_found(format!("no such process {pid}"))),
            }
        }
        Err(e) => Err(Error::from_errno(format_args!("opening process {pid}"), e)),
    }
}

/// The pidfs inode of a pidfd, or `None` on kernels where pidfds are anonymous inodes
/// (which all share one inode number, so it identifies nothing).
pub fn inode(fd: BorrowedFd<'_>) -> Option<u64> {
    // Whether pidfds live on pidfs is a property of the kernel: ask once.
    static ON_PIDFS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let on_pidfs =
        *ON_PIDFS.get_or_init(|| rustix::fs::fstatfs(fd).is_ok_and(|fs| fs.f_type == PIDFS_MAGIC));
    if !on_pidfs {
        return None;
    }
    rustix::fs::fstat(fd).ok().map(|st| st.st_ino)
}

/// The pidfs inode of the process `pid`, or `None` (no pidfs, or no such process).
pub fn inode_of(pid: u32) -> Option<u64> {
    open(pid).ok().and_then(|fd| inode(fd.as_fd()))
}

/// Send signal `sig` (0 probes only) through a pidfd.
pub fn send_signal(fd: BorrowedFd<'_>, sig: i32) -> std::result::Result<(), rustix::io::Errno> {
    // rustix's typed Signal does not cover real-time signals, so call the syscall directly.
    // SAFETY: the fd is valid for the call; a null siginfo is allowed; flags are 0.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    super::errno_result(rc)
}

/// Block until the process behind `fd` exits, or `timeout` passes (`None` waits forever).
/// Returns `true` when it exited. Event-driven: a pidfd becomes readable at exit.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> Result<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    Ok(poll_exits(&[fd], deadline)?[0])
}

/// One `poll` over several pidfds: blocks until at least one of their processes has exited, or
/// `deadline` passes (`None` waits forever). Returns, per fd, whether its process has exited;
/// all `false` means the deadline passed.
pub fn poll_exits(fds: &[BorrowedFd<'_>], deadline: Option<Instant>) -> Result<Vec<bool>> {
    let mut polled: Vec<_> = fds
        .iter()
        .map(|fd| rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN))
        .collect();
    loop {
        let ts = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            rustix::time::Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            }
        });
        match rustix::event::poll(&mut polled, ts.as_ref()) {
            Ok(_) => return Ok(polled.iter().map(|p| !p.revents().is_empty()).collect()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::from_errno("waiting on pidfds", e)),
        }
    }
}

/// Whether the process behind `fd` is still running: its pidfd is not yet readable (it becomes
/// readable when the process exits, zombie or reaped). Nothing is sent, so the answer does not
/// depend on permission to signal it: a process of another user is alive, not gone. An error
/// here (rare: the poll itself failed) is an error, never "gone".
pub fn is_alive(fd: impl AsFd) -> Result<bool> {
    Ok(!poll_exits(&[fd.as_fd()], Some(Instant::now()))?[0])
}

/// Whether this caller may signal the process behind `fd`: signal 0 through the pidfd, which
/// checks permission and existence and delivers nothing. `Ok(false)` when the process is gone
/// (reaped); `PermissionDenied` when it belongs to another user.
pub fn may_signal(fd: BorrowedFd<'_>, pid: u32) -> Result<bool> {
    match send_signal(fd, 0) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(rustix::io::Errno::PERM) => Err(Error::new(
            crate::error::ErrorKind::PermissionDenied,
            format!("not permitted to signal process {pid}: it belongs to another user"),
        )),
        Err(e) => Err(Error::from_errno(format_args!("checking process {pid}"), e)),
    }
}
