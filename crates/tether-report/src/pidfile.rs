//! The reports of the PID-file forms: `tether alive` and `tether stop --pidfile`.

use std::path::Path;
use std::time::UNIX_EPOCH;

use serde::Serialize;
use tether::pidfile::{Content, ExeCheck, IdentityStrength, PidFile, Record, Removal, Status};
use tether::terminate::StopOutcome;

use crate::{Report, StopReport};

/// A PID file as read, in JSON.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub struct AliveReport {
    #[doc = concat!("Whether the process runs, and how much that verdict rests on (flattened into the report).")]
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The PID file, when the process was named by one.
    pub pidfile: Option<PidFileView>,
}

impl AliveReport {
    /// The answer on a process, named by a PID file or not.
    pub fn new(verdict: Verdict, pidfile: Option<PidFileView>) -> AliveReport {
        AliveReport { verdict, pidfile }
    }
}

impl Report for AliveReport {
    const SCHEMA: &'static str = "tether.alive/v1";
}

/// `tether stop --pidfile FILE --json`: the verdict on the file, what was done to the tree,
/// and what became of the file.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct StopPidfileReport {
    #[doc = concat!("The verdict on the file (flattened into the report).")]
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

impl StopPidfileReport {
    /// The verdict, the file as read, the stop when one was made, and what became of the file.
    pub fn new(
        verdict: Verdict,
        pidfile: PidFileView,
        stop: Option<&StopOutcome>,
        file: Option<Removal>,
    ) -> StopPidfileReport {
        StopPidfileReport {
            verdict,
            pidfile,
            stop: stop.map(StopReport::from),
            file,
        }
    }
}

impl Report for StopPidfileReport {
    const SCHEMA: &'static str = "tether.stop-pidfile/v1";
}
