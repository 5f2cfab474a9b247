//! The reports of `ps`, `tree` and `info`.

use serde::Serialize;
use tether::inspect::{FieldSet, ProcessInfo, ProcessTree};
use tether::{Process, ProcessIdentity};

use crate::Report;

/// `tether ps --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct PsReport {
    #[doc = concat!("The processes that passed the filters, with the requested fields.")]
    pub processes: Vec<ProcessInfo>,
}
impl Report for PsReport {
    const SCHEMA: &'static str = "tether.ps/v1";
}

impl From<Vec<ProcessInfo>> for PsReport {
    fn from(processes: Vec<ProcessInfo>) -> Self {
        PsReport { processes }
    }
}

/// `tether ps --tree --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct PsTreeReport {
    #[doc = concat!("The trees: one per listed process whose parent is not listed, in PID order.")]
    pub roots: Vec<ProcessTree>,
}
impl Report for PsTreeReport {
    const SCHEMA: &'static str = "tether.ps-tree/v1";
}

impl From<Vec<ProcessTree>> for PsTreeReport {
    fn from(roots: Vec<ProcessTree>) -> Self {
        PsTreeReport { roots }
    }
}

/// `tether tree PID --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct TreeReport {
    #[doc = concat!("The process and its descendants.")]
    pub tree: ProcessTree,
}
impl Report for TreeReport {
    const SCHEMA: &'static str = "tether.tree/v1";
}

impl From<ProcessTree> for TreeReport {
    fn from(tree: ProcessTree) -> Self {
        TreeReport { tree }
    }
}

/// `tether info --json`: the full record, its identity (with the pidfs inode where the kernel
/// has one) and its ancestors' PIDs, nearest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct InfoReport {
    #[doc = concat!("The process record, every field read.")]
    pub process: ProcessInfo,
    #[doc = concat!("Its identity, verified on a pidfd.")]
    pub identity: ProcessIdentity,
    #[doc = concat!("The identity's string form (`PID:START_TICKS:BOOT8[:INODE]`).")]
    pub identity_string: String,
    #[doc = concat!("The PIDs of its ancestors, nearest first.")]
    pub ancestors: Vec<u32>,
}
impl Report for InfoReport {
    const SCHEMA: &'static str = "tether.info/v1";
}

impl InfoReport {
    /// The report of one process: its record, its identity, and its ancestors' PIDs, nearest
    /// first.
    pub fn new(process: ProcessInfo, identity: ProcessIdentity, ancestors: Vec<u32>) -> Self {
        InfoReport {
            identity_string: identity.to_string(),
            identity,
            process,
            ancestors,
        }
    }

    /// The report of an open process: its record with `fields` (re-verified on its pidfd after
    /// the read, so it describes this process and not a successor), the identity shown (the
    /// record's own, which carries the pidfs inode where the kernel has one), its ancestors.
    pub fn of(p: &Process, fields: FieldSet) -> tether::Result<Self> {
        let process = p.info(fields)?;
        let identity = process
            .identity
            .clone()
            .unwrap_or_else(|| p.identity().clone());
        let ancestors = p.ancestors()?;
        Ok(InfoReport::new(process, identity, ancestors))
    }
}
