//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub mod sys;

/// Path of the built `tether` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tether")
}

/// Run `tether ARGS` and collect its output.
pub fn tether(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running tether")
}

/// The exit code (panics on death by signal, which a test should never see from tether).
pub fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| panic!("tether died by a signal: {o:?}"))
}

/// Parse stdout as JSON and check it against its committed schema.
pub fn json(o: &Output) -> Value {
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    assert_schema_valid(&v);
    v
}

/// Validate a JSON output against `schemas/<schema id>.json`.
pub fn assert_schema_valid(v: &Value) {
    let id = v["schema"].as_str().expect("output has a schema id");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas")
        .join(format!("{}.json", id.replace('/', ".")));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "output does not match {id}: {errors:?}\n{v:#}"
    );
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A child process that is killed and reaped when the guard drops, also when a test fails.
/// Children spawned with [`ChildGuard::spawn`] lead their own process group, and the whole group
/// is killed, so that grandchildren (which would hold the test's output pipes) go too.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Spawn `cmd` in a new process group of its own, with stdin detached.
    pub fn spawn(cmd: &mut Command) -> Self {
        use std::os::unix::process::CommandExt;
        ChildGuard(
            cmd.stdin(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("spawning test child"),
        )
    }
    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
    /// Whether it has exited (reaps it if so).
    pub fn exited(&mut self) -> bool {
        self.0.try_wait().expect("try_wait").is_some()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let pid = self.0.id();
        // Kill the group only while our leader is not reaped yet (alive or a zombie): until then
        // its PID, and so the group id, cannot belong to anybody else. WNOWAIT leaves it unreaped.
        // SAFETY: waitid with a zeroed out-parameter on our own child.
        let unreaped = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            ) == 0
        };
        if unreaped && pid > 1 {
            // SAFETY: plain kill(2) of the process group this test created and still holds.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sleep 300`, as a child of the test.
pub fn sleeper() -> ChildGuard {
    ChildGuard::spawn(Command::new("sleep").arg("300"))
}
