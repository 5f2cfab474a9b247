//! `tether run`, `stop` and `wait` end to end: GNU `timeout` equivalence, hostile trees in
//! group mode, SIGKILL of tether mid-run, stop of processes tether did not start.
//!
//! Every tree runs inside a cgroup the test creates (and kills and removes in Drop), so nothing a
//! test starts can outlive it, and "nothing of the tree is left" is checked on that cgroup.

use std::io::BufRead;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::sys::cgroup;

const BIN: &str = env!("CARGO_BIN_EXE_tether");

/// A cgroup made for one test; Drop kills what is in it and removes it.
struct TestCgroup {
    dir: PathBuf,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl TestCgroup {
    fn new() -> Option<TestCgroup> {
        if !rustix::process::geteuid().is_root() {
            return None;
        }
        let own = cgroup::cgroup_of(std::process::id()).ok()?;
        let parent = cgroup::dir_of(&own)?;
        let dir = parent.join(format!(
            "tether-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).ok()?;
        Some(TestCgroup { dir })
    }

    /// A command that enters this cgroup before it runs its program.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(self.dir.join("cgroup.procs"))
            .unwrap();
        let mut c = Command::new(program);
        let fd = std::os::fd::IntoRawFd::into_raw_fd(procs);
        // SAFETY: only write(2) on an fd opened before fork, and signal(2).
        unsafe {
            c.pre_exec(move || {
                if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                // As a terminal's shell would start it: a suite run in the background (INT and
                // QUIT ignored) or under nohup (HUP) must not change what the cases compare.
                for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        c
    }

    fn populated(&self) -> bool {
        let ev = cgroup::open_events(&self.dir).unwrap();
        cgroup::event_value(&ev, "populated").unwrap()
    }

    /// Wait (event-driven, on cgroup.events) up to `limit` for the cgroup to empty.
    fn wait_empty(&self, limit: Duration) -> bool {
        let ev = cgroup::open_events(&self.dir).unwrap();
        cgroup::wait_event(&ev, "populated", false, Some(Instant::now() + limit)).unwrap()
    }

    fn procs(&self) -> Vec<u32> {
        cgroup::procs_recursive(&self.dir).unwrap_or_default()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Every tether run of the test has ended by now (its guards dropped before this one):
        // whatever leaf is left below is a leak. Checked once the cgroup is empty (a watchdog
        // ending a tree after its supervisor was killed removes the leaf as it exits).
        let leaked = if std::thread::panicking() {
            Vec::new()
        } else {
            self.wait_empty(Duration::from_secs(10));
            tether_leaves(&self.dir)
        };
        // Nested leaves (tether's own) are killed with it: cgroup.kill is recursive.
        let _ = cgroup::kill_all(&self.dir);
        self.wait_empty(Duration::from_secs(5));
        remove_tree(&self.dir);
        assert!(leaked.is_empty(), "cgroup leaves left behind: {leaked:?}");
    }
}

/// Every `tether-*` cgroup at any depth below `dir` (tether's own leaves: `tether-PID-N`).
fn tether_leaves(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if e.file_name().to_string_lossy().starts_with("tether-") {
                    out.push(e.path());
                }
                out.extend(tether_leaves(&e.path()));
            }
        }
    }
    out
}

fn remove_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The first line a child prints on the pipe `out`, trimmed (tests wait for "ready").
fn first_line(out: impl std::io::Read) -> String {
    let mut line = String::new();
    std::io::BufReader::new(out).read_line(&mut line).unwrap();
    line.trim().to_string()
}

/// (exit code, terminating signal) as a parent sees them.
fn outcome(st: std::process::ExitStatus) -> (Option<i32>, Option<i32>) {
    (st.code(), st.signal())
}

fn schema_check(v: &serde_json::Value) {
    let id = v["schema"].as_str().unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas")
        .join(format!("{}.json", id.replace('/', ".")));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{id}: {errors:?}");
}

// ---------------------------------------------------------------------------------------------
// Equivalence with GNU timeout

#[test]
fn exit_codes_match_gnu_timeout() {
    if Command::new("timeout").arg("--version").output().is_err() {
        eprintln!("skipped: GNU timeout not installed");
        return;
    }
    let Some(cg) = TestCgroup::new() else {
        eprintln!("skipped: needs root and cgroup v2");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let link = tmp.path().join("timeout");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let ignore_term = "trap '' TERM; sleep 5";
    // GNU argument vectors (after the program name).
    let mut cases: Vec<Vec<String>> = vec![
        vec!["1", "sh", "-c", "exit 0"],
        vec!["1", "sh", "-c", "exit 3"],
        vec!["1", "sh", "-c", "exit 255"],
        vec!["0.2", "sleep", "5"],
        vec!["--preserve-status", "0.2", "sleep", "5"],
        vec![
            "--preserve-status",
            "0.2",
            "sh",
            "-c",
            "trap 'exit 9' TERM; sleep 5 & wait",
        ],
        vec!["-k", "0.2", "0.2", "sh", "-c", ignore_term],
        vec![
            "--preserve-status",
            "-k",
            "0.2",
            "0.2",
            "sh",
            "-c",
            ignore_term,
        ],
        vec!["--foreground", "-k", "0.2", "0.2", "sh", "-c", ignore_term],
        vec!["-s", "KILL", "0.2", "sleep", "5"],
        vec!["-s", "INT", "0.2", "sleep", "5"],
        vec!["--foreground", "0.2", "sleep", "5"],
        vec!["0", "sh", "-c", "exit 5"],
        vec!["1x", "true"],
        vec!["-s", "FOO", "1", "true"],
        vec!["-k", "zz", "1", "true"],
        vec!["1", "/etc/passwd"],
        vec!["1", "/nonexistent/tether-no-such-command"],
        vec!["1", "sh", "-c", "exit $#", "-a", "-b", "--c"],
        vec![
            "1",
            "sh",
            "-c",
            "echo \"$@\"",
            "-s",
            "-k",
            "--preserve-status",
        ],
        vec!["--bogus-option", "1", "true"],
        vec!["1"],
        // Signal 0 sends nothing: only -k ends the command (137).
        vec!["-s", "0", "-k", "0.2", "0.2", "sleep", "5"],
        vec!["--signal=0", "-k", "0.2", "0.2", "sleep", "5"],
        vec!["-s", "EXIT", "1", "true"],
        vec!["-s", "SIGEXIT", "1", "true"],
        // Shell exit statuses and SIG-prefixed numbers name signals (143 is TERM).
        vec!["-s", "143", "0.2", "sleep", "5"],
        vec!["-s", "SIG2", "0.2", "sleep", "5"],
        vec!["-s", "32", "1", "true"],
        vec!["-s", "RTMAX+1", "1", "true"],
        vec!["-s", "UNUSED", "1", "true"],
        // Durations: strtold's grammar, one suffix, values past time_t.
        vec!["2.34e+5d", "true"],
        vec!["0x1p-3", "sleep", "5"],
        vec!["9223372036854775808d", "true"],
        vec!["1.18e+4932", "true"],
        vec!["inf", "true"],
        vec!["nan", "true"],
        vec!["1e", "true"],
        vec!["5 ", "true"],
        vec!["42D", "true"],
        // Options end at the first operand; getopt's abbreviations and errors.
        vec!["5", "-v", "true"],
        vec!["--pres", "0.2", "sleep", "5"],
        vec!["--sig=INT", "0.2", "sleep", "5"],
        vec!["-h"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    for sig in [
        "HUP", "INT", "QUIT", "ABRT", "KILL", "SEGV", "PIPE", "TERM", "USR1", "USR2",
    ] {
        cases.push(
            ["1", "sh", "-c", &format!("kill -{sig} $$")]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
    }
    let run = |program: &Path, argv: &[String]| {
        let out = cg
            .command(program)
            .args(argv)
            .current_dir(tmp.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            outcome(out.status),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let mut mismatches = Vec::new();
    for argv in &cases {
        let gnu = run(Path::new("timeout"), argv);
        let via_link = run(&link, argv);
        if gnu != via_link {
            mismatches.push(format!(
                "timeout {argv:?}: GNU {gnu:?}, tether-as-timeout {via_link:?}"
            ));
        }
        // The same case in `tether run --timeout D` form, where it has a duration.
        if let Some(run_argv) = to_run_form(argv) {
            let run_form = run(Path::new(BIN), &run_argv);
            if gnu != run_form {
                mismatches.push(format!(
                    "tether {run_argv:?}: GNU {gnu:?}, tether {run_form:?}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(
        cg.wait_empty(Duration::from_secs(5)),
        "left: {:?}",
        cg.procs()
    );
}

/// GNU argv → `run [OPTS] --timeout D -- CMD...` (None when there is no duration operand).
fn to_run_form(argv: &[String]) -> Option<Vec<String>> {
    let mut out = vec!["run".to_string()];
    let mut i = 0;
    while i < argv.len() && argv[i].starts_with('-') {
        out.push(argv[i].clone());
        if argv[i] == "-s" || argv[i] == "-k" {
            i += 1;
            out.push(argv.get(i)?.clone());
        }
        i += 1;
    }
    let d = argv.get(i)?;
    if i + 1 >= argv.len() {
        return None;
    }
    out.push("--timeout".into());
    out.push(d.clone());
    out.push("--".into());
    out.extend(argv[i + 1..].iter().cloned());
    Some(out)
}

#[test]
fn go_durations_and_report_file() {
    let Some(cg) = TestCgroup::new() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rep = tmp.path().join("r.json");
    let st = cg
        .command(BIN)
        .args(["run", "--timeout", "150ms", "--report"])
        .arg(&rep)
        .args(["--", "sleep", "5"])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(124));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&rep).unwrap()).unwrap();
    schema_check(&v);
    assert_eq!(v["timed_out"], true);
    assert_eq!(v["containment"]["mechanism"], "cgroup");
    assert_eq!(v["signals"][0]["signal"], "TERM");
}

// ---------------------------------------------------------------------------------------------
// Hostile trees in group mode (session + subreaper): caught through the subreaper

fn hostile_group(script: &str) {
    let Some(cg) = TestCgroup::new() else {
        eprintln!("skipped: needs root and cgroup v2");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let rep = tmp.path().join("r.json");
    let st = cg
        .command(BIN)
        .args([
            "run",
            "--contain",
            "group",
            "--timeout",
            "0.4",
            "-k",
            "0.3",
            "--report",
        ])
        .arg(&rep)
        .args(["--", "sh", "-c", script])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&rep).unwrap()).unwrap();
    schema_check(&v);
    assert_eq!(v["containment"]["mechanism"], "session_subreaper", "{v}");
    assert_eq!(v["timed_out"], true, "{v}");
    assert!(matches!(st.code(), Some(124) | None), "{st:?}");
    // tether has returned: nothing of the tree may be left in the test's cgroup.
    assert!(!cg.populated(), "survivors {:?}; report {v}", cg.procs());
}

#[test]
fn group_background_grandchildren() {
    hostile_group("sleep 100 & sleep 100 & sh -c 'sleep 100 & wait' & wait");
}

#[test]
fn group_grandchild_ignoring_term() {
    hostile_group("sh -c 'trap \"\" TERM; sleep 100 & wait' & wait");
}

#[test]
fn group_setsid_escaper() {
    hostile_group("setsid sleep 100 & wait");
}

#[test]
fn group_double_forked_daemon() {
    hostile_group("sh -c 'setsid sh -c \"sleep 100 & wait\" &'; sleep 100");
}

#[test]
fn group_stopped_process() {
    hostile_group("sleep 100 & kill -STOP $!; wait");
}

#[test]
fn group_fork_loop() {
    hostile_group("i=0; while [ $i -lt 3000 ]; do sleep 100 & i=$((i+1)); done; wait");
}

// ---------------------------------------------------------------------------------------------
// SIGKILL of tether mid-run

fn killed_mid_run(contain: &str, script: &str) {
    let Some(cg) = TestCgroup::new() else {
        eprintln!("skipped: needs root and cgroup v2");
        return;
    };
    let mut child = cg
        .command(BIN)
        .args([
            "run",
            "--contain",
            contain,
            "--timeout",
            "60",
            "--",
            "sh",
            "-c",
            script,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(first_line(child.stdout.take().unwrap()), "ready");
    assert!(cg.procs().len() >= 4, "{:?}", cg.procs());
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    // The watchdog (and PDEATHSIG) end the tree; cgroup.events tells when it is empty.
    assert!(
        cg.wait_empty(Duration::from_secs(5)),
        "left after tether was killed: {:?}",
        cg.procs()
    );
}

#[test]
fn sigkill_of_tether_leaves_nothing_cgroup() {
    killed_mid_run(
        "auto",
        "sleep 100 & setsid sleep 100 & sh -c 'sleep 100 &'; echo ready; wait",
    );
}

#[test]
fn sigkill_of_tether_leaves_nothing_group() {
    killed_mid_run("group", "sleep 100 & sleep 100 & echo ready; wait");
}

// ---------------------------------------------------------------------------------------------
// stop and wait on processes tether did not start

fn tether_json(cg: &TestCgroup, args: &[&str]) -> (i32, serde_json::Value) {
    let out = cg.command(BIN).arg("--json").args(args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), v)
}

struct Reaped(std::process::Child);
impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn stop_with_right_identity() {
    let Some(cg) = TestCgroup::new() else { return };
    let mut c = Reaped(
        cg.command("sh")
            .args(["-c", "sleep 100 & sleep 100 & echo ready; wait"])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(c.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let id = tether::ProcessIdentity::of(c.0.id()).unwrap().to_string();
    let (code, v) = tether_json(&cg, &["stop", "--grace", "2", &id]);
    assert_eq!(code, 0, "{v}");
    schema_check(&v);
    assert_eq!(v["already_gone"], false);
    assert_eq!(v["escalated"], false);
    assert_eq!(v["signalled"].as_array().unwrap().len(), 3, "{v}");
    assert!(v["remaining"].as_array().unwrap().is_empty());
    c.0.wait().unwrap();
    assert!(cg.wait_empty(Duration::from_secs(2)), "{:?}", cg.procs());
}

#[test]
fn stop_escalates_only_survivors() {
    let Some(cg) = TestCgroup::new() else { return };
    let mut c = Reaped(
        cg.command("sh")
            .args(["-c", "sh -c 'trap \"\" TERM; echo ready; sleep 100' & wait"])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    let mut out = std::io::BufReader::new(c.0.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    let pid = c.0.id().to_string();
    let began = Instant::now();
    let (code, v) = tether_json(&cg, &["stop", "--grace", "0.3", &pid]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["escalated"], true, "{v}");
    // The TERM-ignoring shell and its sleep survived the grace; the outer shell did not.
    let survivors = v["survivors"].as_array().unwrap();
    assert_eq!(survivors.len(), 2, "{v}");
    assert!(!survivors.contains(&serde_json::json!(c.0.id())), "{v}");
    assert!(began.elapsed() < Duration::from_secs(3));
    c.0.wait().unwrap();
    assert!(cg.wait_empty(Duration::from_secs(2)));
}

#[test]
fn stop_with_stale_identity_signals_nothing() {
    let Some(cg) = TestCgroup::new() else { return };
    let mut c = Reaped(cg.command("sleep").arg("100").spawn().unwrap());
    let mut id = tether::ProcessIdentity::of(c.0.id()).unwrap();
    id.start_ticks += 1;
    id.pidfs_inode = None;
    let (code, v) = tether_json(&cg, &["stop", "--grace", "1", &id.to_string()]);
    assert_eq!(code, 1, "{v}");
    schema_check(&v);
    assert_eq!(v["error"]["kind"], "identity_mismatch");
    assert!(
        c.0.try_wait().unwrap().is_none(),
        "the process was signalled"
    );
}

#[test]
fn stop_of_a_gone_process_succeeds() {
    let Some(cg) = TestCgroup::new() else { return };
    let mut c = cg.command("true").spawn().unwrap();
    let id = tether::ProcessIdentity::of(c.id()).unwrap();
    c.wait().unwrap();
    let (code, v) = tether_json(&cg, &["stop", &id.to_string()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["already_gone"], true);
    assert!(v["signalled"].as_array().unwrap().is_empty());
}

#[test]
fn wait_for_a_non_child() {
    let Some(cg) = TestCgroup::new() else { return };
    let mut c = Reaped(
        cg.command("sh")
            .args(["-c", "read x"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let pid = c.0.id().to_string();
    let (code, v) = tether_json(&cg, &["wait", "--timeout", "100ms", &pid]);
    assert_eq!(code, 124, "{v}");
    assert_eq!(v["timed_out"], true);
    let waiter = cg
        .command(BIN)
        .args(["--json", "wait", "--timeout", "10", &pid])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(c.0.stdin.take());
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    schema_check(&v);
    assert_eq!(v["exited"], true);
    assert_eq!(v["already_gone"], false);
    assert!(v["exit"].is_null(), "not a child of tether: status unknown");
    c.0.wait().unwrap();
    // Reaped: the bare PID names no process now, which is an error (not "already gone").
    let (code, v) = tether_json(&cg, &["wait", &pid]);
    assert_eq!(code, 1);
    assert_eq!(v["error"]["kind"], "not_found");
}

#[test]
fn received_signals_are_forwarded_like_gnu() {
    if Command::new("timeout").arg("--version").output().is_err() {
        return;
    }
    let Some(cg) = TestCgroup::new() else { return };
    let script =
        "trap 'echo got; exit 3' TERM; trap 'echo usr; exit 4' USR1; sleep 10 & echo ready; wait";
    let outcome_of = |program: &str, pre: &[&str], sig: i32| {
        let mut c = cg
            .command(program)
            .args(pre)
            .args(["sh", "-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(c.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        // SAFETY: signalling the child this test just started (a positive PID).
        unsafe { libc::kill(c.id() as i32, sig) };
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        (outcome(c.wait().unwrap()), rest.trim().to_string())
    };
    let expected = ((Some(3), None), "got".to_string());
    let tether_term = outcome_of(BIN, &["run", "--timeout", "10", "--"], libc::SIGTERM);
    assert_eq!(tether_term, expected);
    // GNU timeout passes TERM to the command and then to its whole process group, so the shell
    // may see it twice and print "got" twice, depending on timing; the exit status is the same.
    let gnu = outcome_of("timeout", &["10"], libc::SIGTERM);
    assert_eq!(
        gnu.0, expected.0,
        "GNU timeout gave {gnu:?}, tether {tether_term:?}"
    );
    assert!(
        gnu.1.lines().all(|l| l == "got"),
        "GNU timeout gave {gnu:?}"
    );
    // GNU timeout dies of USR1 itself and leaves the command running; tether passes it on.
    let tether_usr1 = outcome_of(BIN, &["run", "--timeout", "10", "--"], libc::SIGUSR1);
    assert_eq!(tether_usr1, ((Some(4), None), "usr".to_string()));
    // Nothing of tether's trees is left; the cgroup guard ends anything else on drop.
    assert!(cg.wait_empty(Duration::from_secs(5)), "{:?}", cg.procs());
}

// ---------------------------------------------------------------------------------------------
// The promise after SIGKILL of run, in a PID namespace: the watchdog is the command's parent and
// subreaper, so `setsid` escapers and orphans are ended too, and the -s signal comes first.

/// A PID namespace whose init is a shell that runs `tether ARGS` in the foreground and then
/// stays (`exec sleep`), so that killing tether does not end the namespace. Drop kills the init,
/// and with it everything in the namespace.
struct PidNs {
    unshare: std::process::Child,
    init: Option<std::os::fd::OwnedFd>,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl PidNs {
    fn start(cg: &TestCgroup, args: &[&str]) -> PidNs {
        let quoted: Vec<String> = args
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect();
        let script = format!("{BIN} {}; exec sleep 3600", quoted.join(" "));
        let mut unshare = cg
            .command("unshare")
            .args(["--pid", "--fork", "--mount-proc", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = std::io::BufReader::new(unshare.stdout.take().unwrap());
        let mut ns = PidNs {
            init: None,
            unshare,
            out,
        };
        // The namespace's init is the only child of `unshare`.
        let deadline = Instant::now() + Duration::from_secs(10);
        while ns.init.is_none() && Instant::now() < deadline {
            let kids = children(ns.unshare.id());
            ns.init = kids.first().and_then(|p| common::sys::pidfd::open(*p).ok());
            if ns.init.is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        assert!(ns.init.is_some(), "no namespace init");
        ns
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line.trim().to_string()
    }

    fn init_pid(&self) -> u32 {
        children(self.unshare.id())[0]
    }
}

impl Drop for PidNs {
    fn drop(&mut self) {
        if let Some(fd) = &self.init {
            let _ = common::sys::pidfd::send_signal(std::os::fd::AsFd::as_fd(fd), libc::SIGKILL);
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn children(pid: u32) -> Vec<u32> {
    let mut v = Vec::new();
    common::sys::family::for_each_child(pid, &mut |c| v.push(c));
    v
}

/// `pid` and all its descendants, each with its identity.
fn descendants(pid: u32) -> Vec<tether::ProcessIdentity> {
    let mut out = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        if let Ok(id) = tether::ProcessIdentity::of(p) {
            out.push(id);
        }
        stack.extend(children(p));
    }
    out
}

/// Alive and not a zombie, and still the same process.
fn id_alive(id: &tether::ProcessIdentity) -> bool {
    id.check().ok() == Some(tether::IdentityCheck::Same)
        && common::sys::family::parentage(id.pid).is_some_and(|p| p.alive())
}

/// Start `run --contain MODE ARGS -- sh -c SCRIPT` in a PID namespace; once SCRIPT says
/// "ready", SIGKILL tether. Returns the processes of the tree (watchdog included) as they were,
/// and the namespace.
fn kill_run_in_namespace(
    cg: &TestCgroup,
    mode: &str,
    run_args: &[&str],
    script: &str,
) -> (Vec<tether::ProcessIdentity>, PidNs) {
    let mut args = vec!["run", "--contain", mode];
    args.extend_from_slice(run_args);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    let mut ns = PidNs::start(cg, &args);
    assert_eq!(ns.read_line(), "ready");
    let tether_pid = children(ns.init_pid())
        .into_iter()
        .next()
        .expect("tether runs under the namespace's init");
    let tree = descendants(tether_pid);
    assert!(
        tree.len() >= 4,
        "tether, watchdog, sh and a sleep at least: {tree:?}"
    );
    let fd = common::sys::pidfd::open(tether_pid).unwrap();
    common::sys::pidfd::send_signal(std::os::fd::AsFd::as_fd(&fd), libc::SIGKILL).unwrap();
    (tree, ns)
}

fn wait_all_gone(ids: &[tether::ProcessIdentity], limit: Duration) -> Vec<u32> {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<u32> = ids.iter().filter(|i| id_alive(i)).map(|i| i.pid).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn setsid_escaper_survives_no_sigkill(mode: &str) {
    let Some(cg) = TestCgroup::new() else {
        eprintln!("skipped: needs root and cgroup v2");
        return;
    };
    // Issue 8: `setsid sleep 8401` outlived a SIGKILLed run in group mode.
    let (tree, _ns) = kill_run_in_namespace(
        &cg,
        mode,
        &["-s", "KILL", "--timeout", "60"],
        "setsid sleep 8401 & sleep 8403 & sh -c 'setsid sleep 8405 &'; echo ready; wait",
    );
    let left = wait_all_gone(&tree, Duration::from_secs(10));
    assert!(left.is_empty(), "{mode}: survivors {left:?} of {tree:?}");
}

#[test]
fn sigkill_of_run_ends_setsid_escapers_group() {
    setsid_escaper_survives_no_sigkill("group");
}

#[test]
fn sigkill_of_run_ends_setsid_escapers_cgroup() {
    setsid_escaper_survives_no_sigkill("cgroup");
}

fn death_signal_comes_first(mode: &str) {
    let Some(cg) = TestCgroup::new() else {
        eprintln!("skipped: needs root and cgroup v2");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mark = tmp.path().join("trapped");
    // GNU: `timeout -s USR1 25 CMD`, then `kill -KILL` of timeout: CMD's USR1 trap runs. The
    // trap leaves a background sleep (and the shell then sleeps on): both are ended once the
    // 1 s grace has passed.
    let script = format!(
        "trap 'echo trapped > {}' USR1; sleep 100 & echo ready; wait; sleep 100",
        mark.display()
    );
    let (tree, _ns) = kill_run_in_namespace(&cg, mode, &["-s", "USR1", "--timeout", "25"], &script);
    let began = Instant::now();
    let deadline = began + Duration::from_secs(10);
    while !mark.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        std::fs::read_to_string(&mark).unwrap_or_default().trim(),
        "trapped",
        "{mode}: the USR1 trap did not run"
    );
    let left = wait_all_gone(&tree, Duration::from_secs(10));
    assert!(left.is_empty(), "{mode}: survivors {left:?} of {tree:?}");
    // Not before the grace: the shell that trapped USR1 was still there to be killed.
    assert!(began.elapsed() >= Duration::from_millis(500), "{mode}");
}

#[test]
fn sigkill_of_run_delivers_the_signal_first_group() {
    death_signal_comes_first("group");
}

#[test]
fn sigkill_of_run_delivers_the_signal_first_cgroup() {
    death_signal_comes_first("cgroup");
}

// ---------------------------------------------------------------------------------------------
// No leaked cgroup leaves (TestCgroup's Drop also fails any test that leaves one).

#[test]
fn nested_runs_leave_no_leaf() {
    let Some(cg) = TestCgroup::new() else {
        eprintln!("skipped: needs root and cgroup v2");
        return;
    };
    // Issue 8: the outer run kills the inner one with SIGKILL (cgroup.kill), which leaves the
    // inner leaf inside the outer one.
    for _ in 0..2 {
        let st = cg
            .command(BIN)
            .args(["run", "-s", "KILL", "--timeout", "0.3", "--"])
            .args([BIN, "run", "--timeout", "10", "--", "sleep", "10"])
            .status()
            .unwrap();
        assert_eq!(st.signal(), Some(libc::SIGKILL), "{st:?}");
        assert!(
            tether_leaves(&cg.dir).is_empty(),
            "{:?}",
            tether_leaves(&cg.dir)
        );
    }
    // The outer run SIGKILLed while the inner one runs: its watchdog removes both leaves.
    let mut outer = cg
        .command(BIN)
        .args(["run", "--timeout", "60", "--"])
        .args([
            BIN,
            "run",
            "--timeout",
            "60",
            "--",
            "sh",
            "-c",
            "echo ready; sleep 60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(first_line(outer.stdout.take().unwrap()), "ready");
    assert_eq!(
        tether_leaves(&cg.dir).len(),
        2,
        "{:?}",
        tether_leaves(&cg.dir)
    );
    outer.kill().unwrap();
    outer.wait().unwrap();
    assert!(cg.wait_empty(Duration::from_secs(10)), "{:?}", cg.procs());
    assert!(
        tether_leaves(&cg.dir).is_empty(),
        "{:?}",
        tether_leaves(&cg.dir)
    );
}

#[test]
fn stop_of_a_tree_in_a_dead_runs_leaf_removes_it() {
    let Some(cg) = TestCgroup::new() else {
        eprintln!("skipped: needs root and cgroup v2");
        return;
    };
    // A leaf whose run is gone (as after SIGKILL of run and of its watchdog together), with a
    // nested leaf in it: stopping the tree in it removes both, deepest first.
    let leaf = cg.dir.join("tether-4194999-0");
    std::fs::create_dir(&leaf).unwrap();
    std::fs::create_dir(leaf.join("tether-4194998-0")).unwrap();
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(leaf.join("cgroup.procs"))
        .unwrap();
    let fd = std::os::fd::IntoRawFd::into_raw_fd(procs);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 100 & echo ready; wait"])
        .stdout(Stdio::piped());
    // SAFETY: only write(2) on an fd opened before fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut c = Reaped(cmd.spawn().unwrap());
    // SAFETY: closing our copy of the fd handed to the child.
    unsafe { libc::close(fd) };
    assert_eq!(first_line(c.0.stdout.take().unwrap()), "ready");
    let (code, v) = tether_json(&cg, &["stop", "--grace", "5", &c.0.id().to_string()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["containment"]["mechanism"], "cgroup", "{v}");
    c.0.wait().unwrap();
    assert!(!leaf.exists(), "{:?}", tether_leaves(&cg.dir));
}

#[test]
fn stop_owns_a_runs_leaf_only_for_its_command() {
    let Some(cg) = TestCgroup::new() else {
        eprintln!("skipped: needs root and cgroup v2");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (cmd_file, inner_file, esc_file) = (
        tmp.path().join("cmd"),
        tmp.path().join("inner"),
        tmp.path().join("esc"),
    );
    // Each writes its PID before it sleeps; "ready" comes once all three files are there.
    let script = format!(
        "echo $$ > {cmd}; setsid sh -c 'echo $$ > {esc}.t; mv {esc}.t {esc}; exec sleep 100' & \
         sh -c 'echo $$ > {inner}.t; mv {inner}.t {inner}; sleep 100' & \
         while [ ! -e {esc} ] || [ ! -e {inner} ]; do sleep 0.02; done; echo ready; wait",
        cmd = cmd_file.display(),
        inner = inner_file.display(),
        esc = esc_file.display()
    );
    let mut run = Reaped(
        cg.command(BIN)
            .args([
                "run",
                "--contain",
                "cgroup",
                "--timeout",
                "60",
                "--",
                "sh",
                "-c",
            ])
            .arg(&script)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert_eq!(first_line(run.0.stdout.take().unwrap()), "ready");
    let pid_in = |f: &Path| std::fs::read_to_string(f).unwrap().trim().to_string();
    // A grandchild in the leaf does not own it: only its own tree is stopped.
    let (code, v) = tether_json(&cg, &["stop", "--grace", "5", &pid_in(&inner_file)]);
    assert_eq!(code, 0, "{v}");
    assert_ne!(v["containment"]["mechanism"], "cgroup", "{v}");
    assert!(run.0.try_wait().unwrap().is_none(), "run ended: {v}");
    // The command owns it: the setsid escaper (the watchdog's child now) is stopped too.
    let leaf_procs = cg.procs();
    let (cmd, esc) = (pid_in(&cmd_file), pid_in(&esc_file));
    let (code, v) = tether_json(&cg, &["stop", "--grace", "5", &cmd]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["containment"]["mechanism"], "cgroup", "{v}");
    let signalled: Vec<String> = v["signalled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(
        signalled.contains(&cmd) && signalled.contains(&esc),
        "{v}: cmd {cmd}, escaper {esc}, leaf before {leaf_procs:?}"
    );
    run.0.wait().unwrap();
    assert!(cg.wait_empty(Duration::from_secs(5)), "{:?}", cg.procs());
}
