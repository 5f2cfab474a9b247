//! `tether run`'s own contract beyond GNU's: the report file is checked before anything runs
//! and replaced atomically, conflicting options are usage errors, `--json` prints the report on
//! stdout once the command has ended, and every usage error exits 125 with GNU's "Try" line.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

use common::{assert_schema_valid, bin, stderr, stdout};

fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running tether")
}

/// (exit code, or 128+N after a death by signal N).
fn status(o: &Output) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    o.status
        .code()
        .unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0))
}

fn try_line(o: &Output) {
    assert!(
        stderr(o).ends_with("Try 'tether run --help' for more information.\n"),
        "{o:?}"
    );
}

#[test]
fn report_in_a_missing_directory_fails_before_the_command_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("ran");
    let report = tmp.path().join("no/such/dir/r.json");
    for json in [false, true] {
        let mut args = vec!["run", "--report", report.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        args.extend(["--", "touch", marker.to_str().unwrap()]);
        let o = run(&args);
        assert_eq!(status(&o), 125, "{o:?}");
        assert!(!marker.exists(), "the command ran");
        assert!(stderr(&o).contains("cannot write the report"), "{o:?}");
        if json {
            // With --json the failure is a tether.error/v1 document too.
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(v["schema"], "tether.error/v1");
            assert_schema_valid(&v);
        }
    }
}

#[test]
fn report_that_is_a_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        "--report",
        tmp.path().to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(status(&o), 125, "{o:?}");
    assert!(stderr(&o).contains("is a directory"), "{o:?}");
}

#[test]
fn report_in_an_unwritable_directory_fails_before_the_command_runs() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to run the CLI as nobody");
        return;
    }
    // A root-owned directory nobody may not write to, and a marker place it may.
    let locked = tempfile::tempdir().unwrap();
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let marker = open.path().join("ran");
    let report = locked.path().join("r.json");
    let o = Command::new("setpriv")
        .args([
            "--reuid",
            "nobody",
            "--regid",
            "nogroup",
            "--clear-groups",
            bin(),
        ])
        .args(["run", "--report", report.to_str().unwrap(), "--", "touch"])
        .arg(&marker)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(status(&o), 125, "{o:?}");
    assert!(!marker.exists(), "the command ran");
    assert!(stderr(&o).contains("Permission denied"), "{o:?}");
}

#[test]
fn report_replaces_the_file_at_once_and_keeps_its_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("r.json");
    std::fs::write(&report, "old").unwrap();
    std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = run(&[
        "run",
        "--report",
        report.to_str().unwrap(),
        "-t",
        "5",
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(status(&o), 3, "{o:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_schema_valid(&v);
    assert_eq!(v["exit_code"], 3);
    let mode = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Nothing else is left in the directory (no temporary file).
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["r.json"]);
}

#[test]
fn report_to_a_pipe_is_written_in_place() {
    let o = run(&["run", "--report", "/dev/stdout", "-t", "5", "--", "true"]);
    assert_eq!(status(&o), 0, "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "tether.run/v1");
}

#[test]
fn foreground_with_containment_is_a_usage_error() {
    for mode in ["cgroup", "group", "auto"] {
        let o = run(&["run", "--foreground", "--contain", mode, "--", "true"]);
        assert_eq!(status(&o), 125, "{mode}: {o:?}");
        assert!(stderr(&o).contains("--foreground"), "{o:?}");
        try_line(&o);
    }
    let o = run(&["run", "--foreground", "--contain", "none", "--", "true"]);
    assert_eq!(status(&o), 0, "{o:?}");
}

/// The command's output, then the report: split stdout where the JSON document starts.
fn output_then_report(o: &Output) -> (String, serde_json::Value) {
    let out = stdout(o);
    let at = out
        .find("{\n  \"schema\"")
        .unwrap_or_else(|| panic!("no report: {o:?}"));
    let v: serde_json::Value = serde_json::from_str(&out[at..]).unwrap();
    assert_schema_valid(&v);
    (out[..at].to_string(), v)
}

#[test]
fn json_prints_the_report_on_stdout_after_the_command() {
    for args in [
        &["run", "--json", "-t", "5", "--", "sh", "-c", "echo hi"][..],
        &["--json", "run", "-t", "5", "--", "sh", "-c", "echo hi"],
    ] {
        let o = run(args);
        assert_eq!(status(&o), 0, "{o:?}");
        let (before, v) = output_then_report(&o);
        assert_eq!(before, "hi\n");
        assert_eq!(v["schema"], "tether.run/v1");
        assert_eq!(v["exit_code"], 0);
        assert_eq!(stderr(&o), "", "the report goes to stdout only");
    }
    // A time-out, and a death by signal: the report is out before tether ends.
    let o = run(&["run", "--json", "-t", "0.1", "--", "sleep", "10"]);
    assert_eq!(status(&o), 124);
    assert_eq!(output_then_report(&o).1["timed_out"], true);
    let o = run(&["run", "--json", "--", "sh", "-c", "kill -USR1 $$"]);
    assert_eq!(status(&o), 128 + libc::SIGUSR1);
    assert_eq!(output_then_report(&o).1["exit_signal"], libc::SIGUSR1);
}

#[test]
fn usage_errors_exit_125_with_the_try_line() {
    for (args, msg) in [
        (&["run", "--bogus", "--", "true"][..], "'--bogus'"),
        (&["run"], "required"),
        (&["run", "-s", "FOO", "--", "true"], "'FOO': invalid signal"),
        (
            &["run", "-t", "5x", "--", "true"],
            "invalid time interval '5x'",
        ),
        (&["run", "-k", "-1", "--", "true"], ""),
        (&["run", "--contain", "box", "--", "true"], "box"),
    ] {
        let o = run(args);
        assert_eq!(status(&o), 125, "{args:?}: {o:?}");
        assert!(stderr(&o).contains(msg), "{args:?}: {o:?}");
        assert!(stderr(&o).starts_with("tether run: "), "{args:?}: {o:?}");
        try_line(&o);
        assert!(
            !stderr(&o).contains("Usage:"),
            "one line, not clap's usage: {o:?}"
        );
    }
    // With --json: a tether.error/v1 document on stdout as well.
    let o = run(&["run", "--json", "--bogus", "--", "true"]);
    assert_eq!(status(&o), 125, "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "tether.error/v1");
    assert_schema_valid(&v);
    try_line(&o);
}

#[test]
fn signal_zero_and_exit_status_numbers_are_signals() {
    let o = run(&[
        "run", "--json", "-s", "0", "-k", "0.2", "-t", "0.1", "--", "sleep", "10",
    ]);
    assert_eq!(status(&o), 128 + libc::SIGKILL, "{o:?}");
    let v = output_then_report(&o).1;
    let sent: Vec<_> = v["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["signal"].as_str().unwrap(),
                s["delivered_to"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sent[0], ("EXIT", 0), "{v}");
    assert_eq!(sent[1].0, "KILL", "{v}");
    // 143 is how a shell reports TERM: GNU reads it as TERM.
    let o = run(&[
        "run", "--json", "-s", "143", "-t", "0.1", "--", "sleep", "10",
    ]);
    assert_eq!(status(&o), 124, "{o:?}");
    assert_eq!(output_then_report(&o).1["signals"][0]["signal"], "TERM");
}

#[test]
fn runs_in_separate_pid_namespaces_each_get_their_own_cgroup_leaf() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (PID namespaces)");
        return;
    }
    if common::sys::cgroup::mount_point().is_none() {
        eprintln!("skipped: no cgroup v2");
        return;
    }
    // The same PID in each namespace once made the same leaf name: the later runs failed to
    // create theirs (and in auto mode fell back to weaker containment).
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new("unshare")
                .args(["--pid", "--fork", "--mount-proc", "--kill-child", bin()])
                .args([
                    "run",
                    "--report",
                    "/dev/stdout",
                    "--contain",
                    "cgroup",
                    "-t",
                    "10",
                    "--",
                    "sleep",
                    "0.5",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(status(&o), 0, "{o:?}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["containment"]["mechanism"], "cgroup", "{v}");
    }
}
