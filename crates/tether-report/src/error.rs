//! `tether.error/v1`.

use serde::Serialize;
use tether::{Error, ErrorKind};

use crate::Report;

/// An error, as printed with `--json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ErrorReport {
    pub error: ErrorBody,
}

/// The body of [`ErrorReport`].
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
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
