//! Job logs: the supervisor writes the command's stdout and stderr to `stdout.log` and
//! `stderr.log` with size-bounded rotation ([`RotatingLog`]); readers take the last lines
//! ([`tail`]) or follow the file as it grows and rotates ([`follow`], [`tail_and_follow`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::ready::Cancel;
use crate::sys::os::inotify::Watcher;
use crate::sys::os::supervise::poll_fds;
use crate::Process;

/// Which of a job's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stream {
    /// `stdout.log`.
    Stdout,
    /// `stderr.log`.
    Stderr,
}

impl Stream {
    /// The log's file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout.log",
            Stream::Stderr => "stderr.log",
        }
    }
}

/// A rotated file's path: `stdout.log.N`.
fn rotated(base: &Path, n: u32) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// A log file that never grows beyond `max_size` bytes: when a write would pass the limit,
/// what fits is written, the file is renamed to `.1` (older ones move up to `.keep`, the
/// oldest is removed) and a new file takes the rest. The files of one log never hold more
/// than `max_size · (keep + 1)` bytes together. Lines are not kept whole across a rotation.
#[derive(Debug)]
pub struct RotatingLog {
    path: PathBuf,
    max_size: u64,
    keep: u32,
    file: File,
    size: u64,
}

impl RotatingLog {
    /// Open (create `0600`, append) the log at `path`.
    pub fn open(path: &Path, max_size: u64, keep: u32) -> Result<RotatingLog> {
        let file = super::state::open_private_write(path, false)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(RotatingLog {
            path: path.to_path_buf(),
            max_size: max_size.max(1),
            keep,
            file,
            size,
        })
    }

    /// Append `buf`, rotating as needed.
    pub fn write(&mut self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            if self.size >= self.max_size {
                self.rotate()?;
            }
            let room = (self.max_size - self.size) as usize;
            let n = room.min(buf.len());
            self.file
                .write_all(&buf[..n])
                .map_err(|e| Error::from_io(format_args!("writing {}", self.path.display()), &e))?;
            self.size += n as u64;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Move the files up by one and start a new one.
    fn rotate(&mut self) -> Result<()> {
        let io = |e: std::io::Error| {
            Error::from_io(format_args!("rotating {}", self.path.display()), &e)
        };
        if self.keep == 0 {
            self.file = super::state::open_private_write(&self.path, true)?;
            self.file.seek(SeekFrom::End(0)).map_err(io)?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(rotated(&self.path, self.keep));
        for n in (1..self.keep).rev() {
            match std::fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1)).map_err(io)?;
        self.file = super::state::open_private_write(&self.path, false)?;
        self.size = 0;
        Ok(())
    }
}

/// The last `lines` lines of a log (from the rotated files too when the current one holds
/// fewer). A last line without its newline is included.
pub fn tail(path: &Path, lines: usize) -> Result<Vec<u8>> {
    let mut f = super::state::open_private(path)?;
    let len = file_len(&f, path)?;
    tail_upto(path, &mut f, len, lines)
}

/// [`tail`] with the current file open, taking its first `len` bytes as all of it.
fn tail_upto(path: &Path, current: &mut File, len: u64, lines: usize) -> Result<Vec<u8>> {
    let mut out = tail_of(current, len, lines + 1, path)?;
    let current_ino = current.metadata().map(|m| m.ino()).ok();
    let mut n = 1u32;
    while count_lines(&out) < lines && n <= 1000 {
        let p = rotated(path, n);
        n += 1;
        let mut f = match super::state::open_private(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == crate::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        };
        // Rotated since it was opened: it is the current file, read already.
        if f.metadata().map(|m| m.ino()).ok() == current_ino {
            continue;
        }
        let len = file_len(&f, &p)?;
        let mut chunk = tail_of(&mut f, len, lines + 1, &p)?;
        chunk.extend_from_slice(&out);
        out = chunk;
    }
    Ok(last_lines(&out, lines).to_vec())
}

fn file_len(f: &File, p: &Path) -> Result<u64> {
    f.metadata()
        .map(|m| m.len())
        .map_err(|e| Error::from_io(format_args!("reading {}", p.display()), &e))
}

/// Lines in `b`, counting a last line without its newline.
fn count_lines(b: &[u8]) -> usize {
    let nl = b.iter().filter(|&&c| c == b'\n').count();
    nl + usize::from(!b.is_empty() && !b.ends_with(b"\n"))
}

/// The last `n` lines of `b`.
fn last_lines(b: &[u8], n: usize) -> &[u8] {
    if n == 0 {
        return &[];
    }
    let body = b.strip_suffix(b"\n").unwrap_or(b);
    let mut seen = 0;
    for (i, &c) in body.iter().enumerate().rev() {
        if c == b'\n' {
            seen += 1;
            if seen == n {
                return &b[i + 1..];
            }
        }
    }
    b
}

/// At least the last `lines` lines of the file's first `len` bytes (or all of them), reading
/// backwards in blocks.
fn tail_of(f: &mut File, len: u64, lines: usize, p: &Path) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| Error::from_io(format_args!("reading {}", p.display()), &e);
    let mut pos = len;
    let mut buf: Vec<u8> = Vec::new();
    while pos > 0 && buf.iter().filter(|&&c| c == b'\n').count() <= lines {
        let step = pos.min(64 * 1024);
        pos -= step;
        f.seek(SeekFrom::Start(pos)).map_err(io)?;
        let mut block = vec![0; step as usize];
        f.read_exact(&mut block).map_err(io)?;
        block.extend_from_slice(&buf);
        buf = block;
    }
    Ok(buf)
}

/// How a follow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowEnd {
    /// What was followed is over (a job's log: the job is no longer supervised), and what it
    /// wrote was given.
    Finished,
    /// `out` said no.
    Stopped,
    /// The canceller was cancelled, before or during the follow; `out` was not called again.
    Cancelled,
}

/// Follow a log: call `out` with what is appended to it, through rotations (the rest of the
/// old file, then the new one), woken by inotify. Starts at the current end. Returns when `out`
/// says no or `cancel` is cancelled (at once: its eventfd is polled with the log's directory).
pub fn follow(
    path: &Path,
    out: &mut dyn FnMut(&[u8]) -> bool,
    cancel: Option<&Cancel>,
) -> Result<FollowEnd> {
    tail_and_follow(path, 0, out, cancel)
}

/// `tail -n lines -F`: the last `lines` lines of a log (as [`tail`]) in one call of `out`,
/// then what is appended after them (as [`follow`]). Nothing is lost or repeated between the
/// two: the follow starts at the very offset the tail ended at.
///
/// ```
/// use tether::job::{tail_and_follow, FollowEnd, RotatingLog};
/// use tether::ready::Cancel;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("stdout.log");
/// RotatingLog::open(&path, 1 << 20, 2)?.write(b"one\ntwo\n")?;
/// let cancel = Cancel::new()?;
/// let stopper = cancel.clone();
/// let mut got = Vec::new();
/// let end = tail_and_follow(&path, 1, &mut |b| {
///     got.extend_from_slice(b);
///     stopper.cancel(); // from any thread, usually
///     true
/// }, Some(&cancel))?;
/// assert_eq!((end, &got[..]), (FollowEnd::Cancelled, &b"two\n"[..]));
/// # Ok::<(), tether::Error>(())
/// ```
pub fn tail_and_follow(
    path: &Path,
    lines: usize,
    out: &mut dyn FnMut(&[u8]) -> bool,
    cancel: Option<&Cancel>,
) -> Result<FollowEnd> {
    LogFollower::open(path, lines)?.run(out, cancel)
}

/// A log opened to be followed ([`tail_and_follow`] in two steps): [`LogFollower::open`]
/// fails at once for a log that is not there, and [`LogFollower::run`] (on another thread, say)
/// does the following.
#[derive(Debug)]
pub struct LogFollower {
    path: PathBuf,
    watcher: Watcher,
    file: File,
    /// The last lines, read at the open, given first by `run`.
    last: Vec<u8>,
}

impl LogFollower {
    /// Watch the log's directory, open the log and read its last `lines` lines.
    pub fn open(path: &Path, lines: usize) -> Result<LogFollower> {
        let dir = path.parent().unwrap_or(Path::new("."));
        // Watching before opening: a rotation in between still wakes the loop.
        let mut watcher = Watcher::new().map_err(|e| Error::from_io("inotify", &e))?;
        watcher
            .watch_dir(dir)
            .map_err(|e| Error::from_io(format_args!("watching {}", dir.display()), &e))?;
        let mut file = super::state::open_private(path)?;
        let len = file_len(&file, path)?;
        let last = if lines > 0 {
            tail_upto(path, &mut file, len, lines)?
        } else {
            Vec::new()
        };
        file.seek(SeekFrom::Start(len))
            .map_err(|e| Error::from_io(format_args!("{}", path.display()), &e))?;
        Ok(LogFollower {
            path: path.to_path_buf(),
            watcher,
            file,
            last,
        })
    }

    /// Give the last lines to `out` in one call (if there are any), then what is appended, as
    /// [`follow`] does, until `out` says no or `cancel` is cancelled.
    pub fn run(
        self,
        out: &mut dyn FnMut(&[u8]) -> bool,
        cancel: Option<&Cancel>,
    ) -> Result<FollowEnd> {
        self.run_while(out, cancel, None)
    }

    /// [`LogFollower::run`], which also ends, once what is written is given, when `watch` gives
    /// `None`. While it goes on, it gives a process whose exit wakes the follower, so that the
    /// end is seen at once; `watch` is asked again only once that process has exited (every
    /// write of a chatty job wakes the loop, and `watch` may read files).
    pub(crate) fn run_while(
        self,
        out: &mut dyn FnMut(&[u8]) -> bool,
        cancel: Option<&Cancel>,
        mut watch: Option<&mut dyn FnMut() -> Option<Process>>,
    ) -> Result<FollowEnd> {
        let LogFollower {
            path,
            mut watcher,
            mut file,
            last,
        } = self;
        let cancelled = || cancel.is_some_and(Cancel::is_cancelled);
        if cancelled() {
            return Ok(FollowEnd::Cancelled);
        }
        if !last.is_empty() && !out(&last) {
            return Ok(FollowEnd::Stopped);
        }
        let mut ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
        let mut buf = vec![0u8; 64 * 1024];
        let mut waker: Option<Process> = None;
        loop {
            if cancelled() {
                return Ok(FollowEnd::Cancelled);
            }
            // Asked before the drain: what was written before the end is still given.
            let going = match watch.as_mut() {
                None => true,
                Some(w) => {
                    if !waker
                        .as_ref()
                        .is_some_and(|p| p.is_running().unwrap_or(false))
                    {
                        waker = w();
                    }
                    waker.is_some()
                }
            };
            // Drain the open file, then switch to a new one if the path was rotated.
            loop {
                let n = file.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                // Also between the chunks of a backlog: nothing is given after a cancel.
                if cancelled() {
                    return Ok(FollowEnd::Cancelled);
                }
                if !out(&buf[..n]) {
                    return Ok(FollowEnd::Stopped);
                }
            }
            if let Ok(md) = std::fs::symlink_metadata(&path) {
                if md.ino() != ino {
                    if let Ok(nf) = super::state::open_private(&path) {
                        file = nf;
                        ino = md.ino();
                        continue;
                    }
                }
            }
            if !going {
                return Ok(FollowEnd::Finished);
            }
            let mut fds = vec![(watcher.as_fd(), false)];
            fds.extend(cancel.map(|c| (c.as_fd(), false)));
            fds.extend(waker.iter().map(|p| (p.as_fd(), false)));
            // The timeout is only a safety net (a file system whose changes inotify misses).
            let _ = poll_fds(&fds, Some(Instant::now() + Duration::from_millis(200)));
            let _ = watcher.drain();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_bound() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("stdout.log");
        let mut log = RotatingLog::open(&p, 100, 2).unwrap();
        for i in 0..100 {
            log.write(format!("line {i:03}\n").as_bytes()).unwrap();
        }
        let total: u64 = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(total <= 300, "{total}");
        assert!(!rotated(&p, 3).exists());
        assert!(std::fs::metadata(&p).unwrap().len() <= 100);
        assert_eq!(tail(&p, 2).unwrap(), b"line 098\nline 099\n");
        // More lines than the current file holds: the rotated one supplies them.
        let t20 = tail(&p, 20).unwrap();
        assert_eq!(count_lines(&t20), 20);
        assert!(t20.ends_with(b"line 099\n"));
    }

    /// The last lines, then everything appended, through rotations, each byte once; the
    /// follower stops when cancelled.
    #[test]
    fn tail_and_follow_loses_and_repeats_nothing() {
        use std::sync::mpsc;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("stdout.log");
        let mut log = RotatingLog::open(&p, 64, 3).unwrap();
        for i in 0..5 {
            log.write(format!("old {i}\n").as_bytes()).unwrap();
        }
        let cancel = Cancel::new().unwrap();
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let follower = {
            let (p, cancel) = (p.clone(), cancel.clone());
            std::thread::spawn(move || {
                tail_and_follow(&p, 2, &mut |b| tx.send(b.to_vec()).is_ok(), Some(&cancel))
            })
        };
        // The tail comes first, in one piece.
        let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(first, b"old 3\nold 4\n");
        // Three batches, each rotating the 64-byte file at most once (a follower can only
        // read the files it can still find: as with `tail -F`, rotations faster than it reads
        // skip a file), each received before the next is written.
        let mut got = Vec::new();
        let mut want = Vec::new();
        let mut line = 0;
        for batch in [4, 4, 7] {
            for _ in 0..batch {
                let l = format!("new {line:02}\n");
                line += 1;
                log.write(l.as_bytes()).unwrap();
                want.extend_from_slice(l.as_bytes());
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while got.len() < want.len() && Instant::now() < deadline {
                if let Ok(b) = rx.recv_timeout(Duration::from_millis(100)) {
                    got.extend_from_slice(&b);
                }
            }
        }
        assert!(rotated(&p, 2).exists(), "the batches rotated twice");
        cancel.cancel();
        assert_eq!(follower.join().unwrap().unwrap(), FollowEnd::Cancelled);
        got.extend(rx.try_iter().flatten());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }

    /// A cancel from `out` (as from another thread while `out` runs) ends the follow before the
    /// next chunk of a backlog is given.
    #[test]
    fn nothing_is_given_after_a_cancel() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("stdout.log");
        let mut log = RotatingLog::open(&p, 1 << 20, 2).unwrap();
        let follower = LogFollower::open(&p, 0).unwrap();
        log.write(&[b'x'; 200 * 1024]).unwrap();
        let cancel = Cancel::new().unwrap();
        let mut calls = 0;
        let out = &mut |_: &[u8]| {
            calls += 1;
            cancel.cancel();
            true
        };
        assert_eq!(
            follower.run(out, Some(&cancel)).unwrap(),
            FollowEnd::Cancelled
        );
        assert_eq!(calls, 1);
    }

    #[test]
    fn last_lines_counts_an_unterminated_line() {
        assert_eq!(last_lines(b"a\nb\nc", 2), b"b\nc");
        assert_eq!(last_lines(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(last_lines(b"a\n", 5), b"a\n");
        assert_eq!(last_lines(b"a\n", 0), b"");
    }
}
