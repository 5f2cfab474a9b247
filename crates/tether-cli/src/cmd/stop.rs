//! `tether stop`: end a process and its whole tree, gracefully first, for processes tether did
//! not start too.

use tether::duration::parse_duration;
use tether::signal::Signal;
use tether::terminate::{stop_ref, StopOptions, StopOutcome};
use tether::{ProcessRef, Result};
use tether_report::StopReport;

use crate::output::{print_report, Ctx};

pub const HELP: &str = "The identity is verified first (give an identity string to make sure a reused PID \
is never hit), and permission to signal it. The tree is the target's descendants, the process group and \
session it leads, and its cgroup when it owns one. The tree is held still (cgroup freezer, or SIGSTOP) while \
the graceful signal is sent, then continued with SIGCONT; the kill signal goes only to what is still alive \
when the grace ends, and stop returns as soon as everything is gone.

A bare PID that names no process is an error (\"no such process\"), so that a mistyped PID does not pass; \
an identity string whose process has exited is a success (it existed, and is gone). Refused without \
--force, as by `tether kill`: PID 1, tether itself, its ancestors (its parent, the shell or script that \
started it, ...), and the leaders of its process group and session; so `tether stop $$` in a script does \
not end the script.

With --port, every owner of the port is stopped this way (exit 1 also when nobody holds it).

With --pidfile, the target is the process the PID file names, checked as `tether alive --pidfile` checks \
it: a file that is stale or names a process that has exited signals nothing and is a success. The file is \
then removed, under its lock, only if it still names that process: a file another writer put in its \
place is kept, and so is one whose owner (a `tether run --pidfile`) still holds it after 5 s (the owner \
removes it itself). JSON: tether.stop-pidfile/v1. A malformed PID file is an error (exit 2, as for \
`tether alive`), and nothing is signalled.

A TARGET that starts with a digit is a PID or an identity string; anything else is the name of a job \
(`tether start NAME`), which cannot start with a digit, so no argument can mean both. A job is stopped \
through its supervisor: TERM to the command's whole tree, --grace, then KILL to what is left; the \
status becomes `stopped`, and a job that is not running is a success. JSON: tether.job/v1. \
(--signal and --kill-signal apply to processes; a job always gets TERM, then KILL.)

Exit codes: 0 the tree is gone (or an identity's process, or a PID file's, was already gone); 1 refused \
by a rail, not permitted, no such process or PID file, identity mismatch (nothing was signalled), or \
processes remain; 2 usage error, or a malformed PID file.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// PID or identity string (from `tether info`), or the name of a job (which never starts
    /// with a digit).
    #[arg(required_unless_present_any = ["port", "pidfile"], conflicts_with_all = ["port", "pidfile"])]
    pub target: Option<String>,
    /// Stop the process this PID file names instead (a tether PID file or a bare PID); remove
    /// the file if it still names it.
    #[arg(long, value_name = "FILE", conflicts_with = "port")]
    pub pidfile: Option<std::path::PathBuf>,
    /// Stop the owner(s) of this port instead (N, N/tcp or N/udp): every process holding it is
    /// found, its identity verified, and its tree ended (pre-fork workers with their parent's).
    #[arg(long, value_name = "N[/PROTO]")]
    pub port: Option<String>,
    /// Time the tree gets after the graceful signal (5, 1.5, 2m, 500ms).
    #[arg(long, default_value = "10", value_name = "D")]
    pub grace: String,
    /// The graceful signal.
    #[arg(short, long, default_value = "TERM", value_name = "SIG")]
    pub signal: String,
    /// Sent to what survives the grace.
    #[arg(long, default_value = "KILL", value_name = "SIG")]
    pub kill_signal: String,
    /// Allow what the rails refuse: PID 1, tether itself, its ancestors, the leaders of its
    /// process group and session.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub state: super::job::StateArg,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let mut opts = StopOptions::default();
    opts.signal = a.signal.parse::<Signal>()?;
    opts.grace = parse_duration(&a.grace)?;
    opts.kill_signal = a.kill_signal.parse::<Signal>()?;
    opts.force = a.force;
    // A huge tree is held by a pidfd per member.
    let _ = tether::limits::raise_open_files();
    if let Some(p) = &a.port {
        return super::stop_port::run(p, &opts, ctx);
    }
    if let Some(f) = &a.pidfile {
        return super::pidfile::stop(f, &opts, ctx);
    }
    let target = a.target.as_deref().unwrap_or_default();
    if !target.starts_with(|c: char| c.is_ascii_digit()) {
        tether::job::check_name(target)?;
        return super::job::stop(target, opts.grace, &a.state, ctx);
    }
    let target: ProcessRef = target.parse()?;
    let r = stop_ref(&target, &opts)?;
    if ctx.json {
        print_report(&StopReport::from(&r));
    } else {
        print_human(&r);
    }
    Ok(if r.remaining.is_empty() { 0 } else { 1 })
}

fn list(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

pub fn print_human(r: &StopOutcome) {
    if r.already_gone {
        outln!("process {} has already exited; nothing to do", r.pid);
        return;
    }
    outln!(
        "stopped process {} ({}, {}; held by {}): {} signalled with {}",
        r.pid,
        r.containment.mechanism,
        r.containment.strength,
        r.held.as_str(),
        r.signalled.len(),
        r.signal.name()
    );
    if r.escalated {
        outln!(
            "survived the grace, sent {}: {}",
            r.kill_signal.name(),
            list(&r.survivors)
        );
    }
    if !r.remaining.is_empty() {
        diag!("tether: still alive: {}", list(&r.remaining));
    }
    outln!("done in {} ms", r.elapsed.as_millis());
}
