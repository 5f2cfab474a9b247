//! Signal names and numbers.

use std::ffi::c_char;

use tether::signal::Signal;

use crate::error::{call_out, call_string};
use crate::strings::arg;

/// The number of a signal given by name or number: `"TERM"`, `"SIGTERM"`, `"term"`, `"15"`,
/// `"RTMIN+2"`. Unknown names and numbers outside 1..SIGRTMAX (or glibc's reserved 32, 33) are
/// `TETHER_E_INVALID_ARGUMENT`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_signal_number(name: *const c_char, out: *mut i32) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_out(out, 0, || {
            Ok(arg(name, "name")?.parse::<Signal>()?.number())
        })
    }
}

/// The name of a signal without `SIG`, as `kill -l` spells it (`"TERM"`, `"RTMIN+3"`), into
/// `*out` (free it with `tether_free_string`). An invalid number is
/// `TETHER_E_INVALID_ARGUMENT`.
///
/// # Safety
/// `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_signal_name(number: i32, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe { call_string(out, || Ok(Signal::from_number(number)?.name())) }
}
