//! Readiness waits: `tether.wait-for-query/v1` → `tether.wait-for/v1`.

use std::ffi::c_char;

use tether::ready::{wait_for_labeled, Outcome};
use tether_report::query::WaitForQuery;
use tether_report::WaitForReport;

use crate::cancel::{linked, TetherCancel};
use crate::error::{call_string, Failure};
use crate::json::{query, report};

/// Wait until ports, URLs, files, log lines, exits, port owners or commands are ready (or,
/// with `reverse`, no longer are). Blocks the calling thread. `query_json` is a
/// `tether.wait-for-query/v1` document:
/// `{"schema":"tether.wait-for-query/v1","targets":[":8080","file:/run/app.ready"],"timeout_ms":30000}`
/// (targets as `tether wait-for` takes them; optional: timeout_ms (absent or 0: forever),
/// interval_ms, attempt_timeout_ms, any, reverse, watch (PID or identity) or watch_pidfile,
/// http {status, body, insecure, method, headers}, file {non_empty, stable_ms}).
/// `cancel` may be NULL; when given and triggered, the call returns `TETHER_E_CANCELLED`.
///
/// A wait that ends without the targets being ready still succeeds: `*out` receives a
/// `tether.wait-for/v1` document whose `outcome` says how it ended (`ready`, `timed_out`,
/// `process_died`, `failed`). Errors are for bad input and setup failures only.
///
/// # Safety
/// `query_json` is NULL or a NUL-terminated string; `cancel` is NULL or a live token; `out` is
/// NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_wait_for(
    query_json: *const c_char,
    cancel: *const TetherCancel,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    let cancel = unsafe { cancel.as_ref() };
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let q: WaitForQuery = query(query_json)?;
            let (targets, labels, mut opts) = q.to_wait()?;
            let linked = linked(cancel)?;
            opts.cancel = linked.as_ref().map(|(c, _)| c.clone());
            let r = wait_for_labeled(targets, labels, &opts, None)?;
            if r.outcome == Outcome::Cancelled {
                return Err(Failure::cancelled());
            }
            report(&WaitForReport::from(&r))
        })
    }
}
