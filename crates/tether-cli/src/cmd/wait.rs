//! `tether wait`: wait for processes (PIDs or identities) to exit, event-driven through pidfds.

use tether::duration::parse_duration;
use tether::wait::{wait_many, ExitStatus, WaitMode, WaitOutcome, WaitState};
use tether::{ProcessRef, Result};
use tether_report::{WaitManyReport, WaitReport};

use crate::output::{print_report, Ctx};

pub const HELP: &str = "Waits on pidfds (one poll over all of them; no polling loop). With several targets \
it waits for all of them (as pidwait and the shell's wait do), or with --any for the first to exit; \
--timeout bounds the whole wait. The exit status is shown when the kernel gives it (tether's own children \
only); for other processes it is unknown.

A bare PID that names no process is an error (\"no such process\"), so that a mistyped PID does not pass; \
so is the id of a thread (the message names its process). An identity string whose process has exited \
counts as exited at once (it existed); one whose PID now belongs to another process is an identity \
mismatch. A process of another user is waited for like any other.

With --pidfile, the target is the process the PID file names, checked as `tether alive --pidfile` checks \
it: a file that is stale or names a process that has exited counts as a process that had already exited \
(exit 0); a malformed file is an error (exit 2, as for `tether alive`).

JSON: one target prints tether.wait/v1; several print tether.wait-many/v1 (one tether.wait/v1 entry per \
target under `targets`).

Exit codes: 0 the target is gone (all of them, or one with --any); 1 no such process or PID file, \
identity mismatch, or the wait failed; 2 usage error (bad PID, identity string or duration; a malformed \
PID file); 124 the timeout passed.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// PIDs or identity strings (from `tether info`).
    #[arg(required_unless_present = "pidfile", value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Wait for the process this PID file names instead (a tether PID file or a bare PID).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["targets", "any"])]
    pub pidfile: Option<std::path::PathBuf>,
    /// Give up after this long, for the whole wait (5, 1.5, 2m, 500ms, 1h30m; 0 = no limit).
    #[arg(short, long, value_name = "D")]
    pub timeout: Option<String>,
    /// Return when the first target exits, instead of when all have.
    #[arg(long)]
    pub any: bool,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let timeout = match &a.timeout {
        Some(t) => Some(parse_duration(t)?).filter(|d| !d.is_zero()),
        None => None,
    };
    if let Some(f) = &a.pidfile {
        return super::pidfile::wait(f, timeout, ctx);
    }
    let targets = a
        .targets
        .iter()
        .map(|t| t.parse::<ProcessRef>())
        .collect::<Result<Vec<_>>>()?;
    let mode = if a.any { WaitMode::Any } else { WaitMode::All };
    if targets.len() > 64 {
        // Every target is held by a pidfd while the wait lasts.
        let _ = tether::limits::raise_open_files();
    }
    let r = wait_many(&targets, mode, timeout)?;
    let code = if r.timed_out {
        crate::exit::TIMEOUT
    } else {
        crate::exit::OK
    };
    match (ctx.json, r.targets.len()) {
        (true, 1) => print_report(&WaitReport::from(&r.targets[0])),
        (true, _) => print_report(&WaitManyReport::from(&r)),
        (false, _) => {
            for t in &r.targets {
                outln!("{}", describe(t));
            }
        }
    }
    Ok(code)
}

pub fn describe(r: &WaitOutcome) -> String {
    let ms = r.waited.as_millis();
    let status = match r.state {
        WaitState::TimedOut => {
            return format!(
                "process {} is still running (timed out after {ms} ms)",
                r.pid
            )
        }
        WaitState::AlreadyGone => return format!("process {} had already exited", r.pid),
        WaitState::Exited(status) => status,
        _ => return format!("process {} is still running", r.pid),
    };
    match status {
        ExitStatus::Known(e) => match (e.code, e.signal) {
            (Some(c), _) => format!("process {} exited with code {c} after {ms} ms", r.pid),
            (None, Some(s)) => format!(
                "process {} was killed by {} after {ms} ms",
                r.pid,
                tether::signal::Signal::from_number(s).map_or(s.to_string(), |x| x.to_string()),
            ),
            _ => format!("process {} exited after {ms} ms", r.pid),
        },
        _ => format!(
            "process {} exited after {ms} ms (exit status unknown: not a child of tether)",
            r.pid
        ),
    }
}
