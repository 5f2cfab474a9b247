//! `tether ps`, `tree`, `info`, `signals`: output, schemas and exit codes.

mod common;

use std::process::Command;

use common::*;

#[test]
fn ps_json_lists_own_child_and_validates() {
    let child = sleeper();
    let o = tether(&["ps", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    let procs = v["processes"].as_array().unwrap();
    let me = procs
        .iter()
        .find(|p| p["pid"] == child.pid())
        .expect("child listed");
    assert_eq!(me["name"], "sleep");
    assert_eq!(me["ppid"], std::process::id());
    assert_eq!(me["cmdline"], serde_json::json!(["sleep", "300"]));
    assert!(me["start_time_ms"].as_u64().unwrap() > 1_600_000_000_000);
    assert!(me["identity"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}:", child.pid())));
    assert!(
        me.get("environ").is_none(),
        "environment only when asked for"
    );
}

#[test]
fn ps_fields_choose_columns_and_json_keys() {
    let child = sleeper();
    let pid = child.pid().to_string();
    let o = tether(&["ps", "--pid", &pid, "--fields", "pid,name", "--json"]);
    let v = json(&o);
    let p = &v["processes"][0];
    let mut keys: Vec<_> = p.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, vec!["name", "pid"]);
    let o = tether(&["ps", "--pid", &pid, "--fields", "pid,name,rss"]);
    let text = stdout(&o);
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["PID", "NAME", "RSS"]
    );
    let row: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..2], [pid.as_str(), "sleep"]);
    assert!(lines.next().is_none());
}

#[test]
fn ps_filters_and_sort() {
    let a = sleeper();
    let b = sleeper();
    let me = std::process::id().to_string();
    // Other tests run in parallel with children of their own: scope every query to ours.
    let ours = format!("{},{}", a.pid(), b.pid());
    let o = tether(&[
        "ps",
        "--pid",
        &ours,
        "--ppid",
        &me,
        "--name",
        "sleep",
        "--sort=-pid",
        "--fields",
        "pid",
        "--json",
    ]);
    let v = json(&o);
    let pids: Vec<u64> = v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    let mut want = vec![a.pid() as u64, b.pid() as u64];
    want.sort_unstable_by(|x, y| y.cmp(x));
    assert_eq!(pids, want);
    // Regex, substring, cmdline, state, memory and age filters all run and agree.
    for args in [
        vec!["--name-regex", "^sl.ep$"],
        vec!["--name-contains", "lee"],
        vec!["--cmdline", "sleep 300"],
        vec!["--state", "S"],
        vec!["--state", "sleeping"],
        vec!["--min-mem", "1"],
    ] {
        let mut full = vec![
            "ps", "--pid", &ours, "--ppid", &me, "--json", "--fields", "pid",
        ];
        full.extend(args.iter().copied());
        let v = json(&tether(&full));
        assert_eq!(v["processes"].as_array().unwrap().len(), 2, "{args:?}");
    }
    let v = json(&tether(&[
        "ps",
        "--pid",
        &ours,
        "--min-age",
        "1h",
        "--json",
    ]));
    assert_eq!(v["processes"].as_array().unwrap().len(), 0);
    let v = json(&tether(&[
        "ps",
        "--pid",
        &ours,
        "--name",
        "nosuchname",
        "--json",
    ]));
    assert_eq!(v["processes"], serde_json::json!([]));
}

#[test]
fn ps_tree_nests_children() {
    let child = ChildGuard::spawn(Command::new("sh").args(["-c", "sleep 300 & sleep 300 & wait"]));
    let me = std::process::id();
    // Wait until both grandchildren exist: the tree is read once they are there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v = json(&tether(&["tree", &child.pid().to_string(), "--json"]));
        let kids = v["tree"]["children"].as_array().unwrap();
        // A forked child is named `sh` until it has exec'd `sleep`: wait for both execs.
        if kids.len() == 2 && kids.iter().all(|k| k["name"] == "sleep") {
            assert_eq!(v["tree"]["ppid"], me);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "grandchildren never appeared as sleep"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let text = stdout(&tether(&["tree", &child.pid().to_string()]));
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with(&format!("{} sh S", child.pid())),
        "{text}"
    );
    assert!(text.contains("├─ ") && text.contains("└─ "), "{text}");
    let v = json(&tether(&[
        "ps",
        "--tree",
        "--ppid",
        &me.to_string(),
        "--json",
    ]));
    assert!(!v["roots"].as_array().unwrap().is_empty());
    let depth0 = json(&tether(&[
        "tree",
        &child.pid().to_string(),
        "--depth",
        "0",
        "--json",
    ]));
    assert_eq!(depth0["tree"]["children"], serde_json::json!([]));
}

#[test]
fn info_gives_identity_that_kill_accepts() {
    let child = sleeper();
    let o = tether(&["info", &child.pid().to_string(), "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["process"]["pid"], child.pid());
    assert_eq!(v["identity"]["pid"], child.pid());
    assert_eq!(v["ancestors"][0], std::process::id());
    let id = v["identity_string"].as_str().unwrap().to_string();
    // By identity string too.
    let o = tether(&["info", &id]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains(&format!("identity: {id}")));
    let o = tether(&["info", "--env", &child.pid().to_string(), "--json"]);
    assert!(json(&o)["process"]["environ"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e.as_str().unwrap().starts_with("PATH=")));
}

#[test]
fn info_of_gone_process_fails_with_1() {
    let mut c = ChildGuard::spawn(&mut Command::new("true"));
    let pid = c.pid();
    c.0.wait().unwrap();
    let o = tether(&["info", &pid.to_string(), "--json"]);
    assert_eq!(code(&o), 1);
    assert_eq!(json(&o)["error"]["kind"], "not_found");
}

#[test]
fn hostile_comm_is_reported_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let name = "x) (y\nz";
    let path = dir.path().join(name);
    std::os::unix::fs::symlink("/bin/sleep", &path).unwrap();
    let child = ChildGuard::spawn(Command::new(&path).arg("300"));
    let v = json(&tether(&[
        "ps",
        "--pid",
        &child.pid().to_string(),
        "--json",
        "--fields",
        "name,state",
    ]));
    assert_eq!(v["processes"][0]["name"], name);
    // Just after exec it may still be running, or paging its binary in (D), under load.
    let state = v["processes"][0]["state"].as_str().unwrap();
    assert!(
        matches!(state, "sleeping" | "running" | "disk_sleep"),
        "{state}"
    );
}

#[test]
fn bad_input_is_a_usage_error() {
    for args in [
        vec!["ps", "--name-regex", "("],
        vec!["ps", "--pid", "abc"],
        vec!["ps", "--pid", "99999999999"],
        vec!["ps", "--fields", "pid,nosuch"],
        vec!["ps", "--sort", "nosuch"],
        vec!["ps", "--state", "Q"],
        vec!["ps", "--min-mem", "12X"],
        vec!["ps", "--min-age", "soon"],
        vec!["ps", "--user", "no-such-user-xyz"],
        vec!["ps", "--sample", "fast"],
        vec!["info", "not-a-pid"],
        vec!["info", "12:ab:cd"],
        vec!["tree", "-"],
        vec!["signals", "NOPE"],
        vec!["kill", "-s", "NOPE", "12345"],
        vec!["kill", "-s", "65", "12345"],
        vec!["kill", "abc"],
        vec!["kill", "1:2:zz"],
        vec!["kill"],
        vec!["nosuchcommand"],
    ] {
        let o = tether(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
        assert!(!stderr(&o).trim().is_empty(), "{args:?} says why");
    }
    let o = tether(&["ps", "--name-regex", "(", "--json"]);
    assert_eq!(json(&o)["error"]["kind"], "invalid_argument");
}

#[test]
fn signals_match_bash_kill_l() {
    let ours = stdout(&tether(&["signals"]));
    let bash = Command::new("bash")
        .args(["-c", "kill -l"])
        .output()
        .unwrap();
    assert_eq!(ours, String::from_utf8_lossy(&bash.stdout));
    let v = json(&tether(&["signals", "--json"]));
    assert_eq!(v["signals"][8]["name"], "KILL");
    assert_eq!(
        stdout(&tether(&["signals", "15", "kill", "SIGRTMIN+1"])),
        "TERM\n9\n35\n"
    );
    // The same translations as bash's `kill -l N`.
    for n in [1, 9, 15, 34, 50, 64] {
        let b = Command::new("bash")
            .args(["-c", &format!("kill -l {n}")])
            .output()
            .unwrap();
        assert_eq!(
            stdout(&tether(&["signals", &n.to_string()])),
            String::from_utf8_lossy(&b.stdout)
        );
    }
}

#[test]
fn help_documents_exit_codes() {
    for cmd in ["ps", "tree", "info", "kill"] {
        let o = tether(&[cmd, "--help"]);
        assert_eq!(code(&o), 0);
        assert!(stdout(&o).contains("Exit codes"), "{cmd}");
    }
}
