//! Background jobs: `tether start/status/logs/stop/restart/rm/list`. Every test has its own
//! state directory, and its guard stops every job in it (also when the test fails); the case
//! that kills a supervisor runs in a PID namespace of its own.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{bin, code, json, stderr};
use serde_json::Value;

/// A temporary state directory; on drop, every job in it is stopped.
struct State {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl State {
    fn new() -> State {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        State { _tmp: tmp, dir }
    }

    fn tether(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(args)
            .arg("--state-dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("running tether")
    }

    /// `tether start NAME ARGS --state-dir DIR -- CMD...`.
    fn start(&self, name: &str, args: &[&str], cmd: &[&str]) -> Output {
        Command::new(bin())
            .args(["start", name])
            .args(args)
            .arg("--state-dir")
            .arg(&self.dir)
            .arg("--")
            .args(cmd)
            .stdin(Stdio::null())
            .output()
            .expect("running tether start")
    }

    fn status(&self, name: &str) -> Value {
        let o = self.tether(&["status", name, "--json"]);
        assert_eq!(code(&o), 0, "status {name}: {}", stderr(&o));
        json(&o)["job"].clone()
    }

    /// Wait until the status of `name` satisfies `ok`.
    fn wait_status(&self, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
        wait_status_in(&self.dir, name, ok)
    }
}

/// Wait until the status of job `name` in state directory `dir` satisfies `ok` (up to 30 s:
/// the machine may be loaded).
fn wait_status_in(dir: &Path, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let o = Command::new(bin())
            .args(["status", name, "--json", "--state-dir"])
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .expect("running tether status");
        let s = json(&o);
        if code(&o) == 0 && ok(&s["job"]) {
            return s["job"].clone();
        }
        assert!(Instant::now() < until, "status never matched: {s:#}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let _ = self.tether(&["stop", &name, "--grace", "1"]);
        }
    }
}

/// Whether the process with this identity string still runs (`tether alive`).
fn alive(identity: &str) -> bool {
    let o = common::tether(&["alive", "-q", identity]);
    code(&o) == 0
}

fn ts(v: &Value) -> SystemTime {
    tether::job::parse_rfc3339(v.as_str().expect("a timestamp")).expect("RFC 3339")
}

#[test]
fn start_status_logs_stop_round_trip() {
    let st = State::new();
    let o = st.start(
        "job",
        &["--json"],
        &["sh", "-c", "echo hello; echo oops >&2; exec sleep 300"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let started = json(&o);
    assert_eq!(started["schema"], "tether.job/v1");
    assert_eq!(started["job"]["status"], "running");
    let identity = started["job"]["identity"].as_str().unwrap().to_string();
    assert!(alive(&identity));

    unknown_job_is_not_found(&st);

    let s = st.status("job");
    assert_eq!(s["status"], "running");
    assert_eq!(s["pid"], started["job"]["pid"]);
    assert_eq!(s["supervisorLost"], false);
    // The log gets the line (the supervisor copies it as it comes).
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let o = st.tether(&["logs", "job"]);
        if common::stdout(&o) == "hello\n" {
            break;
        }
        assert!(Instant::now() < until, "{o:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = st.tether(&["logs", "job", "--stderr", "--json"]);
    assert_eq!(json(&o)["lines"], serde_json::json!(["oops"]));
    let o = st.tether(&["list", "--json"]);
    let jobs = json(&o);
    assert_eq!(jobs["schema"], "tether.jobs/v1");
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1);

    let o = st.tether(&["stop", "job", "--grace", "5", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let stopped = json(&o);
    assert_eq!(stopped["job"]["status"], "stopped");
    assert_eq!(stopped["already_stopped"], false);
    assert!(!alive(&identity), "the command survived its stop");
    // Stopping again is a success that does nothing.
    let o = st.tether(&["stop", "job", "--json"]);
    assert_eq!(code(&o), 0);
    assert_eq!(json(&o)["already_stopped"], true);
    // rm removes it.
    let o = st.tether(&["rm", "job"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!st.dir.join("job").exists());
}

/// The status of an unknown name is an error.
fn unknown_job_is_not_found(st: &State) {
    let o = st.tether(&["status", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no job named 'nosuch'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn twenty_concurrent_starts_run_exactly_one() {
    let st = State::new();
    let runs = st._tmp.path().join("runs");
    let script = format!("echo run >> {}; exec sleep 300", runs.display());
    let codes: Vec<i32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| s.spawn(|| code(&st.start("job", &[], &["sh", "-c", &script]))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(codes.iter().filter(|&&c| c == 0).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 1).count(), 19, "{codes:?}");
    let s = st.wait_status("job", |s| s["status"] == "running");
    // Give a straggler time to show up, were there one.
    std::thread::sleep(Duration::from_millis(300));
    let text = std::fs::read_to_string(&runs).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_eq!(s["restarts"], 0);
}

#[test]
fn restart_delays_follow_the_policy_and_it_gives_up() {
    let st = State::new();
    let o = st.start(
        "job",
        &[
            "--restart",
            "on-failure",
            "--backoff",
            "200ms..700ms",
            "--min-uptime",
            "1m",
            "--max-restarts",
            "3",
        ],
        &["sh", "-c", "exit 3"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = st.wait_status("job", |s| s["status"] == "failed");
    assert_eq!(s["restarts"], 3);
    assert_eq!(s["exitCode"], 3);
    let reason = s["lastExitReason"].as_str().unwrap();
    assert!(reason.contains("gave up after 3 restarts"), "{reason}");
    let h = s["history"].as_array().unwrap();
    assert_eq!(h.len(), 4, "{s:#}");
    // Delays double from 200 ms and stop at 700 ms, each jittered over [d/2, d]; the
    // supervisor may be late under load (never earlier than d/2).
    let expected = [200u64, 400, 700];
    for (i, want) in expected.iter().enumerate() {
        let ended = ts(&h[i]["endedAt"]);
        let next = ts(&h[i + 1]["startedAt"]);
        let gap = next.duration_since(ended).unwrap().as_millis() as u64;
        assert!(
            gap + 2 >= want / 2,
            "delay {i}: {gap} ms < {} ms: {s:#}",
            want / 2
        );
        assert!(gap <= want + 3000, "delay {i}: {gap} ms: {s:#}");
        assert_eq!(h[i]["exitCode"], 3);
    }
}

#[test]
fn a_run_that_lasted_resets_the_backoff() {
    // Each run lasts longer than the minimum uptime, so every delay is the first one.
    let st = State::new();
    let o = st.start(
        "job",
        &[
            "--restart",
            "always",
            "--backoff",
            "300ms..10s",
            "--min-uptime",
            "50ms",
            "--max-restarts",
            "3",
        ],
        &["sh", "-c", "sleep 0.2"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = st.wait_status("job", |s| s["status"] == "failed");
    let h = s["history"].as_array().unwrap();
    for i in 0..3 {
        let gap = ts(&h[i + 1]["startedAt"])
            .duration_since(ts(&h[i]["endedAt"]))
            .unwrap()
            .as_millis();
        assert!((148..=300 + 3000).contains(&gap), "delay {i}: {gap} ms");
    }
    assert!(s["lastExitReason"]
        .as_str()
        .unwrap()
        .contains("exited with code 0"));
}

#[test]
fn supervisor_killed_the_job_does_not_survive_and_status_says_so() {
    let st = State::new();
    let d = st.dir.display().to_string();
    let t = bin();
    // In a PID namespace of its own: everything in it dies with its init (the shell).
    let script = format!(
        r#"set -e
{t} start k --state-dir {d} -- sh -c 'sleep 300 & exec sleep 300' >/dev/null
field() {{ python3 -c "import json,sys; j=json.load(open('{d}/k/status.json')); print(eval(sys.argv[1]))" "$1"; }}
sup=$(field "j['supervisor']['pid']")
job=$(field "j['identity']")
kill -9 "$sup"
i=0
while {t} alive -q "$job"; do i=$((i+1)); [ $i -lt 600 ] || {{ echo survived; exit 1; }}; sleep 0.05; done
echo gone
{t} status k --state-dir {d} --json
"#
    );
    let o = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = common::stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    let (head, doc) = out.split_once('\n').unwrap();
    assert_eq!(head, "gone");
    let v: Value = serde_json::from_str(doc).unwrap();
    common::assert_schema_valid(&v);
    assert_eq!(v["job"]["status"], "killed", "{v:#}");
    assert_eq!(v["job"]["supervisorLost"], true);
    let reason = v["job"]["lastExitReason"].as_str().unwrap();
    assert!(reason.contains("supervisor lost"), "{reason}");
}

#[test]
fn log_rotation_keeps_the_bound() {
    let st = State::new();
    let o = st.start(
        "job",
        &["--log-max-size", "1000", "--log-keep", "2"],
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done; exec sleep 300",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let o = st.tether(&["logs", "job", "-n", "1"]);
        if common::stdout(&o) == "line1999\n" {
            break;
        }
        assert!(Instant::now() < until, "{o:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = st.dir.join("job");
    let mut total = 0;
    for f in ["stdout.log", "stdout.log.1", "stdout.log.2"] {
        let len = std::fs::metadata(dir.join(f)).unwrap().len();
        assert!(len <= 1000, "{f}: {len}");
        total += len;
    }
    assert!(total <= 3000);
    assert!(!dir.join("stdout.log.3").exists());
    // More lines than the current file holds come from the rotated ones.
    let o = st.tether(&["logs", "job", "-n", "150"]);
    let text = common::stdout(&o);
    assert_eq!(text.lines().count(), 150);
    assert!(text.ends_with("line1998\nline1999\n"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn ready_that_never_comes_stops_the_job() {
    let st = State::new();
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    let o = st.start(
        "job",
        &["--ready", &target, "-t", "700ms"],
        &["sleep", "300"],
    );
    assert_eq!(code(&o), 124, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did not become ready"),
        "{}",
        stderr(&o)
    );
    let s = st.status("job");
    assert_eq!(s["status"], "failed", "{s:#}");
    assert!(
        s["lastExitReason"].as_str().unwrap().contains("not ready"),
        "{s:#}"
    );
    assert_eq!(s["ready"], false);
    assert!(!alive(s["identity"].as_str().unwrap()));
}

#[test]
fn ready_that_comes_returns_once_ready() {
    let st = State::new();
    let flag = st._tmp.path().join("flag");
    let target = format!("file:{}", flag.display());
    let script = format!("sleep 0.3; touch {}; exec sleep 300", flag.display());
    let o = st.start(
        "job",
        &["--ready", &target, "--json"],
        &["sh", "-c", &script],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["job"]["ready"], true);
    assert!(flag.exists(), "start returned before the target was ready");
}

#[test]
fn state_dir_symlink_and_foreign_owner_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let run = |dir: &Path| {
        Command::new(bin())
            .args(["start", "job", "--state-dir"])
            .arg(dir)
            .args(["--", "sleep", "300"])
            .output()
            .unwrap()
    };
    let o = run(&link);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert!(std::fs::read_dir(&real).unwrap().next().is_none());
    // Owned by another user (tests run as root: hand it to nobody).
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    let o = run(&foreign);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("belongs to user 65534"),
        "{}",
        stderr(&o)
    );
    // A status file planted as a link is refused too.
    let st = State::new();
    std::fs::create_dir_all(st.dir.join("j")).unwrap();
    std::fs::write(st.dir.join("j/spec.json"), "{}").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", st.dir.join("j/status.json")).unwrap();
    let o = st.tether(&["status", "j"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
}

#[test]
fn requires_waits_for_the_other_job() {
    let st = State::new();
    std::thread::scope(|s| {
        let b = s.spawn(|| st.start("b", &["--requires", "a", "-t", "30s"], &["sleep", "300"]));
        // b's supervisor waits: b stays pending while a is not running.
        let pending = st.wait_status("b", |s| s["status"] == "pending");
        assert!(pending["pid"].is_null());
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(st.status("b")["status"], "pending");
        let o = st.start("a", &[], &["sleep", "300"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let o = b.join().unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    });
    let a = st.status("a");
    let b = st.status("b");
    assert!(ts(&b["startedAt"]) >= ts(&a["startedAt"]));
    // A requirement that never comes: 124, and the job is not started.
    let o = st.start(
        "c",
        &["--requires", "nosuch", "-t", "300ms"],
        &["sleep", "300"],
    );
    assert_eq!(code(&o), 124, "{}", stderr(&o));
    assert!(stderr(&o).contains("nosuch"), "{}", stderr(&o));
}

#[test]
fn stop_tells_pids_from_job_names() {
    let st = State::new();
    let o = st.tether(&["stop", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no job named 'nosuch'"),
        "{}",
        stderr(&o)
    );
    // Starting with a digit: a PID or identity, never a job (and names cannot start so).
    let o = st.tether(&["stop", "12web"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = Command::new(bin())
        .args(["start", "1web", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("bad job name"), "{}", stderr(&o));
}

#[test]
fn restart_runs_the_same_spec_again() {
    let st = State::new();
    let o = st.start(
        "job",
        &["--env", "GREETING=hi there"],
        &["sh", "-c", "echo \"$GREETING\"; exec sleep 300"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let first = st.status("job");
    let o = st.tether(&["restart", "job", "--grace", "2", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let second = json(&o)["job"].clone();
    assert_eq!(second["status"], "running");
    assert_ne!(second["id"], first["id"]);
    assert!(!alive(first["identity"].as_str().unwrap()));
    let until = Instant::now() + Duration::from_secs(30);
    while common::stdout(&st.tether(&["logs", "job"])) != "hi there\nhi there\n" {
        assert!(Instant::now() < until);
        std::thread::sleep(Duration::from_millis(20));
    }
    // The environment given is kept private.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(st.dir.join("job/spec.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn logs_follow_until_the_job_ends() {
    let st = State::new();
    let o = st.start(
        "job",
        &[],
        &["sh", "-c", "echo first; sleep 0.5; echo second; sleep 0.3"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = st.tether(&["logs", "job", "-f"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(common::stdout(&o), "first\nsecond\n");
    assert_eq!(st.status("job")["status"], "exited");
    let o = st.tether(&["logs", "job", "-f", "--json"]);
    assert_eq!(code(&o), 2);
}

/// The library's follow: a cancel ends it while the job runs (polled, not noticed at a later
/// check), with `Cancelled`; the job's end ends the next one, with `Finished`, once what the
/// job wrote is given.
#[test]
fn a_follow_ends_when_cancelled_or_when_the_job_does() {
    use std::sync::mpsc;
    use tether::job::{self, FollowEnd, StateDir, Stream};
    use tether::ready::Cancel;
    let st = State::new();
    let o = st.start("job", &[], &["sh", "-c", "echo first; exec sleep 1000"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let state = StateDir::resolve(Some(&st.dir)).unwrap();
    let cancel = Cancel::new().unwrap();
    let (tx, rx) = mpsc::channel();
    let follower = {
        let (state, cancel) = (state.clone(), cancel.clone());
        std::thread::spawn(move || {
            let out = &mut |b: &[u8]| tx.send(b.to_vec()).is_ok();
            job::follow_logs(&state, "job", Stream::Stdout, 5, out, Some(&cancel))
        })
    };
    let got = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(got, b"first\n");
    cancel.cancel();
    assert_eq!(follower.join().unwrap().unwrap(), FollowEnd::Cancelled);
    assert!(job::is_supervised(&state, "job"));
    // A follow of the job as it is stopped: it ends by itself.
    let (tx, rx) = mpsc::channel();
    let follower = {
        let state = state.clone();
        std::thread::spawn(move || {
            let out = &mut |b: &[u8]| tx.send(b.to_vec()).is_ok();
            job::follow_logs(&state, "job", Stream::Stdout, 5, out, None)
        })
    };
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)).unwrap(),
        b"first\n"
    );
    let o = st.tether(&["stop", "job"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(follower.join().unwrap().unwrap(), FollowEnd::Finished);
    assert!(!job::is_supervised(&state, "job"));
}

#[test]
fn exiting_before_ready_fails_the_start() {
    let st = State::new();
    let target = format!("127.0.0.1:{}", free_port());
    let o = st.start("job", &["--ready", &target], &["sh", "-c", "exit 7"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("exited with code 7 before it was ready"),
        "{}",
        stderr(&o)
    );
    let s = st.status("job");
    assert_eq!(s["status"], "failed");
    assert_eq!(s["exitCode"], 7);
}

#[test]
fn pidfile_names_each_run() {
    let st = State::new();
    let pf = st._tmp.path().join("job.pid");
    let pfs = pf.to_str().unwrap();
    let o = st.start("job", &["--pidfile", pfs], &["sleep", "300"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = st.status("job");
    let o = common::tether(&["alive", "--pidfile", pfs, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["identity"], s["identity"]);
    let o = st.tether(&["stop", "job"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = common::tether(&["alive", "--pidfile", pfs]);
    assert_eq!(code(&o), 1);
}

/// The PID of a job's command once it runs (the status names it), for a start still waiting
/// for readiness.
fn running_pid(dir: &Path, name: &str) -> u32 {
    let s = wait_status_in(dir, name, |s| s["status"] == "running" && s["pid"].is_u64());
    s["pid"].as_u64().unwrap() as u32
}

fn gone(pid: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
        // Gone, or a zombie its watchdog has not reaped yet.
        if stat.map_or(true, |s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        }) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_start_interrupted_before_ready_stops_the_job() {
    // Ctrl-C on `tether start` while it waits for readiness: the supervisor sees the pipe
    // close, stops the job and says why.
    let st = State::new();
    let mut start = Command::new(bin())
        .args([
            "start",
            "job",
            "--ready",
            "file:/nonexistent/tether-never",
            "--timeout",
            "60s",
        ])
        .arg("--state-dir")
        .arg(&st.dir)
        .args(["--", "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = running_pid(&st.dir, "job");
    // SAFETY: kill(2) on our own child, which has not been waited for.
    unsafe { libc::kill(start.id() as i32, libc::SIGINT) };
    start.wait().unwrap();
    let s = st.wait_status("job", |s| s["status"] == "stopped");
    let reason = s["lastExitReason"].as_str().unwrap();
    assert!(reason.contains("start was cancelled"), "{reason}");
    assert!(gone(pid), "the job's command {pid} still runs");
}

#[test]
fn start_cancellable_stops_the_job_and_returns() {
    use tether::job::{self, JobSpec, Launcher, StateDir};
    let st = State::new();
    let state = StateDir::resolve(Some(&st.dir)).unwrap();
    let mut spec = JobSpec::new("job", ["sleep", "1000"]);
    spec.ready = vec!["file:/nonexistent/tether-never".into()];
    spec.timeout_ms = 60_000;
    let launcher = Launcher::tether(Some(Path::new(&bin()))).unwrap();
    let cancel = tether::ready::Cancel::new().unwrap();
    let canceller = {
        let cancel = cancel.clone();
        let dir = st.dir.clone();
        std::thread::spawn(move || {
            let pid = running_pid(&dir, "job");
            cancel.cancel();
            pid
        })
    };
    let t = Instant::now();
    let e = job::start_cancellable(&state, &spec, &launcher, &cancel).unwrap_err();
    let pid = canceller.join().unwrap();
    assert!(e.message().contains("was cancelled"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    // When it returns, the supervisor has stopped the job.
    let s = st.status("job");
    assert_eq!(s["status"], "stopped", "{s:#}");
    assert!(gone(pid), "the job's command {pid} still runs");
}

#[test]
fn a_start_cancelled_before_it_began_waits_for_its_supervisor() {
    use tether::job::{self, JobSpec, Launcher, StateDir};
    let st = State::new();
    let state = StateDir::resolve(Some(&st.dir)).unwrap();
    let spec = JobSpec::new("job", ["sleep", "1000"]);
    let launcher = Launcher::tether(Some(Path::new(&bin()))).unwrap();
    let cancel = tether::ready::Cancel::new().unwrap();
    cancel.cancel();
    let e = job::start_cancellable(&state, &spec, &launcher, &cancel).unwrap_err();
    assert!(e.message().contains("was cancelled"), "{e}");
    // Returned only once its supervisor is done: the job never ran, and it says why at once.
    let s = st.status("job");
    assert_eq!(s["status"], "stopped", "{s:#}");
    assert!(s["pid"].is_null(), "{s:#}");
    assert!(!job::is_supervised(&state, "job"));
    let reason = s["lastExitReason"].as_str().unwrap();
    assert!(reason.contains("start was cancelled"), "{reason}");
}
