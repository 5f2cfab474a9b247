//! `tether.wait-for-query/v1`: what to wait for, and how.

use serde::{Deserialize, Serialize};
use tether::inspect::compile_regex;
use tether::ready::{
    parse_header, parse_method, parse_status_ranges, watch_pidfile, Target, WaitOptions, Watch,
};
use tether::{Error, Result};

use super::millis;

/// The input of a readiness wait (`ready::wait_for`); the output is `tether.wait-for/v1`.
///
/// `{"schema": "tether.wait-for-query/v1", "targets": [":8080", "file:/run/app.ready"],
///   "timeout_ms": 30000}`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WaitForQuery {
    /// The targets, as `tether wait-for` takes them: `host:port`, `:port`, `tcp://host:port`,
    /// `http(s)://…`, `file:PATH`, `unix:PATH`, `log:PATH=REGEX`, `exit:PID|IDENTITY`,
    /// `owner:PORT[/tcp|/udp]=PID`, `cmd:SHELL COMMAND`. At least one.
    pub targets: Vec<String>,
    /// Give up after this many milliseconds; absent or 0: wait forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Longest delay between two network checks or command runs (backoff cap; default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
    /// Longest time one connect, request or command run may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_timeout_ms: Option<u64>,
    /// Ready when any target is (default: all).
    #[serde(default)]
    pub any: bool,
    /// Wait until the targets are not ready (a port freed, a file gone).
    #[serde(default)]
    pub reverse: bool,
    /// End the wait (`process_died`) if this process, a PID or an identity string, exits first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<String>,
    /// Like `watch`, with the process named by this PID file; not with `watch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_pidfile: Option<String>,
    /// Options of `http(s)://` targets.
    #[serde(default)]
    pub http: HttpQuery,
    /// Options of `file:` targets.
    #[serde(default)]
    pub file: FileQuery,
}

impl super::Query for WaitForQuery {
    const SCHEMA: &'static str = "tether.wait-for-query/v1";
}

/// Options of HTTP checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpQuery {
    /// Accepted statuses, e.g. `200`, `200-299,304` (default `200-399`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The body must match this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Do not verify certificates.
    #[serde(default)]
    pub insecure: bool,
    /// GET (default), HEAD, POST, PUT, DELETE, OPTIONS or PATCH (no request body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request headers, `Name: value`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
}

/// Options of `file:` targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FileQuery {
    /// The file must be non-empty.
    #[serde(default)]
    pub non_empty: bool,
    /// The size must not have changed for this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_ms: Option<u64>,
}

impl WaitForQuery {
    /// The library's targets, their labels (the strings as given) and options. A watched PID
    /// file is read here (`NotFound` when it does not exist).
    pub fn to_wait(&self) -> Result<(Vec<Target>, Vec<String>, WaitOptions)> {
        if self.targets.is_empty() {
            return Err(Error::invalid("no target to wait for"));
        }
        // No path, host or command holds a NUL; one would make a target that is never ready.
        if let Some(t) = self.targets.iter().find(|t| t.contains('\0')) {
            return Err(Error::invalid(format!(
                "bad target {t:?}: it contains a NUL character"
            )));
        }
        let targets = self
            .targets
            .iter()
            .map(|t| t.parse())
            .collect::<Result<Vec<Target>>>()?;
        let positive = |name: &str, ms: Option<u64>| -> Result<Option<std::time::Duration>> {
            match ms {
                Some(0) => Err(Error::invalid(format!("{name} must be more than 0"))),
                Some(ms) => millis(name, ms).map(Some),
                None => Ok(None),
            }
        };
        let mut o = WaitOptions::default();
        o.timeout = self
            .timeout_ms
            .filter(|&ms| ms > 0)
            .map(|ms| millis("timeout_ms", ms))
            .transpose()?;
        if let Some(d) = positive("interval_ms", self.interval_ms)? {
            o.interval = d;
        }
        o.attempt_timeout = positive("attempt_timeout_ms", self.attempt_timeout_ms)?;
        o.any = self.any;
        o.reverse = self.reverse;
        o.watch = match (&self.watch, &self.watch_pidfile) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid("give watch or watch_pidfile, not both"))
            }
            (Some(p), None) => Some(Watch::from(p.parse::<tether::ProcessRef>()?)),
            (None, Some(f)) => Some(watch_pidfile(f.as_ref())?),
            (None, None) => None,
        };
        let h = &self.http;
        if let Some(s) = &h.status {
            o.http.status = parse_status_ranges(s)?;
        }
        o.http.body = h.body.as_deref().map(compile_regex).transpose()?;
        o.http.insecure = h.insecure;
        if let Some(m) = &h.method {
            o.http.method = parse_method(m)?;
        }
        if o.http.method == "HEAD" && o.http.body.is_some() {
            return Err(Error::invalid(
                "a body cannot be checked with method HEAD: a HEAD answer has no body",
            ));
        }
        o.http.headers = h
            .headers
            .iter()
            .map(|s| parse_header(s))
            .collect::<Result<_>>()?;
        o.file.non_empty = self.file.non_empty;
        o.file.stable = self
            .file
            .stable_ms
            .map(|ms| millis("stable_ms", ms))
            .transpose()?;
        Ok((targets, self.targets.clone(), o))
    }
}
