//! Open file descriptors through `/proc/PID/fd` and `/proc/PID/fdinfo`, and the socket-inode
//! scan that maps sockets to the processes holding them.
//!
//! Hand-written because the owner scan is the hot path of `tether who`: per process one `stat`
//! of `PID/fd` (its size is the number of open fds), then one `readlinkat` per fd into a stack
//! buffer, compared as bytes (sparse or large tables are listed with one `getdents64` first);
//! nothing else is read for processes that hold nothing wanted.

use std::collections::{HashMap, HashSet};
use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{Mode, OFlags, RawDir};

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

/// `readlinkat` into a caller's buffer; returns the bytes of the target.
fn readlink_into<'a>(dir: &impl AsFd, name: &CStr, buf: &'a mut [u8; 256]) -> Option<&'a [u8]> {
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
        return None;
    }
    Some(&buf[..n as usize])
}

/// `readlinkat` like [`readlink_into`], keeping the errno.
fn readlink_errno<'a>(
    dir: &impl AsFd,
    name: &CStr,
    buf: &'a mut [u8; 256],
) -> Result<&'a [u8], i32> {
    // SAFETY: as in `readlink_into`.
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

/// Which processes hold the socket inodes in `wanted`: inode → (pid, fds) list.
///
/// `pids` limits the scan to those processes (e.g. one tree); `None` scans all of /proc.
/// Early exits (documented in `net::sockets`): within a process, reading stops once every
/// wanted inode has been seen in it; with [`ScanStop::FirstHolder`] the whole scan stops at the
/// first holder; the scanning process itself is skipped. Processes that vanish or deny access
/// are skipped silently.
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
            listed = list_pids(&proc)?;
            &listed
        }
    };
    let me = std::process::id();
    let counts = fd_count_supported(&proc);
    let done = AtomicBool::new(false);
    // The walk is syscall-bound (open, getdents, readlink per fd), so it is split across
    // threads, each taking every n-th process: two per CPU (at most 8), which measured faster
    // than one per CPU on a busy machine (bench/net.md). Small scopes (one tree) stay here.
    let threads = if pids.len() < 256 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| (n.get() * 2).min(8))
    };
    let scan = |part: usize| -> OwnerMap {
        let mut local = OwnerMap::new();
        let mut dbuf = [0u8; 4096];
        let mut lbuf = [0u8; 256];
        for &pid in pids.iter().skip(part).step_by(threads) {
            if done.load(Ordering::Relaxed) {
                break;
            }
            if pid == me {
                continue;
            }
            let hit = scan_process(&proc, pid, wanted, counts, &mut local, &mut dbuf, &mut lbuf);
            if hit && stop == ScanStop::FirstHolder {
                done.store(true, Ordering::Relaxed);
                break;
            }
        }
        local
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

/// Every numeric entry of /proc.
fn list_pids(proc: &OwnedFd) -> io::Result<Vec<u32>> {
    let root = open_dir(proc, ".")?;
    let mut dbuf = vec![MaybeUninit::<u8>::uninit(); 64 * 1024];
    let mut iter = RawDir::new(&root, &mut dbuf);
    let mut out = Vec::with_capacity(1024);
    while let Some(e) = iter.next() {
        if let Some(pid) = parse_fd(e?.file_name().to_bytes()) {
            out.push(pid as u32);
        }
    }
    Ok(out)
}

/// Largest `linux_dirent64` record of an fd directory: 19 bytes of header, a name of at most 10
/// digits and its NUL, rounded up to 8.
const MAX_FD_DIRENT: usize = 32;

/// Whether `stat` of `/proc/PID/fd` gives the number of open fds as its size (Linux 6.2+;
/// older kernels say 0). Checked on our own fd directory, which is never empty.
fn fd_count_supported(proc: &OwnedFd) -> bool {
    rustix::fs::statat(proc, "self/fd", rustix::fs::AtFlags::empty())
        .map(|st| st.st_size > 0)
        .unwrap_or(false)
}

/// Fd tables up to this many open fds are probed by number instead of listed.
const PROBE_MAX: usize = 64;
/// Probing gives up (and lists the directory) after this many unused fd numbers.
const PROBE_MISSES: usize = 4;

/// Record the fds of one process that point at `wanted` inodes, in `found`/`seen`; `true`
/// when every wanted inode has been seen (nothing more to look for in this process).
fn note(
    target: &[u8],
    fd: i32,
    wanted: &HashSet<u64>,
    found: &mut Vec<(u64, i32)>,
    seen: &mut Vec<u64>,
) -> bool {
    if let Some(ino) = socket_inode(target).filter(|i| wanted.contains(i)) {
        found.push((ino, fd));
        if !seen.contains(&ino) {
            seen.push(ino);
            return seen.len() == wanted.len();
        }
    }
    false
}

/// Scan one process's fds for `wanted` inodes into `out`; `true` when it holds any.
///
/// With fd counts available, one `stat` of `PID/fd` says how many fds are open: none (kernel
/// threads, zombies) costs nothing more, and a small dense table (the common case) is read by
/// `readlinkat("PID/fd/N")` for N = 0, 1, … until that many links were found, without opening
/// and listing the directory. Sparse or large tables are listed with `getdents64`.
fn scan_process(
    proc: &OwnedFd,
    pid: u32,
    wanted: &HashSet<u64>,
    counts: bool,
    out: &mut OwnerMap,
    dbuf: &mut [u8; 4096],
    lbuf: &mut [u8; 256],
) -> bool {
    let mut path = [0u8; 40];
    let dir_len = {
        use std::io::Write;
        let mut w = &mut path[..];
        let _ = write!(w, "{pid}/fd");
        40 - w.len()
    };
    let mut found: Vec<(u64, i32)> = Vec::new();
    let mut seen: Vec<u64> = Vec::new();
    if counts {
        let Ok(cdir) = CStr::from_bytes_with_nul(&path[..=dir_len]) else {
            return false;
        };
        let Ok(st) = rustix::fs::statat(proc, cdir, rustix::fs::AtFlags::empty()) else {
            return false; // gone, or not ours to read
        };
        let count = st.st_size.max(0) as usize;
        if count == 0 {
            return false;
        }
        if count <= PROBE_MAX {
            let (mut links, mut misses, mut fd) = (0usize, 0usize, 0i32);
            let complete = loop {
                let len = {
                    use std::io::Write;
                    let mut w = &mut path[dir_len..];
                    let _ = write!(w, "/{fd}\0");
                    40 - dir_len - w.len()
                };
                let Ok(name) = CStr::from_bytes_with_nul(&path[..dir_len + len]) else {
                    break false;
                };
                match readlink_errno(proc, name, lbuf) {
                    Ok(t) => {
                        links += 1;
                        if note(t, fd, wanted, &mut found, &mut seen) || links >= count {
                            break true;
                        }
                    }
                    Err(libc::ENOENT) => {
                        misses += 1;
                        if misses > PROBE_MISSES {
                            break false;
                        }
                    }
                    Err(_) => return false, // not ours to read, or gone
                }
                fd += 1;
            };
            path[dir_len] = 0;
            if complete {
                return record(pid, found, out);
            }
            // Sparse table: list it instead.
            found.clear();
            seen.clear();
        }
    }
    let Ok(cpath) = CStr::from_bytes_with_nul(&path[..=dir_len]) else {
        return false;
    };
    let Ok(dir) = rustix::fs::openat(
        proc,
        cpath,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false; // gone, or not ours to read
    };
    let mut found: Vec<(u64, i32)> = Vec::new();
    let mut seen: Vec<u64> = Vec::new();
    'calls: loop {
        // SAFETY: the fd is a directory we own and the buffer is valid for its length.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                dbuf.as_mut_ptr(),
                dbuf.len(),
            )
        };
        if n <= 0 {
            break;
        }
        let n = n as usize;
        let mut off = 0;
        while off + 19 <= n {
            let reclen = u16::from_ne_bytes([dbuf[off + 16], dbuf[off + 17]]) as usize;
            if reclen == 0 || off + reclen > n {
                break 'calls;
            }
            let name_bytes = &dbuf[off + 19..off + reclen];
            off += reclen;
            let Some(nul) = name_bytes.iter().position(|&b| b == 0) else {
                continue;
            };
            let name = &name_bytes[..=nul];
            let Some(fd) = parse_fd(&name[..nul]) else {
                continue;
            };
            let Ok(cname) = CStr::from_bytes_with_nul(name) else {
                continue;
            };
            let Some(t) = readlink_into(&dir, cname, lbuf) else {
                continue;
            };
            if note(t, fd, wanted, &mut found, &mut seen) {
                break 'calls; // every wanted socket is in this process
            }
        }
        // procfs fills the buffer until an entry does not fit; room left for the largest
        // entry means the listing is complete, which saves the final empty getdents.
        if n + MAX_FD_DIRENT <= dbuf.len() {
            break;
        }
    }
    record(pid, found, out)
}

/// Add what one process holds to `out`; `true` when it holds anything.
fn record(pid: u32, found: Vec<(u64, i32)>, out: &mut OwnerMap) -> bool {
    if found.is_empty() {
        return false;
    }
    let mut by: HashMap<u64, Vec<i32>> = HashMap::new();
    for (ino, fd) in found {
        by.entry(ino).or_default().push(fd);
    }
    for (ino, fds) in by {
        out.entry(ino).or_default().push((pid, fds));
    }
    true
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

/// Every open fd of `pid`, sorted by number, with its fdinfo. `NotFound` when the process is
/// gone, `PermissionDenied` when it is not ours to inspect.
pub fn list(pid: u32) -> io::Result<Vec<FdEntry>> {
    let proc = open_proc()?;
    let dir = open_dir(&proc, &format!("{pid}/fd"))?;
    let info = open_dir(&proc, &format!("{pid}/fdinfo")).ok();
    let mut out = Vec::new();
    let mut dbuf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut lbuf = [0u8; 256];
    let mut iter = RawDir::new(&dir, &mut dbuf);
    while let Some(e) = iter.next() {
        let e = e?;
        let name = e.file_name();
        let Some(fd) = parse_fd(name.to_bytes()) else {
            continue;
        };
        // Long paths do not fit the stack buffer; fall back to the allocating call.
        let cap = lbuf.len();
        let target = match readlink_into(&dir, name, &mut lbuf) {
            Some(t) if t.len() < cap => String::from_utf8_lossy(t).into_owned(),
            Some(_) => match rustix::fs::readlinkat(&dir, name, Vec::new()) {
                Ok(t) => t.to_string_lossy().into_owned(),
                Err(_) => continue,
            },
            None => continue, // closed meanwhile
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
    }
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

    #[test]
    fn finds_a_socket_held_by_a_child() {
        // The scan skips its own process, so let a child inherit the socket.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let raw = l.as_raw_fd();
        let ino = std::fs::metadata(format!("/proc/self/fd/{raw}"))
            .unwrap()
            .ino();
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30");
        // SAFETY: pre_exec runs in the child; clearing FD_CLOEXEC on an fd is async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                libc::fcntl(raw, libc::F_SETFD, 0);
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        let wanted: HashSet<u64> = [ino].into();
        let all = socket_owners(&wanted, None, ScanStop::AllHolders).unwrap();
        let first = socket_owners(&wanted, Some(&[child.id()]), ScanStop::FirstHolder).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        // Other tests of this binary fork concurrently, and a forked child holds a copy of the
        // listener until it execs: such a momentary holder is a real one, so look for ours.
        assert!(
            all[&ino].contains(&(child.id(), vec![raw])),
            "{:?}",
            all[&ino]
        );
        assert_eq!(first[&ino], vec![(child.id(), vec![raw])]);
        drop(l);
    }

    #[test]
    fn finds_a_socket_in_a_sparse_fd_table() {
        // fd 200 in a child with 0-2 open: probing by number gives up, listing finds it.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let raw = l.as_raw_fd();
        let ino = std::fs::metadata(format!("/proc/self/fd/{raw}"))
            .unwrap()
            .ino();
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30");
        // SAFETY: dup2 is async-signal-safe; the new fd has no FD_CLOEXEC.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                libc::dup2(raw, 200);
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        let wanted: HashSet<u64> = [ino].into();
        let all = socket_owners(&wanted, None, ScanStop::AllHolders).unwrap();
        let one = socket_owners(&wanted, Some(&[child.id()]), ScanStop::AllHolders).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        // As above: a concurrently forked child of another test may hold a copy for a moment.
        assert!(
            all[&ino].contains(&(child.id(), vec![200])),
            "{:?}",
            all[&ino]
        );
        assert_eq!(one[&ino], vec![(child.id(), vec![200])]);
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
