//! `--pidfile FILE` of `alive`, `stop` and `wait`: the target named by a PID file, read and
//! checked by `tether::pidfile` (this module only formats), and the JSON reports of the
//! PID-file forms.

use std::path::Path;
use std::time::UNIX_EPOCH;

use serde::Serialize;
use tether::pidfile::{
    self, Content, ExeCheck, IdentityStrength, PidFile, Record, Removal, Status,
};
use tether::report::Report;
use tether::signal::Target;
use tether::terminate::{stop as stop_tree, StopOptions, StopReport};
use tether::wait::{wait as wait_one, WaitReport};
use tether::Result;

use crate::output::{escape, print_report, Ctx};

/// A PID file as read, in JSON.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PidFileView {
    /// The path given.
    pub path: String,
    /// `tether` (a tether.pidfile/v1 record) or `legacy` (a bare PID).
    pub format: String,
    /// Whether its owner held its lock when it was read (the owner is alive). Legacy writers
    /// never lock.
    pub locked: bool,
    /// When it was last modified, in milliseconds since the Unix epoch.
    pub modified_unix_ms: u64,
    /// What it holds, for the tether format.
    pub record: Option<Record>,
}

impl From<&PidFile> for PidFileView {
    fn from(f: &PidFile) -> Self {
        let record = match &f.content {
            Content::Record(r) => Some(r.clone()),
            _ => None,
        };
        PidFileView {
            path: f.path.to_string_lossy().into_owned(),
            format: if record.is_some() { "tether" } else { "legacy" }.into(),
            locked: f.locked,
            modified_unix_ms: f
                .modified
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            record,
        }
    }
}

/// The verdict, in JSON (exact; printed for people through `escape`): shared by `tether.alive/v1` and `tether.stop-pidfile/v1`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Verdict {
    /// Only `alive` is alive: `stale` and `gone` are not.
    pub alive: bool,
    /// `alive`, `stale` (the process the file names is gone, and its PID may belong to another
    /// one) or `gone` (it has exited).
    pub status: String,
    /// Why it is stale: `rebooted`, `reused`, `exe_changed` or `started_after_file`.
    pub stale_reason: Option<String>,
    /// The verdict in words.
    pub message: String,
    /// The PID named.
    pub pid: u32,
    /// The identity string of the running process (when alive).
    pub identity: Option<String>,
    /// `strong` (the full identity matched) or `weak` (only a PID was known: a legacy file or
    /// a bare PID), when alive.
    pub identity_strength: Option<IdentityStrength>,
    /// The executable the process runs now, when it differs from the one the file records
    /// (it called exec; reported alive only when the kernel or the file's owner vouches).
    pub exe_now: Option<String>,
}

impl Verdict {
    /// The verdict on the process `pid`, named by `file` when there is one.
    pub fn new(status: &Status, pid: u32, file: Option<&Path>) -> Verdict {
        let named = match file {
            Some(f) => format!("process {pid} named by {}", f.display()),
            None => format!("process {pid}"),
        };
        let mut v = Verdict {
            alive: status.is_alive(),
            status: String::new(),
            stale_reason: None,
            message: String::new(),
            pid,
            identity: None,
            identity_strength: None,
            exe_now: None,
        };
        match status {
            Status::Alive {
                identity,
                strength,
                exe,
            } => {
                v.status = "alive".into();
                v.identity = Some(identity.to_string());
                v.identity_strength = Some(*strength);
                let weak = match (strength, file) {
                    (IdentityStrength::Weak, Some(_)) => {
                        " (weak identity: a bare PID, trusted because the process started \
                         before the file was written)"
                    }
                    (IdentityStrength::Weak, None) => {
                        " (a bare PID: give an identity string \
                                                        to be sure it is the same process)"
                    }
                    _ => "",
                };
                v.message = format!("{named} is running as {identity}{weak}");
                if let ExeCheck::Changed { now, .. } = exe {
                    v.exe_now = Some(now.clone());
                    v.message += &format!("; it now runs {now}");
                }
            }
            Status::Stale(reason) => {
                v.status = "stale".into();
                v.stale_reason = Some(reason.as_str().into());
                v.message = match file {
                    Some(f) => format!("PID file {} is stale: {reason}", f.display()),
                    None => format!("{named} has exited: {reason}"),
                };
            }
            _ => {
                v.status = "gone".into();
                v.message = format!("{named} has exited");
            }
        }
        v
    }
}

/// `tether alive --json`: whether a process runs.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AliveReport {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The PID file, when the process was named by one.
    pub pidfile: Option<PidFileView>,
}

impl Report for AliveReport {
    const SCHEMA: &'static str = "tether.alive/v1";
}

/// `tether stop --pidfile FILE --json`: the verdict on the file, what was done to the tree,
/// and what became of the file.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StopPidfileReport {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The PID file as read.
    pub pidfile: PidFileView,
    /// The stop, when the process was running; `null` when nothing was signalled (it was
    /// gone, or the file was stale).
    pub stop: Option<StopReport>,
    /// `removed`, `already_removed` (by its owner), `replaced` (kept: it names another
    /// process now) or `locked` (kept: its owner still holds it), or `null` when the stop
    /// left processes alive (the file is kept).
    pub file: Option<Removal>,
}

impl Report for StopPidfileReport {
    const SCHEMA: &'static str = "tether.stop-pidfile/v1";
}

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
        print_report(&AliveReport {
            verdict,
            pidfile: file.map(PidFileView::from),
        });
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
            Some(stop_tree(&Target::Identity(identity.clone()), opts)?)
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
        print_report(&StopPidfileReport {
            verdict,
            pidfile: PidFileView::from(&file),
            stop: stopped,
            file: removal,
        });
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
        Status::Alive { identity, .. } => wait_one(&Target::Identity(identity.clone()), timeout)?,
        _ => WaitReport {
            pid: file.pid(),
            identity: file.identity().map(|i| i.to_string()),
            already_gone: true,
            exited: true,
            timed_out: false,
            exit: None,
            exit_unknown_reason: Some(verdict.message.clone()),
            waited_ms: 0,
            mechanism: "pidfd".into(),
        },
    };
    if ctx.json {
        print_report(&r);
    } else if verdict.alive {
        outln!("{}", super::wait::describe(&r));
    } else {
        outln!("{}; nothing to wait for", escape(&verdict.message));
    }
    Ok(if r.timed_out {
        crate::exit::TIMEOUT
    } else {
        crate::exit::OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every report defined here, with its schema.
    fn schemas() -> Vec<(&'static str, serde_json::Value)> {
        vec![
            (
                AliveReport::SCHEMA,
                tether::report::schema_of::<AliveReport>(),
            ),
            (
                StopPidfileReport::SCHEMA,
                tether::report::schema_of::<StopPidfileReport>(),
            ),
        ]
    }

    /// The committed schemas of the reports defined here are current (regenerate with
    /// `UPDATE_SCHEMAS=1 cargo test -p tether-cli committed_schemas`). The lead moves these
    /// reports into the report crate, whose schema test then covers them.
    #[test]
    fn committed_schemas_are_current() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
        for (id, schema) in schemas() {
            let path = dir.join(format!("{}.json", tether::report::file_stem(id)));
            let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            if update {
                std::fs::write(&path, &text).unwrap();
            } else {
                let have = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(have == text, "stale schema {}", path.display());
            }
        }
    }
}
