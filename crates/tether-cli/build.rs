//! Link options of the `tether` binary. Its start-up is part of every `tether run` (GNU
//! `timeout` starts in 0.7 ms; see bench/contain.py), so each option here was measured with
//! `perf stat -r 100`, alternating binaries, and kept only because it paid.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        // A position-dependent executable. As a PIE, the binary carried about 9 800 relative
        // relocations: the loader rewrote every pointer of .data.rel.ro (48 pages copied and
        // dirtied) at each start. Without PIE the linker writes the final addresses into the
        // file: `tether --version` 0.88 -> 0.77 ms of CPU, 161 -> 118 page faults (-z
        // pack-relative-relocs, i.e. DT_RELR, only shrank the table to read: 169 -> 161). The
        // cost: the executable's own image is not randomized (its libraries, heap and stack
        // still are). tether is not setuid and serves no network peer.
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
