//! The status of a job, as its supervisor keeps it in `STATE/NAME/status.json` (camelCase
//! names, as a Go service's status file has them), and the timestamps in it.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum JobState {
    /// The supervisor runs, the command has not started yet (waiting for required jobs).
    Pending,
    /// The command runs.
    Running,
    /// The command exited with code 0 and will not be started again.
    Exited,
    /// The command exited with a non-zero code (or could not start, or never became ready)
    /// and will not be started again.
    Failed,
    /// The command was killed by a signal and will not be started again, or its supervisor
    /// was lost (killed) and its watchdog ended it.
    Killed,
    /// The command exited and will be started again after a delay.
    Backoff,
    /// Stopped on request (`tether stop`).
    Stopped,
}

impl JobState {
    /// The name, as the status file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Exited => "exited",
            JobState::Failed => "failed",
            JobState::Killed => "killed",
            JobState::Backoff => "backoff",
            JobState::Stopped => "stopped",
        }
    }

    /// Whether a supervisor is meant to be behind this state (it is not final).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            JobState::Pending | JobState::Running | JobState::Backoff
        )
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run of the command, as the history in the status keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RunRecord {
    /// The PID it ran as.
    pub pid: u32,
    /// When it started (RFC 3339, UTC, milliseconds).
    pub started_at: String,
    /// When it ended.
    pub ended_at: Option<String>,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed it (e.g. `SIGKILL`), when one did.
    pub signal: Option<String>,
}

/// The supervisor of a job: a detached process, one per running job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SupervisorInfo {
    /// Its PID.
    pub pid: u32,
    /// Its identity string: `status` checks it to tell a live supervisor from a lost one.
    pub identity: String,
}

/// The most runs the history keeps (the latest ones).
pub const HISTORY_LEN: usize = 20;

/// A job's status: the content of `STATE/NAME/status.json`, written atomically by its
/// supervisor at every change, and what `tether status` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct JobStatus {
    /// The job's name.
    pub name: String,
    /// This start's unique id (new at each `start`, kept across restarts).
    pub id: String,
    /// The state.
    pub status: JobState,
    /// The command's PID (of the current run, or the last one).
    pub pid: Option<u32>,
    /// The command's identity string (`PID:START_TICKS:BOOT8[:INODE]`).
    pub identity: Option<String>,
    /// The last run's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed the last run (e.g. `SIGTERM`), when one did.
    pub signal: Option<String>,
    /// When the current (or last) run started: RFC 3339, UTC, milliseconds.
    pub started_at: Option<String>,
    /// How long the current run has been running, or the last one ran (Go's duration form,
    /// e.g. `1m2.5s`; `time.ParseDuration` and `tether`'s durations read it).
    pub duration: Option<String>,
    /// How many times the command was started again.
    pub restarts: u32,
    /// Why the last run ended, in words (also why the job gave up or was not started).
    pub last_exit_reason: Option<String>,
    /// Whether the readiness targets were met (true at once when there are none).
    pub ready: bool,
    /// When the next start is due (in `backoff`).
    pub next_start_at: Option<String>,
    /// The supervisor.
    pub supervisor: Option<SupervisorInfo>,
    /// The supervisor is gone although the status was not final: it was killed, and its
    /// watchdog ended the command (the status then says `killed`).
    pub supervisor_lost: bool,
    /// The program and arguments.
    pub command: Vec<String>,
    /// The restart policy.
    pub restart: super::RestartPolicy,
    /// When the status was last written.
    pub updated_at: String,
    /// The latest runs, oldest first (at most 20).
    pub history: Vec<RunRecord>,
}

impl JobStatus {
    /// A fresh status for a job about to start.
    pub(crate) fn new(spec: &super::JobSpec, id: String, supervisor: SupervisorInfo) -> Self {
        JobStatus {
            name: spec.name.clone(),
            id,
            status: JobState::Pending,
            pid: None,
            identity: None,
            exit_code: None,
            signal: None,
            started_at: None,
            duration: None,
            restarts: 0,
            last_exit_reason: None,
            ready: false,
            next_start_at: None,
            supervisor: Some(supervisor),
            supervisor_lost: false,
            command: spec.command.clone(),
            restart: spec.restart,
            updated_at: rfc3339(SystemTime::now()),
            history: Vec::new(),
        }
    }

    /// Read a status file (refusing a symbolic link or a foreign owner).
    pub(crate) fn read(path: &Path) -> Result<JobStatus> {
        let mut f = super::state::open_private(path)?;
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut text)
            .map_err(|e| Error::from_io(format_args!("reading {}", path.display()), &e))?;
        serde_json::from_slice(&text).map_err(|e| {
            Error::new(
                crate::ErrorKind::System,
                format!("{} is not a job status: {e}", path.display()),
            )
        })
    }

    /// Write it atomically, mode 0600.
    pub(crate) fn write(&mut self, path: &Path) -> Result<()> {
        self.updated_at = rfc3339(SystemTime::now());
        let mut text = serde_json::to_vec_pretty(self).unwrap_or_default();
        text.push(b'\n');
        crate::fs::write_atomic_mode(path, &text, 0o600)
    }
}

/// A time as RFC 3339 in UTC with milliseconds: `2026-11-26T00:31:02.512Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Parse what [`rfc3339`] writes (UTC, `Z`, optional fraction).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || !s.ends_with('Z') || b[4] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = &s[19..s.len() - 1];
    let nanos = match frac.strip_prefix('.') {
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
        }
        None if frac.is_empty() => 0,
        _ => return None,
    };
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    let secs = days.checked_mul(86_400)? + (h * 3600 + mi * 60 + se) as i64;
    Some(UNIX_EPOCH + Duration::new(u64::try_from(secs).ok()?, nanos))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A duration in Go's `time.Duration.String()` form: `1h2m3.5s`, `250ms`, `0s`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let secs = if rest % 1000 == 0 {
        format!("{}s", rest / 1000)
    } else {
        let s = format!("{}.{:03}", rest / 1000, rest % 1000);
        format!("{}s", s.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_653_062_512);
        let s = rfc3339(t);
        assert_eq!(s, "2026-11-26T00:31:02.512Z");
        assert_eq!(parse_rfc3339(&s), Some(t));
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            parse_rfc3339("2000-02-29T12:00:00Z").map(rfc3339).unwrap(),
            "2000-02-29T12:00:00.000Z"
        );
        assert!(parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn durations_in_go_form() {
        let ms = Duration::from_millis;
        assert_eq!(go_duration(ms(0)), "0ms");
        assert_eq!(go_duration(ms(250)), "250ms");
        assert_eq!(go_duration(ms(1500)), "1.5s");
        assert_eq!(go_duration(ms(62_500)), "1m2.5s");
        assert_eq!(go_duration(ms(3_600_000)), "1h0m0s");
        assert_eq!(
            crate::duration::parse_duration(&go_duration(ms(62_500))).unwrap(),
            ms(62_500)
        );
    }
}
