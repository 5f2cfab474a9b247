//! The JSON inputs of the C ABI (and of any binding that takes JSON): each a document with a
//! versioned `schema` id, as the outputs have, e.g.
//! `{"schema": "tether.ps-query/v1", "filter": {"name": {"exact": "sshd"}}}`.
//!
//! A document with an unknown field, a missing or wrong `schema` id, or a value out of range is
//! refused with `InvalidArgument`: a typo is never ignored silently, and a document written for
//! another version is never read as this one. Each query turns into the library's own options
//! (`to_query`, `to_wait`), with the same parsers and rails the command line uses.
//!
//! ```
//! use tether_report::query::{parse, PsQuery};
//! let q: PsQuery = parse(r#"{"schema": "tether.ps-query/v1", "fields": ["pid", "name"]}"#).unwrap();
//! assert!(q.to_query().is_ok());
//! let e = parse::<PsQuery>(r#"{"schema": "tether.ps-query/v1", "feilds": []}"#).unwrap_err();
//! assert_eq!(e.kind(), tether::ErrorKind::InvalidArgument);
//! ```

mod command;
mod get;
mod job;
mod ports;
mod ps;
mod retry;
mod wait_for;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tether::inspect::{Field, FieldSet};
use tether::{Error, Result};

pub use command::{CommandQuery, CommandUse, StdioQuery, StopQuery};
pub use get::GetQuery;
pub use job::JobQuery;
pub use ports::{PortsQuery, ProtoName};
pub use ps::{NameQuery, PsFilter, PsQuery};
pub use retry::RetryQuery;
pub use wait_for::{FileQuery, HttpQuery, WaitForQuery};

/// A JSON input document with a schema id.
pub trait Query: DeserializeOwned + Serialize + schemars::JsonSchema {
    /// The schema id, e.g. `tether.ps-query/v1`. Changes only with incompatible changes.
    const SCHEMA: &'static str;
}

/// Parse a query document: a JSON object whose `schema` is `Q::SCHEMA` and whose other fields
/// are `Q`'s. Errors (`InvalidArgument`) say what was wrong: not JSON, not an object, a missing
/// or wrong schema id, an unknown field, a value of the wrong type.
pub fn parse<Q: Query>(json: &str) -> Result<Q> {
    let mut v: Value = serde_json::from_str(json)
        .map_err(|e| Error::invalid(format!("{}: not valid JSON: {e}", Q::SCHEMA)))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| Error::invalid(format!("{}: expected a JSON object", Q::SCHEMA)))?;
    match obj.remove("schema") {
        Some(Value::String(s)) if s == Q::SCHEMA => {}
        Some(other) => {
            return Err(Error::invalid(format!(
                "wrong schema id {other}: this function takes \"{}\"",
                Q::SCHEMA
            )))
        }
        None => {
            return Err(Error::invalid(format!(
                "missing \"schema\": this function takes \"{}\"",
                Q::SCHEMA
            )))
        }
    }
    serde_json::from_value(v).map_err(|e| Error::invalid(format!("{}: {e}", Q::SCHEMA)))
}

/// Every query type's id and schema (committed under `schemas/` with the reports').
pub fn all_query_schemas() -> Vec<(&'static str, Value)> {
    fn one<Q: Query>() -> (&'static str, Value) {
        let root = schemars::gen::SchemaSettings::draft07()
            .into_generator()
            .into_root_schema_for::<Q>();
        (Q::SCHEMA, crate::pin_schema_id(Q::SCHEMA, root))
    }
    vec![
        one::<PsQuery>(),
        one::<GetQuery>(),
        one::<PortsQuery>(),
        one::<WaitForQuery>(),
        one::<CommandQuery>(),
        one::<StopQuery>(),
        one::<JobQuery>(),
        one::<RetryQuery>(),
    ]
}

/// The fields named (the names and aliases of `tether ps --fields`); `None`: every field but
/// the environment. An empty list reads nothing but the PID.
fn field_set(names: Option<&[String]>) -> Result<FieldSet> {
    match names {
        None => Ok(FieldSet::standard()),
        Some(list) => Ok(FieldSet::of(
            &list
                .iter()
                .map(|n| n.parse::<Field>())
                .collect::<Result<Vec<_>>>()?,
        )),
    }
}

/// A `*_ms` field as a duration, refused beyond the range every duration parser keeps (callers
/// add durations to clocks).
fn millis(name: &str, ms: u64) -> Result<Duration> {
    let max = tether::duration::MAX_DURATION_SECS.saturating_mul(1000);
    if ms > max {
        return Err(Error::invalid(format!(
            "{name} {ms} is out of range (at most {max})"
        )));
    }
    Ok(Duration::from_millis(ms))
}
