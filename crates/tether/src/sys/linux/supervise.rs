//! Supervising processes: the pre-exec setup of a contained child, child subreaper, waitid on
//! pidfds, signalfd, epoll.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Instant;

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(last_err())
    } else {
        Ok(rc)
    }
}

/// Signals `run` blocks and reads through a signalfd: the ones it passes on to the tree (TERM,
/// INT, HUP, QUIT, USR1, USR2), SIGALRM (read as "the time limit passed", as GNU `timeout`
/// reads its own timer) and SIGCHLD (to reap orphans it adopted). The signal given with `-s`
/// is added to these.
pub const SUPERVISED_SIGNALS: [i32; 8] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGCHLD,
];

/// Bit of signal `sig` (1..=64) in a 64-bit signal set.
fn bit(sig: i32) -> u64 {
    if (1..=64).contains(&sig) {
        1u64 << (sig - 1)
    } else {
        0
    }
}

/// The signal state this process started with, before anything in it changed a disposition:
/// Rust's runtime sets SIGPIPE to ignored before `main`, so what was inherited is lost unless
/// it is read first.
#[derive(Debug, Clone, Copy)]
struct Inherited {
    pipe_ignored: bool,
    /// Blocked signals, one bit per signal (1..=64).
    mask: u64,
}

static INHERITED: std::sync::OnceLock<Inherited> = std::sync::OnceLock::new();

/// Record the signal state this process inherited: SIGPIPE's disposition and the signal mask
/// (two system calls). Call it before anything changes them, i.e. from an `.init_array`
/// constructor of the program, which runs before Rust's runtime ignores SIGPIPE; later calls
/// change nothing. Children spawned afterwards get that state back ([`ChildSignals`]).
pub fn capture_inherited_signals() {
    INHERITED.get_or_init(|| {
        // SAFETY: queries only: a null new action / new mask changes nothing.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            let pipe_ignored = libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN;
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
            let mut mask = 0u64;
            for sig in 1..=64 {
                if libc::sigismember(&set, sig) == 1 {
                    mask |= bit(sig);
                }
            }
            Inherited { pipe_ignored, mask }
        }
    });
}

/// Whether `sig` is ignored (SIG_IGN) in this process now.
pub fn is_ignored(sig: i32) -> bool {
    // SAFETY: a query: the null new action changes nothing.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Whether `sig` was ignored when this process started, as far as known: SIGPIPE from
/// [`capture_inherited_signals`] (else "not ignored"), every other signal from its current
/// disposition (nothing in tether changes those before asking).
pub fn ignored_at_start(sig: i32) -> bool {
    if sig == libc::SIGPIPE {
        return INHERITED.get().is_some_and(|i| i.pipe_ignored);
    }
    is_ignored(sig)
}

/// Set `sig` to ignored (`true`) or its default action; returns whether it was ignored.
pub fn set_ignored(sig: i32, ignore: bool) -> bool {
    let handler = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    // SAFETY: only SIG_IGN / SIG_DFL are installed, never a handler.
    unsafe {
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = handler;
        libc::sigemptyset(&mut new.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, &new, &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// The signal state a spawned child starts with, applied between fork and exec: its signal
/// mask, and the signals set to ignored or to their default action (exec resets caught
/// signals to default by itself; ignored ones stay ignored unless set here).
///
/// [`ChildSignals::inherited`] gives a child what this process inherited, so that a signal
/// its caller ignored (`trap '' PIPE`, `nohup`) stays ignored in the command, as it would had
/// the caller started the command itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildSignals {
    ignore: u64,
    default: u64,
    mask: u64,
}

impl ChildSignals {
    /// What this process inherited: SIGPIPE as it was at start and the mask it started with
    /// when [`capture_inherited_signals`] ran early; otherwise SIGPIPE at its default action
    /// and an empty mask (the state a shell gives a command). Every other disposition is
    /// inherited through exec unchanged.
    pub fn inherited() -> ChildSignals {
        let mut c = ChildSignals {
            ignore: 0,
            default: 0,
            mask: 0,
        };
        match INHERITED.get() {
            Some(i) => {
                c.set(libc::SIGPIPE, i.pipe_ignored);
                c.mask = i.mask;
            }
            None => c.set(libc::SIGPIPE, false),
        }
        c
    }

    /// Start the child with `sig` ignored (`true`) or at its default action.
    pub fn set(&mut self, sig: i32, ignored: bool) {
        let b = bit(sig);
        if ignored {
            self.ignore |= b;
            self.default &= !b;
        } else {
            self.default |= b;
            self.ignore &= !b;
        }
    }

    /// Runs in the forked child: async-signal-safe calls only.
    ///
    /// # Safety
    /// Only between fork and exec, with every signal blocked (the mask is set last).
    unsafe fn apply(&self) {
        for sig in 1..=64 {
            let b = bit(sig);
            if (self.ignore | self.default) & b != 0 {
                let h = if self.ignore & b != 0 {
                    libc::SIG_IGN
                } else {
                    libc::SIG_DFL
                };
                libc::signal(sig, h);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in 1..=64 {
            if self.mask & bit(sig) != 0 {
                libc::sigaddset(&mut set, sig);
            }
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Our session id, or `None` when the session lies outside our PID namespace.
pub fn own_sid() -> Option<u32> {
    // SAFETY: getsid(0) has no preconditions.
    let s = unsafe { libc::getsid(0) };
    (s > 0).then_some(s as u32)
}

/// Make this process a child subreaper: orphaned descendants are reparented to it instead of
/// init, so they stay findable and killable.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(|_| ())
}

/// Whether this process is a child subreaper (PR_GET_CHILD_SUBREAPER); `false` when it cannot
/// be told.
pub fn is_child_subreaper() -> bool {
    let mut flag: libc::c_int = 0;
    // SAFETY: prctl writes one int through the valid pointer.
    let rc = unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut flag as *mut libc::c_int) };
    rc == 0 && flag != 0
}

/// What the child does between fork and exec.
#[derive(Debug, Clone, Copy)]
pub struct ChildSetup {
    /// Start a new session (and so a new process group).
    pub new_session: bool,
    /// Only a new process group (used when a session is not wanted).
    pub new_group: bool,
    /// With `new_group`: make the new group the foreground group of the terminal on stdin, as
    /// an init hands the terminal to its command (no terminal there is not an error).
    pub foreground_tty: bool,
    /// PR_SET_PDEATHSIG: the signal the child gets when its parent (thread) dies; 0 for none.
    pub pdeathsig: i32,
    /// Signal dispositions and mask the command starts with.
    pub signals: ChildSignals,
}

impl ChildSetup {
    /// Runs in the forked child: only async-signal-safe calls (setsid, prctl, getppid,
    /// sigprocmask, signal, _exit). The signal state is set last, since it unblocks signals.
    /// `parent` is the PID of the process that launched it, to detect that it died before
    /// PR_SET_PDEATHSIG was set.
    pub fn apply(&self, parent: libc::pid_t) -> io::Result<()> {
        // SAFETY: each call below is an async-signal-safe syscall on values owned by this child.
        unsafe {
            if self.new_session {
                cvt(libc::setsid())?;
            } else if self.new_group {
                cvt(libc::setpgid(0, 0))?;
                // Every signal is still blocked here, so SIGTTOU cannot stop us.
                if self.foreground_tty && libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpgrp()) < 0 {
                    let e = *libc::__errno_location();
                    if e != libc::ENOTTY && e != libc::ENXIO {
                        return Err(io::Error::from_raw_os_error(e));
                    }
                }
            }
            if self.pdeathsig > 0 {
                cvt(libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    self.pdeathsig as libc::c_ulong,
                    0,
                    0,
                    0,
                ))?;
                // The parent may have died before the prctl: then nobody would signal us later.
                // (_exit, not raise: after a raw clone3, libc's cached thread id is the parent's.)
                if libc::getppid() != parent {
                    libc::_exit(127);
                }
            }
            self.signals.apply();
        }
        Ok(())
    }
}

/// How a child ended, from waitid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawExit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal (`core` when it dumped core).
    Signal(i32, bool),
}

pub(crate) fn exit_of(info: &libc::siginfo_t) -> RawExit {
    // SAFETY: si_status is valid for SIGCHLD siginfo filled in by waitid.
    let status = unsafe { info.si_status() };
    match info.si_code {
        libc::CLD_EXITED => RawExit::Code(status),
        libc::CLD_DUMPED => RawExit::Signal(status, true),
        _ => RawExit::Signal(status, false),
    }
}

/// Whether [`waitid_pidfd`] blocks until the process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hang {
    /// Block until it exits.
    Block,
    /// Return at once (`WNOHANG`).
    NoHang,
}

/// Whether [`waitid_pidfd`] reaps the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reap {
    /// Reap it: its status is consumed.
    Collect,
    /// Read the status and leave the process to be reaped by its owner (`WNOWAIT`).
    Keep,
}

/// `waitid(P_PIDFD, fd, WEXITED | flags)`. `Ok(None)` with [`Hang::NoHang`] when it has not
/// exited; `Err(ECHILD)` when the process is not our child (or was reaped already).
pub fn waitid_pidfd(fd: BorrowedFd<'_>, hang: Hang, reap: Reap) -> io::Result<Option<RawExit>> {
    // __WALL: a child started with no exit signal (see `spawn::Plan::quiet_exit`) is a "clone"
    // child, which waitid reports only with __WALL or __WCLONE.
    let mut flags = libc::WEXITED | libc::__WALL;
    if hang == Hang::NoHang {
        flags |= libc::WNOHANG;
    }
    if reap == Reap::Keep {
        flags |= libc::WNOWAIT;
    }
    loop {
        // SAFETY: zeroed siginfo is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid pidfd, valid pointer.
        let rc = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                fd.as_raw_fd() as libc::id_t,
                &mut info,
                flags,
            )
        };
        if rc < 0 {
            let e = last_err();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        // SAFETY: si_pid is valid after a successful waitid.
        if unsafe { info.si_pid() } == 0 {
            return Ok(None);
        }
        return Ok(Some(exit_of(&info)));
    }
}

/// Some child of this process that has exited and not been reaped (left unreaped), if any:
/// one cheap check before a scan for orphans to reap.
pub fn zombie_child() -> Option<u32> {
    // SAFETY: zeroed siginfo is a valid out-parameter.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid with WNOWAIT only reports; nothing is reaped.
    let rc = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
        )
    };
    // SAFETY: si_pid is valid after a successful waitid.
    let pid = unsafe { info.si_pid() };
    (rc == 0 && pid > 0).then_some(pid as u32)
}

/// `kill(pid, sig)` for one positive PID; refuses 0, 1, negative PIDs and this process, so it
/// can never address a group or everything. Callers use it only where the PID cannot have been
/// reused (a member listed from a frozen cgroup).
pub fn kill_pid(pid: u32, sig: i32) -> Result<(), rustix::io::Errno> {
    if pid <= 1 || pid > i32::MAX as u32 || pid == std::process::id() {
        return Err(rustix::io::Errno::INVAL);
    }
    // SAFETY: plain syscall on a checked positive PID.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    super::errno_result(rc.into())
}

/// The direct children of this process (all threads), from /proc/self/task/*/children.
pub fn own_children() -> Vec<u32> {
    let mut out = Vec::new();
    super::family::for_each_child(std::process::id(), &mut |c| out.push(c));
    out
}

/// A signalfd on a set of signals that are blocked for the calling thread while it lives.
pub struct SignalFd {
    fd: OwnedFd,
    old: libc::sigset_t,
    /// Restore the old mask on drop (see [`SignalFd::keep_blocked`]).
    restore: bool,
}

impl SignalFd {
    /// Block `signals` in this thread and open a signalfd that reads them.
    pub fn new(signals: &[i32]) -> io::Result<SignalFd> {
        // SAFETY: sigset manipulation on local values; signalfd returns a new fd we own.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in signals {
                libc::sigaddset(&mut set, *s);
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if fd < 0 {
                let e = last_err();
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                return Err(e);
            }
            Ok(SignalFd {
                fd: OwnedFd::from_raw_fd(fd),
                old,
                restore: true,
            })
        }
    }

    /// The next pending signal number and sender PID, if any.
    pub fn read(&self) -> Option<(i32, u32)> {
        // SAFETY: signalfd_siginfo is plain data; read fills it whole or not at all.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: valid fd and buffer of `size` bytes.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        (n as usize == size).then_some((info.ssi_signo as i32, info.ssi_pid))
    }
}

impl SignalFd {
    /// Close the signalfd but leave the signals blocked: one that arrives from now on stays
    /// pending instead of acting (a supervisor about to exit with its child's status).
    pub fn keep_blocked(mut self) {
        self.restore = false;
    }
}

impl AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for SignalFd {
    fn drop(&mut self) {
        if !self.restore {
            return;
        }
        // SAFETY: restoring the mask saved in `new`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// Make the calling process die of `sig` (default action), as GNU timeout does to pass a
/// child's signal death on to its own parent. Returns only if the signal did not end it.
pub fn die_by_signal(sig: i32) {
    // SAFETY: resetting a disposition, unblocking and raising have no memory-safety effects.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        // Core dumps of tether itself would only confuse: the child already dumped if it did.
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
}

/// poll(2) on several fds with an optional deadline. Returns the revents per fd.
pub fn poll_fds(
    fds: &[(BorrowedFd<'_>, bool)],
    deadline: Option<Instant>,
) -> io::Result<Vec<bool>> {
    // (fd, priority): priority fds (cgroup.events) wait for POLLPRI, others for POLLIN.
    let mut pfds: Vec<rustix::event::PollFd<'_>> = fds
        .iter()
        .map(|(fd, pri)| {
            rustix::event::PollFd::from_borrowed_fd(
                *fd,
                if *pri {
                    rustix::event::PollFlags::PRI
                } else {
                    rustix::event::PollFlags::IN
                },
            )
        })
        .collect();
    loop {
        let ts =
            deadline.map(|d| super::cgroup::timespec(d.saturating_duration_since(Instant::now())));
        match rustix::event::poll(&mut pfds, ts.as_ref()) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(pfds.iter().map(|p| !p.revents().is_empty()).collect())
}

/// Raise the soft open-file limit to the hard one, so that a large tree fits in pidfds.
/// Returns the soft limit now in force (`u64::MAX` for unlimited).
pub fn raise_nofile_limit() -> io::Result<u64> {
    let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    if lim.current < lim.maximum {
        rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        )?;
        return Ok(lim.maximum.unwrap_or(u64::MAX));
    }
    Ok(lim.current.unwrap_or(u64::MAX))
}

/// An epoll set: waiting on many pidfds costs O(ready), not O(watched), per wakeup.
pub struct Epoll {
    fd: OwnedFd,
    buf: Vec<rustix::event::epoll::Event>,
}

impl Epoll {
    /// A new, empty set.
    pub fn new() -> io::Result<Epoll> {
        Ok(Epoll {
            fd: rustix::event::epoll::create(rustix::event::epoll::CreateFlags::CLOEXEC)?,
            buf: Vec::with_capacity(256),
        })
    }

    /// Watch `fd` for readability (`pri`: for POLLPRI, as cgroup.events signals changes);
    /// `oneshot` reports it once (a pidfd stays readable after its process exits).
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64, pri: bool, oneshot: bool) -> io::Result<()> {
        use rustix::event::epoll::{EventData, EventFlags};
        let mut flags = if pri { EventFlags::PRI } else { EventFlags::IN };
        if oneshot {
            flags |= EventFlags::ONESHOT;
        }
        Ok(rustix::event::epoll::add(
            &self.fd,
            fd,
            EventData::new_u64(token),
            flags,
        )?)
    }

    /// Wait until at least one watched fd is ready or `deadline` passes; returns the tokens of
    /// the ready ones (empty at the deadline).
    pub fn wait(&mut self, deadline: Option<Instant>) -> io::Result<Vec<u64>> {
        loop {
            let ts = deadline
                .map(|d| super::cgroup::timespec(d.saturating_duration_since(Instant::now())));
            self.buf.clear();
            match rustix::event::epoll::wait(
                &self.fd,
                rustix::buffer::spare_capacity(&mut self.buf),
                ts.as_ref(),
            ) {
                Ok(_) => return Ok(self.buf.iter().map(|e| e.data.u64()).collect()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
