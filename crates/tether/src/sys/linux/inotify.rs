//! inotify, used as a wake-up source: callers watch directories and re-check their targets when
//! anything in them changes, so no event (rotation, truncation, rename) needs decoding.

use std::collections::HashMap;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::inotify::{self, CreateFlags, WatchFlags};

/// A non-blocking inotify instance with watches keyed by path.
#[derive(Debug)]
pub struct Watcher {
    fd: OwnedFd,
    watches: HashMap<PathBuf, i32>,
}

impl Watcher {
    /// A new inotify instance.
    pub fn new() -> io::Result<Self> {
        Ok(Watcher {
            fd: inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?,
            watches: HashMap::new(),
        })
    }

    /// Watch directory `dir` for entries created, moved, written, truncated or removed.
    /// Watching the same path twice is a no-op.
    pub fn watch_dir(&mut self, dir: &Path) -> io::Result<()> {
        if self.watches.contains_key(dir) {
            return Ok(());
        }
        let flags = WatchFlags::CREATE
            | WatchFlags::MOVED_TO
            | WatchFlags::MOVED_FROM
            | WatchFlags::MODIFY
            | WatchFlags::CLOSE_WRITE
            | WatchFlags::ATTRIB
            | WatchFlags::DELETE
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR;
        let wd = inotify::add_watch(&self.fd, dir, flags)?;
        self.watches.insert(dir.to_path_buf(), wd);
        Ok(())
    }

    /// Forget every watch (they are re-added as the watched paths come and go).
    pub fn clear(&mut self) {
        for (_, wd) in self.watches.drain() {
            let _ = inotify::remove_watch(&self.fd, wd);
        }
    }

    /// Read and discard every pending event; `true` when there was at least one.
    pub fn drain(&mut self) -> io::Result<bool> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut any = false;
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        loop {
            match reader.next() {
                Ok(_) => any = true,
                Err(rustix::io::Errno::AGAIN) => return Ok(any),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl AsFd for Watcher {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_on_create() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Watcher::new().unwrap();
        w.watch_dir(dir.path()).unwrap();
        assert!(!w.drain().unwrap());
        std::fs::write(dir.path().join("x"), b"1").unwrap();
        assert!(w.drain().unwrap());
        assert!(!w.drain().unwrap());
    }
}
