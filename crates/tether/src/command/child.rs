//! [`Child`]: the handle on a started, contained tree.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use super::capture::Capture;
use super::forward::Forwarding;
use super::limit::Limit;
use crate::contain::{Containment, Mechanism, Tree};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::ProcessIdentity;
use crate::ready::Cancel;
use crate::run::RunOutcome;
use crate::signal::Signal;
use crate::sys::os::cgroup::{self, Leaf};
use crate::sys::os::pidfd;
use crate::sys::os::supervise::{self as sysproc, Hang, Reap};
use crate::sys::os::watchdog::Watchdog;
use crate::terminate::{terminate_tree, StopOptions, StopOutcome};
use crate::wait::ExitInfo;

/// How long ending a tree with SIGKILL waits for it to be gone (a process in uninterruptible
/// sleep can take a while) before reporting what is left.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// How long the watchdog gets to relay an exit status it has (it sends it as soon as it has
/// reaped the command, so this is only ever reached if it is stuck).
const RELAY_WAIT: Duration = Duration::from_secs(5);

/// A started command and its whole tree, from [`Command::spawn`](super::Command::spawn).
///
/// Waiting ([`Child::wait`], [`Child::try_wait`]) is for the command itself (the direct child)
/// and applies the time limit of its [`Command`](super::Command); signalling, stopping and
/// killing act on the whole tree, in the containment [`Child::containment`] reports.
///
/// **Ending it.** [`Child::close`] ends whatever is left of the tree with SIGKILL, waits for it
/// to be gone, removes the cgroup leaf (or, with [`Guard::Shared`](crate::contain::Guard),
/// gives it back to the pool: kept for the next command if the tree ended by itself, else
/// removed), releases the watchdog and reports any failure: call it (or [`Child::stop`] first,
/// for a graceful end). **Drop** never blocks: if the command and its tree are not known to be
/// gone, it sends SIGKILL to what is left (one write to `cgroup.kill` in a cgroup; the members
/// found, in a group) and hands the rest to the watchdog, which kills whatever remains until
/// the tree is gone (up to 5 s), removes the leaf and exits (a pooled leaf is removed at a
/// later start once empty, or by the shared guard when this process exits); in
/// [`ContainMode::None`](crate::contain::ContainMode::None) the command is sent SIGKILL. What
/// is left of this process's own children (the watchdog, or the command itself) is reaped by a
/// short-lived background thread, so that no zombie stays behind (if no thread can be started,
/// it stays a zombie until this process waits for it or exits).
/// Errors are not reported on drop.
#[derive(Debug)]
pub struct Child {
    /// Our end of the child's stdin, when it is [`Stdio::Piped`](super::Stdio::Piped).
    pub stdin: Option<File>,
    /// Our end of the child's stdout, when it is piped.
    pub stdout: Option<File>,
    /// Our end of the child's stderr, when it is piped.
    pub stderr: Option<File>,
    pub(super) pid: u32,
    pub(super) pidfd: OwnedFd,
    identity: ProcessIdentity,
    pub(super) containment: Containment,
    pub(super) tree: Tree,
    leaf: Option<Leaf>,
    /// The command's parent, in the contained modes.
    watchdog: Option<Watchdog>,
    pub(super) exit: Option<ExitInfo>,
    /// The watchdog said, when it reaped the command, that nothing else of the tree was left.
    tree_empty: bool,
    /// A signal or kill was sent to the tree: its leaf is not reused for another (a leaf once
    /// killed through `cgroup.kill` kills what is later born in it on some kernels).
    pub(super) acted: bool,
    pub(super) limit: Limit,
    pub(super) forwarding: Option<Forwarding>,
    /// The clean-up ran (close, or the end of a run); Drop has nothing left to do.
    cleaned: bool,
}

/// What [`super::spawn`] hands to [`Child::new`].
pub(super) struct Parts {
    pub pid: u32,
    pub pidfd: OwnedFd,
    pub identity: ProcessIdentity,
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    pub containment: Containment,
    pub tree: Tree,
    pub leaf: Option<Leaf>,
    pub watchdog: Option<Watchdog>,
    pub limit: Limit,
    pub forwarding: Option<Forwarding>,
}

impl Child {
    pub(super) fn new(p: Parts) -> Child {
        Child {
            stdin: p.stdin,
            stdout: p.stdout,
            stderr: p.stderr,
            pid: p.pid,
            pidfd: p.pidfd,
            identity: p.identity,
            containment: p.containment,
            tree: p.tree,
            leaf: p.leaf,
            watchdog: p.watchdog,
            exit: None,
            tree_empty: false,
            acted: false,
            limit: p.limit,
            forwarding: p.forwarding,
            cleaned: false,
        }
    }

    /// The command's PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The command's identity, verified when it started (read before anything could reap it):
    /// hand it to whoever must signal it later, by a PID that may be reused meanwhile.
    pub fn identity(&self) -> &ProcessIdentity {
        &self.identity
    }

    /// The containment the tree runs in: mechanism, strength, cgroup, process group.
    pub fn containment(&self) -> &Containment {
        &self.containment
    }

    /// Wait for the command (not the whole tree) to exit, up to `timeout` (`None`: as long as
    /// it takes). `Ok(None)` when the timeout passed first. Event-driven (its pidfd, and the
    /// exit status relayed by the watchdog); the time limit of the [`Command`](super::Command)
    /// is applied meanwhile (its signals sent when it passes).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<ExitInfo>> {
        let until = timeout.and_then(|t| Instant::now().checked_add(t));
        if timeout.is_some() && until.is_none() {
            return self.drive(None, &mut |_| {}, None, None);
        }
        self.drive(until, &mut |_| {}, None, None)
    }

    /// [`Child::wait`] that another thread can end early: `Ok(None)` also when `cancel` is
    /// cancelled (before or during the wait; polled with the other events, so at once). Check
    /// [`Cancel::is_cancelled`] to tell it from the timeout. The command and its tree are left
    /// as they are: the caller decides what a cancelled wait means (a binding's context ending
    /// the tree calls [`Child::stop`] or [`Child::kill_tree`] next).
    pub fn wait_cancellable(
        &mut self,
        timeout: Option<Duration>,
        cancel: &Cancel,
    ) -> Result<Option<ExitInfo>> {
        let until = timeout.and_then(|t| Instant::now().checked_add(t));
        self.drive(until, &mut |_| {}, None, Some(cancel))
    }

    /// The command's exit, if it has exited, without waiting (beyond the moment the watchdog
    /// takes to relay a status that is already there). Applies the time limit if it has
    /// passed.
    pub fn try_wait(&mut self) -> Result<Option<ExitInfo>> {
        self.apply_due_limit(&mut |_| {});
        self.try_reap()
    }

    /// Send `sig` to every process of the tree (each through a pidfd, or listed from the frozen
    /// cgroup, so that no reused PID is hit). Returns the PIDs it was delivered to. Nothing is
    /// held still or continued: a stopped process stays stopped.
    pub fn signal(&mut self, sig: Signal) -> Result<Vec<u32>> {
        self.acted = true;
        self.tree.signal(sig)
    }

    /// End the tree with the one terminate policy ([`crate::terminate::terminate_tree`]): held
    /// still, `opts.signal` and SIGCONT to every member, `opts.grace` to exit (event-driven),
    /// `opts.kill_signal` to the survivors. A tree that is gone already is a success with
    /// `already_gone`. The command's exit is collected; call [`Child::close`] to clean up.
    pub fn stop(&mut self, opts: &StopOptions) -> Result<StopOutcome> {
        let began = Instant::now();
        let gone = self.nothing_left();
        let mut done = StopOutcome::new(
            self.pid,
            Some(self.identity.clone()),
            self.containment.clone(),
            opts,
        );
        done.already_gone = gone;
        if !gone {
            self.acted = true;
            done.record(terminate_tree(&mut self.tree, opts)?);
            let _ = self.try_reap();
            self.note_if_gone();
        }
        done.elapsed = began.elapsed();
        Ok(done)
    }

    /// Kill the whole tree with SIGKILL (one write to `cgroup.kill` in a cgroup; held still and
    /// killed in a group) and wait, event-driven and up to 5 s, until it is gone. Returns the
    /// PIDs that were still alive.
    pub fn kill_tree(&mut self) -> Result<Vec<u32>> {
        if self.nothing_left() {
            return Ok(Vec::new());
        }
        self.acted = true;
        let killed = self.tree.kill_remaining(Instant::now() + KILL_WAIT)?;
        let _ = self.try_reap();
        self.note_if_gone();
        Ok(killed)
    }

    /// After ending the tree: once it is empty nothing can join it again (no member is left to
    /// fork), so later calls know without looking.
    fn note_if_gone(&mut self) {
        if self.tree.is_empty().unwrap_or(false) {
            self.tree_empty = true;
        }
    }

    /// End and clean up, reporting errors: SIGKILL to whatever of the tree is left, wait until
    /// it is gone, collect the command's exit, remove the cgroup leaf, release the watchdog,
    /// reap adopted orphans, undo [`Command::forward_signals`](super::Command::forward_signals).
    /// Returns the PIDs that had to be killed. Errors: the tree could not be ended (processes
    /// still alive after SIGKILL, e.g. in uninterruptible sleep), or the leaf not removed.
    pub fn close(mut self) -> Result<Vec<u32>> {
        let killed = self.kill_tree();
        let left = if self.leaf.is_none() && self.containment.mechanism != Mechanism::None {
            self.tree.alive()
        } else {
            Vec::new()
        };
        let cleaned = self.cleanup();
        let killed = killed?;
        cleaned?;
        if !left.is_empty() {
            return Err(Error::new(
                ErrorKind::TimedOut,
                format!(
                    "{} of the tree still alive {} s after SIGKILL: {left:?}",
                    if left.len() == 1 {
                        "1 process".to_string()
                    } else {
                        format!("{} processes", left.len())
                    },
                    KILL_WAIT.as_secs()
                ),
            ));
        }
        Ok(killed)
    }

    /// The exit status was collected elsewhere (an init reaps every child with one wait for
    /// any): record it, so that the handle knows the command is gone.
    pub(crate) fn set_exit(&mut self, exit: ExitInfo) {
        self.exit = Some(exit);
    }

    /// Collect the exit status if the command has exited.
    pub(super) fn try_reap(&mut self) -> Result<Option<ExitInfo>> {
        self.reap_within(RELAY_WAIT)
    }

    /// [`Child::try_reap`], waiting at most `relay` for the watchdog's message.
    fn reap_within(&mut self, relay: Duration) -> Result<Option<ExitInfo>> {
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
                match w.exit(Some(Instant::now() + relay)) {
                    Ok(None) if relay.is_zero() => return Ok(None),
                    // Never loop on a readable pidfd for a status that does not come.
                    Ok(None) => {
                        return Err(Error::new(
                            ErrorKind::System,
                            "the watchdog did not relay the command's exit status",
                        ))
                    }
                    Ok(Some(x)) => Some(x),
                    // The watchdog is gone: the command was reparented (see below).
                    Err(_) => None,
                }
            }
            None => None,
        };
        if let Some(x) = relayed {
            let e = ExitInfo::from(x.exit);
            self.exit = Some(e);
            self.tree_empty = x.tree_empty;
            return Ok(Some(e));
        }
        // Our own child: no watchdog (uncontained, or a leaf of the shared guard's pool), or
        // it died and the command was reparented here.
        match sysproc::waitid_pidfd(self.pidfd.as_fd(), Hang::NoHang, Reap::Collect) {
            Ok(Some(raw)) => {
                let e = ExitInfo::from(raw);
                self.exit = Some(e);
                // In a leaf, "populated" drops as the last member exits: one read says
                // whether anything of the tree is left.
                if let Some(l) = &mut self.leaf {
                    self.tree_empty = !cgroup::event_value(&*l.events, "populated").unwrap_or(true);
                    l.reusable = self.tree_empty && !self.acted;
                }
                Ok(Some(e))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(Error::from_io("collecting the command's exit status", &e)),
        }
    }

    /// Nothing of the tree can be left, without looking: the command has exited and it was
    /// the whole tree (no containment), or the watchdog found no other child when it reaped it
    /// (every process of the tree is a descendant of the watchdog).
    fn nothing_left(&mut self) -> bool {
        let exited = self.exit.is_some() || matches!(self.try_reap(), Ok(Some(_)));
        exited && (self.containment.mechanism == Mechanism::None || self.tree_empty)
    }

    /// The end of [`Command::status`](super::Command::status) and
    /// [`Command::output`](super::Command::output): once the command has exited (or waiting
    /// failed), end what is left of the tree, read the last output, clean up, and say what
    /// happened.
    pub(super) fn finish_run(
        mut self,
        command: Vec<OsString>,
        exit: Result<Option<ExitInfo>>,
        capture: Option<&mut Capture>,
        began: Instant,
    ) -> RunOutcome {
        let (child_exit, error) = match exit {
            Ok(e) => (e, None),
            Err(e) => (None, Some(e)),
        };
        // Uncontained, the tree is the command alone: nothing to end once it has exited.
        let leftovers_killed =
            if self.containment.mechanism != Mechanism::None || child_exit.is_none() {
                self.kill_tree().unwrap_or_default()
            } else {
                Vec::new()
            };
        if let Some(c) = capture {
            c.drain();
        }
        let _ = self.cleanup();
        RunOutcome {
            command,
            pid: self.pid,
            identity: self.identity.clone(),
            containment: self.containment.clone(),
            timed_out: self.limit.timed_out,
            signals: std::mem::take(&mut self.limit.signals),
            escalated: self.limit.escalated,
            child_exit: child_exit.or(self.exit),
            leftovers_killed,
            error,
            elapsed: began.elapsed(),
        }
    }

    /// Remove the leaf, release the watchdog, reap adopted orphans, undo the signal changes.
    fn cleanup(&mut self) -> Result<()> {
        if self.cleaned {
            return Ok(());
        }
        self.cleaned = true;
        // Let the watchdog exit first, so that its exit overlaps the rest of the clean-up.
        if let Some(w) = &mut self.watchdog {
            w.notify_done();
        }
        let mut res = Ok(());
        if let Some(l) = self.leaf.take() {
            if l.remove().is_err() {
                // Still populated (a straggler in uninterruptible sleep): end it and try again.
                if let Err(e) = l.kill_and_remove(Duration::from_secs(2)) {
                    res = Err(Error::from_io(
                        format_args!("removing the cgroup leaf {}", l.rel),
                        &e,
                    ));
                }
            }
        }
        // Reaped before the orphans, so that it is not the zombie that makes them look for more.
        if let Some(w) = self.watchdog.take() {
            w.release();
        }
        self.tree.reap_adopted();
        // Last: SIGCHLD stays at its default action until the watchdog has been reaped.
        self.forwarding = None;
        res
    }
}

impl AsFd for Child {
    /// The command's pidfd: readable once it has exited.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        self.cleaned = true;
        let exited = self.exit.is_some() || matches!(self.reap_within(Duration::ZERO), Ok(Some(_)));
        let all_gone = exited && (self.containment.mechanism == Mechanism::None || self.tree_empty);
        if !all_gone {
            // SIGKILL to what is left, without waiting for it to go.
            match &self.leaf {
                Some(l) => {
                    let _ = cgroup::kill_all(&l.dir);
                }
                None => {
                    let _ = self.tree.signal(Signal::KILL);
                }
            }
        }
        if let Some(w) = self.watchdog.take() {
            let removed = all_gone && self.leaf.as_ref().is_none_or(|l| l.remove().is_ok());
            // Gone and cleaned up: the watchdog just exits. Otherwise it kills what remains,
            // waits for it, and removes the leaf.
            let pid = if removed { w.dismiss() } else { w.abandon() };
            reap_in_background(Reapable::Pid(pid));
        } else if !exited {
            if let Ok(fd) = self.pidfd.try_clone() {
                reap_in_background(Reapable::Pidfd(fd));
            }
        }
        self.leaf = None;
        self.tree.reap_adopted();
    }
}

/// A child of this process to reap.
pub(super) enum Reapable {
    /// By PID (the watchdog: our unreaped child, so its PID cannot be reused).
    Pid(libc::pid_t),
    /// By pidfd.
    Pidfd(OwnedFd),
}

/// Reap a child of ours that is about to exit, on a short-lived thread, so that the caller
/// waits for nothing and no zombie stays behind.
pub(super) fn reap_in_background(what: Reapable) {
    let reap = move || match what {
        Reapable::Pid(pid) if pid > 0 => {
            let mut st = 0;
            // SAFETY: waiting for our own child, which exits by itself.
            while unsafe { libc::waitpid(pid, &mut st, 0) } < 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
        }
        Reapable::Pid(_) => {}
        Reapable::Pidfd(fd) => {
            let _ = sysproc::waitid_pidfd(fd.as_fd(), Hang::Block, Reap::Collect);
        }
    };
    // If no thread can be started, the child stays a zombie until this process waits for it.
    let _ = std::thread::Builder::new()
        .name("tether-reap".into())
        .spawn(reap);
}
