//! Open file descriptors through `/proc/PID/fd` and `/proc/PID/fdinfo`, and the socket-inode
//! scan that maps sockets to the processes holding them.
//!
//! Hand-written because the owner scan is the hot path of `tether who` and `tether ports`: it
//! visits every process, and its cost is a handful of syscalls per process (see [`Scanner`]);
//! nothing else is read for processes that hold nothing wanted.

use std::collections::{HashMap, HashSet};
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{Mode, OFlags};

use super::proc::ProcReader;

/// One entry of `/proc/PID/fd` with what `/proc/PID/fdinfo` says about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FdEntry {
    pub fd: i32,
    /// The link target: a path, `socket:[N]`, `pipe:[N]`, `anon_inode:[eventfd]`, ….
    pub target: String,
    /// File position (`pos:`).
    pub pos: Option<u64>,
    /// Open flags (`flags:`, octal in /proc).
    pub flags: Option<u32>,
    /// Mount id (`mnt_id:`).
    pub mnt_id: Option<u64>,
    /// Inode number (`ino:`, Linux 5.14+).
    pub ino: Option<u64>,
}

fn open_dir(root: &OwnedFd, path: &str) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        root,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

fn open_proc() -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        "/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Parse a decimal fd name.
fn parse_fd(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name.len() > 10 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in name {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (b - b'0') as i64;
    }
    i32::try_from(v).ok()
}

/// `readlinkat` into a caller's buffer: the bytes of the target, or the errno.
fn readlink_into<'a>(
    dir: &impl AsFd,
    name: &CStr,
    buf: &'a mut [u8; 256],
) -> Result<&'a [u8], i32> {
    // SAFETY: the directory fd and the NUL-terminated name are valid for the call, and the
    // kernel writes at most `buf.len()` bytes into `buf`.
    let n = unsafe {
        libc::readlinkat(
            dir.as_fd().as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok(&buf[..n as usize])
}

/// The inode inside a `socket:[N]` link target.
pub fn socket_inode(target: &[u8]) -> Option<u64> {
    let rest = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// Socket inode → the processes holding it, each with the fds found pointing at it.
pub type OwnerMap = HashMap<u64, Vec<(u32, Vec<i32>)>>;

/// How far [`socket_owners`] scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStop {
    /// Every process is visited (a socket can be shared by any number of processes).
    AllHolders,
    /// Stop at the first process holding any wanted inode.
    FirstHolder,
}

/// Threads for a walk over all processes: one per CPU that is idle now (at least one, at most
/// 8). On free CPUs the walk divides well (5000 processes: 40 ms on two threads against 61 ms
/// on one), but the threads contend in the kernel and cost about 15% more CPU time in all
/// (bench/net.md); on a busy machine, where extra threads would only queue behind the other
/// work, one thread finishes as soon and costs less. "Idle now" is the number of CPUs minus
/// the runnable tasks other than this one (`/proc/loadavg`), as `make -l` judges load.
fn scan_threads() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let running = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| {
            let field = t.split_whitespace().nth(3)?;
            field.split_once('/')?.0.parse::<usize>().ok()
        })
        .unwrap_or(1);
    cpus.saturating_sub(running.saturating_sub(1)).max(1)
}

/// Which processes hold the socket inodes in `wanted`: inode → (pid, fds) list.
///
/// `pids` limits the scan to those processes (e.g. one tree); `None` scans all of /proc.
/// Early exits (documented in `net::sockets`): within a process, reading stops once every
/// wanted inode has been seen in it; with [`ScanStop::FirstHolder`] the whole scan stops at the
/// first holder. The calling process is scanned like any other: a program that links the library
/// (a binding's host) may hold the socket itself. Processes that vanish or deny access are
/// skipped silently.
pub fn socket_owners(
    wanted: &HashSet<u64>,
    pids: Option<&[u32]>,
    stop: ScanStop,
) -> io::Result<OwnerMap> {
    let mut out = OwnerMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let proc = open_proc()?;
    let listed;
    let pids: &[u32] = match pids {
        Some(p) => p,
        None => {
            listed = ProcReader::new()?.pids()?;
            &listed
        }
    };
    let counts = fd_count_supported(&proc);
    let done = AtomicBool::new(false);
    // The walk is syscall-bound, so it is split across threads, each taking every n-th
    // process (see `scan_threads`). Small scopes (one tree) stay on this thread.
    let threads = if pids.len() < 256 { 1 } else { scan_threads() };
    let scan = |part: usize| -> OwnerMap {
        let mut sc = Scanner::new(&proc, wanted, counts);
        for &pid in pids.iter().skip(part).step_by(threads) {
            if done.load(Ordering::Relaxed) {
                break;
            }
            if sc.process(pid) && stop == ScanStop::FirstHolder {
                done.store(true, Ordering::Relaxed);
                break;
            }
        }
        sc.out
    };
    let parts: Vec<OwnerMap> = if threads == 1 {
        vec![scan(0)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|i| s.spawn(move || scan(i))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    for part in parts {
        for (ino, holders) in part {
            out.entry(ino).or_default().extend(holders);
        }
    }
    for holders in out.values_mut() {
        holders.sort_by_key(|(pid, _)| *pid);
    }
    Ok(out)
}

/// The socket inodes `pid` holds, each with the fd pointing at it (`NotFound` when the
/// process is gone, `PermissionDenied` when its fds are not ours to read). Reads only the fd
/// links, no fdinfo.
pub fn held_sockets(pid: u32) -> io::Result<Vec<(u64, i32)>> {
    let proc = open_proc()?;
    let dir = open_dir(&proc, &format!("{pid}/fd"))?;
    let mut out = Vec::new();
    let mut dbuf = vec![0u8; DENTS_BUF];
    let mut lbuf = [0u8; 256];
    for_each_fd(&dir, &mut dbuf, |fd, name| {
        if let Ok(t) = readlink_into(&dir, name, &mut lbuf) {
            if let Some(ino) = socket_inode(t) {
                out.push((ino, fd));
            }
        }
        true
    })?;
    Ok(out)
}

/// Size of the reused `getdents64` buffer: 128 fd entries per call.
const DENTS_BUF: usize = 4096;
/// Largest `linux_dirent64` record of an fd directory: 19 bytes of header, a name of at most 10
/// digits and its NUL, rounded up to 8.
const MAX_FD_DIRENT: usize = 32;

/// Call `f(fd, name)` for each entry of the fd directory `dir` (listed with `getdents64` into
/// `dbuf`), until it returns `false`.
fn for_each_fd(
    dir: &OwnedFd,
    dbuf: &mut [u8],
    mut f: impl FnMut(i32, &CStr) -> bool,
) -> io::Result<()> {
    loop {
        // SAFETY: the fd is a directory we own and the buffer is valid for its length.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                dbuf.as_mut_ptr(),
                dbuf.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(());
        }
        let n = n as usize;
        let mut off = 0;
        while off + 19 <= n {
            let reclen = u16::from_ne_bytes([dbuf[off + 16], dbuf[off + 17]]) as usize;
            if reclen == 0 || off + reclen > n {
                return Ok(());
            }
            let name = &dbuf[off + 19..off + reclen];
            off += reclen;
            let Some(nul) = name.iter().position(|&b| b == 0) else {
                continue;
            };
            let Some(fd) = parse_fd(&name[..nul]) else {
                continue; // "." and ".."
            };
            let Ok(cname) = CStr::from_bytes_with_nul(&name[..=nul]) else {
                continue;
            };
            if !f(fd, cname) {
                return Ok(());
            }
        }
        // procfs fills the buffer until an entry does not fit; room left for the largest
        // entry means the listing is complete, which saves the final empty getdents.
        if n + MAX_FD_DIRENT <= dbuf.len() {
            return Ok(());
        }
    }
}

/// Whether `stat` of `/proc/PID/fd` gives the number of open fds as its size (Linux 6.2+;
/// older kernels say 0). Checked on our own fd directory, which is never empty.
fn fd_count_supported(proc: &OwnedFd) -> bool {
    rustix::fs::statat(proc, "self/fd", rustix::fs::AtFlags::empty())
        .map(|st| st.st_size > 0)
        .unwrap_or(false)
}

/// The fds read by number before the directory is listed: the standard streams, which nearly
/// every process has open.
const STD_FDS: [&CStr; 3] = [c"0", c"1", c"2"];

/// One thread's share of the owner scan, with its reused buffers.
///
/// Per process, whatever its fd numbers (dense 0…n-1, or sparse like 0, 1, 2, 10, 251):
/// 1. `openat("PID/fd")`, and `fstat` of it, whose size is the number of open fds (Linux
///    6.2+): none (kernel threads, zombies) ends here;
/// 2. `readlinkat` of fds 0, 1 and 2 by name, relative to the directory (at most as many as
///    are open): a process with no other fd is done without listing anything;
/// 3. otherwise `lseek` past them and one `getdents64` into a reused buffer lists the rest
///    (more calls only past 128 fds), one `readlinkat` per entry;
/// 4. `close`.
///
/// Nothing is guessed: a number is only read by name when at least that many fds are open, a
/// hole among 0–2 (ENOENT) just makes the listing start there, and the listing is complete by
/// construction. Against listing every table (`openat`, `getdents64`, links, `close`) this
/// costs the same for sparse tables and about 15% less for small dense ones (bench/net.md),
/// because the kernel's `getdents64` on an fd directory does a dentry lookup per entry and
/// walks the fd table up to its highest number. Targets are compared as bytes, so nothing is
/// allocated per fd. On kernels without fd counts every table is listed whole.
struct Scanner<'a> {
    proc: &'a OwnedFd,
    wanted: &'a HashSet<u64>,
    /// `fstat` gives fd counts.
    counts: bool,
    dbuf: Vec<u8>,
    lbuf: [u8; 256],
    /// (inode, fd) pairs found in the current process, and the distinct inodes among them.
    found: Vec<(u64, i32)>,
    seen: Vec<u64>,
    out: OwnerMap,
}

impl<'a> Scanner<'a> {
    fn new(proc: &'a OwnedFd, wanted: &'a HashSet<u64>, counts: bool) -> Self {
        Scanner {
            proc,
            wanted,
            counts,
            dbuf: vec![0u8; DENTS_BUF],
            lbuf: [0u8; 256],
            found: Vec::new(),
            seen: Vec::new(),
            out: OwnerMap::new(),
        }
    }

    /// Record a link target of fd `fd` (the first `target_len` bytes of `lbuf`); `true` when
    /// every wanted inode has now been seen in this process (nothing more to look for in it).
    fn note(&mut self, fd: i32, target_len: usize) -> bool {
        let Some(ino) = socket_inode(&self.lbuf[..target_len]).filter(|i| self.wanted.contains(i))
        else {
            return false;
        };
        self.found.push((ino, fd));
        if !self.seen.contains(&ino) {
            self.seen.push(ino);
            return self.seen.len() == self.wanted.len();
        }
        false
    }

    /// Scan one process; `true` when it holds any wanted inode.
    fn process(&mut self, pid: u32) -> bool {
        self.found.clear();
        self.seen.clear();
        let mut path = [0u8; 24];
        let Some(path) = dir_path(&mut path, pid) else {
            return false;
        };
        let Ok(dir) = rustix::fs::openat(
            self.proc,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return false; // gone, or not ours to read
        };
        self.read(&dir);
        self.record(pid)
    }

    /// Steps 1–3 of the type's docs on an open fd directory.
    fn read(&mut self, dir: &OwnedFd) {
        let mut from = 0;
        if self.counts {
            let Ok(st) = rustix::fs::fstat(dir) else {
                return;
            };
            let count = st.st_size.max(0) as usize;
            for name in STD_FDS.iter().take(count) {
                match readlink_into(dir, name, &mut self.lbuf) {
                    Ok(t) => {
                        let len = t.len();
                        if self.note(from, len) {
                            return; // every wanted inode is in this process
                        }
                        from += 1;
                    }
                    Err(libc::ENOENT) => break, // a hole: list from here
                    Err(_) => return,           // not ours to read, or gone
                }
            }
            if from as usize == count {
                return; // every open fd has been read
            }
            if from > 0
                && rustix::fs::seek(dir, rustix::fs::SeekFrom::Start(from as u64 + 2)).is_err()
            {
                from = 0; // list it all, skipping what was read
            }
        }
        let mut dbuf = std::mem::take(&mut self.dbuf);
        let _ = for_each_fd(dir, &mut dbuf, |fd, name| {
            if fd < from {
                return true; // already read by number
            }
            match readlink_into(dir, name, &mut self.lbuf) {
                Ok(t) => {
                    let len = t.len();
                    !self.note(fd, len)
                }
                Err(_) => true, // closed meanwhile
            }
        });
        self.dbuf = dbuf;
    }

    /// Add what the current process holds to the output; `true` when it holds anything.
    fn record(&mut self, pid: u32) -> bool {
        if self.found.is_empty() {
            return false;
        }
        let mut by: HashMap<u64, Vec<i32>> = HashMap::new();
        for &(ino, fd) in &self.found {
            by.entry(ino).or_default().push(fd);
        }
        for (ino, fds) in by {
            self.out.entry(ino).or_default().push((pid, fds));
        }
        true
    }
}

/// `PID/fd`, NUL-terminated, in `buf`.
fn dir_path(buf: &mut [u8; 24], pid: u32) -> Option<&CStr> {
    use std::io::Write;
    let mut w = &mut buf[..];
    write!(w, "{pid}/fd\0").ok()?;
    let len = 24 - w.len();
    CStr::from_bytes_with_nul(&buf[..len]).ok()
}

/// Parse the text of `/proc/PID/fdinfo/N` into `e`.
pub fn parse_fdinfo(text: &str, e: &mut FdEntry) {
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k {
            "pos" => e.pos = v.parse().ok(),
            "flags" => e.flags = u32::from_str_radix(v, 8).ok(),
            "mnt_id" => e.mnt_id = v.parse().ok(),
            "ino" => e.ino = v.parse().ok(),
            _ => {}
        }
    }
}

/// A close-on-exec copy of the caller's descriptor `fd`, given by number (`F_DUPFD_CLOEXEC`):
/// the caller keeps its own. A number that is not an open descriptor is `EBADF` from the
/// kernel, not undefined behaviour: the number is never made into a borrowed fd unchecked.
pub fn dup_raw_cloexec(fd: i32) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: fcntl on any number is sound; it fails with EBADF when nothing is open there.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(new) })
}

/// Every open fd of `pid`, sorted by number, with its fdinfo. `NotFound` when the process is
/// gone, `PermissionDenied` when it is not ours to inspect.
pub fn list(pid: u32) -> io::Result<Vec<FdEntry>> {
    let proc = open_proc()?;
    let dir = open_dir(&proc, &format!("{pid}/fd"))?;
    let info = open_dir(&proc, &format!("{pid}/fdinfo")).ok();
    let mut out = Vec::new();
    let mut dbuf = vec![0u8; DENTS_BUF];
    let mut lbuf = [0u8; 256];
    for_each_fd(&dir, &mut dbuf, |fd, name| {
        // Long paths do not fit the stack buffer; fall back to the allocating call.
        let cap = lbuf.len();
        let target = match readlink_into(&dir, name, &mut lbuf) {
            Ok(t) if t.len() < cap => String::from_utf8_lossy(t).into_owned(),
            Ok(_) => match rustix::fs::readlinkat(&dir, name, Vec::new()) {
                Ok(t) => t.to_string_lossy().into_owned(),
                Err(_) => return true,
            },
            Err(_) => return true, // closed meanwhile
        };
        let mut entry = FdEntry {
            fd,
            target,
            ..Default::default()
        };
        if let Some(info) = &info {
            if let Ok(f) =
                rustix::fs::openat(info, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            {
                let mut text = String::new();
                if io::Read::read_to_string(&mut std::fs::File::from(f), &mut text).is_ok() {
                    parse_fdinfo(&text, &mut entry);
                }
            }
        }
        out.push(entry);
        true
    })?;
    out.sort_by_key(|e| e.fd);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn fdinfo_parse() {
        let mut e = FdEntry::default();
        parse_fdinfo(
            "pos:\t42\nflags:\t02100002\nmnt_id:\t26\nino:\t77\neventfd-count: 0\n",
            &mut e,
        );
        assert_eq!(
            (e.pos, e.flags, e.mnt_id, e.ino),
            (Some(42), Some(0o2100002), Some(26), Some(77))
        );
        assert_eq!(socket_inode(b"socket:[123]"), Some(123));
        assert_eq!(socket_inode(b"pipe:[123]"), None);
        assert_eq!(parse_fd(b"12"), Some(12));
        assert_eq!(parse_fd(b"."), None);
    }

    /// A `sleep 30` child whose fd table is shaped by `layout` (run in the child before exec:
    /// only async-signal-safe calls), killed and reaped on drop. Returned once it runs `sleep`,
    /// when its table is final.
    struct Shaped(std::process::Child);
    impl Drop for Shaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    fn shaped(layout: impl Fn() + Send + Sync + 'static) -> Shaped {
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30");
        // SAFETY: `layout` only calls dup2/close/fcntl, which are async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                layout();
                Ok(())
            });
        }
        let child = Shaped(cmd.spawn().unwrap());
        let exe = format!("/proc/{}/exe", child.0.id());
        let start = std::time::Instant::now();
        while std::fs::read_link(&exe).map_or(true, |p| !p.ends_with("sleep"))
            && start.elapsed() < std::time::Duration::from_secs(10)
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child
    }

    /// A loopback listener, its fd and its socket inode.
    fn listener() -> (std::net::TcpListener, i32, u64) {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // Moved to a number no layout below uses: were it, say, 7, `dup2(raw, 7)` would be a
        // no-op that leaves FD_CLOEXEC set, and the child would lose it at exec.
        // SAFETY: F_DUPFD_CLOEXEC returns a new fd that the listener then owns.
        let l = unsafe {
            let fd = libc::fcntl(first.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 900);
            assert!(fd >= 900, "F_DUPFD_CLOEXEC");
            <std::net::TcpListener as std::os::fd::FromRawFd>::from_raw_fd(fd)
        };
        drop(first);
        let raw = l.as_raw_fd();
        let ino = std::fs::metadata(format!("/proc/self/fd/{raw}"))
            .unwrap()
            .ino();
        (l, raw, ino)
    }

    #[test]
    fn finds_a_socket_held_by_a_child() {
        // A holder other than the caller: a child that inherits the socket.
        let (l, raw, ino) = listener();
        let child = shaped(move || unsafe {
            libc::fcntl(raw, libc::F_SETFD, 0);
        });
        let pid = child.0.id();
        let wanted: HashSet<u64> = [ino].into();
        let all = socket_owners(&wanted, None, ScanStop::AllHolders).unwrap();
        let first = socket_owners(&wanted, Some(&[pid]), ScanStop::FirstHolder).unwrap();
        // Other tests of this binary fork concurrently, and a forked child holds a copy of the
        // listener until it execs: such a momentary holder is a real one, so look for ours.
        assert!(all[&ino].contains(&(pid, vec![raw])), "{:?}", all[&ino]);
        assert_eq!(first[&ino], vec![(pid, vec![raw])]);
        drop(l);
    }

    #[test]
    fn finds_a_socket_held_by_the_caller() {
        // A binding's host process (Node, Python) asks who holds the port it listens on.
        let (l, raw, ino) = listener();
        let me = std::process::id();
        let wanted: HashSet<u64> = [ino].into();
        let all = socket_owners(&wanted, None, ScanStop::AllHolders).unwrap();
        assert!(all[&ino].contains(&(me, vec![raw])), "{:?}", all[&ino]);
        let mine = socket_owners(&wanted, Some(&[me]), ScanStop::FirstHolder).unwrap();
        assert_eq!(mine[&ino], vec![(me, vec![raw])]);
        drop(l);
    }

    #[test]
    fn every_fd_layout_is_read_completely() {
        // The socket where each step of the scan finds it: a standard stream (read by name),
        // after a hole among 0-2 (listing starts at the hole), far past a sparse gap, and past
        // the first getdents buffer (more than 128 fds).
        let (l, raw, ino) = listener();
        let wanted: HashSet<u64> = [ino].into();
        type Layout = Box<dyn Fn() + Send + Sync>;
        let cases: Vec<(&str, Layout, Vec<i32>)> = vec![
            (
                "on fd 1",
                Box::new(move || unsafe {
                    libc::dup2(raw, 1);
                }),
                vec![1],
            ),
            // Reading stops at the first fd of the only wanted socket.
            (
                "on fd 0 and 2",
                Box::new(move || unsafe {
                    libc::dup2(raw, 0);
                    libc::dup2(raw, 2);
                }),
                vec![0],
            ),
            (
                "after a hole at 1",
                Box::new(move || unsafe {
                    libc::close(1);
                    libc::dup2(raw, 7);
                }),
                vec![7],
            ),
            // (The socket is placed first: the other dup2 calls may overwrite `raw`.)
            (
                "no fd 0, sparse",
                Box::new(move || unsafe {
                    libc::dup2(raw, 251);
                    libc::close(0);
                    libc::dup2(2, 10);
                }),
                vec![251],
            ),
            (
                "past 128 fds",
                Box::new(move || unsafe {
                    libc::dup2(raw, 300);
                    for fd in 3..200 {
                        libc::dup2(2, fd);
                    }
                }),
                vec![300],
            ),
        ];
        for (what, layout, fds) in cases {
            let child = shaped(layout);
            let pid = child.0.id();
            let one = socket_owners(&wanted, Some(&[pid]), ScanStop::AllHolders).unwrap();
            assert_eq!(
                one.get(&ino),
                Some(&vec![(pid, fds)]),
                "{what}: {:?}",
                list(pid).map(|v| v
                    .iter()
                    .map(|e| (e.fd, e.target.clone()))
                    .collect::<Vec<_>>())
            );
        }
        drop(l);
    }

    #[test]
    fn held_sockets_of_a_process() {
        let (_l, raw, ino) = listener();
        let held = held_sockets(std::process::id()).unwrap();
        assert!(held.contains(&(ino, raw)), "{held:?}");
        assert_eq!(
            held_sockets(u32::MAX - 5).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn dup_raw_copies_and_refuses_bad_numbers() {
        let f = tempfile::tempfile().unwrap();
        let copy = dup_raw_cloexec(f.as_raw_fd()).unwrap();
        assert_ne!(copy.as_raw_fd(), f.as_raw_fd());
        let flags = rustix::io::fcntl_getfd(&copy).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        for bad in [-1, i32::MIN, i32::MAX] {
            let e = dup_raw_cloexec(bad).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{bad}");
        }
    }

    #[test]
    fn lists_own_fds_with_positions() {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"hello world").unwrap();
        f.seek(SeekFrom::Start(5)).unwrap();
        let fds = list(std::process::id()).unwrap();
        let me = fds.iter().find(|e| e.fd == f.as_raw_fd()).unwrap();
        assert_eq!(me.pos, Some(5));
        assert!(me.flags.unwrap() & libc::O_RDWR as u32 != 0);
        assert_eq!(
            list(u32::MAX - 5).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
