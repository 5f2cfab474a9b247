//! Blocking calls that Ctrl-C can end.
//!
//! Python runs signal handlers (`KeyboardInterrupt` for SIGINT) in its main thread only, and
//! only when that thread runs Python code. So a blocking call made from the main thread must
//! come back to Python every [`SIGNAL_CHECK`]: waits are made in steps of that length (each
//! one library wait with the GIL released), and a run, which is one library call, runs on a
//! worker thread while the main thread checks for signals and, when a handler raises, cancels
//! the run through its [`Cancel`] token (the library then ends the tree). In other threads,
//! where no handler can run, the call is made in one piece with the GIL released.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tether::ready::Cancel;

use crate::error::IntoPyResult;

/// How often a blocking call in the main thread looks for Ctrl-C (and other Python signal
/// handlers).
pub const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Whether the calling thread is Python's main thread (the only one that runs signal handlers).
pub fn in_main_thread(py: Python<'_>) -> PyResult<bool> {
    static MAIN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static CURRENT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let main = MAIN.import(py, "threading", "main_thread")?.call0()?;
    let current = CURRENT.import(py, "threading", "current_thread")?.call0()?;
    Ok(main.is(&current))
}

/// Wait up to `timeout` (`None`: as long as it takes) by calling `step` with the GIL released:
/// `step(limit)` is one library wait of at most `limit` (`None`: unbounded), returning
/// `Some` once the wait is over. In the main thread the steps last at most [`SIGNAL_CHECK`]
/// and Python's signal handlers run between them (an exception they raise ends the wait and
/// propagates). `Ok(None)` when `timeout` passed first.
pub fn wait_in_steps<T: Send>(
    py: Python<'_>,
    timeout: Option<Duration>,
    mut step: impl FnMut(Option<Duration>) -> tether::Result<Option<T>> + Send,
) -> PyResult<Option<T>> {
    let main = in_main_thread(py)?;
    // A timeout beyond any clock never passes.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let limit = if main {
            Some(left.map_or(SIGNAL_CHECK, |l| l.min(SIGNAL_CHECK)))
        } else {
            left
        };
        if let Some(done) = py.detach(|| step(limit)).py_err()? {
            return Ok(Some(done));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        if main {
            py.check_signals()?;
        }
    }
}

/// Run `work` (a library call that `cancel` ends early) with the GIL released. In the main
/// thread it runs on a worker thread while this one runs Python's signal handlers every
/// [`SIGNAL_CHECK`]; when one raises, `cancel` is cancelled, the worker's result is awaited
/// (the library ends the tree and returns at once) and the exception propagates.
pub fn run_cancellable<T: Send>(
    py: Python<'_>,
    cancel: &Cancel,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    run_cancellable_or_undo(py, cancel, work, drop)
}

/// [`run_cancellable`] for work whose effect must not outlive an interrupted call (a job's
/// start): when a signal handler raises, the worker's result (a cancelled one, or one that was
/// done before the cancel was seen) goes to `undo`, with the GIL released, before the exception
/// propagates. Handlers also run once more after the worker is done, so that a signal that came
/// during the last step is not left for the caller after a result it never hears of.
pub fn run_cancellable_or_undo<T: Send>(
    py: Python<'_>,
    cancel: &Cancel,
    work: impl FnOnce() -> T + Send,
    undo: impl FnOnce(T) + Send,
) -> PyResult<T> {
    if !in_main_thread(py)? {
        return Ok(py.detach(work));
    }
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(1);
        let worker = std::thread::Builder::new()
            .name("tether-run".into())
            .spawn_scoped(scope, move || {
                let _ = tx.send(work());
            });
        if let Err(e) = worker {
            let msg = format!("starting a thread for the run: {e}");
            return Err(tether::Error::new(tether::ErrorKind::System, msg)).py_err();
        }
        // The receiver is moved in and out of each wait: a `&Receiver` may not cross threads.
        let mut rx = rx;
        loop {
            let (back, got) = py.detach(move || {
                let got = rx.recv_timeout(SIGNAL_CHECK);
                (rx, got)
            });
            rx = back;
            match got {
                Ok(result) => {
                    if let Err(e) = py.check_signals() {
                        py.detach(move || undo(result));
                        return Err(e);
                    }
                    return Ok(result);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // The worker panicked: the scope passes the panic on when it ends.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(pyo3::exceptions::PyRuntimeError::new_err(
                        "the run's thread ended without a result",
                    ))
                }
            }
            if let Err(e) = py.check_signals() {
                cancel.cancel();
                // The run ends its tree and returns; what it says goes to `undo`, not to the
                // caller, who gets the exception.
                py.detach(move || {
                    if let Ok(result) = rx.recv() {
                        undo(result);
                    }
                });
                return Err(e);
            }
        }
    })
}
