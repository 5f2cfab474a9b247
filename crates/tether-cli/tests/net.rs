//! `tether ports`, `who`, `fds` and `wait-for` against servers the tests start on loopback.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
// `json` parses stdout and validates it against its committed schema.
use common::{code, json as json_of, sleeper, stderr, stdout, tether, ChildGuard};

/// Run a Python script (with `args`) as a process group of its own, killed on drop, and return
/// it with the first line it prints (which tells the test that it is ready and on what port).
fn python(script: &str, args: &[&std::ffi::OsStr]) -> (ChildGuard, String) {
    let mut g = ChildGuard::spawn(
        Command::new("python3")
            .args(["-c", script])
            .args(args)
            .stdout(Stdio::piped()),
    );
    let out = g.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    (g, line.trim().to_string())
}

/// A pre-fork server: the parent binds and listens on an ephemeral loopback port, then forks
/// three workers that inherit the socket. Returns the group, the port and all four PIDs.
fn forking_server() -> (ChildGuard, u16, Vec<u32>) {
    let script = r#"
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
kids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    kids.append(pid)
print(s.getsockname()[1], os.getpid(), *kids, flush=True)
time.sleep(600)
"#;
    let (g, line) = python(script, &[]);
    let nums: Vec<u32> = line
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    (g, nums[0] as u16, nums[1..].to_vec())
}

fn pids_of(owners: &Value) -> Vec<u32> {
    let mut v: Vec<u32> = owners
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["pid"].as_u64().unwrap() as u32)
        .collect();
    v.sort();
    v
}

#[test]
fn who_and_ports_find_every_holder_of_a_shared_socket() {
    let (_g, port, mut pids) = forking_server();
    pids.sort();
    let out = tether(&["--json", "who", &port.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json_of(&out);
    assert_eq!(pids_of(&v["owners"]), pids);
    for o in v["owners"].as_array().unwrap() {
        let id = o["identity"].as_str().unwrap();
        assert!(id.starts_with(&format!("{}:", o["pid"])), "{id}");
        assert_eq!(o["name"], "python3");
    }
    let out = tether(&["--json", "who", &format!("{port}/tcp")]);
    assert_eq!(pids_of(&json_of(&out)["owners"]), pids);
    // ports: one socket, four owners.
    let out = tether(&["--json", "ports", "--tcp", "--port", &port.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    let v = json_of(&out);
    let socks = v["sockets"].as_array().unwrap();
    assert_eq!(socks.len(), 1, "{v:#}");
    assert_eq!(socks[0]["state"], "LISTEN");
    assert_eq!(socks[0]["local_addr"], "127.0.0.1");
    assert_eq!(pids_of(&socks[0]["owners"]), pids);
    // --pid narrows to sockets one of them holds; the socket still lists every holder.
    let out = tether(&["--json", "ports", "--pid", &pids[2].to_string()]);
    let v = json_of(&out);
    let socks = v["sockets"].as_array().unwrap();
    assert!(socks
        .iter()
        .all(|s| pids_of(&s["owners"]).contains(&pids[2])));
    assert!(socks.iter().any(|s| s["local_port"] == port));
    // Text output names every holder.
    let out = tether(&["who", &port.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    for p in &pids {
        assert!(text.contains(&p.to_string()), "{text}");
    }
}

#[test]
fn nobody_on_a_port_is_exit_1_for_who_and_an_empty_list_for_ports() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = tether(&["who", &port.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody holds"));
    let out = tether(&["--json", "who", &format!("{port}/udp")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["owners"], serde_json::json!([]));
    let out = tether(&["--json", "ports", "--port", &port.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_of(&out)["sockets"], serde_json::json!([]));
    for bad in [
        &["who", "0"][..],
        &["who", "80/sctp"],
        &["who", "x"],
        &["ports", "--port", "0"],
    ] {
        assert_eq!(tether(bad).status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn udp_and_unix_sockets_are_listed_with_owners() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("srv.sock");
    let script = r#"
import socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
x = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
x.bind(sys.argv[1])
x.listen(1)
print(u.getsockname()[1], flush=True)
time.sleep(600)
"#;
    let (g, line) = python(script, &[sock.as_os_str()]);
    let port = line.trim();
    let v = json_of(&tether(&["--json", "who", &format!("{port}/udp")]));
    assert_eq!(pids_of(&v["owners"]), vec![g.0.id()]);
    assert_eq!(v["sockets"][0]["state"], "UNCONN");
    let v = json_of(&tether(&["--json", "ports", "--unix"]));
    let s = v["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local_addr"] == sock.to_str().unwrap())
        .expect("unix listener");
    assert_eq!(s["socket_type"], "stream");
    assert_eq!(pids_of(&s["owners"]), vec![g.0.id()]);
}

#[test]
fn fds_show_files_sockets_and_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.txt");
    std::fs::write(&file, "0123456789").unwrap();
    let script = r#"
import socket, sys, time
f = open(sys.argv[1], "rb")
f.read(4)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(600)
"#;
    let (g, line) = python(script, &[file.as_os_str()]);
    let port: u64 = line.trim().parse().unwrap();
    let pid = g.0.id().to_string();
    let out = tether(&["--json", "fds", &pid]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json_of(&out);
    let fds = v["fds"].as_array().unwrap();
    let f = fds
        .iter()
        .find(|f| f["target"] == file.to_str().unwrap())
        .expect("the data file");
    assert_eq!(f["kind"], "file");
    // Python reads buffered: the position is past the 4 bytes asked for, at most the size.
    assert!(f["pos"].as_u64().unwrap() >= 4);
    assert_eq!(f["flag_names"][0], "O_RDONLY");
    let s = fds
        .iter()
        .find(|f| f["socket"]["local_port"] == port)
        .expect("the listener");
    assert_eq!(s["kind"], "socket");
    assert_eq!(s["socket"]["state"], "LISTEN");
    // --kind filters; an identity string is verified.
    let v = json_of(&tether(&["--json", "fds", &pid, "--kind", "socket"]));
    assert!(v["fds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["kind"] == "socket"));
    let id = v["identity"].as_str().unwrap().to_string();
    assert_eq!(tether(&["fds", &id]).status.code(), Some(0));
    let mut parts: Vec<&str> = id.split(':').collect();
    let wrong = (parts[1].parse::<u64>().unwrap() + 1).to_string();
    parts[1] = &wrong;
    assert_eq!(tether(&["fds", &parts.join(":")]).status.code(), Some(1));
    assert_eq!(
        tether(&["fds", &pid, "--kind", "bogus"]).status.code(),
        Some(2)
    );
    assert_eq!(tether(&["fds", "0"]).status.code(), Some(2));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn wait_for_exit_codes() {
    // Ready: a listener opened later by a child process.
    let port = free_port();
    let server = ChildGuard::spawn(
        Command::new("python3")
            .args([
                "-c",
                "import socket,time; time.sleep(0.3); s=socket.socket(); \
                 s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); \
                 s.bind(('127.0.0.1', int(__import__('sys').argv[1]))); s.listen(1); time.sleep(60)",
            ])
            .arg(port.to_string()),
    );
    let out = tether(&[
        "--json",
        "wait-for",
        &format!(":{port}"),
        "--timeout",
        "10s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json_of(&out);
    assert_eq!(v["outcome"], "ready");
    assert!(v["targets"][0]["time_to_ready_ms"].as_f64().unwrap() > 100.0);
    assert!(v["targets"][0]["attempts"].as_u64().unwrap() > 1);
    // --reverse sees the port freed when the server dies.
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(server);
    });
    let out = tether(&[
        "wait-for",
        "--reverse",
        &format!("127.0.0.1:{port}"),
        "--timeout",
        "10s",
    ]);
    killer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // Timeout: 124, with the last error in JSON.
    let free = free_port();
    let out = tether(&["--json", "wait-for", &format!(":{free}"), "--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(124));
    let v = json_of(&out);
    assert_eq!(v["outcome"], "timed_out");
    assert!(v["targets"][0]["last_error"].as_str().is_some());

    // The watched process dies first: 3, fast.
    let short = ChildGuard::spawn(Command::new("sleep").arg("0.2"));
    let start = Instant::now();
    let out = tether(&[
        "wait-for",
        &format!(":{free}"),
        "--timeout",
        "20s",
        "--watch-pid",
        &short.0.id().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
    // …also through a PID file.
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("app.pid");
    let short2 = ChildGuard::spawn(Command::new("sleep").arg("0.2"));
    std::fs::write(&pidfile, format!("{}\n", short2.0.id())).unwrap();
    let out = tether(&[
        "wait-for",
        &format!("file:{}", dir.path().join("never").display()),
        "--timeout",
        "20s",
        "--watch-pidfile",
        pidfile.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    drop((short, short2));

    // Usage errors: 2.
    for bad in [
        &["wait-for", "nonsense"][..],
        &["wait-for", ":80", "--timeout", "soon"],
        &["wait-for", "log:/x=("],
        &["wait-for", "http://x/", "--status", "abc"],
        &["wait-for", ":80", "--watch-pid", "0"],
        &["wait-for"],
    ] {
        assert_eq!(tether(bad).status.code(), Some(2), "{bad:?}");
    }
    let help = String::from_utf8_lossy(&tether(&["wait-for", "--help"]).stdout).to_string();
    for code in ["124", "  3 ", "owner:", "log:PATH=REGEX"] {
        assert!(help.contains(code), "{code} missing from --help");
    }
}

#[test]
fn wait_for_owner_refuses_a_port_held_by_an_unrelated_process() {
    let (_g, port, pids) = forking_server();
    let unrelated = ChildGuard::spawn(Command::new("sleep").arg("60"));
    let out = tether(&[
        "--json",
        "wait-for",
        &format!("owner:{port}={}", unrelated.0.id()),
        "--timeout",
        "2s",
    ]);
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    let v = json_of(&out);
    assert!(v["targets"][0]["last_error"]
        .as_str()
        .unwrap()
        .contains("outside the tree"));
    // The server's parent (a worker's ancestor) is the right owner.
    let out = tether(&[
        "wait-for",
        &format!("owner:{port}={}", pids[0]),
        "--timeout",
        "5s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn wait_for_log_file_and_http_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    std::fs::write(&log, "").unwrap();
    let port = free_port();
    // A server that writes its log slowly, then serves HTTP.
    let script = r#"
import http.server, sys, time
log, port = sys.argv[1], int(sys.argv[2])
for line in ["starting\n", "loading\n"]:
    time.sleep(0.1)
    open(log, "a").write(line)
srv = http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
open(log, "a").write("listening on %d\n" % port)
srv.serve_forever()
"#;
    let _srv = ChildGuard::spawn(
        Command::new("python3")
            .args(["-c", script])
            .arg(&log)
            .arg(port.to_string())
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let out = tether(&[
        "--json",
        "wait-for",
        &format!("log:{}=listening on \\d+", log.display()),
        &format!("http://127.0.0.1:{port}/"),
        &format!("file:{}", log.display()),
        "--non-empty",
        "--timeout",
        "10s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json_of(&out);
    for t in v["targets"].as_array().unwrap() {
        assert_eq!(t["ready"], true, "{t}");
    }
}

/// Live (non-zombie) members of process group `pgid`.
fn live_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f[2] == pgid.to_string() && f[0] != "Z" {
            out.push(pid);
        }
    }
    out
}

#[test]
fn stop_port_ends_the_owners_whole_tree() {
    // A pre-fork server whose workers each start a helper that does not hold the socket.
    let script = r#"
import os, socket, subprocess, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
for _ in range(2):
    if os.fork() == 0:
        subprocess.Popen(["sleep", "600"], close_fds=True)
        time.sleep(600)
        os._exit(0)
print(s.getsockname()[1], flush=True)
time.sleep(600)
"#;
    let (g, line) = python(script, &[]);
    let port = line.trim().to_string();
    // Wait until the helpers are up (1 parent + 2 workers + 2 sleeps).
    let pgid = g.0.id();
    let start = Instant::now();
    while live_members(pgid).len() < 5 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(live_members(pgid).len(), 5);
    let out = tether(&["--json", "stop", "--port", &port, "--grace", "5s"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json_of(&out);
    assert_eq!(v["owners"].as_array().unwrap().len(), 3, "{v:#}");
    assert_eq!(v["roots"], serde_json::json!([pgid]));
    assert_eq!(v["port_free"], true);
    assert!(v["stops"][0]["signalled"].as_array().unwrap().len() >= 5);
    assert_eq!(live_members(pgid), Vec::<u32>::new());
    assert_eq!(tether(&["who", &port]).status.code(), Some(1));
    // Nobody holds it now: exit 1.
    let out = tether(&["stop", "--port", &port]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody holds"));
    assert_eq!(tether(&["stop", "--port", "0"]).status.code(), Some(2));
    assert_eq!(
        tether(&["stop", "--port", "80", "123"]).status.code(),
        Some(2)
    );
}

/// Run `tether ARGS` with `socket(AF_NETLINK, …)` refused (EPERM) by a seccomp filter, as in a
/// container whose policy denies netlink: the socket tables must come from /proc/net.
fn tether_without_netlink(args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let ins = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    // seccomp_data: nr at 0, args[0] at 16 (its low 32 bits on little-endian machines).
    let filter = [
        ins(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        ins(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            0,
            3,
            libc::SYS_socket as u32,
        ),
        ins(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 16),
        ins(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            0,
            1,
            libc::AF_NETLINK as u32,
        ),
        ins(
            libc::BPF_RET | libc::BPF_K,
            0,
            0,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        ins(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let mut cmd = Command::new(common::bin());
    cmd.args(args).stdin(Stdio::null());
    // SAFETY: prctl is async-signal-safe; the filter lives until the child has exec'd (the
    // parent keeps it until `output` returns) and applies to the child only.
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &prog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().expect("running tether under seccomp")
}

/// The fields that both sources give of the sockets on `port` in a ports/who report (other
/// tests open and close sockets meanwhile).
fn socket_keys(v: &Value, port: u16) -> Vec<(String, String, u64, u64, Vec<u32>)> {
    let mut out: Vec<_> = v["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["local_port"] == port)
        .map(|s| {
            (
                s["state"].as_str().unwrap().to_string(),
                s["local_addr"].as_str().unwrap_or("").to_string(),
                s["local_port"].as_u64().unwrap_or(0),
                s["inode"].as_u64().unwrap(),
                pids_of(&s["owners"]),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn proc_net_fallback_answers_the_same_as_netlink() {
    let (_g, port, mut pids) = forking_server();
    pids.sort();
    let p = port.to_string();
    // The filter really refuses netlink (and nothing else).
    let probe = tether_without_netlink(&["--json", "ports", "--tcp"]);
    assert_eq!(code(&probe), 0, "{probe:?}");
    let v = json_of(&probe);
    assert_eq!(v["source"], "proc_net", "{v:#}");
    assert!(v["note"].as_str().unwrap().contains("netlink"), "{v:#}");
    assert!(stderr(&probe).contains("read /proc/net instead"));
    for args in [
        vec!["--json", "who", &p],
        vec!["--json", "who", &format!("{p}/tcp")],
        vec!["--json", "ports", "--tcp", "--port", &p],
        vec!["--json", "ports", "--all-states", "--tcp", "--udp"],
    ] {
        let a = tether(&args);
        let b = tether_without_netlink(&args);
        assert_eq!(code(&a), code(&b), "{args:?}: {b:?}");
        let (va, vb) = (json_of(&a), json_of(&b));
        assert_eq!(va["source"], "sock_diag");
        assert_eq!(vb["source"], "proc_net");
        assert_eq!(socket_keys(&va, port), socket_keys(&vb, port), "{args:?}");
        assert_eq!(socket_keys(&vb, port).len(), 1, "{args:?}: {vb:#}");
        if args[1] == "who" {
            assert_eq!(pids_of(&vb["owners"]), pids);
        }
    }
    // Readiness checks use the same fallback.
    let out = tether_without_netlink(&["wait-for", &format!(":{p}"), "-t", "10s"]);
    assert_eq!(code(&out), 0, "{out:?}");
    let free = free_port().to_string();
    let out = tether_without_netlink(&["wait-for", &format!("127.0.0.1:{free}"), "-t", "200ms"]);
    assert_eq!(code(&out), 124, "{out:?}");
    assert!(stderr(&out).contains("not ready after"), "{out:?}");
}

#[test]
fn port_numbers_are_checked_the_same_way_everywhere() {
    let (_g, port, _pids) = forking_server();
    for bad in [
        "0", "65536", "70000", "18085x", "+80", "-1", "x", "", "80/sctp",
    ] {
        let url = format!("http://127.0.0.1:{bad}/");
        let mut cases: Vec<Vec<String>> = vec![
            vec!["who".into(), bad.into()],
            vec!["ports".into(), "--port".into(), bad.into()],
            vec!["stop".into(), "--port".into(), bad.into()],
            vec!["wait-for".into(), format!(":{bad}")],
            vec!["wait-for".into(), format!("localhost:{bad}")],
            vec!["wait-for".into(), format!("tcp://127.0.0.1:{bad}")],
            vec!["wait-for".into(), format!("owner:{bad}=1")],
        ];
        // (In a URL, "80/sctp" is port 80 and a path.)
        if !bad.contains('/') {
            cases.push(vec!["wait-for".into(), url.clone()]);
            cases.push(vec!["wait-for".into(), url.to_uppercase()]);
        }
        for c in cases {
            let mut args: Vec<&str> = vec!["--json"];
            args.extend(c.iter().map(String::as_str));
            // A short deadline, so that a wrongly accepted target fails the test quickly.
            if c[0] == "wait-for" {
                args.extend(["-t", "100ms"]);
            }
            let out = tether(&args);
            assert_eq!(code(&out), 2, "{args:?}: {out:?}");
            // ("-1" looks like an option to the argument parser, which rejects it itself.)
            if !bad.starts_with('-') {
                assert_eq!(json_of(&out)["schema"], "tether.error/v1");
            }
        }
    }
    // PORT/tcp and PORT/udp are accepted by ports --port as by who.
    let p = port.to_string();
    let v = json_of(&tether(&["--json", "ports", "--port", &format!("{p}/tcp")]));
    assert_eq!(v["sockets"].as_array().unwrap().len(), 1, "{v:#}");
    let v = json_of(&tether(&["--json", "ports", "--port", &format!("{p}/udp")]));
    assert_eq!(v["sockets"], serde_json::json!([]));
    assert_eq!(
        code(&tether(&["ports", "--udp", "--port", &format!("{p}/tcp")])),
        2
    );
    // A URL with an upper-case scheme is a URL; :PORT/tcp is a TCP target.
    let out = tether(&["wait-for", &format!("HTTP://127.0.0.1:{p}/"), "-t", "300ms"]);
    assert_eq!(code(&out), 124, "{out:?}");
    assert!(stderr(&out).contains(&format!("HTTP://127.0.0.1:{p}/: not ready")));
    let out = tether(&["wait-for", &format!(":{p}/tcp"), "-t", "5s"]);
    assert_eq!(code(&out), 0, "{out:?}");
}

#[test]
fn ports_pid_is_a_list_filter() {
    let (_a, pa, pids_a) = forking_server();
    let (_b, pb, pids_b) = forking_server();
    let (_c, pc, _) = forking_server();
    let ports_of = |v: &Value| -> Vec<u64> {
        let mut p: Vec<u64> = v["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["local_port"].as_u64())
            .collect();
        p.sort();
        p
    };
    let mut want = vec![pa as u64, pb as u64];
    want.sort();
    let list = format!("{},{}", pids_a[0], pids_b[1]);
    let v = json_of(&tether(&["--json", "ports", "--tcp", "--pid", &list]));
    assert_eq!(ports_of(&v), want, "{v:#}");
    assert!(!ports_of(&v).contains(&(pc as u64)));
    let (a, b) = (pids_a[0].to_string(), pids_b[1].to_string());
    let v = json_of(&tether(&[
        "--json", "ports", "--tcp", "--pid", &a, "--pid", &b,
    ]));
    assert_eq!(ports_of(&v), want);
    // A process that does not exist is an error, not an empty answer.
    let out = tether(&["ports", "--pid", &format!("{a},99999999")]);
    assert_eq!(code(&out), 1, "{out:?}");
    assert_eq!(code(&tether(&["ports", "--pid", "0"])), 2);
}

#[test]
fn human_output_escapes_process_names_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x\x1b[2J\nFAKE 1");
    std::fs::write(&file, "x").unwrap();
    let script = r#"
import ctypes, socket, sys, time
f = open(sys.argv[1], "rb")
ctypes.CDLL(None).prctl(15, b"x\x1b[2J\nFAKE 1", 0, 0, 0)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(600)
"#;
    let (g, line) = python(script, &[file.as_os_str()]);
    let port = line.trim().to_string();
    let pid = g.pid().to_string();
    for args in [
        vec!["who", port.as_str()],
        vec!["ports", "--tcp", "--port", port.as_str()],
        vec!["fds", pid.as_str()],
    ] {
        let out = tether(&args);
        assert_eq!(code(&out), 0, "{args:?}: {out:?}");
        let text = stdout(&out);
        assert!(!text.contains('\x1b'), "{args:?}: raw escape in {text:?}");
        assert!(
            !text.contains("\nFAKE"),
            "{args:?}: forged line in {text:?}"
        );
        assert!(text.contains(r"\x1b[2J\nFAKE"), "{args:?}: {text:?}");
    }
    // JSON stays exact.
    let v = json_of(&tether(&["--json", "who", &port]));
    assert_eq!(v["owners"][0]["name"], "x\x1b[2J\nFAKE 1");
}

#[test]
fn wait_for_options_are_checked_before_waiting() {
    let port = free_port().to_string();
    let tcp = format!(":{port}");
    let file = "file:/nonexistent/x";
    for args in [
        vec!["wait-for", "http://127.0.0.1:1/", "--status", "999"],
        vec!["wait-for", "http://127.0.0.1:1/", "--status", "600"],
        vec!["wait-for", &tcp, "--status", "200"],
        vec!["wait-for", &tcp, "--body", "ok"],
        vec!["wait-for", &tcp, "--insecure"],
        vec!["wait-for", &tcp, "--method", "POST"],
        vec!["wait-for", &tcp, "--header", "X: y"],
        vec!["wait-for", &tcp, "--stable", "1s"],
        vec!["wait-for", &tcp, "--non-empty"],
        vec!["wait-for", file, "--attempt-timeout", "1s"],
        vec!["wait-for", file, "--interval", "1s"],
        vec!["wait-for", "http://127.0.0.1:1/", "--method", "FETCH"],
        vec!["wait-for", "http://127.0.0.1:1/", "--header", "no colon"],
        vec![
            "wait-for",
            "http://127.0.0.1:1/",
            "--method",
            "HEAD",
            "--body",
            "x",
        ],
        vec!["wait-for", &tcp, "--attempt-timeout", "0"],
        vec!["wait-for", &tcp, "--pid", "1"],
        vec!["wait-for", &tcp, "--pidfile", "/x"],
    ] {
        // Each would wait 30 s if accepted.
        let mut a = args.clone();
        a.extend(["-t", "30s"]);
        let start = Instant::now();
        let out = tether(&a);
        assert_eq!(code(&out), 2, "{a:?}: {out:?}");
        assert!(start.elapsed() < Duration::from_secs(10), "{a:?}");
        assert!(!stderr(&out).is_empty(), "{a:?}");
    }
    let out = tether(&["wait-for", &tcp, "--stable", "1s", "-t", "5s"]);
    assert!(
        stderr(&out).contains("--stable applies only to file: targets"),
        "{out:?}"
    );
    let out = tether(&["wait-for", &tcp, "--pid", "1", "-t", "5s"]);
    assert!(stderr(&out).contains("--watch-pid"), "{out:?}");
    // -t is --timeout.
    let start = Instant::now();
    let out = tether(&["wait-for", &tcp, "-t", "200ms"]);
    assert_eq!(code(&out), 124, "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn wait_for_watch_pid_and_watch_pidfile() {
    let free = format!(":{}", free_port());
    // Not running at the start: exit 3 at once, for a PID, an identity and a PID file.
    let mut gone = sleeper();
    let id = json_of(&tether(&["--json", "info", &gone.pid().to_string()]))["process"]["identity"]
        .as_str()
        .unwrap()
        .to_string();
    let gone_pid = gone.pid().to_string();
    gone.0.kill().unwrap();
    gone.0.wait().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("gone.pid");
    std::fs::write(&pidfile, format!("{gone_pid}\n")).unwrap();
    for watch in [
        ["--watch-pid", gone_pid.as_str()],
        ["--watch-pid", id.as_str()],
        ["--watch-pidfile", pidfile.to_str().unwrap()],
    ] {
        let start = Instant::now();
        let out = tether(&["wait-for", &free, "-t", "20s", watch[0], watch[1]]);
        assert_eq!(code(&out), 3, "{watch:?}: {out:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(stderr(&out).contains("was not running"), "{out:?}");
        let out = tether(&["--json", "wait-for", &free, "-t", "20s", watch[0], watch[1]]);
        assert_eq!(code(&out), 3);
        assert_eq!(json_of(&out)["outcome"], "process_died");
    }
    // A PID file that cannot be read is a failed setup (1), not a dead process.
    let out = tether(&[
        "wait-for",
        &free,
        "--watch-pidfile",
        dir.path().join("missing.pid").to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{out:?}");
    // Dies while waited on: 3.
    let short = ChildGuard::spawn(Command::new("sleep").arg("0.3"));
    let out = tether(&[
        "wait-for",
        &free,
        "-t",
        "20s",
        "--watch-pid",
        &short.pid().to_string(),
    ]);
    assert_eq!(code(&out), 3, "{out:?}");
    assert!(stderr(&out).contains("exited first"), "{out:?}");
}

#[test]
fn wait_for_messages_read_well() {
    // One attempt: singular (an exit: target is checked once, then woken by its pidfd).
    let running = sleeper();
    let target = format!("exit:{}", running.pid());
    let out = tether(&["wait-for", &target, "-t", "300ms"]);
    assert_eq!(code(&out), 124, "{out:?}");
    assert!(
        stderr(&out).contains(&format!(
            "{target}: not ready after 1 attempt: process {} is running",
            running.pid()
        )),
        "{out:?}"
    );
    // --reverse on a port that stays open: "still ready", never "not not ready".
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    let out = tether(&["wait-for", "--reverse", &format!(":{p}"), "-t", "200ms"]);
    assert_eq!(code(&out), 124, "{out:?}");
    let err = stderr(&out);
    assert!(err.contains(&format!(":{p}: still ready after")), "{err}");
    assert!(!err.contains("not not"), "{err}");
    // A request nobody answers: the attempt timeout in words, not "timeout: global".
    let out = tether(&[
        "wait-for",
        &format!("http://127.0.0.1:{p}/"),
        "-t",
        "2s",
        "--attempt-timeout",
        "300ms",
    ]);
    assert_eq!(code(&out), 124, "{out:?}");
    let err = stderr(&out);
    assert!(err.contains("no answer within"), "{err}");
    assert!(!err.contains("timeout: global"), "{err}");
    drop(l);
    // https against a plain http server.
    let dir = tempfile::tempdir().unwrap();
    let (_srv, line) = python(
        "import http.server, sys\n\
         srv = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n\
         print(srv.server_address[1], flush=True)\n\
         srv.serve_forever()\n",
        &[dir.path().as_os_str()],
    );
    let out = tether(&[
        "wait-for",
        &format!("https://127.0.0.1:{line}/"),
        "-t",
        "3s",
    ]);
    assert_eq!(code(&out), 124, "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains(
            "TLS handshake failed: the server did not answer with TLS (is it plain http?)"
        ),
        "{err}"
    );
    assert!(!err.contains("InvalidContentType"), "{err}");
}

/// An HTTP server that answers 200 only to `POST` with `X-Probe: yes`, 405 otherwise.
const PICKY_SERVER: &str = r#"
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        ok = self.command == "POST" and self.headers.get("X-Probe") == "yes"
        body = b"probed" if ok else b"no"
        self.send_response(200 if ok else 405)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_HEAD = answer
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

#[test]
fn wait_for_http_method_and_headers() {
    let (_srv, port) = python(PICKY_SERVER, &[]);
    let url = format!("http://127.0.0.1:{port}/health");
    let out = tether(&[
        "wait-for",
        &url,
        "--method",
        "post",
        "--header",
        "X-Probe: yes",
        "--body",
        "^probed$",
        "-t",
        "10s",
    ]);
    assert_eq!(code(&out), 0, "{out:?}");
    // Long enough for an answer from the (Python) server on a loaded machine: the error is
    // that of the last attempt that finished.
    let out = tether(&["--json", "wait-for", &url, "-t", "2s"]);
    assert_eq!(code(&out), 124, "{out:?}");
    assert_eq!(json_of(&out)["targets"][0]["last_error"], "status 405");
    let out = tether(&["wait-for", &url, "--method", "POST", "-t", "300ms"]);
    assert_eq!(code(&out), 124, "{out:?}");
}

#[test]
fn wait_for_then_exec_a_command() {
    let dir = tempfile::tempdir().unwrap();
    // Ready: tether becomes the command (same PID), whose exit status is the status.
    let child = Command::new(common::bin())
        .args([
            "wait-for",
            "cmd:true",
            "-q",
            "--",
            "sh",
            "-c",
            "echo $$; exit 7",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), pid.to_string());
    // Never ready: the command does not run, and the status says why.
    let marker = dir.path().join("ran");
    let free = format!(":{}", free_port());
    let out = tether(&[
        "wait-for",
        &free,
        "-t",
        "200ms",
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 124, "{out:?}");
    assert!(!marker.exists());
    // With the arguments after -- passed as they are (options of tether's too).
    let out = tether(&["wait-for", "cmd:true", "-q", "--", "echo", "-t", "--json"]);
    assert_eq!(code(&out), 0, "{out:?}");
    assert_eq!(stdout(&out), "-t --json\n");
    // A command that cannot be found or run: 127, 126.
    let out = tether(&["wait-for", "cmd:true", "--", "/nonexistent/cmd"]);
    assert_eq!(code(&out), 127, "{out:?}");
    let out = tether(&["wait-for", "cmd:true", "--", dir.path().to_str().unwrap()]);
    assert_eq!(code(&out), 126, "{out:?}");
    // Not with --json: the report and the command's output would share stdout.
    let out = tether(&["--json", "wait-for", "cmd:true", "--", "true"]);
    assert_eq!(code(&out), 2, "{out:?}");
    let help = stdout(&tether(&["wait-for", "--help"]));
    for s in [
        "-- CMD",
        "--attempt-timeout",
        "--method",
        "--header",
        "--watch-pid",
        "-t, --timeout",
    ] {
        assert!(help.contains(s), "{s} missing from --help");
    }
}
