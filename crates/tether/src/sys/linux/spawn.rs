//! Spawning with clone3: the child is born inside its cgroup (CLONE_INTO_CGROUP) and the pidfd
//! comes with it (CLONE_PIDFD).
//!
//! Hand-written instead of `std::process::Command` because moving a child into a cgroup by
//! writing `cgroup.procs` takes the cgroup threadgroup lock for writing, which waits for an RCU
//! grace period (about 20 ms on this class of machine, measured in `bench/`). A child created
//! directly in the cgroup takes that lock only for reading.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::supervise::ChildSetup;

const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

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
    pub setup: ChildSetup,
}

/// Where the child failed, reported through the error pipe.
const STAGE_SETUP: u8 = 1;
const STAGE_EXEC: u8 = 2;

/// Start the child. Returns its PID and pidfd once it has exec'd; the exec error otherwise
/// (the failed child is reaped here).
pub fn spawn(plan: &Plan) -> io::Result<(u32, OwnedFd)> {
    start(plan)?.wait_exec()
}

/// A child that has been cloned but may not have exec'd yet: the caller can do other work
/// (start a watchdog) while the child sets itself up, then learn the outcome with
/// [`Started::wait_exec`].
pub struct Started {
    /// The child's PID.
    pub pid: u32,
    /// The child's pidfd.
    pub pidfd: OwnedFd,
    err: OwnedFd,
}

/// Clone the child without waiting for its exec.
pub fn start(plan: &Plan) -> io::Result<Started> {
    let mut argv: Vec<*const libc::c_char> = plan.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = plan.envp.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    let cands: Vec<&CStr> = plan.candidates.iter().map(|c| c.as_c_str()).collect();
    let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let err_w_raw = std::os::fd::AsRawFd::as_raw_fd(&err_w);

    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: CLONE_PIDFD,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(cg) = plan.cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cg as u64;
    }
    // SAFETY: clone3 without CLONE_VM behaves like fork; the child branch only makes
    // async-signal-safe calls on memory prepared above and leaves through execve or _exit.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above.
        unsafe { child(plan, &cands, argv.as_ptr(), envp.as_ptr(), err_w_raw) }
    }
    drop(err_w);
    // SAFETY: CLONE_PIDFD stored a new fd that we now own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok(Started {
        pid: pid as u32,
        pidfd,
        err: err_r,
    })
}

impl Started {
    /// Block until the child has exec'd (the error pipe closes) and return its PID and pidfd,
    /// or its setup/exec error (the failed child is reaped here).
    pub fn wait_exec(self) -> io::Result<(u32, OwnedFd)> {
        let Started { pid, pidfd, err } = self;
        read_exec_result(pid, pidfd, err)
    }
}

fn read_exec_result(pid: u32, pidfd: OwnedFd, err_r: OwnedFd) -> io::Result<(u32, OwnedFd)> {
    let mut buf = [0u8; 5];
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(&err_r, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    if got == 0 {
        return Ok((pid, pidfd));
    }
    // The child failed before or at exec: reap it and report its errno.
    let _ = super::supervise::waitid_pidfd(std::os::fd::AsFd::as_fd(&pidfd), false, false);
    let errno = i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let e = io::Error::from_raw_os_error(errno);
    if buf[4] == STAGE_SETUP {
        return Err(io::Error::new(
            e.kind(),
            format!("setting up the child: {e}"),
        ));
    }
    Err(e)
}

unsafe fn report(fd: RawFd, stage: u8) -> ! {
    let errno = *libc::__errno_location();
    let b = errno.to_ne_bytes();
    let msg = [b[0], b[1], b[2], b[3], stage];
    libc::write(fd, msg.as_ptr().cast(), msg.len());
    libc::_exit(127)
}

unsafe fn child(
    plan: &Plan,
    cands: &[&CStr],
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    err: RawFd,
) -> ! {
    if plan.setup.apply().is_err() {
        report(err, STAGE_SETUP);
    }
    for (target, fd) in plan.stdio.iter().enumerate() {
        if let Some(fd) = *fd {
            let target = target as RawFd;
            if fd == target {
                // dup2 onto itself keeps FD_CLOEXEC: clear it instead.
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    report(err, STAGE_SETUP);
                }
            } else if libc::dup2(fd, target) < 0 {
                report(err, STAGE_SETUP);
            }
        }
    }
    if let Some(cwd) = &plan.cwd {
        if libc::chdir(cwd.as_ptr()) < 0 {
            report(err, STAGE_SETUP);
        }
    }
    // execvp's error rules: remember EACCES, skip over "not here" errors, stop at anything else.
    let mut saw_eacces = false;
    for c in cands {
        libc::execve(c.as_ptr(), argv, envp);
        match *libc::__errno_location() {
            libc::EACCES => saw_eacces = true,
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
            _ => report(err, STAGE_EXEC),
        }
    }
    if saw_eacces {
        *libc::__errno_location() = libc::EACCES;
    } else if cands.is_empty() {
        *libc::__errno_location() = libc::ENOENT;
    }
    report(err, STAGE_EXEC)
}
