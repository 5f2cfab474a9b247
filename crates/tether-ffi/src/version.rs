//! Versions.

use std::ffi::c_char;

/// The version of the ABI this header describes. `tether_abi_version` returns the library's;
/// they differ only when a header and a library of different versions are mixed.
pub const TETHER_ABI_VERSION: u32 = 1;

/// The ABI version of the library: changes only with an incompatible change (a function
/// removed or changed, an error code renumbered, a schema id's meaning changed). Compare it
/// with `TETHER_ABI_VERSION` at start-up.
#[no_mangle]
pub extern "C" fn tether_abi_version() -> u32 {
    // Constants cannot panic: no guard needed here or in `tether_version`.
    TETHER_ABI_VERSION
}

/// The version of tether, e.g. `"0.1.0"`: a static string; do not free it.
#[no_mangle]
pub extern "C" fn tether_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
