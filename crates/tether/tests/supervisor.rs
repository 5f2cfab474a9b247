//! `examples/supervisor.rs` runs: three contained workers start, one whose command is killed is
//! restarted (and its leftovers ended), and SIGINT stops everything, leaving no process and no
//! cgroup leaf behind. Inside a PID namespace of its own, so that "no process left" can be
//! checked over the whole namespace.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use tether::signal::Signal;
use tether::{Process, ProcessIdentity};

mod common;

use common::{alive, in_pid_namespace};

/// Generous: other builds share the machine.
const LINE_WAIT: Duration = Duration::from_secs(60);

/// The example's binary, built (or found up to date) by cargo.
fn supervisor_binary() -> PathBuf {
    // target/<profile>/deps/supervisor-HASH -> target/<profile>/examples/supervisor
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("examples").join("supervisor");
    if std::env::var_os("TETHER_INNER").is_none() {
        // `cargo test` builds the examples; a run of this test alone may not have.
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-q", "-p", "tether", "--example", "supervisor"]);
        // Without the variables cargo sets for this test (CARGO_MANIFEST_DIR, CARGO_PKG_*, …):
        // build scripts that watch them (ring's) would otherwise run again, here and then again
        // in the next plain build.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            let settings = [
                "CARGO_HOME",
                "CARGO_TARGET_DIR",
                "CARGO_BUILD_",
                "CARGO_TERM_",
            ];
            if k.starts_with("CARGO_") && !settings.iter().any(|s| k.starts_with(s)) {
                build.env_remove(&key);
            }
        }
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building the example failed");
    }
    assert!(bin.exists(), "{} not built", bin.display());
    bin
}

/// The supervisor, killed and reaped if the test fails early.
struct Supervisor {
    child: std::process::Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    /// Waited for through its pidfd: its PID is no longer ours to signal.
    reaped: bool,
}

impl Supervisor {
    fn start(bin: &Path) -> Supervisor {
        let mut child = Command::new(bin)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Supervisor {
            child,
            lines,
            seen: Vec::new(),
            reaped: false,
        }
    }

    /// The next line that starts with `prefix` (earlier lines are kept in `seen`).
    fn expect(&mut self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(LINE_WAIT) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(e) => panic!("no line '{prefix}…' ({e}); so far: {:#?}", self.seen),
            }
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `worker N started|restarted: pid P identity ID containment … cgroup DIR` line.
#[derive(Debug)]
struct Started {
    slot: String,
    identity: ProcessIdentity,
    cgroup: Option<PathBuf>,
}

fn parse_started(line: &str) -> Started {
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |key: &str| {
        let i = words.iter().position(|w| *w == key).expect(key);
        words[i + 1]
    };
    Started {
        slot: words[1].to_string(),
        identity: after("identity").parse().unwrap(),
        cgroup: Some(after("cgroup"))
            .filter(|c| *c != "-")
            .map(PathBuf::from),
    }
}

/// PIDs of live (non-zombie) processes in this PID namespace, other than this one.
fn others_alive() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
            })
        })
        .collect()
}

#[test]
fn supervisor_restarts_a_dead_worker_and_stops_all_on_sigint() {
    let bin = supervisor_binary();
    if !in_pid_namespace("supervisor_restarts_a_dead_worker_and_stops_all_on_sigint") {
        return;
    }
    let mut sup = Supervisor::start(&bin);
    let mut workers: HashMap<String, Started> = HashMap::new();
    for _ in 0..3 {
        let w = parse_started(&sup.expect("worker "));
        workers.insert(w.slot.clone(), w);
    }
    assert_eq!(workers.len(), 3, "{:#?}", sup.seen);
    let mut leaves: Vec<PathBuf> = workers.values().filter_map(|w| w.cgroup.clone()).collect();

    // Kill worker 2's command: the supervisor notices, ends its leftovers and starts it again.
    let victim = workers["2"].identity.clone();
    Process::from_identity(&victim)
        .unwrap()
        .signal(Signal::KILL)
        .unwrap();
    let exited = sup.expect("worker 2 exited");
    assert!(exited.contains("SIGKILL"), "{exited}");
    let again = parse_started(&sup.expect("worker 2 restarted"));
    assert_ne!(again.identity, victim);
    assert!(alive(&again.identity), "the new worker 2 runs");
    assert!(!alive(&victim));
    leaves.extend(again.cgroup.clone());
    for w in workers.values().filter(|w| w.slot != "2") {
        assert!(alive(&w.identity), "worker {} was left alone", w.slot);
    }

    // Ctrl-C: every tree is stopped, and the supervisor exits 0.
    let sup_process = Process::open(sup.child.id()).unwrap();
    sup_process.signal(Signal::INT).unwrap();
    sup.expect("received SIGINT");
    sup.expect("all stopped");
    let done = sup_process.wait(Some(LINE_WAIT)).unwrap();
    sup.reaped = done.exited();
    assert_eq!(
        done.exit().and_then(|e| e.code),
        Some(0),
        "{done:?}\n{:#?}",
        sup.seen
    );

    let left = others_alive();
    assert!(left.is_empty(), "processes left: {left:?}\n{:#?}", sup.seen);
    for leaf in &leaves {
        assert!(!leaf.exists(), "cgroup leaf left: {}", leaf.display());
    }
    println!("inner done");
}
