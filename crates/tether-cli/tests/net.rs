//! `tether ports`, `who`, `fds` and `wait-for` against servers the tests start on loopback.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
// `json` parses stdout and validates it against its committed schema.
use common::{json as json_of, tether, ChildGuard};

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
    let out = tether(&[
        "--json",
        "wait-for",
        &format!(":{free}"),
        "--timeout",
        "200ms",
    ]);
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
        "--pid",
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
        "--pidfile",
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
        &["wait-for", ":80", "--pid", "0"],
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
        "300ms",
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
