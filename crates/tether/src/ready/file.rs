//! `file:PATH`: the path exists (optionally non-empty, optionally with a size that has stopped
//! changing). Driven by inotify on its directory, plus a timer for `--stable`.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use super::{watch_dir_for, Check, Cx, Next, Status};

pub(crate) struct FileCheck {
    path: PathBuf,
    /// Size and mtime last seen, and since when they have not changed.
    seen: Option<(u64, Option<SystemTime>, Instant)>,
    stable_at: Option<Instant>,
}

impl FileCheck {
    pub fn new(path: &Path) -> Self {
        FileCheck {
            path: path.to_path_buf(),
            seen: None,
            stable_at: None,
        }
    }
}

impl Check for FileCheck {
    fn check(&mut self, cx: &Cx) -> Status {
        self.stable_at = None;
        let m = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) => {
                self.seen = None;
                return Status::NotReady(format!("{}: {e}", self.path.display()));
            }
        };
        let f = &cx.opts.file;
        if f.non_empty && m.len() == 0 {
            self.seen = None;
            return Status::NotReady(format!("{} is empty", self.path.display()));
        }
        if let Some(stable) = f.stable {
            let now = Instant::now();
            let key = (m.len(), m.modified().ok());
            let since = match self.seen {
                Some((len, mt, since)) if (len, mt) == key => since,
                _ => now,
            };
            self.seen = Some((key.0, key.1, since));
            if now.duration_since(since) < stable {
                self.stable_at = Some(since + stable);
                return Status::NotReady(format!(
                    "{} changed {} ms ago",
                    self.path.display(),
                    now.duration_since(since).as_millis()
                ));
            }
        }
        Status::Ready
    }

    fn next(&self, _cx: &Cx) -> Next {
        match self.stable_at {
            Some(t) => Next::At(t),
            None => Next::Event,
        }
    }

    fn watch_dirs(&self) -> Vec<PathBuf> {
        watch_dir_for(&self.path).into_iter().collect()
    }
}
