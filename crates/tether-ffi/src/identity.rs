//! Process identities: parse, take, check.

use std::ffi::c_char;

use tether::signal::rails::validate_pid;
use tether::{Error, ErrorKind, IdentityCheck, Process, ProcessIdentity};
use tether_report::IdentityReport;

use crate::error::{call_out, call_string};
use crate::json::report;
use crate::strings::arg;

/// `tether_identity_check`: the process is the one the identity was taken from, and alive
/// (or an unreaped zombie).
pub const TETHER_IDENTITY_SAME: i32 = 0;
/// `tether_identity_check`: no process has that PID (or the machine rebooted since).
pub const TETHER_IDENTITY_GONE: i32 = 1;
/// `tether_identity_check`: the PID now belongs to a different process.
pub const TETHER_IDENTITY_REUSED: i32 = 2;

/// Parse an identity string `PID:START_TICKS:BOOT8[:INODE]` into a `tether.identity/v1`
/// document (`identity` with pid, start_ticks, boot_id, pidfs_inode; `identity_string` in
/// canonical form). A malformed string is `TETHER_E_INVALID_ARGUMENT`.
///
/// # Safety
/// `identity` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_identity_parse(
    identity: *const c_char,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let id: ProcessIdentity = arg(identity, "identity")?.parse()?;
            report(&IdentityReport::from(&id))
        })
    }
}

/// Take the identity of the running process `pid`, on a pidfd, as a `tether.identity/v1`
/// document. PID 0, negative PIDs and PIDs above INT32_MAX are `TETHER_E_INVALID_ARGUMENT`;
/// no such process is `TETHER_E_NOT_FOUND`.
///
/// # Safety
/// `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_identity_of(pid: i64, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let id = Process::open(validate_pid(pid)?)?.identity().clone();
            report(&IdentityReport::from(&id))
        })
    }
}

/// Whether an identity string still names its process: `*out` receives
/// `TETHER_IDENTITY_SAME`, `TETHER_IDENTITY_GONE` or `TETHER_IDENTITY_REUSED`. Errors: a
/// malformed string (`TETHER_E_INVALID_ARGUMENT`), or anything that prevents an answer.
///
/// # Safety
/// `identity` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_identity_check(identity: *const c_char, out: *mut i32) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_out(out, 0, || {
            let id: ProcessIdentity = arg(identity, "identity")?.parse()?;
            match id.check()? {
                IdentityCheck::Same => Ok(TETHER_IDENTITY_SAME),
                IdentityCheck::Gone => Ok(TETHER_IDENTITY_GONE),
                IdentityCheck::Reused => Ok(TETHER_IDENTITY_REUSED),
                other => Err(Error::new(
                    ErrorKind::System,
                    format!("identity check answered {other:?}, which this ABI cannot name"),
                )
                .into()),
            }
        })
    }
}
