//! The rails: the one check of what no signal, stop or stop by port may reach.
//!
//! - **Always refused** ([`validate_pid`]): PID 0 (the caller's own process group), negative PIDs
//!   (a group, or every process) and PIDs above `i32::MAX`.
//! - **Refused unless forced** ([`Rails`]): PID 1 (init) and its group; the caller itself; each
//!   of its ancestors (its parent, the shell or script that started it, ...); the leaders of its
//!   process group and session; its own process group, and a group that holds one of its
//!   ancestors or its session leader.
//!
//! Every operation that acts on processes checks here, before it does anything:
//! [`crate::Process::signal`], [`super::send_all`], [`super::send_groups`],
//! [`crate::terminate::stop`] and [`crate::net::stop_port`]. A probe (signal 0) sends nothing
//! and is not checked.
//!
//! ```
//! use tether::signal::rails::{self, Subject};
//! // The caller itself is refused, unless forced; PID 0 never is a target.
//! let me = Subject::Process(std::process::id());
//! assert!(rails::check(&[me], false).is_err());
//! assert!(rails::check(&[me], true).is_ok());
//! assert!(rails::check(&[Subject::Process(0)], true).is_err());
//! ```

use crate::error::{Error, ErrorKind, Result};
use crate::sys::os::{family, process};

/// What a rail is checked for: one process, or a whole process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Subject {
    /// A process, by PID.
    Process(u32),
    /// A process group, by its id.
    Group(u32),
}

impl Subject {
    /// The PID or the process group id.
    pub fn id(self) -> u32 {
        match self {
            Subject::Process(p) | Subject::Group(p) => p,
        }
    }
}

/// Parse a PID, applying the rail every PID passes ([`validate_pid`]).
///
/// ```
/// use tether::signal::rails::parse_pid;
/// assert_eq!(parse_pid("42").unwrap(), 42);
/// assert!(parse_pid("0").is_err() && parse_pid("-1").is_err() && parse_pid("x").is_err());
/// ```
pub fn parse_pid(s: &str) -> Result<u32> {
    let n: i64 = s.trim().parse().map_err(|_| {
        Error::invalid(format!(
            "bad PID '{s}': expected a positive integer or an identity string"
        ))
    })?;
    validate_pid(n)
}

/// The unconditional rail: PID 0 (the caller's group), negative PIDs (groups / everything)
/// and PIDs beyond `i32::MAX` are never valid targets (`InvalidArgument`).
pub fn validate_pid(n: i64) -> Result<u32> {
    if n == 0 {
        return Err(Error::invalid(
            "PID 0 means the caller's own process group; refusing",
        ));
    }
    if n < 0 {
        return Err(Error::invalid(format!(
            "negative PID {n} would signal a process group or every process; refusing"
        )));
    }
    if n > i32::MAX as i64 {
        return Err(Error::invalid(format!("PID {n} is out of range")));
    }
    Ok(n as u32)
}

/// The forceable rails, as they stand for the calling process: what it must not signal or stop
/// unless forced, because doing so would end the caller itself or whatever started it.
///
/// Refused: PID 1 (init) and its group; the caller itself; each of its ancestors (its parent,
/// the shell or script that started it, ...); the leader of its process group and of its
/// session; its own process group, and a process group that holds one of its ancestors or its
/// session leader. A process that merely shares the caller's group (a sibling started by the
/// same script) is not refused: signalling it ends nothing else.
#[derive(Debug, Clone)]
pub struct Rails {
    me: u32,
    pgrp: Option<u32>,
    sid: Option<u32>,
    /// Ancestors nearest first, with their process groups.
    ancestors: Vec<(u32, Option<u32>)>,
}

impl Rails {
    /// The rails of the calling process, read now.
    pub fn current() -> Rails {
        let me = std::process::id();
        // A group outside our PID namespace reads as 0, and is no target at all.
        let ancestors = family::ancestors(me)
            .unwrap_or_default()
            .into_iter()
            .map(|(p, par)| (p, (par.pgrp > 0).then_some(par.pgrp as u32)))
            .collect();
        let mut rails = Rails {
            me,
            pgrp: process::own_pgrp(),
            sid: process::own_sid(),
            ancestors,
        };
        // The parent is an ancestor even when /proc could not be read.
        if let Some(parent) = process::parent_pid() {
            if !rails.ancestors.iter().any(|(p, _)| *p == parent) {
                rails.ancestors.insert(0, (parent, None));
            }
        }
        rails
    }

    /// Why `subject` is refused, if it is (a sentence naming it; no advice).
    pub fn reason(&self, subject: Subject) -> Option<String> {
        match subject {
            Subject::Group(g) => {
                if g == 1 {
                    return Some("process group 1 is init's".into());
                }
                if Some(g) == self.pgrp {
                    return Some(format!("process group {g} is tether's own"));
                }
                if Some(g) == self.sid {
                    return Some(format!(
                        "process group {g} is that of tether's session leader"
                    ));
                }
                self.ancestors
                    .iter()
                    .find(|(_, pg)| *pg == Some(g))
                    .map(|(a, _)| format!("process group {g} holds PID {a}, an ancestor of tether"))
            }
            Subject::Process(p) => {
                if p == 1 {
                    return Some("PID 1 is init; ending it ends the system or container".into());
                }
                if p == self.me {
                    return Some(format!("PID {p} is tether itself"));
                }
                if self.ancestors.first().map(|(a, _)| *a) == Some(p) {
                    return Some(format!("PID {p} is tether's parent"));
                }
                if self.ancestors.iter().any(|(a, _)| *a == p) {
                    return Some(format!(
                        "PID {p} is an ancestor of tether (the shell or program that started it)"
                    ));
                }
                if Some(p) == self.pgrp {
                    return Some(format!("PID {p} leads tether's own process group"));
                }
                if Some(p) == self.sid {
                    return Some(format!("PID {p} leads tether's session"));
                }
                None
            }
        }
    }
}

/// The one rail check: every subject passes the unconditional rail ([`validate_pid`],
/// `InvalidArgument`) and, unless `force`, the forceable ones ([`Rails`]): the first subject
/// behind a rail is a `Refused` error saying why. Call it before anything is done to any of
/// them.
pub fn check(subjects: &[Subject], force: bool) -> Result<()> {
    for s in subjects {
        validate_pid(s.id() as i64)?;
    }
    if force {
        return Ok(());
    }
    let rails = Rails::current();
    for s in subjects {
        if let Some(why) = rails.reason(*s) {
            return Err(Error::new(ErrorKind::Refused, format!("refusing: {why}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unconditional_rails() {
        for n in [0i64, -1, -42, i32::MAX as i64 + 1, i64::MAX] {
            assert_eq!(
                validate_pid(n).unwrap_err().kind(),
                ErrorKind::InvalidArgument,
                "{n}"
            );
        }
        assert!(parse_pid("abc").is_err());
        assert!(parse_pid("0").is_err());
        assert!(parse_pid("-1").is_err());
        assert_eq!(parse_pid("42").unwrap(), 42);
        // Forcing never lifts them.
        for s in [
            Subject::Process(0),
            Subject::Group(0),
            Subject::Group(u32::MAX),
        ] {
            let e = check(&[s], true).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{s:?}");
        }
    }

    #[test]
    fn forceable_rails() {
        let me = std::process::id();
        let parent = process::parent_pid().unwrap();
        let group = process::own_pgrp().unwrap();
        // PID 1 and group 1 are only ever given to the rail check itself, never to a send.
        let mut refused = vec![
            Subject::Process(1),
            Subject::Group(1),
            Subject::Process(me),
            Subject::Process(parent),
            Subject::Group(group),
        ];
        // Every ancestor (the shell that started a script, the script, ...) and its group.
        for (a, par) in family::ancestors(me).unwrap() {
            refused.push(Subject::Process(a));
            // A group outside our PID namespace reads as 0, and is no target at all.
            if par.pgrp > 0 {
                refused.push(Subject::Group(par.pgrp as u32));
            }
        }
        if let Some(sid) = process::own_sid() {
            refused.push(Subject::Process(sid));
        }
        let rails = Rails::current();
        for s in &refused {
            assert!(rails.reason(*s).is_some(), "{s:?}");
            let e = check(std::slice::from_ref(s), false).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Refused, "{s:?}");
            assert!(check(std::slice::from_ref(s), true).is_ok(), "{s:?}");
        }
        // A sibling sharing our process group is not refused: signalling it ends nothing else.
        let mut sibling = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert_eq!(rails.reason(Subject::Process(sibling.id())), None);
        assert!(check(&[Subject::Process(sibling.id())], false).is_ok());
        // One refused subject refuses the whole batch.
        let e = check(
            &[Subject::Process(sibling.id()), Subject::Process(parent)],
            false,
        )
        .unwrap_err();
        assert!(e.message().contains("parent"), "{e}");
        sibling.kill().unwrap();
        sibling.wait().unwrap();
    }
}
