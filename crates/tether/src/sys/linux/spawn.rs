//! Spawning with clone3: the child is born inside its cgroup (CLONE_INTO_CGROUP) and the pidfd
//! comes with it (CLONE_PIDFD).
//!
//! Hand-written instead of `std::process::Command` because moving a child into a cgroup by
//! writing `cgroup.procs` takes the cgroup threadgroup lock for writing, which waits for an RCU
//! grace period (about 20 ms on this class of machine, measured in `bench/`). A child created
//! directly in the cgroup takes that lock only for reading.
//!
//! Like glibc's posix_spawn, the child shares our memory until it execs (CLONE_VM |
//! CLONE_VFORK, on a stack of its own): no page tables are copied, our pages are not made
//! copy-on-write, and we resume exactly when the exec succeeded or the child gave up, with its
//! errno left in shared memory (no error pipe).

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::supervise::ChildSetup;

const CLONE_VM: u64 = 0x100;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Whether the kernel takes CLONE_CLEAR_SIGHAND (Linux 5.5): the child then starts with every
/// handler reset to SIG_DFL (ignored signals stay ignored) by the kernel, instead of making
/// two sigaction calls per signal itself (some 130 syscalls in a host that handles them all,
/// as the Go runtime does).
static CLEAR_SIGHAND: AtomicBool = AtomicBool::new(true);

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Everything the child needs, prepared before the clone so that the child allocates nothing.
pub struct Plan {
    /// Paths to try with execve, in order (the PATH search, done up front).
    pub candidates: Vec<CString>,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub cwd: Option<CString>,
    /// Fds to install as 0, 1, 2 (`None` = inherit).
    pub stdio: [Option<RawFd>; 3],
    /// An fd on the cgroup directory to be born into.
    pub cgroup: Option<RawFd>,
    /// Start the child with no exit signal: its exit sends this process no SIGCHLD (which a
    /// host's runtime would handle on every exit, and which would make a host's `wait()` for
    /// any child take its status); it is waited for through its pidfd, with __WALL.
    pub quiet_exit: bool,
    pub setup: ChildSetup,
}

/// Where the child failed, reported in [`Shared::stage`]: before exec (setsid, dup2, the
/// parent-death signal)...
pub const STAGE_SETUP: i32 = 1;
/// ... or at exec (the program's own error: 126/127) ...
pub const STAGE_EXEC: i32 = 2;
/// ... or changing to the working directory.
pub const STAGE_CHDIR: i32 = 3;
/// The clone failed: no child was made (out of processes or memory).
pub const STAGE_CLONE: i32 = 4;

/// The child's stack: only the setup code before exec runs on it.
const STACK_SIZE: usize = 64 * 1024;

/// What the child reads and writes; lives in our frame, which the child shares until exec.
struct Shared<'a> {
    plan: &'a Plan,
    cands: &'a [&'a CStr],
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    /// The process launching the child: if it dies before the child has set PR_SET_PDEATHSIG,
    /// the child sees another parent and gives up.
    parent: libc::pid_t,
    /// The kernel reset the signal handlers (CLONE_CLEAR_SIGHAND).
    handlers_cleared: bool,
    /// Set by the child when it fails: the stage and errno.
    stage: AtomicI32,
    errno: AtomicI32,
}

/// A private stack with a guard page below it, unmapped on drop.
struct Stack {
    base: *mut libc::c_void,
    len: usize,
}

impl Stack {
    fn new() -> io::Result<Stack> {
        Stack::with_size(STACK_SIZE)
    }

    fn with_size(size: usize) -> io::Result<Stack> {
        let page = rustix::param::page_size();
        let len = size + page;
        // SAFETY: anonymous mapping; ours until drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base, len };
        // SAFETY: the lowest page of our own mapping becomes the guard.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }
}

thread_local! {
    /// The stack of this thread's last launch, for the next: a launch is done with its stack
    /// once it returns (the child has exec'd or exited), and mapping a fresh one costs three
    /// syscalls and its page faults.
    static SPARE_STACK: Cell<Option<Stack>> = const { Cell::new(None) };
}

impl Stack {
    fn take() -> io::Result<Stack> {
        match SPARE_STACK.try_with(Cell::take) {
            Ok(Some(s)) => Ok(s),
            _ => Stack::new(),
        }
    }

    fn keep(self) {
        // During thread exit the slot may be gone: the stack is then unmapped here.
        let _ = SPARE_STACK.try_with(|c| c.set(Some(self)));
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; the child that used it has exec'd or exited.
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

/// Blocks every signal in this thread until dropped, so that no handler of ours can run in the
/// child while it shares our memory (it resets them before unblocking).
struct BlockAll(libc::sigset_t);

impl BlockAll {
    fn new() -> BlockAll {
        // SAFETY: sigset manipulation on local values.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            BlockAll(old)
        }
    }
}

impl Drop for BlockAll {
    fn drop(&mut self) {
        // SAFETY: restoring the mask saved in `new`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut());
        }
    }
}

/// clone3 whose child starts on the stack given in `args` and calls `entry(arg)`, which must
/// never return. Returns the syscall's result in the parent.
///
/// # Safety
/// `args` must describe a valid stack (top 16-byte aligned) and `entry` must not return.
#[cfg(target_arch = "x86_64")]
unsafe fn clone3_call(
    args: *mut CloneArgs,
    entry: unsafe extern "C" fn(*mut libc::c_void) -> !,
    arg: *mut libc::c_void,
) -> isize {
    let ret: isize;
    // The child resumes after `syscall` with rsp at the top of its new stack: it must not touch
    // our frame, so it calls `entry` straight away (r12/r13 survive the syscall).
    std::arch::asm!(
        "syscall",
        "test rax, rax",
        "jnz 2f",
        "xor ebp, ebp",
        "mov rdi, r13",
        "call r12",
        "ud2",
        "2:",
        inlateout("rax") libc::SYS_clone3 => ret,
        in("rdi") args,
        in("rsi") std::mem::size_of::<CloneArgs>(),
        in("r12") entry,
        in("r13") arg,
        lateout("rcx") _,
        lateout("r11") _,
        options(nostack),
    );
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn clone3_call(
    args: *mut CloneArgs,
    entry: unsafe extern "C" fn(*mut libc::c_void) -> !,
    arg: *mut libc::c_void,
) -> isize {
    let ret: usize;
    std::arch::asm!(
        "svc 0",
        "cbnz x0, 2f",
        "mov x29, xzr",
        "mov x0, x10",
        "blr x9",
        "brk #1",
        "2:",
        inlateout("x0") args as usize => ret,
        in("x1") std::mem::size_of::<CloneArgs>(),
        in("x8") libc::SYS_clone3,
        // Syscalls preserve every register but x0, so the child still has x9/x10.
        in("x9") entry,
        in("x10") arg,
        options(nostack),
    );
    ret as isize
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("sys::linux::spawn has a clone3 entry for x86_64 and aarch64 only");

/// Everything [`launch`] needs, allocated up front: after a `fork` (the watchdog launches the
/// command) only async-signal-safe calls are allowed, so nothing may be allocated there.
pub struct Prepared<'a> {
    plan: &'a Plan,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    cands: Vec<&'a CStr>,
    /// Kept for the next launch on this thread when dropped.
    stack: ManuallyDrop<Stack>,
}

impl Drop for Prepared<'_> {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and never used again.
        unsafe { ManuallyDrop::take(&mut self.stack) }.keep();
    }
}

impl<'a> Prepared<'a> {
    /// Build the pointer arrays and map the child's stack.
    pub fn new(plan: &'a Plan) -> io::Result<Prepared<'a>> {
        let mut argv: Vec<*const libc::c_char> = plan.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const libc::c_char> = plan.envp.iter().map(|a| a.as_ptr()).collect();
        envp.push(std::ptr::null());
        Ok(Prepared {
            plan,
            argv,
            envp,
            cands: plan.candidates.iter().map(|c| c.as_c_str()).collect(),
            stack: ManuallyDrop::new(Stack::take()?),
        })
    }
}

/// Why a launch failed: the stage ([`STAGE_SETUP`], [`STAGE_EXEC`], [`STAGE_CHDIR`] or
/// [`STAGE_CLONE`]) and the errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub stage: i32,
    pub errno: i32,
}

/// A new process that is a copy of this one (no CLONE_VM: as fork makes it) and starts in
/// `entry(arg)` on a fresh stack of `stack_size` bytes, with every signal blocked, its handlers
/// reset (where the kernel can), and no exit signal: a "clone" child, which this process's
/// `wait()` for any child does not see (only __WALL does), and whose end sends no SIGCHLD.
/// Returns its PID and a pidfd on it.
///
/// # Safety
/// A raw clone3, unlike fork, runs no atfork handlers and leaves libc's cached thread id the
/// caller's: `entry` must make only async-signal-safe calls that do not rely on it (no raise,
/// abort, malloc or panic), and must never return.
pub(super) unsafe fn clone_quiet(
    entry: unsafe extern "C" fn(*mut libc::c_void) -> !,
    arg: *mut libc::c_void,
    stack_size: usize,
) -> io::Result<(libc::pid_t, OwnedFd)> {
    let stack = Stack::with_size(stack_size)?;
    let mut pidfd: libc::c_int = -1;
    let _blocked = BlockAll::new();
    let pid = clearing_sighand(
        |clear| {
            let mut args = CloneArgs {
                flags: CLONE_PIDFD | if clear { CLONE_CLEAR_SIGHAND } else { 0 },
                pidfd: &mut pidfd as *mut libc::c_int as u64,
                exit_signal: 0,
                stack: stack.base as u64,
                stack_size: stack.len as u64,
                ..Default::default()
            };
            // SAFETY: the caller's contract; the child runs on its copy of `stack`.
            unsafe { clone3_call(&mut args, entry, arg) }
        },
        |&pid| pid,
    );
    if pid < 0 {
        return Err(io::Error::from_raw_os_error(-pid as i32));
    }
    // SAFETY: CLONE_PIDFD stored a new fd that we now own.
    Ok((pid as libc::pid_t, unsafe { OwnedFd::from_raw_fd(pidfd) }))
}

/// Make a clone with CLONE_CLEAR_SIGHAND where the kernel takes it: `clone(clear)` returns
/// what the syscall gave, `result` its return value. A kernel before 5.5 refuses the flag
/// with EINVAL; it is then asked again without it, and never with it from then on.
fn clearing_sighand<T>(mut clone: impl FnMut(bool) -> T, result: impl Fn(&T) -> isize) -> T {
    let clear = CLEAR_SIGHAND.load(Ordering::Relaxed);
    let made = clone(clear);
    if clear && result(&made) == -(libc::EINVAL as isize) {
        CLEAR_SIGHAND.store(false, Ordering::Relaxed);
        return clone(false);
    }
    made
}

/// One clone3 of the child; returns the syscall's result, the shared state and the pidfd.
fn clone_child<'a>(p: &'a Prepared<'a>, clear_sighand: bool) -> (isize, Shared<'a>, libc::c_int) {
    let shared = Shared {
        plan: p.plan,
        cands: &p.cands,
        argv: p.argv.as_ptr(),
        envp: p.envp.as_ptr(),
        // A raw syscall: libc's cached ids would be wrong in a process made by a raw clone.
        // SAFETY: getpid has no preconditions.
        parent: unsafe { libc::syscall(libc::SYS_getpid) } as libc::pid_t,
        handlers_cleared: clear_sighand,
        stage: AtomicI32::new(0),
        errno: AtomicI32::new(0),
    };
    let mut pidfd: libc::c_int = -1;
    let stack = &*p.stack;
    let mut args = CloneArgs {
        flags: CLONE_VM | CLONE_VFORK | CLONE_PIDFD,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: if p.plan.quiet_exit {
            0
        } else {
            libc::SIGCHLD as u64
        },
        stack: stack.base as u64,
        stack_size: stack.len as u64,
        ..Default::default()
    };
    if clear_sighand {
        args.flags |= CLONE_CLEAR_SIGHAND;
    }
    if let Some(cg) = p.plan.cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cg as u64;
    }
    let pid = {
        let _blocked = BlockAll::new();
        // SAFETY: the child runs `child_entry` on its own stack, makes only async-signal-safe
        // calls on `shared` (alive: CLONE_VFORK suspends us until it execs or exits) and leaves
        // through execve or _exit.
        unsafe {
            clone3_call(
                &mut args,
                child_entry,
                &shared as *const Shared<'_> as *mut libc::c_void,
            )
        }
    };
    (pid, shared, pidfd)
}

/// Start the child from the calling process, which becomes its parent. Returns its PID and
/// pidfd once it has exec'd; the failure otherwise (the failed child is reaped here).
///
/// Async-signal-safe: it allocates nothing, so the watchdog may call it right after `fork`.
pub fn launch(p: &Prepared<'_>) -> Result<(u32, OwnedFd), Failure> {
    // Without CLONE_CLEAR_SIGHAND the child resets the handlers itself.
    let (pid, shared, pidfd) = clearing_sighand(|clear| clone_child(p, clear), |r| r.0);
    if pid < 0 {
        return Err(Failure {
            stage: STAGE_CLONE,
            errno: -pid as i32,
        });
    }
    // SAFETY: CLONE_PIDFD stored a new fd that we now own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let stage = shared.stage.load(Ordering::Acquire);
    if stage == 0 {
        // Exec'd (or killed before it could: the exit status will say so).
        return Ok((pid as u32, pidfd));
    }
    // The child failed before or at exec: reap it and report its errno.
    let _ = super::supervise::waitid_pidfd(
        std::os::fd::AsFd::as_fd(&pidfd),
        super::supervise::Hang::Block,
        super::supervise::Reap::Collect,
    );
    Err(Failure {
        stage,
        errno: shared.errno.load(Ordering::Acquire),
    })
}

unsafe fn report(sh: &Shared<'_>, stage: i32) -> ! {
    sh.errno.store(*libc::__errno_location(), Ordering::Release);
    sh.stage.store(stage, Ordering::Release);
    libc::_exit(127)
}

unsafe extern "C" fn child_entry(arg: *mut libc::c_void) -> ! {
    let sh = &*(arg as *const Shared<'_>);
    // Every signal is blocked (BlockAll). Handlers are ours and must not run in a child that
    // shares our memory: reset them before anything is unblocked (setup does that last).
    if sh.handlers_cleared {
        child(sh)
    }
    for sig in 1..=libc::SIGRTMAX() {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction != libc::SIG_DFL
            && old.sa_sigaction != libc::SIG_IGN
        {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    child(sh)
}

unsafe fn child(sh: &Shared<'_>) -> ! {
    let plan = sh.plan;
    if plan.setup.apply(sh.parent).is_err() {
        report(sh, STAGE_SETUP);
    }
    for (target, fd) in plan.stdio.iter().enumerate() {
        if let Some(fd) = *fd {
            let target = target as RawFd;
            if fd == target {
                // dup2 onto itself keeps FD_CLOEXEC: clear it instead.
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    report(sh, STAGE_SETUP);
                }
            } else if libc::dup2(fd, target) < 0 {
                report(sh, STAGE_SETUP);
            }
        }
    }
    if let Some(cwd) = &plan.cwd {
        if libc::chdir(cwd.as_ptr()) < 0 {
            report(sh, STAGE_CHDIR);
        }
    }
    // execvp's error rules: remember EACCES, skip over "not here" errors, stop at anything else.
    let mut saw_eacces = false;
    for c in sh.cands {
        libc::execve(c.as_ptr(), sh.argv, sh.envp);
        match *libc::__errno_location() {
            libc::EACCES => saw_eacces = true,
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
            _ => report(sh, STAGE_EXEC),
        }
    }
    if saw_eacces {
        *libc::__errno_location() = libc::EACCES;
    } else if sh.cands.is_empty() {
        *libc::__errno_location() = libc::ENOENT;
    }
    report(sh, STAGE_EXEC)
}
