//! Retries (`tether::retry`): `tether.retry-query/v1` → `tether.retry/v1`.

use std::ffi::{c_char, OsString};

use tether::retry;
use tether_report::query::RetryQuery;
use tether_report::RetryReport;

use crate::cancel::{linked, TetherCancel};
use crate::error::call_string;
use crate::json::{query, report};

/// Run a command until it succeeds, as `tether retry` does: each attempt runs contained (its
/// whole tree ends with it), a failing attempt whose code is retried is followed, after a
/// delay, by the next. Blocks the calling thread. The command's output is inherited or
/// discarded (`null`), never captured.
///
/// `query_json` is a `tether.retry-query/v1` document:
/// `{"schema":"tether.retry-query/v1","command":{"argv":["curl","-fsS","http://x"]},"attempts":5}`
/// (`command` as `tether.command-query/v1`, without `schema` and time limit; optional:
/// attempts (default 3, 0: no limit), max_time_ms, backoff `fixed` | `linear` |
/// `exponential`, delay_ms (default 1000), max_delay_ms, jitter, retry_on / stop_on (code
/// lists such as `"1,6-7,28"`), attempt_timeout_ms, kill_after_ms (default 5000)).
///
/// A retry that ends with a failing code is not an error: `*out` receives a `tether.retry/v1`
/// document (as `tether retry --json`) with every attempt, the `outcome` (`succeeded`,
/// `exhausted`, `not_retried`, `max_time`, `cancelled`) and `exit_code`. `cancel` may be NULL;
/// triggered, the running attempt's whole tree is ended (or the wait between attempts cut
/// short) at once, and the call still succeeds, with outcome `cancelled` — unlike the other
/// blocking calls, which return `TETHER_E_CANCELLED`, because the attempts made are the
/// result. Errors: bad input (`TETHER_E_INVALID_ARGUMENT`) only; a command that cannot start
/// is an attempt with code 127, 126 or 125. Signals received by the process are not handled.
///
/// # Safety
/// `query_json` is NULL or a NUL-terminated string; `cancel` is NULL or a live token; `out` is
/// NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_retry(
    query_json: *const c_char,
    cancel: *const TetherCancel,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    let token = unsafe { cancel.as_ref() };
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let q: RetryQuery = query(query_json)?;
            let (mut cmd, mut opts) = q.to_retry()?;
            let linked = linked(token)?;
            opts.cancel = linked.as_ref().map(|(c, _)| c.clone());
            let outcome = retry::run(&mut cmd, &opts, &mut |_| {})?;
            let argv: Vec<OsString> = q.command.argv.iter().map(Into::into).collect();
            report(&RetryReport::new(&argv, &opts, &outcome))
        })
    }
}
