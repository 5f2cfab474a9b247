//! `Command` → `Child`: environment, working directory, streams, bounded output capture, the
//! time limit, start errors by kind, and ending hostile trees (stop, drop) in both containment
//! modes. Trees that are stopped or dropped whole run inside a PID namespace of their own.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use tether::command::{Child, Command, SpawnErrorKind, Stdio};
use tether::contain::{ContainMode, Mechanism};
use tether::signal::Signal;
use tether::terminate::StopOptions;
use tether::{ErrorKind, IdentityCheck, ProcessIdentity};

mod common;

use common::{alive, cgroup_available, in_pid_namespace, Recorded, REC, REC_DEF};

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn environment_is_set_removed_and_cleared_and_cwd_applies() {
    let dir = tempfile::tempdir().unwrap();
    let inherited = std::env::vars_os()
        .map(|(k, _)| k)
        .find(|k| k == "HOME" || k == "USER" || k == "LANG");
    let removed = inherited
        .as_deref()
        .and_then(|k| k.to_str())
        .unwrap_or("TETHER_NEVER_SET");
    let out = sh(&format!(
        "echo \"${{TETHER_A-unset}}|${{TETHER_B-unset}}|${{{removed}-unset}}|$(pwd)\""
    ))
    .env("TETHER_A", "a b")
    .env("TETHER_B", "set then removed")
    .env_remove("TETHER_B")
    .env_remove(removed)
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        format!("a b|unset|unset|{}", cwd.display())
    );

    // A cleared environment has nothing but what is set; the program is still found through
    // this process's PATH.
    let out = sh("env")
        .env_clear()
        .env("ONLY", "1")
        .envs([("ALSO", "2")])
        .output()
        .unwrap();
    let env = text(&out.stdout);
    assert!(env.contains("ONLY=1") && env.contains("ALSO=2"), "{env}");
    assert!(!env.contains("HOME=") && !env.contains("PATH=/"), "{env}");
}

#[test]
fn streams_null_piped_and_file() {
    // Null: the command reads end of file at once.
    let out = Command::new("cat").stdin(Stdio::Null).output().unwrap();
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");

    // Piped both ways through a spawned child.
    let mut child = Command::new("cat")
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let mut got = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut got)
        .unwrap();
    assert_eq!(got, "hello\n");
    assert_eq!(child.wait(None).unwrap().unwrap().code, Some(0));
    assert!(child.close().unwrap().is_empty());

    // Files: stdout as a File, stderr as an OwnedFd, both appending to one file.
    let file = tempfile::NamedTempFile::new().unwrap();
    let append = || {
        std::fs::OpenOptions::new()
            .append(true)
            .open(file.path())
            .unwrap()
    };
    let out = sh("echo out; echo err >&2")
        .stdout(append())
        .stderr(OwnedFd::from(append()))
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "not captured"
    );
    assert_eq!(std::fs::read_to_string(file.path()).unwrap(), "out\nerr\n");
}

#[test]
fn output_keeps_the_last_bytes_of_two_floods_and_counts_the_rest() {
    // One process writing both streams line by line: a reader that drained one stream before
    // the other would block it (and so itself) once the other pipe filled.
    let n = 100_000;
    let prog =
        format!("BEGIN {{ for (i = 1; i <= {n}; i++) {{ print i; print i > \"/dev/stderr\" }} }}");
    let limit = 1000;
    let out = Command::new("awk")
        .arg(&prog)
        .capture_limit(limit)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let full: String = (1..=n).map(|i| format!("{i}\n")).collect();
    let tail = &full.as_bytes()[full.len() - limit..];
    assert_eq!(out.stdout, tail);
    assert_eq!(out.stderr, tail);
    assert_eq!(out.stdout_dropped, (full.len() - limit) as u64);
    assert_eq!(out.stderr_dropped, (full.len() - limit) as u64);

    // Under the limit nothing is dropped.
    let out = sh("echo a; echo b >&2").output().unwrap();
    assert_eq!(
        (text(&out.stdout), text(&out.stderr)),
        ("a\n".into(), "b\n".into())
    );
    assert_eq!((out.stdout_dropped, out.stderr_dropped), (0, 0));
}

#[test]
fn output_and_status_honour_the_time_limit() {
    let out = sh("echo started; echo oops >&2; sleep 30")
        .timeout(Duration::from_millis(300))
        .output()
        .unwrap();
    assert!(out.status.timed_out, "{:?}", out.status);
    assert_eq!(text(&out.stdout), "started\n");
    assert_eq!(text(&out.stderr), "oops\n");
    assert_eq!(out.status.signals[0].signal, Some(Signal::TERM));

    // A command that ignores the signal is killed after kill_after.
    let r = sh("trap '' TERM; sleep 30")
        .timeout(Duration::from_millis(200))
        .kill_after(Duration::from_millis(200))
        .status()
        .unwrap();
    assert!(r.timed_out && r.escalated, "{r:?}");
    assert_eq!(r.child_exit.unwrap().signal, Some(libc::SIGKILL));

    // The limit also applies to a spawned child while it is waited for.
    let mut child = Command::new("sleep")
        .arg("30")
        .timeout(Duration::from_millis(100))
        .spawn()
        .unwrap();
    let exit = child.wait(None).unwrap().unwrap();
    assert_eq!(exit.signal, Some(libc::SIGTERM));
    child.close().unwrap();
}

#[test]
fn a_cancelled_token_ends_waits_and_runs_with_their_tree() {
    use tether::ready::Cancel;
    // A child's wait returns as if timed out; the tree keeps running until it is ended.
    let cancel = Cancel::new().unwrap();
    let mut child = Command::new("sleep")
        .arg("30")
        .cancel(cancel.clone())
        .spawn()
        .unwrap();
    let stopper = {
        let c = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            c.cancel();
        })
    };
    let began = Instant::now();
    assert!(child.wait(None).unwrap().is_none());
    assert!(began.elapsed() < Duration::from_secs(20));
    stopper.join().unwrap();
    assert_eq!(child.identity().check().unwrap(), IdentityCheck::Same);
    let pid = child.pid();
    assert!(child.close().unwrap().contains(&pid));

    // A run ends its whole tree and says it was cancelled.
    let cancel = Cancel::new().unwrap();
    let stopper = {
        let c = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            c.cancel();
        })
    };
    let out = sh("sleep 30 & echo $!; wait")
        .cancel(cancel)
        .output()
        .unwrap();
    stopper.join().unwrap();
    let e = out.status.error.as_ref().expect("cancelled");
    assert!(e.message().contains("cancelled"), "{e}");
    assert!(!out.status.timed_out && !out.status.success());
    let background: u32 = text(&out.stdout).trim().parse().unwrap();
    assert!(
        out.status.leftovers_killed.contains(&background),
        "{:?}",
        out.status
    );
}

#[test]
fn start_errors_have_kinds_not_messages() {
    let e = Command::new("tether-no-such-program-xyz")
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), SpawnErrorKind::NotFound);
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(
        e.to_string(),
        "failed to run command 'tether-no-such-program-xyz': No such file or directory"
    );
    assert!(std::error::Error::source(&e).is_some());
    assert_eq!(
        Command::new("/nonexistent/tether-x")
            .status()
            .unwrap_err()
            .kind(),
        SpawnErrorKind::NotFound
    );

    for not_runnable in ["/etc/passwd", "/"] {
        let e = Command::new(not_runnable).output().unwrap_err();
        assert_eq!(e.kind(), SpawnErrorKind::NotExecutable, "{e}");
        let lib: tether::Error = e.into();
        assert_eq!(lib.kind(), ErrorKind::PermissionDenied);
        assert_eq!(lib.raw_os_error(), Some(libc::EACCES));
    }

    let e = Command::new("true")
        .current_dir("/nonexistent/tether-dir")
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), SpawnErrorKind::Setup);
    assert!(e.message().contains("/nonexistent/tether-dir"), "{e}");

    let e = Command::new("echo").arg("a\0b").spawn().unwrap_err();
    assert_eq!(e.kind(), SpawnErrorKind::InvalidInput);
}

#[test]
fn child_waits_signals_and_closes() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    assert_eq!(child.identity().pid, child.pid());
    assert_eq!(child.identity().check().unwrap(), IdentityCheck::Same);
    assert!(child.try_wait().unwrap().is_none());
    assert!(child
        .wait(Some(Duration::from_millis(50)))
        .unwrap()
        .is_none());
    let sent = child.signal(Signal::TERM).unwrap();
    assert!(sent.contains(&child.pid()), "{sent:?}");
    let exit = child.wait(Some(Duration::from_secs(30))).unwrap().unwrap();
    assert_eq!(exit.signal, Some(libc::SIGTERM));
    assert!(child.close().unwrap().is_empty());

    // close() ends what is still running and says what it killed.
    let child = sh("sleep 30 & sleep 30").spawn().unwrap();
    let id = child.identity().clone();
    let killed = child.close().unwrap();
    assert!(killed.contains(&id.pid), "{killed:?}");
    assert_ne!(id.check().unwrap(), IdentityCheck::Same);
}

/// A hostile tree: a `setsid` escaper, a double-forked daemon, a stopped process, a
/// TERM-ignoring process and 30 background children. Prints `daemon`, `trapped` and `ready`
/// (in any order) once all are there.
const HOSTILE: &str = r#"setsid sleep 100 & rec $!
sh -c 'eval "$R"; setsid sh -c "eval \"\$R\"; sleep 100 & rec \$!; echo daemon; wait" & rec $!'
sleep 100 & rec $!; kill -STOP $!
sh -c 'eval "$R"; trap "" TERM; echo trapped; exec sleep 100' & rec $!
i=0; while [ $i -lt 30 ]; do sleep 100 & rec $!; i=$((i+1)); done
echo ready; wait"#;

/// Start [`HOSTILE`] in `mode` and wait until all of it is running.
fn start_hostile(mode: ContainMode, rec: &Recorded) -> (Child, BufReader<std::fs::File>) {
    let mut child = sh(&format!("{REC}{HOSTILE}"))
        .env("F", rec.file.path())
        .env("R", REC_DEF)
        .contain(mode)
        .stdout(Stdio::Piped)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !["daemon", "trapped", "ready"]
        .iter()
        .all(|w| seen.contains(w))
    {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "tree ended: {seen}");
        seen += &line;
    }
    (child, out)
}

/// Wait (through pidfds) until none of `ids` is running, up to `limit`.
fn wait_gone(ids: &[ProcessIdentity], limit: Duration) {
    let deadline = Instant::now() + limit;
    for id in ids {
        if let Ok(fd) = tether::Process::from_identity(id) {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd = [rustix::event::PollFd::new(
                &fd,
                rustix::event::PollFlags::IN,
            )];
            let ts = rustix::time::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let _ = rustix::event::poll(&mut pfd, Some(&ts));
        }
    }
}

fn modes() -> Vec<ContainMode> {
    let mut v = vec![ContainMode::Group];
    if cgroup_available() {
        v.push(ContainMode::Cgroup);
    } else {
        eprintln!("cgroup mode skipped: needs root and cgroup v2");
    }
    v
}

#[test]
fn stop_ends_a_hostile_tree_in_both_modes() {
    if !in_pid_namespace("stop_ends_a_hostile_tree_in_both_modes") {
        return;
    }
    for mode in modes() {
        let rec = Recorded::new();
        let (mut child, _out) = start_hostile(mode, &rec);
        let ids = rec.ids();
        assert!(ids.len() >= 36, "{} recorded", ids.len());
        let mut opts = StopOptions::default();
        opts.grace = Duration::from_millis(300);
        let r = child.stop(&opts).unwrap();
        assert!(r.escalated, "the TERM-ignoring process needs KILL: {r:?}");
        assert!(r.remaining.is_empty(), "{r:?}");
        assert!(!r.already_gone);
        let left: Vec<_> = ids.iter().filter(|i| alive(i)).collect();
        assert!(left.is_empty(), "{mode:?}: survivors {left:?}");
        assert!(
            child.try_wait().unwrap().is_some(),
            "the command's exit is known"
        );
        // Stopping again is a success that says it was gone.
        assert!(child.stop(&opts).unwrap().already_gone);
        let leaf = child.containment().cgroup_dir();
        child.close().unwrap();
        assert!(leaf.is_none_or(|d| !d.exists()), "leaf left behind");
    }
    println!("inner done");
}

/// The children of this process, from /proc.
fn own_children() -> Vec<u32> {
    let mut v = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            v.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    v
}

#[test]
fn drop_returns_at_once_and_leaves_nothing_behind() {
    if !in_pid_namespace("drop_returns_at_once_and_leaves_nothing_behind") {
        return;
    }
    for mode in modes() {
        let rec = Recorded::new();
        let (child, out) = start_hostile(mode, &rec);
        let ids = rec.ids();
        let mechanism = child.containment().mechanism;
        let leaf = child.containment().cgroup_dir();
        let began = Instant::now();
        drop(child);
        let took = began.elapsed();
        drop(out);
        // Drop kills and hands the rest over; it does not wait for the tree (the former Drop
        // waited up to 5 s for it, then up to 2 s for the leaf). Generous: the machine is busy.
        assert!(
            took < Duration::from_secs(3),
            "{mode:?}: drop took {took:?}"
        );
        wait_gone(&ids, Duration::from_secs(20));
        let left: Vec<_> = ids.iter().filter(|i| alive(i)).collect();
        assert!(left.is_empty(), "{mode:?}: survivors {left:?}");
        // The watchdog removes the leaf and exits; a background thread reaps it. Both happen
        // after drop returned: wait for them (bounded).
        let deadline = Instant::now() + Duration::from_secs(20);
        while !own_children().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(own_children().is_empty(), "{:?}", own_children());
        if mechanism == Mechanism::Cgroup {
            let d = leaf.unwrap();
            assert!(!d.exists(), "leaf {} left behind", d.display());
        }
    }
    println!("inner done");
}

#[test]
fn spawning_has_no_hidden_side_effects() {
    // The library never makes the caller a subreaper (it used to, for good, on every spawn).
    let child = Command::new("true").spawn().unwrap();
    child.close().unwrap();
    assert!(!tether::contain::is_subreaper());
    // Debug shows which variables are set, never their values.
    let mut c = Command::new("true");
    c.env("TETHER_SECRET", "hunter2").env_remove("TETHER_GONE");
    let shown = format!("{c:?}");
    assert!(
        shown.contains("TETHER_SECRET") && shown.contains("-TETHER_GONE"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn a_caller_that_ignores_sigchld_still_gets_exit_statuses() {
    // A process-wide disposition: changed only in the namespace's own process.
    if !in_pid_namespace("a_caller_that_ignores_sigchld_still_gets_exit_statuses") {
        return;
    }
    // SAFETY: SIG_IGN, no handler; this process runs this test alone.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    for mode in modes() {
        // The watchdog resets SIGCHLD before it launches the command: it reaps it and relays
        // the status even though it inherited "ignored" from us.
        let r = sh("exit 3").contain(mode).status().unwrap();
        assert_eq!(
            r.child_exit.map(|e| e.code),
            Some(Some(3)),
            "{mode:?}: {r:?}"
        );
    }
    println!("inner done");
}
