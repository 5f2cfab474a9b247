//! `tether.retry-query/v1`: a command to run again until it succeeds (what `tether retry`
//! takes).

use serde::{Deserialize, Serialize};
use tether::retry::{Backoff, CodeSet, RetryOptions};
use tether::{Command, Error, Result};

use super::command::{CommandQuery, CommandUse};
use super::millis;

/// The command (its streams inherited or discarded: a retry does not capture) and the retry
/// policy; every policy field is optional, with `tether retry`'s defaults. The output is
/// `tether.retry/v1`.
///
/// `{"schema": "tether.retry-query/v1", "command": {"argv": ["curl", "-f", "http://x"]},
/// "attempts": 5, "delay_ms": 200, "retry_on": "6,7,28"}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryQuery {
    /// The command, as in `tether.command-query/v1` (without `schema`); its time limit is
    /// `attempt_timeout_ms` here, so it takes no `timeout_ms`.
    pub command: CommandQuery,
    /// Attempts at most, the first included (default 3; 0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The overall deadline in milliseconds, delays included (absent or 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_time_ms: Option<u64>,
    /// How delays grow: `fixed`, `linear` or `exponential` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<String>,
    /// The delay before the first retry in milliseconds (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// The cap on each delay in milliseconds (absent or 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay_ms: Option<u64>,
    /// Spread each delay at random over `[d/2, d]`.
    #[serde(default)]
    pub jitter: bool,
    /// Retry only these exit codes (`1,6-7,28`); they override the codes never retried by
    /// default (2, 126, 127, 130, 143).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<String>,
    /// Never retry these exit codes, on top of the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on: Option<String>,
    /// Each attempt's time limit in milliseconds (absent or 0: none); a timed-out attempt has
    /// code 124.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_timeout_ms: Option<u64>,
    /// KILL an attempt still running this long after the timeout signal (default 5000; 0:
    /// never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_after_ms: Option<u64>,
}

impl super::Query for RetryQuery {
    const SCHEMA: &'static str = "tether.retry-query/v1";
}

impl RetryQuery {
    /// A query retrying `argv` with the defaults.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(argv: I) -> RetryQuery {
        RetryQuery {
            command: CommandQuery::new(argv),
            ..Default::default()
        }
    }

    /// The library's command and options for [`tether::retry::run`] (`InvalidArgument` for a
    /// bad command, backoff kind, code list or duration, or a code both retried and not).
    pub fn to_retry(&self) -> Result<(Command, RetryOptions)> {
        if self.command.timeout_ms.is_some() || self.command.kill_after_ms.is_some() {
            return Err(Error::invalid(
                "the command's time limit is attempt_timeout_ms (and kill_after_ms) of the retry",
            ));
        }
        let cmd = self.command.to_command(CommandUse::Spawn)?;
        let nonzero = |name: &str, v: Option<u64>| -> Result<_> {
            Ok(v.map(|v| millis(name, v))
                .transpose()?
                .filter(|d| !d.is_zero()))
        };
        let codes = |name: &str, v: &Option<String>| -> Result<Option<CodeSet>> {
            v.as_deref()
                .map(|s| {
                    s.parse::<CodeSet>()
                        .map_err(|e| Error::invalid(format!("{name}: {}", e.message())))
                })
                .transpose()
        };
        let mut o = RetryOptions::default();
        if let Some(n) = self.attempts {
            o.attempts = n;
        }
        o.max_time = nonzero("max_time_ms", self.max_time_ms)?;
        if let Some(b) = &self.backoff {
            o.schedule.backoff = b.parse::<Backoff>()?;
        }
        if let Some(d) = self.delay_ms {
            o.schedule.delay = millis("delay_ms", d)?;
        }
        o.schedule.max_delay = nonzero("max_delay_ms", self.max_delay_ms)?;
        o.schedule.jitter = self.jitter;
        o.retry_on = codes("retry_on", &self.retry_on)?;
        o.stop_on = codes("stop_on", &self.stop_on)?.unwrap_or_default();
        o.attempt_timeout = nonzero("attempt_timeout_ms", self.attempt_timeout_ms)?;
        if let Some(k) = self.kill_after_ms {
            o.kill_after = millis("kill_after_ms", k)?;
        }
        o.validate()?;
        Ok((cmd, o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;
    use std::time::Duration;

    #[test]
    fn retries_parse_with_defaults_and_refuse_bad_input() {
        let q: RetryQuery = parse(
            r#"{"schema":"tether.retry-query/v1","command":{"argv":["sh","-c","exit 7"]},
                "attempts":5,"backoff":"fixed","delay_ms":20,"retry_on":"6-7","max_time_ms":0}"#,
        )
        .unwrap();
        let (_, o) = q.to_retry().unwrap();
        assert_eq!(o.attempts, 5);
        assert_eq!(o.schedule.backoff, Backoff::Fixed);
        assert_eq!(o.schedule.delay, Duration::from_millis(20));
        assert_eq!(o.max_time, None);
        assert!(o.retry_on.unwrap().contains(7));
        for bad in [
            r#"{"command":{"argv":[]}}"#,
            r#"{"command":{"argv":["x"],"stdout":"capture"}}"#,
            r#"{"command":{"argv":["x"],"timeout_ms":5}}"#,
            r#"{"command":{"argv":["x"]},"backoff":"cubic"}"#,
            r#"{"command":{"argv":["x"]},"retry_on":"0"}"#,
            r#"{"command":{"argv":["x"]},"retry_on":"3","stop_on":"3"}"#,
            r#"{"command":{"argv":["x"]},"delay_ms":99999999999999999}"#,
        ] {
            let doc = bad.replacen('{', r#"{"schema":"tether.retry-query/v1","#, 1);
            let q: RetryQuery = parse(&doc).unwrap();
            let e = q.to_retry().unwrap_err();
            assert_eq!(e.kind(), tether::ErrorKind::InvalidArgument, "{bad}");
        }
    }
}
