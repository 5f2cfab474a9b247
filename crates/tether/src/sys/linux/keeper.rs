//! The keeper: one guard process and a pool of cgroup leaves, shared by every command this
//! process starts with [`Guard::Shared`](crate::contain::Guard::Shared).
//!
//! Why: the per-command watchdog (see `watchdog`) costs a fork of this whole process and four
//! cross-process wake-ups per command, which a long-lived host (a Go service, a Python harness)
//! pays on every `Run`. In a cgroup the watchdog's other duty, being the subreaper that finds
//! escaped orphans, is the kernel's: every descendant stays in the leaf. What is left is ending
//! the trees when this process dies without cleaning up, and that needs one process, not one
//! per command. So the keeper forks a guard once, makes a base cgroup
//! `tether-<pid>-pool` next to this process, and hands out leaves `<base>/<slot>`; commands are
//! born in them directly (clone3 CLONE_INTO_CGROUP from the calling thread). A leaf whose tree
//! is gone goes back to the pool instead of being removed, so a run costs no mkdir or rmdir.
//!
//! The guard holds a pidfd on this process. When it becomes readable (this process died:
//! SIGKILL, a crash, exit without cleanup) the guard sends every leaf in use its death signal,
//! gives it its grace, kills what is left with one write to the base's `cgroup.kill`, removes
//! the leaves and the base, and exits. The death signal and grace of each slot are in a shared
//! anonymous mapping (written here, read there), so that a lease is one store.
//!
//! The guard is a copy of this process made by a raw clone3 with no exit signal (see
//! `spawn::clone_quiet`): this process's `wait()` for any child does not see it. It makes only
//! async-signal-safe calls (this process may be multi-threaded), and it gives back its
//! copy-on-write view of this process's large memory at once (see [`release_memory`]), so that
//! it stays at about 1 MB however large the host grows.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};

use super::cgroup::{self, remove_below, Leaf, Spare};
use super::helper::{decimal, freeze, keep_only, now_ms, populated, send_signal, write_at};

/// Slots in the shared table: the most leaves in use at once. Beyond it a lease fails and the
/// caller falls back to a watchdog. 64 KiB of address space; pages appear as slots are used.
const SLOTS: usize = 8192;

/// Empty leaves kept for reuse; more are removed when their trees end.
const KEEP_FREE: usize = 32;

/// How long the guard waits for the killed trees to be gone before removing what it can.
const KILL_WAIT_MS: i64 = 5000;

/// A slot's word: in use, the death signal (bits 8..16) and the grace in ms (bits 16..48).
const IN_USE: u64 = 1;
/// Set by the guard once it has killed the slot's leaf.
const KILLED: u64 = 2;

fn encode(signal: i32, grace: Duration) -> u64 {
    let ms = grace.as_millis().min(u128::from(u32::MAX)) as u64;
    IN_USE | ((signal.clamp(0, 255) as u64) << 8) | (ms << 16)
}

fn decode(word: u64) -> (i32, i64) {
    (
        ((word >> 8) & 0xff) as i32,
        ((word >> 16) & 0xffff_ffff) as i64,
    )
}

/// What marks a leased leaf as the pool's: its slot, and the keeper it came from.
#[derive(Debug)]
pub struct Pooled {
    pub(super) slot: u32,
    /// The keeper it belongs to (a keeper made again after a fork or a guard's death has
    /// another).
    pub(super) keeper: u64,
}

struct Keeper {
    id: u64,
    /// The process this keeper and its guard belong to (a forked child makes its own).
    owner: u32,
    base: PathBuf,
    base_rel: String,
    base_fd: OwnedFd,
    guard: OwnedFd,
    table: *const AtomicU64,
    free: Vec<(u32, Spare)>,
    /// Leaves given back while their trees were still being killed.
    dirty: Vec<(u32, Spare)>,
    spare_slots: Vec<u32>,
    next_slot: u32,
}

// SAFETY: `table` points into a shared mapping that lives as long as the process (never
// unmapped, not even when the keeper is replaced: its guard may still read it); its words are
// atomics.
unsafe impl Send for Keeper {}

static KEEPER: Mutex<Option<Keeper>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// The process (by PID: a forked child tries again) where no pool can be made.
static UNAVAILABLE: AtomicU32 = AtomicU32::new(0);

fn pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// A leaf for a command whose tree gets `signal` (0: none) and then `grace` before SIGKILL if
/// this process dies. Starts the guard on first use (or after a fork, or if it died).
pub fn lease(signal: i32, grace: Duration) -> io::Result<Leaf> {
    let mut g = KEEPER.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = match g.as_ref() {
        Some(k) => k.owner != pid() || !k.guard_alive(),
        None => true,
    };
    if fresh {
        if UNAVAILABLE.load(Ordering::Relaxed) == pid() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no cgroup pool here (it could not be made before)",
            ));
        }
        // The old keeper's leaves in use still hold its id: when they come back they are
        // dropped (a forked child's copies) or removed, not pooled here.
        if let Some(old) = g.take() {
            old.forget();
        }
        match Keeper::new() {
            Ok(k) => *g = Some(k),
            Err(e) => {
                // Not allowed (not root, no delegated cgroup), or no cgroup v2: that does not
                // change while this process runs, so every later start goes straight to its
                // fallback instead of trying again.
                if matches!(
                    e.kind(),
                    io::ErrorKind::PermissionDenied
                        | io::ErrorKind::NotFound
                        | io::ErrorKind::ReadOnlyFilesystem
                        | io::ErrorKind::Unsupported
                ) {
                    UNAVAILABLE.store(pid(), Ordering::Relaxed);
                }
                return Err(e);
            }
        }
    }
    let k = g.as_mut().expect("keeper just made");
    let (slot, spare) = k.take_leaf()?;
    k.slot(slot as usize)
        .store(encode(signal, grace), Ordering::Release);
    Ok(spare.into_leaf(Pooled { slot, keeper: k.id }))
}

/// A leaf of the pool is done with. Reusable and empty: back to the pool. Otherwise it is
/// removed, at once if empty, else at a later lease once its tree is gone (the dirty list).
/// Called from `Leaf`'s drop.
pub(super) fn give_back(p: Pooled, reusable: bool, leaf: Spare) {
    let mut g = KEEPER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(k) = g.as_mut().filter(|k| k.owner == pid()) else {
        return;
    };
    if p.keeper != k.id {
        // A leaf of a keeper that was replaced (its guard died): remove it if it can be.
        let _ = rustix::fs::rmdir(&leaf.dir);
        return;
    }
    // A reusable leaf is empty for good (see `Leaf::remove`): no second read.
    if reusable {
        k.release(p.slot, leaf);
    } else if busy(&leaf) {
        k.dirty.push((p.slot, leaf));
    } else {
        k.remove(p.slot, leaf);
    }
}

/// Whether a leaf still has members (or cannot be read: then it is not reused).
fn busy(leaf: &Spare) -> bool {
    cgroup::event_value(&leaf.events, "populated").unwrap_or(true)
}

impl Keeper {
    fn new() -> io::Result<Keeper> {
        let me = pid();
        if me == 1 {
            // The init of a PID namespace: its guard would be killed with it (the kernel ends
            // the whole namespace), leaving the pool behind. A watchdog per command instead.
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no shared guard for a PID namespace's init",
            ));
        }
        let (own, parent) = cgroup::own_dir()?;
        let (name, base) = cgroup::make_unique_dir(
            &parent,
            (0..100).map(|n| match n {
                0 => format!("{}{me}-pool", cgroup::LEAF_PREFIX),
                n => format!("{}{me}-pool{n}", cgroup::LEAF_PREFIX),
            }),
        )?;
        let made = (|| {
            let base_fd = rustix::fs::open(
                &base,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            rustix::fs::accessat(
                &base_fd,
                "cgroup.kill",
                rustix::fs::Access::WRITE_OK,
                rustix::fs::AtFlags::empty(),
            )?;
            let table = map_table()?;
            let path = CString::new(base.as_os_str().as_bytes())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            let guard = start_guard(me, base_fd.as_raw_fd(), &path, table)?;
            Ok::<_, io::Error>((base_fd, table, guard))
        })();
        let (base_fd, table, guard) = match made {
            Ok(m) => m,
            Err(e) => {
                let _ = rustix::fs::rmdir(&base);
                return Err(e);
            }
        };
        Ok(Keeper {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            owner: me,
            base_rel: format!("{}/{name}", own.trim_end_matches('/')),
            base,
            base_fd,
            guard,
            table,
            free: Vec::new(),
            dirty: Vec::new(),
            spare_slots: Vec::new(),
            next_slot: 0,
        })
    }

    fn slot(&self, i: usize) -> &AtomicU64 {
        // SAFETY: i < SLOTS (slots are handed out below that), and the mapping is never unmapped.
        unsafe { &*self.table.add(i) }
    }

    /// Whether the guard is still there to end the trees (a process of ours: its pidfd is
    /// readable once it has exited).
    fn guard_alive(&self) -> bool {
        let mut pfd = [rustix::event::PollFd::new(
            &self.guard,
            rustix::event::PollFlags::IN,
        )];
        let now = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        !matches!(rustix::event::poll(&mut pfd, Some(&now)), Ok(n) if n > 0)
    }

    fn take_leaf(&mut self) -> io::Result<(u32, Spare)> {
        // Trees that were being killed when their leaves came back may be gone by now.
        let mut i = 0;
        while i < self.dirty.len() {
            if busy(&self.dirty[i].1) {
                i += 1;
            } else {
                let (slot, l) = self.dirty.swap_remove(i);
                self.remove(slot, l);
            }
        }
        if let Some(l) = self.free.pop() {
            return Ok(l);
        }
        let slot = match self.spare_slots.pop() {
            Some(s) => s,
            None if (self.next_slot as usize) < SLOTS => {
                self.next_slot += 1;
                self.next_slot - 1
            }
            None => return Err(io::Error::from_raw_os_error(libc::ENOSPC)),
        };
        match self.make_leaf(slot) {
            Ok(l) => Ok((slot, l)),
            Err(e) => {
                self.spare_slots.push(slot);
                Err(e)
            }
        }
    }

    fn make_leaf(&self, slot: u32) -> io::Result<Spare> {
        let name = slot.to_string();
        rustix::fs::mkdirat(&self.base_fd, name.as_str(), Mode::from_raw_mode(0o755))?;
        let opened = (|| {
            let dir_fd = rustix::fs::openat(
                &self.base_fd,
                name.as_str(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let events = rustix::fs::openat(
                &dir_fd,
                "cgroup.events",
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok::<_, io::Error>((dir_fd, events))
        })();
        match opened {
            Ok((dir_fd, events)) => Ok(Spare {
                dir: self.base.join(&name),
                rel: format!("{}/{name}", self.base_rel),
                dir_fd,
                events,
            }),
            Err(e) => {
                let _ = rustix::fs::unlinkat(
                    &self.base_fd,
                    name.as_str(),
                    rustix::fs::AtFlags::REMOVEDIR,
                );
                Err(e)
            }
        }
    }

    /// An empty leaf: kept for the next lease, or removed when enough are kept.
    fn release(&mut self, slot: u32, leaf: Spare) {
        if self.free.len() < KEEP_FREE {
            self.slot(slot as usize).store(0, Ordering::Release);
            self.free.push((slot, leaf));
        } else {
            self.remove(slot, leaf);
        }
    }

    /// An empty leaf that is not kept: removed, its slot free for a new one.
    fn remove(&mut self, slot: u32, leaf: Spare) {
        self.slot(slot as usize).store(0, Ordering::Release);
        remove_below(leaf.dir_fd.as_raw_fd());
        if rustix::fs::rmdir(&leaf.dir).is_ok() {
            self.spare_slots.push(slot);
        }
    }

    /// Let go of a keeper that is replaced. In a forked child its base and guard are the
    /// parent's: nothing is touched. After its guard died: the dead guard is reaped and the
    /// empty leaves removed (the ones in use are removed as they come back).
    fn forget(self) {
        if self.owner != pid() {
            return;
        }
        let _ = super::supervise::waitid_pidfd(
            self.guard.as_fd(),
            super::supervise::Hang::NoHang,
            super::supervise::Reap::Collect,
        );
        for (_, l) in self.free.iter().chain(self.dirty.iter()) {
            let _ = rustix::fs::rmdir(&l.dir);
        }
        let _ = rustix::fs::rmdir(&self.base);
    }
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("base", &self.base)
            .field("free", &self.free.len())
            .finish_non_exhaustive()
    }
}

fn map_table() -> io::Result<*const AtomicU64> {
    // SAFETY: a fresh shared anonymous mapping, never unmapped (the guard reads it after fork).
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            SLOTS * std::mem::size_of::<AtomicU64>(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p.cast())
}

/// What the guard is started with, copied to its own stack first thing.
#[derive(Clone, Copy)]
struct GuardArgs {
    /// A pidfd on the host, opened by the host before the clone (exact: no PID to reuse).
    host: RawFd,
    base_fd: RawFd,
    /// The base's path, NUL-terminated; empty if it did not fit.
    path: [u8; PATH_MAX],
    table: *const AtomicU64,
    /// Give back the copy of the host's large memory (see [`release_memory`]).
    release: bool,
}

/// Whether a sanitizer's runtime (ASan, HWASan, TSan, MSan, LSan) is loaded: it intercepts the
/// libc calls the guard makes and keeps its state in large anonymous mappings, which the guard
/// must then not release (it did, and crashed in ASan's interceptors). Builds with sanitizers
/// are test builds: there the guard keeps its copy of the host's memory.
fn sanitized() -> bool {
    [
        c"__asan_init",
        c"__hwasan_init",
        c"__tsan_init",
        c"__msan_init",
        c"__lsan_init",
    ]
    .iter()
    // SAFETY: dlsym with the default handle and a NUL-terminated name only looks it up.
    .any(|name| unsafe { !libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()).is_null() })
}

/// The guard's stack: `remove_below` recurses with a 4 KiB buffer per level.
const GUARD_STACK: usize = 512 * 1024;

/// Start the guard (a quiet clone child: see `spawn::clone_quiet`); returns a pidfd on it.
fn start_guard(
    host: u32,
    base_fd: RawFd,
    base: &CString,
    table: *const AtomicU64,
) -> io::Result<OwnedFd> {
    let hostfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(host as i32).expect("our own PID is positive"),
        rustix::process::PidfdFlags::empty(),
    )?;
    let mut args = GuardArgs {
        host: hostfd.as_raw_fd(),
        base_fd,
        path: [0; PATH_MAX],
        table,
        release: !sanitized(),
    };
    let bytes = base.as_bytes_with_nul();
    if bytes.len() <= args.path.len() {
        args.path[..bytes.len()].copy_from_slice(bytes);
    }
    // SAFETY: the guard only makes async-signal-safe calls on its copy of `args` and never
    // returns (guard_entry).
    let (_, fd) = unsafe {
        super::spawn::clone_quiet(
            guard_entry,
            std::ptr::addr_of_mut!(args).cast(),
            GUARD_STACK,
        )
    }?;
    Ok(fd)
}

// ---------------------------------------------------------------------------------------------
// The guard process. Everything below runs in the clone: async-signal-safe calls only, and no
// panic (libc's cached thread id is the host's: an abort would signal the host's thread).

unsafe extern "C" fn guard_entry(arg: *mut libc::c_void) -> ! {
    // Onto our own stack before anything of the host's memory is released.
    let args = *(arg as *const GuardArgs);
    guard_main(args)
}

unsafe fn guard_main(args: GuardArgs) -> ! {
    let GuardArgs {
        host: hostfd,
        base_fd,
        path,
        table,
        release,
    } = args;
    // Out of the host's session and process group: a kill of its job, even SIGKILL to the
    // whole group, leaves the guard to end the trees.
    libc::setsid();
    keep_only([base_fd, hostfd], c"tether-guard");
    if release {
        release_memory();
    }
    loop {
        let mut pfd = libc::pollfd {
            fd: hostfd,
            events: libc::POLLIN,
            revents: 0,
        };
        let n = libc::poll(&mut pfd, 1, -1);
        if n > 0 {
            break;
        }
        if n < 0 && *libc::__errno_location() != libc::EINTR {
            // Out of memory for the poll, say: look again a little later.
            let pause = libc::timespec {
                tv_sec: 0,
                tv_nsec: 10_000_000,
            };
            libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &pause, std::ptr::null_mut());
        }
    }
    end_all(base_fd, table);
    remove_below(base_fd);
    if path[0] != 0 {
        libc::rmdir(path.as_ptr().cast());
    }
    libc::_exit(0)
}

const PATH_MAX: usize = 4096;

/// Mappings at least this large are released by the guard (see [`release_memory`]).
const RELEASE_MIN: usize = 1 << 20;

/// Give back our copy of the host's large anonymous memory (heaps, arenas, other threads'
/// stacks). After the fork it is shared copy-on-write; as the host rewrites its pages, the old
/// ones would stay with the guard for the host's whole life: a Go service with a 200 MB heap
/// measured a 200 MB guard. Only private, writable, anonymous mappings of at least 1 MiB go,
/// never the ones our stack and libc's thread block are in: the guard runs on those, the shared slot table, the
/// host's files (code, data) and the small mappings where the dynamic linker keeps what lazy
/// binding needs. What the guard uses afterwards was copied to its stack.
unsafe fn release_memory() {
    let marker = 0u8;
    let sp = std::ptr::addr_of!(marker) as usize;
    // libc's thread block (errno, the thread pointer's target) of the thread we were cloned
    // from: in its stack's mapping for a thread the host started. pthread_self only reads it.
    let tp = libc::pthread_self() as usize;
    // Unmapping while /proc/self/maps is read would move its entries under the reader: collect
    // a batch, then unmap it, until a pass finds nothing more (or too many passes).
    for _ in 0..16 {
        let mut ranges = [(0usize, 0usize); 256];
        let n = collect_releasable([sp, tp], &mut ranges);
        for &(start, end) in &ranges[..n] {
            libc::munmap(start as *mut libc::c_void, end - start);
        }
        if n < ranges.len() {
            return;
        }
    }
}

/// Fill `out` with the mappings to release; returns how many.
unsafe fn collect_releasable(keep: [usize; 2], out: &mut [(usize, usize)]) -> usize {
    let fd = libc::open(
        c"/proc/self/maps".as_ptr(),
        libc::O_RDONLY | libc::O_CLOEXEC,
    );
    if fd < 0 {
        return 0;
    }
    let mut buf = [0u8; 8192];
    let (mut len, mut n) = (0usize, 0usize);
    'read: loop {
        let got = libc::read(fd, buf[len..].as_mut_ptr().cast(), buf.len() - len);
        if got <= 0 {
            break;
        }
        len += got as usize;
        let mut line_start = 0;
        while let Some(nl) = buf[line_start..len].iter().position(|&b| b == b'\n') {
            if let Some(r) = releasable(&buf[line_start..line_start + nl], keep) {
                if n == out.len() {
                    break 'read;
                }
                out[n] = r;
                n += 1;
            }
            line_start += nl + 1;
        }
        if line_start == 0 && len == buf.len() {
            // A line longer than the buffer (a very long path): not anonymous; skip it.
            len = 0;
            continue;
        }
        buf.copy_within(line_start..len, 0);
        len -= line_start;
    }
    libc::close(fd);
    n
}

/// One line of /proc/self/maps (`start-end perms offset dev inode [path]`): its range if it is
/// private, writable, anonymous, unnamed, large, and holds none of the addresses in `keep`.
fn releasable(line: &[u8], keep: [usize; 2]) -> Option<(usize, usize)> {
    let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let range = fields.next()?;
    let perms = fields.next()?;
    let _offset = fields.next()?;
    let _dev = fields.next()?;
    let inode = fields.next()?;
    let named = fields.next().is_some();
    let dash = range.iter().position(|&b| b == b'-')?;
    let start = hex(&range[..dash])?;
    let end = hex(&range[dash + 1..])?;
    let ok = perms.len() == 4
        && perms[1] == b'w'
        && perms[3] == b'p'
        && inode == b"0"
        && !named
        && end.saturating_sub(start) >= RELEASE_MIN
        && !keep.iter().any(|&a| start <= a && a < end);
    ok.then_some((start, end))
}

fn hex(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter().try_fold(0usize, |acc, &b| {
        let d = (b as char).to_digit(16)?;
        Some(acc << 4 | d as usize)
    })
}

/// The leaf directory of `slot`, opened below the base.
unsafe fn open_slot(base_fd: RawFd, slot: usize) -> RawFd {
    let mut name = [0u8; 24];
    decimal(slot as u64, &mut name);
    libc::openat(
        base_fd,
        name.as_ptr().cast(),
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
    )
}

/// The host died: each leaf in use gets its death signal and grace, then SIGKILL; then the
/// whole base is killed and waited for.
unsafe fn end_all(base_fd: RawFd, table: *const AtomicU64) {
    let events = libc::openat(
        base_fd,
        c"cgroup.events".as_ptr(),
        libc::O_RDONLY | libc::O_CLOEXEC,
    );
    let start = now_ms();
    for i in 0..SLOTS {
        let word = (*table.add(i)).load(Ordering::Acquire);
        if word & IN_USE == 0 {
            continue;
        }
        let (sig, _) = decode(word);
        if sig == 0 {
            // No death signal: the grace, then SIGKILL.
            continue;
        }
        let leaf = open_slot(base_fd, i);
        if leaf >= 0 {
            if sig == libc::SIGKILL {
                write_at(leaf, c"cgroup.kill", b"1");
                (*table.add(i)).store(word | KILLED, Ordering::Relaxed);
            } else {
                signal_members(leaf, sig);
            }
            libc::close(leaf);
        }
    }
    // Each leaf's grace, event-driven: the base's cgroup.events changes as trees empty.
    loop {
        if events >= 0 && !populated(events) {
            break;
        }
        let now = now_ms();
        let mut next = i64::MAX;
        for i in 0..SLOTS {
            let word = (*table.add(i)).load(Ordering::Acquire);
            if word & IN_USE == 0 || word & KILLED != 0 {
                continue;
            }
            let (_, grace) = decode(word);
            let deadline = start.saturating_add(grace);
            if deadline <= now {
                let leaf = open_slot(base_fd, i);
                if leaf >= 0 {
                    write_at(leaf, c"cgroup.kill", b"1");
                    libc::close(leaf);
                }
                (*table.add(i)).store(word | KILLED, Ordering::Relaxed);
            } else {
                next = next.min(deadline);
            }
        }
        if next == i64::MAX {
            break;
        }
        let mut pfd = libc::pollfd {
            fd: events,
            events: libc::POLLPRI,
            revents: 0,
        };
        let wait = if events < 0 { 20 } else { next - now };
        libc::poll(&mut pfd, 1, wait.clamp(1, i32::MAX as i64) as libc::c_int);
    }
    write_at(base_fd, c"cgroup.kill", b"1");
    let limit = now_ms() + KILL_WAIT_MS;
    while events >= 0 && populated(events) && now_ms() < limit {
        let mut pfd = libc::pollfd {
            fd: events,
            events: libc::POLLPRI,
            revents: 0,
        };
        libc::poll(&mut pfd, 1, 50);
    }
}

/// `sig` and SIGCONT to every process of the leaf, held still meanwhile (frozen, no member
/// can exit and have its PID reused between the listing and the signal).
unsafe fn signal_members(leaf: RawFd, sig: i32) {
    let events = libc::openat(
        leaf,
        c"cgroup.events".as_ptr(),
        libc::O_RDONLY | libc::O_CLOEXEC,
    );
    let frozen = freeze(leaf, events, true);
    let procs = libc::openat(
        leaf,
        c"cgroup.procs".as_ptr(),
        libc::O_RDONLY | libc::O_CLOEXEC,
    );
    if procs >= 0 {
        let mut buf = [0u8; 4096];
        let mut pid: i64 = 0;
        let mut in_number = false;
        loop {
            let n = libc::read(procs, buf.as_mut_ptr().cast(), buf.len());
            if n <= 0 {
                break;
            }
            for &b in &buf[..n as usize] {
                if b.is_ascii_digit() {
                    pid = pid * 10 + i64::from(b - b'0');
                    in_number = true;
                } else if in_number {
                    signal_pid(pid, sig, frozen);
                    pid = 0;
                    in_number = false;
                }
            }
        }
        if in_number {
            signal_pid(pid, sig, frozen);
        }
        libc::close(procs);
    }
    if frozen {
        freeze(leaf, events, false);
    }
    if events >= 0 {
        libc::close(events);
    }
}

unsafe fn signal_pid(pid: i64, sig: i32, frozen: bool) {
    if pid <= 1 || pid > i64::from(i32::MAX) {
        return;
    }
    let pid = pid as libc::pid_t;
    if frozen {
        libc::kill(pid, sig);
        libc::kill(pid, libc::SIGCONT);
        return;
    }
    // Not frozen (no freezer, or it timed out): each member through a pidfd, so that at least
    // the signal and its SIGCONT reach the same process.
    let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as RawFd;
    if fd >= 0 {
        send_signal(fd, sig);
        send_signal(fd, libc::SIGCONT);
        libc::close(fd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releasable_mappings() {
        let keep = [0x7ffc_0000_1000, 0x7ffd_0000_1000];
        let heap = b"7f0000000000-7f0004000000 rw-p 00000000 00:00 0 ";
        assert_eq!(
            releasable(heap, keep),
            Some((0x7f00_0000_0000, 0x7f00_0400_0000))
        );
        // Too small, read-only, shared, a file's, named, or our stack's: kept.
        for line in [
            &b"7f0000000000-7f0000001000 rw-p 00000000 00:00 0"[..],
            b"7f0000000000-7f0004000000 r--p 00000000 00:00 0",
            b"7f0000000000-7f0004000000 rw-s 00000000 00:01 0",
            b"7f0000000000-7f0004000000 rw-p 00000000 08:01 1234 /usr/lib/libc.so.6",
            b"55d000000000-55d004000000 rw-p 00000000 00:00 0 [heap]",
            b"7ffc00000000-7ffc04000000 rw-p 00000000 00:00 0",
            b"7ffd00000000-7ffd04000000 rw-p 00000000 00:00 0",
        ] {
            assert_eq!(
                releasable(line, keep),
                None,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn slot_words_round_trip() {
        let w = encode(libc::SIGTERM, Duration::from_millis(2500));
        assert_eq!(w & IN_USE, IN_USE);
        assert_eq!(w & KILLED, 0);
        assert_eq!(decode(w), (libc::SIGTERM, 2500));
        assert_eq!(
            decode(encode(0, Duration::from_secs(u64::MAX))).1,
            i64::from(u32::MAX)
        );
    }
}
