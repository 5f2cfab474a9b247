//! `tether.identity/v1`.

use serde::Serialize;
use tether::ProcessIdentity;

use crate::Report;

/// A process identity, parsed or taken from a live process: its parts and its string form
/// (`PID:START_TICKS:BOOT8[:INODE]`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct IdentityReport {
    #[doc = concat!("The identity's parts.")]
    pub identity: ProcessIdentity,
    #[doc = concat!("The string form.")]
    pub identity_string: String,
}
impl Report for IdentityReport {
    const SCHEMA: &'static str = "tether.identity/v1";
}

impl From<&ProcessIdentity> for IdentityReport {
    fn from(id: &ProcessIdentity) -> Self {
        IdentityReport {
            identity: id.clone(),
            identity_string: id.to_string(),
        }
    }
}
