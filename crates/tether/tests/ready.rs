//! Readiness waits against real listeners, HTTP servers, Unix sockets, files and logs that the
//! tests themselves start on loopback and in temporary directories.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tether::ready::{wait_for, Cancel, Outcome, Target, WaitOptions, Watch};

/// A child process killed and reaped on drop.
struct Kid(Child);
impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sleeper() -> Kid {
    Kid(Command::new("sleep").arg("60").spawn().unwrap())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn opts(timeout_ms: u64) -> WaitOptions {
    let mut o = WaitOptions::default();
    o.timeout = Some(Duration::from_millis(timeout_ms));
    o
}

/// Fractional milliseconds to ready.
fn ttr_ms(t: &tether::ready::TargetOutcome) -> f64 {
    t.time_to_ready.unwrap().as_secs_f64() * 1e3
}

fn t(s: &str) -> Target {
    s.parse().unwrap()
}

#[test]
fn tcp_ready_when_listener_opens_later() {
    let port = free_port();
    let (tx, rx) = std::sync::mpsc::channel();
    let opener = thread::spawn(move || {
        // Late enough that a plain exponential backoff would be at long delays by now.
        thread::sleep(Duration::from_millis(1100));
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        tx.send(Instant::now()).unwrap();
        thread::sleep(Duration::from_millis(1500));
        drop(l);
    });
    let r = wait_for(vec![t(&format!("127.0.0.1:{port}"))], &opts(5000), None).unwrap();
    let seen = Instant::now();
    let opened = rx.recv().unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    let ttr = ttr_ms(&r.targets[0]);
    assert!(ttr >= 1090.0, "{ttr}");
    // The local socket-table check keeps a short cap while nothing listens: the opening is
    // seen long before a one-second backoff step would come round.
    let lag = seen.duration_since(opened);
    assert!(lag < Duration::from_millis(300), "{lag:?}");
    assert!(r.targets[0].attempts > 20);
    opener.join().unwrap();
}

#[test]
fn tcp_timeout_reports_last_error() {
    let port = free_port();
    let start = Instant::now();
    let r = wait_for(vec![t(&format!(":{port}"))], &opts(300), None).unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut);
    assert!(!r.ready());
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_millis(1500));
    let err = r.targets[0].last_error.as_deref().unwrap();
    assert!(
        err.contains("nothing listens") || err.contains("refused"),
        "{err}"
    );
}

#[test]
fn reverse_sees_a_port_freed() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let closer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        drop(l);
    });
    let mut o = opts(5000);
    o.reverse = true;
    let r = wait_for(vec![t(&format!("127.0.0.1:{port}"))], &o, None).unwrap();
    closer.join().unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    assert!(ttr_ms(&r.targets[0]) >= 190.0);
}

#[test]
fn cancel_ends_a_blocked_wait_at_once() {
    // A port nobody opens and a file that never appears, with no deadline: only the cancel
    // can end this wait.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cancel = Cancel::new().unwrap();
    let mut o = WaitOptions::default();
    o.cancel = Some(cancel.clone());
    let targets = vec![
        t(&format!("127.0.0.1:{port}")),
        t(&format!("file:{}", dir.path().join("never").display())),
    ];
    let waiter = thread::spawn(move || wait_for(targets, &o, None).unwrap());
    thread::sleep(Duration::from_millis(200));
    assert!(!cancel.is_cancelled());
    let cancelled_at = Instant::now();
    cancel.cancel();
    let r = waiter.join().unwrap();
    assert_eq!(r.outcome, Outcome::Cancelled, "{r:?}");
    assert!(!r.ready());
    assert!(cancel.is_cancelled());
    // Woken by the eventfd, not by the next backoff step of a check (generous under load).
    assert!(cancelled_at.elapsed() < Duration::from_secs(2));
    assert!(
        r.targets.iter().all(|t| !t.ready && t.attempts > 0),
        "{r:?}"
    );
}

#[test]
fn cancelled_before_the_start_makes_no_check() {
    let cancel = Cancel::new().unwrap();
    cancel.cancel();
    cancel.cancel(); // twice is the same as once
    let mut o = opts(5000);
    o.cancel = Some(cancel);
    let r = wait_for(vec![t(&format!(":{}", free_port()))], &o, None).unwrap();
    assert_eq!(r.outcome, Outcome::Cancelled);
    assert_eq!(r.targets[0].attempts, 0);
}

/// A tiny HTTP server: answers `503` to the first `fail_first` requests, then `200 ok: ready`.
fn http_server(fail_first: usize) -> (u16, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let hits = Arc::new(AtomicUsize::new(0));
    let (s2, h2) = (stop.clone(), hits.clone());
    thread::spawn(move || {
        while !s2.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((mut c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    let mut buf = [0u8; 4096];
                    let _ = c.read(&mut buf);
                    let n = h2.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = if n < fail_first {
                        ("503 Service Unavailable", "starting")
                    } else {
                        ("200 OK", "ok: ready")
                    };
                    let _ = write!(
                        c,
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
                Err(_) => thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    (port, stop, hits)
}

#[test]
fn http_waits_for_an_accepted_status_and_body() {
    let (port, stop, hits) = http_server(3);
    let mut o = opts(5000);
    o.http.body = Some(regex::Regex::new("ready").unwrap());
    o.interval = Duration::from_millis(50);
    let r = wait_for(
        vec![t(&format!("http://127.0.0.1:{port}/health"))],
        &o,
        None,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    assert_eq!(r.targets[0].attempts, 4);
    assert!(hits.load(Ordering::SeqCst) >= 4);
    // A status list that excludes 200 never becomes ready, and says why.
    let mut o = opts(300);
    o.http.status = vec![(204, 204)];
    let r = wait_for(vec![t(&format!("http://127.0.0.1:{port}/"))], &o, None).unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut);
    // The last attempt says why; under load, the one started just before the deadline may
    // have had only a few milliseconds left and say that instead.
    let last = r.targets[0].last_error.as_deref().unwrap_or("");
    assert!(
        last == "status 200" || last.starts_with("no answer within"),
        "{r:?}"
    );
    stop.store(true, Ordering::SeqCst);
}

/// An HTTPS server with a self-signed certificate (openssl + python3), killed on drop.
struct TlsServer {
    _kid: Kid,
    _dir: tempfile::TempDir,
    port: u16,
}

fn tls_server() -> Option<TlsServer> {
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let script = r#"
import http.server, ssl, sys, os
d = sys.argv[1]
srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut out = child.stdout.take().unwrap();
    let kid = Kid(child);
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while out.read(&mut b).ok()? == 1 && b[0] != b'\n' {
        line.push(b[0]);
    }
    let port = String::from_utf8(line).ok()?.trim().parse().ok()?;
    Some(TlsServer {
        _kid: kid,
        _dir: dir,
        port,
    })
}

#[test]
fn https_with_a_self_signed_certificate_fails_verification() {
    let Some(srv) = tls_server() else {
        panic!("openssl and python3 are needed for this test");
    };
    let r = wait_for(
        vec![t(&format!("https://localhost:{}/", srv.port))],
        &opts(1500),
        None,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut, "{r:?}");
    let err = r.targets[0].last_error.clone().unwrap().to_lowercase();
    assert!(
        err.contains("certificate") || err.contains("issuer"),
        "{err}"
    );
    // Only an explicit opt-out accepts it.
    let mut o = opts(5000);
    o.http.insecure = true;
    let r = wait_for(
        vec![t(&format!("https://localhost:{}/", srv.port))],
        &o,
        None,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
}

#[test]
fn file_appears_non_empty_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/out.txt");
    let p2 = path.clone();
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        std::fs::create_dir_all(p2.parent().unwrap()).unwrap();
        std::fs::write(&p2, b"").unwrap();
        for i in 0..5 {
            thread::sleep(Duration::from_millis(40));
            let mut f = std::fs::OpenOptions::new().append(true).open(&p2).unwrap();
            writeln!(f, "chunk {i}").unwrap();
        }
    });
    let mut o = opts(5000);
    o.file.non_empty = true;
    o.file.stable = Some(Duration::from_millis(150));
    let r = wait_for(vec![Target::File { path: path.clone() }], &o, None).unwrap();
    writer.join().unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    // Written until ~300 ms, then stable for 150 ms.
    let ttr = ttr_ms(&r.targets[0]);
    assert!(ttr >= 400.0, "{ttr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 5);
}

#[test]
fn unix_socket_accepts_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sock");
    let p2 = path.clone();
    let server = thread::spawn(move || {
        thread::sleep(Duration::from_millis(120));
        let l = std::os::unix::net::UnixListener::bind(&p2).unwrap();
        thread::sleep(Duration::from_millis(500));
        drop(l);
    });
    let r = wait_for(vec![Target::Unix { path }], &opts(5000), None).unwrap();
    server.join().unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    assert!(ttr_ms(&r.targets[0]) >= 110.0);
    // Woken by inotify, not polled: a handful of checks (a few more only if the server is
    // slow between bind and listen).
    assert!(r.targets[0].attempts <= 10, "{r:?}");
}

#[test]
fn log_line_after_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    // A matching line written before the wait starts does not count.
    std::fs::write(&path, "old: server ready on 1\n").unwrap();
    let p2 = path.clone();
    let writer = thread::spawn(move || {
        let slow = |p: &std::path::Path, s: &str| {
            thread::sleep(Duration::from_millis(60));
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(p)
                .unwrap();
            f.write_all(s.as_bytes()).unwrap();
        };
        slow(&p2, "booting\n");
        // Truncation (copytruncate style).
        thread::sleep(Duration::from_millis(60));
        std::fs::write(&p2, "").unwrap();
        slow(&p2, "still booting\n");
        // Rotation: rename away, new file; the line comes in two writes.
        thread::sleep(Duration::from_millis(60));
        std::fs::rename(&p2, p2.with_extension("log.1")).unwrap();
        slow(&p2, "listening, server rea");
        slow(&p2, "dy on 8080\n");
    });
    let r = wait_for(
        vec![t(&format!("log:{}=server ready on \\d+", path.display()))],
        &opts(5000),
        None,
    )
    .unwrap();
    writer.join().unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    assert!(ttr_ms(&r.targets[0]) >= 300.0, "{r:?}");
}

#[test]
fn log_without_a_match_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    std::fs::write(&path, "ready\n").unwrap();
    let r = wait_for(
        vec![t(&format!("log:{}=^ready$", path.display()))],
        &opts(250),
        None,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut);
}

#[test]
fn exit_and_watched_process_death_are_fast() {
    let mut kid = sleeper();
    let pid = kid.0.id();
    kid.0.kill().unwrap();
    // exit: on an already-dead (zombie, not yet reaped) child counts as gone.
    let r = wait_for(vec![t(&format!("exit:{pid}"))], &opts(2000), None).unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    drop(kid);

    // --pid: the watched process dies while the target can never be ready.
    let watched = sleeper();
    let id = tether::ProcessIdentity::of(watched.0.id()).unwrap();
    let port = free_port();
    let mut o = opts(10_000);
    o.watch = Some(Watch::Identity(id));
    let w = Arc::new(std::sync::Mutex::new(Some(watched)));
    let w2 = w.clone();
    let k = thread::spawn(move || {
        thread::sleep(Duration::from_millis(150));
        w2.lock().unwrap().take(); // killed and reaped
    });
    let start = Instant::now();
    let r = wait_for(vec![t(&format!("127.0.0.1:{port}"))], &o, None).unwrap();
    k.join().unwrap();
    assert_eq!(r.outcome, Outcome::ProcessDied, "{r:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn exit_waits_for_a_running_process() {
    let kid = sleeper();
    let pid = kid.0.id();
    let holder = Arc::new(std::sync::Mutex::new(Some(kid)));
    let h2 = holder.clone();
    let k = thread::spawn(move || {
        thread::sleep(Duration::from_millis(150));
        h2.lock().unwrap().take();
    });
    let r = wait_for(vec![t(&format!("exit:{pid}"))], &opts(5000), None).unwrap();
    k.join().unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    assert!(ttr_ms(&r.targets[0]) >= 140.0);
    assert!(r.targets[0].attempts <= 3, "pidfd-driven: {r:?}");
}

/// A child that inherits the listening socket `l` and sleeps; it holds the port.
fn holder_of(l: &TcpListener) -> Kid {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let raw = l.as_raw_fd();
    let mut c = Command::new("sleep");
    c.arg("60");
    // SAFETY: fcntl is async-signal-safe; it clears FD_CLOEXEC in the child only.
    unsafe {
        c.pre_exec(move || {
            libc::fcntl(raw, libc::F_SETFD, 0);
            Ok(())
        });
    }
    Kid(c.spawn().unwrap())
}

#[test]
fn owner_requires_the_expected_tree() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let holder = holder_of(&l);
    drop(l);
    let unrelated = sleeper();
    let r = wait_for(
        vec![t(&format!("owner:{port}={}", holder.0.id()))],
        &opts(3000),
        None,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    let r = wait_for(
        vec![t(&format!("owner:{port}={}", unrelated.0.id()))],
        &opts(2000),
        None,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut, "{r:?}");
    assert!(
        r.targets[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("outside the tree"),
        "{r:?}"
    );
    // The expected owner is gone: it can never be ready, and that ends the wait at once.
    let gone = unrelated.0.id();
    drop(unrelated);
    let r = wait_for(vec![t(&format!("owner:{port}={gone}"))], &opts(3000), None).unwrap();
    assert_eq!(r.outcome, Outcome::Failed, "{r:?}");
}

#[test]
fn cmd_any_and_all() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    let f2 = flag.clone();
    let w = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        std::fs::write(f2, b"x").unwrap();
    });
    let r = wait_for(
        vec![t(&format!("cmd:test -e '{}'", flag.display()))],
        &opts(5000),
        None,
    )
    .unwrap();
    w.join().unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    assert!(r.targets[0].attempts >= 2);
    // --any: one ready target is enough; all: the failing command holds it back.
    let port = free_port();
    let mut any = opts(2000);
    any.any = true;
    let r = wait_for(vec![t("cmd:true"), t(&format!(":{port}"))], &any, None).unwrap();
    assert_eq!(r.outcome, Outcome::Ready);
    // Time enough for both commands to have run once on a loaded machine.
    let r = wait_for(vec![t("cmd:true"), t("cmd:exit 3")], &opts(2000), None).unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut);
    assert!(r.targets[0].ready && !r.targets[1].ready);
    assert_eq!(r.targets[1].last_error.as_deref(), Some("exit status 3"));
}

#[test]
fn a_connect_really_reaches_the_server() {
    // The local fast path must not report a port ready that only listens on another address.
    let l = TcpListener::bind("127.0.0.2:0").expect("127.0.0.0/8 is loopback on Linux");
    let port = l.local_addr().unwrap().port();
    let r = wait_for(vec![t(&format!("127.0.0.1:{port}"))], &opts(200), None).unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut, "{r:?}");
    let r = wait_for(vec![t(&format!("127.0.0.2:{port}"))], &opts(2000), None).unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    let _ = TcpStream::connect(("127.0.0.2", port));
}

#[test]
fn a_log_line_split_across_a_rotation_is_matched() {
    // The writer has written the first half of a line when the log is rotated (renamed away);
    // it reopens the path and writes the rest there. "A line" is what lies between two
    // newlines as read, so the two halves make one line.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    std::fs::write(&path, "old line\n").unwrap();
    for pause_between in [true, false] {
        std::fs::write(&path, "old line\n").unwrap();
        let p2 = path.clone();
        let writer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            let mut f = std::fs::OpenOptions::new().append(true).open(&p2).unwrap();
            f.write_all(b"booting\nserver rea").unwrap();
            drop(f);
            if pause_between {
                // The check has read the first half before the rotation.
                thread::sleep(Duration::from_millis(100));
            }
            std::fs::rename(&p2, p2.with_extension("log.1")).unwrap();
            std::fs::write(&p2, b"dy on 8080\nmore\n").unwrap();
        });
        let r = wait_for(
            vec![t(&format!("log:{}=^server ready on \\d+$", path.display()))],
            &opts(3000),
            None,
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(r.outcome, Outcome::Ready, "pause {pause_between}: {r:?}");
    }
    // The halves of a line are never matched on their own.
    std::fs::write(&path, "").unwrap();
    let p2 = path.clone();
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        std::fs::write(&p2, b"ready ").unwrap();
        std::fs::rename(&p2, p2.with_extension("log.2")).unwrap();
        std::fs::write(&p2, b"or not\n").unwrap();
    });
    let r = wait_for(
        vec![t(&format!("log:{}=^(ready ?|or not)$", path.display()))],
        &opts(600),
        None,
    )
    .unwrap();
    writer.join().unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut, "{r:?}");
}

#[test]
fn a_watched_process_that_does_not_exist_at_the_start_has_died() {
    // A PID that is not in use (the child was reaped) and an identity of a gone process.
    let mut kid = sleeper();
    let id = tether::ProcessIdentity::of(kid.0.id()).unwrap();
    kid.0.kill().unwrap();
    kid.0.wait().unwrap();
    let port = free_port();
    for w in [Watch::Pid(id.pid), Watch::Identity(id.clone())] {
        let mut o = opts(5000);
        o.watch = Some(w);
        let start = Instant::now();
        let r = wait_for(vec![t(&format!(":{port}"))], &o, None).unwrap();
        assert_eq!(r.outcome, Outcome::ProcessDied, "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(r.watched.is_some());
    }
}

/// A server that answers every request with `200 OK` and keeps each request's head.
fn recording_server() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { break };
            let mut buf = [0u8; 4096];
            let n = c.read(&mut buf).unwrap_or(0);
            s2.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (port, seen)
}

#[test]
fn http_method_and_headers_are_sent() {
    let (port, seen) = recording_server();
    let mut o = opts(5000);
    o.http.method = "HEAD".into();
    o.http.headers = vec![
        ("X-Probe".into(), "tether 1".into()),
        ("Authorization".into(), "Bearer abc".into()),
    ];
    let r = wait_for(vec![t(&format!("http://127.0.0.1:{port}/h"))], &o, None).unwrap();
    assert_eq!(r.outcome, Outcome::Ready, "{r:?}");
    let req = seen.lock().unwrap()[0].to_lowercase();
    assert!(req.starts_with("head /h http/1.1\r\n"), "{req}");
    assert!(req.contains("\r\nx-probe: tether 1\r\n"), "{req}");
    assert!(req.contains("\r\nauthorization: bearer abc\r\n"), "{req}");
}

#[test]
fn attempt_timeout_bounds_each_request_and_says_so() {
    // Accepts connections and never answers: each request ends at the attempt timeout, and
    // the wait tries again until its own deadline.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let h2 = held.clone();
    thread::spawn(move || {
        for c in l.incoming().flatten() {
            h2.lock().unwrap().push(c);
        }
    });
    let mut o = opts(1500);
    o.attempt_timeout = Some(Duration::from_millis(150));
    o.interval = Duration::from_millis(10);
    let r = wait_for(vec![t(&format!("http://127.0.0.1:{port}/"))], &o, None).unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut, "{r:?}");
    assert!(r.targets[0].attempts >= 3, "{r:?}");
    // (The last attempt may have been cut shorter by the deadline.)
    let ms: u64 = r.targets[0]
        .last_error
        .as_deref()
        .and_then(|e| e.strip_prefix("no answer within "))
        .and_then(|e| e.strip_suffix(" ms"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{r:?}"));
    assert!(ms <= 150, "{r:?}");
    // A command run that takes longer than the attempt timeout is killed and retried.
    let mut o = opts(2000);
    o.attempt_timeout = Some(Duration::from_millis(100));
    o.interval = Duration::from_millis(10);
    let r = wait_for(vec![t("cmd:sleep 30")], &o, None).unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut, "{r:?}");
    assert!(r.targets[0].attempts >= 2, "{r:?}");
    assert!(
        r.targets[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("took longer than 100 ms") || e.contains("still going")),
        "{r:?}"
    );
}

#[test]
fn https_against_plain_http_says_what_is_wrong() {
    let (port, _seen) = recording_server();
    let r = wait_for(
        vec![t(&format!("https://127.0.0.1:{port}/"))],
        &opts(2000),
        None,
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut, "{r:?}");
    assert_eq!(
        r.targets[0].last_error.as_deref(),
        Some("TLS handshake failed: the server did not answer with TLS (is it plain http?)"),
        "{r:?}"
    );
}
