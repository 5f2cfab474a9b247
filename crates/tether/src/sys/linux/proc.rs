//! A lean /proc reader. Hand-written because a full snapshot is the hot path of `tether ps`:
//! one reusable buffer, `openat` relative to one /proc directory handle, and no file is read
//! unless a requested field needs it (see `bench/`).

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{Mode, OFlags};

use super::family::parse_u32;

/// Fields of `/proc/PID/stat`, as the kernel writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: i32,
    pub utime: u64,
    pub stime: u64,
    pub num_threads: u64,
    pub starttime: u64,
    pub vsize: u64,
    pub rss_pages: u64,
}

/// Parse the text of `/proc/PID/stat`. The command name sits between the first `(` and the
/// *last* `)`, since it may itself contain spaces, parentheses and newlines.
pub fn parse_stat(buf: &[u8]) -> Option<Stat> {
    let open = buf.iter().position(|&b| b == b'(')?;
    let close = buf.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = std::str::from_utf8(&buf[..open])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = String::from_utf8_lossy(&buf[open + 1..close]).into_owned();
    let rest = std::str::from_utf8(buf.get(close + 2..)?).ok()?;
    let mut it = rest.split_ascii_whitespace();
    // Field numbers below follow proc(5), where `state` is field 3.
    let mut next = || it.next();
    let state = next()?.chars().next()?;
    let ppid = next()?.parse().ok()?; // 4
    let pgrp = next()?.parse().ok()?; // 5
    let session = next()?.parse().ok()?; // 6
    let tty_nr = next()?.parse().ok()?; // 7
    for _ in 8..=13 {
        next()?;
    }
    let utime = next()?.parse().ok()?; // 14
    let stime = next()?.parse().ok()?; // 15
    for _ in 16..=19 {
        next()?;
    }
    let num_threads = next()?.parse().ok()?; // 20
    next()?; // 21 itrealvalue
    let starttime = next()?.parse().ok()?; // 22
    let vsize = next()?.parse().ok()?; // 23
    let rss: i64 = next()?.parse().ok()?; // 24
    Some(Stat {
        pid,
        comm,
        state,
        ppid,
        pgrp,
        session,
        tty_nr,
        utime,
        stime,
        num_threads,
        starttime,
        vsize,
        rss_pages: rss.max(0) as u64,
    })
}

/// Split a NUL-separated `cmdline` or `environ` buffer into its strings.
pub fn split_nul(buf: &[u8]) -> Vec<String> {
    let buf = buf.strip_suffix(b"\0").unwrap_or(buf);
    if buf.is_empty() {
        return Vec::new();
    }
    buf.split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Name of a terminal from its `tty_nr` device number, as ps shows it (`pts/3`, `tty1`).
pub fn tty_name(tty_nr: i32) -> Option<String> {
    if tty_nr == 0 {
        return None;
    }
    let dev = tty_nr as u32;
    let major = (dev >> 8) & 0xfff;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    Some(match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 0 => "tty".to_string(),
        5 if minor == 1 => "console".to_string(),
        _ => format!("{major}:{minor}"),
    })
}

/// A handle on a /proc mount with a reusable read buffer.
pub struct ProcReader {
    root: OwnedFd,
    buf: Vec<u8>,
    path: Vec<u8>,
}

impl ProcReader {
    /// Open `/proc`.
    pub fn new() -> io::Result<Self> {
        Self::at("/proc")
    }

    /// Open a /proc mounted elsewhere (tests use fixture trees).
    pub fn at(root: impl AsRef<std::path::Path>) -> io::Result<Self> {
        let root = rustix::fs::open(
            root.as_ref(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(ProcReader {
            root,
            buf: Vec::with_capacity(4096),
            path: Vec::with_capacity(64),
        })
    }

    /// Every numeric entry of /proc: the PIDs visible in this PID namespace.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        let dup = rustix::fs::openat(
            &self.root,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut dir = rustix::fs::Dir::read_from(dup)?;
        let mut out = Vec::with_capacity(512);
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name.first().is_some_and(u8::is_ascii_digit) {
                if let Some(pid) = parse_u32(name) {
                    out.push(pid);
                }
            }
        }
        Ok(out)
    }

    fn set_path(&mut self, pid: u32, file: &str) {
        use std::io::Write;
        self.path.clear();
        let _ = write!(self.path, "{pid}");
        if !file.is_empty() {
            self.path.push(b'/');
            self.path.extend_from_slice(file.as_bytes());
        }
    }

    /// Read `/proc/PID/FILE` whole into the internal buffer and return it.
    pub fn read(&mut self, pid: u32, file: &str) -> io::Result<&[u8]> {
        self.read_owned(pid, file, false).map(|(b, _)| b)
    }

    /// Read `/proc/PID/FILE`, and with `owner` also return the file's owner uid, taken by
    /// `fstat` on the open file: every file of /proc/PID has the owner of the directory, and an
    /// `fstat` spares the path walk of a separate `stat` on it.
    pub fn read_owned(
        &mut self,
        pid: u32,
        file: &str,
        owner: bool,
    ) -> io::Result<(&[u8], Option<u32>)> {
        self.set_path(pid, file);
        let fd = rustix::fs::openat(
            &self.root,
            OsStr::from_bytes(&self.path),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let uid = if owner {
            Some(rustix::fs::fstat(&fd)?.st_uid)
        } else {
            None
        };
        self.buf.clear();
        loop {
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(self.buf.capacity().max(4096));
            }
            let room = self.buf.capacity() - self.buf.len();
            let n = rustix::io::read(&fd, rustix::buffer::spare_capacity(&mut self.buf))?;
            // The per-process files read here (stat, cmdline, environ, status) fill a read as far
            // as they have data, so a short read is the end: skipping the extra read that would
            // return 0 saves a quarter of the syscalls of a snapshot.
            if n == 0 || n < room {
                break;
            }
        }
        Ok((&self.buf, uid))
    }

    /// Parsed `/proc/PID/stat`.
    pub fn stat(&mut self, pid: u32) -> io::Result<Stat> {
        self.stat_owned(pid, false).map(|(s, _)| s)
    }

    /// Parsed `/proc/PID/stat` and, with `owner`, the process's effective uid (see
    /// [`ProcReader::owner_uid`]) from the same open file.
    pub fn stat_owned(&mut self, pid: u32, owner: bool) -> io::Result<(Stat, Option<u32>)> {
        let (buf, uid) = self.read_owned(pid, "stat", owner)?;
        let st = parse_stat(buf)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed stat"))?;
        Ok((st, uid))
    }

    /// The argument vector; empty for kernel threads and zombies.
    pub fn cmdline(&mut self, pid: u32) -> io::Result<Vec<String>> {
        self.read(pid, "cmdline").map(split_nul)
    }

    /// The environment as `KEY=VALUE` strings, with at most `max_bytes` of it read.
    /// Returns the strings and whether the cap cut it short.
    pub fn environ(&mut self, pid: u32, max_bytes: usize) -> io::Result<(Vec<String>, bool)> {
        let buf = self.read(pid, "environ")?;
        let truncated = buf.len() > max_bytes;
        let mut slice = &buf[..buf.len().min(max_bytes)];
        if truncated {
            // Drop the partial last variable rather than report half of it.
            let end = slice.iter().rposition(|&b| b == 0).map_or(0, |p| p + 1);
            slice = &slice[..end];
        }
        Ok((split_nul(slice), truncated))
    }

    /// The executable path; `None` for kernel threads and zombies. A process of another user is
    /// a `PermissionDenied` error (its exe exists; we may not read it).
    pub fn exe(&mut self, pid: u32) -> io::Result<Option<String>> {
        self.set_path(pid, "exe");
        match rustix::fs::readlinkat(&self.root, OsStr::from_bytes(&self.path), Vec::new()) {
            Ok(p) => Ok(Some(p.to_string_lossy().into_owned())),
            Err(rustix::io::Errno::NOENT) => {
                // exe is missing for kernel threads and zombies, but so is the whole directory
                // of a process that is gone: tell the two apart.
                self.set_path(pid, "");
                rustix::fs::statat(
                    &self.root,
                    OsStr::from_bytes(&self.path),
                    rustix::fs::AtFlags::empty(),
                )?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The owner of `/proc/PID`: the process's effective uid (root when it is not dumpable).
    /// One `stat` call, far cheaper than generating `/proc/PID/status`.
    pub fn owner_uid(&mut self, pid: u32) -> io::Result<u32> {
        self.set_path(pid, "");
        let st = rustix::fs::statat(
            &self.root,
            OsStr::from_bytes(&self.path),
            rustix::fs::AtFlags::empty(),
        )?;
        Ok(st.st_uid)
    }

    /// The thread group (process) that the task `pid` belongs to, from the `Tgid:` line of
    /// `/proc/PID/status`. /proc answers for a thread id too, though it lists only processes:
    /// a `tgid` different from `pid` means `pid` is a thread of that process.
    pub fn tgid(&mut self, pid: u32) -> io::Result<u32> {
        let buf = self.read(pid, "status")?;
        buf.split(|&b| b == b'\n')
            .find_map(|line| line.strip_prefix(b"Tgid:"))
            .and_then(|v| parse_u32(v.trim_ascii()))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Tgid line in status"))
    }
}

/// Run `f` with the id of a thread of this process that lives until `f` returns.
#[cfg(test)]
pub(crate) fn with_thread_id(f: impl FnOnce(u32)) {
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        tx.send(rustix::thread::gettid().as_raw_nonzero().get() as u32)
            .unwrap();
        let _ = done_rx.recv();
    });
    f(rx.recv().unwrap());
    drop(done_tx);
    t.join().unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_hostile_comm() {
        let line = b"42 (a) (b\nc d)) S 1 42 42 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 1 0 12345 1000 25 18446744073709551615";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.pid, 42);
        assert_eq!(s.comm, "a) (b\nc d)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!((s.utime, s.stime), (7, 3));
        assert_eq!(s.starttime, 12345);
        assert_eq!(s.vsize, 1000);
        assert_eq!(s.rss_pages, 25);
    }

    #[test]
    fn stat_kernel_thread_and_zombie() {
        let kt = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 5 0 0 20 0 1 0 1 0 0 18446744073709551615";
        let s = parse_stat(kt).unwrap();
        assert_eq!((s.ppid, s.vsize, s.rss_pages), (0, 0, 0));
        let z = b"99 (defunct thing) Z 50 99 99 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0 18446744073709551615";
        assert_eq!(parse_stat(z).unwrap().state, 'Z');
    }

    #[test]
    fn stat_truncated_is_none() {
        assert!(parse_stat(b"1 (init) S 0 1").is_none());
        assert!(parse_stat(b"garbage").is_none());
        assert!(parse_stat(b"").is_none());
    }

    #[test]
    fn nul_split() {
        assert_eq!(split_nul(b""), Vec::<String>::new());
        assert_eq!(split_nul(b"ls\0-l\0"), vec!["ls", "-l"]);
        assert_eq!(split_nul(b"a\0\0b\0"), vec!["a", "", "b"]);
    }

    #[test]
    fn tty_names() {
        assert_eq!(tty_name(0), None);
        assert_eq!(tty_name((136 << 8) | 3).as_deref(), Some("pts/3"));
        assert_eq!(tty_name((4 << 8) | 1).as_deref(), Some("tty1"));
        assert_eq!(tty_name((4 << 8) | 64).as_deref(), Some("ttyS0"));
    }

    #[test]
    fn reads_own_process() {
        let mut r = ProcReader::new().unwrap();
        let me = std::process::id();
        assert!(r.pids().unwrap().contains(&me));
        let st = r.stat(me).unwrap();
        assert_eq!(st.pid, me);
        assert!(!r.cmdline(me).unwrap().is_empty());
        assert!(r.exe(me).unwrap().is_some());
        assert!(r.stat(u32::MAX - 1).is_err());
        assert_eq!(r.tgid(me).unwrap(), me);
    }

    #[test]
    fn thread_id_names_its_process() {
        with_thread_id(|tid| {
            let mut r = ProcReader::new().unwrap();
            assert_eq!(r.tgid(tid).unwrap(), std::process::id());
        });
    }
}
