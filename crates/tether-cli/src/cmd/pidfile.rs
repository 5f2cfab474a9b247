//! `--pidfile FILE` of `alive`, `stop` and `wait`: the target named by a PID file, read and
//! checked by `tether::pidfile` (this module only formats), and the JSON reports of the
//! PID-file forms.

use std::path::Path;

use tether::pidfile::{self, PidFile, Removal, Status};
use tether::terminate::{stop_ref, StopOptions};
use tether::wait::{wait_many, WaitMode, WaitOutcome};
use tether::{ProcessRef, Result};
use tether_report::{AliveReport, PidFileView, StopPidfileReport, Verdict, WaitReport};

use crate::output::{escape, print_report, Ctx};

/// `tether alive --pidfile FILE`.
pub fn alive(path: &Path, quiet: bool, ctx: &Ctx) -> Result<i32> {
    let file = pidfile::read(path)?;
    let status = file.check()?;
    print_alive(&status, file.pid(), Some(&file), quiet, ctx);
    Ok(alive_code(&status))
}

/// Print the answer of `alive`.
pub fn print_alive(status: &Status, pid: u32, file: Option<&PidFile>, quiet: bool, ctx: &Ctx) {
    let verdict = Verdict::new(status, pid, file.map(|f| f.path.as_path()));
    if ctx.json {
        print_report(&AliveReport::new(verdict, file.map(PidFileView::from)));
    } else if !quiet {
        outln!("{}", escape(&verdict.message));
    }
}

/// 0 alive, 1 not.
pub fn alive_code(status: &Status) -> i32 {
    if status.is_alive() {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    }
}

/// `tether stop --pidfile FILE`: stop the tree of the process the file names, if it runs
/// (nothing is signalled otherwise), then remove the file if it still names that process.
pub fn stop(path: &Path, opts: &StopOptions, ctx: &Ctx) -> Result<i32> {
    let file = pidfile::read(path)?;
    let status = file.check()?;
    let verdict = Verdict::new(&status, file.pid(), Some(path));
    let stopped = match &status {
        // Re-verified on a pidfd by stop itself: a process that exits or is replaced in
        // between is never hit.
        Status::Alive { identity, .. } => {
            Some(stop_ref(&ProcessRef::Identity(identity.clone()), opts)?)
        }
        _ => None,
    };
    // Done when nothing is left: nothing was signalled, or the tree is gone.
    let done = match &stopped {
        Some(r) => r.remaining.is_empty(),
        None => true,
    };
    let removal = if done {
        Some(pidfile::remove_if_names(&file, pidfile::LOCK_WAIT)?)
    } else {
        None
    };
    if ctx.json {
        print_report(&StopPidfileReport::new(
            verdict,
            PidFileView::from(&file),
            stopped.as_ref(),
            removal,
        ));
    } else {
        match &stopped {
            Some(r) => super::stop::print_human(r),
            None => outln!("{}; nothing signalled", escape(&verdict.message)),
        }
        let shown = escape(&path.to_string_lossy()).into_owned();
        match removal {
            Some(Removal::Removed) => outln!("removed PID file {shown}"),
            Some(Removal::AlreadyRemoved) => outln!("PID file {shown} was removed by its owner"),
            Some(Removal::Replaced) => {
                diag!("tether: kept PID file {shown}: it names another process now")
            }
            Some(Removal::Locked) => diag!(
                "tether: kept PID file {shown}: its owner still holds it (it removes the file \
                 itself when it ends)"
            ),
            _ => {}
        }
    }
    Ok(if done {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    })
}

/// `tether wait --pidfile FILE`: wait for the process the file names; a file that is stale
/// or names a process that is gone is a process that had already exited.
pub fn wait(path: &Path, timeout: Option<std::time::Duration>, ctx: &Ctx) -> Result<i32> {
    let file = pidfile::read(path)?;
    let status = file.check()?;
    let verdict = Verdict::new(&status, file.pid(), Some(path));
    let r = match &status {
        Status::Alive { identity, .. } => {
            let target = [ProcessRef::Identity(identity.clone())];
            wait_many(&target, WaitMode::All, timeout)?
                .targets
                .remove(0)
        }
        _ => WaitOutcome::already_gone(file.pid(), file.identity().cloned()),
    };
    if ctx.json {
        let mut report = WaitReport::from(&r);
        if !verdict.alive {
            report.exit_unknown_reason = Some(verdict.message.clone());
        }
        print_report(&report);
    } else if verdict.alive {
        outln!("{}", super::wait::describe(&r));
    } else {
        outln!("{}; nothing to wait for", escape(&verdict.message));
    }
    Ok(if r.timed_out() {
        crate::exit::TIMEOUT
    } else {
        crate::exit::OK
    })
}
