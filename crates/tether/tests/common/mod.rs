//! Helpers shared by the integration tests: scripts that record the processes they start, with
//! their start times, so that checks use identities and never mistake a reused PID.

#![allow(dead_code)]

use tether::{IdentityCheck, ProcessIdentity};

/// Defines `rec PID`, which records a PID with its start time into $F. It is passed in $R, so
/// that inner shells can `eval "$R"` too.
pub const REC_DEF: &str = r#"rec() { echo "$1 $(cut -d' ' -f22 /proc/$1/stat)" >> "$F"; }"#;
/// Records the shell itself: put it first in a script run with `R` and `F` set.
pub const REC: &str = r#"eval "$R"; rec $$; "#;

/// The file the scripts record into; on drop, SIGKILL to every recorded process still alive.
pub struct Recorded {
    pub file: tempfile::NamedTempFile,
}

impl Recorded {
    pub fn new() -> Self {
        Recorded {
            file: tempfile::NamedTempFile::new().unwrap(),
        }
    }
    pub fn ids(&self) -> Vec<ProcessIdentity> {
        std::fs::read_to_string(self.file.path())
            .unwrap()
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let pid = it.next()?.parse().ok()?;
                let start = it.next()?.parse().ok()?;
                Some(ProcessIdentity::from_parts(pid, start))
            })
            .collect()
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        // If an assertion failed, end whatever the test left (only processes it recorded).
        for id in self.ids() {
            if let Ok(p) = tether::Process::from_identity(&id) {
                let _ = rustix::process::pidfd_send_signal(&p, rustix::process::Signal::KILL);
            }
        }
    }
}

/// Alive and not a zombie.
pub fn alive(id: &ProcessIdentity) -> bool {
    if id.check().expect("identity check") != IdentityCheck::Same {
        return false;
    }
    // A zombie is dead; only its parent's bookkeeping is left.
    std::fs::read_to_string(format!("/proc/{}/stat", id.pid))
        .map(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| !r.trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// Root and cgroup v2: what the cgroup mode needs.
pub fn cgroup_available() -> bool {
    tether::contain::cgroup_root().is_some() && rustix::process::geteuid().is_root()
}

/// Run the test named `name` of this test binary again, alone, as PID 1's child inside a new PID
/// namespace (`unshare --pid --fork --mount-proc`), where it finds `TETHER_INNER` set. Returns
/// whether this is the inner run (then the caller runs the body). The outer run asserts that the
/// inner one passed and printed `inner done`.
pub fn in_pid_namespace(name: &str) -> bool {
    rerun(name, &["unshare", "--pid", "--fork", "--mount-proc"])
}

/// [`in_pid_namespace`] without the namespace: the test alone in a process of its own (for
/// state that is per process, such as the shared guard's pool).
pub fn alone(name: &str) -> bool {
    rerun(name, &[])
}

fn rerun(name: &str, wrapper: &[&str]) -> bool {
    if std::env::var_os("TETHER_INNER").is_some() {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = std::process::Command::new(program);
            c.args(args).arg(exe);
            c
        }
        None => std::process::Command::new(exe),
    };
    let out = cmd
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("TETHER_INNER", "1")
        .output()
        .expect("the test binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "inner test failed:\n{text}");
    assert!(
        text.contains("inner done"),
        "inner test did not run:\n{text}"
    );
    false
}
