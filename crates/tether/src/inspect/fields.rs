//! Which fields a caller wants, and so which /proc files must be read.

use std::str::FromStr;

use crate::error::{Error, Result};

/// A selectable field of [`super::ProcessInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The PID.
    Pid,
    /// The parent's PID.
    Ppid,
    /// The process group id.
    Pgid,
    /// The session id.
    Sid,
    /// The controlling terminal.
    Tty,
    /// The command name (comm).
    Name,
    /// The executable path.
    Exe,
    /// The argument vector.
    Cmdline,
    /// The scheduler state.
    State,
    /// The effective uid.
    Uid,
    /// The user name of the effective uid.
    User,
    /// The start time (ticks since boot and wall clock).
    Start,
    /// The time since start.
    Elapsed,
    /// Resident memory.
    Rss,
    /// Virtual size.
    Vsz,
    /// User and kernel CPU time.
    CpuTime,
    /// CPU use in percent.
    Cpu,
    /// The number of threads.
    Threads,
    /// The environment: read only when asked for by name (not in [`FieldSet::standard`]).
    Env,
    /// The identity string.
    Identity,
}

impl Field {
    /// Every field, in display order.
    pub const ALL: [Field; 20] = [
        Field::Pid,
        Field::Ppid,
        Field::Pgid,
        Field::Sid,
        Field::Tty,
        Field::User,
        Field::Uid,
        Field::State,
        Field::Cpu,
        Field::CpuTime,
        Field::Rss,
        Field::Vsz,
        Field::Threads,
        Field::Start,
        Field::Elapsed,
        Field::Name,
        Field::Exe,
        Field::Cmdline,
        Field::Identity,
        Field::Env,
    ];

    /// The name used by `--fields` and `--sort`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Pid => "pid",
            Field::Ppid => "ppid",
            Field::Pgid => "pgid",
            Field::Sid => "sid",
            Field::Tty => "tty",
            Field::Name => "name",
            Field::Exe => "exe",
            Field::Cmdline => "cmdline",
            Field::State => "state",
            Field::Uid => "uid",
            Field::User => "user",
            Field::Start => "start",
            Field::Elapsed => "elapsed",
            Field::Rss => "rss",
            Field::Vsz => "vsz",
            Field::CpuTime => "cpu_time",
            Field::Cpu => "cpu",
            Field::Threads => "threads",
            Field::Env => "env",
            Field::Identity => "identity",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Whether the field comes from `/proc/PID/stat`.
    pub(crate) fn read_from_stat(self) -> bool {
        !matches!(
            self,
            Field::Pid | Field::Exe | Field::Cmdline | Field::Uid | Field::User | Field::Env
        )
    }
}

impl FromStr for Field {
    type Err = Error;
    fn from_str(s: &str) -> Result<Field> {
        let t = s.trim().to_ascii_lowercase();
        let alias = match t.as_str() {
            "comm" => "name",
            "args" | "command" => "cmdline",
            "vsize" | "vms" => "vsz",
            "threads" | "nlwp" => "threads",
            "time" => "cpu_time",
            "%cpu" | "pcpu" => "cpu",
            "lstart" | "start_time" => "start",
            "etime" | "age" => "elapsed",
            "environ" => "env",
            "stat" => "state",
            other => other,
        };
        Field::ALL
            .into_iter()
            .find(|f| f.name() == alias)
            .ok_or_else(|| {
                let names: Vec<_> = Field::ALL.iter().map(|f| f.name()).collect();
                Error::invalid(format!("unknown field '{s}'; known: {}", names.join(", ")))
            })
    }
}

/// A set of fields. Reading is driven by it: no /proc file is opened unless a field in the set
/// (or a filter) needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldSet(u32);

impl FieldSet {
    /// No fields but the PID.
    pub const fn empty() -> Self {
        FieldSet(0)
    }
    /// Every field except the environment, which is read only when asked for by name.
    pub fn standard() -> Self {
        let mut s = Self::empty();
        for f in Field::ALL {
            if f != Field::Env {
                s.insert(f);
            }
        }
        s
    }
    /// A set of the given fields.
    pub fn of(fields: &[Field]) -> Self {
        let mut s = Self::empty();
        for &f in fields {
            s.insert(f);
        }
        s
    }
    /// Parse a comma-separated list, e.g. `pid,name,rss`.
    pub fn parse_list(s: &str) -> Result<(Self, Vec<Field>)> {
        let list = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Field::from_str)
            .collect::<Result<Vec<_>>>()?;
        if list.is_empty() {
            return Err(Error::invalid("empty field list"));
        }
        Ok((Self::of(&list), list))
    }
    /// Add a field.
    pub fn insert(&mut self, f: Field) {
        self.0 |= f.bit();
    }
    /// Whether the set has `f`.
    pub fn has(&self, f: Field) -> bool {
        self.0 & f.bit() != 0
    }
    /// The union of two sets.
    pub fn union(self, o: FieldSet) -> FieldSet {
        FieldSet(self.0 | o.0)
    }
    /// Whether any field needs `/proc/PID/stat`.
    pub(crate) fn needs_stat(&self) -> bool {
        Field::ALL
            .iter()
            .any(|f| f.read_from_stat() && self.has(*f))
    }
}
