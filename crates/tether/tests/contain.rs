//! Hostile trees under `run` in cgroup mode: after the limit passes, nothing of the tree is left.
//! Every tree runs in a cgroup leaf that `run` creates and removes; the scripts record each
//! process as `PID START_TICKS`, so the checks use identities and never mistake a reused PID.

use std::time::Duration;

use tether::command::{Command, Stdio};
use tether::contain::{ContainMode, Mechanism};

mod common;

use common::{alive, cgroup_available, Recorded, REC, REC_DEF};

/// Run `script` (with `rec` defined and $F set) under a 400 ms limit in a cgroup, and assert
/// that the tree had at least `min` recorded processes and none is left.
fn hostile(script: &str, min: usize) {
    if !cgroup_available() {
        eprintln!("skipped: needs root and cgroup v2");
        return;
    }
    hostile_in(ContainMode::Cgroup, script, min);
}

fn hostile_in(mode: ContainMode, script: &str, min: usize) {
    let rec = Recorded::new();
    let r = Command::new("sh")
        .args(["-c", &format!("{REC}{script}")])
        .env("F", rec.file.path())
        .env("R", REC_DEF)
        .contain(mode)
        .stdout(Stdio::Null)
        .timeout(Duration::from_millis(400))
        .kill_after(Duration::from_millis(300))
        .status()
        .unwrap();
    let c = r.containment.clone();
    assert!(r.timed_out, "{r:?}");
    let ids = rec.ids();
    assert!(ids.len() >= min, "only {} processes recorded", ids.len());
    let left: Vec<_> = ids.iter().filter(|i| alive(i)).collect();
    assert!(left.is_empty(), "survivors: {left:?}; report {r:?}");
    if mode == ContainMode::Group {
        // Found through the watchdog's children (it is the subreaper), not a scan of /proc.
        assert_eq!(c.mechanism, Mechanism::SessionSubreaper);
        return;
    }
    assert_eq!(c.mechanism, Mechanism::Cgroup);
    let dir = c.cgroup_dir().unwrap();
    assert!(!dir.exists(), "leaf {} not removed", dir.display());
}

#[test]
fn group_mode_setsid_escaper_and_daemon() {
    // The library caller does not adopt its children: the orphans are the watchdog's.
    hostile_in(
        ContainMode::Group,
        r#"setsid sleep 100 & rec $!; sh -c 'eval "$R"; setsid sh -c "eval \"\$R\"; sleep 100 & rec \$!; wait" & rec $!'; wait"#,
        4,
    );
}

#[test]
fn group_mode_fork_loop() {
    hostile_in(
        ContainMode::Group,
        "i=0; while [ $i -lt 500 ]; do sleep 100 & rec $!; i=$((i+1)); done; wait",
        10,
    );
}

#[test]
fn background_grandchildren() {
    hostile(
        r#"sleep 100 & rec $!; sleep 100 & rec $!; sh -c 'eval "$R"; sleep 100 & rec $!; wait' & rec $!; wait"#,
        5,
    );
}

#[test]
fn grandchild_ignoring_term() {
    hostile(
        r#"sh -c 'eval "$R"; trap "" TERM; sleep 100 & rec $!; wait' & rec $!; wait"#,
        3,
    );
}

#[test]
fn setsid_escaper() {
    hostile("setsid sleep 100 & rec $!; wait", 2);
}

#[test]
fn double_forked_daemon() {
    // The middle process exits at once: the daemon is orphaned, in its own session.
    hostile(
        r#"sh -c 'eval "$R"; setsid sh -c "eval \"\$R\"; sleep 100 & rec \$!; wait" & rec $!'; sleep 100"#,
        3,
    );
}

#[test]
fn stopped_process() {
    hostile("sleep 100 & rec $!; kill -STOP $!; wait", 2);
}

#[test]
fn fork_loop() {
    // Bounded, so that a broken kill cannot exhaust the machine: 3000 forks at most.
    hostile(
        "i=0; while [ $i -lt 3000 ]; do sleep 100 & rec $!; i=$((i+1)); done; wait",
        10,
    );
}

#[test]
fn leftovers_are_ended_when_the_command_exits() {
    if !cgroup_available() {
        return;
    }
    let rec = Recorded::new();
    let r = Command::new("sh")
        .args(["-c", &format!("{REC}sleep 100 & rec $!; exit 3")])
        .env("F", rec.file.path())
        .env("R", REC_DEF)
        .contain(ContainMode::Cgroup)
        .status()
        .unwrap();
    assert_eq!(r.child_exit.unwrap().code, Some(3));
    assert!(!r.timed_out);
    assert_eq!(r.leftovers_killed.len(), 1, "{r:?}");
    assert!(rec.ids().iter().all(|i| !alive(i)));
}

#[test]
fn stop_ends_a_tree_it_did_not_start() {
    // A tree started by the test itself with std (not contained), in its own session.
    let rec = Recorded::new();
    let mut child = std::process::Command::new("setsid")
        .args([
            "sh",
            "-c",
            // The TERM-ignoring shell says "go" only once its trap is set.
            &format!("{REC}sleep 100 & rec $!; sh -c 'trap \"\" TERM; echo go; exec sleep 100' & rec $!; wait"),
        ])
        .env("F", rec.file.path())
        .env("R", REC_DEF)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let target = rec.ids()[0].clone();
    let mut opts = tether::terminate::StopOptions::default();
    opts.grace = Duration::from_millis(300);
    let r = tether::Process::open(target.pid)
        .unwrap()
        .terminate_tree(&opts)
        .unwrap();
    assert!(r.escalated, "{r:?}");
    assert!(r.remaining.is_empty(), "{r:?}");
    assert!(r.signalled.len() >= 3, "{r:?}");
    child.wait().unwrap();
    assert!(rec.ids().iter().all(|i| !alive(i)), "{r:?}");
    // Idempotent by identity: stopping it again is a success that says it was already gone.
    // (A bare PID that names no process is an error; and it might name another process by now.)
    let again = tether::terminate::stop_ref(&tether::ProcessRef::Identity(target.clone()), &opts);
    match again {
        Ok(r2) => assert!(r2.already_gone && r2.signalled.is_empty(), "{r2:?}"),
        Err(e) => panic!("{e}"),
    }
}
