//! Honest answers of `wait`, `stop` and `info` about what a target names: a bare PID that names
//! no process is an error (a mistyped PID must not pass), an identity whose process exited is
//! done (it existed), an identity whose PID names another process is a mismatch, a thread id is
//! named as a thread of its process; `stop` keeps to the rails `kill` keeps; `wait` takes
//! several targets. Every process signalled or waited for here is a child of the test.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A PID no process can have: PIDs are always below `pid_max`.
fn unused_pid() -> String {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .to_string()
}

fn identity_of(pid: u32) -> String {
    json(&tether(&["info", &pid.to_string(), "--json"]))["identity_string"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `sh -c 'read x; exit CODE'`: exits with CODE once its stdin is closed.
fn exits_on_eof(code: i32) -> ChildGuard {
    let mut c = Command::new("sh");
    c.args(["-c", &format!("read x; exit {code}")]);
    use std::os::unix::process::CommandExt;
    ChildGuard(
        c.stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawning sh"),
    )
}

#[test]
fn a_bare_pid_that_names_no_process_is_an_error() {
    let nopid = unused_pid();
    for args in [
        vec!["stop", &nopid],
        vec!["wait", &nopid],
        vec!["wait", "-t", "1", &nopid],
        vec!["info", &nopid],
        vec!["kill", "-0", &nopid],
    ] {
        let o = tether(&args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stdout(&o));
        assert!(
            stderr(&o).contains(&format!("no such process {nopid}")),
            "{args:?}: {}",
            stderr(&o)
        );
        let mut with_json = args.clone();
        with_json.push("--json");
        let v = json(&tether(&with_json));
        assert_eq!(v["error"]["kind"], "not_found", "{args:?}");
    }
}

#[test]
fn an_identity_whose_process_exited_is_done() {
    let mut child = sleeper();
    let id = identity_of(child.pid());
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let o = tether(&["stop", &id, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["already_gone"], true);
    let o = tether(&["wait", &id, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["schema"], "tether.wait/v1");
    assert_eq!(
        (v["already_gone"].clone(), v["exited"].clone()),
        (true.into(), true.into())
    );
    let o = tether(&["wait", &id]);
    assert!(stdout(&o).contains("had already exited"), "{}", stdout(&o));
}

#[test]
fn an_identity_of_another_process_is_a_mismatch() {
    // The identity of this sleeper, one clock tick off: the PID names another process than it.
    let mut child = sleeper();
    let id = identity_of(child.pid());
    let mut parts: Vec<String> = id.split(':').map(String::from).collect();
    parts[1] = (parts[1].parse::<u64>().unwrap() + 1).to_string();
    parts.truncate(3); // without the pidfs inode, only the start time tells them apart
    let other = parts.join(":");
    for args in [
        vec!["wait", "-t", "5", &other],
        vec!["stop", &other],
        vec!["info", &other],
    ] {
        let o = tether(&args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        let mut with_json = args.clone();
        with_json.push("--json");
        assert_eq!(
            json(&tether(&with_json))["error"]["kind"],
            "identity_mismatch",
            "{args:?}"
        );
    }
    assert!(!child.exited());
}

#[test]
fn a_thread_id_is_named_as_a_thread_of_its_process() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        tx.send(rustix::thread::gettid().as_raw_nonzero().get() as u32)
            .unwrap();
        let _ = done_rx.recv();
    });
    let tid = rx.recv().unwrap().to_string();
    let me = std::process::id();
    let want = format!("PID {tid} is a thread of process {me}");
    for args in [
        vec!["info", &tid],
        vec!["wait", "-t", "100ms", &tid],
        vec!["tree", &tid],
        vec!["kill", "-0", &tid],
    ] {
        let o = tether(&args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stdout(&o));
        assert!(stderr(&o).contains(&want), "{args:?}: {}", stderr(&o));
    }
    // ps lists processes: the thread id matches no row, and a note names its process.
    let o = tether(&["ps", "--pid", &tid, "--fields", "pid", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(json(&o)["processes"].as_array().unwrap().is_empty());
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("--pid {me}")),
        "{}",
        stderr(&o)
    );
    drop(done_tx);
    thread.join().unwrap();
}

#[test]
fn stop_refuses_the_shell_that_runs_it() {
    // A script (in a process group of its own, started by this test) runs `tether stop $$`: from
    // a command substitution (tether's grandparent is the script) and directly (its parent).
    // Before the rails covered every ancestor, the first one ended the script and its group.
    let script = r#"
T="$1"
out=$("$T" stop --grace 1 $$ 2>&1); echo "sub=$? $out"
"$T" stop --grace 1 $$ 2>&1; echo "direct=$?"
"$T" stop --grace 1 "$(ps -o pgid= $$ | tr -d ' ')" 2>&1; echo "leader=$?"
echo survived
"#;
    let mut child = ChildGuard::spawn(
        Command::new("bash")
            .args(["-c", script, "bash"])
            .arg(bin())
            .stdout(Stdio::piped()),
    );
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.0.stdout.take().unwrap(), &mut text).unwrap();
    child.0.wait().unwrap();
    assert!(text.contains("survived"), "{text}");
    assert!(
        text.contains("sub=1 tether: refusing: PID") && text.contains("is an ancestor of tether"),
        "{text}"
    );
    assert!(text.contains("direct=1"), "{text}");
    assert!(text.contains("leader=1"), "{text}");
    assert_eq!(
        text.matches("(use --force to override)").count(),
        3,
        "{text}"
    );
}

#[test]
fn stop_has_no_short_g() {
    let child = sleeper();
    let o = tether(&["stop", "-g", "1", &child.pid().to_string()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn wait_on_several_targets_all_or_any() {
    let mut a = exits_on_eof(4);
    let mut b = exits_on_eof(5);
    let (pa, pb) = (a.pid().to_string(), b.pid().to_string());
    let ib = identity_of(b.pid());

    // All (default), with a deadline for the whole wait: both still run.
    let o = tether(&["wait", "-t", "100ms", &pa, &ib, "--json"]);
    assert_eq!(code(&o), 124, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["schema"], "tether.wait-many/v1");
    assert_eq!(v["mode"], "all");
    assert_eq!(v["timed_out"], true);
    assert_eq!(v["targets"].as_array().unwrap().len(), 2);
    assert_eq!(v["targets"][1]["identity"], ib);

    // Any: returns when the first exits, while the other still runs.
    let waiter = Command::new(bin())
        .args(["wait", "--any", "-t", "60", &pa, &pb, "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(a.0.stdin.take());
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["mode"], "any");
    assert_eq!(v["done"], true);
    assert_eq!(v["targets"][0]["exited"], true);
    assert_eq!(v["targets"][1]["exited"], false);
    assert!(!b.exited());

    // All: returns when the last exits; a already has (a zombie of ours, so it still counts).
    let mut waiter = Command::new(bin())
        .args(["wait", &pa, &ib])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "returned before b exited"
    );
    b.0.stdin.take().unwrap().write_all(b"x\n").unwrap();
    let began = Instant::now();
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(began.elapsed() < Duration::from_secs(30));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(&format!("process {pb} exited")), "{text}");
    a.0.wait().unwrap();
    b.0.wait().unwrap();

    // One target that names nothing fails the whole wait before it begins.
    let nopid = unused_pid();
    let o = tether(&["wait", &ib, &nopid]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("no such process"), "{}", stderr(&o));
}
