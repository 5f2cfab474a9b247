//! `tether.command-query/v1`: a command to start as a contained tree (spawn or run), and
//! `tether.stop-query/v1`: how to stop a tree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tether::command::{Command, Stdio};
use tether::contain::{ContainMode, Guard};
use tether::run::parse_signal;
use tether::signal::Signal;
use tether::terminate::StopOptions;
use tether::{Error, Result};

use super::millis;

/// Where a standard stream of the command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StdioQuery {
    /// The caller's own stream.
    Inherit,
    /// `/dev/null`.
    Null,
    /// Captured (stdout and stderr of a run only): the last `capture_limit` bytes are kept.
    Capture,
    /// `{"fd": N}`: a copy of the caller's open descriptor N (a file, a pipe's end, a socket),
    /// duplicated when the query is read, so the caller keeps its own and may close it once
    /// the call returns. A negative or closed descriptor is an invalid argument.
    Fd(i32),
}

/// The input of a spawn or a run: program and arguments, working directory, environment,
/// streams, containment and the GNU `timeout` contract.
///
/// `{"schema": "tether.command-query/v1", "argv": ["sh", "-c", "sleep 1"], "timeout_ms": 5000}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CommandQuery {
    /// The program (looked up in `PATH` unless it has a `/`) and its arguments. At least one.
    pub argv: Vec<String>,
    /// The working directory (default: the caller's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Start from an empty environment (plus `env`).
    #[serde(default)]
    pub env_clear: bool,
    /// Variables to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Variables to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_remove: Vec<String>,
    /// stdin: `inherit`, `null` or `{"fd": N}` (a copy of the caller's descriptor N) (default:
    /// `inherit` for a spawn, `null` for a run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<StdioQuery>,
    /// stdout: `inherit`, `null`, `{"fd": N}` (a copy of the caller's descriptor N) or, for a
    /// run, `capture` (default: `inherit` for a spawn, `capture` for a run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<StdioQuery>,
    /// stderr, as stdout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<StdioQuery>,
    /// Containment: `auto` (default: a cgroup, else a session with a subreaper), `cgroup`,
    /// `group` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contain: Option<String>,
    /// The time limit in milliseconds (GNU `timeout`'s DURATION; absent or 0: none), applied
    /// while the command is waited for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The signal sent when the limit passes (default `TERM`; `0` sends nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_signal: Option<String>,
    /// KILL this long after the timeout signal if the command still runs (GNU `-k`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_after_ms: Option<u64>,
    /// Bytes of stdout and of stderr a run keeps, each: the last ones (default 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_limit: Option<u64>,
}

impl super::Query for CommandQuery {
    const SCHEMA: &'static str = "tether.command-query/v1";
}

/// Which use a [`CommandQuery`] is for: the streams' defaults and what they may be differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandUse {
    /// A started tree the caller holds ([`Command::spawn`]): streams `inherit`, `null` or a
    /// descriptor.
    Spawn,
    /// A run to the end ([`Command::output`]): stdout and stderr may be captured.
    Run,
}

impl CommandQuery {
    /// A query for `argv` with the defaults.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(argv: I) -> CommandQuery {
        CommandQuery {
            argv: argv.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// The library's [`Command`], with [`Guard::Shared`] (`InvalidArgument` for an empty `argv`, a NUL in a string, an
    /// unknown containment or signal, a duration out of range, a stream `capture` where it
    /// cannot be, a stream's descriptor that is negative or not open). A stream's descriptor
    /// is duplicated here: the `Command` holds the copy.
    pub fn to_command(&self, usage: CommandUse) -> Result<Command> {
        let (program, args) = self
            .argv
            .split_first()
            .ok_or_else(|| Error::invalid("argv is empty: name a program"))?;
        for s in self.argv.iter().chain(&self.cwd).chain(&self.env_remove) {
            no_nul(s)?;
        }
        for (k, v) in &self.env {
            no_nul(k)?;
            no_nul(v)?;
            if k.is_empty() || k.contains('=') {
                return Err(Error::invalid(format!(
                    "environment variable name {k:?} is empty or has '='"
                )));
            }
        }
        if program.is_empty() {
            return Err(Error::invalid("argv[0] is empty: name a program"));
        }
        let mut c = Command::new(program);
        // A program that calls through a binding is a long-lived host starting many commands:
        // one shared guard and reused cgroup leaves rather than a watchdog per command.
        c.args(args).guard(Guard::Shared);
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        if self.env_clear {
            c.env_clear();
        }
        c.envs(&self.env);
        for k in &self.env_remove {
            c.env_remove(k);
        }
        if let Some(m) = &self.contain {
            c.contain(m.parse::<ContainMode>()?);
        }
        if let Some(t) = self.timeout_ms {
            c.timeout(millis("timeout_ms", t)?);
        }
        if let Some(s) = &self.timeout_signal {
            c.timeout_signal(parse_signal(s)?);
        }
        if let Some(k) = self.kill_after_ms {
            c.kill_after(millis("kill_after_ms", k)?);
        }
        if let Some(n) = self.capture_limit {
            let n = usize::try_from(n)
                .map_err(|_| Error::invalid(format!("capture_limit {n} is out of range")))?;
            c.capture_limit(n);
        }
        let streams = [
            ("stdin", self.stdin),
            ("stdout", self.stdout),
            ("stderr", self.stderr),
        ];
        for (i, (name, s)) in streams.into_iter().enumerate() {
            let stdio = match (s, usage) {
                (None, _) => continue,
                (Some(StdioQuery::Inherit), _) => Stdio::Inherit,
                (Some(StdioQuery::Null), _) => Stdio::Null,
                (Some(StdioQuery::Fd(fd)), _) => Stdio::dup_raw(fd).map_err(|e| {
                    let m = format!("{name}: {}", e.message());
                    e.with_message(m)
                })?,
                (Some(StdioQuery::Capture), CommandUse::Run) if i > 0 => Stdio::Piped,
                (Some(StdioQuery::Capture), _) => {
                    return Err(Error::invalid(format!(
                        "{name} cannot be \"capture\" here: only a run's stdout and stderr are captured"
                    )))
                }
            };
            match i {
                0 => c.stdin(stdio),
                1 => c.stdout(stdio),
                _ => c.stderr(stdio),
            };
        }
        Ok(c)
    }
}

fn no_nul(s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(Error::invalid(format!("{s:?} contains a NUL byte")));
    }
    Ok(())
}

/// How to stop a tree (`tether.stop-query/v1`); the output is `tether.stop/v1`. Every field is
/// optional: `{"schema": "tether.stop-query/v1", "grace_ms": 2000}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StopQuery {
    /// The graceful signal (default `TERM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// How long the tree gets to exit after it, in milliseconds (default 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_ms: Option<u64>,
    /// Sent to the survivors when the grace ends (default `KILL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_signal: Option<String>,
    /// Override the forceable rails (the caller's ancestors, its group and session leaders).
    #[serde(default)]
    pub force: bool,
}

impl super::Query for StopQuery {
    const SCHEMA: &'static str = "tether.stop-query/v1";
}

impl StopQuery {
    /// The library's [`StopOptions`].
    pub fn to_options(&self) -> Result<StopOptions> {
        let mut o = StopOptions::default();
        if let Some(s) = &self.signal {
            o.signal = s.parse::<Signal>()?;
        }
        if let Some(g) = self.grace_ms {
            o.grace = millis("grace_ms", g)?;
        }
        if let Some(s) = &self.kill_signal {
            o.kill_signal = s.parse::<Signal>()?;
        }
        o.force = self.force;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    #[test]
    fn commands_parse_and_refuse_bad_input() {
        let q: CommandQuery = parse(
            r#"{"schema":"tether.command-query/v1","argv":["sh","-c","exit 3"],"timeout_ms":5000,
                "env":{"A":"1"},"stdout":"capture","contain":"group","timeout_signal":"INT"}"#,
        )
        .unwrap();
        assert!(q.to_command(CommandUse::Run).is_ok());
        let e = q.to_command(CommandUse::Spawn).unwrap_err();
        assert!(e.message().contains("capture"), "{e}");
        for bad in [
            r#"{"argv":[]}"#,
            r#"{"argv":[""]}"#,
            r#"{"argv":["a\u0000b"]}"#,
            r#"{"argv":["x"],"contain":"box"}"#,
            r#"{"argv":["x"],"timeout_signal":"FOO"}"#,
            r#"{"argv":["x"],"env":{"A=B":"1"}}"#,
            r#"{"argv":["x"],"stdin":"capture"}"#,
            r#"{"argv":["x"],"timeout_ms":99999999999999999}"#,
        ] {
            let doc = bad.replacen('{', r#"{"schema":"tether.command-query/v1","#, 1);
            let q: CommandQuery = parse(&doc).unwrap();
            let e = q.to_command(CommandUse::Run).unwrap_err();
            assert_eq!(e.kind(), tether::ErrorKind::InvalidArgument, "{bad}");
        }
        assert!(parse::<CommandQuery>(
            r#"{"schema":"tether.command-query/v1","argv":["x"],"cdw":"/"}"#
        )
        .is_err());
    }

    #[test]
    fn streams_from_the_callers_descriptors() {
        use std::os::fd::AsRawFd;
        let f = tempfile::tempfile().unwrap();
        let fd = f.as_raw_fd();
        let doc = format!(
            r#"{{"schema":"tether.command-query/v1","argv":["x"],"stdin":{{"fd":{fd}}},
                "stdout":{{"fd":{fd}}},"stderr":"null"}}"#
        );
        let q: CommandQuery = parse(&doc).unwrap();
        assert_eq!(
            (q.stdin, q.stdout, q.stderr),
            (
                Some(StdioQuery::Fd(fd)),
                Some(StdioQuery::Fd(fd)),
                Some(StdioQuery::Null)
            )
        );
        assert_eq!(
            serde_json::to_value(q.stdout).unwrap(),
            serde_json::json!({ "fd": fd })
        );
        for usage in [CommandUse::Spawn, CommandUse::Run] {
            assert!(q.to_command(usage).is_ok(), "{usage:?}");
        }
        // A descriptor that is not open (far from what other tests' threads open meanwhile),
        // and a negative one: invalid arguments that name the stream.
        // SAFETY: F_DUPFD_CLOEXEC returns a new fd, closed at once.
        let closed = unsafe {
            let n = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 5000);
            assert!(n >= 5000, "F_DUPFD_CLOEXEC");
            libc::close(n);
            n
        };
        for (stream, bad) in [("stdout", closed), ("stderr", -3), ("stdin", closed)] {
            let doc = format!(
                r#"{{"schema":"tether.command-query/v1","argv":["x"],"{stream}":{{"fd":{bad}}}}}"#
            );
            let q: CommandQuery = parse(&doc).unwrap();
            let e = q.to_command(CommandUse::Spawn).unwrap_err();
            assert_eq!(
                e.kind(),
                tether::ErrorKind::InvalidArgument,
                "{stream}: {e}"
            );
            assert!(e.message().starts_with(stream), "{e}");
            assert!(e.message().contains(&bad.to_string()), "{e}");
        }
        assert!(parse::<CommandQuery>(
            r#"{"schema":"tether.command-query/v1","argv":["x"],"stdout":{"fd":"5"}}"#
        )
        .is_err());
    }

    #[test]
    fn stop_options_parse() {
        let q: StopQuery =
            parse(r#"{"schema":"tether.stop-query/v1","grace_ms":250,"signal":"INT"}"#).unwrap();
        let o = q.to_options().unwrap();
        assert_eq!((o.grace.as_millis(), o.signal), (250, Signal::INT));
        let q: StopQuery =
            parse(r#"{"schema":"tether.stop-query/v1","kill_signal":"NOPE"}"#).unwrap();
        assert!(q.to_options().is_err());
    }
}
