//! PID files: `tether alive/stop/wait --pidfile`, `tether run --pidfile` and `alive PID|ID`.
//! PID reuse runs inside a new PID namespace, where every process is the test's own.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Whether the test's child `g` is still running (not exited, not a zombie: reaps it if so).
fn running(g: &mut ChildGuard) -> bool {
    !g.exited()
}

/// Wait (inotify, through `tether wait-for`) until `path` exists.
fn wait_for_file(path: &Path) {
    let o = tether(&["wait-for", &format!("file:{}", s(path)), "-t", "30"]);
    assert_eq!(code(&o), 0, "{} never appeared: {}", s(path), stderr(&o));
}

/// `tether ARGS` with a JSON report checked against its schema.
fn tether_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let o = tether(&all);
    (code(&o), json(&o))
}

/// Inside a PID namespace: a tether PID file (written by `run --pidfile`, whose owner is then
/// SIGKILLed) and a legacy one name processes that are gone, and each PID is handed out again
/// to a new process. `alive` says no (stale), `wait` returns at once, `stop` signals nothing,
/// and the new processes survive.
const REUSE: &str = r#"
set -u
T="$1"; D="$2"
reuse() {  # start `sleep 300` with PID $1, in REUSED
  local want=$1 n=0
  for _ in $(seq 1 50); do
    echo $((want - 1)) > /proc/sys/kernel/ns_last_pid
    sleep 300 & n=$!
    [ "$n" = "$want" ] && { REUSED=$n; return 0; }
    kill "$n"; wait "$n" 2>/dev/null
  done
  echo "pid $want not reused" >&2; exit 90
}
# A tether PID file, whose owner dies without removing it.
"$T" run --pidfile "$D/app.pid" -- sleep 300 & R=$!
"$T" wait-for "file:$D/app.pid" -t 30 >/dev/null || exit 91
P=$(sed -n 's/.*"pid": \([0-9]*\).*/\1/p' "$D/app.pid")
kill -KILL "$R"; wait "$R" 2>/dev/null
"$T" wait --pidfile "$D/app.pid" -t 30 >/dev/null; echo "wait_gone_rc=$?"
[ -e "$D/app.pid" ] && echo "file left behind"
reuse "$P"; N=$REUSED
"$T" alive --pidfile "$D/app.pid"; echo "alive_rc=$?"
"$T" --json alive --pidfile "$D/app.pid" > "$D/alive.json"
"$T" wait --pidfile "$D/app.pid" -t 5; echo "wait_rc=$?"
"$T" --json stop --pidfile "$D/app.pid" --grace 1 > "$D/stop.json"; echo "stop_rc=$?"
kill -0 "$N" && echo "new process alive"
[ -e "$D/app.pid" ] || echo "stale file removed"
# A legacy file: a bare PID, written while its process ran.
sleep 300 & L=$!
echo "$L" > "$D/legacy.pid"
sleep 0.1
kill "$L"; wait "$L" 2>/dev/null
reuse "$L"; M=$REUSED
"$T" --json alive --pidfile "$D/legacy.pid" > "$D/legacy.json"; echo "legacy_alive_rc=$?"
"$T" stop --pidfile "$D/legacy.pid" --grace 1; echo "legacy_stop_rc=$?"
kill -0 "$M" && echo "second new process alive"
kill "$N" "$M"; wait "$N" "$M" 2>/dev/null
exit 0
"#;

#[test]
fn reused_pid_in_a_pid_file_is_stale_and_never_signalled() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "bash",
            "-c",
            REUSE,
            "script",
        ])
        .arg(bin())
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("unshare runs");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    for want in [
        "wait_gone_rc=0",
        "file left behind",
        "alive_rc=1",
        "wait_rc=0",
        "stop_rc=0",
        "new process alive",
        "stale file removed",
        "legacy_alive_rc=1",
        "legacy_stop_rc=0",
        "second new process alive",
    ] {
        assert!(
            text.contains(want),
            "no {want:?} in:\n{text}\n{}",
            stderr(&out)
        );
    }
    let read = |f: &str| {
        let v: Value = serde_json::from_slice(&std::fs::read(dir.path().join(f)).unwrap()).unwrap();
        assert_schema_valid(&v);
        v
    };
    let alive = read("alive.json");
    assert_eq!(alive["alive"], false);
    assert_eq!(alive["status"], "stale");
    assert_eq!(alive["stale_reason"], "reused");
    assert_eq!(alive["pidfile"]["format"], "tether");
    assert_eq!(alive["pidfile"]["locked"], false, "the owner was killed");
    let stop = read("stop.json");
    assert_eq!(stop["status"], "stale");
    assert_eq!(stop["stop"], Value::Null, "nothing was signalled");
    assert_eq!(stop["file"], "removed");
    let legacy = read("legacy.json");
    assert_eq!(legacy["status"], "stale");
    assert_eq!(legacy["stale_reason"], "started_after_file");
    assert_eq!(legacy["pidfile"]["format"], "legacy");
}

#[test]
fn malformed_pid_files_are_clear_errors_and_signal_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut victim = sleeper();
    let pid = victim.pid();
    let write = |name: &str, bytes: Vec<u8>| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let record = |format: &str, pid: Value| {
        serde_json::json!({"format": format, "pid": pid, "start_ticks": 1,
            "boot_id": "00112233445566778899aabbccddeeff", "exe": null, "argv": [],
            "start_unix_ms": 0})
        .to_string()
        .into_bytes()
    };
    let real = write("real.pid", format!("{pid}\n").into_bytes());
    let link = dir.path().join("link.pid");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut huge = format!("{pid}\n").into_bytes();
    huge.resize(2 * 1024 * 1024, b'\n');
    // (file, what the message says); each one mentions the victim's PID where it can, so that
    // a reader that took the first number it saw would hit it.
    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        (write("empty.pid", vec![]), "is empty"),
        (write("space.pid", b" \n\t\n".to_vec()), "only white space"),
        (write("garbage.pid", b"hello\n".to_vec()), "not a PID"),
        (
            write("two.pid", format!("{pid} {pid}\n").into_bytes()),
            "not a PID",
        ),
        (
            write("suffix.pid", format!("{pid}x").into_bytes()),
            "not a PID",
        ),
        (
            write("negative.pid", format!("-{pid}").into_bytes()),
            "negative PID",
        ),
        (write("zero.pid", b"0\n".to_vec()), "PID 0"),
        (write("one.pid", b"1\n".to_vec()), "PID 1 (init)"),
        (write("big.pid", b"2147483648\n".to_vec()), "out of range"),
        (
            write("bigger.pid", b"99999999999999999999999999\n".to_vec()),
            "out of range",
        ),
        (write("huge.pid", huge), "bytes long"),
        (
            write(
                "json.pid",
                b"{\"format\": \"tether.pidfile/v1\", \"pid\"".to_vec(),
            ),
            "malformed JSON",
        ),
        (
            write("v2.pid", record("tether.pidfile/v2", pid.into())),
            "newer tether",
        ),
        (
            write("other.pid", record("x", pid.into())),
            "not a tether PID file",
        ),
        (
            write(
                "strpid.pid",
                record("tether.pidfile/v1", pid.to_string().into()),
            ),
            "malformed JSON",
        ),
        (write("binary.pid", vec![0xff, 0xfe, b'1']), "binary data"),
        (link, "symbolic link"),
        (dir.path().to_path_buf(), "is a directory"),
    ];
    for (path, says) in &cases {
        for args in [
            vec!["alive", "--pidfile", s(path)],
            vec!["stop", "--pidfile", s(path), "--grace", "1"],
            vec!["wait", "--pidfile", s(path), "-t", "1"],
            vec!["wait-for", ":1", "-t", "1", "--watch-pidfile", s(path)],
        ] {
            let o = tether(&args);
            assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        }
        let (c, v) = tether_json(&["alive", "--pidfile", s(path)]);
        assert_eq!(c, 2);
        assert_eq!(v["error"]["kind"], "invalid_argument", "{v}");
    }
    // No file: exit 1 ("not found"), as for a process that is not running.
    let missing = dir.path().join("missing.pid");
    for args in [
        vec!["alive", "--pidfile", s(&missing)],
        vec!["stop", "--pidfile", s(&missing)],
        vec!["wait", "--pidfile", s(&missing)],
    ] {
        let o = tether(&args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("no PID file"), "{}", stderr(&o));
    }
    assert!(running(&mut victim), "a malformed PID file led to a signal");
    // The well-formed file next to them works.
    assert_eq!(code(&tether(&["alive", "--pidfile", s(&real)])), 0);
}

#[test]
fn legacy_files_trust_only_a_process_older_than_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.pid");
    let mut older = sleeper();
    std::fs::write(&path, format!("{}\n", older.pid())).unwrap();
    let (c, v) = tether_json(&["alive", "--pidfile", s(&path)]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["status"], "alive");
    assert_eq!(v["identity_strength"], "weak");
    assert_eq!(v["pidfile"]["format"], "legacy");
    assert_eq!(v["pidfile"]["record"], Value::Null);
    let o = tether(&["alive", "--pidfile", s(&path)]);
    assert!(stdout(&o).contains("weak identity"), "{}", stdout(&o));

    // The file says it was written before its process started: the PID was reused since.
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3))
        .unwrap();
    let (c, v) = tether_json(&["alive", "--pidfile", s(&path)]);
    assert_eq!(c, 1, "{v}");
    assert_eq!(v["status"], "stale");
    assert_eq!(v["stale_reason"], "started_after_file");
    let o = tether(&["stop", "--pidfile", s(&path), "--grace", "1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("nothing signalled"), "{}", stdout(&o));
    assert!(running(&mut older), "a stale legacy file led to a signal");
    assert!(!path.exists(), "the stale file stays");

    // Trusted, it is stopped, and its file removed.
    std::fs::write(&path, format!("{}\n", older.pid())).unwrap();
    let (c, v) = tether_json(&["stop", "--pidfile", s(&path), "--grace", "5"]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["stop"]["signalled"][0], older.pid());
    assert_eq!(v["file"], "removed");
    assert!(!running(&mut older));
}

#[test]
fn run_pidfile_names_the_command_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.pid");
    let mut run = ChildGuard::spawn(Command::new(bin()).args([
        "run",
        "--pidfile",
        s(&path),
        "--",
        "sleep",
        "300",
    ]));
    wait_for_file(&path);
    let rec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(rec["format"], "tether.pidfile/v1");
    let pid = rec["pid"].as_u64().unwrap() as u32;
    assert_ne!(pid, run.pid());
    // The record is the command's identity, as `tether info` gives it.
    let (c, info) = tether_json(&["info", &pid.to_string()]);
    assert_eq!(c, 0);
    for k in ["pid", "start_ticks", "boot_id"] {
        assert_eq!(rec[k], info["identity"][k], "{k}");
    }
    assert_eq!(rec["argv"], serde_json::json!(["sleep", "300"]));
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(rec["exe"], s(&exe));
    let (c, v) = tether_json(&["alive", "--pidfile", s(&path)]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["identity_strength"], "strong");
    assert_eq!(v["pidfile"]["locked"], true, "run holds the lock");
    assert_eq!(v["identity"], info["identity_string"]);

    // A second run over the same file is refused before it starts anything.
    let o = tether(&["run", "--pidfile", s(&path), "--", "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(stderr(&o).contains("which is running"), "{}", stderr(&o));

    // `wait --pidfile` times out while it runs.
    let o = tether(&["wait", "--pidfile", s(&path), "-t", "200ms"]);
    assert_eq!(code(&o), 124, "{}", stderr(&o));

    // `stop --pidfile` ends it; run removes its file when the command ends, and stop waits
    // for run to let go of the lock.
    let (c, v) = tether_json(&["stop", "--pidfile", s(&path), "--grace", "5"]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["status"], "alive");
    assert_eq!(v["stop"]["pid"], pid);
    assert!(
        v["file"] == "already_removed" || v["file"] == "removed",
        "{v}"
    );
    assert!(!path.exists());
    run.0.wait().unwrap();
}

#[test]
fn run_pidfile_is_removed_at_the_end_unless_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.pid");
    // There while the command runs (the command waits for it), removed at the end.
    let watch = format!("file:{}", s(&path));
    let o = tether(&[
        "run",
        "--pidfile",
        s(&path),
        "--",
        bin(),
        "wait-for",
        &watch,
        "-t",
        "30",
    ]);
    assert_eq!(code(&o), 0, "the file did not appear: {}", stderr(&o));
    assert!(!path.exists());

    // Replaced while the command runs: kept.
    let mut run = ChildGuard::spawn(Command::new(bin()).args([
        "run",
        "--pidfile",
        s(&path),
        "--",
        "sleep",
        "300",
    ]));
    wait_for_file(&path);
    let rec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let pid = rec["pid"].to_string();
    let other = sleeper();
    let tmp = dir.path().join("new.pid");
    std::fs::write(&tmp, format!("{}\n", other.pid())).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let o = tether(&["stop", &pid, "--grace", "5"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // run ends as its command did: by SIGTERM.
    let status = run.0.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15),
        "{status:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{}\n", other.pid()),
        "run removed a file it did not write"
    );

    // A path that cannot be written: run fails before it starts the command.
    let o = tether(&["run", "--pidfile", "/nonexistent/dir/x.pid", "--", "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    // A file that is not a PID file is not replaced.
    let junk = dir.path().join("junk.pid");
    std::fs::write(&junk, "not a pid\n").unwrap();
    let o = tether(&["run", "--pidfile", s(&junk), "--", "true"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(stderr(&o).contains("not replacing it"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&junk).unwrap(), "not a pid\n");
}

#[test]
fn alive_takes_a_pid_or_an_identity() {
    let mut child = sleeper();
    let pid = child.pid().to_string();
    let (c, info) = tether_json(&["info", &pid]);
    assert_eq!(c, 0);
    let id = info["identity_string"].as_str().unwrap().to_string();
    for t in [&pid, &id] {
        let (c, v) = tether_json(&["alive", t]);
        assert_eq!(c, 0, "{v}");
        assert_eq!(v["alive"], true);
        assert_eq!(v["pidfile"], Value::Null);
        assert_eq!(code(&tether(&["alive", "-q", t])), 0);
    }
    let (_, v) = tether_json(&["alive", &pid]);
    assert_eq!(v["identity_strength"], "weak");
    let (_, v) = tether_json(&["alive", &id]);
    assert_eq!(v["identity_strength"], "strong");
    // Killed but not reaped (a zombie): not alive.
    child.0.kill().unwrap();
    let o = tether(&["wait", &id, "-t", "30"]);
    assert_eq!(code(&o), 0);
    for t in [&pid, &id] {
        let (c, v) = tether_json(&["alive", t]);
        assert_eq!(c, 1, "{v}");
        assert_eq!(v["status"], "gone");
    }
    child.0.wait().unwrap();
    let o = tether(&["alive", "-q", &pid]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).is_empty());
    // Usage errors: 2.
    for bad in [
        &["alive"][..],
        &["alive", "0"],
        &["alive", "-1"],
        &["alive", "x"],
        &["alive", "5", "--pidfile", "/x"],
    ] {
        assert_eq!(code(&tether(bad)), 2, "{bad:?}");
    }
}

#[test]
fn wait_pidfile_waits_for_the_named_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.pid");
    let mut child = ChildGuard::spawn(Command::new("sleep").arg("0.5"));
    std::fs::write(&path, format!("{}\n", child.pid())).unwrap();
    let (c, v) = tether_json(&["wait", "--pidfile", s(&path), "-t", "30"]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["exited"], true);
    assert_eq!(v["pid"], child.pid());
    child.0.wait().unwrap();
    // Gone already: at once, and says so.
    let o = tether(&["wait", "--pidfile", s(&path), "-t", "30"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("has exited; nothing to wait for"),
        "{}",
        stdout(&o)
    );
}
