//! The native module of tether's Python package (`tether._tether`): a thin layer that converts
//! Python values to the library's types and back, and its errors to Python exceptions. No
//! process logic lives here; the pure-Python `tether/__init__.py` re-exports this module.
//!
//! Every call that reads /proc, the socket tables or waits releases the GIL; in the main
//! thread, waits, runs and job starts end on Ctrl-C ([`interrupt`]). Rust panics
//! become `pyo3_runtime.PanicException` (PyO3 catches them at every entry point; the wheel is
//! built with the workspace's unwinding `bindings` profile so that they can be caught).

use pyo3::prelude::*;
use pyo3::types::PyTuple;

mod attrs;
mod command;
mod convert;
mod error;
mod identity;
mod inspect;
mod interrupt;
mod job;
mod net;
mod pidfile;
mod process;
mod ready;
mod retry;
mod signal;

/// For the test suite: panics with `message`, to prove that a Rust panic reaches Python as an
/// exception (`pyo3_runtime.PanicException`) instead of aborting the interpreter, i.e. that the
/// module was built with a profile that unwinds.
#[pyfunction]
fn _panic(message: &str) {
    panic!("{message}");
}

#[pymodule]
fn _tether(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Every attribute process_iter, snapshot and get accept in `attrs`.
    m.add(
        "ATTRS",
        PyTuple::new(m.py(), attrs::Attr::ALL.map(attrs::Attr::name))?,
    )?;
    m.add_class::<identity::PyIdentity>()?;
    m.add_class::<inspect::PyProcessInfo>()?;
    m.add_class::<net::PyOwner>()?;
    m.add_class::<net::PySocket>()?;
    m.add_class::<net::PyPortHolders>()?;
    m.add_class::<ready::PyWaitResult>()?;
    m.add_class::<ready::PyTargetResult>()?;
    m.add_class::<process::PyProcess>()?;
    m.add_class::<process::PyContainment>()?;
    m.add_class::<process::PyStopResult>()?;
    m.add_class::<command::PyCompletedProcess>()?;
    m.add_class::<command::PyChild>()?;
    m.add_class::<pidfile::PyPidFile>()?;
    m.add_class::<pidfile::PyPidFileStatus>()?;
    m.add_class::<job::PyJobs>()?;
    m.add_class::<job::PyJobStatus>()?;
    m.add_class::<job::PyJobRun>()?;
    m.add_class::<job::PyJobLogFollower>()?;
    m.add_class::<retry::PyRetryResult>()?;
    m.add_class::<retry::PyRetryAttempt>()?;
    m.add_function(wrap_pyfunction!(command::run, m)?)?;
    m.add_function(wrap_pyfunction!(command::spawn, m)?)?;
    m.add_function(wrap_pyfunction!(retry::retry, m)?)?;
    m.add_function(wrap_pyfunction!(pidfile::pidfile_read, m)?)?;
    m.add_function(wrap_pyfunction!(pidfile::pidfile_check, m)?)?;
    m.add_function(wrap_pyfunction!(inspect::snapshot, m)?)?;
    m.add_function(wrap_pyfunction!(inspect::process_iter, m)?)?;
    m.add_function(wrap_pyfunction!(inspect::get, m)?)?;
    m.add_function(wrap_pyfunction!(net::ports, m)?)?;
    m.add_function(wrap_pyfunction!(net::who, m)?)?;
    m.add_function(wrap_pyfunction!(ready::wait_for, m)?)?;
    m.add_function(wrap_pyfunction!(signal::signal_number, m)?)?;
    m.add_function(wrap_pyfunction!(signal::signal_name, m)?)?;
    m.add_function(wrap_pyfunction!(signal::signals, m)?)?;
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    Ok(())
}
