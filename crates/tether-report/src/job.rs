//! The reports of the job commands: `tether start`, `status`, `list`, `stop NAME`, `restart`,
//! `rm` and `logs`.

use serde::Serialize;
use tether::job::JobStatus;

use crate::Report;

/// One job (`tether start`, `status NAME`, `stop NAME`, `restart`, `rm`): its status as the
/// supervisor keeps it in `status.json` (camelCase fields), and what the command did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct JobReport {
    /// The job's status.
    pub job: JobStatus,
    /// `start`: the job was running already; nothing was started.
    pub already_running: bool,
    /// `stop`: the job was not running; nothing was signalled.
    pub already_stopped: bool,
    /// `rm`: its directory (status, logs) was removed.
    pub removed: bool,
}

impl JobReport {
    /// A report of `status`.
    pub fn new(job: JobStatus) -> JobReport {
        JobReport {
            job,
            already_running: false,
            already_stopped: false,
            removed: false,
        }
    }
}

impl Report for JobReport {
    const SCHEMA: &'static str = "tether.job/v1";
}

/// Every job (`tether status`, `tether list`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct JobsReport {
    /// The state directory.
    pub state_dir: String,
    /// The jobs, by name.
    pub jobs: Vec<JobStatus>,
}

impl JobsReport {
    /// The report of `jobs` in `state_dir`.
    pub fn new(state_dir: String, jobs: Vec<JobStatus>) -> JobsReport {
        JobsReport { state_dir, jobs }
    }
}

impl Report for JobsReport {
    const SCHEMA: &'static str = "tether.jobs/v1";
}

/// The last lines of a job's log (`tether logs --json`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct JobLogsReport {
    /// The job.
    pub name: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The log file.
    pub path: String,
    /// The lines, without their newlines (invalid UTF-8 replaced).
    pub lines: Vec<String>,
}

impl JobLogsReport {
    /// The report of `bytes` read from `path`.
    pub fn new(name: &str, stream: &str, path: String, bytes: &[u8]) -> JobLogsReport {
        let text = String::from_utf8_lossy(bytes);
        JobLogsReport {
            name: name.to_string(),
            stream: stream.to_string(),
            path,
            lines: text.lines().map(str::to_string).collect(),
        }
    }
}

impl Report for JobLogsReport {
    const SCHEMA: &'static str = "tether.job-logs/v1";
}
