//! `tether init`: a container entrypoint (PID 1), or a subreaper anywhere else, with tini's
//! feature set as the floor. The library ([`tether::init`]) does the work; this formats.

use std::ffi::OsString;

use tether::duration::parse_duration;
use tether::init::{parse_remap_exit, run_init_with_events, InitEvent, InitOptions, DEFAULT_GRACE};
use tether::signal::Signal;
use tether::wait::ExitInfo;
use tether::Result;

use crate::exit::report_error;
use tether_report::InitReport;

use crate::output::{escape, plural, print_report, Ctx};

pub const HELP: &str = "Runs COMMAND as init: as PID 1 of a container (its entrypoint, in place of \
tini or docker run --init), or anywhere else as a child subreaper (set automatically; --subreaper, tini's -s, \
makes failing to set it an error).

Signals: every signal tether init can catch is passed on to COMMAND (with -g, to its process \
group), as tini does: all but SIGCHLD (it means \"reap\"), the fault signals (FPE, ILL, SEGV, BUS, \
ABRT, TRAP, SYS), TTIN and TTOU (ignored by init, restored in COMMAND), and KILL and STOP. COMMAND \
runs in a process group of its own, made the terminal's foreground group when init's group held it.

Zombies: every child that exits is reaped, orphans included, as they happen (signalfd and pidfd; \
no polling).

When COMMAND exits, whatever it left running (descendants, orphans adopted by init) gets TERM, \
--grace (default 5s) to exit, then KILL; tether init exits once everything is gone. tini exits at \
once instead. If tether init itself is killed (not as PID 1), COMMAND gets KILL.

--remap-exit N:M (repeatable) maps COMMAND's exit code N to M; tini's -e N is --remap-exit N:0. \
--pdeathsig SIG sets the signal tether init gets when its parent dies (tini's -p); it is passed on \
to COMMAND like any other. -v says on stderr what init does (tini's -v and -w). --json prints a \
tether.init/v1 report on stdout once everything has ended (COMMAND's own stdout goes to the same \
stream unless redirected).

Exit codes: COMMAND's exit code, or 128+N when signal N killed it, after --remap-exit; 1 tether \
init itself failed; 2 usage error (no command, unknown option, bad --remap-exit, --pdeathsig or \
--grace); 126 COMMAND found but cannot be invoked; 127 COMMAND not found.";

/// `tether init [OPTIONS] [--] CMD [ARG...]`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Fail unless tether init can be a child subreaper (when not PID 1; tini -s). It becomes
    /// one without this too.
    #[arg(long)]
    pub subreaper: bool,
    /// Pass signals on to COMMAND's process group, not COMMAND alone (tini -g).
    #[arg(short, long)]
    pub group: bool,
    /// Map COMMAND's exit code N to M (0-255, repeatable; tini -e N is N:0).
    #[arg(long, value_name = "N:M")]
    pub remap_exit: Vec<String>,
    /// Signal tether init gets when its parent dies (tini -p); passed on to COMMAND.
    #[arg(long, value_name = "SIG")]
    pub pdeathsig: Option<String>,
    /// Time COMMAND's leftovers get after TERM, once it has exited, before KILL (default 5;
    /// 1.5, 500ms, 1m).
    #[arg(long, value_name = "D")]
    pub grace: Option<String>,
    /// Say on stderr what init does: signals passed on, zombies reaped, leftovers ended.
    #[arg(short, long)]
    pub verbose: bool,
    /// Command and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let mut opts = InitOptions::new(a.command.iter().cloned());
    opts.group = a.group;
    opts.subreaper = a.subreaper;
    opts.remap_exit = a
        .remap_exit
        .iter()
        .map(|s| parse_remap_exit(s))
        .collect::<Result<_>>()?;
    opts.pdeathsig = a
        .pdeathsig
        .as_deref()
        .map(str::parse::<Signal>)
        .transpose()?;
    opts.grace = match &a.grace {
        Some(g) => parse_duration(g)?,
        None => DEFAULT_GRACE,
    };
    opts.validate()?;
    let verbose = a.verbose;
    let outcome = run_init_with_events(&opts, &mut |ev| {
        // NoSubreaper is a warning people need without -v too (tini prints it by default).
        if verbose || matches!(ev, InitEvent::NoSubreaper { .. }) {
            say(ev);
        }
        // Ending the leftovers holds a pidfd per process: raise the open-files limit for that,
        // only now that the command has exited, so that it never inherited a changed limit.
        if matches!(ev, InitEvent::Exited { .. }) {
            let _ = tether::limits::raise_open_files();
        }
    });
    let o = match outcome {
        Ok(o) => o,
        Err(e) => {
            report_error(&e.error, ctx);
            return Ok(e.exit_code);
        }
    };
    if let Some(e) = &o.end_error {
        diag!(
            "tether: ending what the command left running: {}",
            escape(e.message())
        );
    }
    if !o.leftovers.remaining.is_empty() {
        diag!(
            "tether: {} left running after KILL: {}",
            plural(o.leftovers.remaining.len() as u64, "process", "processes"),
            pids(&o.leftovers.remaining)
        );
    }
    if ctx.json {
        print_report(&InitReport::new(&a.command, &o));
    }
    Ok(o.exit_code)
}

/// One `-v` line.
fn say(ev: &InitEvent) {
    match ev {
        InitEvent::Started { pid } => diag!("tether init: started the command, PID {pid}"),
        InitEvent::NoSubreaper { error } => diag!(
            "tether init: not PID 1 and not a subreaper ({}): orphans of the command will not \
             be reaped or ended here (run it as PID 1 or where prctl is allowed)",
            escape(error.message())
        ),
        InitEvent::Forwarded {
            signal,
            pid,
            group,
            delivered,
        } => {
            let to = if *group {
                format!("process group {pid}")
            } else {
                format!("PID {pid}")
            };
            if *delivered {
                diag!("tether init: passed SIG{} on to {to}", signal.name());
            } else {
                diag!(
                    "tether init: could not pass SIG{} on to {to}: it has exited",
                    signal.name()
                );
            }
        }
        InitEvent::Reaped { pid, exit } => {
            diag!("tether init: reaped zombie PID {pid} ({})", how(exit))
        }
        InitEvent::Exited { pid, exit } => {
            diag!("tether init: the command (PID {pid}) {}", how(exit))
        }
        InitEvent::Ended { outcome } => {
            let n = outcome.signalled.len();
            diag!(
                "tether init: sent TERM to {} the command left running: {}",
                plural(n as u64, "process", "processes"),
                pids(&outcome.signalled)
            );
            if outcome.escalated {
                diag!(
                    "tether init: sent KILL to {} still running after the grace: {}",
                    plural(outcome.survivors.len() as u64, "process", "processes"),
                    pids(&outcome.survivors)
                );
            }
        }
        _ => {}
    }
}

fn how(e: &ExitInfo) -> String {
    match (e.code, e.signal) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!(
            "was killed by SIG{}{}",
            Signal::from_number(s).map_or_else(|_| s.to_string(), Signal::name),
            if e.core_dumped { " (core dumped)" } else { "" }
        ),
        (None, None) => "ended".into(),
    }
}

fn pids(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording() {
        assert_eq!(plural(1u32, "process", "processes"), "1 process");
        assert_eq!(plural(2u32, "process", "processes"), "2 processes");
        let killed = ExitInfo {
            code: None,
            signal: Some(15),
            core_dumped: false,
        };
        assert_eq!(how(&killed), "was killed by SIGTERM");
    }
}
