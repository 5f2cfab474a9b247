//! Parents and children, read at the cost of the tree and not of the machine: the children of a
//! process from `/proc/PID/task/*/children`, its parent and group from `/proc/PID/stat`, and
//! the one full pass over /proc the kernel leaves no way around (members of a process group or
//! session that are not descendants), made of one `getsid`/`getpgid` call per process instead
//! of a file read.
//!
//! Hand-written on fixed stack buffers, without allocation, because the watchdog uses the same
//! functions after `fork` (async-signal-safe calls only); a tree walk opens two small files per
//! member.

use std::io;
use std::os::fd::RawFd;

/// A NUL-terminated path built on the stack.
struct CPath {
    buf: [u8; 96],
    len: usize,
}

impl CPath {
    fn new() -> CPath {
        CPath {
            buf: [0; 96],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) -> &mut CPath {
        let n = s.len().min(self.buf.len() - 1 - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
        self
    }

    fn num(&mut self, mut v: u32) -> &mut CPath {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..])
    }

    fn ptr(&mut self) -> *const libc::c_char {
        self.buf[self.len] = 0;
        self.buf.as_ptr().cast()
    }
}

/// Where a process stands in the process hierarchy, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parentage {
    pub ppid: u32,
    /// The state letter (`R`, `S`, `Z`, …).
    pub state: u8,
    pub pgrp: i32,
    pub session: i32,
    pub threads: u32,
}

impl Parentage {
    /// Not a zombie (nor dead): it can still act and be signalled.
    pub fn alive(&self) -> bool {
        self.state != b'Z' && self.state != b'X'
    }
}

/// The parentage of `pid`, or `None` when it is gone (or /proc is not readable).
pub fn parentage(pid: u32) -> Option<Parentage> {
    let mut p = CPath::new();
    p.push(b"/proc/").num(pid).push(b"/stat");
    let mut buf = [0u8; 512];
    // SAFETY: open/read/close on a NUL-terminated path and a stack buffer.
    let n = unsafe {
        let fd = libc::open(p.ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    if n <= 0 {
        return None;
    }
    parse_parentage(&buf[..n as usize])
}

/// Parse the fields after the command name of a stat line: the name may hold any byte, so
/// parsing starts after its *last* `)`.
fn parse_parentage(text: &[u8]) -> Option<Parentage> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let mut fields = text.get(close + 2..)?.split(|&b| b == b' ');
    let state = *fields.next()?.first()?;
    let num = |f: Option<&[u8]>| -> Option<i64> {
        let f = f?;
        let (neg, digits) = match f.first() {
            Some(b'-') => (true, &f[1..]),
            _ => (false, f),
        };
        let v = parse_u32(digits)? as i64;
        Some(if neg { -v } else { v })
    };
    let ppid = num(fields.next())? as u32; // 4
    let pgrp = num(fields.next())? as i32; // 5
    let session = num(fields.next())? as i32; // 6
                                              // 7 tty_nr .. 19 nice, then 20 num_threads.
    let threads = num(fields.nth(13))? as u32;
    Some(Parentage {
        ppid,
        state,
        pgrp,
        session,
        threads,
    })
}

/// Call `f` with every child of `pid`, from `/proc/PID/task/*/children` (a child is listed under
/// the thread that forked it). Children may exit meanwhile: callers check each with
/// [`parentage`] once they hold it.
pub fn for_each_child(pid: u32, f: &mut dyn FnMut(u32)) {
    let mut p = CPath::new();
    p.push(b"/proc/").num(pid).push(b"/task");
    // SAFETY: open/close of a directory on a NUL-terminated path.
    let dir = unsafe {
        libc::open(
            p.ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return;
    }
    for_each_entry(dir, &mut |name, _| {
        if let Some(tid) = parse_u32(name) {
            read_children(pid, tid, f);
        }
    });
    // SAFETY: closing the fd opened above.
    unsafe { libc::close(dir) };
}

/// Walk the descendants of `roots` by parent links, breadth first: every child `c` listed under
/// a walked process `p` (from `/proc/p/task/*/children`, in PID order per parent) is offered to
/// `visit(c, p)`, which says whether it is taken (then its own children are walked, while
/// `max_depth` allows: its level is 1 below a root). Each PID is offered once. The roots are
/// walked, never offered.
///
/// This is the one walker of "descendants by parent": it reads two small files per member and
/// so costs what the tree costs, never a pass over /proc. A child may exit, and its PID go to
/// another process, between the listing and the visit: `visit` holds it (a pidfd) and then
/// checks that it still has parent `p` ([`parentage`]), as [`crate::process::Process`] does.
///
/// Allocates, so it is not async-signal-safe: the watchdog walks with [`for_each_child`] itself.
pub fn walk_descendants(
    roots: &[u32],
    max_depth: Option<usize>,
    visit: &mut dyn FnMut(u32, u32) -> bool,
) {
    let mut seen: std::collections::HashSet<u32> = roots.iter().copied().collect();
    let mut level: Vec<u32> = roots.to_vec();
    let mut depth = 0;
    let mut kids: Vec<u32> = Vec::new();
    while !level.is_empty() && max_depth.is_none_or(|max| depth < max) {
        let mut next = Vec::new();
        for &p in &level {
            kids.clear();
            for_each_child(p, &mut |c| kids.push(c));
            kids.sort_unstable();
            kids.dedup();
            for &c in &kids {
                if seen.insert(c) && visit(c, p) {
                    next.push(c);
                }
            }
        }
        level = next;
        depth += 1;
    }
}

/// The ancestors of `pid` with their parentage, nearest first, up to the top of this PID
/// namespace (a parent of 0). `None` when `pid` itself is gone. The walk stops at an ancestor
/// that is gone (it exited while being read) and at a cycle (only a racy read can make one).
/// Allocates: not async-signal-safe.
pub fn ancestors(pid: u32) -> Option<Vec<(u32, Parentage)>> {
    let mut cur = parentage(pid)?.ppid;
    let mut out: Vec<(u32, Parentage)> = Vec::new();
    while cur != 0 && cur != pid && !out.iter().any(|(p, _)| *p == cur) {
        let Some(par) = parentage(cur) else { break };
        out.push((cur, par));
        cur = par.ppid;
    }
    Some(out)
}

fn read_children(pid: u32, tid: u32, f: &mut dyn FnMut(u32)) {
    let mut p = CPath::new();
    p.push(b"/proc/")
        .num(pid)
        .push(b"/task/")
        .num(tid)
        .push(b"/children");
    // SAFETY: open on a NUL-terminated path.
    let fd = unsafe { libc::open(p.ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return;
    }
    let mut buf = [0u8; 1024];
    // A number may straddle two reads: carry it over.
    let mut cur: u32 = 0;
    let mut in_num = false;
    loop {
        // SAFETY: read into a stack buffer of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        for &b in &buf[..n as usize] {
            if b.is_ascii_digit() {
                cur = cur.wrapping_mul(10).wrapping_add(u32::from(b - b'0'));
                in_num = true;
            } else if in_num {
                f(cur);
                cur = 0;
                in_num = false;
            }
        }
    }
    if in_num {
        f(cur);
    }
    // SAFETY: closing the fd opened above.
    unsafe { libc::close(fd) };
}

/// A decimal number made of ASCII digits only.
pub fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(v)
}

/// Call `f(name, is_dir)` for every entry of the open directory `dir` except `.` and `..`.
pub fn for_each_entry(dir: RawFd, f: &mut dyn FnMut(&[u8], bool)) {
    let mut buf = [0u64; 512];
    loop {
        // SAFETY: getdents64 into a stack buffer of the size given.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir,
                buf.as_mut_ptr(),
                std::mem::size_of_val(&buf),
            )
        };
        if n <= 0 {
            return;
        }
        // SAFETY: the kernel filled the first n bytes of buf.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
        let mut off = 0usize;
        while off + 19 < bytes.len() {
            // struct linux_dirent64: ino u64, off i64, reclen u16, type u8, name[].
            let reclen = u16::from_ne_bytes([bytes[off + 16], bytes[off + 17]]) as usize;
            if reclen == 0 || off + reclen > bytes.len() {
                return;
            }
            let kind = bytes[off + 18];
            let name = &bytes[off + 19..off + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                f(name, kind == libc::DT_DIR);
            }
            off += reclen;
        }
    }
}

/// Every process in session `sid` (when given) or else in process group `pgid`: the one full
/// pass, for members that are not descendants of the leader (orphans, a shell's pipeline). One
/// `getsid`/`getpgid` per process, not a file read: about 1 µs each. Not async-signal-safe.
pub fn group_or_session_members(pgid: Option<u32>, sid: Option<u32>) -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    if pgid.is_none() && sid.is_none() {
        return Ok(out);
    }
    // SAFETY: open of a NUL-terminated literal path.
    let dir = unsafe {
        libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return Err(io::Error::last_os_error());
    }
    for_each_entry(dir, &mut |name, _| {
        let Some(pid) = parse_u32(name).filter(|p| *p > 0 && *p <= i32::MAX as u32) else {
            return;
        };
        // SAFETY: getsid/getpgid only read another process's ids.
        let hit = unsafe {
            match (sid, pgid) {
                (Some(s), _) => libc::getsid(pid as libc::pid_t) == s as libc::pid_t,
                (None, Some(g)) => libc::getpgid(pid as libc::pid_t) == g as libc::pid_t,
                (None, None) => false,
            }
        };
        if hit {
            out.push(pid);
        }
    });
    // SAFETY: closing the fd opened above.
    unsafe { libc::close(dir) };
    Ok(out)
}

/// Whether `pid` is in process group `pgid` or session `sid` (one syscall each, no file read).
pub fn in_group_or_session(pid: u32, pgid: Option<u32>, sid: Option<u32>) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: getpgid/getsid only read another process's ids.
    unsafe {
        pgid.is_some_and(|g| libc::getpgid(pid as libc::pid_t) == g as libc::pid_t)
            || sid.is_some_and(|s| libc::getsid(pid as libc::pid_t) == s as libc::pid_t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_hostile_name() {
        let line = b"42 (a) (b\nc d)) S 7 40 39 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 3 0 12345 1000";
        let p = parse_parentage(line).unwrap();
        assert_eq!(
            p,
            Parentage {
                ppid: 7,
                state: b'S',
                pgrp: 40,
                session: 39,
                threads: 3
            }
        );
        assert!(p.alive());
        let z = b"99 (x) Z 50 99 99 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0 500";
        assert!(!parse_parentage(z).unwrap().alive());
        assert!(parse_parentage(b"1 (init) S 0").is_none());
    }

    #[test]
    fn own_parentage_and_children() {
        let me = std::process::id();
        let p = parentage(me).unwrap();
        assert!(p.alive() && p.threads >= 1);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut kids = Vec::new();
        for_each_child(me, &mut |c| kids.push(c));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(kids.contains(&child.id()), "{kids:?}");
        assert_eq!(parse_u32(b"123"), Some(123));
        assert_eq!(parse_u32(b"12a"), None);
        assert_eq!(parse_u32(b""), None);
    }

    #[test]
    fn walks_descendants_with_depth_and_ancestors() {
        let t = crate::testing::Nested::start();
        let top = t.top.id();
        let mut found: Vec<(u32, u32)> = Vec::new();
        walk_descendants(&[top], None, &mut |c, p| {
            found.push((c, p));
            true
        });
        assert_eq!(found, vec![(t.middle, top), (t.leaf, t.middle)]);
        // Depth 1: the children of the root only; a refused child is not walked below.
        let mut one = Vec::new();
        walk_descendants(&[top], Some(1), &mut |c, _| {
            one.push(c);
            true
        });
        assert_eq!(one, vec![t.middle]);
        let mut offered = Vec::new();
        walk_descendants(&[top], None, &mut |c, _| {
            offered.push(c);
            false
        });
        assert_eq!(offered, vec![t.middle]);
        // The leaf's ancestors: its shell, the top shell, this process, and up.
        let me = std::process::id();
        let up = ancestors(t.leaf).unwrap();
        let pids: Vec<u32> = up.iter().map(|(p, _)| *p).collect();
        assert_eq!(&pids[..3], &[t.middle, top, me], "{pids:?}");
        assert_eq!(up[2].1.ppid, parentage(me).unwrap().ppid);
    }
}
