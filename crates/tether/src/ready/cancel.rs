//! Ending a wait early from another thread.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::sys::os::event::Flag;

/// Ends a [`wait_for`](super::wait_for) early, from any thread: set it in
/// [`WaitOptions::cancel`](super::WaitOptions::cancel), and a call to [`Cancel::cancel`] makes
/// the wait return [`Outcome::Cancelled`](super::Outcome::Cancelled) at once. The wait polls it
/// with its other events (an eventfd), so it stops waiting rather than noticing at its next
/// check; only a check already under way (a connect, an HTTP request) finishes first, within its
/// attempt timeout. Clones share one flag; once cancelled, it stays cancelled.
///
/// ```
/// use tether::ready::{wait_for, Cancel, Outcome, WaitOptions};
/// let cancel = Cancel::new().unwrap();
/// let mut opts = WaitOptions::default();
/// opts.cancel = Some(cancel.clone());
/// let stopper = std::thread::spawn(move || cancel.cancel());
/// let r = wait_for(vec!["file:/nonexistent/never".parse().unwrap()], &opts, None).unwrap();
/// assert_eq!(r.outcome, Outcome::Cancelled);
/// stopper.join().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Cancel {
    flag: Arc<Flag>,
}

impl Cancel {
    /// A new canceller, not cancelled. Errors only when the kernel refuses an eventfd (out of
    /// file descriptors).
    pub fn new() -> Result<Cancel> {
        let flag = Flag::new().map_err(|e| Error::from_io("creating an eventfd", &e))?;
        Ok(Cancel {
            flag: Arc::new(flag),
        })
    }

    /// Cancel every wait that uses this canceller (or a clone of it), now and later.
    pub fn cancel(&self) {
        self.flag.raise();
    }

    /// Whether [`Cancel::cancel`] has been called.
    pub fn is_cancelled(&self) -> bool {
        self.flag.is_raised()
    }
}

/// Readable once cancelled.
impl AsFd for Cancel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.flag.as_fd()
    }
}
