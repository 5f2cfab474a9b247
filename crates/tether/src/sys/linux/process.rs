//! Facts about the calling process and group-wide signals.

/// The parent's PID, or `None` when the parent lies outside our PID namespace.
pub fn parent_pid() -> Option<u32> {
    rustix::process::getppid().map(|p| p.as_raw_nonzero().get() as u32)
}

/// Our process group id, or `None` when the group lies outside our PID namespace (the kernel
/// then reports 0; rustix asserts it is positive, so ask libc).
pub fn own_pgrp() -> Option<u32> {
    // SAFETY: getpgrp has no preconditions.
    let g = unsafe { libc::getpgrp() };
    (g > 0).then_some(g as u32)
}

/// The lowest and highest real-time signal numbers, as the C library reserves them.
pub fn rt_range() -> (i32, i32) {
    (libc::SIGRTMIN(), libc::SIGRTMAX())
}

/// `kill(-pgid, sig)`. Refuses `pgid` 0 and 1 itself, so that no caller can reach "my own group"
/// or "every process" through it.
pub fn kill_group(pgid: u32, sig: i32) -> Result<(), rustix::io::Errno> {
    if pgid <= 1 || pgid > i32::MAX as u32 {
        return Err(rustix::io::Errno::INVAL);
    }
    // SAFETY: plain syscall; the pid argument is a negative group id below -1 (checked above).
    let rc = unsafe { libc::kill(-(pgid as i32), sig) };
    super::errno_result(rc.into())
}

/// Our session id, or `None` when the session leader lies outside our PID namespace (the
/// kernel then reports 0).
pub fn own_sid() -> Option<u32> {
    // SAFETY: getsid(0) asks about the caller and has no preconditions.
    let s = unsafe { libc::getsid(0) };
    (s > 0).then_some(s as u32)
}
