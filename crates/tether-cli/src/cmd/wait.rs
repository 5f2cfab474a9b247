//! `tether wait`: wait for any process (PID or identity) to exit, event-driven through a pidfd.

use tether::duration::parse_duration;
use tether::signal::Target;
use tether::wait::{wait, WaitReport};
use tether::Result;

use crate::output::{print_report, Ctx};

pub const HELP: &str = "Waits on a pidfd (no polling). The exit status is shown when the kernel gives it \
(tether's own children only); for other processes it is unknown. A target that is already gone, or whose \
identity string now names a different process, counts as gone at once.

Exit codes: 0 the target is gone (also when it was gone before the wait began); 1 the wait failed \
(e.g. permission denied); 2 usage error (bad PID, identity string or duration); 124 the timeout passed.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// PID or identity string (from `tether info`).
    pub target: String,
    /// Give up after this long (5, 1.5, 2m, 500ms, 1h30m; 0 = no limit).
    #[arg(short, long, value_name = "D")]
    pub timeout: Option<String>,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let target = Target::parse(&a.target)?;
    let timeout = match &a.timeout {
        Some(t) => Some(parse_duration(t)?).filter(|d| !d.is_zero()),
        None => None,
    };
    let r = wait(&target, timeout)?;
    if ctx.json {
        print_report(&r);
    } else {
        outln!("{}", describe(&r));
    }
    Ok(if r.timed_out {
        crate::exit::TIMEOUT
    } else {
        crate::exit::OK
    })
}

fn describe(r: &WaitReport) -> String {
    if r.timed_out {
        return format!(
            "process {} is still running (timed out after {} ms)",
            r.pid, r.waited_ms
        );
    }
    if r.already_gone {
        return format!("process {} was already gone", r.pid);
    }
    match r.exit {
        Some(e) => match (e.code, e.signal) {
            (Some(c), _) => format!(
                "process {} exited with code {c} after {} ms",
                r.pid, r.waited_ms
            ),
            (None, Some(s)) => format!(
                "process {} was killed by {} after {} ms",
                r.pid,
                tether::signal::Signal::from_number(s).map_or(s.to_string(), |x| x.to_string()),
                r.waited_ms
            ),
            _ => format!("process {} exited after {} ms", r.pid, r.waited_ms),
        },
        None => format!(
            "process {} exited after {} ms (exit status unknown: not a child of tether)",
            r.pid, r.waited_ms
        ),
    }
}
