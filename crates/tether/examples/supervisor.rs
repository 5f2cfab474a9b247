//! A small supervisor, written against tether's public API: it starts three workers, each as a
//! contained tree, restarts a worker whose command dies (ending what that worker left behind),
//! and on Ctrl-C (SIGINT) or SIGTERM stops every tree and exits 0.
//!
//! ```text
//! cargo run -p tether --example supervisor [-- COMMAND [ARG...]]
//! ```
//!
//! The default worker is `sh -c 'sleep 100000 & sleep 100000'`: a command with a child of its
//! own, so that "the whole tree" means something. Each line on stdout is one event, for people
//! and for `tests/supervisor.rs`, which runs this program.
//!
//! Everything about processes goes through tether: [`Command`] → [`Child`] to start a contained
//! tree, [`ready::wait_for`] to sleep until some worker exits *or* a signal arrives (one `poll`
//! on the workers' pidfds and a [`Cancel`]'s eventfd, no polling loop), [`Child::stop`] for the
//! one terminate policy, and [`Child::close`] to remove each tree's cgroup leaf. Only catching
//! SIGINT and SIGTERM uses libc directly: the library leaves a process's own signal handling to
//! the program.

use std::error::Error;
use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::time::Timespec;
use tether::command::{Child, Command};
use tether::ready::{self, Cancel, Outcome, Target, WaitOptions};
use tether::signal::Signal;
use tether::terminate::StopOptions;
use tether::wait::ExitInfo;

/// Any error, from tether or the system.
type BoxError = Box<dyn Error + Send + Sync>;

const WORKERS: usize = 3;

/// A worker that ran for less than this before dying waits [`RESTART_DELAY`] before it is
/// started again, so that a command that fails at once does not spin.
const MIN_RUN: Duration = Duration::from_secs(1);
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// How long a worker's tree gets after SIGTERM before SIGKILL, when stopping.
const GRACE: Duration = Duration::from_secs(5);

struct Worker {
    slot: usize,
    child: Child,
    started: Instant,
}

fn main() -> ExitCode {
    match supervise() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("supervisor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn supervise() -> Result<(), BoxError> {
    // Before any thread starts, so that every thread has them blocked and only the waiter
    // below receives them. (Workers start with an empty mask: tether sets the child's.)
    let (stop, received) = stop_on_signals()?;

    // Opt-in: orphans of a worker whose watchdog was killed come here rather than to init,
    // where the worker's Child still finds them.
    tether::contain::become_subreaper()?;

    let argv = worker_argv();
    let mut workers = Vec::with_capacity(WORKERS);
    for slot in 1..=WORKERS {
        workers.push(start(slot, &argv, "started")?);
    }

    loop {
        // Sleep until any worker's command exits, or a signal cancels the wait.
        let targets = workers
            .iter()
            .map(|w| Target::Exit {
                pid: w.child.pid(),
                identity: Some(w.child.identity().clone()),
            })
            .collect();
        let mut opts = WaitOptions::default();
        opts.any = true;
        opts.cancel = Some(stop.clone());
        let woke = ready::wait_for(targets, &opts, None)?;
        if woke.outcome == Outcome::Cancelled {
            break;
        }
        for (w, t) in workers.iter_mut().zip(&woke.targets) {
            if !t.ready {
                continue;
            }
            let exit = w.child.wait(None)?;
            println!("worker {} exited: {}", w.slot, describe(exit));
            if w.started.elapsed() < MIN_RUN && sleep_unless(&stop, RESTART_DELAY) {
                break;
            }
            let fresh = start(w.slot, &argv, "restarted")?;
            // End whatever the old command left running, and remove its leaf.
            let old = std::mem::replace(w, fresh);
            let killed = old.child.close()?;
            if !killed.is_empty() {
                println!("worker {} leftovers killed: {killed:?}", old.slot);
            }
        }
        if stop.is_cancelled() {
            break;
        }
    }

    let sig = Signal::from_number(received.load(Ordering::SeqCst))?;
    println!("received {sig}: stopping {} workers", workers.len());
    stop_all(workers)?;
    println!("all stopped");
    Ok(())
}

/// Start worker `slot` and say so, with what a reader (or the test) needs to check on it.
fn start(slot: usize, argv: &[OsString], what: &str) -> Result<Worker, BoxError> {
    let child = Command::new(&argv[0]).args(&argv[1..]).spawn()?;
    let c = child.containment();
    let leaf = c
        .cgroup_dir()
        .map_or_else(|| "-".to_string(), |d| d.display().to_string());
    println!(
        "worker {slot} {what}: pid {} identity {} containment {} ({}) cgroup {leaf}",
        child.pid(),
        child.identity(),
        c.mechanism,
        c.strength,
    );
    Ok(Worker {
        slot,
        child,
        started: Instant::now(),
    })
}

/// Stop every tree at once (each in its own thread: the grace periods overlap), then clean up.
fn stop_all(workers: Vec<Worker>) -> Result<(), BoxError> {
    let mut opts = StopOptions::default();
    opts.grace = GRACE;
    std::thread::scope(|s| {
        let handles: Vec<_> = workers
            .into_iter()
            .map(|mut w| {
                let opts = &opts;
                s.spawn(move || -> Result<(), BoxError> {
                    let out = w.child.stop(opts)?;
                    println!(
                        "worker {} stopped: {} signalled, escalated {}, remaining {:?}",
                        w.slot,
                        out.signalled.len(),
                        out.escalated,
                        out.remaining
                    );
                    w.child.close()?;
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a stopping thread panicked"))
    })
}

fn describe(exit: Option<ExitInfo>) -> String {
    match exit {
        Some(ExitInfo {
            code: Some(code), ..
        }) => format!("exit code {code}"),
        Some(ExitInfo {
            signal: Some(sig), ..
        }) => match Signal::from_number(sig) {
            Ok(s) => format!("killed by {s}"),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => "status unknown".into(),
    }
}

fn worker_argv() -> Vec<OsString> {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    if argv.is_empty() {
        ["sh", "-c", "sleep 100000 & sleep 100000"]
            .map(OsString::from)
            .to_vec()
    } else {
        argv
    }
}

/// Block SIGINT and SIGTERM in this thread (and so in every thread started after it) and wait
/// for them in a thread of their own, which records the signal and cancels `Cancel`.
fn stop_on_signals() -> Result<(Cancel, Arc<AtomicI32>), BoxError> {
    let cancel = Cancel::new()?;
    let received = Arc::new(AtomicI32::new(0));
    // SAFETY: plain libc calls on a local signal set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc).into());
        }
        set
    };
    let (c, r) = (cancel.clone(), received.clone());
    std::thread::spawn(move || {
        let mut sig = 0;
        // SAFETY: `set` is initialised; `sig` is a valid out-pointer.
        if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
            r.store(sig, Ordering::SeqCst);
            c.cancel();
        }
    });
    Ok((cancel, received))
}

/// Sleep for `d` unless `stop` is cancelled first (its fd becomes readable); true if it was.
fn sleep_unless(stop: &Cancel, d: Duration) -> bool {
    let timeout = Timespec::try_from(d).expect("a short delay");
    let mut fds = [PollFd::new(stop, PollFlags::IN)];
    let _ = poll(&mut fds, Some(&timeout));
    stop.is_cancelled()
}
