//! Stop by port: find every holder of the port, verify each identity, and end the trees with
//! [`crate::terminate::stop`].

use super::sockets::{port_in_use, who, Owner, Proto};
use crate::error::{Error, Result};
use crate::identity::ProcessIdentity;
use crate::inspect::{ancestors, FieldSet};
use crate::process::ProcessRef;
use crate::signal::rails::{self, Subject};
use crate::terminate::{stop_ref, StopOptions, StopOutcome};

/// What [`stop_port`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StopPortOutcome {
    /// The port.
    pub port: u16,
    /// The protocols looked at.
    pub protos: Vec<Proto>,
    /// Every process that held the port.
    pub owners: Vec<Owner>,
    /// The owners whose trees were stopped: owners that descend from another owner (pre-fork
    /// workers) are ended with their ancestor's tree.
    pub roots: Vec<u32>,
    /// One outcome per stopped tree.
    pub stops: Vec<StopOutcome>,
    /// Nothing listens on (or is bound to) the port any more.
    pub port_free: bool,
}

/// Stop the owner(s) of `port` and their trees. `NotFound` when nobody holds the port;
/// `Refused` (before anything is sent) when an owner is behind a rail and `force` is not set.
///
/// Like [`crate::terminate::stop`], it holds a pidfd per member of each tree: raise the
/// open-files limit first for huge trees ([`crate::limits::raise_open_files`]).
pub fn stop_port(port: u16, proto: Option<Proto>, opts: &StopOptions) -> Result<StopPortOutcome> {
    let w = who(port, proto)?;
    if w.owners.is_empty() {
        return Err(Error::not_found(if w.sockets.is_empty() {
            format!("nobody holds port {port}")
        } else {
            format!("port {port} is bound, but no process visible to this user holds it")
        }));
    }
    // Identities as seen by the scan: a PID reused since is refused by `stop` on its pidfd.
    // An owner without one exited between the scan and the identity read.
    let ids: Vec<ProcessIdentity> = w.owners.iter().filter_map(|o| o.identity.clone()).collect();
    let owner_pids: Vec<u32> = ids.iter().map(|i| i.pid).collect();
    let roots: Vec<ProcessIdentity> = ids
        .iter()
        .filter(|id| {
            ancestors(id.pid, FieldSet::empty())
                .map(|a| !a.iter().any(|p| owner_pids.contains(&p.pid)))
                .unwrap_or(true)
        })
        .cloned()
        .collect();
    // Validate every target before anything is sent: the same rails as `stop` and `kill`.
    let subjects: Vec<Subject> = roots.iter().map(|id| Subject::Process(id.pid)).collect();
    rails::check(&subjects, opts.force)?;
    let mut stops = Vec::new();
    for id in &roots {
        // Each identity verified on a pidfd: an owner that exited since is stopped already.
        stops.push(stop_ref(&ProcessRef::Identity(id.clone()), opts)?);
    }
    let mut port_free = true;
    for p in &w.protos {
        port_free &= !port_in_use(port, *p)?;
    }
    Ok(StopPortOutcome {
        port,
        protos: w.protos,
        owners: w.owners,
        roots: roots.iter().map(|r| r.pid).collect(),
        stops,
        port_free,
    })
}
