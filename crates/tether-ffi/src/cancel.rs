//! Cancel tokens: another thread ends a blocking call early (Go's context, a UI's "stop").

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tether::ready::Cancel;

use crate::error::{guard, Failure, TETHER_OK};

/// A cancel token (opaque). Create it with `tether_cancel_new`, pass it to a blocking call,
/// trigger it from any thread with `tether_cancel_trigger`, and free it with
/// `tether_cancel_free` once no call uses it any more. A triggered token stays triggered: use
/// a new one for the next call.
#[derive(Debug, Default)]
pub struct TetherCancel {
    triggered: AtomicBool,
    /// The library cancellers of the calls using the token now: triggering cancels them.
    linked: Mutex<Vec<Cancel>>,
}

impl TetherCancel {
    /// Whether the token was triggered.
    pub(crate) fn is_triggered(&self) -> bool {
        self.triggered.load(Ordering::SeqCst)
    }

    /// Cancel `c` when the token is triggered (at once if it already was), until the returned
    /// link is dropped.
    pub(crate) fn link<'a>(&'a self, c: &Cancel) -> Link<'a> {
        self.linked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(c.clone());
        // After the push: a trigger that drained the list before it has set the flag already.
        if self.is_triggered() {
            c.cancel();
        }
        Link {
            token: self,
            fd: c.as_fd().as_raw_fd(),
        }
    }
}

/// A library canceller that `token` cancels, while the returned link lives; `None` without a
/// token (no eventfd is made for a call that cannot be cancelled).
pub(crate) fn linked(token: Option<&TetherCancel>) -> Result<Option<(Cancel, Link<'_>)>, Failure> {
    let Some(t) = token else { return Ok(None) };
    let c = Cancel::new()?;
    let link = t.link(&c);
    Ok(Some((c, link)))
}

/// A canceller linked to a token (see [`TetherCancel::link`]); unlinked when dropped.
pub(crate) struct Link<'a> {
    token: &'a TetherCancel,
    /// The canceller's eventfd, which clones share: what tells it from the others.
    fd: RawFd,
}

impl Drop for Link<'_> {
    fn drop(&mut self) {
        let mut l = self.token.linked.lock().unwrap_or_else(|e| e.into_inner());
        l.retain(|c| c.as_fd().as_raw_fd() != self.fd);
    }
}

/// A new, untriggered cancel token; NULL only if the allocation failed.
#[no_mangle]
pub extern "C" fn tether_cancel_new() -> *mut TetherCancel {
    guard(|| Ok(Box::into_raw(Box::default()))).unwrap_or(std::ptr::null_mut())
}

/// Trigger the token: every call using it returns `TETHER_E_CANCELLED` at once (the library's
/// waits poll an eventfd linked to it; a readiness check already under way, such as a connect,
/// finishes first, within its attempt timeout). Safe from any thread, any number of times. NULL is an invalid argument.
///
/// # Safety
/// `cancel` is NULL or a token from `tether_cancel_new` that has not been freed.
#[no_mangle]
pub unsafe extern "C" fn tether_cancel_trigger(cancel: *const TetherCancel) -> i32 {
    // SAFETY: the caller's contract.
    let token = unsafe { cancel.as_ref() };
    match guard(|| {
        let t = token.ok_or_else(|| Failure::invalid("cancel is NULL"))?;
        t.triggered.store(true, Ordering::SeqCst);
        for c in t.linked.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            c.cancel();
        }
        Ok(())
    }) {
        Ok(()) => TETHER_OK,
        Err(code) => code,
    }
}

/// Free a token. NULL does nothing. No call may still be using it.
///
/// # Safety
/// `cancel` is NULL or a token from `tether_cancel_new` that has not been freed.
#[no_mangle]
pub unsafe extern "C" fn tether_cancel_free(cancel: *mut TetherCancel) {
    if !cancel.is_null() {
        // SAFETY: it came from `Box::into_raw` (the caller's contract).
        crate::error::shielded((), || drop(unsafe { Box::from_raw(cancel) }));
    }
}
