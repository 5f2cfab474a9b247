//! PID reuse, for real: inside a new PID namespace (so that no other process can be touched),
//! a process is started and ended, the kernel is made to hand out its PID again through
//! `/proc/sys/kernel/ns_last_pid`, and the old identity must then read as Reused and refuse a send.

use std::process::{Child, Command};

use tether::inspect::{get, Field, FieldSet};
use tether::signal::{Signal, SignalOptions};
use tether::wait::{wait_many, WaitMode};
use tether::{ErrorKind, IdentityCheck, Process, ProcessIdentity, ProcessRef};

mod common;

#[test]
fn reused_pid_is_detected_and_never_signalled() {
    if common::in_pid_namespace("reused_pid_is_detected_and_never_signalled") {
        inside_namespace();
        println!("inner done");
    }
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
    // A handle on the first process, kept across its end and the reuse of its PID.
    let held = Process::open(pid).unwrap();
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
    // Opening the old identity is refused: nothing can be sent to the new process through it.
    let e = Process::from_identity(&id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IdentityMismatch);
    let e = Process::open_unless_gone(&ProcessRef::Identity(id.clone())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IdentityMismatch);
    let target = [ProcessRef::Identity(id.clone())];
    let e = wait_many(&target, WaitMode::All, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IdentityMismatch);
    // The handle taken before the reuse reaches nobody, and reads nothing of the new process,
    // although the PID names a live one: a read by PID is re-verified on the pidfd.
    assert!(!held.is_running().unwrap());
    let fields = FieldSet::of(&[Field::Name, Field::Identity]);
    assert!(get(pid, fields).is_ok(), "the PID names the new process");
    assert_eq!(held.info(fields).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(held.ancestors().unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(held.descendants().unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        held.open_files(None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let e = held.signal(Signal::KILL).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = held
        .signal_with(Signal::KILL, &SignalOptions::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        second.0.try_wait().unwrap().is_none(),
        "the new process was not signalled"
    );
    // A fresh identity of the new process is not the old one.
    let new_id = ProcessIdentity::of(pid).unwrap();
    assert_ne!(new_id, id);
    println!("reuse verified");
}

const EMFILE_INNER: &str = "TETHER_EMFILE_INNER";

/// Out of file descriptors, an identity check cannot answer: that is an error, never "Gone"
/// (which would let `wait` report a live process as exited). Runs in a child process of its
/// own, since it lowers the descriptor limit.
#[test]
fn fd_exhaustion_is_an_error_not_gone() {
    if std::env::var_os(EMFILE_INNER).is_some() {
        emfile_inside();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "fd_exhaustion_is_an_error_not_gone",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(EMFILE_INNER, "1")
        .output()
        .expect("test binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "inner test failed:\n{text}");
    assert!(
        text.contains("emfile verified"),
        "inner test did not run:\n{text}"
    );
}

fn emfile_inside() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    use std::os::fd::AsRawFd;
    let child = sleeper();
    let id = ProcessIdentity::of(child.0.id()).unwrap();
    // The lowest free descriptor as the soft limit: every new descriptor fails with EMFILE.
    let lowest = std::fs::File::open("/dev/null").unwrap().as_raw_fd() as u64;
    let old = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(lowest),
            maximum: old.maximum,
        },
    )
    .unwrap();
    let checked = id.check();
    let target = [ProcessRef::Identity(id.clone())];
    let waited = wait_many(&target, WaitMode::All, None);
    setrlimit(Resource::Nofile, old).unwrap();
    let e = checked.expect_err("no descriptor left: the check cannot answer");
    assert_ne!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = waited.expect_err("no descriptor left: the wait cannot begin");
    assert_ne!(e.kind(), ErrorKind::NotFound, "{e}");
    // With descriptors again, the same identity is the same live process.
    assert_eq!(id.check().unwrap(), IdentityCheck::Same);
    println!("emfile verified");
}
