//! The watchdog: a small process forked for every contained command. It launches the command, so
//! that it is the command's parent and child subreaper; it relays the command's pidfd and exit
//! status to the supervisor over a socketpair, reaps the orphans it adopts, and when the
//! supervisor dies without releasing it (SIGKILL included: the kernel closes the supervisor's end
//! of the socket on any death) it ends the tree: the death signal first (GNU `timeout` sets its
//! `-s` signal as the command's parent-death signal), then, after the grace, SIGKILL to what is
//! left, and it removes the cgroup leaf and any leaves nested in it, deepest first.
//!
//! Why the watchdog, and not the supervisor, is the parent and subreaper: the tree of a command is
//! then exactly the watchdog's descendants, in every mode. Orphans (`setsid` escapers, double-forked
//! daemons) are reparented to the nearest subreaper *ancestor*; when the supervisor was that
//! subreaper and was SIGKILLed, its adopted orphans went on to init and nobody could find them
//! again (issue 8: `run --contain group -- sh -c 'setsid sleep 8401 & ...'` then SIGKILL of run
//! left `sleep 8401` running). A watchdog that only outlives the supervisor can find its process
//! group, but not those orphans. The price is the relay: one more wake-up at start (the pidfd)
//! and one at exit (the status). Measured with 5000 idle processes (bench/contain.py, against GNU
//! `timeout 10 /bin/true` alternately), `run --contain group` costs 1.05x GNU and `auto` (cgroup)
//! 1.13x, within the targets of 1.2x and 1.3x, because it spares every full /proc scan: "is the
//! tree empty" is answered by the watchdog's `waitid(P_ALL, WNOHANG)` when it reaps the command,
//! and collecting the tree walks the watchdog's children, never all of /proc (a scan cost 40 ms).
//!
//! After the fork the watchdog makes only async-signal-safe calls (the supervisor may be a
//! multi-threaded library user): no allocation, fixed buffers on the stack, one anonymous mapping
//! for the member list when it has to end a tree.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::cgroup::remove_below;
use super::family::{for_each_child, parentage};
use super::helper::{decimal, freeze, keep_only, now_ms, populated, send_signal, write_at};
use super::spawn::{launch, Failure, Prepared};
use super::supervise::RawExit;

/// What the watchdog starts and how it ends the tree.
pub struct WatchdogPlan<'a> {
    /// The command, prepared before the fork (nothing is allocated after it).
    pub launch: &'a Prepared<'a>,
    /// The cgroup leaf: its directory fd (for its control files and nested leaves) and its path.
    pub leaf: Option<(BorrowedFd<'a>, &'a CStr)>,
    /// Sent to the whole tree when the supervisor dies; 0 sends nothing, SIGKILL kills at once.
    pub death_signal: i32,
    /// How long the tree gets after `death_signal` before what is left is killed.
    pub grace: Duration,
}

/// The command's exit, as the watchdog relays it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchedExit {
    /// How the command ended.
    pub exit: RawExit,
    /// The watchdog had no other child left when it reaped the command: nothing of the tree is
    /// alive (every process of the tree is a descendant of the watchdog).
    pub tree_empty: bool,
}

/// The command as the watchdog launched it, before anything could reap it.
#[derive(Debug)]
pub struct Started {
    /// Its PID.
    pub pid: u32,
    /// A pidfd on it.
    pub pidfd: OwnedFd,
    /// Its start time in clock ticks (field 22 of /proc/PID/stat), read by the watchdog before
    /// it could reap the command, so that the identity is known even for a command that exits
    /// at once; `None` when /proc could not be read.
    pub start_ticks: Option<u64>,
}

/// The command as the watchdog launched it, or why it could not be started.
pub type Launched = Result<Started, Failure>;

/// The supervisor's handle on its watchdog.
#[derive(Debug)]
pub struct Watchdog {
    pid: libc::pid_t,
    sock: Option<OwnedFd>,
}

const MSG_STARTED: u8 = b'S';
const MSG_FAILED: u8 = b'F';
const MSG_EXIT: u8 = b'X';
const MSG_DONE: u8 = b'D';
const MSG_KILL: u8 = b'K';

/// One message from the watchdog (a SOCK_SEQPACKET record).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Msg {
    kind: u8,
    _pad: [u8; 3],
    a: i32,
    b: i32,
    c: i32,
}

impl Msg {
    fn new(kind: u8, a: i32, b: i32, c: i32) -> Msg {
        Msg {
            kind,
            _pad: [0; 3],
            a,
            b,
            c,
        }
    }
}

impl Watchdog {
    /// Fork the watchdog and have it launch the command. Returns the watchdog and the command's
    /// PID and pidfd, or why the command could not be started (the watchdog then exits by itself;
    /// drop or release it to reap it).
    pub fn spawn(plan: &WatchdogPlan<'_>) -> io::Result<(Watchdog, Launched)> {
        use rustix::net::{AddressFamily, SocketFlags, SocketType};
        let (ours, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )?;
        // Every signal stays blocked in the watchdog: no handler of ours may run there, and the
        // signals aimed at the supervisor's job (Ctrl-C, a group kill short of SIGKILL) must not
        // end it.
        let old = block_all();
        // SAFETY: fork; the child branch only makes async-signal-safe calls and never returns.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the forked child: async-signal-safe calls only, on memory prepared
            // before the fork.
            unsafe {
                libc::close(ours.as_raw_fd());
                watchdog_main(theirs.as_raw_fd(), plan)
            }
        }
        let fork_err = io::Error::last_os_error();
        restore(&old);
        if pid < 0 {
            return Err(fork_err);
        }
        drop(theirs);
        let mut w = Watchdog {
            pid,
            sock: Some(ours),
        };
        match w.recv(None)? {
            Some((m, Some(fd))) if m.kind == MSG_STARTED => {
                // The start time travels as two halves; all ones means "could not be read".
                let ticks = (u64::from(m.c as u32) << 32) | u64::from(m.b as u32);
                let started = Started {
                    pid: m.a as u32,
                    pidfd: fd,
                    start_ticks: (ticks != u64::MAX).then_some(ticks),
                };
                Ok((w, Ok(started)))
            }
            Some((m, _)) if m.kind == MSG_FAILED => Ok((
                w,
                Err(Failure {
                    stage: m.a,
                    errno: m.b,
                }),
            )),
            _ => Err(io::Error::other("the watchdog did not report the start")),
        }
    }

    /// The watchdog's PID.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Wait up to `deadline` for the command's exit (`None`: forever). `Ok(None)` when the
    /// deadline passed first; an error when the watchdog is gone without reporting it.
    pub fn exit(&mut self, deadline: Option<Instant>) -> io::Result<Option<WatchedExit>> {
        loop {
            match self.recv(deadline)? {
                None => return Ok(None),
                Some((m, _)) if m.kind == MSG_EXIT => {
                    let exit = match m.a {
                        libc::CLD_EXITED => RawExit::Code(m.b),
                        libc::CLD_DUMPED => RawExit::Signal(m.b, true),
                        _ => RawExit::Signal(m.b, false),
                    };
                    return Ok(Some(WatchedExit {
                        exit,
                        tree_empty: m.c != 0,
                    }));
                }
                Some(_) => continue,
            }
        }
    }

    /// One message, waiting up to `deadline`.
    fn recv(&mut self, deadline: Option<Instant>) -> io::Result<Option<(Msg, Option<OwnedFd>)>> {
        let Some(sock) = &self.sock else {
            return Err(io::Error::other("the watchdog was released"));
        };
        let fds = [(sock.as_fd(), false)];
        if !super::supervise::poll_fds(&fds, deadline)?[0] {
            return Ok(None);
        }
        let mut msg = Msg::default();
        let mut iov = libc::iovec {
            iov_base: (&mut msg as *mut Msg).cast(),
            iov_len: std::mem::size_of::<Msg>(),
        };
        // Room for one SCM_RIGHTS fd, aligned as cmsghdr requires.
        let mut cbuf = [0u64; 8];
        // SAFETY: zeroed msghdr is valid; every pointer below refers to live locals.
        let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cbuf.as_mut_ptr().cast();
        mh.msg_controllen = std::mem::size_of_val(&cbuf);
        let n = loop {
            // SAFETY: valid socket and message header.
            let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut mh, libc::MSG_CMSG_CLOEXEC) };
            if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break n;
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the watchdog exited",
            ));
        }
        let mut fd = None;
        // SAFETY: walking the control buffer the kernel filled, with libc's CMSG macros.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&mh);
            if !c.is_null()
                && (*c).cmsg_level == libc::SOL_SOCKET
                && (*c).cmsg_type == libc::SCM_RIGHTS
            {
                let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const RawFd);
                fd = Some(OwnedFd::from_raw_fd(raw));
            }
        }
        Ok(Some((msg, fd)))
    }

    /// Tell the watchdog to exit without acting, without waiting for it (reap it later with
    /// [`Watchdog::release`]), so that its exit overlaps the caller's own cleanup.
    pub fn notify_done(&mut self) {
        if let Some(s) = self.sock.take() {
            let _ = rustix::io::write(&s, &[MSG_DONE]);
        }
    }

    /// The tree is ended and cleaned up: let the watchdog exit without acting, and reap it.
    pub fn release(mut self) {
        self.release_inner();
    }

    /// The tree is gone and cleaned up: tell the watchdog to exit without acting, and return
    /// its PID without waiting for it (the caller must still reap it: it is our child).
    pub fn dismiss(mut self) -> libc::pid_t {
        self.notify_done();
        std::mem::replace(&mut self.pid, 0)
    }

    /// Hand the tree over without waiting: the watchdog kills whatever is left with SIGKILL,
    /// waits (up to 5 s) until it is gone, removes the cgroup leaf and exits. Returns its PID,
    /// which the caller must still reap (it is our child).
    pub fn abandon(mut self) -> libc::pid_t {
        if let Some(s) = self.sock.take() {
            let _ = rustix::io::write(&s, &[MSG_KILL]);
        }
        std::mem::replace(&mut self.pid, 0)
    }

    fn release_inner(&mut self) {
        self.notify_done();
        if self.pid > 0 {
            let pid = std::mem::replace(&mut self.pid, 0);
            let mut st = 0;
            // SAFETY: waiting for our own forked helper, which exits right after reading.
            unsafe {
                while libc::waitpid(pid, &mut st, 0) < 0 && *libc::__errno_location() == libc::EINTR
                {
                }
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.release_inner();
    }
}

fn block_all() -> libc::sigset_t {
    // SAFETY: sigset manipulation on local values.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

fn restore(old: &libc::sigset_t) {
    // SAFETY: restoring a mask saved by block_all.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
    }
}

// ---------------------------------------------------------------------------------------------
// The watchdog process. Everything below runs after fork: async-signal-safe calls only.

unsafe fn send(sock: RawFd, m: &Msg, fd: Option<RawFd>) {
    let mut iov = libc::iovec {
        iov_base: (m as *const Msg as *mut Msg).cast(),
        iov_len: std::mem::size_of::<Msg>(),
    };
    let mut cbuf = [0u64; 8];
    let mut mh: libc::msghdr = std::mem::zeroed();
    mh.msg_iov = &mut iov;
    mh.msg_iovlen = 1;
    if let Some(fd) = fd {
        mh.msg_control = cbuf.as_mut_ptr().cast();
        mh.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let c = libc::CMSG_FIRSTHDR(&mh);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut RawFd, fd);
    }
    while libc::sendmsg(sock, &mh, libc::MSG_NOSIGNAL) < 0 && errno() == libc::EINTR {}
}

fn errno() -> i32 {
    // SAFETY: reading the thread's errno.
    unsafe { *libc::__errno_location() }
}

unsafe fn watchdog_main(sock: RawFd, plan: &WatchdogPlan<'_>) -> ! {
    // Out of the supervisor's session and process group: a kill of its job, even SIGKILL to the
    // whole group, leaves the watchdog to end the tree.
    libc::setsid();
    libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    // A supervisor that ignores SIGCHLD would make the kernel reap our children for us, and the
    // command's exit status would be lost: the watchdog always has it at its default action.
    libc::signal(libc::SIGCHLD, libc::SIG_DFL);
    let root = match launch(plan.launch) {
        Ok((pid, fd)) => {
            // Read before anything can reap the command: it is our child, and we reap it later.
            let ticks = start_ticks(pid as libc::pid_t).unwrap_or(u64::MAX);
            send(
                sock,
                &Msg::new(
                    MSG_STARTED,
                    pid as i32,
                    ticks as u32 as i32,
                    (ticks >> 32) as i32,
                ),
                Some(fd.as_raw_fd()),
            );
            drop(fd);
            pid as libc::pid_t
        }
        Err(f) => {
            send(sock, &Msg::new(MSG_FAILED, f.stage, f.errno, 0), None);
            libc::_exit(0)
        }
    };
    // The command has its copies of our descriptors: keep only the socket and the leaf, so that
    // the watchdog holds nobody's pipe open.
    let leaf_fd = plan.leaf.map_or(-1, |(fd, _)| fd.as_raw_fd());
    keep_only([sock, leaf_fd], c"tether-watch");

    let mut chld: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut chld);
    libc::sigaddset(&mut chld, libc::SIGCHLD);
    let sfd = libc::signalfd(-1, &chld, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
    let mut reported = false;
    loop {
        let mut pfd = [
            libc::pollfd {
                fd: sock,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sfd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // Without a signalfd (no memory for one), look for exits every 100 ms.
        let timeout = if sfd < 0 { 100 } else { -1 };
        if libc::poll(pfd.as_mut_ptr(), 2, timeout) < 0 && errno() != libc::EINTR {
            // Out of memory for the poll, say: only the socket's EOF may end the tree, so try
            // again a little later.
            let pause = libc::timespec {
                tv_sec: 0,
                tv_nsec: 10_000_000,
            };
            libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &pause, std::ptr::null_mut());
            continue;
        }
        drain(sfd);
        let (exit, empty) = reap(root);
        if let Some((code, status)) = exit.filter(|_| !reported) {
            reported = true;
            send(
                sock,
                &Msg::new(MSG_EXIT, code, status, i32::from(empty)),
                None,
            );
        }
        if pfd[0].revents != 0 {
            let mut b = [0u8; 16];
            let n = libc::recv(sock, b.as_mut_ptr().cast(), b.len(), libc::MSG_DONTWAIT);
            if n > 0 && b[0] == MSG_DONE {
                libc::_exit(0);
            }
            if n > 0 && b[0] == MSG_KILL {
                end_tree(plan, sfd, libc::SIGKILL);
                libc::_exit(0);
            }
            if n == 0 || (n < 0 && errno() != libc::EINTR && errno() != libc::EAGAIN) {
                break;
            }
        }
    }
    // The supervisor died without releasing us.
    end_tree(plan, sfd, plan.death_signal);
    libc::_exit(0)
}

unsafe fn drain(sfd: RawFd) {
    if sfd < 0 {
        return;
    }
    let mut info: libc::signalfd_siginfo = std::mem::zeroed();
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    while libc::read(sfd, (&mut info as *mut libc::signalfd_siginfo).cast(), size) == size as isize
    {
    }
}

/// Reap every exited child. Returns the command's (si_code, si_status) when it was among them,
/// and whether no child at all is left.
unsafe fn reap(root: libc::pid_t) -> (Option<(i32, i32)>, bool) {
    let mut root_exit = None;
    loop {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::__WALL,
        );
        if rc < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            // ECHILD: no child at all.
            return (root_exit, true);
        }
        let pid = info.si_pid();
        if pid == 0 {
            return (root_exit, false);
        }
        if pid == root {
            root_exit = Some((info.si_code, info.si_status()));
        }
    }
}

/// Whether nothing of the tree is left: no child of ours, and the leaf (if any) not populated.
unsafe fn tree_gone(events: RawFd) -> bool {
    let (_, no_children) = reap(0);
    no_children && (events < 0 || !populated(events))
}

/// Wait until the tree is gone or `deadline_ms` (CLOCK_MONOTONIC) passes; woken by SIGCHLD and
/// by cgroup.events.
unsafe fn wait_gone(sfd: RawFd, events: RawFd, deadline_ms: i64) -> bool {
    loop {
        if tree_gone(events) {
            return true;
        }
        let left = deadline_ms - now_ms();
        if left <= 0 {
            return false;
        }
        let mut pfd = [
            libc::pollfd {
                fd: sfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: events,
                events: libc::POLLPRI,
                revents: 0,
            },
        ];
        // Without a signalfd, look again every 20 ms (this path only runs after a crash).
        let wait = if sfd < 0 { left.min(20) } else { left };
        libc::poll(pfd.as_mut_ptr(), 2, wait as libc::c_int);
        drain(sfd);
    }
}

/// End the tree after the supervisor died (`sig` is the death signal) or abandoned it (`sig` is
/// SIGKILL): `sig` to every member (the tree held still meanwhile), the grace, SIGKILL to what
/// is left, then remove the leaf and the leaves below it.
unsafe fn end_tree(plan: &WatchdogPlan<'_>, sfd: RawFd, sig: i32) {
    // A large tree needs one pidfd per member.
    let mut lim: libc::rlimit = std::mem::zeroed();
    if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    let leaf_fd = plan.leaf.map_or(-1, |(fd, _)| fd.as_raw_fd());
    let events = if leaf_fd >= 0 {
        libc::openat(
            leaf_fd,
            c"cgroup.events".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    } else {
        -1
    };
    let me = libc::syscall(libc::SYS_getpid) as u32;
    let mut found = Found::new();
    if sig != libc::SIGKILL {
        let frozen = leaf_fd >= 0 && freeze(leaf_fd, events, true);
        if let Some(f) = &mut found {
            collect(f, me, !frozen);
            for i in 0..f.len {
                if sig > 0 {
                    send_signal(f.fd(i), sig);
                }
            }
            // Deepest first, so that no leader resumes and exits while its group is stopped.
            for i in (0..f.len).rev() {
                send_signal(f.fd(i), libc::SIGCONT);
            }
            f.clear();
        }
        if frozen {
            freeze(leaf_fd, events, false);
        }
        let grace = plan.grace.as_millis().min(i64::MAX as u128 / 2) as i64;
        wait_gone(sfd, events, now_ms().saturating_add(grace));
    }
    if leaf_fd >= 0 {
        write_at(leaf_fd, c"cgroup.kill", b"1");
    }
    let limit = now_ms() + 5000;
    while !tree_gone(events) && now_ms() < limit {
        if let Some(f) = &mut found {
            // Every member stopped, then killed: a fork loop cannot outrun it.
            collect(f, me, true);
            for i in 0..f.len {
                send_signal(f.fd(i), libc::SIGKILL);
            }
            f.clear();
        }
        wait_gone(sfd, events, now_ms() + 50);
    }
    if let Some((fd, path)) = plan.leaf {
        remove_below(fd.as_raw_fd());
        libc::rmdir(path.as_ptr());
    }
}

/// The start time (clock ticks, field 22) of our child `pid` from /proc/PID/stat, read with
/// fixed buffers (async-signal-safe).
unsafe fn start_ticks(pid: libc::pid_t) -> Option<u64> {
    let mut path = [0u8; 32];
    let prefix = b"/proc/";
    path[..prefix.len()].copy_from_slice(prefix);
    let at = prefix.len() + decimal(pid as u32 as u64, &mut path[prefix.len()..]);
    let suffix = b"/stat\0";
    path[at..at + suffix.len()].copy_from_slice(suffix);
    let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 1024];
    let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
    libc::close(fd);
    if n <= 0 {
        return None;
    }
    parse_start_ticks(&buf[..n as usize])
}

/// Field 22 of a /proc/PID/stat line: the 20th field after the `)` that ends the name.
fn parse_start_ticks(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let field = fields.nth(19)?;
    let mut v: u64 = 0;
    for &d in field {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

/// The members found so far, each held by a pidfd: an anonymous mapping, since nothing may be
/// allocated here.
struct Found {
    slots: *mut (u32, RawFd),
    cap: usize,
    len: usize,
}

impl Found {
    const CAP: usize = 1 << 20;

    unsafe fn new() -> Option<Found> {
        let bytes = Self::CAP * std::mem::size_of::<(u32, RawFd)>();
        let p = libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        (p != libc::MAP_FAILED).then_some(Found {
            slots: p.cast(),
            cap: Self::CAP,
            len: 0,
        })
    }

    unsafe fn pid(&self, i: usize) -> u32 {
        (*self.slots.add(i)).0
    }

    unsafe fn fd(&self, i: usize) -> RawFd {
        (*self.slots.add(i)).1
    }

    unsafe fn contains(&self, pid: u32) -> bool {
        (0..self.len).any(|i| self.pid(i) == pid)
    }

    unsafe fn push(&mut self, pid: u32, fd: RawFd) -> bool {
        if self.len == self.cap {
            return false;
        }
        *self.slots.add(self.len) = (pid, fd);
        self.len += 1;
        true
    }

    unsafe fn clear(&mut self) {
        for i in 0..self.len {
            libc::close(self.fd(i));
        }
        self.len = 0;
    }
}

/// Find every descendant of the watchdog (that is, the whole tree), each held by a pidfd, and
/// with `stop` SIGSTOP each as it is found; repeat until a round finds nobody new. A child is
/// taken only when /proc shows it still has the parent it was listed under: the parent is stopped
/// (or frozen, or is the watchdog), so it cannot have reaped the child and let its PID be reused.
unsafe fn collect(found: &mut Found, me: u32, stop: bool) {
    loop {
        let mut added = 0usize;
        for_each_child(me, &mut |c| added += usize::from(add(found, c, me, stop)));
        let mut i = 0;
        while i < found.len {
            let p = found.pid(i);
            for_each_child(p, &mut |c| added += usize::from(add(found, c, p, stop)));
            i += 1;
        }
        if added == 0 {
            return;
        }
    }
}

unsafe fn add(found: &mut Found, pid: u32, parent: u32, stop: bool) -> bool {
    if found.contains(pid) {
        return false;
    }
    let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as RawFd;
    if fd < 0 {
        return false;
    }
    match parentage(pid) {
        Some(p) if p.ppid == parent && p.alive() => {}
        _ => {
            libc::close(fd);
            return false;
        }
    }
    if stop {
        send_signal(fd, libc::SIGSTOP);
    }
    if !found.push(pid, fd) {
        libc::close(fd);
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::parse_start_ticks;

    #[test]
    fn start_ticks_are_field_22_also_after_odd_names() {
        let line = b"4242 (a) b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10\n";
        assert_eq!(parse_start_ticks(line), Some(987654));
        assert_eq!(parse_start_ticks(b"4242 (x) S 1"), None);
        assert_eq!(parse_start_ticks(b"no paren"), None);
    }
}
