//! Process filters as command-line flags, shared by `ps` and `kill`.

use tether::inspect::{compile_regex, parse_user, Filter, NameMatch, ProcessState};
use tether::{Error, Result};

/// Filters; all given conditions must hold.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct FilterArgs {
    /// Only these PIDs (comma-separated).
    #[arg(long = "pid", value_name = "PID,...", value_delimiter = ',')]
    pub pids: Vec<String>,
    /// Command name equals NAME.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Command name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub name_contains: Option<String>,
    /// Command name matches the regular expression.
    #[arg(long, value_name = "REGEX")]
    pub name_regex: Option<String>,
    /// The command line (arguments joined by spaces) matches the regular expression.
    #[arg(long, value_name = "REGEX")]
    pub cmdline: Option<String>,
    /// Effective user, by name or uid.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Parent PID.
    #[arg(long, value_name = "PID")]
    pub ppid: Option<String>,
    /// Process group id.
    #[arg(long, value_name = "PGID")]
    pub pgid: Option<String>,
    /// Session id.
    #[arg(long, value_name = "SID")]
    pub sid: Option<String>,
    /// State letters or names, comma-separated (R,S,D,Z,T or running, zombie, ...).
    #[arg(long, value_name = "STATE,...", value_delimiter = ',')]
    pub state: Vec<String>,
    /// Minimum CPU percent (lifetime average, or over --sample).
    #[arg(long, value_name = "PCT")]
    pub min_cpu: Option<f64>,
    /// Minimum resident memory (e.g. 100M).
    #[arg(long, value_name = "SIZE")]
    pub min_mem: Option<String>,
    /// Minimum age (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION")]
    pub min_age: Option<String>,
}

impl FilterArgs {
    /// Whether any process-selecting condition was given.
    pub fn any(&self) -> bool {
        let f = self;
        !f.pids.is_empty()
            || f.name.is_some()
            || f.name_contains.is_some()
            || f.name_regex.is_some()
            || f.cmdline.is_some()
            || f.user.is_some()
            || f.ppid.is_some()
            || f.pgid.is_some()
            || f.sid.is_some()
            || !f.state.is_empty()
            || f.min_cpu.is_some()
            || f.min_mem.is_some()
            || f.min_age.is_some()
    }

    /// The library filter; bad values are `InvalidArgument` (exit 2).
    pub fn to_filter(&self) -> Result<Filter> {
        let names = [&self.name, &self.name_contains, &self.name_regex];
        if names.iter().filter(|n| n.is_some()).count() > 1 {
            return Err(Error::invalid(
                "give only one of --name, --name-contains, --name-regex",
            ));
        }
        let regex = compile_regex;
        let name = if let Some(n) = &self.name {
            Some(NameMatch::Exact(n.clone()))
        } else if let Some(n) = &self.name_contains {
            Some(NameMatch::Substring(n.clone()))
        } else if let Some(r) = &self.name_regex {
            Some(NameMatch::Regex(regex(r)?))
        } else {
            None
        };
        let pids = if self.pids.is_empty() {
            None
        } else {
            Some(
                self.pids
                    .iter()
                    .map(|p| tether::signal::rails::parse_pid(p))
                    .collect::<Result<Vec<_>>>()?,
            )
        };
        let states = if self.state.is_empty() {
            None
        } else {
            Some(
                self.state
                    .iter()
                    .map(|s| {
                        ProcessState::parse(s.trim())
                            .ok_or_else(|| Error::invalid(format!("unknown process state '{s}'")))
                    })
                    .collect::<Result<Vec<_>>>()?,
            )
        };
        let int = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
            v.as_ref()
                .map(|s| {
                    s.trim()
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n >= 0 && *n <= i32::MAX as i64)
                        .ok_or_else(|| {
                            Error::invalid(format!(
                                "bad {flag} '{s}': expected a non-negative integer"
                            ))
                        })
                })
                .transpose()
        };
        if let Some(c) = self.min_cpu {
            if !c.is_finite() || c < 0.0 {
                return Err(Error::invalid(format!("bad --min-cpu '{c}'")));
            }
        }
        let mut f = Filter::default();
        f.pids = pids;
        f.name = name;
        f.cmdline = self.cmdline.as_deref().map(regex).transpose()?;
        f.uid = self.user.as_deref().map(parse_user).transpose()?;
        f.ppid = int("--ppid", &self.ppid)?.map(|n| n as u32);
        f.pgid = int("--pgid", &self.pgid)?.map(|n| n as i32);
        f.sid = int("--sid", &self.sid)?.map(|n| n as i32);
        f.states = states;
        f.min_cpu_percent = self.min_cpu;
        f.min_rss_bytes = self
            .min_mem
            .as_deref()
            .map(tether::size::parse_size)
            .transpose()?;
        f.min_age = self
            .min_age
            .as_deref()
            .map(tether::duration::parse_duration)
            .transpose()?;
        Ok(f)
    }
}
