//! Error codes, the thread's last error, and the guard every entry point runs in.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use tether::{Error, ErrorKind};
use tether_report::{tagged, ErrorReport};

/// Success.
pub const TETHER_OK: i32 = 0;
/// The process, file or port does not exist (or no longer does).
pub const TETHER_E_NOT_FOUND: i32 = 1;
/// The kernel refused the operation for lack of privilege.
pub const TETHER_E_PERMISSION_DENIED: i32 = 2;
/// An identity no longer names the same process: its PID was reused.
pub const TETHER_E_IDENTITY_MISMATCH: i32 = 3;
/// A safety rail refused the target (PID 1, the caller, its ancestors, its own group).
pub const TETHER_E_REFUSED: i32 = 4;
/// Bad input: a NULL pointer, invalid UTF-8, malformed JSON, an unknown field, a wrong schema
/// id, an unknown signal, a malformed PID, identity, port or target.
pub const TETHER_E_INVALID_ARGUMENT: i32 = 5;
/// A deadline passed.
pub const TETHER_E_TIMED_OUT: i32 = 6;
/// The kernel or platform lacks a needed feature.
pub const TETHER_E_NOT_SUPPORTED: i32 = 7;
/// Any other failure reported by the operating system.
pub const TETHER_E_SYSTEM: i32 = 8;
/// A bug in tether: a panic was caught at the boundary (its JSON kind is `system`).
pub const TETHER_E_INTERNAL: i32 = 100;
/// The call's cancel token was triggered (its JSON kind is `timed_out`).
pub const TETHER_E_CANCELLED: i32 = 101;

/// A failed call: its code, and the error as the library (or the boundary) describes it.
#[derive(Debug)]
pub(crate) struct Failure {
    code: i32,
    error: Error,
}

impl Failure {
    /// Bad input at the boundary.
    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Error::invalid(message).into()
    }
    fn internal(what: &str) -> Failure {
        Failure {
            code: TETHER_E_INTERNAL,
            error: Error::new(
                ErrorKind::System,
                format!("internal error (a bug in tether, please report it): {what}"),
            ),
        }
    }
    pub(crate) fn cancelled() -> Failure {
        Failure {
            code: TETHER_E_CANCELLED,
            error: Error::new(ErrorKind::TimedOut, "cancelled"),
        }
    }
    /// A call ended by its cancel token, with the library's word on it (kept as the message;
    /// the kind is `timed_out`, as for every `TETHER_E_CANCELLED`).
    pub(crate) fn cancelled_with(error: &Error) -> Failure {
        Failure {
            code: TETHER_E_CANCELLED,
            error: Error::new(ErrorKind::TimedOut, error.message()),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            code: code_of(error.kind()),
            error,
        }
    }
}

/// The stable code of an error kind.
pub(crate) fn code_of(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::NotFound => TETHER_E_NOT_FOUND,
        ErrorKind::PermissionDenied => TETHER_E_PERMISSION_DENIED,
        ErrorKind::IdentityMismatch => TETHER_E_IDENTITY_MISMATCH,
        ErrorKind::Refused => TETHER_E_REFUSED,
        ErrorKind::InvalidArgument => TETHER_E_INVALID_ARGUMENT,
        ErrorKind::TimedOut => TETHER_E_TIMED_OUT,
        ErrorKind::NotSupported => TETHER_E_NOT_SUPPORTED,
        // ErrorKind is non-exhaustive: a kind added later is a system error until it gets a
        // code of its own.
        _ => TETHER_E_SYSTEM,
    }
}

/// The last error of this thread: its code, message and `tether.error/v1` document.
struct LastError {
    code: i32,
    message: CString,
    json: CString,
}

thread_local! {
    static LAST: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn set_last(f: &Failure) {
    let json = serde_json::to_string(&tagged(&ErrorReport::from(&f.error)))
        .unwrap_or_else(|_| String::from("{\"schema\":\"tether.error/v1\"}"));
    let last = LastError {
        code: f.code,
        message: crate::strings::c_string(f.error.message().to_string()),
        json: crate::strings::c_string(json),
    };
    LAST.with(|l| *l.borrow_mut() = Some(last));
}

fn clear_last() {
    LAST.with(|l| *l.borrow_mut() = None);
}

/// Run an entry point's body: clear the last error, catch any panic, and record a failure as
/// the last error. Returns the body's value or the failure's code.
pub(crate) fn guard<T>(body: impl FnOnce() -> Result<T, Failure>) -> Result<T, i32> {
    clear_last();
    let r = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            Err(Failure::internal(&what))
        }
    };
    r.map_err(|f| {
        set_last(&f);
        f.code
    })
}

/// Run an entry point that cannot fail (and should not panic): a panic gives `fallback`
/// instead of crossing the boundary.
pub(crate) fn shielded<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// An entry point that gives a value through `out`: `*out` is `empty` (NULL, 0) unless the
/// call succeeds. A NULL `out` is an invalid argument, and then the body does not run.
///
/// # Safety
/// `out` is NULL or valid for writes of a `T`.
pub(crate) unsafe fn call_out<T: Copy>(
    out: *mut T,
    empty: T,
    body: impl FnOnce() -> Result<T, Failure>,
) -> i32 {
    if !out.is_null() {
        // SAFETY: `out` is valid for writes (the caller's contract).
        unsafe { out.write(empty) };
    }
    let r = guard(|| {
        if out.is_null() {
            return Err(Failure::invalid("the out pointer is NULL"));
        }
        body()
    });
    match r {
        Ok(v) => {
            // SAFETY: as above, and checked non-NULL.
            unsafe { out.write(v) };
            TETHER_OK
        }
        Err(code) => code,
    }
}

/// [`call_out`] for a string result, which the caller frees with
/// [`crate::tether_free_string`].
///
/// # Safety
/// `out` is NULL or valid for writes of a pointer.
pub(crate) unsafe fn call_string(
    out: *mut *mut c_char,
    body: impl FnOnce() -> Result<String, Failure>,
) -> i32 {
    // The string is handed out as the body's last step: nothing can fail after it.
    unsafe {
        call_out(out, ptr::null_mut(), || {
            body().map(|s| crate::strings::c_string(s).into_raw())
        })
    }
}

/// The code of the calling thread's last error: a `TETHER_E_*` code, or `TETHER_OK` (0) when
/// the last fallible call on this thread succeeded (or none was made).
#[no_mangle]
pub extern "C" fn tether_last_error_code() -> i32 {
    shielded(TETHER_E_INTERNAL, || {
        LAST.with(|l| l.borrow().as_ref().map_or(TETHER_OK, |e| e.code))
    })
}

/// The message of the calling thread's last error (what was wrong and what to do), or NULL
/// when there is none. Owned by the library: valid until the next `tether_*` call on this
/// thread; do not free it.
#[no_mangle]
pub extern "C" fn tether_last_error_message() -> *const c_char {
    LAST.with(|l| {
        l.borrow()
            .as_ref()
            .map_or(ptr::null(), |e| e.message.as_ptr())
    })
}

/// The calling thread's last error as a `tether.error/v1` document
/// (`{"schema":"tether.error/v1","error":{"kind":"not_found","message":"..."}}`), or NULL when
/// there is none. Owned by the library: valid until the next `tether_*` call on this thread;
/// do not free it.
#[no_mangle]
pub extern "C" fn tether_last_error_json() -> *const c_char {
    shielded(ptr::null(), || {
        LAST.with(|l| l.borrow().as_ref().map_or(ptr::null(), |e| e.json.as_ptr()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> (i32, String, serde_json::Value) {
        let msg = unsafe { CStr::from_ptr(tether_last_error_message()) };
        let json = unsafe { CStr::from_ptr(tether_last_error_json()) };
        (
            tether_last_error_code(),
            msg.to_str().unwrap().to_string(),
            serde_json::from_str(json.to_str().unwrap()).unwrap(),
        )
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        assert_eq!(guard::<()>(|| panic!("boom")), Err(TETHER_E_INTERNAL));
        let (code, msg, json) = last();
        assert_eq!(code, TETHER_E_INTERNAL);
        assert!(msg.contains("boom") && msg.contains("bug"), "{msg}");
        assert_eq!(json["schema"], "tether.error/v1");
        assert_eq!(json["error"]["kind"], "system");
        // The next call clears it.
        assert_eq!(guard(|| Ok(1)), Ok(1));
        assert_eq!(tether_last_error_code(), TETHER_OK);
        assert!(tether_last_error_message().is_null() && tether_last_error_json().is_null());
    }

    #[test]
    fn every_kind_has_its_code() {
        let kinds = [
            (ErrorKind::NotFound, TETHER_E_NOT_FOUND, "not_found"),
            (
                ErrorKind::PermissionDenied,
                TETHER_E_PERMISSION_DENIED,
                "permission_denied",
            ),
            (
                ErrorKind::IdentityMismatch,
                TETHER_E_IDENTITY_MISMATCH,
                "identity_mismatch",
            ),
            (ErrorKind::Refused, TETHER_E_REFUSED, "refused"),
            (
                ErrorKind::InvalidArgument,
                TETHER_E_INVALID_ARGUMENT,
                "invalid_argument",
            ),
            (ErrorKind::TimedOut, TETHER_E_TIMED_OUT, "timed_out"),
            (
                ErrorKind::NotSupported,
                TETHER_E_NOT_SUPPORTED,
                "not_supported",
            ),
            (ErrorKind::System, TETHER_E_SYSTEM, "system"),
        ];
        for (kind, code, name) in kinds {
            assert_eq!(code_of(kind), code);
            let r = guard::<()>(|| Err(Error::new(kind, "x").into()));
            assert_eq!(r, Err(code));
            assert_eq!(last().2["error"]["kind"], name);
        }
    }

    #[test]
    fn a_null_out_pointer_is_invalid_and_leaks_nothing() {
        let code = unsafe { call_string(ptr::null_mut(), || Ok("x".into())) };
        assert_eq!(code, TETHER_E_INVALID_ARGUMENT);
        let mut out: *mut c_char = ptr::null_mut();
        let code = unsafe { call_string(&mut out, || Err(Failure::invalid("bad"))) };
        assert_eq!((code, out.is_null()), (TETHER_E_INVALID_ARGUMENT, true));
        assert_eq!(last().1, "bad");
    }
}
