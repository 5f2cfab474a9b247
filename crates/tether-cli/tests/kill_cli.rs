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

#[test]
fn the_shells_kill_forms() {
    // -9, -KILL, -SIGKILL, -s 9, -s KILL, lower case, and after other options.
    let forms: [(&[&str], i32); 7] = [
        (&["-9"], 9),
        (&["-KILL"], 9),
        (&["-SIGKILL"], 9),
        (&["-s", "9"], 9),
        (&["-sigusr1"], libc::SIGUSR1),
        (&["--force", "-USR2"], libc::SIGUSR2),
        (&["-RTMIN+1"], libc::SIGRTMIN() + 1),
    ];
    for (sig_args, want) in forms {
        let mut child = sleeper();
        let pid = child.pid().to_string();
        let mut args = vec!["kill"];
        args.extend_from_slice(sig_args);
        args.push(&pid);
        let o = tether(&args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert_eq!(child.0.wait().unwrap().signal(), Some(want), "{args:?}");
    }
    // A value that looks like a signal stays a value (a regex here); after `--` nothing is one.
    // (--ppid names no process, so that no other test's command line holding "-9" can match.)
    let o = tether(&["kill", "--cmdline=-9", "--ppid", "2147483647", "--json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(json(&o)["signal"], "TERM");
    let o = tether(&["kill", "--", "-9"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // Bad numbers and two signals are usage errors, and nothing is sent.
    let mut child = sleeper();
    let pid = child.pid().to_string();
    for args in [
        vec!["kill", "-99", &pid],
        vec!["kill", "-9", "-s", "TERM", &pid],
        vec!["kill", "-NOSUCH", &pid],
    ] {
        let o = tether(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    }
    assert!(!child.exited());
}

#[test]
fn kill_0_asks_whether_it_exists_and_sends_nothing() {
    let mut child = sleeper();
    let pid = child.pid().to_string();
    for args in [
        vec!["kill", "-0", &pid, "--json"],
        vec!["kill", "-s", "0", &pid, "--json"],
        vec!["--json", "kill", "--signal", "0", &pid],
    ] {
        let o = tether(&args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["signal_number"], 0);
        assert_eq!(v["targets"][0]["outcome"], "exists");
    }
    let o = tether(&["kill", "-0", &pid]);
    assert_eq!(
        stdout(&o).trim_end().split(" (").next(),
        Some(&*format!("process {pid}"))
    );
    // Nothing was sent: a stopped or killed sleep would show.
    assert!(!child.exited());
    // The rails are for signals; nothing is sent here, so this test's own PID (tether's
    // parent) is simply found.
    let me = std::process::id().to_string();
    assert_eq!(code(&tether(&["kill", "-0", &me])), 0);
    // Gone: exit 1, "no such process".
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let o = tether(&["kill", "-0", &pid]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no such process"), "{}", stderr(&o));
}

#[test]
fn kill_l_lists_and_translates_like_the_shell() {
    let table = stdout(&tether(&["signals"]));
    assert!(table.contains(" 9) SIGKILL"));
    assert_eq!(stdout(&tether(&["kill", "-l"])), table);
    assert_eq!(stdout(&tether(&["kill", "-L"])), table);
    assert_eq!(stdout(&tether(&["kill", "--list"])), table);
    for (arg, want) in [
        ("15", "TERM"),
        ("TERM", "15"),
        ("SIGKILL", "9"),
        ("143", "TERM"),
    ] {
        let o = tether(&["kill", "-l", arg]);
        assert_eq!(code(&o), 0, "{arg}: {}", stderr(&o));
        assert_eq!(stdout(&o).trim(), want, "{arg}");
    }
    // The same answers as bash's kill -l, where bash is present.
    if let Ok(b) = Command::new("bash")
        .args(["-c", "kill -l 143; kill -l TERM"])
        .output()
    {
        let o = tether(&["kill", "-l", "143", "TERM"]);
        assert_eq!(stdout(&o), String::from_utf8_lossy(&b.stdout));
    }
    let v = json(&tether(&["kill", "-l", "9", "--json"]));
    assert_eq!(v["signals"][0]["name"], "KILL");
    assert_eq!(code(&tether(&["kill", "-l", "NOSUCH"])), 2);
}

#[test]
fn dry_run_has_no_short_form() {
    let child = sleeper();
    let o = tether(&["kill", "-n", &child.pid().to_string()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn rails_refuse_every_ancestor_and_say_how_to_override() {
    // tether's grandparent is the process that started this test. Dry runs only.
    let grandparent = std::fs::read_to_string(format!("/proc/{}/stat", std::process::id()))
        .unwrap()
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let o = tether(&["kill", "--dry-run", &grandparent]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains("ancestor of tether"), "{msg}");
    assert!(
        msg.trim_end().ends_with("(use --force to override)"),
        "{msg}"
    );
    // The library's message names no flag; the JSON error carries it as the library said it.
    let o = tether(&["kill", "--dry-run", &grandparent, "--json"]);
    let v = json(&o);
    assert_eq!(v["error"]["kind"], "refused");
    assert!(!v["error"]["message"].as_str().unwrap().contains("force"));
    let o = tether(&["kill", "--dry-run", "--force", &grandparent]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// PID 1 is refused by the rails: tested inside a new PID namespace, where PID 1 is a shell this
/// test started (so even a broken rail could reach nothing else), and only as refusals.
#[test]
fn pid_1_is_refused_and_kill_0_finds_it() {
    let script = r#"
T="$1"
"$T" kill -9 1; echo "kill_rc=$?"
"$T" kill -KILL --dry-run 1; echo "dry_rc=$?"
"$T" kill -0 1; echo "probe_rc=$?"
"$T" stop 1; echo "stop_rc=$?"
echo alive
"#;
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", script, "sh"])
        .arg(bin())
        .output()
        .expect("unshare runs");
    let text = stdout(&out);
    let err = stderr(&out);
    assert!(text.contains("kill_rc=1"), "{text}\n{err}");
    assert!(text.contains("dry_rc=1"), "{text}\n{err}");
    assert!(text.contains("probe_rc=0"), "{text}\n{err}");
    assert!(text.contains("stop_rc=1"), "{text}\n{err}");
    assert!(text.contains("alive"), "{text}\n{err}");
    assert!(err.contains("PID 1 is init"), "{err}");
}
