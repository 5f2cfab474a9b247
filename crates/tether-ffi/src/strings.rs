//! Strings across the boundary: C strings in (checked), owned C strings out.

use std::ffi::{c_char, CStr, CString};

use crate::error::Failure;

/// A string argument: `InvalidArgument` when NULL or not UTF-8, naming the argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated (the caller's contract).
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|e| Failure::invalid(format!("{name} is not valid UTF-8: {e}")))
}

/// A string for C. JSON and names never hold NUL; should one appear, it is dropped rather than
/// cutting the string short.
pub(crate) fn c_string(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|&b| b != 0);
        CString::new(bytes).unwrap_or_default()
    })
}

/// Free a string returned by a `tether_*` function (through an out-pointer). NULL is allowed
/// and does nothing. Never pass a string from elsewhere, or the borrowed strings of
/// `tether_version` and `tether_last_error_*`.
///
/// # Safety
/// `s` is NULL or a string returned by tether that has not been freed yet.
#[no_mangle]
pub unsafe extern "C" fn tether_free_string(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: it came from `CString::into_raw` (the caller's contract).
        crate::error::shielded((), || drop(unsafe { CString::from_raw(s) }));
    }
}
