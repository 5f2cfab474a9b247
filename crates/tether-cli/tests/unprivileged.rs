//! Right answers when not root: the CLI runs as `nobody` (through `setpriv`) against processes
//! and a socket that this test, as root, owns. A process of another user is alive (not "gone"),
//! acting on it is "permission denied" with the process untouched, and listings say which
//! fields they could not read instead of failing or leaving a silent gap.

mod common;

use std::process::{Command, Output, Stdio};

use common::*;

/// `tether ARGS` as user nobody, or `None` where that is impossible (not root, no setpriv).
fn as_nobody(args: &[&str]) -> Option<Output> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let out = Command::new("setpriv")
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .arg(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    // setpriv itself failing (exit 127 or a message of its own) means this machine cannot run
    // the test; tether's own failures are what the tests below judge.
    if String::from_utf8_lossy(&out.stderr).starts_with("setpriv:") {
        return None;
    }
    Some(out)
}

/// A root-owned `sleep` (a child of this test), and whether this machine can run the CLI as
/// nobody at all.
fn root_sleeper() -> Option<ChildGuard> {
    as_nobody(&["--version"])?;
    Some(sleeper())
}

#[test]
fn info_wait_and_kill_0_see_another_users_process_alive() {
    let Some(mut child) = root_sleeper() else {
        return;
    };
    let pid = child.pid().to_string();
    let o = as_nobody(&["info", &pid, "--json"]).unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["process"]["pid"], child.pid());
    assert_eq!(v["process"]["user"], "root");
    let id = v["identity_string"].as_str().unwrap().to_string();

    for target in [&pid, &id] {
        let o = as_nobody(&["wait", "-t", "100ms", target, "--json"]).unwrap();
        assert_eq!(code(&o), 124, "{}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["timed_out"], true);
        assert_eq!(v["already_gone"], false);
        let o = as_nobody(&["wait", "--timeout", "100ms", target]).unwrap();
        assert_eq!(code(&o), 124, "{}", stderr(&o));
        assert!(stdout(&o).contains("still running"), "{}", stdout(&o));
    }

    // kill -0: it exists, although nobody may not signal it (kill(1) would say EPERM, exit 1).
    let o = as_nobody(&["kill", "-0", &pid, "--json"]).unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["targets"][0]["outcome"], "exists");
    assert!(!child.exited());
}

#[test]
fn kill_and_stop_are_denied_and_leave_it_untouched() {
    let Some(mut child) = root_sleeper() else {
        return;
    };
    let pid = child.pid().to_string();
    let id = json(&tether(&["info", &pid, "--json"]))["identity_string"]
        .as_str()
        .unwrap()
        .to_string();
    let attempts: [&[&str]; 7] = [
        &["kill", "-s", "KILL", &pid],
        &["kill", "-9", &id],
        &["kill", "--dry-run", &pid],
        &["kill", "--group", "-s", "KILL", &pid],
        &["stop", "--grace", "1", &pid],
        &["stop", "--grace", "1", "--kill-signal", "KILL", &id],
        &["stop", "--force", &pid],
    ];
    for args in attempts {
        let o = as_nobody(args).unwrap();
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("not permitted"),
            "{args:?}: {}",
            stderr(&o)
        );
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let o = as_nobody(&with_json).unwrap();
        assert_eq!(code(&o), 1, "{args:?}");
        assert_eq!(json(&o)["error"]["kind"], "permission_denied", "{args:?}");
        assert!(!child.exited(), "{args:?} touched the process");
    }
    // Not stopped either (SIGSTOP as a hold would leave it in state T).
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let state = st.rsplit_once(')').unwrap().1.split_whitespace().next();
    assert_eq!(state, Some("S"), "{st}");
}

#[test]
fn fds_of_another_users_process_is_permission_denied() {
    let Some(child) = root_sleeper() else {
        return;
    };
    let pid = child.pid().to_string();
    let o = as_nobody(&["fds", &pid]).unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).to_lowercase().contains("permission denied"),
        "{}",
        stderr(&o)
    );
    let o = as_nobody(&["fds", &pid, "--json"]).unwrap();
    assert_eq!(code(&o), 1);
    assert_eq!(json(&o)["error"]["kind"], "permission_denied");
}

#[test]
fn ps_and_tree_show_what_they_may_read_and_say_what_they_may_not() {
    let Some(child) = root_sleeper() else {
        return;
    };
    let pid = child.pid().to_string();
    let o = as_nobody(&["ps", "--pid", &pid, "--fields", "pid,user,exe,env,cmdline"]).unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("sleep 300"), "{}", stdout(&o));
    let note = stderr(&o);
    assert!(
        note.contains("exe and env could not be read for 1 process of another user"),
        "{note}"
    );
    let o = as_nobody(&["ps", "--pid", &pid, "--fields", "pid,exe,env", "--json"]).unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(
        v["processes"][0]["denied"],
        serde_json::json!(["exe", "env"])
    );
    assert!(v["processes"][0].get("exe").is_none());
    // As root the same fields are read, and no note is given.
    let o = tether(&["ps", "--pid", &pid, "--fields", "pid,exe", "--json"]);
    let v = json(&o);
    assert!(v["processes"][0]["exe"].is_string(), "{v}");
    assert!(v["processes"][0].get("denied").is_none(), "{v}");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));

    // The whole listing never fails for what it may not read.
    let o = as_nobody(&["ps", "--fields", "pid,exe,env"]).unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("could not be read"), "{}", stderr(&o));

    for args in [vec!["tree", &pid], vec!["tree", &pid, "--json"]] {
        let o = as_nobody(&args).unwrap();
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).contains(&pid), "{}", stdout(&o));
    }
    let o = as_nobody(&["tree", &pid, "--json"]).unwrap();
    assert_eq!(json(&o)["tree"]["denied"], serde_json::json!(["exe"]));
    assert!(
        stderr(&o).contains("exe could not be read"),
        "{}",
        stderr(&o)
    );

    let o = as_nobody(&["info", &pid]).unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("exe could not be read"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ports_say_that_owners_of_other_users_sockets_are_hidden() {
    if as_nobody(&["--version"]).is_none() {
        return;
    }
    // A listening socket of this (root) test process.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let find = |v: &serde_json::Value| {
        v["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["local_port"] == port && s["proto"] == "tcp")
            .cloned()
            .unwrap_or_else(|| panic!("port {port} not listed: {v}"))
    };
    // As root, the owner is this test process.
    let v = json(&tether(&["ports", "--tcp", "--json"]));
    let me = std::process::id();
    assert!(
        find(&v)["owners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["pid"] == me),
        "{v}"
    );
    // As nobody: the socket is listed, its owner is not visible, and the note says why.
    let o = as_nobody(&["ports", "--tcp", "--json"]).unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert!(find(&v)["owners"].as_array().unwrap().is_empty());
    let note = v["note"].as_str().unwrap_or_default();
    assert!(note.contains("not visible without privilege"), "{v}");
    let o = as_nobody(&["ports", "--tcp"]).unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("127.0.0.1:{port}")));
    assert!(
        stderr(&o).contains("not visible without privilege"),
        "{}",
        stderr(&o)
    );
    drop(listener);
}

#[test]
fn pid_files_of_another_user_are_read_and_its_process_untouched() {
    let Some(_) = as_nobody(&["--version"]) else {
        return;
    };
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("app.pid");
    let p = path.to_str().unwrap();
    let mut run =
        ChildGuard::spawn(Command::new(bin()).args(["run", "--pidfile", p, "--", "sleep", "300"]));
    let o = tether(&["wait-for", &format!("file:{p}"), "-t", "30"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Alive, with the identity verified; the executable of root's process is not readable.
    let o = as_nobody(&["alive", "--pidfile", p, "--json"]).unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["identity_strength"], "strong");
    assert_eq!(v["pidfile"]["locked"], true);
    // Stopping it is not permitted: nothing is signalled and the file stays.
    let o = as_nobody(&["stop", "--pidfile", p, "--grace", "1"]).unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("not permitted"), "{}", stderr(&o));
    assert!(!run.exited() && path.exists());
    // A PID file this user may not read: permission denied (exit 1), not "not running".
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = as_nobody(&["alive", "--pidfile", p, "--json"]).unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(json(&o)["error"]["kind"], "permission_denied");
    assert!(!run.exited());
}
