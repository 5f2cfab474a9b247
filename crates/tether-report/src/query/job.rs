//! `tether.job-query/v1`: a background job to start (what `tether start` takes).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tether::job::JobSpec;
use tether::Result;

use super::millis;

/// A job to start: its name and command, and what differs from [`JobSpec::new`]'s defaults.
/// The output of a start is `tether.job/v1`.
///
/// `{"schema": "tether.job-query/v1", "name": "web", "argv": ["python3", "-m", "http.server"],
/// "restart": "on-failure", "ready": [":8000"]}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JobQuery {
    /// The job's name (letters, digits, `.`, `_`, `-`; not starting with `.`).
    pub name: String,
    /// The program and its arguments. At least one.
    pub argv: Vec<String>,
    /// The working directory (default: the caller's); made absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Variables set on top of the caller's environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `no` (default), `on-failure` or `always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// Give up after this many restarts (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<u32>,
    /// The first restart delay in milliseconds (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_min_ms: Option<u64>,
    /// The longest restart delay in milliseconds (default 30000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_max_ms: Option<u64>,
    /// A run this long (milliseconds) resets the backoff (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_uptime_ms: Option<u64>,
    /// Rotate a log past this many bytes (default 10 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_size: Option<u64>,
    /// Rotated files kept per log (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_keep: Option<u32>,
    /// Readiness targets (as `tether wait-for` takes them) that must be ready before the start
    /// returns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ready: Vec<String>,
    /// Jobs that must be running and ready first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// How long the start waits for requirements and readiness, in milliseconds (default
    /// 30000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// A tether PID file written for each run of the command; made absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfile: Option<String>,
}

impl super::Query for JobQuery {
    const SCHEMA: &'static str = "tether.job-query/v1";
}

impl JobQuery {
    /// A query for job `name` running `argv`, with the defaults.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(name: &str, argv: I) -> JobQuery {
        JobQuery {
            name: name.to_string(),
            argv: argv.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// The library's [`JobSpec`], checked ([`JobSpec::validate`]): `InvalidArgument` for a bad
    /// name, an empty command, an unknown restart policy, a bad readiness target, a backoff
    /// range that ends before it starts, a duration out of range.
    pub fn to_spec(&self) -> Result<JobSpec> {
        let mut s = JobSpec::new(&self.name, self.argv.iter().cloned());
        s.cwd = self.cwd.as_ref().map(PathBuf::from);
        s.env = self.env.clone().into_iter().collect();
        if let Some(r) = &self.restart {
            s.restart = r.parse()?;
        }
        s.max_restarts = self.max_restarts;
        let ms = |name: &str, v: Option<u64>, default: u64| -> Result<u64> {
            Ok(v.map(|v| millis(name, v))
                .transpose()?
                .map_or(default, |d| d.as_millis() as u64))
        };
        s.backoff_min_ms = ms("backoff_min_ms", self.backoff_min_ms, s.backoff_min_ms)?;
        s.backoff_max_ms = ms("backoff_max_ms", self.backoff_max_ms, s.backoff_max_ms)?;
        s.min_uptime_ms = ms("min_uptime_ms", self.min_uptime_ms, s.min_uptime_ms)?;
        s.timeout_ms = ms("timeout_ms", self.timeout_ms, s.timeout_ms)?;
        s.log_max_size = self.log_max_size.unwrap_or(s.log_max_size);
        s.log_keep = self.log_keep.unwrap_or(s.log_keep);
        s.ready = self.ready.clone();
        s.requires = self.requires.clone();
        s.pidfile = self.pidfile.as_ref().map(PathBuf::from);
        s.validate()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;
    use tether::job::RestartPolicy;

    #[test]
    fn jobs_parse_with_defaults_and_refuse_bad_input() {
        let q: JobQuery = parse(
            r#"{"schema":"tether.job-query/v1","name":"web","argv":["sleep","9"],
                "restart":"on-failure","backoff_min_ms":50,"env":{"A":"1"}}"#,
        )
        .unwrap();
        let s = q.to_spec().unwrap();
        assert_eq!(s.restart, RestartPolicy::OnFailure);
        assert_eq!(s.backoff_min_ms, 50);
        assert_eq!(s.backoff_max_ms, 30_000);
        assert_eq!(s.env, vec![("A".to_string(), "1".to_string())]);
        for bad in [
            r#"{"name":"a/b","argv":["x"]}"#,
            r#"{"name":"ok","argv":[]}"#,
            r#"{"name":"ok","argv":["x"],"restart":"sometimes"}"#,
            r#"{"name":"ok","argv":["x"],"ready":["nonsense:"]}"#,
            r#"{"name":"ok","argv":["x"],"backoff_min_ms":5,"backoff_max_ms":1}"#,
            r#"{"name":"ok","argv":["x"],"timeout_ms":99999999999999999}"#,
            r#"{"name":"ok","argv":["x"],"env":{"A=B":"1"}}"#,
        ] {
            let doc = bad.replacen('{', r#"{"schema":"tether.job-query/v1","#, 1);
            let q: JobQuery = parse(&doc).unwrap();
            let e = q.to_spec().unwrap_err();
            assert_eq!(e.kind(), tether::ErrorKind::InvalidArgument, "{bad}");
        }
        let e = parse::<JobQuery>(
            r#"{"schema":"tether.job-query/v1","name":"a","argv":["x"],"restrat":"no"}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind(), tether::ErrorKind::InvalidArgument);
    }
}
