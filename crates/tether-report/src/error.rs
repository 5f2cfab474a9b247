//! `tether.error/v1`.

use serde::Serialize;
use tether::{Error, ErrorKind};

use crate::Report;

/// An error, as printed with `--json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ErrorReport {
    #[doc = concat!("The error: its kind and message.")]
    pub error: ErrorBody,
}

/// The body of [`ErrorReport`].
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ErrorBody {
    #[doc = concat!("The stable kind (`not_found`, `permission_denied`, `identity_mismatch`, …).")]
    pub kind: ErrorKind,
    #[doc = concat!("What was wrong and what to do, as the one-line message says it.")]
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
