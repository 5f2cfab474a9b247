//! `unix:PATH`: a Unix stream socket accepts a connection.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{plain_io, watch_dir_for, Check, Cx, Next, Status};

pub(crate) struct UnixCheck {
    path: PathBuf,
    exists: bool,
}

impl UnixCheck {
    pub fn new(path: &Path) -> Self {
        UnixCheck {
            path: path.to_path_buf(),
            exists: false,
        }
    }
}

impl Check for UnixCheck {
    fn check(&mut self, _cx: &Cx) -> Status {
        use std::os::unix::fs::FileTypeExt;
        match std::fs::metadata(&self.path) {
            Err(e) => {
                self.exists = false;
                return Status::NotReady(format!("{}: {}", self.path.display(), plain_io(&e)));
            }
            Ok(m) if !m.file_type().is_socket() => {
                self.exists = true;
                return Status::NotReady(format!("{} is not a socket", self.path.display()));
            }
            Ok(_) => self.exists = true,
        }
        // A stream connect to a local socket does not block: it is accepted into the backlog
        // or refused at once.
        match std::os::unix::net::UnixStream::connect(&self.path) {
            Ok(_) => Status::Ready,
            Err(e) => Status::NotReady(format!("{}: {}", self.path.display(), plain_io(&e))),
        }
    }

    fn next(&self, cx: &Cx) -> Next {
        if self.exists {
            // Bound but not (yet) listening: nothing tells us when listen() happens.
            Next::Backoff(cx.opts.interval.min(Duration::from_millis(50)))
        } else {
            Next::Event // its creation shows up in the directory
        }
    }

    fn watch_dirs(&self) -> Vec<PathBuf> {
        watch_dir_for(&self.path).into_iter().collect()
    }
}
