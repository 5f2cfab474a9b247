//! `tether kill`: identity-checked sends, batches, previews, rails. Every signal in these tests
//! goes to a child the test started; rail refusals run as dry runs, so nothing could be sent.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use common::*;

fn identity_of(pid: u32) -> String {
    json(&tether(&["info", &pid.to_string(), "--json"]))["identity_string"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn kill_by_identity_sends_the_signal() {
    let mut child = sleeper();
    let id = identity_of(child.pid());
    let o = tether(&["kill", "-s", "sigusr1", &id, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["signal"], "USR1");
    assert_eq!(v["targets"][0]["outcome"], "sent");
    assert_eq!(v["targets"][0]["identity"], id);
    assert_eq!(child.0.wait().unwrap().signal(), Some(libc::SIGUSR1));
}

#[test]
fn kill_by_pid_with_number_signal() {
    let mut child = sleeper();
    let o = tether(&["kill", "-s", "9", &child.pid().to_string()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with(&format!("sent SIGKILL to {}", child.pid())));
    assert_eq!(child.0.wait().unwrap().signal(), Some(9));
}

#[test]
fn dry_run_sends_nothing() {
    let mut child = sleeper();
    let o = tether(&["kill", "--dry-run", &child.pid().to_string(), "--json"]);
    assert_eq!(code(&o), 0);
    assert_eq!(json(&o)["targets"][0]["outcome"], "would_send");
    assert!(!child.exited());
}

#[test]
fn require_exe_mismatch_refuses_whole_batch() {
    let mut a = sleeper();
    let mut b = sleeper();
    let o = tether(&[
        "kill",
        "--require-exe",
        "/bin/true",
        &a.pid().to_string(),
        &b.pid().to_string(),
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("nothing was signalled"),
        "{}",
        stderr(&o)
    );
    assert!(!a.exited() && !b.exited());
    let sleep_exe = std::fs::read_link(format!("/proc/{}/exe", a.pid())).unwrap();
    let o = tether(&[
        "kill",
        "--require-exe",
        sleep_exe.to_str().unwrap(),
        &a.pid().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(a.0.wait().unwrap().signal(), Some(libc::SIGTERM));
}

#[test]
fn one_bad_target_means_no_signal_at_all() {
    let mut child = sleeper();
    let mut gone = ChildGuard::spawn(&mut Command::new("true"));
    let gone_pid = gone.pid();
    gone.0.wait().unwrap();
    let o = tether(&["kill", &child.pid().to_string(), &gone_pid.to_string()]);
    assert_eq!(code(&o), 1);
    assert!(
        !child.exited(),
        "the valid target must not have been signalled"
    );
}

#[test]
fn filters_preview_unless_yes() {
    let marker = format!("{}.{}", 300, std::process::id());
    let mut a = ChildGuard::spawn(Command::new("sleep").arg(&marker));
    let mut b = ChildGuard::spawn(Command::new("sleep").arg(&marker));
    let pattern = format!("^sleep {}$", regex_escape(&marker));
    let o = tether(&["kill", "--cmdline", &pattern, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["preview"], true);
    assert_eq!(v["targets"].as_array().unwrap().len(), 2);
    assert!(!a.exited() && !b.exited(), "a preview sends nothing");
    let o = tether(&["kill", "--cmdline", &pattern, "--yes"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(a.0.wait().unwrap().signal(), Some(libc::SIGTERM));
    assert_eq!(b.0.wait().unwrap().signal(), Some(libc::SIGTERM));
    let o = tether(&["kill", "--cmdline", &pattern, "--yes"]);
    assert_eq!(code(&o), 1, "nothing left to match");
}

fn regex_escape(s: &str) -> String {
    s.replace('.', "\\.")
}

#[test]
fn group_send_reaches_every_member() {
    // A shell leading its own process group (ChildGuard::spawn makes one) with two children.
    let mut leader =
        ChildGuard::spawn(Command::new("sh").args(["-c", "sleep 300 & sleep 300 & wait"]));
    let pgid = leader.pid();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while json(&tether(&[
        "ps",
        "--pgid",
        &pgid.to_string(),
        "--json",
        "--fields",
        "pid",
    ]))["processes"]
        .as_array()
        .unwrap()
        .len()
        < 3
    {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = tether(&["kill", "--group", "-s", "KILL", &pgid.to_string(), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["targets"][0]["group"], true);
    assert_eq!(leader.0.wait().unwrap().signal(), Some(9));
}

#[test]
fn rails_refuse_self_parent_and_own_group() {
    // tether's parent is this test process; its process group is ours. Dry runs, so that even a
    // broken rail could not deliver anything.
    let me = std::process::id().to_string();
    let o = tether(&["kill", "--dry-run", &me]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("parent"), "{}", stderr(&o));
    let pgrp = unsafe { libc::getpgrp() }.to_string();
    let o = tether(&["kill", "--dry-run", "--group", &pgrp, "--json"]);
    assert_eq!(code(&o), 1);
    assert_eq!(json(&o)["error"]["kind"], "refused");
    // --force lifts the rail (still a dry run).
    let o = tether(&["kill", "--dry-run", "--force", &me]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = tether(&["kill", "--dry-run", "99999999999"]);
    assert_eq!(code(&o), 2);
}
