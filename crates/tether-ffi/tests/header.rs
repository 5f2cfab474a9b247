//! The committed header `include/tether.h` is what cbindgen generates from the sources now.
//! Regenerate with `UPDATE_HEADER=1 cargo test -p tether-ffi --test header`.

use std::path::PathBuf;

#[test]
fn committed_header_is_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let fresh = String::from_utf8(fresh).expect("UTF-8 header");
    let path = dir.join("include/tether.h");
    if std::env::var_os("UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write include/tether.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/tether.h is stale: regenerate it with \
         UPDATE_HEADER=1 cargo test -p tether-ffi --test header"
    );
    for name in [
        "tether_abi_version",
        "tether_snapshot",
        "tether_wait_for",
        "TETHER_E_INVALID_ARGUMENT",
        "tether_spawn",
        "tether_process_open",
        "tether_run",
        "tether_pidfile_check",
        "tether_job_start",
        "tether_job_logs_bytes",
        "tether_job_logs_follow",
        "tether_free_bytes",
        "tether_retry",
    ] {
        assert!(fresh.contains(name), "{name} is missing from the header");
    }
}
