//! What an init process needs beyond supervision: reaping any child, its own parent-death
//! signal, and whether it holds the terminal's foreground.

use std::io;

use super::supervise::{exit_of, RawExit};

/// Reap one exited child of this process, whichever it is (`waitid(P_ALL, WEXITED | WNOHANG |
/// __WALL)`): `Ok(None)` when no child has exited (or there is no child at all).
pub fn reap_any() -> io::Result<Option<(u32, RawExit)>> {
    loop {
        // SAFETY: zeroed siginfo is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer; P_ALL ignores the id.
        let rc = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::__WALL,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => return Ok(None),
                _ => return Err(e),
            }
        }
        // SAFETY: si_pid is valid after a successful waitid.
        let pid = unsafe { info.si_pid() };
        if pid <= 0 {
            return Ok(None);
        }
        return Ok(Some((pid as u32, exit_of(&info))));
    }
}

/// PR_SET_PDEATHSIG on this process: `sig` is delivered to it when its parent (thread) exits.
pub fn set_parent_death_signal(sig: i32) -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this process's group is the foreground process group of the terminal on stdin (so
/// that handing the foreground to a child takes it from nobody else). Also true when both lie
/// outside this PID namespace (the kernel reports 0 for each): it cannot be told apart there.
pub fn holds_terminal_foreground() -> bool {
    // SAFETY: tcgetpgrp and getpgrp only query.
    let (fg, own) = unsafe { (libc::tcgetpgrp(libc::STDIN_FILENO), libc::getpgrp()) };
    fg >= 0 && fg == own
}
