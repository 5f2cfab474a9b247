//! `log:PATH=REGEX`: a line matching REGEX is appended to the file. Reading starts at the end
//! the file has when the wait starts (a file that does not exist yet is read from its start),
//! and follows it across rotation (a new file at the path: the rest of the old one is read,
//! then the new one from its start) and truncation (read again from the start).
//!
//! What a line is: the bytes up to a newline, in the order they are read, whichever file they
//! came from. An unterminated end of a file is kept and continued by what is read next, also
//! when that comes from the new file after a rotation or from the start of a truncated one, so
//! a line whose first half was written to the old file and the rest to the new one is matched
//! whole (a writer that reopens its log in the middle of a line produces exactly that). A
//! line is matched without its newline (and a `\r` before it). A partial line longer than
//! 1 MiB is matched as it is and dropped, so memory stays bounded.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use regex::Regex;

use super::{watch_dir_for, Check, Cx, Next, Status};

/// A partial line longer than this is matched and dropped, so memory stays bounded.
const MAX_LINE: usize = 1 << 20;

pub(crate) struct LogCheck {
    path: PathBuf,
    regex: Regex,
    /// The open file, its (dev, inode) and the offset read up to.
    open: Option<(File, (u64, u64), u64)>,
    partial: Vec<u8>,
    started: bool,
}

impl LogCheck {
    pub fn new(path: &Path, regex: Regex) -> Self {
        LogCheck {
            path: path.to_path_buf(),
            regex,
            open: None,
            partial: Vec::new(),
            started: false,
        }
    }

    /// Read what was appended since the last read; `true` when a line matched.
    fn drain(&mut self) -> bool {
        let Some((f, _, off)) = self.open.as_mut() else {
            return false;
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(*off)).is_err() || f.read_to_end(&mut buf).is_err() {
            return false;
        }
        *off += buf.len() as u64;
        let mut hit = false;
        for chunk in buf.split_inclusive(|&b| b == b'\n') {
            self.partial.extend_from_slice(chunk);
            if chunk.ends_with(b"\n") || self.partial.len() > MAX_LINE {
                let line = String::from_utf8_lossy(&self.partial);
                hit |= self.regex.is_match(line.trim_end_matches(['\n', '\r']));
                self.partial.clear();
            }
        }
        hit
    }

    /// Open the file at the path, at its end or its start. A partial line read so far is
    /// kept: it continues in the new file (see the module docs).
    fn open_at(&mut self, from_end: bool) -> std::io::Result<()> {
        let f = File::open(&self.path)?;
        let m = f.metadata()?;
        let off = if from_end { m.len() } else { 0 };
        self.open = Some((f, (m.dev(), m.ino()), off));
        Ok(())
    }
}

impl Check for LogCheck {
    fn check(&mut self, _cx: &Cx) -> Status {
        if !self.started {
            self.started = true;
            // Only what is written from now on counts.
            let _ = self.open_at(true);
        }
        let now = std::fs::metadata(&self.path).ok();
        let same_file = match (&self.open, &now) {
            (Some((_, id, _)), Some(m)) => *id == (m.dev(), m.ino()),
            _ => false,
        };
        if let (Some((_, _, off)), Some(m), true) = (&mut self.open, &now, same_file) {
            if m.len() < *off {
                // Truncated (copytruncate rotation): read it again from the start; a partial
                // line continues there.
                *off = 0;
            }
        }
        // Whatever happened, finish the file we have open first (it may have been renamed).
        if self.drain() {
            return Status::Ready;
        }
        if !same_file && now.is_some() {
            if self.open_at(false).is_err() {
                return Status::NotReady(format!("{}: cannot open", self.path.display()));
            }
            if self.drain() {
                return Status::Ready;
            }
        }
        match (&self.open, now) {
            (_, None) => Status::NotReady(format!("{} does not exist", self.path.display())),
            _ => Status::NotReady(format!(
                "no line of {} matched /{}/ yet",
                self.path.display(),
                self.regex
            )),
        }
    }

    fn next(&self, _cx: &Cx) -> Next {
        Next::Event
    }

    fn watch_dirs(&self) -> Vec<PathBuf> {
        watch_dir_for(&self.path).into_iter().collect()
    }
}
