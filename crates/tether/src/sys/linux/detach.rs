//! Starting a detached daemon: a program in a new session whose parent is init (or the nearest
//! subreaper), not the caller. Used for one thing, the per-job supervisor of [`crate::job`],
//! which must outlive the command that started it; everything else a caller starts is a
//! contained [`crate::Command`], which never outlives its owner by design.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, ChildStdout, Command};

/// Spawn `cmd` detached: the child calls `setsid` and forks once more; the intermediate
/// process exits at once (it is reaped here before returning) and the grandchild execs the
/// program, in a session of its own, reparented away from the caller. Its standard streams are
/// the ones set on `cmd`. std's exec-error pipe still reports an exec failure of the
/// grandchild (it is inherited across the fork and closed by the exec). Returns the pipes
/// (`stdin`, `stdout`, when piped) that reach the daemon.
pub fn spawn_detached(cmd: &mut Command) -> io::Result<(Option<ChildStdin>, Option<ChildStdout>)> {
    // SAFETY: the closure runs in the forked child before exec and calls only async-signal-safe
    // functions (setsid, fork, _exit).
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            match libc::fork() {
                -1 => Err(io::Error::last_os_error()),
                0 => Ok(()),
                _ => libc::_exit(0),
            }
        });
    }
    let mut child = cmd.spawn()?;
    // Taken first: `wait` closes the child's stdin.
    let pipes = (child.stdin.take(), child.stdout.take());
    // The intermediate exits at once; reap it so that no zombie is left with the caller.
    child.wait()?;
    Ok(pipes)
}
