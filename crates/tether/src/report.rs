//! JSON reports: every JSON output is an object with a `schema` id, and its JSON Schema is
//! generated from the Rust type. [`all_schemas`] lists them; `schemas/` holds the committed copies.

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, ErrorKind};
use crate::identity::ProcessIdentity;
use crate::inspect::{ProcessInfo, ProcessTree};
use crate::signal::SendOutcome;

/// A result that can be printed as JSON with a schema id.
pub trait Report: Serialize + schemars::JsonSchema {
    /// The schema id, e.g. `tether.ps/v1`. Changes only with incompatible changes.
    const SCHEMA: &'static str;
}

/// A report with its `schema` id as the first key, serialised in one pass.
#[derive(Serialize)]
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
    let mut v = serde_json::to_value(root).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "$id".into(),
            Value::String(format!(
                "https://tether.dev/schemas/{}.json",
                file_stem(R::SCHEMA)
            )),
        );
        if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert("schema".into(), json!({ "const": R::SCHEMA }));
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
        one::<crate::net::PortsReport>(),
        one::<crate::net::WhoReport>(),
        one::<crate::net::FdsReport>(),
        one::<crate::ready::WaitForReport>(),
        one::<crate::net::StopPortReport>(),
        one::<crate::wait::WaitReport>(),
        one::<crate::wait::WaitManyReport>(),
        one::<crate::terminate::StopReport>(),
        one::<crate::run::RunReport>(),
    ]
}

/// An error, as printed with `--json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ErrorReport {
    pub error: ErrorBody,
}

/// The body of [`ErrorReport`].
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        ErrorReport {
            error: ErrorBody {
                kind: e.kind(),
                message: e.message().to_string(),
            },
        }
    }
}

impl Report for ErrorReport {
    const SCHEMA: &'static str = "tether.error/v1";
}

/// `tether ps --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PsReport {
    pub processes: Vec<ProcessInfo>,
}
impl Report for PsReport {
    const SCHEMA: &'static str = "tether.ps/v1";
}

/// `tether ps --tree --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PsTreeReport {
    pub roots: Vec<ProcessTree>,
}
impl Report for PsTreeReport {
    const SCHEMA: &'static str = "tether.ps-tree/v1";
}

/// `tether tree PID --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TreeReport {
    pub tree: ProcessTree,
}
impl Report for TreeReport {
    const SCHEMA: &'static str = "tether.tree/v1";
}

/// `tether info --json`: the full record, its identity (with the pidfs inode where the kernel
/// has one) and its ancestors' PIDs, nearest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InfoReport {
    pub process: ProcessInfo,
    pub identity: ProcessIdentity,
    pub identity_string: String,
    pub ancestors: Vec<u32>,
}
impl Report for InfoReport {
    const SCHEMA: &'static str = "tether.info/v1";
}

/// `tether kill --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct KillReport {
    /// Signal name without `SIG`.
    pub signal: String,
    pub signal_number: i32,
    /// Validated only; nothing sent.
    pub dry_run: bool,
    /// Filters matched these processes, but `--yes` was not given: nothing sent.
    pub preview: bool,
    pub targets: Vec<SendOutcome>,
}
impl Report for KillReport {
    const SCHEMA: &'static str = "tether.kill/v1";
}

/// `tether signals --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SignalsReport {
    pub signals: Vec<SignalEntry>,
}

/// One signal.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SignalEntry {
    pub number: i32,
    /// Name without `SIG`, as `kill -l` spells it.
    pub name: String,
}
impl Report for SignalsReport {
    const SCHEMA: &'static str = "tether.signals/v1";
}
