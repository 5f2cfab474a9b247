//! `tether.ports-query/v1`: which sockets to list.

use serde::{Deserialize, Serialize};
use tether::net::{Proto, SocketQuery};
use tether::ProcessRef;
use tether::{Error, Result};

/// The input of a socket listing (`net::list`); the output is `tether.ports/v1`.
///
/// `{"schema": "tether.ports-query/v1", "protos": ["tcp"], "port": 8080}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PortsQuery {
    /// Protocols to list; absent or empty: all three.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protos: Vec<ProtoName>,
    /// Every state (established, time-wait, …), not only listening / unconnected sockets.
    #[serde(default)]
    pub all_states: bool,
    /// Only this local port (1–65535).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Only sockets held by one of these processes: PIDs or identity strings, each of which
    /// must name a running process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<String>,
    /// Skip finding the processes that hold each socket.
    #[serde(default)]
    pub no_owners: bool,
}

impl super::Query for PortsQuery {
    const SCHEMA: &'static str = "tether.ports-query/v1";
}

/// A protocol by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ProtoName {
    #[doc = concat!("TCP.")]
    Tcp,
    #[doc = concat!("UDP.")]
    Udp,
    #[doc = concat!("Unix domain sockets.")]
    Unix,
}

impl From<ProtoName> for Proto {
    fn from(p: ProtoName) -> Proto {
        match p {
            ProtoName::Tcp => Proto::Tcp,
            ProtoName::Udp => Proto::Udp,
            ProtoName::Unix => Proto::Unix,
        }
    }
}

impl PortsQuery {
    /// The library's query, without its PIDs, and the processes named by `pids`, which the
    /// caller resolves to running processes before listing (so that a PID that names nothing
    /// is an error rather than an empty list).
    pub fn to_query(&self) -> Result<(SocketQuery, Vec<ProcessRef>)> {
        if self.port == Some(0) {
            return Err(Error::invalid(
                "bad port 0: expected a number from 1 to 65535",
            ));
        }
        let targets = self
            .pids
            .iter()
            .map(|p| p.parse::<ProcessRef>())
            .collect::<Result<Vec<_>>>()?;
        let mut q = SocketQuery::default();
        q.protos = self.protos.iter().map(|&p| p.into()).collect();
        q.all_states = self.all_states;
        q.port = self.port;
        q.no_owners = self.no_owners;
        Ok((q, targets))
    }
}
