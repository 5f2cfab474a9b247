//! `tether init`, side by side with Debian's `tini` (0.19) where tini has the behaviour: tini's
//! own test cases (`test/run_inner_tests.py`, `test/run_outer_tests.py`, `test/reaping`,
//! `test/pgroup`, `test/pdeathsignal`) rewritten as this project's tests, plus the cases where
//! the two differ on purpose, each asserted both ways.
//!
//! Every case runs in a PID namespace of its own (`unshare --pid --fork --mount-proc
//! --kill-child`): either the init under test is the namespace's first process (PID 1), or a
//! shell is and the init runs below it (the subreaper cases). Whatever a case starts dies with
//! the namespace, also when the test fails (unshare gets SIGKILL when this test process dies,
//! and a guard kills it when a case panics). Signals go only to the namespace's init, through a
//! pidfd checked to be the child of the `unshare` this test started.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TINI: &str = "/usr/bin/tini";

/// An init implementation under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Init {
    Tether,
    Tini,
}

/// An option both implementations have, spelled by each its own way.
#[derive(Debug, Clone, Copy)]
enum Opt {
    /// Signals to the process group: `-g` for both.
    Group,
    /// Child subreaper: `--subreaper` / `-s`.
    Subreaper,
    /// Exit code N becomes 0: `--remap-exit N:0` / `-e N`.
    RemapToZero(u8),
    /// Parent-death signal: `--pdeathsig NAME` / `-p SIGNAME`.
    Pdeathsig(&'static str),
}

impl Init {
    /// The command line that runs `cmd` under this init with `opts` (and, for tether, `extra`).
    fn argv(self, opts: &[Opt], extra: &[&str], cmd: &[&str]) -> Vec<String> {
        let mut v = vec![match self {
            Init::Tether => common::bin().to_string(),
            Init::Tini => TINI.to_string(),
        }];
        if self == Init::Tether {
            v.push("init".into());
            v.extend(extra.iter().map(|s| s.to_string()));
        }
        for o in opts {
            match (self, o) {
                (_, Opt::Group) => v.push("-g".into()),
                (Init::Tether, Opt::Subreaper) => v.push("--subreaper".into()),
                (Init::Tini, Opt::Subreaper) => v.push("-s".into()),
                (Init::Tether, Opt::RemapToZero(n)) => {
                    v.extend(["--remap-exit".into(), format!("{n}:0")])
                }
                (Init::Tini, Opt::RemapToZero(n)) => v.extend(["-e".into(), n.to_string()]),
                (Init::Tether, Opt::Pdeathsig(s)) => {
                    v.extend(["--pdeathsig".into(), s.to_string()])
                }
                (Init::Tini, Opt::Pdeathsig(s)) => v.extend(["-p".into(), format!("SIG{s}")]),
            }
        }
        v.push("--".into());
        v.extend(cmd.iter().map(|s| s.to_string()));
        v
    }
}

/// The implementations to compare: tether always, tini when installed (scripts/test.sh
/// installs it).
fn inits() -> Vec<Init> {
    let mut v = vec![Init::Tether];
    if std::path::Path::new(TINI).exists() {
        v.push(Init::Tini);
    } else {
        eprintln!("tini is not installed: tether runs alone");
    }
    v
}

fn tini() -> bool {
    inits().contains(&Init::Tini)
}

/// Root is needed for the PID namespaces.
fn can_run() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (PID namespaces)");
        return false;
    }
    true
}

/// Quote for sh.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn shell_line(argv: &[String]) -> String {
    argv.iter().map(|a| q(a)).collect::<Vec<_>>().join(" ")
}

/// What a namespace's run produced.
#[derive(Debug)]
struct Out {
    /// unshare's exit code: its child's (the namespace's init), 128+N for a death by signal N.
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    /// The JSON document tether printed last on stdout (after the command's own output).
    fn report(&self) -> Value {
        let start = self
            .stdout
            .rfind("\n{\n")
            .map(|i| i + 1)
            .or_else(|| self.stdout.starts_with("{\n").then_some(0))
            .unwrap_or_else(|| panic!("no JSON report on stdout: {self:?}"));
        // The report is followed by whatever the namespace's shell printed after it.
        let v: Value = serde_json::Deserializer::from_str(&self.stdout[start..])
            .into_iter::<Value>()
            .next()
            .and_then(|r| r.ok())
            .unwrap_or_else(|| panic!("bad JSON: {self:?}"));
        common::assert_schema_valid(&v);
        v
    }
}

/// A PID namespace whose first process runs `argv`. Drop kills `unshare`, and with it
/// (`--kill-child`) the namespace.
struct Ns {
    unshare: Child,
    stdout: BufReader<ChildStdout>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Ns {
    fn start(argv: &[String]) -> Ns {
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl and signal only. If this test process dies, unshare dies, and with it
        // the namespace.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                // A shell cannot trap what it was started with ignored: as from a terminal, also
                // when the suite runs in the background (INT, QUIT ignored) or under nohup (HUP).
                for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        let mut unshare = cmd.spawn().expect("running unshare");
        let stdout = BufReader::new(unshare.stdout.take().unwrap());
        let mut err = unshare.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Ns {
            unshare,
            stdout,
            stderr: Some(stderr),
        }
    }

    /// The next line the namespace printed, trimmed (scripts print "ready" when set up).
    fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().to_string()
    }

    /// A pidfd on the namespace's first process: the only child of our `unshare`, checked to
    /// be so after the pidfd was opened (so a reused PID is never signalled).
    fn init_fd(&self) -> OwnedFd {
        let me = self.unshare.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(fd) = children(me).first().and_then(|&p| open_child(p, me)) {
                return fd;
            }
            assert!(Instant::now() < deadline, "the namespace has no init");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Send `sig` to the namespace's init.
    fn signal_init(&self, sig: i32) {
        let fd = self.init_fd();
        // SAFETY: pidfd_send_signal on a pidfd we own, with a null siginfo.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        assert_eq!(rc, 0, "signalling the namespace's init");
    }

    /// Wait (up to a minute, a guard against hangs) for the namespace to end.
    fn finish(mut self) -> Out {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(st) = self.unshare.try_wait().unwrap() {
                break st;
            }
            assert!(Instant::now() < deadline, "the namespace did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        let _ = self.stdout.read_to_string(&mut stdout);
        let stderr = self.stderr.take().unwrap().join().unwrap_or_default();
        Out {
            code: status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            stdout,
            stderr,
        }
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// A pidfd on `pid` if it is (still) a live child of `parent`.
fn open_child(pid: u32, parent: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ppid: u32 = stat[stat.rfind(')')? + 2..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    // Still alive after the read, so the PID read was this pidfd's process.
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let exited = unsafe { libc::poll(&mut p, 1, 0) } != 0;
    (ppid == parent && !exited).then_some(fd)
}

/// Run `cmd` under `init` as PID 1 of a new namespace and wait for the end.
fn as_pid1(init: Init, opts: &[Opt], extra: &[&str], cmd: &[&str]) -> Out {
    Ns::start(&init.argv(opts, extra, cmd)).finish()
}

/// Run `cmd` under `init` below a shell that is PID 1 of a new namespace (so the init is not
/// PID 1); the shell then prints `init-exit=CODE` and runs `after`.
fn below_pid1(init: Init, opts: &[Opt], extra: &[&str], cmd: &[&str], after: &str) -> Out {
    let script = format!(
        "{}; echo \"init-exit=$?\"; {after}",
        shell_line(&init.argv(opts, extra, cmd))
    );
    Ns::start(&["sh".into(), "-c".into(), script]).finish()
}

// ---------------------------------------------------------------------------------------------
// Signals

/// tini's signal test (TERM, USR1, USR2 → 128+N) and its outer test (INT, TERM), with a
/// command that traps each: the trap runs, so the signal reached the command.
#[test]
fn signals_reach_the_command_as_pid1() {
    if !can_run() {
        return;
    }
    for init in inits() {
        for (sig, name) in [
            (libc::SIGTERM, "TERM"),
            (libc::SIGINT, "INT"),
            (libc::SIGHUP, "HUP"),
            (libc::SIGUSR1, "USR1"),
            (libc::SIGUSR2, "USR2"),
        ] {
            let script =
                format!("trap 'echo got-{name}; exit 42' {name}; echo ready; sleep 1000 & wait");
            let mut ns = Ns::start(&init.argv(&[], &["--json"], &["sh", "-c", &script]));
            assert_eq!(ns.read_line(), "ready", "{init:?} {name}");
            ns.signal_init(sig);
            let out = ns.finish();
            assert_eq!(out.code, 42, "{init:?} {name}: {out:?}");
            assert!(
                out.stdout.contains(&format!("got-{name}")),
                "{init:?}: {out:?}"
            );
            if init == Init::Tether {
                let r = out.report();
                assert_eq!(r["signals_forwarded"], 1, "{r}");
                assert_eq!(r["pid1"], true);
                assert_eq!(r["child_exit"]["code"], 42);
            }
        }
    }
}

/// A command without a trap dies of the signal: init exits 128+N (tini's signal test).
#[test]
fn an_untrapped_signal_gives_128_plus_n() {
    if !can_run() {
        return;
    }
    for init in inits() {
        for sig in [libc::SIGTERM, libc::SIGUSR1, libc::SIGUSR2] {
            let mut ns =
                Ns::start(&init.argv(&[], &[], &["sh", "-c", "echo ready; exec sleep 1000"]));
            assert_eq!(ns.read_line(), "ready");
            ns.signal_init(sig);
            let out = ns.finish();
            assert_eq!(out.code, 128 + sig, "{init:?}: {out:?}");
        }
    }
}

/// tini's process group test: the command ignores (here: catches with a no-op) USR1 and waits
/// for its own child, which does not. With -g the whole group gets USR1: the grandchild's trap
/// runs, then the command finishes. Without -g only the command gets it; the grandchild goes on
/// until TERM ends the command.
#[test]
fn group_sends_to_the_whole_process_group() {
    if !can_run() {
        return;
    }
    let script = "trap ':' USR1; \
                  sh -c 'trap \"echo grandchild-got-USR1; exit 5\" USR1; echo ready; sleep 1000 & wait'; \
                  echo \"command-saw-$?\"; exit 3";
    for init in inits() {
        let mut ns = Ns::start(&init.argv(&[Opt::Group], &[], &["sh", "-c", script]));
        assert_eq!(ns.read_line(), "ready");
        ns.signal_init(libc::SIGUSR1);
        let out = ns.finish();
        assert_eq!(out.code, 3, "{init:?}: {out:?}");
        assert!(
            out.stdout.contains("grandchild-got-USR1"),
            "{init:?}: {out:?}"
        );
        assert!(out.stdout.contains("command-saw-5"), "{init:?}: {out:?}");

        let mut ns = Ns::start(&init.argv(&[], &[], &["sh", "-c", script]));
        assert_eq!(ns.read_line(), "ready");
        ns.signal_init(libc::SIGUSR1);
        ns.signal_init(libc::SIGTERM);
        let out = ns.finish();
        assert_eq!(out.code, 128 + libc::SIGTERM, "{init:?}: {out:?}");
        assert!(
            !out.stdout.contains("grandchild-got-USR1"),
            "{init:?}: {out:?}"
        );
    }
}

/// tini's parent-death test: init's parent dies (the command kills it), init gets the
/// parent-death signal and passes it on: the command's trap runs.
#[test]
fn pdeathsig_is_passed_on_to_the_command() {
    if !can_run() {
        return;
    }
    for init in inits() {
        let dir = tempfile::tempdir().unwrap();
        let out_file = dir.path().join("out");
        // (Temporary directories have no blanks or quotes in their paths.)
        let cmd = format!(
            "trap 'echo got-USR1 > {}; exit 0' USR1; kill -KILL \"$P\"; sleep 1000 & wait",
            out_file.display()
        );
        // The init's parent is a shell below PID 1 (PID 1 cannot be killed from inside).
        let parent = format!(
            "P=$$; export P; {}; true",
            shell_line(&init.argv(&[Opt::Pdeathsig("USR1")], &[], &["sh", "-c", &cmd]))
        );
        let outer = format!(
            "sh -c {}; i=0; while [ ! -s {f} ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; cat {f}",
            q(&parent),
            f = q(&out_file.to_string_lossy())
        );
        let out = Ns::start(&["sh".into(), "-c".into(), outer]).finish();
        assert!(out.stdout.contains("got-USR1"), "{init:?}: {out:?}");
    }
}

/// tini's signal configuration test: a caller that ignores TTOU, SEGV and INT and blocks TTIN,
/// ILL and TERM before starting init; the command starts with exactly that (init touched TTOU,
/// TTIN, INT and TERM itself, and gives them back).
#[test]
fn the_command_gets_the_signal_state_init_inherited() {
    if !can_run() {
        return;
    }
    const WRAPPER: &str = r#"
import os, signal, sys
for s in (signal.SIGTTOU, signal.SIGSEGV, signal.SIGINT):
    signal.signal(s, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTIN, signal.SIGILL, signal.SIGTERM})
os.execv(sys.argv[1], sys.argv[1:])
"#;
    let mask = |status: &str, key: &str| -> u64 {
        let line = status
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} in {status}"));
        u64::from_str_radix(line[key.len()..].trim(), 16).unwrap()
    };
    let bit = |sig: i32| 1u64 << (sig - 1);
    for init in inits() {
        let mut argv = vec!["python3".to_string(), "-c".into(), WRAPPER.into()];
        argv.extend(init.argv(&[], &[], &["cat", "/proc/self/status"]));
        let out = Ns::start(&argv).finish();
        assert_eq!(out.code, 0, "{init:?}: {out:?}");
        let ign = mask(&out.stdout, "SigIgn:");
        let blk = mask(&out.stdout, "SigBlk:");
        for s in [libc::SIGTTOU, libc::SIGSEGV, libc::SIGINT] {
            assert!(
                ign & bit(s) != 0,
                "{init:?}: signal {s} not ignored: {ign:x}"
            );
        }
        for s in [libc::SIGTTIN, libc::SIGILL, libc::SIGTERM] {
            assert!(
                blk & bit(s) != 0,
                "{init:?}: signal {s} not blocked: {blk:x}"
            );
        }
        // Nothing else blocked: init's own mask is not passed on.
        let want = bit(libc::SIGTTIN) | bit(libc::SIGILL) | bit(libc::SIGTERM);
        assert_eq!(blk, want, "{init:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Exit codes

/// tini's exit code test (`-e N` with `exit N` → 0; other codes unchanged) and 128+N.
#[test]
fn exit_codes_and_remapping_match_tini() {
    if !can_run() {
        return;
    }
    let cases: &[(&str, &[Opt], i32)] = &[
        ("exit 0", &[], 0),
        ("exit 3", &[], 3),
        ("exit 255", &[], 255),
        ("kill -TERM $$", &[], 143),
        ("kill -KILL $$", &[], 137),
        ("kill -USR1 $$", &[], 138),
        ("exit 3", &[Opt::RemapToZero(3)], 0),
        ("exit 4", &[Opt::RemapToZero(3)], 4),
        ("kill -TERM $$", &[Opt::RemapToZero(143)], 0),
        ("exit 7", &[Opt::RemapToZero(3), Opt::RemapToZero(7)], 0),
    ];
    for init in inits() {
        for (script, opts, want) in cases {
            let out = as_pid1(init, opts, &[], &["sh", "-c", script]);
            assert_eq!(out.code, *want, "{init:?} {opts:?} {script}: {out:?}");
        }
    }
    // tether's generalisation: N to any M.
    let out = as_pid1(
        Init::Tether,
        &[],
        &["--remap-exit", "3:9", "--remap-exit", "143:0", "--json"],
        &["sh", "-c", "exit 3"],
    );
    assert_eq!(out.code, 9, "{out:?}");
    let r = out.report();
    assert_eq!(
        (r["child_exit"]["code"].as_i64(), r["exit_code"].as_i64()),
        (Some(3), Some(9))
    );
}

/// A command that cannot run: 127 when not found, 126 when not executable, as tini's child
/// exits (tini's outer test `-- zzzz`).
#[test]
fn commands_that_cannot_run() {
    if !can_run() {
        return;
    }
    for init in inits() {
        let out = as_pid1(init, &[], &[], &["/nonexistent/tether-zzzz"]);
        assert_eq!(out.code, 127, "{init:?}: {out:?}");
        let out = as_pid1(init, &[], &[], &["/etc/passwd"]);
        assert_eq!(out.code, 126, "{init:?}: {out:?}");
    }
    let o = common::tether(&["init", "--json", "--", "/nonexistent/tether-zzzz"]);
    assert_eq!(common::code(&o), 127);
    assert_eq!(common::json(&o)["error"]["kind"], "not_found");
    assert!(common::stderr(&o).contains("tether-zzzz"), "{o:?}");
}

/// Usage errors: tini exits 1 for each (no command, unknown option, bad -e); tether exits 2,
/// its usage-error code, with a message naming the problem.
#[test]
fn usage_errors_exit_2() {
    let cases: &[(&[&str], &[&str], &str)] = &[
        (&["init"], &[], "<CMD>"),
        (&["init", "--"], &["--"], "<CMD>"),
        (&["init", "--bogus", "true"], &["-z", "true"], "--bogus"),
        (
            &["init", "--remap-exit", "300:0", "true"],
            &["-e", "300", "true"],
            "300:0",
        ),
        (
            &["init", "--remap-exit", "3", "true"],
            &["-e", "x", "true"],
            "N:M",
        ),
        (
            &["init", "--pdeathsig", "NOPE", "true"],
            &["-p", "NOPE", "true"],
            "NOPE",
        ),
        (&["init", "--grace", "soon", "true"], &[], "soon"),
        (
            &["init", "--remap-exit", "3:0", "--remap-exit", "3:1", "true"],
            &[],
            "more than once",
        ),
    ];
    for (ours, theirs, says) in cases {
        let o = common::tether(ours);
        assert_eq!(common::code(&o), 2, "{ours:?}: {o:?}");
        assert!(common::stderr(&o).contains(says), "{ours:?}: {o:?}");
        let mut with_json = ours.to_vec();
        with_json.insert(1, "--json");
        let o = common::tether(&with_json);
        assert_eq!(common::code(&o), 2, "{ours:?}");
        assert_eq!(common::json(&o)["error"]["kind"], "invalid_argument");
        if !theirs.is_empty() && tini() {
            let t = Command::new(TINI)
                .args(*theirs)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(t.status.code(), Some(1), "tini {theirs:?}: {t:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reaping

/// Double-forks `N` short-lived processes (each orphaned at once, so init must reap it), then
/// waits until none is left, living or zombie, and prints the counts from /proc.
const REAPING: &str = r#"
import os, sys, time
N = 1000
for _ in range(N):
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            time.sleep(0.01)
            os._exit(0)
        os._exit(0)
    os.waitpid(pid, 0)
me, init = os.getpid(), os.getppid()
deadline = time.time() + 60
while True:
    zombies = others = 0
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            stat = open('/proc/%s/stat' % d).read()
        except OSError:
            continue
        if stat[stat.rindex(')') + 2] == 'Z':
            zombies += 1
        elif int(d) not in (1, me, init):
            others += 1
    if (zombies == 0 and others == 0) or time.time() > deadline:
        break
    time.sleep(0.05)
print("zombies=%d others=%d" % (zombies, others), flush=True)
"#;

/// tini's reaping test, with a thousand orphans: as PID 1, every one is reaped.
#[test]
fn a_thousand_orphans_are_reaped_as_pid1() {
    if !can_run() {
        return;
    }
    for init in inits() {
        let out = as_pid1(init, &[], &["--json"], &["python3", "-c", REAPING]);
        assert_eq!(out.code, 0, "{init:?}: {out:?}");
        assert!(
            out.stdout.contains("zombies=0 others=0"),
            "{init:?}: {out:?}"
        );
        if init == Init::Tether {
            assert_eq!(out.report()["zombies_reaped"], 1000);
        }
    }
}

/// Not PID 1: tether init becomes a child subreaper by itself (tini needs -s, else warns that
/// "zombie reaping won't work"), so orphans are reparented to it and reaped.
#[test]
fn below_pid1_init_is_the_subreaper() {
    if !can_run() {
        return;
    }
    // The orphan's parent, once its own parent has exited and been reaped, and init's PID.
    let cmd = "(sleep 1000 & echo $! > \"$D/orphan\"); \
               read -r line < /proc/$(cat \"$D/orphan\")/stat; set -- $line; \
               echo \"orphan-parent=$4 init=$PPID\"";
    let dir = tempfile::tempdir().unwrap();
    let setup = format!("export D={}; ", q(&dir.path().to_string_lossy()));
    let adopted = |out: &Out| {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with("orphan-parent="))
            .unwrap_or_else(|| panic!("{out:?}"));
        let (p, i) = line.split_once(' ').unwrap();
        p.trim_start_matches("orphan-parent=") == i.trim_start_matches("init=")
    };
    let mut runs: Vec<(Init, &[Opt], bool)> = vec![
        (Init::Tether, &[], true),
        (Init::Tether, &[Opt::Subreaper], true),
    ];
    if tini() {
        runs.push((Init::Tini, &[Opt::Subreaper], true));
        runs.push((Init::Tini, &[], false));
    }
    for (init, opts, want) in runs {
        let line = shell_line(&init.argv(opts, &[], &["sh", "-c", cmd]));
        let script = format!("{setup}{line}; echo \"init-exit=$?\"");
        let out = Ns::start(&["sh".into(), "-c".into(), script]).finish();
        assert!(out.stdout.contains("init-exit=0"), "{init:?}: {out:?}");
        assert_eq!(adopted(&out), want, "{init:?} {opts:?}: {out:?}");
        if init == Init::Tini && !want {
            assert!(out.stderr.contains("zombie reaping won't work"), "{out:?}");
        }
    }
    // And the thousand orphans, reaped by a tether init that is not PID 1.
    let out = below_pid1(
        Init::Tether,
        &[],
        &["--json"],
        &["python3", "-c", REAPING],
        "",
    );
    assert!(out.stdout.contains("zombies=0 others=0"), "{out:?}");
    assert!(out.stdout.contains("init-exit=0"), "{out:?}");
}

// ---------------------------------------------------------------------------------------------
// Leftovers: what the command leaves running when it exits

/// A grandchild that catches TERM (noting it in `$D/trapped`), tells `$D/fifo` its PID once the
/// handler is in place, and waits for signals. One process: no fork-to-exec window in which a
/// TERM would land in a shell's inherited trap instead.
const CATCHES_TERM: &str = r#"
import os, signal
def caught(*_):
    with open(os.environ["D"] + "/trapped", "a") as f:
        f.write("grandchild-got-TERM\n")
    os._exit(0)
signal.signal(signal.SIGTERM, caught)
with open(os.environ["D"] + "/fifo", "w") as f:
    f.write(str(os.getpid()))
while True:
    signal.pause()
"#;

/// The command starts a `sleep` and a grandchild that catches TERM, waits until the grandchild
/// is set up, and exits. tether then sends TERM to both (the grandchild's handler runs) before
/// it exits itself. tini exits at once: as PID 1 the kernel then SIGKILLs the namespace (the
/// handler never runs); below PID 1 the grandchild runs on, orphaned.
#[test]
fn leftovers_are_ended_by_tether_and_left_by_tini() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_string_lossy().into_owned();
    let fifo = dir.path().join("fifo");
    std::fs::write(dir.path().join("gc.py"), CATCHES_TERM).unwrap();
    let cmd = format!(
        "export D={d}; mkfifo \"$D/fifo\"; sleep 1000 & python3 \"$D/gc.py\" & \
         read p < \"$D/fifo\"; echo \"$p\" > \"$D/pid\"; exit 0",
        d = q(&d)
    );
    let trapped = dir.path().join("trapped");
    for init in inits() {
        for pid1 in [true, false] {
            let _ = std::fs::remove_file(&trapped);
            let _ = std::fs::remove_file(&fifo);
            let out = if pid1 {
                as_pid1(init, &[], &["--json"], &["sh", "-c", &cmd])
            } else {
                // After init has exited: is the grandchild still running?
                let after = format!(
                    "if kill -0 \"$(cat {p})\" 2>/dev/null; then echo grandchild-alive; else echo grandchild-gone; fi",
                    p = q(&format!("{d}/pid"))
                );
                below_pid1(
                    init,
                    &[Opt::Subreaper],
                    &["--json"],
                    &["sh", "-c", &cmd],
                    &after,
                )
            };
            let got_term = std::fs::read_to_string(&trapped).unwrap_or_default();
            match init {
                Init::Tether => {
                    assert!(
                        got_term.contains("grandchild-got-TERM"),
                        "pid1={pid1}: {out:?}"
                    );
                    let r = out.report();
                    let ended = r["leftovers"]["signalled"].as_array().unwrap();
                    assert_eq!(ended.len(), 2, "the sleep and the grandchild: {r}");
                    assert!(
                        r["leftovers"]["killed"].as_array().unwrap().is_empty(),
                        "{r}"
                    );
                    if !pid1 {
                        assert!(out.stdout.contains("grandchild-gone"), "{out:?}");
                    }
                }
                Init::Tini => {
                    assert!(got_term.is_empty(), "pid1={pid1}: {out:?}");
                    if !pid1 {
                        assert!(out.stdout.contains("grandchild-alive"), "{out:?}");
                    }
                }
            }
            assert!(
                out.code == 0 || out.stdout.contains("init-exit=0"),
                "{init:?} pid1={pid1}: {out:?}"
            );
        }
    }
}

/// Leftovers that ignore TERM (a hostile tree: a setsid escaper and a double-forked daemon)
/// are killed after --grace; nothing survives, and the report says who was killed.
#[test]
fn leftovers_that_ignore_term_are_killed_after_the_grace() {
    if !can_run() {
        return;
    }
    let cmd = "trap '' TERM; \
               setsid sh -c 'trap \"\" TERM; sleep 1000' & \
               (sh -c 'trap \"\" TERM; exec sleep 1000' &); \
               sleep 0.2; exit 0";
    let after = "n=0; for f in /proc/[0-9]*/stat; do read -r s < \"$f\" 2>/dev/null || continue; \
                 case \"$s\" in *'(sleep)'*) n=$((n+1));; esac; done; echo \"sleeps-left=$n\"";
    let out = below_pid1(
        Init::Tether,
        &[],
        &["--json", "--grace", "0.3"],
        &["sh", "-c", cmd],
        after,
    );
    assert!(out.stdout.contains("init-exit=0"), "{out:?}");
    assert!(out.stdout.contains("sleeps-left=0"), "{out:?}");
    let r = out.report();
    assert!(
        !r["leftovers"]["killed"].as_array().unwrap().is_empty(),
        "{r}"
    );
    assert!(
        r["leftovers"]["remaining"].as_array().unwrap().is_empty(),
        "{r}"
    );
    assert_eq!(r["leftovers"]["grace_ms"], 300);
}

// ---------------------------------------------------------------------------------------------
// The terminal

/// In the terminal's foreground, both hand it to the command's process group. From the
/// background (a job of a shell with job control), tini takes the foreground anyway; tether
/// leaves it where it is.
#[test]
fn the_terminal_foreground_goes_to_the_command() {
    if !can_run() {
        return;
    }
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: script(1) is not installed");
        return;
    }
    let show = ["sh", "-c", "ps -o pgid=,tpgid= -p $$"];
    let same = |text: &str| {
        let nums: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(nums.len(), 2, "{text}");
        nums[0] == nums[1]
    };
    for init in inits() {
        for background in [false, true] {
            let line = shell_line(&init.argv(&[], &[], &show));
            let line = if background {
                format!("sh -c {}", q(&format!("set -m; {line} & wait")))
            } else {
                line
            };
            // In a PID namespace of its own, as every case: init ends nothing outside it.
            let o = Ns::start(&[
                "script".into(),
                "-qec".into(),
                line.clone(),
                "/dev/null".into(),
            ])
            .finish();
            let text = o.stdout.replace('\r', "");
            let text = text
                .lines()
                .filter(|l| !l.contains("tini") && !l.contains("Zombie") && !l.contains("To fix"))
                .collect::<String>();
            let want = !background || init == Init::Tini;
            assert_eq!(
                same(&text),
                want,
                "{init:?} background={background}: {text}"
            );
        }
    }
}
