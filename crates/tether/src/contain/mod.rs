//! Contained spawn: start a command so that its whole tree can be found and ended later, in the
//! strongest containment available, and say which one was used.
//!
//! 1. **cgroup**: a fresh cgroup v2 leaf; the child enters it before it runs its program, so
//!    `setsid` and double-fork escapes stay inside; ending the tree is one write to `cgroup.kill`.
//! 2. **session_subreaper**: a new session and process group, whose parent is a child subreaper,
//!    so orphaned descendants are reparented to it and can still be found.
//!
//! Either way a small watchdog process launches the command and is its parent and subreaper
//! (see `sys::linux::watchdog` for why), relays its exit status, and ends the tree if this
//! process dies without cleaning up (SIGKILL included): [`SpawnSpec::death_signal`] first, the
//! rest after [`SpawnSpec::death_grace`]. The command gets PR_SET_PDEATHSIG(SIGKILL) against the
//! watchdog. The tree is then exactly the watchdog's descendants: finding it never scans /proc.
//!
//! ```no_run
//! use tether::contain::{spawn, SpawnSpec};
//! let mut c = spawn(&SpawnSpec::new(["sh", "-c", "sleep 1 & sleep 2"])).unwrap();
//! println!("{:?}", c.containment());
//! let exit = c.wait(None).unwrap();
//! c.end_tree().unwrap(); // the background `sleep 1` is ended too
//! ```

mod tree;

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use tree::{Descendants, Hold, Tree, TreeWait};

use crate::error::{Error, Result};
use crate::signal::Signal;
use crate::sys::os::cgroup::{self, Leaf};
use crate::sys::os::pidfd;
use crate::sys::os::spawn::{self as sysspawn, Failure, Plan, Prepared};
pub use crate::sys::os::supervise::ChildSignals;
use crate::sys::os::supervise::{self as sysproc, ChildSetup, Hang, Reap};
use crate::sys::os::watchdog::{Watchdog, WatchdogPlan};
use crate::wait::ExitInfo;

/// Which containment a tree runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Mechanism {
    /// Its own cgroup v2 leaf.
    Cgroup,
    /// A new session and process group, whose parent (the watchdog, or the supervisor when it
    /// runs without one) is a child subreaper.
    SessionSubreaper,
    /// A process group only (the supervisor is not a subreaper for it, e.g. a process tether
    /// did not start).
    ProcessGroup,
    /// No containment: the command shares the supervisor's group (GNU `--foreground`).
    None,
}

/// How strongly the containment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strength {
    /// The kernel keeps every descendant inside (cgroup): no escape.
    KernelEnforced,
    /// Group/session plus subreaper: escapes are reparented to the watchdog (or the supervisor)
    /// and still found; the watchdog ends them when the supervisor dies.
    GroupSubreaper,
    /// Group or session only: a descendant that calls `setsid` and is orphaned can escape.
    GroupOnly,
    /// Nothing beyond the direct child.
    None,
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mechanism::Cgroup => "cgroup",
            Mechanism::SessionSubreaper => "session+subreaper",
            Mechanism::ProcessGroup => "process group",
            Mechanism::None => "no containment",
        })
    }
}

impl std::fmt::Display for Strength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strength::KernelEnforced => "kernel-enforced",
            Strength::GroupSubreaper => "group+subreaper",
            Strength::GroupOnly => "group only",
            Strength::None => "none",
        })
    }
}

/// The containment of a tree, as every result reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Containment {
    pub mechanism: Mechanism,
    pub strength: Strength,
    /// The cgroup path (relative to the cgroup2 mount) when the mechanism is `cgroup`.
    pub cgroup: Option<String>,
    /// The process group the tree started in, when it has its own.
    pub pgid: Option<u32>,
    /// Why a stronger mechanism was not used, when it was not.
    pub fallback_reason: Option<String>,
}

impl Containment {
    /// The cgroup's directory (under [`cgroup_root`]), when the mechanism is `cgroup`.
    pub fn cgroup_dir(&self) -> Option<PathBuf> {
        self.cgroup.as_deref().and_then(cgroup::dir_of)
    }
}

/// Where cgroup v2 is mounted (usually `/sys/fs/cgroup`), or `None` when it is not: without it
/// only [`ContainMode::Group`] containment is possible. [`Containment::cgroup`] paths are
/// relative to it.
pub fn cgroup_root() -> Option<&'static std::path::Path> {
    cgroup::mount_point()
}

/// What containment to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ContainMode {
    /// The strongest available: cgroup, else session + subreaper.
    #[default]
    Auto,
    /// A cgroup or an error.
    Cgroup,
    /// Session + subreaper, even where a cgroup is possible.
    Group,
    /// No containment (GNU `timeout --foreground`): the child stays in this process group.
    None,
}

impl std::str::FromStr for ContainMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(ContainMode::Auto),
            "cgroup" => Ok(ContainMode::Cgroup),
            "group" => Ok(ContainMode::Group),
            "none" => Ok(ContainMode::None),
            _ => Err(Error::invalid(format!(
                "unknown containment '{s}' (use auto, cgroup, group or none)"
            ))),
        }
    }
}

/// Where a standard stream of the child goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StdioSpec {
    #[default]
    Inherit,
    Null,
    Piped,
}

/// How long a tree gets after [`SpawnSpec::death_signal`] when its supervisor died, unless the
/// caller says otherwise (`run` uses its `-k` duration when one was given).
pub const DEFAULT_DEATH_GRACE: Duration = Duration::from_secs(1);

/// What to start and how.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpawnSpec {
    /// Program and arguments; the program is looked up in PATH.
    pub argv: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    /// Start from an empty environment.
    pub env_clear: bool,
    /// Variables to set (after clearing / removing).
    pub env_set: Vec<(OsString, OsString)>,
    /// Variables to remove.
    pub env_remove: Vec<OsString>,
    pub stdin: StdioSpec,
    pub stdout: StdioSpec,
    pub stderr: StdioSpec,
    pub mode: ContainMode,
    /// Signal the child when its parent dies. Default true. With a watchdog the parent is the
    /// watchdog and the signal SIGKILL (the watchdog itself delivers [`SpawnSpec::death_signal`]
    /// to the tree); without one the parent is the spawning *thread* and the signal is
    /// `death_signal` (GNU `timeout` sets its `-s` signal so).
    pub pdeathsig: bool,
    /// Fork a watchdog that launches the command and ends the tree if this process dies without
    /// cleaning up. Default true; ignored without containment.
    pub watchdog: bool,
    /// Signal dispositions and mask the child starts with. Default: what this process
    /// inherited ([`ChildSignals::inherited`]).
    pub signals: ChildSignals,
    /// What the tree gets when this process dies without cleaning up (SIGKILL included), before
    /// anything else; `None` sends nothing, so only the grace and the kill follow (GNU's `-s 0`).
    /// Default KILL: the tree is killed at once.
    pub death_signal: Option<Signal>,
    /// How long the tree gets after `death_signal` before whatever is left is killed with
    /// SIGKILL. Default 1 s. Unused when `death_signal` is KILL.
    pub death_grace: Duration,
}

impl SpawnSpec {
    /// A spec for `argv` with defaults: inherited stdio and environment, `Auto` containment.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        SpawnSpec {
            argv: argv.into_iter().map(Into::into).collect(),
            cwd: None,
            env_clear: false,
            env_set: Vec::new(),
            env_remove: Vec::new(),
            stdin: StdioSpec::Inherit,
            stdout: StdioSpec::Inherit,
            stderr: StdioSpec::Inherit,
            mode: ContainMode::Auto,
            pdeathsig: true,
            watchdog: true,
            signals: ChildSignals::inherited(),
            death_signal: Some(Signal::KILL),
            death_grace: DEFAULT_DEATH_GRACE,
        }
    }
}

/// Why a spawn failed, in the terms GNU `timeout` distinguishes (126 vs 127).
#[derive(Debug)]
pub struct SpawnError {
    pub error: Error,
    /// The program was not found (exit 127) rather than found but not runnable (126).
    pub not_found: bool,
}

/// A started, contained command. Dropping it ends whatever is left of the tree and removes the
/// cgroup leaf; call [`Contained::end_tree`] to do so explicitly and see errors.
#[derive(Debug)]
pub struct Contained {
    pid: u32,
    pidfd: OwnedFd,
    /// Our end of the child's stdin, when it is `Piped`.
    pub stdin: Option<File>,
    /// Our end of the child's stdout, when it is `Piped`.
    pub stdout: Option<File>,
    /// Our end of the child's stderr, when it is `Piped`.
    pub stderr: Option<File>,
    containment: Containment,
    tree: Tree,
    leaf: Option<Leaf>,
    /// The command's parent, when it has one (contained modes).
    watchdog: Option<Watchdog>,
    exit: Option<ExitInfo>,
    /// The watchdog said, when it reaped the command, that nothing else of the tree was left.
    tree_empty: bool,
    started: Instant,
    /// The cleanup ran (end_tree); Drop has nothing left to do.
    cleaned: bool,
}

/// Start `spec` contained. Errors carry whether the program was missing (GNU's 127).
pub fn spawn(spec: &SpawnSpec) -> std::result::Result<Contained, SpawnError> {
    let sys = |e: Error| SpawnError {
        error: e,
        not_found: false,
    };
    let Some(program) = spec.argv.first() else {
        return Err(sys(Error::invalid("no command given")));
    };
    let mut fallback_reason = None;
    let leaf = match spec.mode {
        ContainMode::Auto | ContainMode::Cgroup => match cgroup::create_leaf() {
            Ok(l) => Some(l),
            Err(e) if spec.mode == ContainMode::Auto => {
                fallback_reason = Some(format!("no cgroup leaf could be created: {e}"));
                None
            }
            Err(e) => return Err(sys(Error::from_io("creating a cgroup leaf", &e))),
        },
        ContainMode::Group | ContainMode::None => None,
    };
    // Removes the leaf if the spawn fails (nothing can be in it then).
    let cleanup = |leaf: &Option<Leaf>| {
        if let Some(l) = leaf {
            let _ = l.remove();
        }
    };
    let contained = spec.mode != ContainMode::None;
    let with_watchdog = contained && spec.watchdog;
    // This process is a subreaper too: if the watchdog is killed on its own, its orphans (the
    // command included) come here and are still found. A failure is tolerable (an unprivileged
    // sandbox); without a watchdog the strength then says GroupOnly.
    let subreaper = contained && sysproc::set_child_subreaper().is_ok();

    let mut keep: Vec<OwnedFd> = Vec::new();
    let mut parent_ends: [Option<File>; 3] = [None, None, None];
    let mut stdio: [Option<RawFd>; 3] = [None, None, None];
    for (i, how) in [spec.stdin, spec.stdout, spec.stderr]
        .into_iter()
        .enumerate()
    {
        match how {
            StdioSpec::Inherit => {}
            StdioSpec::Null => match rustix::fs::open(
                "/dev/null",
                rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            ) {
                Ok(fd) => {
                    stdio[i] = Some(fd.as_raw_fd());
                    keep.push(fd);
                }
                Err(e) => {
                    cleanup(&leaf);
                    return Err(sys(Error::from_errno("opening /dev/null", e)));
                }
            },
            StdioSpec::Piped => match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
                Ok((r, w)) => {
                    let (child_end, ours) = if i == 0 { (r, w) } else { (w, r) };
                    stdio[i] = Some(child_end.as_raw_fd());
                    keep.push(child_end);
                    parent_ends[i] = Some(File::from(ours));
                }
                Err(e) => {
                    cleanup(&leaf);
                    return Err(sys(Error::from_errno("creating a pipe", e)));
                }
            },
        }
    }
    let death_signal = spec
        .death_signal
        .map_or(0, |s| s.number())
        .clamp(0, libc::SIGRTMAX());
    let pdeathsig = match (spec.pdeathsig, with_watchdog) {
        (false, _) => 0,
        (true, true) => libc::SIGKILL,
        (true, false) => death_signal,
    };
    let plan = match build_plan(
        spec,
        stdio,
        leaf.as_ref().map(|l| l.dir_fd.as_raw_fd()),
        contained,
        pdeathsig,
    ) {
        Ok(p) => p,
        Err(e) => {
            cleanup(&leaf);
            return Err(sys(e));
        }
    };
    let program_error = |f: Failure| {
        let e = f.into_io();
        SpawnError {
            not_found: e.raw_os_error() == Some(libc::ENOENT),
            error: Error::from_io(
                format_args!("failed to run command '{}'", program.to_string_lossy()),
                &e,
            ),
        }
    };
    let prepared = match Prepared::new(&plan) {
        Ok(p) => p,
        Err(e) => {
            cleanup(&leaf);
            return Err(sys(Error::from_io("preparing the child", &e)));
        }
    };
    let (watchdog, launched) = if with_watchdog {
        let leaf_path = match leaf
            .as_ref()
            .map(|l| cstring(l.dir.as_os_str()))
            .transpose()
        {
            Ok(p) => p,
            Err(e) => {
                cleanup(&leaf);
                return Err(sys(e));
            }
        };
        let wplan = WatchdogPlan {
            launch: &prepared,
            leaf: leaf
                .as_ref()
                .zip(leaf_path.as_deref())
                .map(|(l, p)| (l.dir_fd.as_fd(), p)),
            death_signal,
            grace: spec.death_grace,
        };
        match Watchdog::spawn(&wplan) {
            Ok((w, launched)) => (Some(w), launched),
            Err(e) => {
                // Without a watchdog the promise cannot be kept: fail the spawn.
                cleanup(&leaf);
                return Err(sys(Error::from_io("starting the watchdog", &e)));
            }
        }
    } else {
        (None, sysspawn::launch(&prepared))
    };
    drop(prepared);
    let (pid, pidfd) = match launched {
        Ok(x) => x,
        Err(f) => {
            // The failed child is reaped already; nothing else can be in the leaf.
            drop(watchdog);
            cleanup(&leaf);
            return Err(program_error(f));
        }
    };
    drop(keep);
    let [stdin, stdout, stderr] = parent_ends;
    let pgid = contained.then_some(pid);
    let (mechanism, strength) = match (&leaf, contained) {
        (Some(_), _) => (Mechanism::Cgroup, Strength::KernelEnforced),
        (None, true) if watchdog.is_some() || subreaper => {
            (Mechanism::SessionSubreaper, Strength::GroupSubreaper)
        }
        (None, true) => (Mechanism::ProcessGroup, Strength::GroupOnly),
        (None, false) => (Mechanism::None, Strength::None),
    };
    let containment = Containment {
        mechanism,
        strength,
        cgroup: leaf.as_ref().map(|l| l.rel.clone()),
        pgid,
        fallback_reason,
    };
    let root_fd = pidfd.try_clone().ok();
    let descendants = if contained {
        Descendants::Included
    } else {
        Descendants::Excluded
    };
    let mut tree = Tree::new(pid, root_fd, pgid, None, descendants);
    if let Some(l) = &leaf {
        match l.events.try_clone() {
            Ok(ev) => tree.set_cgroup_with_events(l.dir.clone(), ev),
            Err(_) => tree.set_cgroup(l.dir.clone()),
        }
    }
    if subreaper {
        tree.set_adopt_children(false);
    }
    if let Some(w) = &watchdog {
        tree.set_reaper(w.pid());
    }
    Ok(Contained {
        pid,
        pidfd,
        stdin,
        stdout,
        stderr,
        containment,
        tree,
        leaf,
        watchdog,
        exit: None,
        tree_empty: false,
        started: Instant::now(),
        cleaned: false,
    })
}

fn cstring(s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| Error::invalid("an argument or variable contains a NUL byte"))
}

/// Prepare argv, the environment, the PATH search and the child setup before the clone.
pub(crate) fn build_plan(
    spec: &SpawnSpec,
    stdio: [Option<RawFd>; 3],
    cgroup: Option<RawFd>,
    contained: bool,
    pdeathsig: i32,
) -> Result<Plan> {
    let mut env: Vec<(OsString, OsString)> = if spec.env_clear {
        Vec::new()
    } else {
        std::env::vars_os().collect()
    };
    env.retain(|(k, _)| !spec.env_remove.contains(k));
    for (k, v) in &spec.env_set {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
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
    let argv = spec
        .argv
        .iter()
        .map(|a| cstring(a))
        .collect::<Result<Vec<_>>>()?;
    let program = &spec.argv[0];
    // execvp's search, done here: the child's PATH when it was set, else ours.
    let candidates = if program.as_bytes().contains(&b'/') {
        vec![cstring(program)?]
    } else if program.is_empty() {
        Vec::new()
    } else {
        let path = spec
            .env_set
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
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
    let cwd = spec
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
        setup: ChildSetup {
            new_session: contained,
            new_group: false,
            foreground_tty: false,
            pdeathsig,
            signals: spec.signals,
        },
    })
}

impl Contained {
    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }
    /// The pidfd of the child.
    pub fn pidfd(&self) -> &OwnedFd {
        &self.pidfd
    }
    /// The containment used.
    pub fn containment(&self) -> &Containment {
        &self.containment
    }
    /// The tree handle (members, signalling, holding, waiting for it to empty).
    pub fn tree(&mut self) -> &mut Tree {
        &mut self.tree
    }
    /// When the child was started.
    pub fn started(&self) -> Instant {
        self.started
    }
    /// The exit of the child, once collected.
    pub fn exit(&self) -> Option<ExitInfo> {
        self.exit
    }

    /// Wait for the child (not the whole tree) to exit, up to `timeout` (`None` = forever).
    /// Event-driven: poll on the pidfd, then `waitid(P_PIDFD)` for the status.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<ExitInfo>> {
        if let Some(e) = self.exit {
            return Ok(Some(e));
        }
        if !pidfd::wait_readable(self.pidfd.as_fd(), timeout)? {
            return Ok(None);
        }
        self.try_reap()
    }

    /// Collect the exit status if the child has exited, without blocking (beyond the moment
    /// the watchdog takes to relay a status that is already there).
    pub fn try_reap(&mut self) -> Result<Option<ExitInfo>> {
        if let Some(e) = self.exit {
            return Ok(Some(e));
        }
        let relayed = match &mut self.watchdog {
            Some(w) => {
                // The pidfd says the command exited; its parent, the watchdog, reaps it and
                // sends the status at once.
                if !pidfd::wait_readable(self.pidfd.as_fd(), Some(Duration::ZERO))? {
                    return Ok(None);
                }
                w.exit(Some(Instant::now() + Duration::from_secs(5)))
                    .ok()
                    .flatten()
            }
            None => None,
        };
        if let Some(x) = relayed {
            let e = ExitInfo::from(x.exit);
            self.exit = Some(e);
            self.tree_empty = x.tree_empty;
            return Ok(Some(e));
        }
        // Our own child: no watchdog, or it died and the command was reparented here.
        match sysproc::waitid_pidfd(self.pidfd.as_fd(), Hang::NoHang, Reap::Collect) {
            Ok(Some(raw)) => {
                let e = ExitInfo::from(raw);
                self.exit = Some(e);
                Ok(Some(e))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(Error::from_io("collecting the child's exit status", &e)),
        }
    }

    /// Adopt orphaned descendants reparented to this process (a subreaper) as tree members.
    /// Only safe when this process owns all its children (a command-line tool), since any
    /// child of this process then counts as part of the tree.
    pub fn set_adopt_children(&mut self, on: bool) {
        self.tree.set_adopt_children(on);
    }

    /// End whatever is left of the tree with SIGKILL, wait (event-driven, up to 5 s) for it to
    /// be gone, reap what is ours, remove the cgroup leaf and release the watchdog.
    /// Returns the PIDs that were still alive and had to be killed.
    pub fn end_tree(&mut self) -> Result<Vec<u32>> {
        let killed = if self.nothing_left() {
            Vec::new()
        } else {
            self.tree
                .kill_remaining(Instant::now() + Duration::from_secs(5))?
        };
        let _ = self.try_reap();
        self.finish_cleanup();
        Ok(killed)
    }

    /// Nothing of the tree can be left, without looking: it is not contained (the tree is the
    /// command alone, and it has exited), or the watchdog found no other child when it reaped
    /// the command (every process of the tree is a descendant of the watchdog).
    fn nothing_left(&mut self) -> bool {
        let exited = self.exit.is_some() || matches!(self.try_reap(), Ok(Some(_)));
        exited && (self.containment.mechanism == Mechanism::None || self.tree_empty)
    }

    fn finish_cleanup(&mut self) {
        if self.cleaned {
            return;
        }
        self.cleaned = true;
        // Let the watchdog exit first, so that its exit overlaps the rest of the cleanup.
        if let Some(w) = &mut self.watchdog {
            w.notify_done();
        }
        if let Some(l) = self.leaf.take() {
            if l.remove().is_err() {
                // Still populated (a D-state straggler): end it and try once more.
                let _ = l.kill_and_remove(Duration::from_secs(2));
            }
        }
        // Reaped before the orphans, so that it is not the zombie that makes them look for more.
        if let Some(w) = self.watchdog.take() {
            w.release();
        }
        self.tree.reap_adopted();
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        if (self.leaf.is_some() || self.watchdog.is_some()) && !self.nothing_left() {
            let _ = self
                .tree
                .kill_remaining(Instant::now() + Duration::from_secs(5));
        }
        let _ = self.try_reap();
        self.finish_cleanup();
    }
}
