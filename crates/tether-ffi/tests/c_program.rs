//! The C test program `tests/c/test_tether.c`, compiled with gcc against the static library
//! and `include/tether.h`, exercises every function of the ABI with its error paths. It runs
//! twice: as built, and built with AddressSanitizer, LeakSanitizer and UBSan, which must find
//! no memory error, no undefined behaviour and no leak (the Rust side allocates through
//! malloc, so LeakSanitizer sees its leaks too). Jobs need the `tether` program: `$TETHER_BIN`,
//! else the one built from the current sources. Not valgrind: Debian 12's valgrind (3.19)
//! does not know `pidfd_open`, which every process operation of tether uses.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The static library, built now from the current sources (`cargo test` builds the lib only
/// as a test harness, never as a staticlib) into `target/<profile>/libtether.a`.
fn static_lib() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/c_program-HASH -> target/<profile>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let profile = dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("profile dir");
    let profile = if profile == "debug" { "dev" } else { profile };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", "tether-ffi", "--lib", "--profile", profile])
        .env("CARGO_TARGET_DIR", dir.parent().expect("target dir"))
        .status()
        .expect("run cargo");
    assert!(status.success(), "building libtether.a failed: {status}");
    let lib = dir.join("libtether.a");
    assert!(lib.exists(), "{} was not built", lib.display());
    lib
}

/// The `tether` program that supervises jobs: `$TETHER_BIN` when set (scripts/test-c.sh sets
/// it), else the one built now from the current sources in the same profile.
fn tether_bin(lib: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("TETHER_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let dir = lib.parent().expect("profile dir");
    let profile = dir.file_name().and_then(|n| n.to_str()).expect("profile");
    let profile = if profile == "debug" { "dev" } else { profile };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "-p",
            "tether-cli",
            "--bin",
            "tether",
            "--profile",
            profile,
        ])
        .env("CARGO_TARGET_DIR", dir.parent().expect("target dir"))
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "building the tether program failed: {status}"
    );
    dir.join("tether")
}

fn compile(lib: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let status = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-pthread"])
        .args(flags)
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("tests/c/test_tether.c"))
        .arg(lib)
        // What `rustc --print native-static-libs` lists for this library.
        .args([
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
            "-o",
        ])
        .arg(&out)
        .status()
        .expect("gcc runs (apt-get install gcc)");
    assert!(status.success(), "gcc failed: {status}");
    out
}

/// The cgroup directories next to this process's own where a process `pid` keeps its pool of
/// leaves (`tether-PID-pool…`, see the README's C ABI section), under either usual mount.
fn pools_of(pid: u32) -> Vec<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(rel) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return Vec::new();
    };
    let prefix = format!("tether-{pid}-pool");
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .filter_map(|m| std::fs::read_dir(Path::new(m).join(rel.trim_start_matches('/'))).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

fn run(cmd: &mut Command) -> String {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the C test program");
    let pid = child.id();
    let o = child.wait_with_output().expect("run the C test program");
    // Its commands' shared guard outlived it, ended what was left and removed its pool (a
    // guard that crashed, as one did under ASan, would leave it).
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !pools_of(pid).is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        pools_of(pid),
        Vec::<PathBuf>::new(),
        "pools left by {cmd:?}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{stderr}",
        o.status
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
    stdout
}

#[test]
fn c_program_exercises_every_function() {
    let lib = static_lib();
    let bin = tether_bin(&lib);
    let plain = compile(&lib, "test_tether", &[]);
    let out = run(Command::new(&plain).env("TETHER_BIN", &bin));
    let passed: u32 = out
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed > 200, "too few checks ran: {out}");
    let checked = compile(
        &lib,
        "test_tether_asan",
        &[
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ],
    );
    run(Command::new(&checked)
        .env("TETHER_BIN", &bin)
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:exitcode=99",
        )
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"));
}
