//! `tether.ps-query/v1`: what a snapshot reads and which processes it keeps.

use serde::{Deserialize, Serialize};
use tether::inspect::{compile_regex, parse_user, Field, Filter, NameMatch, ProcessState, Query};
use tether::signal::rails::validate_pid;
use tether::{Error, Result};

use super::{field_set, millis};

/// The input of a snapshot (`inspect::snapshot`); the output is `tether.ps/v1`.
///
/// `{"schema": "tether.ps-query/v1", "fields": ["pid", "name", "rss"],
///   "filter": {"name": {"substring": "worker"}, "min_rss_bytes": 1048576}}`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PsQuery {
    /// The fields to read, as `tether ps --fields` names them (`pid`, `ppid`, `pgid`, `sid`,
    /// `tty`, `user`, `uid`, `state`, `cpu`, `cpu_time`, `rss`, `vsz`, `threads`, `start`,
    /// `elapsed`, `name`, `exe`, `cmdline`, `identity`, `env`). Absent: all but `env`; an
    /// empty list: the PID only. A filter reads the fields it needs, and they are returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// Which processes to keep; all of the given conditions must hold.
    #[serde(default)]
    pub filter: PsFilter,
    /// Measure CPU % over this many milliseconds instead of the lifetime average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_sample_ms: Option<u64>,
}

impl super::Query for PsQuery {
    const SCHEMA: &'static str = "tether.ps-query/v1";
}

/// Conditions on processes (`inspect::Filter`); absent means "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PsFilter {
    /// Only these PIDs (the others are not even read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<Vec<i64>>,
    /// The command name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<NameQuery>,
    /// A regular expression over the command line joined by spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
    /// Effective uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Effective user by name (or uid as text); not with `uid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Parent PID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    /// Process group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgid: Option<u32>,
    /// Session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<u32>,
    /// Any of these states, as letters (`R`, `S`, `D`, `Z`, `T`, …) or names (`running`,
    /// `zombie`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub states: Option<Vec<String>>,
    /// Minimum CPU percent (of one CPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cpu_percent: Option<f64>,
    /// Minimum resident memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rss_bytes: Option<u64>,
    /// Minimum age in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age_ms: Option<u64>,
}

/// How the command name is matched: `{"exact": "sshd"}`, `{"substring": "ssh"}` or
/// `{"regex": "^ssh"}` (unanchored, as pgrep).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum NameQuery {
    #[doc = concat!("The command name equals the string.")]
    Exact(String),
    #[doc = concat!("The command name contains the string.")]
    Substring(String),
    #[doc = concat!("The command name matches the regular expression (unanchored).")]
    Regex(String),
}

impl PsQuery {
    /// The library's query. Bad field names, PIDs, regular expressions, users, states and
    /// ranges are `InvalidArgument`.
    pub fn to_query(&self) -> Result<Query> {
        let mut fields = field_set(self.fields.as_deref())?;
        let cpu_sample = self
            .cpu_sample_ms
            .map(|ms| millis("cpu_sample_ms", ms))
            .transpose()?;
        if cpu_sample.is_some() {
            fields.insert(Field::Cpu);
        }
        let mut q = Query::new(fields, self.filter.to_filter()?);
        q.cpu_sample = cpu_sample;
        Ok(q)
    }
}

impl PsFilter {
    /// The library's filter.
    pub fn to_filter(&self) -> Result<Filter> {
        let id = |name: &str, v: Option<u32>| -> Result<Option<i32>> {
            v.map(|n| {
                i32::try_from(n).map_err(|_| Error::invalid(format!("{name} {n} is out of range")))
            })
            .transpose()
        };
        if let Some(c) = self.min_cpu_percent {
            if !c.is_finite() || c < 0.0 {
                return Err(Error::invalid(format!("bad min_cpu_percent {c}")));
            }
        }
        let mut f = Filter::default();
        f.pids = self
            .pids
            .as_ref()
            .map(|l| l.iter().map(|&p| validate_pid(p)).collect::<Result<_>>())
            .transpose()?;
        f.name = match &self.name {
            None => None,
            Some(NameQuery::Exact(n)) => Some(NameMatch::Exact(n.clone())),
            Some(NameQuery::Substring(n)) => Some(NameMatch::Substring(n.clone())),
            Some(NameQuery::Regex(r)) => Some(NameMatch::Regex(compile_regex(r)?)),
        };
        f.cmdline = self.cmdline.as_deref().map(compile_regex).transpose()?;
        f.uid = match (self.uid, &self.user) {
            (Some(_), Some(_)) => return Err(Error::invalid("give uid or user, not both")),
            (Some(uid), None) => Some(uid),
            (None, Some(user)) => Some(parse_user(user)?),
            (None, None) => None,
        };
        f.ppid = id("ppid", self.ppid)?.map(|n| n as u32);
        f.pgid = id("pgid", self.pgid)?;
        f.sid = id("sid", self.sid)?;
        f.states = self
            .states
            .as_ref()
            .map(|l| {
                l.iter()
                    .map(|s| {
                        ProcessState::parse(s.trim())
                            .ok_or_else(|| Error::invalid(format!("unknown process state '{s}'")))
                    })
                    .collect::<Result<_>>()
            })
            .transpose()?;
        f.min_cpu_percent = self.min_cpu_percent;
        f.min_rss_bytes = self.min_rss_bytes;
        f.min_age = self
            .min_age_ms
            .map(|ms| millis("min_age_ms", ms))
            .transpose()?;
        Ok(f)
    }
}
