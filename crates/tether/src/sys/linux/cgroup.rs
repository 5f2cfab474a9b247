//! cgroup v2: finding the mount, making leaves, moving, freezing, killing, and waiting for a
//! cgroup to empty through `cgroup.events` (the kernel signals changes with POLLPRI).

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};

use super::family::for_each_entry;
use super::keeper::Pooled;

/// The cgroup2 mount point, from `/proc/self/mountinfo` (fstype `cgroup2`); `None` when cgroup v2
/// is not mounted in this mount namespace.
pub fn mount_point() -> Option<&'static Path> {
    static M: OnceLock<Option<PathBuf>> = OnceLock::new();
    M.get_or_init(|| {
        let text = read_text("/proc/self/mountinfo").ok()?;
        find_cgroup2_mount(&text)
    })
    .as_deref()
}

/// Read a small /proc or cgroupfs file whole. These report size 0, so `fs::read_to_string`
/// starts at 32 bytes and doubles (8 reads for mountinfo); one 4 KiB read usually does.
fn read_text(path: &str) -> io::Result<String> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity());
        }
        let n = match rustix::io::read(&fd, rustix::buffer::spare_capacity(&mut buf)) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
    }
    String::from_utf8(buf).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}

/// Parse mountinfo text for the first cgroup2 mount whose root is `/`.
pub fn find_cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    for line in mountinfo.lines() {
        // Fields: id parent maj:min root mountpoint opts [optional...] - fstype source superopts
        let (pre, post) = line.split_once(" - ")?;
        if post.split_ascii_whitespace().next() != Some("cgroup2") {
            continue;
        }
        let f: Vec<&str> = pre.split_ascii_whitespace().collect();
        if f.len() >= 5 && f[3] == "/" {
            return Some(PathBuf::from(unescape_mountinfo(f[4])));
        }
    }
    None
}

fn unescape_mountinfo(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The v2 cgroup path (`0::/a/b`) of a process, relative to the cgroup2 mount.
pub fn cgroup_of(pid: u32) -> io::Result<String> {
    let text = read_text(&format!("/proc/{pid}/cgroup"))?;
    parse_proc_cgroup(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no cgroup v2 line"))
}

/// The `0::PATH` entry of /proc/PID/cgroup text.
pub fn parse_proc_cgroup(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_end_matches(" (deleted)").to_string())
}

/// The directory of a cgroup path under the mount.
pub fn dir_of(rel: &str) -> Option<PathBuf> {
    let m = mount_point()?;
    Some(m.join(rel.trim_start_matches('/')))
}

/// Whether this cgroup directory has the v2 kill and freeze files (Linux 5.14+ / 5.2+).
pub fn has_kill_and_freeze(dir: &Path) -> bool {
    dir.join("cgroup.kill").exists() && dir.join("cgroup.freeze").exists()
}

/// A cgroup leaf this process created. Its directory is removed by [`Leaf::remove`] (callers
/// make sure the tree is gone first); a leaf of the keeper's pool goes back to the pool when
/// dropped instead.
#[derive(Debug)]
pub struct Leaf {
    /// Absolute directory.
    pub dir: PathBuf,
    /// Path relative to the cgroup2 mount, as /proc/PID/cgroup shows it.
    pub rel: String,
    /// The directory itself, for clone3(CLONE_INTO_CGROUP).
    pub dir_fd: ManuallyDrop<OwnedFd>,
    /// `cgroup.events`, for event-driven "populated 0" / "frozen 1".
    pub events: ManuallyDrop<OwnedFd>,
    /// Set for a leaf of the keeper's pool ([`super::keeper::lease`]).
    pub(super) pooled: Option<Pooled>,
    /// A pooled leaf may take another tree once this one is gone: its tree ended by itself,
    /// never signalled or killed (set by its owner; otherwise the leaf is removed).
    pub reusable: bool,
}

impl Drop for Leaf {
    fn drop(&mut self) {
        // SAFETY: the fds are taken (or dropped) once, here, and never used again.
        let (dir_fd, events) = unsafe {
            (
                ManuallyDrop::take(&mut self.dir_fd),
                ManuallyDrop::take(&mut self.events),
            )
        };
        if let Some(p) = self.pooled.take() {
            super::keeper::give_back(
                p,
                self.reusable,
                Spare {
                    dir: std::mem::take(&mut self.dir),
                    rel: std::mem::take(&mut self.rel),
                    dir_fd,
                    events,
                },
            );
        }
    }
}

/// A leaf's parts, as the keeper's pool holds them between trees.
#[derive(Debug)]
pub(super) struct Spare {
    pub dir: PathBuf,
    pub rel: String,
    pub dir_fd: OwnedFd,
    pub events: OwnedFd,
}

impl Spare {
    pub(super) fn into_leaf(self, pooled: Pooled) -> Leaf {
        Leaf {
            dir: self.dir,
            rel: self.rel,
            dir_fd: ManuallyDrop::new(self.dir_fd),
            events: ManuallyDrop::new(self.events),
            pooled: Some(pooled),
            reusable: false,
        }
    }
}

/// This process's own cgroup: its path relative to the mount and its directory.
pub(super) fn own_dir() -> io::Result<(String, PathBuf)> {
    let own = read_text("/proc/self/cgroup").and_then(|t| {
        parse_proc_cgroup(&t)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no cgroup v2 line"))
    })?;
    let dir =
        dir_of(&own).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no cgroup2 mount"))?;
    Ok((own, dir))
}

/// Make the first directory of `names` under `parent` that is not taken (a name is taken by
/// another PID namespace's process of the same PID, or left by a dead one); EEXIST when all are.
pub(super) fn make_unique_dir(
    parent: &Path,
    names: impl IntoIterator<Item = String>,
) -> io::Result<(String, PathBuf)> {
    for name in names {
        let dir = parent.join(&name);
        match rustix::fs::mkdir(&dir, Mode::from_raw_mode(0o755)) {
            Ok(()) => return Ok((name, dir)),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::from_raw_os_error(libc::EEXIST))
}

static LEAF_SEQ: AtomicU32 = AtomicU32::new(0);

/// Prefix of the leaves [`create_leaf`] makes.
pub const LEAF_PREFIX: &str = "tether-";

/// Create a fresh leaf `tether-<pid>-<n>` inside this process's own cgroup.
/// Fails when cgroup v2 is absent, this process may not create cgroups there, or the leaf would
/// lack `cgroup.kill`.
pub fn create_leaf() -> io::Result<Leaf> {
    let (own, parent) = own_dir()?;
    // PIDs are those of our PID namespace: a process of another namespace in the same cgroup
    // may have made the same name, so a taken name means "try the next number".
    let pid = std::process::id();
    let (name, dir) = make_unique_dir(
        &parent,
        std::iter::repeat_with(|| LEAF_SEQ.fetch_add(1, Ordering::Relaxed))
            .take(1000)
            .map(|n| format!("{LEAF_PREFIX}{pid}-{n}")),
    )?;
    let open = |f: &str, flags: OFlags| {
        rustix::fs::open(dir.join(f), flags | OFlags::CLOEXEC, Mode::empty())
            .map_err(io::Error::from)
    };
    let made = (|| {
        let dir_fd = rustix::fs::open(
            &dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let events = open("cgroup.events", OFlags::RDONLY)?;
        // cgroup.kill (Linux 5.14) implies cgroup.freeze (5.2) in a non-root cgroup. Checked
        // with access(2) rather than opened: the watchdog opens it only if it has to.
        rustix::fs::accessat(
            &dir_fd,
            "cgroup.kill",
            rustix::fs::Access::WRITE_OK,
            rustix::fs::AtFlags::empty(),
        )?;
        Ok((dir_fd, events))
    })();
    match made {
        Ok((dir_fd, events)) => {
            let rel = format!("{}/{name}", own.trim_end_matches('/'));
            Ok(Leaf {
                dir,
                rel,
                dir_fd: ManuallyDrop::new(dir_fd),
                events: ManuallyDrop::new(events),
                pooled: None,
                reusable: false,
            })
        }
        Err(e) => {
            let _ = rustix::fs::rmdir(&dir);
            Err(e)
        }
    }
}

impl Leaf {
    /// Remove the directory and any cgroups below it, deepest first (leaves of nested `run`s
    /// that were killed with the tree). Fails with EBUSY while it still has members.
    pub fn remove(&self) -> io::Result<()> {
        if self.pooled.is_some() {
            // Kept for the next tree (given back when dropped): only the check that it is empty,
            // known already for a reusable leaf (its tree was gone when the command was reaped,
            // and an empty cgroup has nobody left to fork into it).
            if self.reusable {
                return Ok(());
            }
            return if event_value(&*self.events, "populated")? {
                Err(io::Error::from_raw_os_error(libc::EBUSY))
            } else {
                Ok(())
            };
        }
        match rustix::fs::rmdir(&self.dir) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(rustix::io::Errno::BUSY) => {
                remove_below(self.dir_fd.as_raw_fd());
                match rustix::fs::rmdir(&self.dir) {
                    Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Kill every member, wait (event-driven, up to `limit`) until the leaf is empty, remove it.
    pub fn kill_and_remove(&self, limit: std::time::Duration) -> io::Result<()> {
        let _ = kill_all(&self.dir);
        let _ = wait_event(
            &*self.events,
            "populated",
            false,
            Some(std::time::Instant::now() + limit),
        );
        self.remove()
    }
}

/// Remove every cgroup below the open directory `dir`, deepest first (leaves of nested `run`s
/// whose supervisor was killed with the tree). Cgroups that still have members stay.
/// Async-signal-safe (the watchdog calls it after fork): fixed buffers, no allocation.
pub fn remove_below(dir: RawFd) {
    remove_below_at(dir, 0)
}

fn remove_below_at(dir: RawFd, depth: u32) {
    if depth > 32 {
        return;
    }
    // Removing entries while reading the directory may skip some: read it again until a pass
    // removes nothing.
    for _ in 0..8 {
        let mut removed = 0;
        // SAFETY: openat on an open directory fd and a NUL-terminated literal.
        let it = unsafe {
            libc::openat(
                dir,
                c".".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if it < 0 {
            return;
        }
        for_each_entry(it, &mut |name, is_dir| {
            if !is_dir || name.len() >= 255 {
                return;
            }
            let mut n = [0u8; 256];
            n[..name.len()].copy_from_slice(name);
            // SAFETY: openat/close/unlinkat relative to an open directory, on a NUL-terminated
            // name in a stack buffer.
            unsafe {
                let sub = libc::openat(
                    dir,
                    n.as_ptr().cast(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                );
                if sub >= 0 {
                    remove_below_at(sub, depth + 1);
                    libc::close(sub);
                }
                if libc::unlinkat(dir, n.as_ptr().cast(), libc::AT_REMOVEDIR) == 0 {
                    removed += 1;
                }
            }
        });
        // SAFETY: closing the fd opened above.
        unsafe { libc::close(it) };
        if removed == 0 {
            return;
        }
    }
}

/// Remove every `tether-*` leaf below `dir` (at any depth), each with the cgroups below it,
/// deepest first, once they are empty. Other cgroups are left alone.
pub fn remove_tether_leaves(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let p = e.path();
        if e.file_name().as_bytes().starts_with(b"tether-") {
            let _ = remove_tree(&p);
        } else {
            remove_tether_leaves(&p);
        }
    }
}

/// Remove `dir` and every cgroup below it, deepest first, once they are empty.
pub fn remove_tree(dir: &Path) -> io::Result<()> {
    if let Ok(fd) = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        remove_below(fd.as_raw_fd());
    }
    match rustix::fs::rmdir(dir) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Write a small value to a cgroup control file.
pub fn write_file(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    let fd = rustix::fs::open(
        dir.join(file),
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::io::write(&fd, value.as_bytes())?;
    Ok(())
}

/// Kill every process in the cgroup (and its descendants) with SIGKILL, in one kernel operation.
pub fn kill_all(dir: &Path) -> io::Result<()> {
    write_file(dir, "cgroup.kill", "1")
}

/// The PIDs in a cgroup (this level only).
pub fn procs(dir: &Path) -> io::Result<Vec<u32>> {
    let text = std::fs::read_to_string(dir.join("cgroup.procs"))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// The PIDs in a cgroup and all cgroups below it.
pub fn procs_recursive(dir: &Path) -> io::Result<Vec<u32>> {
    let mut out = procs(dir)?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            if let Ok(mut more) = procs_recursive(&e.path()) {
                out.append(&mut more);
            }
        }
    }
    Ok(out)
}

/// The PIDs in a cgroup and the cgroups below it, except inside the leaves of nested tether
/// runs (named [`LEAF_PREFIX`]...), which those runs look after.
pub fn procs_outside_nested_leaves(dir: &Path) -> io::Result<Vec<u32>> {
    let mut out = procs(dir)?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let nested = e.file_name().to_string_lossy().starts_with(LEAF_PREFIX);
        if !nested && e.file_type()?.is_dir() {
            if let Ok(mut more) = procs_outside_nested_leaves(&e.path()) {
                out.append(&mut more);
            }
        }
    }
    Ok(out)
}

/// Read a key of `cgroup.events` (`populated`, `frozen`) through an open fd.
pub fn event_value(events: impl AsFd, key: &str) -> io::Result<bool> {
    let mut buf = [0u8; 256];
    let n = rustix::io::pread(events.as_fd(), &mut buf, 0)?;
    let text = std::str::from_utf8(&buf[..n]).unwrap_or("");
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim() == "1"))
        .unwrap_or(false))
}

/// Open `cgroup.events` of a cgroup directory.
pub fn open_events(dir: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        dir.join("cgroup.events"),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Wait until `key` in cgroup.events has value `want`, or `deadline` passes. Event-driven: the
/// kernel wakes pollers of cgroup.events with POLLPRI on every change. Returns whether it did.
pub fn wait_event(
    events: impl AsFd,
    key: &str,
    want: bool,
    deadline: Option<Instant>,
) -> io::Result<bool> {
    loop {
        if event_value(events.as_fd(), key)? == want {
            return Ok(true);
        }
        let left = match deadline {
            Some(d) => {
                let l = d.saturating_duration_since(Instant::now());
                if l.is_zero() {
                    return Ok(false);
                }
                Some(l)
            }
            None => None,
        };
        let mut fds = [rustix::event::PollFd::new(
            &events,
            rustix::event::PollFlags::PRI,
        )];
        match rustix::event::poll(&mut fds, left.map(timespec).as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Freeze (`true`) or thaw a cgroup; freezing waits for `frozen 1` up to `limit`.
pub fn set_frozen(dir: &Path, frozen: bool, limit: Duration) -> io::Result<bool> {
    write_file(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
    if !frozen {
        return Ok(true);
    }
    let ev = open_events(dir)?;
    wait_event(&ev, "frozen", true, Some(Instant::now() + limit))
}

/// A relative path under the mount for display (`/a/b`).
pub fn rel_of(dir: &Path) -> String {
    match mount_point().and_then(|m| dir.strip_prefix(m).ok()) {
        Some(r) => format!("/{}", r.as_os_str().to_string_lossy()),
        None => dir.display().to_string(),
    }
}

pub(crate) fn timespec(d: Duration) -> rustix::time::Timespec {
    rustix::time::Timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_parsing() {
        let text = "24 1 0:22 / /proc rw - proc proc rw\n\
                    41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            find_cgroup2_mount(text).unwrap(),
            PathBuf::from("/sys/fs/cgroup/unified")
        );
        assert_eq!(
            find_cgroup2_mount("24 1 0:22 / /proc rw - proc proc rw\n"),
            None
        );
        let esc = "41 31 0:38 / /a\\040b rw - cgroup2 cgroup2 rw\n";
        assert_eq!(find_cgroup2_mount(esc).unwrap(), PathBuf::from("/a b"));
        assert_eq!(
            parse_proc_cgroup("4:memory:/x\n0::/user.slice/a\n").as_deref(),
            Some("/user.slice/a")
        );
    }
}
