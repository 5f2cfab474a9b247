//! Containment: how a started tree is held together so that all of it can be found and ended
//! later, and how strongly. [`crate::command::Command`] starts commands in the strongest
//! containment available and every result says which one was used:
//!
//! 1. **cgroup**: a fresh cgroup v2 leaf; the child enters it before it runs its program, so
//!    `setsid` and double-fork escapes stay inside; ending the tree is one write to `cgroup.kill`.
//! 2. **session_subreaper**: a new session and process group, whose parent is a child subreaper,
//!    so orphaned descendants are reparented to it and can still be found.
//!
//! By default ([`Guard::PerCommand`]) a small watchdog process launches the command and is its
//! parent and subreaper (see `sys::linux::watchdog` for why), relays its exit status, and ends
//! the tree if this process dies without cleaning up (SIGKILL included). The tree is then
//! exactly the watchdog's descendants: finding it never scans /proc. A long-lived process that
//! starts many commands asks for [`Guard::Shared`] instead: in a cgroup, one guard process for
//! all of them and a pool of reused leaves (see `sys::linux::keeper`), so that a start costs no
//! fork of this process; the bindings do.
//!
//! [`Tree`] is a tree as one unit (members, signalling, holding still, waiting for it to be
//! empty), for trees started here and trees found ([`crate::terminate`]).
//!
//! ```
//! use tether::contain::{ContainMode, Mechanism};
//! let mut child = tether::Command::new("true").contain(ContainMode::Group).spawn()?;
//! assert_eq!(child.containment().mechanism, Mechanism::SessionSubreaper);
//! child.close()?;
//! # Ok::<(), tether::Error>(())
//! ```

mod tree;

use std::path::PathBuf;

use serde::Serialize;

pub use tree::{Descendants, Hold, Tree, TreeWait};

use crate::error::{Error, Result};
use crate::sys::os::cgroup;
use crate::sys::os::supervise as sysproc;
pub use crate::sys::os::supervise::ChildSignals;

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
// `#[doc = concat!(..)]` documents a field without putting it into the committed JSON Schemas
// (see the note in lib.rs).
pub struct Containment {
    #[doc = concat!("How the tree is held.")]
    pub mechanism: Mechanism,
    #[doc = concat!("How much the mechanism guarantees that nothing escapes.")]
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
    /// Session + subreaper, even where a cgroup is possible (see [`become_subreaper`] for what
    /// this process being a subreaper adds).
    Group,
    /// No containment (GNU `timeout --foreground`): no watchdog, no cgroup; the command is this
    /// process's own child and stays in its process group (unless
    /// [`crate::command::Command::process_group`] gives it one of its own), and "the tree" is the
    /// command alone: signals and the time limit reach only it, and what it starts is left
    /// running.
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

/// What ends a contained tree if this process dies without cleaning up (SIGKILL, a crash):
/// the death signal ([`crate::command::Command::death_signal`]) to the tree, its grace, then
/// SIGKILL to what is left, and the cgroup leaf removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Guard {
    /// A watchdog process for every command: its parent and subreaper, forked from this process
    /// at each start (see [`ContainMode`]). Right for a process that starts one command and
    /// exits, like the `tether` tool.
    #[default]
    PerCommand,
    /// In a cgroup, one guard process for all the commands this process starts, forked at the
    /// first: each command is this process's own child, born in a leaf of a pool
    /// (`tether-<pid>-pool/<n>` next to this process), and a leaf whose tree is gone is kept for
    /// the next command instead of removed. Right for a long-lived process that starts many
    /// (a service, a test harness, the bindings): a start then costs no fork of this process
    /// and no mkdir or rmdir. The leaves and the guard go when this process does. Without a
    /// cgroup ([`ContainMode::Group`], or no cgroup available) a watchdog is used as with
    /// [`Guard::PerCommand`]. Orphans of the tree go to init (or this process's subreaper)
    /// rather than to a watchdog; they stay in the leaf, where they are found and ended.
    Shared,
}

/// Make this process a child subreaper, for good: orphaned descendants of its children are
/// reparented to it rather than to init (`PR_SET_CHILD_SUBREAPER`). Call it once, early, in a
/// program that wants it; the library never sets it on its own.
///
/// What it buys a [`crate::command::Command`]: the watchdog that launches a contained command is
/// its parent and subreaper already, so orphans of the tree go to the watchdog and are found
/// through it. Only if the watchdog itself is killed (on its own, not with this process) do they
/// move on: to this process when it is a subreaper, where a [`crate::command::Child`] still
/// finds them; otherwise to init. In a cgroup ([`ContainMode::Cgroup`]) they stay in the leaf
/// either way; in [`ContainMode::Group`] they are then found only while they stay in the
/// command's process group or session (a `setsid` escaper is lost). The cost: every orphan of
/// any child of this process becomes this process's child, to be reaped here.
///
/// ```
/// tether::contain::become_subreaper()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub fn become_subreaper() -> Result<()> {
    sysproc::set_child_subreaper().map_err(|e| Error::from_io("becoming a child subreaper", &e))
}

/// Whether this process is a child subreaper ([`become_subreaper`], or set by whoever started
/// it, such as an init).
pub fn is_subreaper() -> bool {
    sysproc::is_child_subreaper()
}
