//! `tether.get-query/v1`: one process, by PID or identity.

use serde::{Deserialize, Serialize};
use tether::inspect::FieldSet;
use tether::ProcessRef;
use tether::Result;

use super::field_set;

/// The input of a single lookup; the output is `tether.info/v1` (the record, its identity and
/// its ancestors).
///
/// `{"schema": "tether.get-query/v1", "target": "4242"}` or, refused once the PID names
/// another process, `{"schema": "tether.get-query/v1", "target": "4242:1234567:9f1c0a3e"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GetQuery {
    /// A PID, or an identity string `PID:START_TICKS:BOOT8[:INODE]`.
    pub target: String,
    /// The fields to read (as in `tether.ps-query/v1`); absent: all but `env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

impl super::Query for GetQuery {
    const SCHEMA: &'static str = "tether.get-query/v1";
}

impl GetQuery {
    /// A query for `target` with the standard fields.
    pub fn new(target: impl Into<String>) -> GetQuery {
        GetQuery {
            target: target.into(),
            fields: None,
        }
    }

    /// The target (PID rails applied) and the fields.
    pub fn to_query(&self) -> Result<(ProcessRef, FieldSet)> {
        Ok((
            self.target.parse::<ProcessRef>()?,
            field_set(self.fields.as_deref())?,
        ))
    }
}
