//! The process record.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::identity::ProcessIdentity;

/// The JSON forms of times in a record: whole milliseconds.
mod ms {
    use std::time::{Duration, SystemTime};

    /// A duration as whole milliseconds.
    pub fn duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(d.as_millis() as u64),
            None => s.serialize_none(),
        }
    }

    /// A time as Unix time in whole milliseconds.
    pub fn time<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        let ms = t.map(|t| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64
        });
        match ms {
            Some(ms) => s.serialize_u64(ms),
            None => s.serialize_none(),
        }
    }
}

/// Scheduler state, from the state letter of /proc/PID/stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProcessState {
    #[doc = concat!("Running or runnable (`R`).")]
    Running,
    #[doc = concat!("Interruptible sleep (`S`).")]
    Sleeping,
    #[doc = concat!("Uninterruptible sleep, usually I/O (`D`).")]
    DiskSleep,
    #[doc = concat!("Exited, not yet reaped by its parent (`Z`).")]
    Zombie,
    #[doc = concat!("Stopped by a signal (`T`).")]
    Stopped,
    #[doc = concat!("Stopped by a tracer (`t`).")]
    TracingStop,
    #[doc = concat!("Dead (`X`), seen only for a moment.")]
    Dead,
    #[doc = concat!("An idle kernel thread (`I`).")]
    Idle,
    #[doc = concat!("Parked (`P`).")]
    Parked,
    #[doc = concat!("Waking (`W`).")]
    Waking,
    #[doc = concat!("A letter this version does not know.")]
    Unknown,
}

impl ProcessState {
    /// From the kernel's state letter.
    pub fn from_letter(c: char) -> Self {
        match c {
            'R' => Self::Running,
            'S' => Self::Sleeping,
            'D' => Self::DiskSleep,
            'Z' => Self::Zombie,
            'T' => Self::Stopped,
            't' => Self::TracingStop,
            'X' | 'x' => Self::Dead,
            'I' => Self::Idle,
            'P' => Self::Parked,
            'W' | 'K' => Self::Waking,
            _ => Self::Unknown,
        }
    }

    /// The letter `ps` shows.
    pub fn letter(self) -> char {
        match self {
            Self::Running => 'R',
            Self::Sleeping => 'S',
            Self::DiskSleep => 'D',
            Self::Zombie => 'Z',
            Self::Stopped => 'T',
            Self::TracingStop => 't',
            Self::Dead => 'X',
            Self::Idle => 'I',
            Self::Parked => 'P',
            Self::Waking => 'W',
            Self::Unknown => '?',
        }
    }

    /// Parse a letter (`Z`) or a name (`zombie`), as filters accept either.
    pub fn parse(s: &str) -> Option<Self> {
        let mut chars = s.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            let st = Self::from_letter(c.to_ascii_uppercase());
            let st = if st == Self::Unknown {
                Self::from_letter(c)
            } else {
                st
            };
            return (st != Self::Unknown).then_some(st);
        }
        let want = s.to_ascii_lowercase().replace('-', "_");
        [
            Self::Running,
            Self::Sleeping,
            Self::DiskSleep,
            Self::Zombie,
            Self::Stopped,
            Self::TracingStop,
            Self::Dead,
            Self::Idle,
            Self::Parked,
            Self::Waking,
        ]
        .into_iter()
        .find(|st| {
            serde_json::to_value(st)
                .ok()
                .and_then(|v| v.as_str().map(|n| n == want))
                == Some(true)
        })
    }
}

/// One process. Every field but `pid` is present only when it was requested (or a filter needed
/// it) and readable; a field that could not be read is absent, never invented.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ProcessInfo {
    #[doc = concat!("The PID (always present).")]
    pub pid: u32,
    #[doc = concat!("The parent's PID.")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    /// Process group id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgid: Option<i32>,
    /// Session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<i32>,
    /// Controlling terminal (`pts/3`), absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    /// Command name (comm), at most 15 bytes, as the kernel keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Executable path; absent for kernel threads, zombies and unreadable processes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// Argument vector; empty for kernel threads and zombies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<Vec<String>>,
    #[doc = concat!("Scheduler state.")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ProcessState>,
    /// Effective uid (the owner of /proc/PID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[doc = concat!("The user name of `uid` (absent when the uid has no name).")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Start time in clock ticks since boot: the identity's precision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<u64>,
    /// Start time (in JSON: `start_time_ms`, Unix time in milliseconds).
    #[serde(
        rename = "start_time_ms",
        skip_serializing_if = "Option::is_none",
        serialize_with = "ms::time"
    )]
    #[schemars(
        with = "Option<u64>",
        description = "Start time as Unix time in milliseconds."
    )]
    pub start_time: Option<SystemTime>,
    /// Time since start (in JSON: `elapsed_ms`), to the millisecond.
    #[serde(
        rename = "elapsed_ms",
        skip_serializing_if = "Option::is_none",
        serialize_with = "ms::duration"
    )]
    #[schemars(
        with = "Option<u64>",
        description = "Time since start, in milliseconds."
    )]
    pub elapsed: Option<Duration>,
    /// Resident set size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    /// Virtual size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vsize_bytes: Option<u64>,
    /// User-mode CPU time (in JSON: `cpu_user_ms`), to the millisecond.
    #[serde(
        rename = "cpu_user_ms",
        skip_serializing_if = "Option::is_none",
        serialize_with = "ms::duration"
    )]
    #[schemars(
        with = "Option<u64>",
        description = "User-mode CPU time in milliseconds."
    )]
    pub cpu_user: Option<Duration>,
    /// Kernel-mode CPU time (in JSON: `cpu_system_ms`), to the millisecond.
    #[serde(
        rename = "cpu_system_ms",
        skip_serializing_if = "Option::is_none",
        serialize_with = "ms::duration"
    )]
    #[schemars(
        with = "Option<u64>",
        description = "Kernel-mode CPU time in milliseconds."
    )]
    pub cpu_system: Option<Duration>,
    /// CPU use in percent of one CPU: sampled over an interval when one was asked for,
    /// otherwise the lifetime average (as `ps` computes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[doc = concat!("The number of threads.")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u64>,
    /// The identity string (`PID:START_TICKS:BOOT8`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::identity::serde_string::option"
    )]
    #[schemars(with = "Option<String>")]
    pub identity: Option<ProcessIdentity>,
    /// Environment as `KEY=VALUE` strings, only when asked for, capped in size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environ: Option<Vec<String>>,
    /// Whether the environment was cut short by the size cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environ_truncated: Option<bool>,
    /// Requested fields that this user may not read for this process (`exe`, `env` of another
    /// user's process): they are absent for lack of permission, not because there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<String>,
}

impl ProcessInfo {
    /// The command line joined by spaces, or `[name]` for kernel threads (as `ps` shows them).
    pub fn command(&self) -> String {
        match (&self.cmdline, &self.name) {
            (Some(c), _) if !c.is_empty() => c.join(" "),
            (_, Some(n)) => format!("[{n}]"),
            _ => String::new(),
        }
    }
}

/// A note for people when some requested fields could not be read for lack of permission
/// (see [`ProcessInfo::denied`]), e.g. "exe could not be read for 3 processes of other users
/// (shown as -): reading them needs root"; `None` when everything requested was read.
pub fn denied_note<'a>(list: impl IntoIterator<Item = &'a ProcessInfo>) -> Option<String> {
    let mut fields: Vec<&str> = Vec::new();
    let mut count = 0usize;
    for p in list {
        if p.denied.is_empty() {
            continue;
        }
        count += 1;
        for f in &p.denied {
            if !fields.contains(&f.as_str()) {
                fields.push(f);
            }
        }
    }
    if count == 0 {
        return None;
    }
    let what = if count == 1 {
        "1 process of another user".to_string()
    } else {
        format!("{count} processes of other users")
    };
    Some(format!(
        "{} could not be read for {what} (shown as -): reading them needs root or the same user",
        fields.join(" and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_note_counts_processes_and_names_fields() {
        let mut a = ProcessInfo::default();
        assert_eq!(denied_note([&a]), None);
        a.denied = vec!["exe".into()];
        let b = ProcessInfo {
            denied: vec!["exe".into(), "env".into()],
            ..Default::default()
        };
        let n = denied_note([&a]).unwrap();
        assert!(
            n.starts_with("exe could not be read for 1 process of another user"),
            "{n}"
        );
        let n = denied_note([&a, &b]).unwrap();
        assert!(
            n.starts_with("exe and env could not be read for 2 processes"),
            "{n}"
        );
    }
}
