//! PID reuse, for real: inside a new PID namespace (so that no other process can be touched),
//! a process is started and ended, the kernel is made to hand out its PID again through
//! `/proc/sys/kernel/ns_last_pid`, and the old identity must then read as Reused and refuse a send.

use std::process::{Child, Command};

use tether::signal::{send, SendOptions, Signal, Target};
use tether::{ErrorKind, IdentityCheck, ProcessIdentity};

const INNER: &str = "TETHER_PID_REUSE_INNER";

#[test]
fn reused_pid_is_detected_and_never_signalled() {
    if std::env::var_os(INNER).is_some() {
        inside_namespace();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(exe)
        .args([
            "--exact",
            "reused_pid_is_detected_and_never_signalled",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        .output()
        .expect("unshare runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "inner test failed:\n{text}");
    assert!(
        text.contains("reuse verified"),
        "inner test did not run:\n{text}"
    );
}

/// Kills its child when dropped, so that a failed assertion leaves nothing behind.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sleeper() -> Guard {
    Guard(Command::new("sleep").arg("300").spawn().unwrap())
}

fn inside_namespace() {
    let mut first = sleeper();
    let pid = first.0.id();
    let id = ProcessIdentity::of(pid).unwrap();
    assert_eq!(id.check().unwrap(), IdentityCheck::Same);
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    assert_eq!(id.check().unwrap(), IdentityCheck::Gone);

    let mut reused = None;
    for _ in 0..50 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
        let g = sleeper();
        if g.0.id() == pid {
            reused = Some(g);
            break;
        }
    }
    let mut second = reused.expect("the kernel handed out the PID again");
    assert_eq!(id.check().unwrap(), IdentityCheck::Reused);
    let e = send(
        &[Target::Identity(id.clone())],
        Signal::KILL,
        &SendOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IdentityMismatch);
    assert!(
        second.0.try_wait().unwrap().is_none(),
        "the new process was not signalled"
    );
    // A fresh identity of the new process is not the old one.
    let new_id = ProcessIdentity::of(pid).unwrap();
    assert_ne!(new_id, id);
    println!("reuse verified");
}
