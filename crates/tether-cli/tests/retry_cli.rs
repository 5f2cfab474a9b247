//! `tether retry`: the stderr lines, exit codes and the `tether.retry/v1` report (validated
//! against its committed schema), the delay schedule as the report records it, the codes that
//! stop retrying, `--max-time`, `--attempt-timeout`, usage errors, and SIGINT/SIGTERM sent to
//! retry (only to the `tether` process this test started, through its PID while it is our
//! unreaped child). Timing checks are lower bounds with generous upper bounds.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{code, json, stderr, tether, ChildGuard};
use serde_json::Value;

/// `sh -c "echo x >> LOG; SCRIPT"` as the command's arguments.
fn logged(log: &Path, script: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("echo $$ >> '{}'; {script}", log.display()),
    ]
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// `tether retry OPTS -- sh -c "...SCRIPT"`; the attempts seen in the log.
fn retry(opts: &[&str], script: &str) -> (std::process::Output, usize) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut args = vec!["retry"];
    args.extend_from_slice(opts);
    args.push("--");
    let cmd = logged(&log, script);
    args.extend(cmd.iter().map(String::as_str));
    let out = tether(&args);
    (out, lines(&log).len())
}

fn attempts(v: &Value) -> &Vec<Value> {
    v["attempts"].as_array().expect("attempts")
}

#[test]
fn each_failure_is_reported_and_the_last_code_is_the_exit_code() {
    let (out, seen) = retry(
        &["-n", "3", "--backoff", "fixed", "--delay", "10ms"],
        "exit 7",
    );
    assert_eq!(code(&out), 7);
    assert_eq!(seen, 3);
    let err = stderr(&out);
    assert!(
        err.contains("tether retry: attempt 1/3 exited with 7; retrying in 10 ms\n"),
        "{err}"
    );
    assert!(
        err.contains("attempt 2/3 exited with 7; retrying in 10 ms\n"),
        "{err}"
    );
    assert!(
        err.contains("tether retry: attempt 3/3 exited with 7; giving up after 3 attempts\n"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let (out, seen) = retry(&["-q", "-n", "2", "--delay", "1ms"], "exit 7");
    assert_eq!((code(&out), seen), (7, 2));
    assert!(stderr(&out).is_empty(), "-q: {}", stderr(&out));

    let (out, seen) = retry(&["--attempts", "1"], "exit 0");
    assert_eq!((code(&out), seen), (0, 1));
    assert!(stderr(&out).is_empty(), "a first success says nothing");
}

#[test]
fn json_report_validates_and_records_the_schedule() {
    let (out, seen) = retry(
        &[
            "--json",
            "-q",
            "-n",
            "5",
            "--backoff",
            "linear",
            "--delay",
            "20ms",
            "--max-delay",
            "50ms",
        ],
        "exit 1",
    );
    assert_eq!((code(&out), seen), (1, 5));
    let v = json(&out);
    assert_eq!(v["schema"], "tether.retry/v1");
    assert_eq!(v["outcome"], "exhausted");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["policy"]["backoff"], "linear");
    let a = attempts(&v);
    let delays: Vec<Value> = a.iter().map(|x| x["delay_ms"].clone()).collect();
    assert_eq!(
        delays,
        [20, 40, 50, 50]
            .map(Value::from)
            .into_iter()
            .chain([Value::Null])
            .collect::<Vec<_>>()
    );
    for (i, x) in a.iter().enumerate() {
        assert_eq!(x["number"], i + 1);
        assert_eq!(x["code"], 1);
        assert!(x["pid"].as_u64().is_some());
    }
    // The pauses were waited: each attempt starts at least its delay after the one before.
    for w in a.windows(2) {
        let gap = w[1]["started_at_ms"].as_u64().unwrap() - w[0]["started_at_ms"].as_u64().unwrap();
        assert!(gap >= w[0]["delay_ms"].as_u64().unwrap(), "{gap} ms: {v:#}");
    }

    // Exponential with jitter: each delay within [d/2, d] of the capped schedule.
    let (out, _) = retry(
        &[
            "--json",
            "-q",
            "-n",
            "6",
            "--delay",
            "16ms",
            "--max-delay",
            "100ms",
            "--jitter",
        ],
        "exit 1",
    );
    let v = json(&out);
    let expected = [16u64, 32, 64, 100, 100];
    for (x, d) in attempts(&v).iter().zip(expected) {
        let got = x["delay_ms"].as_u64().unwrap();
        // Whole milliseconds, rounded down.
        assert!(
            d / 2 <= got + 1 && got <= d,
            "{got} outside [{}, {d}]",
            d / 2
        );
    }
    assert_eq!(v["policy"]["jitter"], true);
}

#[test]
fn the_do_not_retry_codes_and_the_code_options() {
    for c in ["2", "126", "127", "130", "143"] {
        let (out, seen) = retry(&["-n", "4", "--delay", "1ms"], &format!("exit {c}"));
        assert_eq!(seen, 1, "exit {c}");
        assert_eq!(code(&out).to_string(), c);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("not retrying: exit code {c} means")),
            "{err}"
        );
        assert!(err.contains(&format!("--retry-on {c}")), "{err}");
    }
    let (out, seen) = retry(&["-n", "3", "--delay", "1ms", "--retry-on", "2"], "exit 2");
    assert_eq!((code(&out), seen), (2, 3));

    let (out, seen) = retry(
        &["--json", "-n", "4", "--delay", "1ms", "--stop-on", "20-25"],
        "exit 22",
    );
    assert_eq!((code(&out), seen), (22, 1));
    let v = json(&out);
    assert_eq!(
        (v["outcome"].as_str(), v["rule"].as_str()),
        (Some("not_retried"), Some("stop_on"))
    );
    assert!(stderr(&out).contains("exit code 22 is in --stop-on"));

    // Two lists, one option each time: they add up.
    let retry_on = [
        "-n",
        "3",
        "--delay",
        "1ms",
        "--retry-on",
        "6,7",
        "--retry-on",
        "28",
    ];
    let (out, seen) = retry(&retry_on, "exit 1");
    assert_eq!((code(&out), seen), (1, 1));
    assert!(stderr(&out).contains("exit code 1 is not in --retry-on"));
    let (_, seen) = retry(&retry_on, "exit 28");
    assert_eq!(seen, 3);

    let out = tether(&[
        "retry",
        "--delay",
        "1ms",
        "--",
        "/nonexistent/tether-retry-x",
    ]);
    assert_eq!(code(&out), 127);
    assert!(
        stderr(&out).contains("could not start (127)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2_before_any_attempt() {
    for bad in [
        vec!["--retry-on", "7", "--stop-on", "5-9"],
        vec!["--retry-on", "0"],
        vec!["--stop-on", "1,x"],
        vec!["--backoff", "random"],
        vec!["--delay", "soon"],
        vec!["--max-time", "-1"],
        vec!["-n", "many"],
    ] {
        let (out, seen) = retry(&[&["--json"][..], &bad[..]].concat(), "exit 1");
        assert_eq!(code(&out), 2, "{bad:?}: {}", stderr(&out));
        assert_eq!(seen, 0, "{bad:?}");
        let v = json(&out);
        assert_eq!(v["schema"], "tether.error/v1", "{bad:?}");
        assert!(!stderr(&out).is_empty(), "{bad:?}");
    }
    let (out, _) = retry(&["--retry-on", "7", "--stop-on", "5-9"], "exit 1");
    assert!(stderr(&out).contains("exit code 7"), "{}", stderr(&out));
}

#[test]
fn max_time_bounds_the_whole() {
    let started = Instant::now();
    let (out, seen) = retry(
        &[
            "--json",
            "-t",
            "1",
            "-n",
            "0",
            "--backoff",
            "fixed",
            "--delay",
            "200ms",
        ],
        "exit 1",
    );
    let took = started.elapsed();
    let v = json(&out);
    assert_eq!(v["outcome"], "max_time");
    assert!(seen >= 2, "{seen}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    let made = attempts(&v).len();
    let err = stderr(&out);
    if attempts(&v)[made - 1]["limit"] == "max_time" {
        // Under load, an attempt started just before the deadline is ended by it (maybe
        // before its shell logged itself).
        assert_eq!(code(&out), 124);
        assert!(made == seen || made == seen + 1, "{made} {seen}");
        assert!(
            err.contains("--max-time deadline (124); giving up"),
            "{err}"
        );
    } else {
        assert_eq!((code(&out), made), (1, seen));
        assert!(
            err.contains("the next delay would end past --max-time"),
            "{err}"
        );
    }

    let started = Instant::now();
    let (out, seen) = retry(&["--json", "--max-time", "400ms"], "sleep 30");
    assert_eq!(code(&out), 124);
    assert!(seen <= 1, "{seen}");
    let v = json(&out);
    assert_eq!(v["outcome"], "max_time");
    assert_eq!(attempts(&v).len(), 1);
    assert_eq!(attempts(&v)[0]["limit"], "max_time");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn attempt_timeout_gives_124_per_attempt() {
    let (out, seen) = retry(
        &[
            "--json",
            "-n",
            "2",
            "--delay",
            "1ms",
            "--attempt-timeout",
            "200ms",
        ],
        "sleep 30",
    );
    assert_eq!(code(&out), 124);
    assert!(seen <= 2, "{seen}");
    let v = json(&out);
    assert_eq!(attempts(&v).len(), 2);
    for a in attempts(&v) {
        assert_eq!(a["code"], 124);
        assert_eq!(a["limit"], "attempt_timeout");
        assert_eq!(a["signals"][0]["signal"], "TERM");
        assert_eq!(a["signals"][0]["reason"], "timeout");
    }
    assert!(stderr(&out).contains("attempt 1/2 timed out (124); retrying in 1 ms"));
}

/// Start `tether retry --json OPTS -- sh -c "echo $$ >> LOG; SCRIPT"`; wait until the first
/// attempt has logged itself.
fn started(log: &Path, opts: &[&str], script: &str) -> ChildGuard {
    let mut c = Command::new(common::bin());
    c.arg("retry")
        .arg("--json")
        .args(opts)
        .arg("--")
        .args(logged(log, script));
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let g = ChildGuard::spawn(&mut c);
    wait_until("the attempt started", || !lines(log).is_empty());
    g
}

/// Wait (20 s at most, then fail) until `cond` holds: for the test's own files and processes,
/// which it cannot be told about otherwise.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(20), "waited 20 s: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Signal the `tether` this test started (our child, not yet reaped: its PID is still ours).
fn signal(g: &ChildGuard, sig: i32) {
    // SAFETY: kill(2) on our own unreaped child.
    assert_eq!(unsafe { libc::kill(g.pid() as i32, sig) }, 0);
}

fn finish(mut g: ChildGuard) -> (std::process::ExitStatus, Value, String) {
    let child = &mut g.0;
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    common::assert_schema_valid(&v);
    (status, v, err)
}

fn alive(pid: u32) -> bool {
    // Zombies count as gone; /proc/PID/stat field 3 is the state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn sigint_during_an_attempt_ends_its_tree_and_stops_retrying() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let pids = dir.path().join("pids");
    // The attempt's background grandchild records itself too: it must go with the tree.
    let script = format!("sleep 30 & echo $! >> '{}'; wait", pids.display());
    let g = started(&log, &["-n", "5", "--delay", "10ms"], &script);
    wait_until("the grandchild started", || !lines(&pids).is_empty());
    signal(&g, libc::SIGINT);
    let (status, v, err) = finish(g);
    // The attempt's shell died of SIGINT (130): retry ends by SIGINT too, as a shell expects.
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?} {err}");
    assert_eq!(lines(&log).len(), 1, "no second attempt");
    assert_eq!(v["outcome"], "interrupted");
    assert_eq!(v["interrupted_by"], "INT");
    assert_eq!(v["interrupted_during"], "attempt");
    assert_eq!(v["exit_code"], 130);
    assert_eq!(attempts(&v)[0]["signals"][0]["reason"], "forwarded");
    for p in lines(&pids) {
        assert!(!alive(p.parse().unwrap()), "grandchild {p} survived");
    }
    assert!(
        err.contains("stopping: received SIGINT while it ran"),
        "{err}"
    );
}

#[test]
fn sigterm_while_waiting_ends_retry_by_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let g = started(&log, &["-n", "5", "--delay", "30s"], "exit 1");
    // Wait for the attempt to be gone, then a little for the pause to begin.
    let pid: u32 = lines(&log)[0].parse().unwrap();
    wait_until("the attempt ended", || !alive(pid));
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    signal(&g, libc::SIGTERM);
    let (status, v, err) = finish(g);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "the 30 s pause was waited out"
    );
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?} {err}");
    assert_eq!(lines(&log).len(), 1);
    assert_eq!(v["outcome"], "interrupted");
    assert_eq!(v["interrupted_during"], "delay");
    assert_eq!(v["exit_code"], 143);
    assert!(
        err.contains("received SIGTERM while waiting to retry"),
        "{err}"
    );
}

#[test]
fn an_attempt_that_traps_the_signal_gives_its_own_code() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let g = started(
        &log,
        &["-n", "5", "--delay", "10ms"],
        "trap 'exit 9' TERM; sleep 30 & wait",
    );
    signal(&g, libc::SIGTERM);
    let (status, v, _) = finish(g);
    assert_eq!(status.code(), Some(9));
    assert_eq!(lines(&log).len(), 1);
    assert_eq!(v["outcome"], "interrupted");
    assert_eq!(v["exit_code"], 9);
}
