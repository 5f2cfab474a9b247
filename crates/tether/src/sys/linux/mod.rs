//! Linux backend: /proc parsing, pidfds, clocks, user names, cgroups, process supervision.

pub mod cgroup;
pub mod clock;
pub mod detach;
pub mod event;
pub mod family;
pub mod fd;
pub mod flock;
mod helper;
pub mod inotify;
pub mod keeper;
pub mod pidfd;
pub mod proc;
pub mod process;
pub mod reaper;
pub mod sock_diag;
pub mod spawn;
pub mod supervise;
pub mod users;
pub mod watchdog;

/// The outcome of a raw syscall that returns 0 or -1 with `errno`.
pub(crate) fn errno_result(rc: i64) -> Result<(), rustix::io::Errno> {
    if rc == 0 {
        Ok(())
    } else {
        Err(rustix::io::Errno::from_raw_os_error(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        ))
    }
}
