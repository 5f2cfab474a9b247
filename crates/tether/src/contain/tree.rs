//! A process tree as one unit: its members (cgroup, descendants, the children of the watchdog
//! that launched it, the process group or session it leads), each held by a pidfd so that nothing
//! is signalled after its PID is reused.
//!
//! Finding the members costs what the tree costs, not what the machine costs: descendants come
//! from `/proc/PID/task/*/children` of each member, orphans from the children of the subreaper
//! that adopted them (the watchdog, or this process), and a cgroup lists its own members. Only
//! the members of a process group or session that are not descendants of its leader (orphans
//! reparented to init, a shell's pipeline) need a pass over all of /proc, made once, and only for
//! a tree tether did not start ([`Tree::find_group_members`]).

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::signal::{send_group, Signal};
use crate::sys::os::family::{self, Parentage};
use crate::sys::os::supervise::{self as sysproc, Hang, Reap};
use crate::sys::os::{cgroup, pidfd};

#[derive(Debug)]
struct Member {
    fd: OwnedFd,
    gone: bool,
}

/// How a tree was held still while it was signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hold {
    /// The cgroup was frozen.
    Frozen,
    /// Every member was sent SIGSTOP.
    Stopped,
    /// The tree could not be held (it was empty).
    None,
}

impl Hold {
    /// The stable name: `frozen`, `stopped` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::Frozen => "frozen",
            Hold::Stopped => "stopped",
            Hold::None => "none",
        }
    }
}

/// Whether a [`Tree`] takes the descendants of its members (by parent links) as members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Descendants {
    /// Descendants belong to the tree.
    Included,
    /// Only the root, its cgroup and its group or session (an uncontained command).
    Excluded,
}

/// What ended a [`Tree::wait_empty`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TreeWait {
    /// Every member is gone.
    Empty,
    /// The deadline passed first.
    Deadline,
    /// One of the extra fds became readable (its index).
    Fd(usize),
}

/// Which children of this process belong to the tree (orphans it adopted as subreaper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnChildren {
    /// None (a tree found rather than started, or no subreaper).
    No,
    /// Those in the tree's process group or session.
    InTree,
    /// All of them (this process owns all its children, like the `tether` command).
    All,
}

/// How a candidate was found, and so what it must show to be taken as a member.
#[derive(Debug, Clone, Copy)]
enum Link {
    /// Listed as a child of this PID: it must still have that parent (or be in the group or
    /// session).
    ChildOf(u32),
    /// Found by its group or session: it must still be in it.
    InTree,
}

/// A process tree. Build one with [`Tree::new`]; `collect` finds its current members.
#[derive(Debug)]
pub struct Tree {
    root: u32,
    pgid: Option<u32>,
    sid: Option<u32>,
    cgroup: Option<PathBuf>,
    events: Option<OwnedFd>,
    descendants: bool,
    /// A process all of whose children belong to the tree: the watchdog that launched it.
    reaper: Option<u32>,
    own: OwnChildren,
    /// The one pass over /proc for group and session members is wanted / was made.
    scan_groups: bool,
    scanned: bool,
    excluded: HashSet<u32>,
    members: HashMap<u32, Member>,
    order: Vec<u32>,
    frozen: bool,
    /// Leave nested tether runs' leaves to those runs when signalling (not with KILL).
    delegate_nested: bool,
}

impl Tree {
    /// A tree rooted at `root` (held by `root_fd`), with its process group / session `pgid`
    /// (also used as session id when the root leads a session), its cgroup directory, and
    /// and whether descendants by parent links belong to it.
    pub fn new(
        root: u32,
        root_fd: Option<OwnedFd>,
        pgid: Option<u32>,
        cgroup_dir: Option<PathBuf>,
        descendants: Descendants,
    ) -> Tree {
        let mut excluded: HashSet<u32> = HashSet::new();
        excluded.insert(std::process::id());
        excluded.insert(1);
        let events = cgroup_dir
            .as_deref()
            .and_then(|d| cgroup::open_events(d).ok());
        let mut t = Tree {
            root,
            pgid: None,
            sid: None,
            cgroup: cgroup_dir,
            events,
            descendants: descendants == Descendants::Included,
            reaper: None,
            own: OwnChildren::No,
            scan_groups: false,
            scanned: false,
            excluded,
            members: HashMap::new(),
            order: Vec::new(),
            frozen: false,
            delegate_nested: false,
        };
        if pgid.is_some() {
            t.set_group_and_session(pgid, pgid);
        }
        if let Some(fd) = root_fd {
            t.members.insert(root, Member { fd, gone: false });
            t.order.push(root);
        }
        t
    }

    /// Limit group/session membership: use `pgid` as process group only and `sid` as session
    /// only (either may be `None`). Our own group and session are never taken.
    pub fn set_group_and_session(&mut self, pgid: Option<u32>, sid: Option<u32>) {
        let own_pgrp = crate::sys::os::process::own_pgrp().unwrap_or(0);
        let own_sid = sysproc::own_sid().unwrap_or(0);
        let ok = |g: &u32| *g > 1 && *g != own_pgrp && *g != own_sid;
        self.pgid = pgid.filter(ok);
        self.sid = sid.filter(ok);
    }

    /// Treat every child of this process (orphans reparented to it as subreaper) as a member.
    pub fn set_adopt_children(&mut self, on: bool) {
        self.own = if on {
            OwnChildren::All
        } else {
            OwnChildren::InTree
        };
    }

    /// Count every child of `pid` as a member: the watchdog that launched the root and adopts
    /// its orphans as subreaper, so that the tree is exactly its descendants.
    pub fn set_reaper(&mut self, pid: u32) {
        self.reaper = Some(pid);
        self.exclude(pid);
    }

    /// For a tree tether did not start: also find the members of the process group or session
    /// it leads that are not its descendants, by one pass over /proc at the next collection,
    /// and never take this process's ancestors.
    pub fn find_group_members(&mut self) {
        self.scan_groups = true;
        self.exclude_own_ancestors();
    }

    fn exclude_own_ancestors(&mut self) {
        let mut p = std::process::id();
        for _ in 0..4096 {
            match family::parentage(p) {
                Some(par) if par.ppid > 1 && self.excluded.insert(par.ppid) => p = par.ppid,
                _ => break,
            }
        }
    }

    /// In a cgroup, leave the processes of nested tether runs (their leaves inside this tree's)
    /// to those runs when signalling, except with KILL: an outer `run` signals an inner one,
    /// which passes the signal on (or reads SIGALRM as its own limit), as nested GNU
    /// `timeout`s reach each other but not each other's process groups.
    pub fn set_delegate_nested_runs(&mut self, on: bool) {
        self.delegate_nested = on;
    }

    /// Never count `pid` as a member (e.g. the watchdog).
    pub fn exclude(&mut self, pid: u32) {
        self.excluded.insert(pid);
        if pid != self.root {
            self.members.remove(&pid);
        }
    }

    /// The cgroup directory the tree lives in, if any.
    pub fn cgroup_dir(&self) -> Option<&Path> {
        self.cgroup.as_deref()
    }

    /// The root PID.
    pub fn root(&self) -> u32 {
        self.root
    }

    /// Every PID ever seen as a member, in the order they were found.
    pub fn seen(&self) -> &[u32] {
        &self.order
    }

    /// Find current members and hold each by a pidfd. Returns how many were new.
    ///
    /// In a cgroup the kernel keeps the member list (`cgroup.procs`): nothing is walked or
    /// opened, members are read when needed and signalled by PID only while the cgroup is frozen
    /// (when no PID of it can be reused). Otherwise the children of every live member, of the
    /// reaper and (when adopting) of this process are followed, each new member is held by a
    /// pidfd, and a pass over /proc is made once if [`Tree::find_group_members`] asked for it.
    pub fn collect(&mut self) -> Result<usize> {
        if self.cgroup.is_some() {
            return Ok(0);
        }
        self.refresh_gone();
        let mut cands: Vec<(u32, Link)> = Vec::new();
        if let Some(r) = self.reaper {
            family::for_each_child(r, &mut |c| cands.push((c, Link::ChildOf(r))));
        }
        if self.own != OwnChildren::No {
            let me = std::process::id();
            let link = if self.own == OwnChildren::All {
                Link::ChildOf(me)
            } else {
                Link::InTree
            };
            family::for_each_child(me, &mut |c| cands.push((c, link)));
        }
        if self.scan_groups && !self.scanned {
            self.scanned = true;
            let found = family::group_or_session_members(self.pgid, self.sid)
                .map_err(|e| Error::from_io("listing /proc", &e))?;
            cands.extend(found.into_iter().map(|p| (p, Link::InTree)));
        }
        let mut queue: Vec<u32> = if self.descendants {
            self.order
                .iter()
                .filter(|p| self.members.get(p).is_some_and(|m| !m.gone))
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        let mut new = 0;
        for (pid, link) in cands {
            if self.try_add(pid, link)? {
                queue.push(pid);
                new += 1;
            }
        }
        if !self.descendants {
            return Ok(new);
        }
        let mut kids: Vec<u32> = Vec::new();
        while let Some(p) = queue.pop() {
            kids.clear();
            family::for_each_child(p, &mut |c| kids.push(c));
            for &c in &kids {
                if self.try_add(c, Link::ChildOf(p))? {
                    queue.push(c);
                    new += 1;
                }
            }
        }
        Ok(new)
    }

    /// Take `pid` as a member if it is still what it was found as: held by a pidfd first, then
    /// checked in /proc. A child is checked against the parent it was listed under: if it exited
    /// and its PID went to another process meanwhile, that process has another parent (or is a
    /// new child of the same member, and so a member too).
    /// A process that exited meanwhile is skipped; any other failure to hold it (EMFILE, say) is
    /// an error, since skipping it would let a live member escape the tree's end.
    fn try_add(&mut self, pid: u32, link: Link) -> Result<bool> {
        if self.members.contains_key(&pid) || self.excluded.contains(&pid) {
            return Ok(false);
        }
        let fd = match pidfd::open(pid) {
            Ok(fd) => fd,
            Err(e) if e.kind() == crate::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let Some(par) = family::parentage(pid).filter(Parentage::alive) else {
            return Ok(false);
        };
        let in_tree = self.pgid.is_some_and(|g| par.pgrp == g as i32)
            || self.sid.is_some_and(|s| par.session == s as i32);
        let ok = match link {
            Link::ChildOf(p) => par.ppid == p || in_tree,
            Link::InTree => in_tree,
        };
        if !ok {
            return Ok(false);
        }
        self.members.insert(pid, Member { fd, gone: false });
        self.order.push(pid);
        Ok(true)
    }

    /// Whether the process group may be signalled as a group: only while its leader (the root)
    /// is alive, since after it is reaped the group id may, once the group is empty, be reused.
    fn group_signal_ok(&self) -> Option<u32> {
        let g = self.pgid.filter(|g| *g == self.root)?;
        let m = self.members.get(&self.root).filter(|m| !m.gone)?;
        // When it cannot be told, the group is not signalled as a whole (its members still are).
        pidfd::is_alive(m.fd.as_fd()).unwrap_or(false).then_some(g)
    }

    fn refresh_gone(&mut self) {
        let pids: Vec<u32> = self
            .members
            .iter()
            .filter(|(_, m)| !m.gone)
            .map(|(p, _)| *p)
            .collect();
        if pids.is_empty() {
            return;
        }
        let fds: Vec<(BorrowedFd<'_>, bool)> = pids
            .iter()
            .map(|p| (self.members[p].fd.as_fd(), false))
            .collect();
        let ready = sysproc::poll_fds(&fds, Some(Instant::now())).unwrap_or_default();
        drop(fds);
        for (p, r) in pids.iter().zip(ready) {
            if r {
                if let Some(m) = self.members.get_mut(p) {
                    m.gone = true;
                }
            }
        }
    }

    /// Members still alive (zombies count as gone), in the order found.
    pub fn alive(&mut self) -> Vec<u32> {
        if let Some(dir) = &self.cgroup {
            let mut v = cgroup::procs_recursive(dir).unwrap_or_default();
            v.retain(|p| !self.excluded.contains(p));
            v.sort_unstable();
            return v;
        }
        self.refresh_gone();
        self.order
            .iter()
            .filter(|p| self.members.get(p).is_some_and(|m| !m.gone))
            .copied()
            .collect()
    }

    fn populated(&self) -> bool {
        match &self.events {
            Some(ev) => cgroup::event_value(ev, "populated").unwrap_or(false),
            None => false,
        }
    }

    /// Whether nothing of the tree is left (after a fresh collection).
    pub fn is_empty(&mut self) -> Result<bool> {
        self.collect()?;
        Ok(self.alive().is_empty() && !self.populated())
    }

    /// Send `sig` to every live member (through its pidfd) and to the tree's process group.
    /// Returns the PIDs it was delivered to.
    pub fn signal(&mut self, sig: Signal) -> Result<Vec<u32>> {
        if let Some(dir) = self.cgroup.clone() {
            let was_frozen = self.frozen;
            if !was_frozen {
                cgroup::set_frozen(&dir, true, Duration::from_secs(1))
                    .map_err(|e| Error::from_io("freezing the cgroup", &e))?;
            }
            let mut sent = Vec::new();
            let targets = if self.delegate_nested && sig != Signal::KILL {
                let mut v = cgroup::procs_outside_nested_leaves(&dir).unwrap_or_default();
                v.retain(|p| !self.excluded.contains(p));
                v
            } else {
                self.alive()
            };
            for pid in targets {
                if sysproc::kill_pid(pid, sig.number()).is_ok() {
                    sent.push(pid);
                }
            }
            if !was_frozen {
                let _ = cgroup::set_frozen(&dir, false, Duration::ZERO);
            }
            return Ok(sent);
        }
        self.collect()?;
        let mut sent = Vec::new();
        for pid in self.alive() {
            if let Some(m) = self.members.get(&pid) {
                if pidfd::send_signal(m.fd.as_fd(), sig.number()).is_ok() {
                    sent.push(pid);
                }
            }
        }
        if let Some(g) = self.group_signal_ok() {
            let _ = send_group(g, sig);
        }
        Ok(sent)
    }

    /// Keep the tree from changing while it is signalled: freeze its cgroup, or SIGSTOP every
    /// member until a fresh collection finds no new one (so a fork loop cannot outrun it).
    pub fn hold(&mut self) -> Result<Hold> {
        if let Some(dir) = self.cgroup.clone() {
            cgroup::set_frozen(&dir, true, Duration::from_secs(1))
                .map_err(|e| Error::from_io("freezing the cgroup", &e))?;
            self.frozen = true;
            return Ok(Hold::Frozen);
        }
        let mut stopped: HashSet<u32> = HashSet::new();
        for _ in 0..50 {
            self.collect()?;
            let mut fresh = 0;
            for pid in self.alive() {
                if stopped.insert(pid) {
                    fresh += 1;
                    if let Some(m) = self.members.get(&pid) {
                        let _ = pidfd::send_signal(m.fd.as_fd(), libc::SIGSTOP);
                    }
                }
            }
            if let Some(g) = self.group_signal_ok() {
                let _ = send_group(g, Signal::STOP);
            }
            if fresh == 0 {
                break;
            }
        }
        Ok(if stopped.is_empty() {
            Hold::None
        } else {
            Hold::Stopped
        })
    }

    /// Undo [`Tree::hold`]: thaw the cgroup and send SIGCONT to every member and the group
    /// (also waking members that were stopped before we came).
    pub fn release(&mut self, hold: Hold) {
        // While still frozen, so that the PIDs read from cgroup.procs stay valid.
        self.resume();
        if hold == Hold::Frozen {
            if let Some(dir) = &self.cgroup {
                let _ = cgroup::set_frozen(dir, false, Duration::ZERO);
            }
            self.frozen = false;
        }
    }

    /// Undo [`Tree::hold`] and nothing more: thaw the cgroup, or continue the members the hold
    /// stopped (SIGCONT, as [`Tree::resume`] sends it). Unlike [`Tree::release`], a frozen tree
    /// gets no SIGCONT, so a member stopped before the hold stays stopped.
    pub fn unhold(&mut self, hold: Hold) {
        match hold {
            Hold::Frozen => {
                if let Some(dir) = &self.cgroup {
                    let _ = cgroup::set_frozen(dir, false, Duration::ZERO);
                }
                self.frozen = false;
            }
            Hold::Stopped => self.resume(),
            Hold::None => {}
        }
    }

    /// SIGCONT to the whole tree: the process group first, in one atomic group send, then each
    /// member deepest first. Waking members one by one, leader first, could let the leader exit
    /// while the others are still stopped, and the kernel then sends SIGHUP to a newly orphaned
    /// process group that has stopped members.
    pub fn resume(&mut self) {
        if self.cgroup.is_some() {
            let _ = self.signal(Signal::CONT);
            return;
        }
        if let Some(g) = self.group_signal_ok() {
            let _ = send_group(g, Signal::CONT);
        }
        let alive = self.alive();
        for pid in alive.iter().rev() {
            if let Some(m) = self.members.get(pid) {
                let _ = pidfd::send_signal(m.fd.as_fd(), libc::SIGCONT);
            }
        }
    }

    /// Wait until every member is gone, the deadline passes, or one of `extra` becomes readable.
    /// New members that appear meanwhile (forks) are collected and waited for too.
    ///
    /// With a cgroup, `cgroup.events` ("populated 0") says when it is empty; without one, every
    /// member's pidfd is in one epoll set, so each exit costs O(1) to notice, not O(members).
    pub fn wait_empty(
        &mut self,
        deadline: Option<Instant>,
        extra: &[BorrowedFd<'_>],
    ) -> Result<TreeWait> {
        const EVENTS: u64 = u64::MAX;
        const REMOVAL: u64 = u64::MAX - 1;
        const EXTRA: u64 = 1 << 40;
        let sys = |e: std::io::Error| Error::from_io("waiting for the tree", &e);
        let mut ep = sysproc::Epoll::new().map_err(sys)?;
        for (i, f) in extra.iter().enumerate() {
            ep.add(*f, EXTRA + i as u64, false, false).map_err(sys)?;
        }
        if let Some(ev) = &self.events {
            ep.add(ev.as_fd(), EVENTS, true, false).map_err(sys)?;
        }
        // The removal of the cgroup too: its owner (the `run` whose command was stopped) removes
        // it as soon as it is empty, and the kernel's wake-up for "populated 0", sent from a work
        // queue, can then be lost with the removed file.
        // inotify reports it to a watch on the parent directory (IN_DELETE), not to one on the
        // cgroup itself.
        let mut removal = self.cgroup.as_deref().and_then(|dir| {
            let mut w = crate::sys::os::inotify::Watcher::new().ok()?;
            w.watch_dir(dir.parent()?).ok()?;
            Some(w)
        });
        if let Some(w) = &removal {
            ep.add(w.as_fd(), REMOVAL, false, false).map_err(sys)?;
        }
        let mut watched: HashSet<u32> = HashSet::new();
        self.refresh_gone();
        loop {
            if self.events.is_none() {
                for (pid, m) in &self.members {
                    if !m.gone && watched.insert(*pid) {
                        ep.add(m.fd.as_fd(), *pid as u64, false, true)
                            .map_err(sys)?;
                    }
                }
            }
            let any_alive = if self.events.is_some() {
                self.populated()
            } else {
                self.members.values().any(|m| !m.gone)
            };
            if !any_alive {
                // Every member we knew is gone: look once more for forks we have not seen.
                self.refresh_gone();
                if self.collect()? == 0 && !self.populated() {
                    return Ok(TreeWait::Empty);
                }
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(TreeWait::Deadline);
            }
            for t in ep.wait(deadline).map_err(sys)? {
                if t == REMOVAL {
                    if let Some(w) = &mut removal {
                        let _ = w.drain();
                    }
                    continue;
                }
                if t == EVENTS {
                    continue;
                }
                if t >= EXTRA {
                    return Ok(TreeWait::Fd((t - EXTRA) as usize));
                }
                if let Some(m) = self.members.get_mut(&(t as u32)) {
                    m.gone = true;
                }
            }
        }
    }

    /// Kill whatever is left with SIGKILL (cgroup.kill when there is a cgroup), then wait for
    /// it to be gone up to `deadline`. Returns the PIDs that were alive when it began.
    pub fn kill_remaining(&mut self, deadline: Instant) -> Result<Vec<u32>> {
        if self.cgroup.is_some() && self.events.is_some() && !self.populated() {
            // "populated 0" covers the leaf and everything below it: nothing to list or kill.
            return Ok(Vec::new());
        }
        self.collect()?;
        let alive = self.alive();
        if alive.is_empty() && !self.populated() {
            return Ok(alive);
        }
        if let Some(dir) = &self.cgroup {
            cgroup::kill_all(dir).map_err(|e| Error::from_io("writing cgroup.kill", &e))?;
        } else {
            // Held still so that a fork loop cannot outrun it; KILL ends stopped processes,
            // so nothing needs continuing.
            self.hold()?;
            self.signal(Signal::KILL)?;
        }
        self.wait_empty(Some(deadline), &[])?;
        Ok(alive)
    }

    /// Reap members that are zombie children of this process (adopted orphans), except the root.
    pub fn reap_adopted(&mut self) {
        for (pid, m) in &self.members {
            if *pid != self.root {
                // Through the pidfd, so a reused PID can never be reaped by mistake.
                let _ = sysproc::waitid_pidfd(m.fd.as_fd(), Hang::NoHang, Reap::Collect);
            }
        }
        if sysproc::zombie_child().is_none() {
            // No child of ours has exited: no orphan to reap, no /proc walk needed.
            return;
        }
        let leaf = self.cgroup.as_deref().map(cgroup::rel_of);
        for pid in sysproc::own_children() {
            if pid == self.root || self.excluded.contains(&pid) {
                continue;
            }
            // Orphans adopted as subreaper: any child when this process owns all its children,
            // else those still shown in our leaf (a zombie keeps its cgroup path).
            let ours = self.own == OwnChildren::All
                || leaf
                    .as_deref()
                    .is_some_and(|l| cgroup::cgroup_of(pid).ok().as_deref() == Some(l));
            if ours {
                if let Ok(fd) = pidfd::open(pid) {
                    let _ = sysproc::waitid_pidfd(fd.as_fd(), Hang::NoHang, Reap::Collect);
                }
            }
        }
    }

    /// Count the directory as the tree's cgroup (for trees found rather than spawned).
    pub fn set_cgroup(&mut self, dir: PathBuf) {
        self.events = cgroup::open_events(&dir).ok();
        self.cgroup = Some(dir);
    }

    /// Count the directory as the tree's cgroup, with its `cgroup.events` already open.
    pub fn set_cgroup_with_events(&mut self, dir: PathBuf, events: OwnedFd) {
        self.events = Some(events);
        self.cgroup = Some(dir);
    }

    /// Whether the cgroup (if the tree has one) still has members, from `cgroup.events`.
    pub fn cgroup_populated(&self) -> bool {
        self.populated()
    }
}
