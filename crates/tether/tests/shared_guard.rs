//! [`Guard::Shared`]: one guard process and a pool of cgroup leaves for every command of this
//! process. Hostile trees are ended as with a watchdog, leaves are reused, and when the host is
//! SIGKILLed the guard ends every tree (death signal, grace, SIGKILL) and removes the leaves.
//! The host-death tests run inside a PID namespace of their own; scripts record each process
//! as `PID START_TICKS`, so that checks use identities and never mistake a reused PID.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio as StdStdio;
use std::time::{Duration, Instant};

use tether::command::{Command, Stdio};
use tether::contain::{ContainMode, Guard, Mechanism};
use tether::signal::Signal;

mod common;

use common::{alive, alone, cgroup_available, in_pid_namespace, Recorded, REC, REC_DEF};

fn shared(script: &str, rec: &Recorded) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", &format!("{REC}{script}")])
        .env("F", rec.file.path())
        .env("R", REC_DEF)
        .contain(ContainMode::Cgroup)
        .guard(Guard::Shared)
        .stdout(Stdio::Null);
    c
}

/// `program` in a cgroup, with the shared guard.
fn guarded(program: &str) -> Command {
    let mut c = Command::new(program);
    c.contain(ContainMode::Cgroup).guard(Guard::Shared);
    c
}

fn pool_of(leaf: &Path) -> PathBuf {
    leaf.parent().unwrap().to_path_buf()
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Under the time limit, a hostile tree in a pooled leaf is ended whole.
fn hostile(script: &str, min: usize) {
    if !cgroup_available() {
        eprintln!("skipped: needs root and cgroup v2");
        return;
    }
    let rec = Recorded::new();
    let r = shared(script, &rec)
        .timeout(Duration::from_millis(400))
        .kill_after(Duration::from_millis(300))
        .status()
        .unwrap();
    assert!(r.timed_out, "{r:?}");
    let ids = rec.ids();
    assert!(ids.len() >= min, "only {} processes recorded", ids.len());
    let left: Vec<_> = ids.iter().filter(|i| alive(i)).collect();
    assert!(left.is_empty(), "survivors: {left:?}; report {r:?}");
    // The leaf was signalled: it is removed, not reused (tests running alongside may have
    // been given a new leaf of the same name since).
    assert_eq!(r.containment.mechanism, Mechanism::Cgroup);
    let leaf = r.containment.cgroup_dir().unwrap();
    let pool = pool_of(&leaf);
    assert!(
        pool.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("tether-{}-pool", std::process::id())),
        "{}",
        leaf.display()
    );
}

#[test]
fn setsid_escaper_and_double_forked_daemon() {
    hostile(
        r#"setsid sleep 100 & rec $!; sh -c 'eval "$R"; setsid sh -c "eval \"\$R\"; sleep 100 & rec \$!; wait" & rec $!'; wait"#,
        4,
    );
}

#[test]
fn grandchild_ignoring_term() {
    hostile(
        r#"sh -c 'eval "$R"; trap "" TERM; rec $$; while :; do sleep 1; done' & rec $!; wait"#,
        2,
    );
}

#[test]
fn fork_loop() {
    hostile("while :; do sleep 100 & rec $!; done", 10);
}

fn inode(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).unwrap().ino()
}

/// A leaf whose tree ended by itself is reused (the same directory, not one made again); a
/// leaf whose tree had to be killed is removed. Alone in a process of its own, so that no other
/// test takes the pool's leaves meanwhile; its guard removes the pool when it exits.
#[test]
fn clean_leaves_are_reused_and_killed_ones_removed() {
    if !cgroup_available() || !alone("clean_leaves_are_reused_and_killed_ones_removed") {
        return;
    }
    let rec = Recorded::new();
    let first = shared("exit 3", &rec).status().unwrap();
    assert_eq!(first.child_exit.unwrap().code, Some(3), "{first:?}");
    assert!(first.leftovers_killed.is_empty());
    let leaf = first.containment.cgroup_dir().unwrap();
    let ino = inode(&leaf);
    let out = guarded("cat").arg("/proc/self/cgroup").output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(out.status.containment.cgroup, first.containment.cgroup);
    assert_eq!(inode(&leaf), ino, "the leaf was made again");
    let rel = first.containment.cgroup.unwrap();
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(seen.trim().ends_with(&rel), "{seen} vs {rel}");

    // Leftovers: ended, and the leaf goes.
    let killed = shared("sleep 100 & rec $!; exit 0", &rec).status().unwrap();
    assert_eq!(killed.leftovers_killed.len(), 1, "{killed:?}");
    assert!(rec.ids().iter().all(|i| !alive(i)));
    assert_eq!(killed.containment.cgroup_dir().unwrap(), leaf);
    let next = guarded("true").status().unwrap();
    assert!(next.success());
    let now = next.containment.cgroup_dir().unwrap();
    assert!(
        !now.exists() || inode(&now) != ino,
        "a killed leaf was reused"
    );

    // A spawned handle, closed after its tree ended by itself, gives its leaf back as well.
    let mut child = guarded("true").spawn().unwrap();
    let reused = child.containment().cgroup_dir().unwrap();
    let ino = inode(&reused);
    child.wait(None).unwrap();
    assert!(child.close().unwrap().is_empty());
    let again = guarded("true").spawn().unwrap();
    assert_eq!(again.containment().cgroup_dir().unwrap(), reused);
    assert_eq!(inode(&reused), ino);
    again.close().unwrap();
    println!("inner done");
}

#[test]
fn trees_at_once_get_leaves_of_their_own() {
    if !cgroup_available() {
        return;
    }
    let spawn = || guarded("sleep").arg("100").spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    assert_ne!(a.containment().cgroup, b.containment().cgroup);
    a.close().unwrap();
    b.close().unwrap();
}

const HOST_ENV: &str = "TETHER_SHARED_GUARD_HOST";

/// The host: starts three trees with the shared guard, says where they are, and waits to be
/// killed. One ends on SIGTERM (the death signal); one ignores it and is killed after its
/// 500 ms grace; one ignores it too but has SIGKILL as its death signal, so its long grace
/// (60 s) never comes into play.
fn host() {
    let rec_file = std::env::var("F").unwrap();
    let ignore_term =
        "trap '' TERM; sh -c 'eval \"$R\"; trap \"\" TERM; rec $$; while :; do sleep 1; done' & rec $!; wait";
    let mut kids = Vec::new();
    for (script, death, grace) in [
        (
            "setsid sleep 300 & rec $!; sleep 300 & rec $!; wait",
            Signal::TERM,
            500,
        ),
        (ignore_term, Signal::TERM, 500),
        (ignore_term, Signal::KILL, 60_000),
    ] {
        let child = Command::new("sh")
            .args(["-c", &format!("{REC}{script}")])
            .env("F", &rec_file)
            .env("R", REC_DEF)
            .contain(ContainMode::Cgroup)
            .guard(Guard::Shared)
            .death_signal(Some(death))
            .kill_after(Duration::from_millis(grace))
            .spawn()
            .unwrap();
        kids.push(child);
    }
    for k in &kids {
        println!("leaf {}", k.containment().cgroup_dir().unwrap().display());
    }
    println!("ready");
    std::thread::sleep(Duration::from_secs(300));
}

#[test]
fn the_guard_ends_every_tree_when_the_host_is_killed() {
    if std::env::var_os(HOST_ENV).is_some() {
        host();
        return;
    }
    if !cgroup_available() || !in_pid_namespace("the_guard_ends_every_tree_when_the_host_is_killed")
    {
        return;
    }
    let rec = Recorded::new();
    let mut h = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_guard_ends_every_tree_when_the_host_is_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOST_ENV, "1")
        .env("F", rec.file.path())
        .stdout(StdStdio::piped())
        .spawn()
        .unwrap();
    let mut leaves = Vec::new();
    for line in BufReader::new(h.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // The harness may print "test NAME ... " before the host's first line.
        if let Some(i) = line.find("leaf /") {
            leaves.push(PathBuf::from(&line[i + 5..]));
        }
        if line.ends_with("ready") {
            break;
        }
    }
    assert_eq!(leaves.len(), 3);
    // Every recorded process is there (the scripts record before they wait).
    assert!(wait_until(Duration::from_secs(10), || rec.ids().len() >= 7));
    let killed_at = Instant::now();
    h.kill().unwrap();
    h.wait().unwrap();
    let ids = rec.ids();
    assert!(
        wait_until(Duration::from_secs(10), || ids.iter().all(|i| !alive(i))),
        "survivors: {:?}",
        ids.iter().filter(|i| alive(i)).collect::<Vec<_>>()
    );
    let took = killed_at.elapsed();
    // The TERM-ignoring tree had its grace (500 ms) before SIGKILL.
    assert!(took >= Duration::from_millis(450), "{took:?}");
    let pool = pool_of(&leaves[0]);
    assert!(
        wait_until(Duration::from_secs(10), || !pool.exists()),
        "pool {} not removed",
        pool.display()
    );
    println!("inner done");
}

/// A command started directly (shared guard, or no containment) has its start time from the
/// clock readings around the clone when they agree: it must be what /proc says.
#[test]
fn start_times_read_from_the_clock_match_proc() {
    let cgroup = cgroup_available();
    for i in 0..40 {
        let mut c = Command::new("sleep");
        c.arg("30");
        if cgroup && i % 2 == 0 {
            c.contain(ContainMode::Cgroup).guard(Guard::Shared);
        } else {
            c.contain(ContainMode::None);
        }
        let child = c.spawn().unwrap();
        let from_proc = tether::ProcessIdentity::of(child.pid()).unwrap();
        assert_eq!(child.identity().start_ticks, from_proc.start_ticks);
        assert_eq!(
            child.identity().check().unwrap(),
            tether::IdentityCheck::Same
        );
        child.close().unwrap();
    }
}

/// The init of a PID namespace gets no shared guard (it would die with the init and leave the
/// pool behind): its commands get a leaf and a watchdog of their own, removed after them.
#[test]
fn a_namespace_init_falls_back_to_a_watchdog() {
    if !cgroup_available() || !in_pid_namespace("a_namespace_init_falls_back_to_a_watchdog") {
        return;
    }
    assert_eq!(std::process::id(), 1);
    let r = guarded("true").status().unwrap();
    assert!(r.success(), "{r:?}");
    let leaf = r.containment.cgroup_dir().unwrap();
    assert!(
        !leaf.to_string_lossy().contains("-pool"),
        "{}",
        leaf.display()
    );
    assert!(!leaf.exists(), "leaf {} not removed", leaf.display());
    println!("inner done");
}

/// The guard: this process's child named `tether-guard`, other than `not`. The guard names
/// itself once it runs, so a guard just made may not carry its name yet: look for up to 5 s.
fn guard_pid(not: Option<u32>) -> Option<u32> {
    let me = std::process::id();
    let find = || {
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (name, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (name == "tether-guard" && ppid == me && Some(pid) != not).then_some(pid)
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match find() {
            Some(pid) => return Some(pid),
            None if std::time::Instant::now() >= deadline => return None,
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Should the guard die, the next command gets a new guard and a new pool; the old pool is
/// removed (its name may be taken again).
#[test]
fn a_dead_guard_is_replaced() {
    if !cgroup_available() || !alone("a_dead_guard_is_replaced") {
        return;
    }
    let run = || {
        let r = guarded("true").status().unwrap();
        assert!(r.success());
        pool_of(&r.containment.cgroup_dir().unwrap())
    };
    let first = run();
    let first_ino = inode(&first);
    let guard = guard_pid(None).expect("a guard process");
    // Our own child: SIGKILL through a pidfd; the keeper reaps it when it finds it dead.
    let p = tether::Process::open(guard).unwrap();
    rustix::process::pidfd_send_signal(&p, rustix::process::Signal::KILL).unwrap();
    p.wait(Some(Duration::from_secs(5))).unwrap();
    let second = run();
    // The old pool was removed (the new one may take its name).
    assert_ne!(inode(&second), first_ino);
    assert!(guard_pid(Some(guard)).is_some(), "no new guard");
    println!("inner done");
}

/// The guard gives back its copy-on-write view of the host's large memory: once the host has
/// rewritten a 256 MiB buffer, the guard holds almost none of it.
#[test]
fn the_guard_keeps_no_copy_of_the_host_heap() {
    if !cgroup_available() || !alone("the_guard_keeps_no_copy_of_the_host_heap") {
        return;
    }
    let mut big = vec![1u8; 256 << 20];
    let r = guarded("true").status().unwrap();
    assert!(r.success());
    big.iter_mut().for_each(|b| *b = 2);
    let guard = guard_pid(None).expect("a guard process");
    let private_kb = || -> u64 {
        let rollup = std::fs::read_to_string(format!("/proc/{guard}/smaps_rollup")).unwrap();
        rollup
            .lines()
            .find_map(|l| l.strip_prefix("Private_Dirty:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    };
    // The guard names itself before it releases: give it the time to get there.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut kb = private_kb();
    while kb >= 32 << 10 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        kb = private_kb();
    }
    println!("the guard's private memory: {kb} kB");
    assert!(kb < 32 << 10, "the guard holds {kb} kB of private memory");
    assert_eq!(std::hint::black_box(&big)[12345], 2);
    println!("inner done");
}

const NOBODY_ENV: &str = "TETHER_SHARED_GUARD_NOBODY";

/// Not root, no pool can be made: the commands still start, each in the fallback containment
/// (a session under a watchdog), and no pool appears.
#[test]
fn an_unprivileged_host_falls_back_to_a_watchdog() {
    if std::env::var_os(NOBODY_ENV).is_some() {
        for _ in 0..2 {
            let r = Command::new("true").guard(Guard::Shared).status().unwrap();
            assert!(r.success(), "{r:?}");
            assert_eq!(r.containment.mechanism, Mechanism::SessionSubreaper);
            assert!(r.containment.fallback_reason.is_some());
        }
        println!("inner done");
        return;
    }
    if !rustix::process::geteuid().is_root() {
        return;
    }
    let Ok(out) = std::process::Command::new("setpriv")
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_unprivileged_host_falls_back_to_a_watchdog",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(NOBODY_ENV, "1")
        .output()
    else {
        return;
    };
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if text.starts_with("setpriv:") {
        return; // this machine cannot run it
    }
    assert!(out.status.success(), "as nobody:\n{text}");
    assert!(text.contains("inner done"), "as nobody:\n{text}");
}
