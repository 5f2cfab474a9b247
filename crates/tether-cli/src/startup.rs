//! What the binary costs to start: every `tether run` pays it (bench/contain.py).

/// `pow` for the whole process, so that libm.so is not loaded at all: indicatif's rate estimate
/// is its only user, and one shared library fewer to map and relocate saves about 0.03 ms and 11
/// page faults per start (measured with `perf stat -r 700`, a C program with and without
/// libm). The `libm` crate is a port of musl's `pow`, correctly rounded in the same cases.
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}
