//! The CLI's surface, the same for every command (README "Conventions"):
//!
//! - write errors: to `/dev/full`, one `tether: write error: …` line and exit 1; to a closed
//!   pipe, quiet, with the status the command would have had; never a panic;
//! - text that other processes control (names, command lines, paths) never reaches the
//!   terminal raw in human output, and is exact in JSON;
//! - one dialect: `--json` before or after the command name, usage errors as
//!   `tether.error/v1`, rail refusals that name `--force`;
//! - `ps`: `--no-headers`, multi-key `--sort`, lines cut to the terminal's width unless `--wide`.
//!
//! Every process a test acts on is one it started itself.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;
use common::{bin, code, json, sleeper, stderr, stdout, tether, ChildGuard};

// ---------------------------------------------------------------------------------------------
// Write errors

/// `PROG ARGS` (tether under another name) with this stdout; stderr is captured.
fn run_prog_to(prog: &Path, args: &[&str], out: Stdio) -> Output {
    Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .output()
        .expect("running tether")
}

/// `/dev/full`: every write fails with ENOSPC.
fn dev_full() -> Stdio {
    Stdio::from(
        File::options()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

/// The write end of a pipe whose read end is already closed: every write fails with EPIPE.
fn closed_pipe() -> Stdio {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    drop(read);
    Stdio::from(write)
}

/// `PROG ARGS >/dev/full`: one write-error line, exit 1, no panic.
fn assert_full_fails_prog(prog: &Path, args: &[&str]) {
    let o = run_prog_to(prog, args, dev_full());
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{args:?} >/dev/full: {err}");
    assert_eq!(
        err.matches("tether: write error: ").count(),
        1,
        "{args:?} >/dev/full says so once: {err}"
    );
    assert!(err.contains("No space left on device"), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
}

/// `PROG ARGS | (exec 0<&-; ...)`: quiet, and the status it would have had.
fn assert_closed_pipe_quiet_prog(prog: &Path, args: &[&str], status: i32) {
    let o = run_prog_to(prog, args, closed_pipe());
    let err = stderr(&o);
    assert_eq!(code(&o), status, "{args:?} to a closed pipe: {err}");
    assert!(!err.contains("write error"), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
}

fn assert_full_fails(args: &[&str]) {
    assert_full_fails_prog(Path::new(bin()), args);
}

fn assert_closed_pipe_quiet(args: &[&str], status: i32) {
    assert_closed_pipe_quiet_prog(Path::new(bin()), args, status);
}

/// Both, for a command whose normal exit status is `status`.
fn assert_write_errors(args: &[&str], status: i32) {
    assert_full_fails(args);
    assert_closed_pipe_quiet(args, status);
}

#[test]
fn write_errors_ps() {
    let s = sleeper();
    let pid = s.pid().to_string();
    for args in [
        vec!["ps"],
        vec!["ps", "--json"],
        vec!["--json", "ps"],
        vec!["ps", "--tree"],
        vec!["ps", "--tree", "--json"],
        vec!["ps", "--no-headers", "--sort=-rss,pid"],
        vec!["ps", "--pid", &pid, "--fields", "pid,name,identity"],
    ] {
        assert_write_errors(&args, 0);
    }
}

#[test]
fn write_errors_tree_info_kill_fds() {
    let s = sleeper();
    let pid = s.pid().to_string();
    for args in [
        vec!["tree", &pid],
        vec!["tree", &pid, "--json"],
        vec!["info", &pid],
        vec!["info", &pid, "--json"],
        vec!["kill", "--dry-run", &pid],
        vec!["kill", "--dry-run", &pid, "--json"],
        vec!["fds", &pid],
        vec!["fds", &pid, "--json"],
    ] {
        assert_write_errors(&args, 0);
    }
}

#[test]
fn write_errors_signals() {
    for args in [
        vec!["signals"],
        vec!["signals", "--json"],
        vec!["signals", "15", "KILL"],
    ] {
        assert_write_errors(&args, 0);
    }
}

#[test]
fn write_errors_ports_and_who() {
    // This test process holds the port, so `who` has an owner to show.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    for args in [
        vec!["ports"],
        vec!["ports", "--json"],
        vec!["ports", "--tcp", "--port", &port],
        vec!["who", &port],
        vec!["who", &port, "--json"],
    ] {
        assert_write_errors(&args, 0);
    }
}

#[test]
fn write_errors_wait() {
    // The process outlives the wait: "still running", 124.
    let s = sleeper();
    let pid = s.pid().to_string();
    assert_write_errors(&["wait", "--timeout", "0.1", &pid], 124);
    assert_write_errors(&["wait", "--timeout", "0.1", &pid, "--json"], 124);
}

#[test]
fn write_errors_stop() {
    for json in [false, true] {
        for full in [false, true] {
            let s = sleeper();
            let pid = s.pid().to_string();
            let mut args = vec!["stop", "--grace", "5", &pid];
            if json {
                args.push("--json");
            }
            if full {
                assert_full_fails(&args);
            } else {
                assert_closed_pipe_quiet(&args, 0);
            }
            drop(s);
        }
    }
}

#[test]
fn write_errors_wait_for() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ready");
    std::fs::write(&f, "x").unwrap();
    let target = format!("file:{}", f.display());
    assert_write_errors(&["wait-for", "--timeout", "10", &target, "--json"], 0);
}

#[test]
fn write_errors_help_and_version() {
    for args in [
        vec!["--help"],
        vec!["-h"],
        vec!["--version"],
        vec!["-V"],
        vec!["help"],
        vec!["help", "ps"],
        vec!["ps", "--help"],
        vec!["wait", "--help"],
        vec!["--json", "stop", "--help"],
    ] {
        assert_write_errors(&args, 0);
    }
}

/// `run` follows GNU `timeout`'s exit codes: a failed write of its own output (help, version,
/// the `--json` report) is its own failure, 125, as GNU's `timeout --help >/dev/full` is; a
/// closed pipe is quiet (GNU dies of SIGPIPE there; tether's rule for every command applies).
fn assert_run_write_errors(prog: &Path, args: &[&str], name: &str, status: i32) {
    let o = run_prog_to(prog, args, dev_full());
    let err = stderr(&o);
    assert_eq!(code(&o), 125, "{name} {args:?} >/dev/full: {err}");
    assert_eq!(
        err.matches(&format!("{name}: write error: ")).count(),
        1,
        "{name} {args:?} >/dev/full: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_closed_pipe_quiet_prog(prog, args, status);
}

#[test]
fn write_errors_run() {
    let tether = Path::new(bin());
    assert_run_write_errors(tether, &["run", "--help"], "tether run", 0);
    assert_run_write_errors(tether, &["run", "--json", "--", "true"], "tether run", 0);
    assert_run_write_errors(tether, &["run", "--json", "--", "false"], "tether run", 1);
    assert_run_write_errors(tether, &["--json", "run", "--", "true"], "tether run", 0);
}

/// Through a `timeout` link: the same as GNU `timeout`, run side by side.
#[test]
fn write_errors_timeout_link_like_gnu() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("timeout");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    for args in [["--help"], ["--version"]] {
        let gnu = run_prog_to(Path::new("timeout"), &args, dev_full());
        let ours = run_prog_to(&link, &args, dev_full());
        assert_eq!(
            code(&ours),
            code(&gnu),
            "timeout {args:?}: {}",
            stderr(&ours)
        );
        assert_eq!(stderr(&ours), stderr(&gnu), "timeout {args:?}");
        assert_run_write_errors(&link, &args, "timeout", 0);
    }
}

#[test]
fn write_errors_of_error_reports() {
    // A process that is gone (reaped): not found, 1.
    let mut c = Command::new("true").spawn().unwrap();
    let gone = c.id().to_string();
    c.wait().unwrap();
    assert_write_errors(&["--json", "info", &gone], 1);
    // A bad value (the library's usage error) and a bad flag (clap's), both with --json.
    assert_write_errors(&["--json", "ps", "--sort", "nosuch"], 2);
    assert_write_errors(&["--json", "ps", "--bogus"], 2);
    assert_write_errors(&["ps", "--bogus", "--json"], 2);
}

/// `tether ps | head -c 100`: the reader leaves while tether still writes; quiet, exit 0.
#[test]
fn reader_leaving_midway_is_quiet() {
    // A command line of 120 kB, well past a pipe's buffer.
    let mut s = ChildGuard::spawn(Command::new("sleep").arg0("a".repeat(120_000)).arg("300"));
    let pid = s.pid().to_string();
    let mut t = Command::new(bin())
        .args(["ps", "--pid", &pid, "--fields", "pid,cmdline"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    t.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // The read end is closed now (dropped above).
    let o = t.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert!(!s.exited(), "the listed process is still there");
}

// ---------------------------------------------------------------------------------------------
// Terminal injection

/// A name that clears the screen and forges a table row when printed raw.
const HOSTILE: &str = "x\x1b[2J\nFAKE 1 root";
/// How it looks escaped.
const ESCAPED: &str = "x\\x1b[2J\\nFAKE";

/// Processes whose name, executable path and command line are [`HOSTILE`].
struct Hostile {
    dir: tempfile::TempDir,
    /// `sleep`, copied to a file named HOSTILE and run with HOSTILE as argv[0].
    sleeper: ChildGuard,
}

impl Hostile {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join(HOSTILE);
        std::fs::copy(which("sleep"), &exe).unwrap();
        // Another test thread may fork while the copy's write fd is open; its child holds that
        // fd until it execs, and exec of the copy meanwhile fails with ETXTBSY: try again.
        let mut tries = 0;
        let sleeper = loop {
            let mut cmd = Command::new(&exe);
            cmd.arg0(HOSTILE)
                .arg("300")
                .stdin(Stdio::null())
                .process_group(0);
            match cmd.spawn() {
                Ok(c) => break ChildGuard(c),
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("spawning the hostile sleeper: {e}"),
            }
        };
        wait_for_exec(sleeper.pid(), &exe);
        Hostile { dir, sleeper }
    }

    fn pid(&self) -> String {
        self.sleeper.pid().to_string()
    }
}

/// A server named HOSTILE (a symlink so named, run as the program: its comm) that listens on
/// TCP and on a Unix socket named HOSTILE, and holds open a file named HOSTILE.
fn hostile_server(dir: &Path) -> (ChildGuard, String) {
    let python = python_executable();
    let link = dir.join(format!("py{HOSTILE}"));
    std::os::unix::fs::symlink(&python, &link).unwrap();
    let script = r#"
import os, socket, sys, time
d, name = sys.argv[1], sys.argv[2]
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
u = socket.socket(socket.AF_UNIX); u.bind(os.path.join(d, "u" + name)); u.listen(4)
f = open(os.path.join(d, "f" + name), "w")
print(s.getsockname()[1], flush=True)
time.sleep(600)
"#;
    let mut g = ChildGuard::spawn(
        Command::new(&link)
            .args(["-c", script])
            .arg(dir)
            .arg(HOSTILE)
            .stdout(Stdio::piped()),
    );
    let mut line = String::new();
    BufReader::new(g.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (g, line.trim().to_string())
}

/// The real Python binary (not a launcher script, which a symlink could not stand in for).
fn python_executable() -> PathBuf {
    let o = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(o.stdout).unwrap().trim())
}

fn which(prog: &str) -> PathBuf {
    let o = Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(o.stdout).unwrap().trim())
}

/// Until `pid` runs `exe` (just after spawn it may still be the forked test).
fn wait_for_exec(pid: u32, exe: &Path) {
    let link = format!("/proc/{pid}/exe");
    for _ in 0..1000 {
        if std::fs::read_link(&link).ok().as_deref() == Some(exe) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{pid} did not exec {exe:?}");
}

/// Human output with no raw control character and no forged line, showing the escaped name.
fn assert_escaped(what: &str, text: &str) {
    assert!(
        !text.contains('\x1b'),
        "{what}: a raw ESC reaches the terminal:\n{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("FAKE")),
        "{what}: a newline in a name forges a line:\n{text}"
    );
    assert!(
        text.contains(ESCAPED),
        "{what}: the name is not shown escaped:\n{text}"
    );
}

#[test]
fn ps_tree_info_and_kill_preview_escape_names() {
    let h = Hostile::new();
    let pid = h.pid();
    for args in [
        vec!["ps", "--pid", &pid],
        vec![
            "ps",
            "--pid",
            &pid,
            "--fields",
            "pid,name,exe,cmdline,user,tty",
        ],
        vec!["ps", "--pid", &pid, "--tree"],
        vec!["ps", "--pid", &pid, "--tree", "--fields", "pid,name,exe"],
        vec!["tree", &pid],
        vec!["info", &pid],
    ] {
        let o = tether(&args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert_escaped(&format!("{args:?}"), &stdout(&o));
    }
    // kill with filters previews its matches (on stderr) and sends nothing.
    let o = tether(&["kill", "--pid", &pid]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_escaped("kill preview", &stderr(&o));
    assert!(!stdout(&o).contains('\x1b'));
    let mut h = h;
    assert!(!h.sleeper.exited(), "a preview sent a signal");
}

#[test]
fn json_keeps_names_exact() {
    let h = Hostile::new();
    let exe = h.dir.path().join(HOSTILE);
    let v = json(&tether(&[
        "ps",
        "--pid",
        &h.pid(),
        "--fields",
        "name,exe,cmdline",
        "--json",
    ]));
    let p = &v["processes"][0];
    // comm: the first 15 bytes of the file name.
    assert_eq!(p["name"], &HOSTILE[..15]);
    assert_eq!(p["exe"], exe.to_str().unwrap());
    assert_eq!(p["cmdline"][0], HOSTILE);
    let v = json(&tether(&["info", &h.pid(), "--json"]));
    assert_eq!(v["process"]["cmdline"][0], HOSTILE);
}

#[test]
fn who_ports_and_fds_escape_names_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (server, port) = hostile_server(dir.path());
    let pid = server.pid().to_string();
    for args in [
        vec!["who", &port],
        vec!["ports", "--port", &port],
        vec!["ports", "--unix"],
        vec!["fds", &pid],
    ] {
        let o = tether(&args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert_escaped(&format!("{args:?}"), &stdout(&o));
    }
    let v = json(&tether(&["who", &port, "--json"]));
    assert_eq!(v["owners"][0]["name"], &format!("py{HOSTILE}")[..15]);
}

#[test]
fn stop_port_escapes_owner_names() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = hostile_server(dir.path());
    let o = tether(&["stop", "--port", &port, "--grace", "5"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_escaped("stop --port", &format!("{}{}", stdout(&o), stderr(&o)));
}

#[test]
fn error_messages_are_escaped_on_stderr() {
    // --require-exe names the target's executable in its refusal.
    let h = Hostile::new();
    let o = tether(&["kill", "--dry-run", "--require-exe", "/bin/true", &h.pid()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!stderr(&o).contains('\x1b'), "{}", stderr(&o));
    assert!(stderr(&o).lines().count() == 1, "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// One dialect

#[test]
fn json_before_or_after_the_command_name() {
    for (a, b) in [
        (vec!["--json", "signals"], vec!["signals", "--json"]),
        (
            vec!["--json", "signals", "9"],
            vec!["signals", "9", "--json"],
        ),
    ] {
        let (x, y) = (tether(&a), tether(&b));
        assert_eq!(code(&x), 0);
        assert_eq!(x.stdout, y.stdout, "{a:?} vs {b:?}");
        assert_eq!(json(&x)["schema"], "tether.signals/v1");
    }
}

#[test]
fn usage_errors_with_json_print_an_error_document() {
    for args in [
        vec!["--json", "ps", "--bogus"],
        vec!["ps", "--bogus", "--json"],
        vec!["ps", "--json", "--sort"],
        vec!["--json", "wait"],
        vec!["--json", "nosuchcommand"],
        vec!["--json"],
        vec!["--json", "kill", "-s"],
        vec!["--json", "ports", "--port", "0"],
    ] {
        let o = tether(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["schema"], "tether.error/v1", "{args:?}");
        assert_eq!(v["error"]["kind"], "invalid_argument", "{args:?}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(!msg.is_empty() && !msg.starts_with("error:"), "{msg}");
        // The message for people is on stderr too.
        assert!(!stderr(&o).trim().is_empty(), "{args:?}");
    }
    // Without --json, stdout stays empty; after `--`, --json is an argument, not the flag.
    let o = tether(&["ps", "--bogus"]);
    assert_eq!(code(&o), 2);
    assert!(o.stdout.is_empty());
}

#[test]
fn rail_refusals_name_the_override_flag() {
    // tether's parent is this test: refused without --force (a dry run: nothing could be sent).
    let me = std::process::id().to_string();
    let o = tether(&["kill", "--dry-run", &me]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.trim_end().ends_with("(use --force to override)"),
        "{err}"
    );
    let o = tether(&["kill", "--dry-run", &me, "--json"]);
    let v = json(&o);
    assert_eq!(v["error"]["kind"], "refused");
    // JSON carries the library's words, which never name a CLI flag; stderr says it once.
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(!msg.contains("force"), "{msg}");
    assert_eq!(stderr(&o).matches("override").count(), 1, "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// ps: --no-headers, --sort with several keys, terminal width

#[test]
fn ps_no_headers() {
    let s = sleeper();
    let pid = s.pid().to_string();
    let o = tether(&["ps", "--pid", &pid, "--fields", "pid,name", "--no-headers"]);
    assert_eq!(code(&o), 0);
    assert_eq!(stdout(&o), format!("{pid} sleep\n"));
    let with = stdout(&tether(&["ps", "--pid", &pid, "--fields", "pid,name"]));
    assert_eq!(
        with.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["PID", "NAME"]
    );
}

#[test]
fn ps_sort_by_several_keys() {
    // Two sleeps under a shell, two directly under this test: two parent PIDs, four PIDs.
    let sh = ChildGuard::spawn(Command::new("sh").args(["-c", "sleep 300 & sleep 300 & wait"]));
    let (a, b) = (sleeper(), sleeper());
    let kids = wait_children(sh.pid(), 2);
    let mut pids: Vec<u32> = vec![a.pid(), b.pid()];
    pids.extend(&kids);
    let list = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let rows = |sort: &[&str]| -> Vec<(u64, u64)> {
        let mut args = vec!["ps", "--pid", &list, "--fields", "pid,ppid", "--json"];
        args.extend(sort);
        json(&tether(&args))["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["ppid"].as_u64().unwrap(), p["pid"].as_u64().unwrap()))
            .collect()
    };
    let mut expect = rows(&[]);
    expect.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    assert_eq!(rows(&["--sort=-ppid,pid"]), expect);
    assert_eq!(rows(&["--sort", "-ppid", "--sort", "pid"]), expect);
    expect.sort_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
    assert_eq!(rows(&["--sort=ppid,-pid"]), expect);
    // The table has the same order.
    let o = tether(&[
        "ps",
        "--pid",
        &list,
        "--fields",
        "pid",
        "--sort=ppid,-pid",
        "--no-headers",
    ]);
    let shown: Vec<u64> = stdout(&o)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(shown, expect.iter().map(|r| r.1).collect::<Vec<_>>());
    let o = tether(&["ps", "--sort=-rss,nosuch"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

/// The children of `parent` (from /proc), once there are `n`.
fn wait_children(parent: u32, n: usize) -> Vec<u32> {
    for _ in 0..1000 {
        let path = format!("/proc/{parent}/task/{parent}/children");
        let kids: Vec<u32> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        if kids.len() >= n {
            return kids;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{parent} did not start {n} children");
}

/// Run tether with stdout on a new pseudo-terminal of `cols` columns; what it printed, with the
/// terminal's `\r\n` turned back into `\n`.
fn on_terminal(args: &[&str], cols: u16, env_columns: Option<&str>) -> (i32, String) {
    let (mut master, slave) = openpty(cols);
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave))
        .stderr(Stdio::piped())
        .env_remove("COLUMNS");
    if let Some(c) = env_columns {
        cmd.env("COLUMNS", c);
    }
    let mut child = cmd.spawn().unwrap();
    // Our copy of the slave is gone (moved into the Command, dropped with it): once tether
    // exits, reading the master ends with EIO.
    drop(cmd);
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
    }
    let status = child.wait().unwrap().code().unwrap();
    (status, String::from_utf8_lossy(&text).replace("\r\n", "\n"))
}

fn openpty(cols: u16) -> (File, OwnedFd) {
    let (mut m, mut s) = (-1, -1);
    let ws = libc::winsize {
        ws_row: 24,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds we then own.
    let r = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
    assert_eq!(r, 0, "openpty");
    // SAFETY: both fds were just opened and are ours.
    let (m, s) = unsafe { (File::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    for fd in [m.as_raw_fd(), s.as_raw_fd()] {
        // SAFETY: FD_CLOEXEC on our own fds; Stdio dups the slave onto the child's stdout.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    (m, s)
}

#[test]
fn ps_cuts_lines_to_the_terminal_unless_wide() {
    let long = format!("sleep-{}", "w".repeat(200));
    let s = ChildGuard::spawn(Command::new("sleep").arg0(&long).arg("300"));
    let pid = s.pid().to_string();
    let args = ["ps", "--pid", &pid, "--fields", "pid,cmdline"];
    let widest = |t: &str| t.lines().map(|l| l.chars().count()).max().unwrap_or(0);

    // The window size, then COLUMNS over it.
    let (st, text) = on_terminal(&args, 30, None);
    assert_eq!(st, 0, "{text}");
    assert_eq!(widest(&text), 30, "{text}");
    let (_, text) = on_terminal(&args, 30, Some("20"));
    assert_eq!(widest(&text), 20, "{text}");
    // The tree too.
    let tree = ["ps", "--pid", &pid, "--fields", "pid,cmdline", "--tree"];
    let (_, text) = on_terminal(&tree, 25, None);
    assert_eq!(widest(&text), 25, "{text}");
    // --wide / -w: never cut.
    for w in ["--wide", "-w"] {
        let mut a = args.to_vec();
        a.push(w);
        let (_, text) = on_terminal(&a, 30, None);
        assert!(text.contains(&long), "{w}: {text}");
    }
    // JSON on a terminal: never cut.
    let mut a = args.to_vec();
    a.push("--json");
    let (_, text) = on_terminal(&a, 30, None);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["processes"][0]["cmdline"][0], long.as_str());
    // Not a terminal: never cut, whatever COLUMNS says.
    let o = Command::new(bin())
        .args(args)
        .env("COLUMNS", "20")
        .output()
        .unwrap();
    assert!(stdout(&o).contains(&long));
}
