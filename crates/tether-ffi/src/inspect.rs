//! Snapshots and single lookups: `tether.ps-query/v1` → `tether.ps/v1`,
//! `tether.get-query/v1` → `tether.info/v1`.

use std::ffi::c_char;

use tether::inspect::snapshot;
use tether::{Process, ProcessRef};
use tether_report::query::{GetQuery, PsQuery};
use tether_report::{InfoReport, PsReport};

use crate::error::{call_string, Failure};
use crate::json::{query, report};

/// List processes. `query_json` is a `tether.ps-query/v1` document, e.g.
/// `{"schema":"tether.ps-query/v1","fields":["pid","name"],"filter":{"name":{"exact":"sshd"}}}`
/// (fields: the names of `tether ps --fields`, absent = all but env, [] = the PID only;
/// filter: pids, name {exact|substring|regex}, cmdline (regex), uid or user, ppid, pgid, sid,
/// states, min_cpu_percent, min_rss_bytes, min_age_ms; cpu_sample_ms). `*out` receives a
/// `tether.ps/v1` document, processes sorted by PID. No match is an empty list.
///
/// # Safety
/// `query_json` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_snapshot(query_json: *const c_char, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let q: PsQuery = query(query_json)?;
            report(&PsReport::from(snapshot(&q.to_query()?)?))
        })
    }
}

/// One process's record. `query_json` is a `tether.get-query/v1` document:
/// `{"schema":"tether.get-query/v1","target":"4242"}` (a PID or an identity string; optional
/// `fields` as in `tether.ps-query/v1`). `*out` receives a `tether.info/v1` document: the
/// record, the identity (taken on a pidfd, with the pidfs inode where the kernel has one) and
/// the ancestors' PIDs. Errors: `TETHER_E_NOT_FOUND` (no such process, a thread id, exited),
/// `TETHER_E_IDENTITY_MISMATCH` (the identity's PID now names another process).
///
/// # Safety
/// `query_json` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_get(query_json: *const c_char, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let q: GetQuery = query(query_json)?;
            let (target, fields) = q.to_query()?;
            report(&InfoReport::of(&Process::open_ref(&target)?, fields)?)
        })
    }
}

/// The PID of the running process a target names: `NotFound` when it has exited,
/// `IdentityMismatch` when an identity's PID now names another process.
pub(crate) fn running(target: &ProcessRef) -> Result<u32, Failure> {
    Ok(Process::open_ref(target)?.pid())
}
