//! Hostile trees under `run` in cgroup mode: after the limit passes, nothing of the tree is left.
//! Every tree runs in a cgroup leaf that `run` creates and removes; the scripts record each
//! process as `PID START_TICKS`, so the checks use identities and never mistake a reused PID.

use std::time::Duration;

use tether::contain::{ContainMode, Mechanism, SpawnSpec, StdioSpec};
use tether::run::{run, RunOptions};
use tether::{IdentityCheck, ProcessIdentity};

/// Defines `rec PID`, which records a PID with its start time into $F. It is passed in $R, so
/// that inner shells can `eval "$R"` too.
const REC_DEF: &str = r#"rec() { echo "$1 $(cut -d' ' -f22 /proc/$1/stat)" >> "$F"; }"#;
const REC: &str = r#"eval "$R"; rec $$; "#;

struct Recorded {
    file: tempfile::NamedTempFile,
}

impl Recorded {
    fn new() -> Self {
        Recorded {
            file: tempfile::NamedTempFile::new().unwrap(),
        }
    }
    fn ids(&self) -> Vec<ProcessIdentity> {
        std::fs::read_to_string(self.file.path())
            .unwrap()
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let pid = it.next()?.parse().ok()?;
                let start = it.next()?.parse().ok()?;
                Some(ProcessIdentity::from_parts(pid, start))
            })
            .collect()
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        // If an assertion failed, end whatever the test left (only processes it recorded).
        for id in self.ids() {
            if let Ok(p) = tether::Process::from_identity(&id) {
                let _ = rustix::process::pidfd_send_signal(&p, rustix::process::Signal::KILL);
            }
        }
    }
}

fn alive(id: &ProcessIdentity) -> bool {
    if id.check().expect("identity check") != IdentityCheck::Same {
        return false;
    }
    // A zombie is dead; only its parent's bookkeeping is left.
    std::fs::read_to_string(format!("/proc/{}/stat", id.pid))
        .map(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| !r.trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

fn cgroup_available() -> bool {
    tether::contain::cgroup_root().is_some() && rustix::process::geteuid().is_root()
}

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
    let mut spec = SpawnSpec::new(["sh", "-c", &format!("{REC}{script}")]);
    spec.env_set
        .push(("F".into(), rec.file.path().as_os_str().to_owned()));
    spec.env_set.push(("R".into(), REC_DEF.into()));
    spec.mode = mode;
    spec.stdout = StdioSpec::Null;
    let mut o = RunOptions::new(spec);
    o.timeout = Some(Duration::from_millis(400));
    o.kill_after = Some(Duration::from_millis(300));
    let r = run(&o);
    let c = r.containment.clone().unwrap();
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
    let mut spec = SpawnSpec::new(["sh", "-c", &format!("{REC}sleep 100 & rec $!; exit 3")]);
    spec.env_set
        .push(("F".into(), rec.file.path().as_os_str().to_owned()));
    spec.env_set.push(("R".into(), REC_DEF.into()));
    spec.mode = ContainMode::Cgroup;
    let r = run(&RunOptions::new(spec));
    assert_eq!(r.exit_code, 3);
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

#[test]
fn spawn_sets_cwd_environment_and_pipes() {
    use std::io::Read;
    use tether::contain::spawn;
    std::env::set_var("TETHER_TEST_REMOVED", "should-not-be-seen");
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SpawnSpec::new([
        "sh",
        "-c",
        "echo \"$TETHER_A:${TETHER_TEST_REMOVED-unset}:$(pwd)\"; echo err >&2; exit 5",
    ]);
    spec.cwd = Some(dir.path().to_path_buf());
    spec.env_set.push(("TETHER_A".into(), "a b".into()));
    spec.env_remove.push("TETHER_TEST_REMOVED".into());
    spec.stdout = StdioSpec::Piped;
    spec.stderr = StdioSpec::Piped;
    spec.stdin = StdioSpec::Null;
    let mut c = spawn(&spec).unwrap();
    let mut out = String::new();
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let mut err = String::new();
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let exit = c.wait(Some(Duration::from_secs(10))).unwrap().unwrap();
    assert_eq!(exit.code, Some(5));
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(out.trim(), format!("a b:unset:{}", cwd.display()));
    assert_eq!(err.trim(), "err");
    assert!(c.end_tree().unwrap().is_empty());

    // A cleared environment has nothing but what is set; PATH then comes from ours for lookup.
    let mut spec = SpawnSpec::new(["sh", "-c", "env | sort | tr '\\n' ' '"]);
    spec.env_clear = true;
    spec.env_set.push(("ONLY".into(), "1".into()));
    spec.stdout = StdioSpec::Piped;
    let mut c = spawn(&spec).unwrap();
    let mut out = String::new();
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    c.wait(None).unwrap();
    assert!(out.contains("ONLY=1"), "{out}");
    assert!(!out.contains("HOME="), "{out}");
}

#[test]
fn spawn_errors_distinguish_missing_from_not_executable() {
    use tether::contain::spawn;
    let e = spawn(&SpawnSpec::new(["tether-no-such-program-xyz"]))
        .err()
        .unwrap();
    assert!(e.not_found);
    let e = spawn(&SpawnSpec::new(["/etc/passwd"])).err().unwrap();
    assert!(!e.not_found);
    assert_eq!(e.error.kind(), tether::ErrorKind::PermissionDenied);
}
