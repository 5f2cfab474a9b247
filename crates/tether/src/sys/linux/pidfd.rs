//! pidfds: stable handles on processes. A signal sent through a pidfd reaches the process the
//! pidfd was opened on, or nobody; never a later process that got the same PID.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::error::{Error, Result};

/// The `f_type` of pidfs (kernel 6.9+), where every pidfd has an inode unique to its process.
const PIDFS_MAGIC: i64 = 0x5049_4446;

/// Open a pidfd on `pid`. `NotFound` when no such process exists.
pub fn open(pid: u32) -> Result<OwnedFd> {
    let p = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| Error::invalid(format!("invalid PID {pid}")))?;
    rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
        .map_err(|e| Error::from_errno(format_args!("opening process {pid}"), e))
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
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        let ts = match deadline {
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                Some(rustix::time::Timespec {
                    tv_sec: left.as_secs() as _,
                    tv_nsec: left.subsec_nanos() as _,
                })
            }
        };
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::from_errno("waiting on pidfd", e)),
        }
    }
}

/// Whether the process behind `fd` is still alive (signal 0 through the pidfd).
pub fn is_alive(fd: impl AsFd) -> bool {
    send_signal(fd.as_fd(), 0).is_ok()
        && !wait_readable(fd.as_fd(), Some(Duration::ZERO)).unwrap_or(false)
}
