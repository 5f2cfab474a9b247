//! The reports of the C ABI's handles and of a run with captured output: a child's wait
//! (`tether.child-wait/v1`), a process's children (`tether.children/v1`) and a run's outcome
//! with its output (`tether.run-output/v1`).

use base64::Engine;
use serde::Serialize;
use tether::command::Output;
use tether::run::gnu_exit;
use tether::wait::ExitInfo;
use tether::Process;

use crate::{Report, RunReport};

/// A wait for a started command (the direct child): whether it exited, and how.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ChildWaitReport {
    /// The command's PID.
    pub pid: u32,
    /// It has exited (and its status was collected).
    pub exited: bool,
    /// The wait's timeout passed while it was still running.
    pub timed_out: bool,
    /// How it ended, when it has.
    pub exit: Option<ExitInfo>,
    /// The code a POSIX shell shows for it (the exit code, or 128 + signal), when it has ended.
    pub shell_code: Option<i32>,
}

impl Report for ChildWaitReport {
    const SCHEMA: &'static str = "tether.child-wait/v1";
}

impl ChildWaitReport {
    /// The report of a wait for `pid` that ended with `exit` (`None`: the timeout passed).
    pub fn new(pid: u32, exit: Option<ExitInfo>) -> ChildWaitReport {
        ChildWaitReport {
            pid,
            exited: exit.is_some(),
            timed_out: exit.is_none(),
            exit,
            shell_code: exit.map(|e| e.shell_code()),
        }
    }
}

/// One member of a process's family.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct FamilyMember {
    /// Its PID.
    pub pid: u32,
    /// Its identity string, taken on a pidfd.
    pub identity: String,
}

/// A process's children, or all its descendants (breadth first).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ChildrenReport {
    /// The parent's PID.
    pub pid: u32,
    /// All descendants rather than the children only.
    pub recursive: bool,
    /// The processes found.
    pub processes: Vec<FamilyMember>,
}

impl Report for ChildrenReport {
    const SCHEMA: &'static str = "tether.children/v1";
}

impl ChildrenReport {
    /// The report of `procs`, the children (or descendants) of `pid`.
    pub fn new(pid: u32, recursive: bool, procs: &[Process]) -> ChildrenReport {
        ChildrenReport {
            pid,
            recursive,
            processes: procs
                .iter()
                .map(|p| FamilyMember {
                    pid: p.pid(),
                    identity: p.identity().to_string(),
                })
                .collect(),
        }
    }
}

/// A run to the end with its captured output: the `tether.run/v1` report's fields, and the
/// last bytes of stdout and stderr, **base64-encoded** (standard alphabet, with padding) so
/// that any bytes pass exactly, with the number of bytes dropped before them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct RunOutputReport {
    /// What happened, as `tether run --json` reports it (`exit_code` is GNU `timeout`'s).
    #[serde(flatten)]
    pub run: RunReport,
    /// The last bytes of stdout (base64); empty when it was not captured.
    pub stdout: String,
    /// The last bytes of stderr (base64); empty when it was not captured.
    pub stderr: String,
    /// Bytes of stdout dropped because they exceeded the capture limit (the first ones).
    pub stdout_dropped: u64,
    /// Bytes of stderr dropped, as for stdout.
    pub stderr_dropped: u64,
}

impl Report for RunOutputReport {
    const SCHEMA: &'static str = "tether.run-output/v1";
}

impl RunOutputReport {
    /// The report of a run whose command could not be started: nothing was captured.
    pub fn not_started(run: RunReport) -> RunOutputReport {
        RunOutputReport {
            run,
            stdout: String::new(),
            stderr: String::new(),
            stdout_dropped: 0,
            stderr_dropped: 0,
        }
    }
}

impl From<&Output> for RunOutputReport {
    fn from(o: &Output) -> Self {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        RunOutputReport {
            run: RunReport::new(&o.status, gnu_exit(&o.status, false)),
            stdout: b64(&o.stdout),
            stderr: b64(&o.stderr),
            stdout_dropped: o.stdout_dropped,
            stderr_dropped: o.stderr_dropped,
        }
    }
}
