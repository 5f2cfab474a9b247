//! `Process::descendants`, `Process::tree` and `inspect::descendants` cost what the tree costs:
//! under strace, the only directories they list are the `/proc/PID/task` directories of the
//! tree's own members, and every /proc path they open belongs to a member — never a pass over
//! all of /proc.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tether::inspect::{descendants, Field, FieldSet};
use tether::Process;

const INNER: &str = "TETHER_NO_SCAN_INNER";
/// Paths opened (and failing) only to mark where the measured calls begin and end.
const BEGIN: &str = "/tether-no-scan-begin";
const END: &str = "/tether-no-scan-end";

#[test]
fn descendants_read_only_the_tree() {
    if std::env::var_os(INNER).is_some() {
        inside_strace();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("strace.log");
    let out = Command::new("strace")
        .args(["-f", "-y", "-e", "trace=openat,getdents64", "-o"])
        .arg(&log)
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "descendants_read_only_the_tree",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        .output()
        .expect("strace runs (install it: apt-get install strace)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "inner test failed:\n{text}");
    let members: HashSet<String> = text
        .lines()
        .find_map(|l| l.split_once("TREE ").map(|(_, t)| t))
        .expect("the inner test names the tree")
        .split(' ')
        .map(String::from)
        .collect();
    let trace = std::fs::read_to_string(&log).unwrap();
    let begin = trace.find(BEGIN).expect("begin marker");
    let end = trace.find(END).expect("end marker");
    let measured = &trace[begin..end];
    let mut listed = 0;
    let mut opened = 0;
    for line in measured.lines() {
        if line.contains("getdents64(") {
            let dir = fd_path(line).unwrap_or("");
            assert!(
                dir.starts_with("/proc/") && dir.ends_with("/task"),
                "listed another directory than a member's threads (a pass over /proc?): {line}"
            );
            assert!(members.contains(pid_of(dir)), "{line}");
            listed += 1;
        } else if let Some(path) = opened_path(line) {
            if path.starts_with("/proc/") {
                let pid = pid_of(&path);
                assert!(
                    members.contains(pid) || pid == "self",
                    "{path} belongs to no member of {members:?}: {line}"
                );
                opened += 1;
            }
        }
    }
    assert!(
        listed >= 3,
        "the walk listed no task directories:\n{measured}"
    );
    assert!(opened >= 3, "nothing was read:\n{measured}");
}

/// The path in the first `<...>` fd annotation of a strace `-y` line.
fn fd_path(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once('<')?;
    Some(rest.split_once('>')?.0)
}

/// The full path an `openat` line opens: its quoted path, after its directory fd's path when
/// it is relative.
fn opened_path(line: &str) -> Option<String> {
    let args = line.split_once("openat(")?.1;
    let (dirfd, rest) = args.split_once(", \"")?;
    let path = rest.split_once('"')?.0;
    if path.starts_with('/') {
        return Some(path.to_string());
    }
    let dir = fd_path(dirfd)?;
    Some(format!("{dir}/{path}"))
}

/// The PID component of `/proc/PID/...`.
fn pid_of(path: &str) -> &str {
    path.split('/').nth(2).unwrap_or("")
}

/// Kills its child when dropped, so that a failed assertion leaves nothing behind.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn inside_strace() {
    // sh -> sh -> sleep, and a second sleep under the top shell.
    let top = Guard(
        Command::new("sh")
            .args(["-c", "sh -c 'sleep 30 & wait' & sleep 30 & wait"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let root = Process::open(top.0.id()).unwrap();
    let mut found = Vec::new();
    for _ in 0..2000 {
        found = root.descendants().unwrap();
        let sleeping = found
            .iter()
            .filter_map(|p| p.info(FieldSet::of(&[Field::Name])).ok()?.name)
            .filter(|n| n == "sleep")
            .count();
        if found.len() == 3 && sleeping == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(found.len(), 3, "{found:?}");
    let mut names: Vec<String> = found.iter().map(|p| p.pid().to_string()).collect();
    names.push(root.pid().to_string());
    println!("TREE {}", names.join(" "));

    let _ = std::fs::File::open(BEGIN);
    let again = root.descendants().unwrap();
    let tree = root.tree(None, FieldSet::standard()).unwrap();
    let by_pid = descendants(root.pid(), None, FieldSet::of(&[Field::Name])).unwrap();
    let _ = std::fs::File::open(END);

    assert_eq!(again.len(), 3);
    assert_eq!(by_pid.len(), 3);
    assert_eq!(tree.children.len(), 2);
    // Through the handles: nothing but these is hit.
    for p in found.iter().rev() {
        let _ = p.signal(tether::signal::Signal::KILL);
    }
}
