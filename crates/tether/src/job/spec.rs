//! What a job is: [`JobSpec`] (command, environment, restart policy, logs, readiness), and the
//! restart policy's arithmetic ([`RestartPolicy`], [`backoff_delay`]).

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::retry::{Backoff, Schedule};

/// When the supervisor starts the command again after it exits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RestartPolicy {
    /// Never: the job ends with its command.
    #[default]
    No,
    /// When it exits with a non-zero code or is killed by a signal.
    OnFailure,
    /// Whenever it exits.
    Always,
}

impl RestartPolicy {
    /// The name, as `--restart` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
        }
    }

    /// Whether a run that ended this way is started again (before counting restarts).
    pub fn restarts_after(self, code: Option<i32>) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure => code != Some(0),
            RestartPolicy::Always => true,
        }
    }
}

impl FromStr for RestartPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "no" => Ok(RestartPolicy::No),
            "on-failure" => Ok(RestartPolicy::OnFailure),
            "always" => Ok(RestartPolicy::Always),
            _ => Err(Error::invalid(format!(
                "unknown restart policy '{s}' (use no, on-failure or always)"
            ))),
        }
    }
}

/// Everything the supervisor needs to run a job, kept in `STATE/NAME/spec.json` (mode 0600:
/// it holds the environment given, which may carry secrets) so that `restart` can start it
/// again. Build it with [`JobSpec::new`] and set what differs.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct JobSpec {
    /// The job's name ([`super::is_job_name`]).
    pub name: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Working directory (default: the one `start` ran in).
    pub cwd: Option<PathBuf>,
    /// Variables set on top of the environment `start` ran in.
    pub env: Vec<(String, String)>,
    /// The restart policy.
    pub restart: RestartPolicy,
    /// Give up after this many restarts (`None`: never give up).
    pub max_restarts: Option<u32>,
    /// The first restart delay, in milliseconds; it doubles with each quick failure.
    pub backoff_min_ms: u64,
    /// The longest restart delay, in milliseconds.
    pub backoff_max_ms: u64,
    /// A run that lasts this long (milliseconds) resets the backoff to its first delay.
    pub min_uptime_ms: u64,
    /// Rotate a log file when it would grow beyond this many bytes.
    pub log_max_size: u64,
    /// How many rotated files of each log to keep (`stdout.log.1` … `.N`).
    pub log_keep: u32,
    /// Readiness targets (as `tether wait-for` takes them) that must all be ready before
    /// `start` returns.
    pub ready: Vec<String>,
    /// Jobs that must be running and ready before this one starts.
    pub requires: Vec<String>,
    /// How long `start` waits, in milliseconds, for the required jobs and for readiness.
    pub timeout_ms: u64,
    /// A PID file written for each run of the command (a tether PID file, held while it runs).
    pub pidfile: Option<PathBuf>,
}

/// Default first restart delay: 100 ms.
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Default longest restart delay: 30 s.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Default minimum uptime that resets the backoff: 1 s.
pub const DEFAULT_MIN_UPTIME: Duration = Duration::from_secs(1);
/// Default log size before rotation: 10 MiB.
pub const DEFAULT_LOG_MAX_SIZE: u64 = 10 << 20;
/// Default number of rotated files kept per log: 3.
pub const DEFAULT_LOG_KEEP: u32 = 3;
/// Default time `start` waits for requirements and readiness: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl JobSpec {
    /// A job named `name` running `command`, with the defaults: no restart, backoff 100 ms to
    /// 30 s, minimum uptime 1 s, logs rotated at 10 MiB keeping 3, a 30 s start timeout.
    pub fn new<I, S>(name: &str, command: I) -> JobSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        JobSpec {
            name: name.to_string(),
            command: command.into_iter().map(Into::into).collect(),
            cwd: None,
            env: Vec::new(),
            restart: RestartPolicy::No,
            max_restarts: None,
            backoff_min_ms: DEFAULT_BACKOFF_MIN.as_millis() as u64,
            backoff_max_ms: DEFAULT_BACKOFF_MAX.as_millis() as u64,
            min_uptime_ms: DEFAULT_MIN_UPTIME.as_millis() as u64,
            log_max_size: DEFAULT_LOG_MAX_SIZE,
            log_keep: DEFAULT_LOG_KEEP,
            ready: Vec::new(),
            requires: Vec::new(),
            timeout_ms: DEFAULT_TIMEOUT.as_millis() as u64,
            pidfile: None,
        }
    }

    /// Check the spec before anything is started: a valid name, a command, valid readiness
    /// targets and required job names, a backoff range that is one, a log size of at least
    /// 1 byte.
    pub fn validate(&self) -> Result<()> {
        super::state::check_name(&self.name)?;
        if self.command.is_empty() || self.command[0].is_empty() {
            return Err(Error::invalid("no command to run"));
        }
        for t in &self.ready {
            t.parse::<crate::ready::Target>()?;
        }
        for r in &self.requires {
            super::state::check_name(r)?;
            if *r == self.name {
                return Err(Error::invalid(format!("job '{r}' cannot require itself")));
            }
        }
        if self.backoff_min_ms > self.backoff_max_ms {
            return Err(Error::invalid(
                "the backoff range starts after it ends (use MIN..MAX with MIN <= MAX)",
            ));
        }
        if self.log_max_size == 0 {
            return Err(Error::invalid("the log size limit must be at least 1 byte"));
        }
        for (k, _) in &self.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(Error::invalid(format!(
                    "bad environment variable name '{k}' (use K=V)"
                )));
            }
        }
        Ok(())
    }

    /// The spec with its paths anchored where the caller is, since the supervisor outlives
    /// the caller's directory: no `cwd` becomes the current directory, and a relative `cwd`
    /// or `pidfile` is made absolute. [`super::start`] does this itself.
    pub fn anchored(&self) -> Result<JobSpec> {
        let absolute = |p: &std::path::Path| {
            std::path::absolute(p).map_err(|e| Error::invalid(format!("{}: {e}", p.display())))
        };
        let mut s = self.clone();
        s.cwd = Some(match &self.cwd {
            Some(d) => absolute(d)?,
            None => std::env::current_dir()
                .map_err(|e| Error::not_found(format!("the current directory: {e}")))?,
        });
        s.pidfile = self.pidfile.as_deref().map(absolute).transpose()?;
        Ok(s)
    }

    /// The backoff range.
    pub fn backoff(&self) -> (Duration, Duration) {
        (
            Duration::from_millis(self.backoff_min_ms),
            Duration::from_millis(self.backoff_max_ms),
        )
    }
}

/// Parse a backoff range `MIN..MAX` (durations, e.g. `100ms..30s`); a single duration is a
/// fixed delay.
pub fn parse_backoff(s: &str) -> Result<(Duration, Duration)> {
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let a = crate::duration::parse_duration(a)?;
    let b = crate::duration::parse_duration(b)?;
    if a > b {
        return Err(Error::invalid(format!(
            "bad backoff '{s}': it starts after it ends (use MIN..MAX with MIN <= MAX)"
        )));
    }
    Ok((a, b))
}

/// Parse `K=V`.
pub fn parse_env(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(Error::invalid(format!(
            "bad environment setting '{s}' (use K=V)"
        ))),
    }
}

/// The restart delays of a spec's backoff range: exponential from `min`, doubling with each
/// quick failure, capped at `max`, each spread at random over `[d/2, d]` (the one delay rule
/// of tether, [`Schedule`], as `tether retry --jitter` uses it) so that jobs that failed
/// together do not restart in step.
///
/// ```
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// let s = tether::job::restart_schedule(ms(100), ms(1000));
/// assert_eq!(s.bounds(1), (ms(50), ms(100)));
/// assert_eq!(s.bounds(3), (ms(200), ms(400)));
/// assert_eq!(s.bounds(9), (ms(500), ms(1000)));
/// ```
pub fn restart_schedule(min: Duration, max: Duration) -> Schedule {
    Schedule {
        backoff: Backoff::Exponential,
        delay: min,
        max_delay: Some(max),
        jitter: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_delays_double_to_the_cap_with_jitter_below() {
        let ms = Duration::from_millis;
        let s = restart_schedule(ms(100), ms(1000));
        assert_eq!(s.delay_for(1, 1.0), ms(100));
        assert_eq!(s.delay_for(1, 0.0), ms(50));
        assert_eq!(s.delay_for(4, 1.0), ms(800));
        assert_eq!(s.delay_for(5, 1.0), ms(1000));
        assert_eq!(s.delay_for(100, 0.0), ms(500));
    }

    #[test]
    fn parses_ranges_and_policies() {
        assert_eq!(
            parse_backoff("100ms..2s").unwrap(),
            (Duration::from_millis(100), Duration::from_secs(2))
        );
        assert_eq!(
            parse_backoff("1").unwrap(),
            (Duration::from_secs(1), Duration::from_secs(1))
        );
        assert!(parse_backoff("2s..1s").is_err());
        assert_eq!(
            "on-failure".parse::<RestartPolicy>().unwrap(),
            RestartPolicy::OnFailure
        );
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        assert!(RestartPolicy::OnFailure.restarts_after(None));
        assert!(!RestartPolicy::OnFailure.restarts_after(Some(0)));
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_env("=x").is_err());
    }
}
