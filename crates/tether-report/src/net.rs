//! The reports of `ports`, `who`, `fds` and `stop --port`.

use serde::Serialize;
use tether::net::{
    FdInfo, OpenFiles, Owner, PortHolders, Proto, SocketEntry, SocketList, SocketSource,
    StopPortOutcome,
};

use crate::{Report, StopReport};

/// `tether ports --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct PortsReport {
    #[doc = concat!("Where the socket table came from.")]
    pub source: SocketSource,
    /// Set when the fallback was used, saying why, or when the owners of other users' sockets
    /// are not visible to this user.
    pub note: Option<String>,
    #[doc = concat!("The sockets that passed the filters, each with its owners.")]
    pub sockets: Vec<SocketEntry>,
}
impl Report for PortsReport {
    const SCHEMA: &'static str = "tether.ports/v1";
}

impl From<&SocketList> for PortsReport {
    fn from(l: &SocketList) -> Self {
        PortsReport {
            source: l.source,
            note: l.note.clone(),
            sockets: l.sockets.clone(),
        }
    }
}

/// `tether who PORT --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct WhoReport {
    #[doc = concat!("The port asked about.")]
    pub port: u16,
    #[doc = concat!("The protocols looked at.")]
    pub protos: Vec<Proto>,
    #[doc = concat!("Where the socket table came from.")]
    pub source: SocketSource,
    #[doc = concat!("Set when the fallback was used, saying why, or when the owners of other users' sockets are not visible to this user.")]
    pub note: Option<String>,
    /// The listening (TCP) or bound (UDP) sockets on the port.
    pub sockets: Vec<SocketEntry>,
    /// Every process holding one of them, once each, by PID.
    pub owners: Vec<Owner>,
}
impl Report for WhoReport {
    const SCHEMA: &'static str = "tether.who/v1";
}

impl From<&PortHolders> for WhoReport {
    fn from(h: &PortHolders) -> Self {
        WhoReport {
            port: h.port,
            protos: h.protos.clone(),
            source: h.source,
            note: h.note.clone(),
            sockets: h.sockets.clone(),
            owners: h.owners.clone(),
        }
    }
}

/// `tether fds --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct FdsReport {
    #[doc = concat!("The process's PID.")]
    pub pid: u32,
    #[doc = concat!("Its identity string, verified when the fds were read.")]
    pub identity: String,
    #[doc = concat!("Its open fds, in fd order.")]
    pub fds: Vec<FdInfo>,
}
impl Report for FdsReport {
    const SCHEMA: &'static str = "tether.fds/v1";
}

impl From<&OpenFiles> for FdsReport {
    fn from(f: &OpenFiles) -> Self {
        FdsReport {
            pid: f.pid,
            identity: f.identity.to_string(),
            fds: f.fds.clone(),
        }
    }
}

/// `tether stop --port N --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct StopPortReport {
    #[doc = concat!("The port asked about.")]
    pub port: u16,
    #[doc = concat!("The protocols looked at.")]
    pub protos: Vec<Proto>,
    /// Every process that held the port.
    pub owners: Vec<Owner>,
    /// The owners whose trees were stopped: owners that descend from another owner (pre-fork
    /// workers) are ended with their ancestor's tree.
    pub roots: Vec<u32>,
    /// One report per stopped tree.
    pub stops: Vec<StopReport>,
    /// Nothing listens on (or is bound to) the port any more.
    pub port_free: bool,
}
impl Report for StopPortReport {
    const SCHEMA: &'static str = "tether.stop-port/v1";
}

impl From<&StopPortOutcome> for StopPortReport {
    fn from(o: &StopPortOutcome) -> Self {
        StopPortReport {
            port: o.port,
            protos: o.protos.clone(),
            owners: o.owners.clone(),
            roots: o.roots.clone(),
            stops: o.stops.iter().map(StopReport::from).collect(),
            port_free: o.port_free,
        }
    }
}
