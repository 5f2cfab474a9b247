//! PID files: read one, and check whether the process it names is alive.

use std::ffi::c_char;
use std::path::Path;

use tether::pidfile;
use tether_report::{AliveReport, PidFileView, Verdict};

use crate::error::call_string;
use crate::json::report;
use crate::strings::arg;

/// The verdict on the process a PID file names, as a `tether.alive/v1` document (as
/// `tether alive --pidfile PATH --json` prints it): `alive`, `status` (`alive`, `stale` with
/// `stale_reason`, or `gone`), the identity when alive, and the file as read (`pidfile`:
/// format, lock, record). Errors: the file missing (`TETHER_E_NOT_FOUND`), unreadable or
/// malformed.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_pidfile_check(path: *const c_char, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let file = pidfile::read(Path::new(arg(path, "path")?))?;
            let status = file.check()?;
            let verdict = Verdict::new(&status, file.pid(), Some(&file.path));
            report(&AliveReport::new(verdict, Some(PidFileView::from(&file))))
        })
    }
}

/// A PID file as read, without looking at the process: a JSON object (the `pidfile` object of
/// `tether.alive/v1`: path, format `tether` or `legacy`, locked, modified_unix_ms, record with
/// the PID, identity and executable when the file is tether's). Errors as
/// `tether_pidfile_check`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_pidfile_read(path: *const c_char, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let file = pidfile::read(Path::new(arg(path, "path")?))?;
            serde_json::to_string(&PidFileView::from(&file)).map_err(|e| {
                tether::Error::new(tether::ErrorKind::System, format!("writing JSON: {e}")).into()
            })
        })
    }
}
