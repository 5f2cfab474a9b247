//! Starting a [`Command`]: the cgroup leaf, the standard streams, the exec plan (argv,
//! environment, the PATH search, the child's set-up), the watchdog that launches it, its
//! identity and the [`Tree`] that holds it.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Instant;

use super::child::{self, Child};
use super::error::SpawnError;
use super::forward::Forwarding;
use super::limit::Limit;
use super::{Command, Stdio, DEFAULT_DEATH_GRACE};
use crate::contain::{
    is_subreaper, ChildSignals, ContainMode, Containment, Descendants, Guard, Mechanism, Strength,
    Tree,
};
use crate::error::{Error, Result};
use crate::identity::ProcessIdentity;
use crate::sys::os::cgroup::{self, Leaf};
use crate::sys::os::keeper;
use crate::sys::os::spawn::{launch, Plan, Prepared};
use crate::sys::os::supervise::{self as sysproc, ChildSetup};
use crate::sys::os::watchdog::{Started, Watchdog, WatchdogPlan};
use crate::sys::os::{clock, pidfd};

/// The cgroup leaf of a start in progress: removed if the start fails (nothing can be in it).
struct LeafGuard(Option<Leaf>);

impl LeafGuard {
    fn take(mut self) -> Option<Leaf> {
        self.0.take()
    }
}

impl Drop for LeafGuard {
    fn drop(&mut self) {
        if let Some(l) = &self.0 {
            let _ = l.remove();
        }
    }
}

/// Start `cmd`; `defaults` are the streams not set on it. `began` is when the caller started
/// (the time limit runs from there).
pub(super) fn spawn(
    cmd: &Command,
    defaults: [Stdio; 3],
    began: Instant,
) -> Result<Child, SpawnError> {
    let program = cmd.program.to_string_lossy().into_owned();
    let contained = cmd.mode != ContainMode::None;
    let mut signals = cmd.child_signals.unwrap_or_else(ChildSignals::inherited);
    let limited = cmd.timeout.is_some() || cmd.forward_signals;
    if let Some(sig) = cmd.timeout_signal.filter(|_| limited) {
        // The timeout signal is always handled (as GNU installs its handler for it), so the
        // command starts with it at its default action even when the caller ignored it.
        let n = sig.number();
        if n != libc::SIGCHLD && sysproc::ignored_at_start(n) {
            signals.set(n, false);
        }
    }
    let forwarding = if cmd.forward_signals {
        let fw = Forwarding::start(cmd.timeout_signal, !contained, &mut signals)
            .map_err(|e| SpawnError::system(Error::from_io("blocking signals", &e)))?;
        Some(fw)
    } else {
        None
    };

    let death_signal = cmd
        .effective_death_signal()
        .map_or(0, |s| s.number())
        .clamp(0, libc::SIGRTMAX());
    let grace = cmd.kill_after.unwrap_or(DEFAULT_DEATH_GRACE);
    let mut fallback_reason = None;
    let wants_cgroup = matches!(cmd.mode, ContainMode::Auto | ContainMode::Cgroup);
    // A leaf of the keeper's pool, watched by its shared guard; if none can be had (no cgroup,
    // or the guard could not start), a leaf and a watchdog of this command's own.
    let pooled = (wants_cgroup && cmd.guard == Guard::Shared)
        .then(|| keeper::lease(death_signal, grace).ok())
        .flatten();
    let shared = pooled.is_some();
    let leaf = LeafGuard(match (pooled, cmd.mode) {
        (Some(l), _) => Some(l),
        (None, ContainMode::Auto | ContainMode::Cgroup) => match cgroup::create_leaf() {
            Ok(l) => Some(l),
            Err(e) if cmd.mode == ContainMode::Auto => {
                fallback_reason = Some(format!("no cgroup leaf could be created: {e}"));
                None
            }
            Err(e) => {
                return Err(SpawnError::system(Error::from_io(
                    "creating a cgroup leaf",
                    &e,
                )))
            }
        },
        _ => None,
    });

    let streams = [&cmd.stdin, &cmd.stdout, &cmd.stderr];
    let mut keep: Vec<OwnedFd> = Vec::new();
    let mut parent_ends: [Option<File>; 3] = [None, None, None];
    let mut stdio: [Option<RawFd>; 3] = [None, None, None];
    for (i, default) in defaults.iter().enumerate() {
        match streams[i].as_ref().unwrap_or(default) {
            Stdio::Inherit => {}
            Stdio::File(f) => stdio[i] = Some(f.as_raw_fd()),
            Stdio::Null => {
                let fd = rustix::fs::open(
                    "/dev/null",
                    rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .map_err(|e| SpawnError::system(Error::from_errno("opening /dev/null", e)))?;
                stdio[i] = Some(fd.as_raw_fd());
                keep.push(fd);
            }
            Stdio::Piped => {
                let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                    .map_err(|e| SpawnError::system(Error::from_errno("creating a pipe", e)))?;
                let (child_end, ours) = if i == 0 { (r, w) } else { (w, r) };
                stdio[i] = Some(child_end.as_raw_fd());
                keep.push(child_end);
                parent_ends[i] = Some(File::from(ours));
            }
        }
    }

    // With a watchdog the command's parent is the watchdog, which delivers the death signal to
    // the whole tree: the command itself only needs to die with it. With the shared guard the
    // parent is the calling thread, whose exit (a thread pool's, say) must not kill it: the
    // guard watches the whole process instead. Without either, the signal is the death signal
    // (GNU sets its `-s` signal so).
    let pdeathsig = match (contained, shared) {
        (_, true) => 0,
        (true, false) => libc::SIGKILL,
        (false, _) => death_signal,
    };
    let setup = ChildSetup {
        new_session: contained,
        new_group: !contained && cmd.process_group,
        foreground_tty: !contained && cmd.process_group && cmd.foreground_tty,
        pdeathsig,
        signals,
    };
    let mut plan = build_plan(
        cmd,
        stdio,
        leaf.0.as_ref().map(|l| l.dir_fd.as_raw_fd()),
        setup,
    )
    .map_err(SpawnError::system)?;
    // With the shared guard the command is our own child, waited for only through its pidfd.
    plan.quiet_exit = shared;
    let prepared = Prepared::new(&plan)
        .map_err(|e| SpawnError::system(Error::from_io("preparing the child", &e)))?;
    let (watchdog, launched) = if contained && !shared {
        let leaf_path = leaf
            .0
            .as_ref()
            .map(|l| cstring(l.dir.as_os_str()))
            .transpose()
            .map_err(SpawnError::system)?;
        let wplan = WatchdogPlan {
            launch: &prepared,
            leaf: leaf
                .0
                .as_ref()
                .zip(leaf_path.as_deref())
                .map(|(l, p)| (l.dir_fd.as_fd(), p)),
            death_signal,
            grace,
        };
        // Without a watchdog the promise cannot be kept: fail the start.
        let (w, launched) = Watchdog::spawn(&wplan)
            .map_err(|e| SpawnError::system(Error::from_io("starting the watchdog", &e)))?;
        (Some(w), launched)
    } else {
        // The kernel stamps the child's start time during the clone, between these two
        // readings of the same clock, in the ticks /proc shows: when both fall in one tick,
        // that is its start time, known without opening /proc/PID/stat (most runs).
        let before = clock::now_ticks();
        let launched = launch(&prepared);
        let after = clock::now_ticks();
        let launched = launched.map(|(pid, pidfd)| Started {
            pid,
            pidfd,
            start_ticks: (before == after).then_some(before),
        });
        (None, launched)
    };
    drop(prepared);
    // The failed child is reaped already; nothing else can be in the leaf (dropping the guard
    // and the watchdog cleans up).
    let started = launched.map_err(|f| SpawnError::launch(f, &program, cmd.cwd.as_deref()))?;
    drop(keep);
    let pid = started.pid;
    let identity = match identify(&started) {
        Ok(id) => id,
        Err(e) => {
            // Never hand out a handle without an identity: end what was started.
            if let Some(l) = &leaf.0 {
                let _ = cgroup::kill_all(&l.dir);
            }
            let _ = pidfd::send_signal(started.pidfd.as_fd(), libc::SIGKILL);
            if watchdog.is_none() {
                let _ = sysproc::waitid_pidfd(
                    started.pidfd.as_fd(),
                    sysproc::Hang::Block,
                    sysproc::Reap::Collect,
                );
            }
            if let Some(w) = watchdog {
                child::reap_in_background(child::Reapable::Pid(w.abandon()));
            }
            return Err(SpawnError::system(e));
        }
    };
    let leaf = leaf.take();
    let [stdin, stdout, stderr] = parent_ends;
    let pgid = (contained || cmd.process_group).then_some(pid);
    let (mechanism, strength) = match (&leaf, contained) {
        (Some(_), _) => (Mechanism::Cgroup, Strength::KernelEnforced),
        (None, true) => (Mechanism::SessionSubreaper, Strength::GroupSubreaper),
        (None, false) if cmd.process_group => (Mechanism::ProcessGroup, Strength::GroupOnly),
        (None, false) => (Mechanism::None, Strength::None),
    };
    let containment = Containment {
        mechanism,
        strength,
        cgroup: leaf.as_ref().map(|l| l.rel.clone()),
        pgid,
        fallback_reason,
    };
    let descendants = if contained {
        Descendants::Included
    } else {
        Descendants::Excluded
    };
    let mut tree = Tree::new(pid, started.pidfd.try_clone().ok(), pgid, None, descendants);
    if let Some(l) = &leaf {
        match l.events.try_clone() {
            Ok(ev) => tree.set_cgroup_with_events(l.dir.clone(), ev),
            Err(_) => tree.set_cgroup(l.dir.clone()),
        }
    }
    if cmd.adopt_children {
        tree.set_adopt_children(true);
    } else if contained && is_subreaper() {
        // Orphans that come here (should the watchdog die) count while they stay in the tree's
        // process group or session.
        tree.set_adopt_children(false);
    }
    if let Some(w) = &watchdog {
        tree.set_reaper(w.pid());
    }
    // A tether run inside this tree looks after its own (as nested GNU timeouts do).
    tree.set_delegate_nested_runs(true);
    let limit = Limit::new(cmd, began);
    Ok(Child::new(child::Parts {
        pid,
        pidfd: started.pidfd,
        identity,
        stdin,
        stdout,
        stderr,
        containment,
        tree,
        leaf,
        watchdog,
        limit,
        forwarding,
    }))
}

/// The identity of the started command: its start time as the watchdog read it before anything
/// could reap it or as the clock bracketed it, else (our own child, unreaped) read now.
fn identify(s: &Started) -> Result<ProcessIdentity> {
    match s.start_ticks {
        Some(start_ticks) => Ok(ProcessIdentity {
            pid: s.pid,
            start_ticks,
            boot_id: clock::boot_id().to_string(),
            pidfs_inode: pidfd::inode(s.pidfd.as_fd()),
        }),
        None => ProcessIdentity::of_pidfd(s.pid, &s.pidfd),
    }
}

fn cstring(s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| Error::invalid("an argument or variable contains a NUL byte"))
}

/// Prepare argv, the environment, the PATH search and the child set-up before the clone.
fn build_plan(
    cmd: &Command,
    stdio: [Option<RawFd>; 3],
    cgroup: Option<RawFd>,
    setup: ChildSetup,
) -> Result<Plan> {
    let mut env: Vec<(OsString, OsString)> = if cmd.env_clear {
        Vec::new()
    } else {
        std::env::vars_os().collect()
    };
    for (k, v) in &cmd.env {
        env.retain(|(ek, _)| ek != k);
        if let Some(v) = v {
            env.push((k.clone(), v.clone()));
        }
    }
    let envp = env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.clone().into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv)
                .map_err(|_| Error::invalid("an environment variable contains a NUL byte"))
        })
        .collect::<Result<Vec<_>>>()?;
    let program = &cmd.program;
    let argv = std::iter::once(program)
        .chain(cmd.args.iter())
        .map(|a| cstring(a))
        .collect::<Result<Vec<_>>>()?;
    // execvp's search, done here: the child's PATH when it was set, else ours.
    let candidates = if program.as_bytes().contains(&b'/') {
        vec![cstring(program)?]
    } else if program.is_empty() {
        Vec::new()
    } else {
        let path = cmd
            .env
            .get(OsStr::new("PATH"))
            .cloned()
            .flatten()
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
        path.as_bytes()
            .split(|&b| b == b':')
            .map(|dir| {
                let mut p = if dir.is_empty() {
                    b".".to_vec()
                } else {
                    dir.to_vec()
                };
                p.push(b'/');
                p.extend_from_slice(program.as_bytes());
                cstring(OsStr::from_bytes(&p))
            })
            .collect::<Result<Vec<_>>>()?
    };
    let cwd = cmd
        .cwd
        .as_ref()
        .map(|d| cstring(d.as_os_str()))
        .transpose()?;
    Ok(Plan {
        candidates,
        argv,
        envp,
        cwd,
        stdio,
        cgroup,
        quiet_exit: false,
        setup,
    })
}
