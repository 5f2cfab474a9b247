//! The JSON layer of tether: every JSON output is an object with a `schema` id, and its JSON
//! Schema is generated from the Rust type. Each report is built from the typed result of a
//! library operation (`From<&outcome>`) and carries the JSON forms: identities as strings,
//! signals by name, durations as `*_ms` numbers.
//!
//! The `tether` command line tool prints these; the C ABI and the language bindings speak them.
//! The library itself (`tether`) knows nothing of them.
//!
//! ```
//! use tether_report::{tagged, ErrorReport};
//! let e = tether::Error::invalid("unknown signal 'FOO'");
//! let json = serde_json::to_value(tagged(&ErrorReport::from(&e))).unwrap();
//! assert_eq!(json["schema"], "tether.error/v1");
//! assert_eq!(json["error"]["kind"], "invalid_argument");
//! ```
//!
//! [`all_schemas`] lists every report's schema; `schemas/` in the repository holds the committed
//! copies, checked against these types by the tests of this crate.

#![warn(missing_debug_implementations)]
#![warn(missing_docs)]

// Documentation of JSON-schema types: schemars copies every literal `///` comment into the
// generated schema as a `description`, and the committed schemas under `schemas/` stay
// byte-for-byte as they are. Fields and variants that had no description there are documented
// with `#[doc = concat!("…")]`: rustdoc shows it, schemars reads only literal doc strings.

mod error;
mod handle;
mod identity;
mod init;
mod inspect;
mod job;
mod net;
mod pidfile;
pub mod query;
mod ready;
mod retry;
mod run;
mod signal;
mod terminate;
mod wait;

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

pub use error::{ErrorBody, ErrorReport};
pub use handle::{ChildWaitReport, ChildrenReport, FamilyMember, RunOutputReport};
pub use identity::IdentityReport;
pub use init::{InitReport, Leftovers};
pub use inspect::{InfoReport, PsReport, PsTreeReport, TreeReport};
pub use job::{JobLogsReport, JobReport, JobsReport};
pub use net::{FdsReport, PortsReport, StopPortReport, WhoReport};
pub use pidfile::{AliveReport, PidFileView, StopPidfileReport, Verdict};
pub use ready::{TargetResult, WaitForReport};
pub use retry::{AttemptReport, RetryPolicyReport, RetryReport};
pub use run::{RunReport, SentSignal};
pub use signal::{KillReport, SendOutcome, SignalEntry, SignalsReport};
pub use terminate::StopReport;
pub use wait::{WaitManyReport, WaitReport};

/// A result that can be printed as JSON with a schema id.
pub trait Report: Serialize + schemars::JsonSchema {
    /// The schema id, e.g. `tether.ps/v1`. Changes only with incompatible changes.
    const SCHEMA: &'static str;
}

/// A report with its `schema` id as the first key, serialised in one pass.
#[derive(Debug, Serialize)]
pub struct Tagged<'a, R: Report> {
    schema: &'static str,
    #[serde(flatten)]
    body: &'a R,
}

/// Wrap a report for serialisation with its `schema` id.
pub fn tagged<R: Report>(r: &R) -> Tagged<'_, R> {
    Tagged {
        schema: R::SCHEMA,
        body: r,
    }
}

/// The JSON Schema of a report, with the `schema` property pinned to its id.
pub fn schema_of<R: Report>() -> Value {
    let root = schemars::gen::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<R>();
    pin_schema_id(R::SCHEMA, root)
}

/// A document's JSON Schema with its `$id` and a required `schema` property pinned to `id`.
fn pin_schema_id(id: &str, root: schemars::schema::RootSchema) -> Value {
    let mut v = serde_json::to_value(root).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "$id".into(),
            Value::String(format!("https://tether.dev/schemas/{}.json", file_stem(id))),
        );
        if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert("schema".into(), json!({ "const": id }));
        }
        let req = obj.entry("required").or_insert_with(|| json!([]));
        if let Some(a) = req.as_array_mut() {
            a.insert(0, json!("schema"));
        }
    }
    v
}

/// The file name (without `.json`) under `schemas/` for a schema id: `tether.ps/v1` → `tether.ps.v1`.
pub fn file_stem(id: &str) -> String {
    id.replace('/', ".")
}

/// Every report type's id and schema.
pub fn all_schemas() -> Vec<(&'static str, Value)> {
    fn one<R: Report>() -> (&'static str, Value) {
        (R::SCHEMA, schema_of::<R>())
    }
    vec![
        one::<ErrorReport>(),
        one::<PsReport>(),
        one::<PsTreeReport>(),
        one::<TreeReport>(),
        one::<InfoReport>(),
        one::<KillReport>(),
        one::<SignalsReport>(),
        one::<PortsReport>(),
        one::<WhoReport>(),
        one::<FdsReport>(),
        one::<WaitForReport>(),
        one::<StopPortReport>(),
        one::<WaitReport>(),
        one::<WaitManyReport>(),
        one::<StopReport>(),
        one::<RunReport>(),
        one::<InitReport>(),
        one::<AliveReport>(),
        one::<StopPidfileReport>(),
        one::<IdentityReport>(),
        one::<ChildWaitReport>(),
        one::<ChildrenReport>(),
        one::<RunOutputReport>(),
        one::<JobReport>(),
        one::<JobsReport>(),
        one::<JobLogsReport>(),
        one::<RetryReport>(),
    ]
}

/// A duration as the whole milliseconds of a `*_ms` field (rounded down).
pub fn whole_ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// A duration as the fractional milliseconds of a `*_ms` field, to the microsecond.
pub fn fractional_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
