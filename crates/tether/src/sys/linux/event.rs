//! A one-shot wake-up flag another thread can raise, as an eventfd: it becomes readable, and
//! stays readable, once raised, so a `poll` on it sees the flag whenever it looks.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::{eventfd, EventfdFlags, PollFd, PollFlags};

/// A non-blocking eventfd used as a flag.
#[derive(Debug)]
pub struct Flag {
    fd: OwnedFd,
}

impl Flag {
    /// A new, lowered flag.
    pub fn new() -> io::Result<Self> {
        Ok(Flag {
            fd: eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?,
        })
    }

    /// Raise the flag. Raising it again changes nothing; the counter is never read, so it
    /// stays readable (a full counter, after 2^64-2 raises, only refuses the write).
    pub fn raise(&self) {
        let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
    }

    /// Whether the flag is raised, without waiting.
    pub fn is_raised(&self) -> bool {
        let mut p = [PollFd::new(&self.fd, PollFlags::IN)];
        matches!(rustix::event::poll(&mut p, Some(&rustix::time::Timespec::default())), Ok(n) if n > 0)
    }
}

impl AsFd for Flag {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
