//! Sockets and their owners: `ports`, `who`.

use napi::bindgen_prelude::{Either, Object, Unknown};
use napi::Env;
use napi_derive::napi;
use tether::net::{Proto, SocketQuery};

use crate::args::{self, pid};
use crate::error::{Fail, Result};
use crate::{json_name, promise};

/// A process holding a socket.
#[napi(object, object_from_js = false)]
pub struct SocketOwner {
    pub pid: u32,
    /// Command name (`comm`).
    pub name: String,
    /// Identity string (`PID:START:BOOT8[:INODE]`); absent when the process exited before it
    /// could be identified.
    pub identity: Option<String>,
    /// The fds of this process found pointing at the socket.
    pub fds: Vec<i32>,
}

impl From<tether::net::Owner> for SocketOwner {
    fn from(o: tether::net::Owner) -> Self {
        SocketOwner {
            pid: o.pid,
            name: o.name,
            identity: o.identity.map(|i| i.to_string()),
            fds: o.fds,
        }
    }
}

/// One socket.
#[napi(object, object_from_js = false)]
pub struct SocketEntry {
    /// `tcp`, `udp` or `unix`.
    pub proto: String,
    /// `ipv4`, `ipv6` or `unix`.
    pub family: String,
    /// `LISTEN`, `ESTAB`, `UNCONN`, … as `ss` prints them.
    pub state: String,
    /// Local address (unix: the bound path, `@name` for abstract ones; absent when unbound).
    pub local_addr: Option<String>,
    pub local_port: Option<u16>,
    pub remote_addr: Option<String>,
    pub remote_port: Option<u16>,
    /// Unix sockets: `stream`, `dgram` or `seqpacket`.
    pub socket_type: Option<String>,
    /// Unix sockets: the peer's inode, when connected.
    pub peer_inode: Option<f64>,
    pub inode: f64,
    /// Creator's uid (absent for unix sockets read from /proc/net).
    pub uid: Option<u32>,
    /// Every process holding it, by PID.
    pub owners: Vec<SocketOwner>,
}

impl From<tether::net::SocketEntry> for SocketEntry {
    fn from(e: tether::net::SocketEntry) -> Self {
        SocketEntry {
            proto: e.proto.as_str().to_string(),
            family: e.family,
            state: e.state,
            local_addr: e.local_addr,
            local_port: e.local_port,
            remote_addr: e.remote_addr,
            remote_port: e.remote_port,
            socket_type: e.socket_type,
            peer_inode: e.peer_inode.map(|i| i as f64),
            inode: e.inode as f64,
            uid: e.uid,
            owners: e.owners.into_iter().map(SocketOwner::from).collect(),
        }
    }
}

/// What `ports` found.
#[napi(object, object_from_js = false)]
pub struct SocketList {
    /// Where the socket table came from: `sock_diag` (netlink) or `proc_net` (the fallback).
    pub source: String,
    /// Set when the fallback was used, saying why, or when the owners of other users' sockets
    /// are not visible to this user.
    pub note: Option<String>,
    /// Sorted by protocol, port, family, address and inode.
    pub sockets: Vec<SocketEntry>,
}

/// What `who` found: the sockets on a port and every process holding them.
#[napi(object, object_from_js = false)]
pub struct PortHolders {
    pub port: u16,
    /// The protocols looked at.
    pub protos: Vec<String>,
    pub source: String,
    pub note: Option<String>,
    /// The listening (TCP) or bound (UDP) sockets on the port.
    pub sockets: Vec<SocketEntry>,
    /// Every process holding one of them, once each, by PID. Empty: nobody (visible) holds it.
    pub owners: Vec<SocketOwner>,
}

/// What `ports` lists.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct PortsOptions {
    /// `tcp`, `udp`, `unix` (default: all three).
    pub protos: Option<Vec<String>>,
    /// Every state, not only listening (TCP `LISTEN`, UDP and unix datagram unconnected).
    pub all: Option<bool>,
    /// Only this local port: `8080`, `'8080/tcp'`, `'53/udp'` (unix sockets have none).
    pub port: Option<Either<String, f64>>,
    /// Only sockets held by one of these processes.
    pub pids: Option<Vec<f64>>,
    /// Look up the processes holding each socket (default true; false skips the /proc scan).
    pub owners: Option<bool>,
}

fn proto(name: &str) -> Result<Proto> {
    match name {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        "unix" => Ok(Proto::Unix),
        _ => Err(Fail::Tether(tether::Error::invalid(format!(
            "unknown protocol '{name}': use tcp, udp or unix"
        )))),
    }
}

fn socket_query(o: Option<PortsOptions>) -> Result<SocketQuery> {
    let o = o.unwrap_or_default();
    let mut q = SocketQuery::default();
    let mut port_proto = None;
    if let Some(p) = &o.port {
        let (port, proto) = args::port_spec(p, "options.port")?;
        q.port = Some(port);
        port_proto = proto;
    }
    q.protos = match (&o.protos, port_proto) {
        (Some(list), _) => list.iter().map(|p| proto(p)).collect::<Result<_>>()?,
        (None, Some(p)) => vec![p],
        (None, None) => Vec::new(),
    };
    q.all_states = o.all.unwrap_or(false);
    q.pids = match &o.pids {
        Some(list) => list
            .iter()
            .map(|&p| pid(p, "options.pids[]"))
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    q.no_owners = !o.owners.unwrap_or(true);
    Ok(q)
}

/// Listening sockets (or every socket, with `all`) and the processes holding them, read off the
/// event loop. No match is an empty list, not an error.
#[napi(
    ts_args_type = "options?: PortsOptions",
    ts_return_type = "Promise<SocketList>"
)]
pub fn ports<'env>(env: &'env Env, options: Option<Unknown>) -> napi::Result<Object<'env>> {
    match args::options(options, "options").and_then(socket_query) {
        Ok(q) => promise::spawn(
            env,
            "tether-ports",
            move || Ok(tether::net::list(&q)?),
            |_, l| {
                let l = l?;
                Ok(SocketList {
                    source: json_name(l.source),
                    note: l.note,
                    sockets: l.sockets.into_iter().map(SocketEntry::from).collect(),
                })
            },
        ),
        Err(fail) => promise::rejected(env, fail),
    }
}

/// Who holds `port` (`8080`, `'8080/tcp'`, `'53/udp'`; listening TCP and bound UDP when no
/// protocol is given): every holder of every such socket, read off the event loop.
#[napi(
    ts_args_type = "port: number | string",
    ts_return_type = "Promise<PortHolders>"
)]
pub fn who<'env>(env: &'env Env, port: Unknown) -> napi::Result<Object<'env>> {
    match args::port(&port, "port").and_then(|p| args::port_spec(&p, "port")) {
        Ok((port, proto)) => promise::spawn(
            env,
            "tether-who",
            move || Ok(tether::net::who(port, proto)?),
            |_, h| {
                let h = h?;
                Ok(PortHolders {
                    port: h.port,
                    protos: h.protos.iter().map(|p| p.as_str().to_string()).collect(),
                    source: json_name(h.source),
                    note: h.note,
                    sockets: h.sockets.into_iter().map(SocketEntry::from).collect(),
                    owners: h.owners.into_iter().map(SocketOwner::from).collect(),
                })
            },
        ),
        Err(fail) => promise::rejected(env, fail),
    }
}
