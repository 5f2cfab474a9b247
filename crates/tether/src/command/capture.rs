//! Bounded capture of a child's stdout and stderr for [`Command::output`](super::Command::output):
//! both pipes are read as data arrives, in the same loop that waits for the child (so neither
//! can fill up and block it), each into a ring that keeps the last N bytes and counts the rest.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, BorrowedFd};

use crate::run::RunOutcome;

/// What [`Command::output`](super::Command::output) returns: how the run went and the last
/// bytes of what the command wrote.
///
/// Each stream keeps at most [`Command::capture_limit`](super::Command::capture_limit) bytes:
/// the *last* ones (the end of a log says why it failed), with the number of bytes dropped from
/// the front. A stream that was not captured (set to something other than
/// [`Stdio::Piped`](super::Stdio::Piped)) is empty.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Output {
    /// How the run went: exit, time limit, signals sent, containment.
    pub status: RunOutcome,
    /// The last bytes the command wrote to stdout.
    pub stdout: Vec<u8>,
    /// The last bytes it wrote to stderr.
    pub stderr: Vec<u8>,
    /// How many bytes of stdout were dropped from the front to keep the limit.
    pub stdout_dropped: u64,
    /// How many bytes of stderr were dropped.
    pub stderr_dropped: u64,
}

/// A byte ring that keeps the last `limit` bytes pushed into it.
#[derive(Debug)]
pub(super) struct Ring {
    buf: VecDeque<u8>,
    limit: usize,
    dropped: u64,
}

impl Ring {
    pub(super) fn new(limit: usize) -> Ring {
        Ring {
            buf: VecDeque::new(),
            limit,
            dropped: 0,
        }
    }

    pub(super) fn push(&mut self, data: &[u8]) {
        if data.len() >= self.limit {
            let cut = data.len() - self.limit;
            self.dropped += (self.buf.len() + cut) as u64;
            self.buf.clear();
            self.buf.extend(&data[cut..]);
            return;
        }
        let over = (self.buf.len() + data.len()).saturating_sub(self.limit);
        self.buf.drain(..over);
        self.dropped += over as u64;
        self.buf.extend(data);
    }

    pub(super) fn into_parts(self) -> (Vec<u8>, u64) {
        (self.buf.into(), self.dropped)
    }
}

/// The two pipes being read, and their rings.
#[derive(Debug)]
pub(super) struct Capture {
    pipes: [Option<File>; 2],
    rings: [Ring; 2],
    /// The large read buffer, made on first need.
    buf: Vec<u8>,
}

impl Capture {
    /// Capture `stdout` and `stderr` (either may be absent), each up to `limit` bytes. The
    /// pipes are made non-blocking: the wait loop reads what is there and goes back to poll.
    pub(super) fn new(stdout: Option<File>, stderr: Option<File>, limit: usize) -> Capture {
        for f in [&stdout, &stderr].into_iter().flatten() {
            // Our read ends only; the child's write ends are separate file descriptions.
            let _ = rustix::fs::fcntl_setfl(f, rustix::fs::OFlags::NONBLOCK);
        }
        Capture {
            pipes: [stdout, stderr],
            rings: [Ring::new(limit), Ring::new(limit)],
            buf: Vec::new(),
        }
    }

    /// The pipes still open, with their index.
    pub(super) fn fds(&self) -> Vec<(usize, BorrowedFd<'_>)> {
        self.pipes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|f| (i, f.as_fd())))
            .collect()
    }

    /// Read what pipe `i` has now, until it would block; close it at end of file (or on an
    /// error, which ends the capture of that stream).
    pub(super) fn read(&mut self, i: usize) {
        let Some(f) = self.pipes[i].as_mut() else {
            return;
        };
        // Most commands write little: a small buffer on the stack first, the large one only
        // once a read fills it (not 64 KiB allocated and zeroed for every run).
        let mut small = [0u8; 4096];
        loop {
            let big = !self.buf.is_empty();
            let got = if big {
                f.read(&mut self.buf)
            } else {
                f.read(&mut small)
            };
            match got {
                Ok(0) => break,
                Ok(n) if big => self.rings[i].push(&self.buf[..n]),
                Ok(n) => {
                    self.rings[i].push(&small[..n]);
                    if n == small.len() {
                        self.buf = vec![0; 64 * 1024];
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => break,
            }
        }
        self.pipes[i] = None;
    }

    /// Read whatever both pipes hold now, without waiting for more: once the tree is gone every
    /// writer has closed its end, so this reads to the end; a writer left running (an
    /// uncontained command's background process) is not waited for.
    pub(super) fn drain(&mut self) {
        for i in 0..2 {
            self.read(i);
        }
    }

    /// The result.
    pub(super) fn finish(self, status: RunOutcome) -> Output {
        let [out, err] = self.rings;
        let (stdout, stdout_dropped) = out.into_parts();
        let (stderr, stderr_dropped) = err.into_parts();
        Output {
            status,
            stdout,
            stderr,
            stdout_dropped,
            stderr_dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;

    fn ring(limit: usize, pushes: &[&[u8]]) -> (Vec<u8>, u64) {
        let mut r = Ring::new(limit);
        for p in pushes {
            r.push(p);
        }
        r.into_parts()
    }

    #[test]
    fn keeps_the_last_bytes_and_counts_the_dropped() {
        assert_eq!(ring(4, &[b"ab", b"cd"]), (b"abcd".to_vec(), 0));
        assert_eq!(ring(4, &[b"abc", b"def"]), (b"cdef".to_vec(), 2));
        assert_eq!(ring(4, &[b"ab", b"cdefgh"]), (b"efgh".to_vec(), 4));
        assert_eq!(ring(4, &[b"abcdefgh", b"i"]), (b"fghi".to_vec(), 5));
        assert_eq!(ring(0, &[b"abc", b"de"]), (Vec::new(), 5));
        assert_eq!(ring(10, &[]), (Vec::new(), 0));
    }
}
