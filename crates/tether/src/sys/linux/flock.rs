//! Advisory whole-file locks (`flock(2)`). A lock belongs to an open file description: it is
//! released when the last descriptor of it closes, which the kernel does on any death of the
//! holder, SIGKILL included, so a held lock proves its holder is alive.

use std::io;
use std::os::fd::AsFd;

use rustix::fs::{flock, FlockOperation};

/// Take the lock without waiting: `Ok(false)` when another open file description holds a
/// conflicting one.
pub fn try_lock(fd: impl AsFd, exclusive: bool) -> io::Result<bool> {
    let op = if exclusive {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    match flock(fd, op) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Take the exclusive lock, waiting (in the kernel) until its holder lets go.
pub fn lock_exclusive(fd: impl AsFd) -> io::Result<()> {
    loop {
        match flock(fd.as_fd(), FlockOperation::LockExclusive) {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(Into::into),
        }
    }
}

/// Release a lock this open file description holds.
pub fn unlock(fd: impl AsFd) -> io::Result<()> {
    flock(fd, FlockOperation::Unlock).map_err(Into::into)
}
