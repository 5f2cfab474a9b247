//! Filters over processes, checked as soon as the fields they need are read, so that a process
//! that fails a cheap check never has its other files opened.

use std::time::Duration;

use regex::Regex;

use super::fields::{Field, FieldSet};
use super::info::{ProcessInfo, ProcessState};

/// How to match the command name.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NameMatch {
    /// The whole name.
    Exact(String),
    /// A part of it.
    Substring(String),
    /// A regular expression (unanchored, like pgrep).
    Regex(Regex),
}

/// Conditions a process must all meet. `None` means "any". Start from [`Filter::default`]
/// and set what matters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Filter {
    /// Only these PIDs (the others are not even read).
    pub pids: Option<Vec<u32>>,
    /// How the command name must match.
    pub name: Option<NameMatch>,
    /// Regex over the command line joined by spaces.
    pub cmdline: Option<Regex>,
    /// Effective uid.
    pub uid: Option<u32>,
    /// Parent PID.
    pub ppid: Option<u32>,
    /// Process group id.
    pub pgid: Option<i32>,
    /// Session id.
    pub sid: Option<i32>,
    /// Any of these states.
    pub states: Option<Vec<ProcessState>>,
    /// Minimum CPU percent (see [`ProcessInfo::cpu_percent`]).
    pub min_cpu_percent: Option<f64>,
    /// Minimum resident memory in bytes.
    pub min_rss_bytes: Option<u64>,
    /// Minimum age (time since the process started).
    pub min_age: Option<Duration>,
}

/// Compile a regular expression given by a user, with an error that says which one was bad.
pub fn compile_regex(pattern: &str) -> crate::Result<Regex> {
    Regex::new(pattern)
        .map_err(|e| crate::Error::invalid(format!("bad regular expression '{pattern}': {e}")))
}

/// A user given by name or number, as a uid.
pub fn parse_user(s: &str) -> crate::Result<u32> {
    if let Ok(uid) = s.trim().parse::<u32>() {
        return Ok(uid);
    }
    crate::sys::os::users::uid_of(s.trim())
        .ok_or_else(|| crate::Error::invalid(format!("unknown user '{s}'")))
}

/// The points at which a partly read record is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Stat,
    Uid,
    Cmdline,
}

impl Filter {
    /// The fields the filter needs to decide.
    pub fn needed_fields(&self) -> FieldSet {
        let mut s = FieldSet::empty();
        let mut need = |cond: bool, f: Field| {
            if cond {
                s.insert(f)
            }
        };
        need(self.name.is_some(), Field::Name);
        need(self.cmdline.is_some(), Field::Cmdline);
        need(self.uid.is_some(), Field::Uid);
        need(self.ppid.is_some(), Field::Ppid);
        need(self.pgid.is_some(), Field::Pgid);
        need(self.sid.is_some(), Field::Sid);
        need(self.states.is_some(), Field::State);
        need(self.min_cpu_percent.is_some(), Field::Cpu);
        need(self.min_rss_bytes.is_some(), Field::Rss);
        need(self.min_age.is_some(), Field::Elapsed);
        s
    }

    /// Whether nothing but the PID list constrains the result.
    pub fn is_empty(&self) -> bool {
        self.needed_fields() == FieldSet::empty()
    }

    pub(crate) fn check(&self, p: &ProcessInfo, stage: Stage) -> bool {
        match stage {
            Stage::Stat => {
                let name_ok = match (&self.name, &p.name) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(NameMatch::Exact(w)), Some(n)) => n == w,
                    (Some(NameMatch::Substring(w)), Some(n)) => n.contains(w.as_str()),
                    (Some(NameMatch::Regex(r)), Some(n)) => r.is_match(n),
                };
                name_ok
                    && eq(self.ppid, p.ppid)
                    && eq(self.pgid, p.pgid)
                    && eq(self.sid, p.sid)
                    && self
                        .states
                        .as_ref()
                        .is_none_or(|s| p.state.is_some_and(|st| s.contains(&st)))
                    && at_least(self.min_rss_bytes, p.rss_bytes)
                    && at_least(
                        self.min_age.map(|d| d.as_millis()),
                        p.elapsed.map(|d| d.as_millis()),
                    )
            }
            Stage::Uid => eq(self.uid, p.uid),
            Stage::Cmdline => match &self.cmdline {
                None => true,
                Some(r) => r.is_match(&p.command()),
            },
        }
    }

    /// The CPU condition, checked last because it may need a sample over an interval.
    pub(crate) fn check_cpu(&self, p: &ProcessInfo) -> bool {
        match self.min_cpu_percent {
            None => true,
            Some(min) => p.cpu_percent.is_some_and(|c| c >= min),
        }
    }
}

fn eq<T: PartialEq>(want: Option<T>, have: Option<T>) -> bool {
    want.is_none() || want == have
}

fn at_least<T: PartialOrd>(min: Option<T>, have: Option<T>) -> bool {
    min.is_none_or(|m| have.is_some_and(|h| h >= m))
}
