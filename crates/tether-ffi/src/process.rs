//! `TetherProcess`: one process, held by a pidfd and the identity verified on it
//! (`tether::Process`).

use std::ffi::c_char;
use std::ptr;

use tether::signal::Signal;
use tether::{Process, ProcessRef};
use tether_report::{ChildrenReport, InfoReport, StopReport, WaitReport};

use crate::cancel::{linked, TetherCancel};
use crate::error::{call_out, call_string, guard, shielded, Failure, TETHER_OK};
use crate::handle::{borrow, fields, stop_options, timeout};
use crate::json::report;
use crate::strings::arg;

/// A process (opaque): a pidfd on it and its identity, verified when it was opened. It stays
/// valid after the process exits (signals then reach nobody: never a process that reused its
/// PID). Open it with `tether_process_open`, free it with `tether_process_free`. Every call
/// may come from any thread, also at the same time.
#[derive(Debug)]
pub struct TetherProcess {
    process: Process,
}

/// Open a process: `target` is a PID (`"4242"`) or an identity string
/// (`"4242:START_TICKS:BOOT8[:INODE]"`, refused once its PID names another process). Errors:
/// `TETHER_E_INVALID_ARGUMENT` (malformed, PID 0 or out of range), `TETHER_E_NOT_FOUND` (no such
/// process, a thread id, or the identity's process has exited), `TETHER_E_IDENTITY_MISMATCH`
/// (the identity's PID now names another process).
///
/// # Safety
/// `target` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_process_open(
    target: *const c_char,
    out: *mut *mut TetherProcess,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_out(out, ptr::null_mut(), || {
            let r: ProcessRef = arg(target, "target")?.parse()?;
            let process = Process::open_ref(&r)?;
            Ok(Box::into_raw(Box::new(TetherProcess { process })))
        })
    }
}

/// Its PID, into `*out`.
///
/// # Safety
/// `process` is NULL or a live handle; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_process_pid(process: *const TetherProcess, out: *mut i64) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_out(out, 0, || {
            Ok(borrow(process, "process")?.process.pid() as i64)
        })
    }
}

/// Its identity string (`PID:START_TICKS:BOOT8[:INODE]`), as verified when it was opened.
///
/// # Safety
/// `process` is NULL or a live handle; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_process_identity(
    process: *const TetherProcess,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            Ok(borrow(process, "process")?.process.identity().to_string())
        })
    }
}

/// Its record as a `tether.info/v1` document (record, identity, ancestors), re-verified after
/// the read. `fields_json` is NULL (every field but the environment) or a JSON array of field
/// names (`["name","cmdline","rss"]`, as `tether ps --fields`). `TETHER_E_NOT_FOUND` once it
/// has exited and been reaped.
///
/// # Safety
/// `process` is NULL or a live handle; `fields_json` is NULL or a NUL-terminated string; `out`
/// is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_process_info(
    process: *const TetherProcess,
    fields_json: *const c_char,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let p = borrow(process, "process")?;
            report(&InfoReport::of(&p.process, fields(fields_json)?)?)
        })
    }
}

/// Whether it still runs: `*out` is 1, or 0 once it has exited (zombie included).
///
/// # Safety
/// `process` is NULL or a live handle; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_process_is_running(
    process: *const TetherProcess,
    out: *mut i32,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_out(out, 0, || {
            Ok(borrow(process, "process")?.process.is_running()? as i32)
        })
    }
}

/// Send signal `signal` (a number, see `tether_signal_number`) through the pidfd, the rails
/// applied: `TETHER_E_REFUSED` for the caller, its ancestors, PID 1 and the like;
/// `TETHER_E_NOT_FOUND` when it has exited; `TETHER_E_PERMISSION_DENIED` for another user's.
///
/// # Safety
/// `process` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn tether_process_signal(process: *const TetherProcess, signal: i32) -> i32 {
    // SAFETY: the caller's contract.
    let p = unsafe { borrow(process, "process") };
    match guard(|| {
        let sig = Signal::from_number(signal)?;
        Ok(p?.process.signal(sig)?)
    }) {
        Ok(()) => TETHER_OK,
        Err(code) => code,
    }
}

/// Wait for it to exit, up to `timeout_ms` (negative: as long as it takes), into a
/// `tether.wait/v1` document (`exited`, `timed_out`, `exit` when it is a child of the caller).
/// A timeout is not an error. `cancel` may be NULL; triggered, the call returns
/// `TETHER_E_CANCELLED` at once.
///
/// # Safety
/// `process` is NULL or a live handle; `cancel` is NULL or a live token; `out` is NULL or
/// valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_process_wait(
    process: *const TetherProcess,
    timeout_ms: i64,
    cancel: *const TetherCancel,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    let token = unsafe { cancel.as_ref() };
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let p = &borrow(process, "process")?.process;
            let limit = timeout(timeout_ms)?;
            let outcome = match linked(token)? {
                None => p.wait(limit)?,
                Some((c, _link)) => p
                    .wait_cancellable(limit, &c)?
                    .ok_or_else(Failure::cancelled)?,
            };
            report(&WaitReport::from(&outcome))
        })
    }
}

/// Stop it and its whole tree: the graceful signal to every member (held still meanwhile),
/// the grace to exit, then the kill signal to survivors. `options_json` is NULL (TERM, 10 s,
/// KILL) or a `tether.stop-query/v1` document (`signal`, `grace_ms`, `kill_signal`, `force`).
/// `*out` receives a `tether.stop/v1` document. Blocks up to the grace (and the kill's wait).
///
/// # Safety
/// `process` is NULL or a live handle; `options_json` is NULL or a NUL-terminated string;
/// `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_process_terminate_tree(
    process: *const TetherProcess,
    options_json: *const c_char,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let p = borrow(process, "process")?;
            let opts = stop_options(options_json)?;
            report(&StopReport::from(&p.process.terminate_tree(&opts)?))
        })
    }
}

/// Its children (`recursive` 0) or all its descendants, breadth first (`recursive` non-zero),
/// as a `tether.children/v1` document (`processes`: pid and identity of each).
///
/// # Safety
/// `process` is NULL or a live handle; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_process_children(
    process: *const TetherProcess,
    recursive: i32,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let p = &borrow(process, "process")?.process;
            let list = if recursive != 0 {
                p.descendants()?
            } else {
                p.children()?
            };
            report(&ChildrenReport::new(p.pid(), recursive != 0, &list))
        })
    }
}

/// Free a process handle (its pidfd is closed; nothing is sent). NULL does nothing. No call
/// may still be using it.
///
/// # Safety
/// `process` is NULL or a handle from `tether_process_open` that has not been freed.
#[no_mangle]
pub unsafe extern "C" fn tether_process_free(process: *mut TetherProcess) {
    if !process.is_null() {
        // SAFETY: it came from `Box::into_raw` (the caller's contract).
        shielded((), || drop(unsafe { Box::from_raw(process) }));
    }
}
