//! GNU coreutils' own tests of `timeout` (`tests/timeout/timeout.sh`, `timeout-group.sh`,
//! `timeout-parameters.sh`, `timeout-large-parameters.sh`, `init-parent.sh`), rewritten as this
//! project's tests, with tether run through a symlink named `timeout` found in PATH, as those
//! scripts run it.
//!
//! Where Debian's GNU `timeout` (9.1) behaves the same, each case runs it too and compares.
//! Where current coreutils expects newer behaviour than 9.1 has (signal 0 and ignored signals,
//! underflowing and negative durations, a write error on stderr), tether follows the newer
//! behaviour and the case runs tether alone.
//!
//! Every script runs in a PID namespace of its own (`unshare --pid --fork --mount-proc
//! --kill-child`) and a fresh working directory: whatever a case starts dies with it, also when
//! the test fails, and nothing else on the machine can be reached.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tether");
const GNU: &str = "/usr/bin/timeout";

/// A directory whose `timeout` is one implementation, to put first in PATH.
struct Impl {
    dir: tempfile::TempDir,
    label: &'static str,
}

impl Impl {
    fn new(target: &str, label: &'static str) -> Impl {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(target, dir.path().join("timeout")).unwrap();
        Impl { dir, label }
    }

    fn path(&self) -> OsString {
        let mut p = self.dir.path().as_os_str().to_os_string();
        p.push(":");
        p.push(std::env::var_os("PATH").unwrap_or_default());
        p
    }
}

fn tether() -> Impl {
    Impl::new(BIN, "tether")
}

/// GNU's timeout, when it is installed.
fn gnu() -> Option<Impl> {
    let out = Command::new(GNU).arg("--version").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .contains("GNU coreutils")
        .then(|| Impl::new(GNU, "GNU"))
}

/// Whether the cases can run here: they need root for the PID namespaces.
fn can_run() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (PID namespaces)");
        return false;
    }
    true
}

/// What a script did.
#[derive(Debug)]
struct Out {
    /// Exit code of the script (a script that died of a signal reads as 128+N).
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Out {
    /// Stderr without the "Killed" lines a shell may add.
    fn diagnostics(&self) -> String {
        self.stderr
            .lines()
            .filter(|l| !l.starts_with("Killed"))
            .map(|l| format!("{l}\n"))
            .collect()
    }
}

/// Run `script` with `sh` in a new PID namespace, with `imp`'s `timeout` first in PATH, in the
/// C locale, in a fresh working directory prepared by `setup`.
fn sh_with(imp: &Impl, script: &str, setup: impl FnOnce(&Path)) -> Out {
    let work = tempfile::tempdir().unwrap();
    setup(work.path());
    let began = Instant::now();
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        "sh",
        "-c",
        script,
    ])
    .env("PATH", imp.path())
    .env("LC_ALL", "C")
    .current_dir(work.path())
    .stdin(Stdio::null());
    // SAFETY: prctl and signal only. If this test process dies, unshare dies, and with it (--kill-child)
    // the namespace and everything in it.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            // As a terminal's shell would start it, also when the suite runs in the background
            // (INT and QUIT ignored) or under nohup (HUP): the cases set what they ignore.
            for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let o: Output = cmd.output().expect("running unshare");
    Out {
        code: o
            .status
            .code()
            .unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0)),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        elapsed: began.elapsed(),
    }
}

fn sh(imp: &Impl, script: &str) -> Out {
    sh_with(imp, script, |_| {})
}

/// Run `script` with tether and, when installed, with GNU's timeout; check each with `check`
/// and compare what `key` picks from both.
fn equivalent<K: PartialEq + std::fmt::Debug>(
    script: &str,
    check: impl Fn(&Out),
    key: impl Fn(&Out) -> K,
) {
    let t = sh(&tether(), script);
    check(&t);
    if let Some(g) = gnu() {
        let gout = sh(&g, script);
        check(&gout);
        assert_eq!(key(&t), key(&gout), "tether {t:?}\nGNU {gout:?}\n{script}");
    }
}

fn code_is(expected: i32) -> impl Fn(&Out) {
    move |o: &Out| assert_eq!(o.code, expected, "{o:?}")
}

fn code(o: &Out) -> i32 {
    o.code
}

// ---------------------------------------------------------------------------------------------
// timeout.sh: basic operation

#[test]
fn command_that_finishes_in_time_gives_its_own_status() {
    if !can_run() {
        return;
    }
    for script in ["timeout 10 true", "timeout 1d true", "timeout 0 true"] {
        equivalent(script, code_is(0), code);
    }
    equivalent("timeout 10 sh -c 'exit 2'", code_is(2), code);
}

#[test]
fn limit_passing_gives_124() {
    if !can_run() {
        return;
    }
    equivalent("timeout .1 sleep 10", code_is(124), code);
}

#[test]
fn preserve_status_gives_the_commands_death_by_term() {
    if !can_run() {
        return;
    }
    equivalent(
        "timeout --preserve-status .1 sleep 10",
        code_is(128 + libc::SIGTERM),
        code,
    );
}

#[test]
fn signal_zero_sends_nothing_and_kill_after_ends_the_command() {
    if !can_run() {
        return;
    }
    for script in [
        "timeout -s0 -k1 .1 sleep 10",
        "timeout --signal=0 -k1 .1 sleep 10",
        "timeout --foreground -s0 -k1 .1 sleep 10",
    ] {
        // Not 124: KILL had to be sent, so 137, also with --foreground.
        equivalent(script, code_is(128 + libc::SIGKILL), code);
    }
}

#[test]
fn parent_ignoring_sigchld_does_not_confuse_the_wait() {
    if !can_run() {
        return;
    }
    // bash: dash's `trap '' CHLD` leaves SIGCHLD at its default.
    for (cmd, expected) in [("true", 0), ("sh -c 'exit 3'", 3), (".1 sleep 10", 124)] {
        let cmd = if cmd.starts_with('.') {
            cmd.to_string()
        } else {
            format!("10 {cmd}")
        };
        equivalent(
            &format!("bash -c \"(trap '' CHLD; exec timeout {cmd})\""),
            code_is(expected),
            code,
        );
    }
}

#[test]
fn a_child_started_before_exec_does_not_confuse_the_wait() {
    if !can_run() {
        return;
    }
    // GNU bug#9098: timeout exec'd by a shell that has a child already.
    let script = "out=$(sleep .1 & exec timeout .5 sh -c 'sleep 2; echo foo'); echo \"[$out] $?\"";
    equivalent(
        script,
        |o| assert_eq!(o.stdout, "[] 124\n", "{o:?}"),
        |o| o.stdout.clone(),
    );
}

#[test]
fn verbose_names_each_signal_sent_signal_zero_as_exit() {
    if !can_run() {
        return;
    }
    let expected = "timeout: sending signal EXIT to command 'sleep'\n\
                    timeout: sending signal KILL to command 'sleep'\n";
    for opt in ["-v", "--verbose"] {
        for sig in ["-s0", "--signal=0", "-sEXIT"] {
            equivalent(
                &format!("timeout {opt} {sig} -k .1 .1 sleep 10"),
                |o| assert_eq!(o.diagnostics(), expected, "{o:?}"),
                Out::diagnostics,
            );
        }
    }
    equivalent(
        "timeout -v -s INT .1 sleep 10",
        |o| {
            assert_eq!(
                o.diagnostics(),
                "timeout: sending signal INT to command 'sleep'\n"
            );
            assert_eq!(o.code, 124);
        },
        Out::diagnostics,
    );
}

#[test]
fn ignored_sigpipe_stays_ignored_in_the_command() {
    if !can_run() {
        return;
    }
    // `yes` must see EPIPE (and say so), not die of SIGPIPE: the caller ignored it.
    equivalent(
        "(trap '' PIPE; timeout 10 yes | :)",
        |o| {
            assert!(o.stderr.contains("Broken pipe"), "{o:?}");
            assert!(o.elapsed < Duration::from_secs(9), "{o:?}");
        },
        |o| o.stderr.contains("Broken pipe"),
    );
    // And a default SIGPIPE stays default: `yes` dies of it quietly.
    equivalent(
        "timeout 10 yes | :",
        |o| assert!(!o.stderr.contains("Broken pipe"), "{o:?}"),
        |o| o.stderr.clone(),
    );
}

#[test]
fn signals_the_caller_ignored_stay_ignored_but_the_timeout_signal() {
    if !can_run() {
        return;
    }
    // Newer than 9.1 (which resets every signal it handles): HUP ignored by the caller (as
    // under nohup) is still ignored by the command.
    let o = sh(
        &tether(),
        "(trap '' HUP; timeout 10 sh -c 'kill -HUP $$; echo survived')",
    );
    assert_eq!((o.code, o.stdout.as_str()), (0, "survived\n"), "{o:?}");
    // The -s signal is the exception: the command gets it at its default action, as GNU does.
    equivalent(
        "(trap '' USR1; timeout -s USR1 .2 sleep 10)",
        code_is(124),
        code,
    );
}

#[test]
fn write_error_on_stderr_never_loses_the_exit_status() {
    if !can_run() {
        return;
    }
    // GNU's case: `{ timeout -v .1 sleep 10 2>&1; echo $?; } | :` gives 124 (9.1 dies of
    // SIGPIPE). Made deterministic: stderr is a pipe whose reader is already gone.
    let (r, w) = rustix::pipe::pipe().unwrap();
    drop(r);
    let dir = tether();
    let o = Command::new(dir.dir.path().join("timeout"))
        .args(["-v", ".1", "sleep", "10"])
        .stdin(Stdio::null())
        .stderr(Stdio::from(w))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(124), "{o:?}");
    // The shell form, for good measure.
    let o = sh(
        &tether(),
        "{ timeout -v .5 sleep 10 2>&1; echo $? > status; } | :; cat status",
    );
    assert_eq!(o.stdout, "124\n", "{o:?}");
}

// ---------------------------------------------------------------------------------------------
// timeout-parameters.sh: internal errors are 125, distinct from the command's failures

#[test]
fn invalid_parameters_exit_125_with_gnus_messages() {
    if !can_run() {
        return;
    }
    for (args, message) in [
        ("invalid sleep 0", "invalid time interval 'invalid'"),
        (
            "--kill-after=invalid 1 sleep 0",
            "invalid time interval 'invalid'",
        ),
        ("42D sleep 0", "invalid time interval '42D'"),
        ("--signal=invalid 1 sleep 0", "'invalid': invalid signal"),
        ("-s 32 1 sleep 0", "'32': invalid signal"),
        ("-s ' 15' 1 sleep 0", "' 15': invalid signal"),
        ("-s RTMAX+1 1 sleep 0", "'RTMAX+1': invalid signal"),
    ] {
        let expected = format!("timeout: {message}\nTry 'timeout --help' for more information.\n");
        equivalent(
            &format!("timeout {args}"),
            |o| {
                assert_eq!(o.code, 125, "{o:?}");
                assert_eq!(o.stderr, expected, "{o:?}");
            },
            |o| o.stderr.clone(),
        );
    }
}

#[test]
fn negative_durations_are_invalid_even_when_they_underflow() {
    if !can_run() {
        return;
    }
    // Newer than 9.1, which takes ' -1e-10000' for 0.
    for d in ["' -0.1'", "' -1e-10000'", "-1"] {
        let o = sh(&tether(), &format!("timeout -- {d} sleep 0"));
        assert_eq!(o.code, 125, "{d}: {o:?}");
    }
}

#[test]
fn floating_point_and_nanosecond_durations() {
    if !can_run() {
        return;
    }
    for d in [
        "10.34",
        "9.999999999",
        "2.34e+5d",
        "0x10",
        "+5",
        " 5",
        "1e3",
    ] {
        equivalent(&format!("timeout '{d}' sleep 0"), code_is(0), code);
    }
    // Hexadecimal: 0x1p-3 is 0.125 s.
    equivalent("timeout 0x1p-3 sleep 10", code_is(124), code);
    for d in ["nan", "1e", "5 ", "1,5", ".s", "5ss", "inf5"] {
        equivalent(&format!("timeout '{d}' sleep 0"), code_is(125), code);
    }
}

#[test]
fn go_durations_are_an_extension() {
    if !can_run() {
        return;
    }
    assert_eq!(sh(&tether(), "timeout 1h30m true").code, 0);
    assert_eq!(sh(&tether(), "timeout 100ms sleep 10").code, 124);
}

#[test]
fn command_that_cannot_run_gives_126_or_127() {
    if !can_run() {
        return;
    }
    equivalent(
        "timeout 10 .",
        |o| {
            assert_eq!(o.code, 126, "{o:?}");
            assert_eq!(
                o.stderr,
                "timeout: failed to run command '.': Permission denied\n"
            );
        },
        |o| (o.code, o.stderr.clone()),
    );
    equivalent(
        "timeout 10 no_such",
        |o| {
            assert_eq!(o.code, 127, "{o:?}");
            assert_eq!(
                o.stderr,
                "timeout: failed to run command 'no_such': No such file or directory\n"
            );
        },
        |o| (o.code, o.stderr.clone()),
    );
}

// ---------------------------------------------------------------------------------------------
// timeout-large-parameters.sh: values past time_t and long double, and underflow

#[test]
fn durations_past_time_t_mean_practically_forever() {
    if !can_run() {
        return;
    }
    // TIME_T_OFLOW must not time out at once (seen on kernels whose time_t overflowed).
    equivalent("timeout 9223372036854775808 sleep 1", code_is(0), code);
    for d in [
        "4294967296",
        "9223372036854775808d",
        "2.34e+5d",
        "1.18973149535723176502e+4932",
        "inf",
    ] {
        equivalent(&format!("timeout {d} sleep 0"), code_is(0), code);
    }
    equivalent(
        "timeout -- -1.18973149535723176502e+4932 sleep 0",
        code_is(125),
        code,
    );
    // Also as a kill-after period.
    equivalent(
        "timeout -k 9223372036854775808d .1 sleep 10",
        code_is(124),
        code,
    );
}

#[test]
fn underflowing_durations_time_out_at_once() {
    if !can_run() {
        return;
    }
    // Newer than 9.1, which reads an underflow as 0 (no limit) and sleeps the 10 s.
    for d in ["1e-5000", "1e-10000", "0x1p-99999"] {
        let o = sh(&tether(), &format!("timeout {d} sleep 10"));
        assert_eq!(o.code, 124, "{d}: {o:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// init-parent.sh: timeout as PID 1 (a Docker entrypoint)

#[test]
fn works_as_pid_1_of_a_namespace() {
    if !can_run() {
        return;
    }
    for imp in std::iter::once(tether()).chain(gnu()) {
        let o = sh(
            &imp,
            "unshare --pid --fork --mount-proc timeout 10 sleep .5",
        );
        assert_eq!(o.code, 0, "{}: {o:?}", imp.label);
        assert!(
            o.elapsed >= Duration::from_millis(450),
            "{}: {o:?}",
            imp.label
        );
        let o = sh(
            &imp,
            "unshare --pid --fork --mount-proc timeout .1 sleep 10",
        );
        assert_eq!(o.code, 124, "{}: {o:?}", imp.label);
    }
}

// ---------------------------------------------------------------------------------------------
// timeout-group.sh: process groups and cascaded timeouts

/// The command of timeout-group.sh: record that it runs, stop early on USR1.
const TIMEOUT_CMD: &str = r#"#!/bin/sh
trap 'touch sig.received; exit' USR1
touch timeout.running
count=$1
until test -e sig.received || test $count = 0; do
  sleep 1
  count=$(expr $count - 1)
done
"#;

/// Wait (up to 20 s, polling as GNU's test does) for timeout.cmd to start, then (up to 2 s) for
/// the timeout process `$pid` to sleep. The command running proves the fork happened, not that
/// the parent has returned from it: GNU's handler `_exit`s 128+TERM for a signal that arrives
/// before it has stored the child's PID, which a loaded machine makes visible.
const WAIT_RUNNING: &str =
    "i=0; until test -e timeout.running || test $i = 200; do sleep .1; i=$((i+1)); done
     i=0; until { read -r st < /proc/$pid/stat; set -- $st; test \"$3\" = S; } || test $i = 200
     do sleep .01; i=$((i+1)); done";

/// Wait (up to 20 s) for timeout.cmd's trap to have run, then say so. GNU 9.1 dies of USR1
/// at once (it does not handle it), so the command may still be in its trap.
const SAY_RECEIVED: &str =
    "i=0; until test -e sig.received || test $i = 200; do sleep .1; i=$((i+1)); done
         test -e sig.received && echo received";

fn with_timeout_cmd(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("timeout.cmd");
    std::fs::write(&p, TIMEOUT_CMD).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn signal_to_the_foreground_group_reaches_the_command() {
    if !can_run() {
        return;
    }
    // group.sh leads its own group and ignores USR1 itself; timeout runs in that group with
    // USR1 back at default; the group is sent USR1, as a terminal sends Ctrl-C's INT.
    let script = format!(
        "printf '%s\\n' '#!/bin/sh' \"trap '' USR1\" \
         'env --default-signal=USR1 timeout --foreground 25 ./timeout.cmd 20 &' 'wait' > group.sh
         chmod +x group.sh
         setsid ./group.sh & pid=$!
         {WAIT_RUNNING}
         kill -USR1 -$pid
         wait
         {SAY_RECEIVED}"
    );
    for imp in std::iter::once(tether()).chain(gnu()) {
        let o = sh_with(&imp, &script, with_timeout_cmd);
        assert_eq!(o.stdout, "received\n", "{}: {o:?}", imp.label);
        assert!(o.elapsed < Duration::from_secs(15), "{}: {o:?}", imp.label);
    }
}

#[test]
fn cascaded_timeouts_pass_alrm_on_as_their_own_limit() {
    if !can_run() {
        return;
    }
    // The outer timeout sends ALRM, which the inner one reads as its own limit passing: it
    // sends USR1 to the command and exits 124, which the outer one passes on.
    let script = format!(
        "timeout -v -sALRM 30 timeout -v -sUSR1 25 ./timeout.cmd 20 & pid=$!
         {WAIT_RUNNING}
         kill -ALRM $pid
         wait $pid; echo \"status $?\"
         {SAY_RECEIVED}"
    );
    for imp in std::iter::once(tether()).chain(gnu()) {
        let o = sh_with(&imp, &script, with_timeout_cmd);
        assert_eq!(o.stdout, "status 124\nreceived\n", "{}: {o:?}", imp.label);
        assert!(o.elapsed < Duration::from_secs(15), "{}: {o:?}", imp.label);
    }
}

#[test]
fn received_alrm_counts_as_the_limit_passing() {
    if !can_run() {
        return;
    }
    // Once the command runs and timeout sleeps, timeout has its signal handling in place.
    let script = format!(
        "timeout 30 sh -c 'touch timeout.running; sleep 20' & pid=$!
         {WAIT_RUNNING}
         kill -ALRM $pid; wait $pid; echo $?"
    );
    equivalent(
        &script,
        |o| assert_eq!(o.stdout, "124\n", "{o:?}"),
        |o| o.stdout.clone(),
    );
}

// ---------------------------------------------------------------------------------------------
// The `timeout` link's own interface: GNU's option syntax, --help and --version

#[test]
fn usage_errors_exit_125_with_getopts_messages() {
    if !can_run() {
        return;
    }
    for args in [
        "",
        "5",
        "--bogus 1 true",
        "-x 5 true",
        "-h",
        "-s",
        "--signal",
        "-k",
        "--kill-after",
        "--v 1 true",
        "--foreground=x 1 true",
        "--help=x",
    ] {
        equivalent(
            &format!("timeout {args}"),
            |o| {
                assert_eq!(o.code, 125, "{args}: {o:?}");
                assert!(
                    o.stderr
                        .ends_with("Try 'timeout --help' for more information.\n"),
                    "{args}: {o:?}"
                );
            },
            |o| o.stderr.clone(),
        );
    }
}

#[test]
fn options_end_at_the_first_operand_and_may_be_abbreviated() {
    if !can_run() {
        return;
    }
    equivalent(
        "timeout 5 -v true",
        |o| {
            assert_eq!(o.code, 127, "{o:?}");
            assert_eq!(
                o.stderr,
                "timeout: failed to run command '-v': No such file or directory\n"
            );
        },
        |o| (o.code, o.stderr.clone()),
    );
    for args in [
        "--pres .1 sleep 10",
        "--sig=KILL .1 sleep 10",
        "--fore -vvsINT .1 sleep 10",
        "--kill 1 -- .1 sleep 10",
    ] {
        equivalent(
            &format!("timeout {args}"),
            |_| {},
            |o| (o.code, o.diagnostics()),
        );
    }
}

#[test]
fn help_and_version_in_gnus_layout() {
    if !can_run() {
        return;
    }
    let t = sh(&tether(), "timeout --help");
    assert_eq!(t.code, 0, "{t:?}");
    let mut lines = t.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("Usage: timeout [OPTION] DURATION COMMAND [ARG]...")
    );
    assert_eq!(lines.next(), Some("  or:  timeout [OPTION]"));
    for ours in ["--contain=MODE", "--report=FILE", "--json"] {
        assert!(t.stdout.contains(ours), "{ours}: {}", t.stdout);
    }
    let v = sh(&tether(), "timeout --version");
    assert_eq!(v.code, 0);
    assert_eq!(
        v.stdout.lines().next().unwrap(),
        format!("timeout (tether) {}", env!("CARGO_PKG_VERSION"))
    );
    let Some(g) = gnu() else { return };
    let gh = sh(&g, "timeout --help");
    // Every option GNU lists, in GNU's layout (the option column), is in ours.
    for line in gh.stdout.lines() {
        let l = line.trim_start();
        if l.starts_with('-') {
            let opt = l.split_whitespace().next().unwrap();
            assert!(
                t.stdout.lines().any(|x| x.trim_start().starts_with(opt)),
                "{opt} missing from:\n{}",
                t.stdout
            );
        }
    }
    assert_eq!(
        gh.stdout.lines().take(2).collect::<Vec<_>>(),
        t.stdout.lines().take(2).collect::<Vec<_>>()
    );
    // The version is the first line, then the license, a blank line and a last word.
    let gv = sh(&g, "timeout --version");
    assert_eq!(
        gv.stdout.lines().position(str::is_empty),
        v.stdout.lines().position(str::is_empty)
    );
}
