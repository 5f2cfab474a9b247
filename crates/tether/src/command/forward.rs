//! [`Command::forward_signals`](super::Command::forward_signals): the process-wide signal changes
//! of a front end that stands in for its command (GNU `timeout`, `tether run`), made before the
//! spawn and undone when the child is finished.

use std::os::fd::{AsFd, BorrowedFd};

use crate::contain::ChildSignals;
use crate::signal::Signal;
use crate::sys::os::supervise::{self as sysproc, SignalFd, SUPERVISED_SIGNALS};

/// The signals read and passed on, and the dispositions changed meanwhile.
pub(super) struct Forwarding {
    /// SIGCHLD was ignored (and is at its default action while the child runs).
    chld_ignored: bool,
    /// TTIN / TTOU as they were before this ignored them (None: not touched).
    tty: Option<(bool, bool)>,
    sigfd: Option<SignalFd>,
}

impl std::fmt::Debug for Forwarding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarding")
            .field("chld_ignored", &self.chld_ignored)
            .field("tty", &self.tty)
            .finish_non_exhaustive()
    }
}

impl Forwarding {
    /// Set SIGCHLD to its default action (GNU: "don't inherit CHLD handling from parent": with
    /// it ignored the kernel reaps the command itself and its status is lost), ignore TTIN and
    /// TTOU while a command that shares this process group runs (the command gets them as they
    /// were), and block TERM, INT, HUP, QUIT, USR1, USR2, ALRM, CHLD and `user_sig` to read them
    /// through a signalfd. A signal the caller ignored stays ignored: it is not blocked, so the
    /// kernel drops it.
    pub(super) fn start(
        user_sig: Option<Signal>,
        shares_group: bool,
        child: &mut ChildSignals,
    ) -> std::io::Result<Forwarding> {
        let chld_ignored = sysproc::set_ignored(libc::SIGCHLD, false);
        let mut fw = Forwarding {
            chld_ignored,
            tty: None,
            sigfd: None,
        };
        if shares_group {
            let ttin = sysproc::set_ignored(libc::SIGTTIN, true);
            let ttou = sysproc::set_ignored(libc::SIGTTOU, true);
            child.set(libc::SIGTTIN, ttin);
            child.set(libc::SIGTTOU, ttou);
            fw.tty = Some((ttin, ttou));
        }
        let user_sig = user_sig.map(Signal::number);
        let mut read = Vec::new();
        for &sig in &SUPERVISED_SIGNALS {
            if sig == libc::SIGCHLD || Some(sig) == user_sig || !sysproc::is_ignored(sig) {
                read.push(sig);
            }
        }
        if let Some(sig) = user_sig {
            let blockable = sig != libc::SIGKILL && sig != libc::SIGSTOP;
            // Ignored by us while the command shares the group: never "received".
            let tty_sig = shares_group && (sig == libc::SIGTTIN || sig == libc::SIGTTOU);
            if blockable && !tty_sig && !read.contains(&sig) {
                read.push(sig);
            }
        }
        // On failure `fw` is dropped, which restores what was changed.
        fw.sigfd = Some(SignalFd::new(&read)?);
        Ok(fw)
    }

    /// The signalfd to poll.
    pub(super) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.sigfd.as_ref().map(|s| s.as_fd())
    }

    /// The next signal received, if any.
    pub(super) fn read(&self) -> Option<i32> {
        self.sigfd.as_ref()?.read().map(|(signo, _from)| signo)
    }
}

impl Drop for Forwarding {
    /// The forwarded signals stay blocked, so that one arriving after the command ended cannot
    /// end this process before it reports (GNU `timeout` behaves the same; a caller that goes
    /// on running restores its mask itself); the dispositions are restored.
    fn drop(&mut self) {
        if let Some(s) = self.sigfd.take() {
            s.keep_blocked();
        }
        if self.chld_ignored {
            sysproc::set_ignored(libc::SIGCHLD, true);
        }
        if let Some((ttin, ttou)) = self.tty {
            sysproc::set_ignored(libc::SIGTTIN, ttin);
            sysproc::set_ignored(libc::SIGTTOU, ttou);
        }
    }
}
