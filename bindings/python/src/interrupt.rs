//! Blocking calls that Ctrl-C can end, without polling.
//!
//! Python runs signal handlers (`KeyboardInterrupt` for SIGINT) in its main thread only, and
//! only when that thread runs Python code. So a blocking call made from the main thread runs
//! its library call (a run, a retry, a job's start, a wait: each one cancellable, usually
//! through a [`Cancel`](tether::ready::Cancel) token) on a worker thread, and the main thread
//! sleeps with the GIL released in one `poll` with no timeout on an eventfd the worker raises
//! when it is done. Nothing wakes it but that eventfd or a signal: CPython's C-level handler
//! runs in the main thread for any signal Python handles, and `poll` is never restarted after
//! a handler (whatever `SA_RESTART` says; CPython installs its handlers without it anyway), so
//! it fails with `EINTR`. The main thread then takes the GIL and runs the Python handlers
//! (`py.check_signals()`): when one raises, the call is cancelled, the worker's result is
//! awaited (the library ends the tree, stops the job, ends the wait, and returns at once) and
//! the exception propagates; when none raises (a handler that only records the signal), it
//! goes back to `poll`. In other threads, where no handler can run, the call is made in one
//! piece with the GIL released.
//!
//! Python's wakeup fd (`signal.set_wakeup_fd`, which asyncio uses) is not touched: its user
//! still gets every signal's byte, written by the same C-level handler.
//!
//! Residual edges, the same as CPython's own blocking calls (`time.sleep`, socket reads,
//! `subprocess.Popen.wait`; PEP 475):
//! - a signal that arrives while the main thread holds the GIL, between its last look at the
//!   handlers and the start of `poll` (microseconds), interrupts nothing: its handler runs when
//!   the call ends (or at the next signal's `EINTR`);
//! - a signal that the kernel delivers to another thread (one sent to that thread, or one sent
//!   to the process while the main thread blocks it or has another one pending) has its C-level
//!   handler run there, which does not interrupt the main thread's `poll`: its Python handler
//!   runs when the call ends, likewise.

use std::os::fd::OwnedFd;
use std::sync::mpsc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use rustix::event::{eventfd, poll, EventfdFlags, PollFd, PollFlags};
use rustix::io::Errno;

use crate::error::IntoPyResult;

/// Whether the calling thread is Python's main thread (the only one that runs signal handlers).
pub fn in_main_thread(py: Python<'_>) -> PyResult<bool> {
    static MAIN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static CURRENT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let main = MAIN.import(py, "threading", "main_thread")?.call0()?;
    let current = CURRENT.import(py, "threading", "current_thread")?.call0()?;
    Ok(main.is(&current))
}

/// Run `work` (a library call that `cancel` ends early, usually by cancelling its
/// [`Cancel`](tether::ready::Cancel) token) with the GIL released. In the main
/// thread it runs on a worker thread while this one sleeps until the worker is done or a signal
/// comes (see the module's notes); when a Python signal handler raises, `cancel` is called, the worker's result is awaited (the library ends the tree and returns at once) and the
/// exception propagates.
pub fn run_cancellable<T: Send>(
    py: Python<'_>,
    cancel: impl FnOnce(),
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    run_cancellable_or_undo(py, cancel, work, drop)
}

/// [`run_cancellable`] for work whose effect must not outlive an interrupted call (a job's
/// start): when a signal handler raises, the worker's result (a cancelled one, or one that was
/// done before the cancel was seen) goes to `undo`, with the GIL released, before the exception
/// propagates. Handlers also run once more after the worker is done, so that a signal that came
/// as it finished is not left for the caller after a result it never hears of.
pub fn run_cancellable_or_undo<T: Send>(
    py: Python<'_>,
    cancel: impl FnOnce(),
    work: impl FnOnce() -> T + Send,
    undo: impl FnOnce(T) + Send,
) -> PyResult<T> {
    if !in_main_thread(py)? {
        return Ok(py.detach(work));
    }
    // A signal that came before the call (while the GIL was held) stops it before it starts.
    py.check_signals()?;
    let done = Done::new()?;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(1);
        let worker = std::thread::Builder::new()
            .name("tether-run".into())
            .spawn_scoped(scope, {
                let done = &done;
                move || {
                    // Raised when the worker ends, a panic included (then with no result sent).
                    let _raise = done.raise_on_drop();
                    let _ = tx.send(work());
                }
            });
        if let Err(e) = worker {
            let msg = format!("starting a thread for the run: {e}");
            return Err(tether::Error::new(tether::ErrorKind::System, msg)).py_err();
        }
        loop {
            // Signals that came while the GIL was held (since the last `EINTR`) run first.
            if let Err(e) = py.check_signals() {
                cancel();
                // The worker ends its work and returns; what it says goes to `undo`, not to
                // the caller, who gets the exception.
                py.detach(move || {
                    if let Ok(result) = rx.recv() {
                        undo(result);
                    }
                });
                return Err(e);
            }
            match py.detach(|| done.wait()) {
                Ok(()) => break,
                // A signal: its Python handler runs at the top of the loop.
                Err(Errno::INTR) => {}
                // `poll` itself failed (it does not, short of memory): the result is awaited
                // without Ctrl-C rather than given up.
                Err(_) => {
                    let got = py.detach(move || rx.recv().ok());
                    return finish(py, got, undo);
                }
            }
        }
        // The worker is done: its result (if it sent one) is in the channel.
        finish(py, rx.try_recv().ok(), undo)
    })
}

/// The end of a main-thread call whose worker is done: `got` is its result, or `None` when it
/// panicked (the scope passes the panic on when it ends).
fn finish<T: Send>(py: Python<'_>, got: Option<T>, undo: impl FnOnce(T) + Send) -> PyResult<T> {
    let Some(result) = got else {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "the run's thread ended without a result",
        ));
    };
    if let Err(e) = py.check_signals() {
        py.detach(move || undo(result));
        return Err(e);
    }
    Ok(result)
}

/// "The worker is done": an eventfd, readable once raised.
struct Done(OwnedFd);

impl Done {
    fn new() -> PyResult<Done> {
        eventfd(0, EventfdFlags::CLOEXEC)
            .map(Done)
            .map_err(|e| {
                let msg = format!("creating an eventfd: {e}");
                tether::Error::new(tether::ErrorKind::System, msg)
            })
            .py_err()
    }

    /// A guard that raises the flag when dropped.
    fn raise_on_drop(&self) -> impl Drop + '_ {
        struct Raise<'a>(&'a Done);
        impl Drop for Raise<'_> {
            fn drop(&mut self) {
                // Cannot fail: the counter goes from 0 to 1, once.
                let _ = rustix::io::write(&self.0 .0, &1u64.to_ne_bytes());
            }
        }
        Raise(self)
    }

    /// Sleep until raised: one `poll`, no timeout. `Err(INTR)` when a signal handler ran in
    /// this thread.
    fn wait(&self) -> rustix::io::Result<()> {
        let mut fds = [PollFd::new(&self.0, PollFlags::IN)];
        poll(&mut fds, None).map(drop)
    }
}
