//! The time limit of a [`Command`](super::Command) (GNU `timeout`'s contract) and the signals a
//! front end passes on, applied while its [`Child`] is waited for: one event loop on the
//! command's pidfd, the signalfd and the captured pipes, with the limit's deadlines as timeouts.
//! The signals themselves are sent by the steps of the one terminate policy
//! ([`crate::terminate::signal_tree`], [`crate::terminate::escalate`]).

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use super::capture::Capture;
use super::child::Child;
use super::Command;
use crate::contain::Mechanism;
use crate::error::{Error, Result};
use crate::ready::Cancel;
use crate::run::{RunEvent, SendReason, SentSignal};
use crate::signal::Signal;
use crate::sys::os::pidfd;
use crate::sys::os::supervise as sysproc;
use crate::terminate::{escalate, signal_tree, Resume};
use crate::wait::ExitInfo;

/// The state of the time limit.
#[derive(Debug)]
pub(super) struct Limit {
    /// When the limit passes (`None`: no limit, or one beyond any clock).
    deadline: Option<Instant>,
    /// Sent when it passes (`None`: signal 0, nothing).
    signal: Option<Signal>,
    /// The kill-after period, until it is started.
    kill_after: Option<Duration>,
    kill_deadline: Option<Instant>,
    /// When the command was started (what [`SentSignal::at`] counts from).
    began: Instant,
    pub(super) timed_out: bool,
    pub(super) escalated: bool,
    pub(super) signals: Vec<SentSignal>,
}

impl Limit {
    pub(super) fn new(cmd: &Command, began: Instant) -> Limit {
        Limit {
            // `checked_add` fails only for limits beyond any clock: "practically forever".
            deadline: cmd.timeout.and_then(|t| began.checked_add(t)),
            signal: cmd.timeout_signal,
            kill_after: cmd.kill_after,
            kill_deadline: None,
            began,
            timed_out: false,
            escalated: false,
            signals: Vec::new(),
        }
    }

    /// The next moment the limit has something to do.
    fn next(&self) -> Option<Instant> {
        [
            self.deadline.filter(|_| !self.timed_out),
            self.kill_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl Child {
    /// Wait for the command's exit until `until`, applying the time limit, passing received
    /// signals on, and reading `capture`'s pipes as data arrives. `Ok(None)` when `until`
    /// passed first, or `cancel` was cancelled (polled with the other events).
    pub(super) fn drive(
        &mut self,
        until: Option<Instant>,
        on_event: &mut dyn FnMut(&RunEvent),
        mut capture: Option<&mut Capture>,
        cancel: Option<&Cancel>,
    ) -> Result<Option<ExitInfo>> {
        loop {
            if let Some(e) = self.try_reap()? {
                return Ok(Some(e));
            }
            if self.apply_due_limit(on_event) {
                continue;
            }
            if until.is_some_and(|u| Instant::now() >= u)
                || cancel.is_some_and(Cancel::is_cancelled)
            {
                return Ok(None);
            }
            let next = [self.limit.next(), until].into_iter().flatten().min();
            let (signalled, pipes_ready) = {
                let mut fds: Vec<(BorrowedFd<'_>, bool)> = vec![(self.pidfd.as_fd(), false)];
                if let Some(c) = cancel {
                    fds.push((c.as_fd(), false));
                }
                let sig_slot = self.forwarding.as_ref().and_then(|f| f.fd()).map(|fd| {
                    fds.push((fd, false));
                    fds.len() - 1
                });
                let pipes = capture.as_deref().map(Capture::fds).unwrap_or_default();
                let first_pipe = fds.len();
                fds.extend(pipes.iter().map(|(_, fd)| (*fd, false)));
                let ready = sysproc::poll_fds(&fds, next)
                    .map_err(|e| Error::from_io("waiting for the command", &e))?;
                let pipes_ready: Vec<usize> = pipes
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| ready[first_pipe + k])
                    .map(|(_, (i, _))| *i)
                    .collect();
                (sig_slot.is_some_and(|i| ready[i]), pipes_ready)
            };
            if signalled {
                while let Some(signo) = self.forwarding.as_ref().and_then(|f| f.read()) {
                    self.received(signo, on_event);
                }
            }
            if let Some(c) = capture.as_deref_mut() {
                for i in pipes_ready {
                    c.read(i);
                }
            }
        }
    }

    /// Act on the limit if a deadline has passed. Returns whether it did.
    pub(super) fn apply_due_limit(&mut self, on_event: &mut dyn FnMut(&RunEvent)) -> bool {
        let now = Instant::now();
        if self
            .limit
            .deadline
            .is_some_and(|d| !self.limit.timed_out && now >= d)
        {
            self.time_out(on_event);
            return true;
        }
        if self.limit.kill_deadline.is_some_and(|kd| now >= kd) {
            self.kill_after_passed(on_event);
            return true;
        }
        false
    }

    /// The limit passed, or a SIGALRM was received (GNU reads both the same way).
    fn time_out(&mut self, on_event: &mut dyn FnMut(&RunEvent)) {
        if self.limit.timed_out && self.limit.kill_deadline.is_some() {
            // GNU's next alarm after the first is the KILL of `-k`.
            self.kill_after_passed(on_event);
            return;
        }
        self.limit.timed_out = true;
        self.send(
            self.limit.signal,
            SendReason::Timeout,
            Resume::Always,
            on_event,
        );
        self.start_kill_after();
    }

    fn start_kill_after(&mut self) {
        if let Some(k) = self.limit.kill_after.take() {
            // None (beyond any clock) never passes.
            self.limit.kill_deadline = Instant::now().checked_add(k);
        }
    }

    fn kill_after_passed(&mut self, on_event: &mut dyn FnMut(&RunEvent)) {
        self.limit.kill_deadline = None;
        self.limit.escalated = true;
        self.send(
            Some(Signal::KILL),
            SendReason::KillAfter,
            Resume::Held,
            on_event,
        );
    }

    /// A signal arrived through the signalfd.
    fn received(&mut self, signo: i32, on_event: &mut dyn FnMut(&RunEvent)) {
        if signo == libc::SIGCHLD {
            self.tree.reap_adopted();
            return;
        }
        if signo == libc::SIGALRM {
            self.time_out(on_event);
            return;
        }
        let Ok(sig) = Signal::from_number(signo) else {
            return;
        };
        // GNU's terminating signals and its `-s` signal: passed on, followed by SIGCONT, and
        // they start the kill-after period. USR1/USR2 are only passed on.
        let terminating = Some(sig) == self.limit.signal
            || matches!(
                signo,
                libc::SIGTERM | libc::SIGINT | libc::SIGHUP | libc::SIGQUIT
            );
        let resume = if terminating {
            Resume::Always
        } else {
            Resume::Held
        };
        self.send(Some(sig), SendReason::Forwarded, resume, on_event);
        if terminating {
            self.start_kill_after();
        }
    }

    /// Send `sig` to the tree with the terminate policy's steps (to the command alone when it
    /// is uncontained, as GNU `--foreground` does, without SIGCONT). Signal 0 (`None`) sends
    /// nothing.
    fn send(
        &mut self,
        sig: Option<Signal>,
        reason: SendReason,
        resume: Resume,
        on_event: &mut dyn FnMut(&RunEvent),
    ) {
        on_event(&RunEvent::Sending {
            signal: sig,
            reason,
        });
        self.acted = true;
        let delivered = match sig {
            None => 0,
            Some(sig) if self.containment.mechanism == Mechanism::None => {
                usize::from(pidfd::send_signal(self.pidfd.as_fd(), sig.number()).is_ok())
            }
            Some(Signal::KILL) => {
                let in_cgroup = self.tree.cgroup_dir().is_some();
                let n =
                    escalate(&mut self.tree, Signal::KILL, Instant::now()).map_or(0, |v| v.len());
                // cgroup.kill reaches every member at once, also those not listed in time.
                if in_cgroup {
                    n.max(1)
                } else {
                    n
                }
            }
            Some(sig) => signal_tree(&mut self.tree, sig, resume).map_or(0, |s| s.pids.len()),
        };
        self.limit.signals.push(SentSignal {
            signal: sig,
            reason,
            at: self.limit.began.elapsed(),
            delivered_to: delivered,
        });
    }
}
