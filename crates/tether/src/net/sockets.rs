//! Sockets and the processes that hold them.
//!
//! The socket table comes from netlink sock_diag (a port lookup is filtered in the kernel);
//! when netlink is unavailable (e.g. denied by a seccomp policy), from /proc/net, and the result
//! says so (`source: proc_net` and a note). Owners come from the `socket:[INODE]` links under
//! `/proc/PID/fd`, so a socket shared by pre-fork workers lists every one of them.
//!
//! Early exits of the owner scan (there is no kernel query from a socket to its holders, and no
//! count of them, so finding *all* holders needs a visit to every process):
//! - only the inodes the socket query returned are looked for; with none, nothing is scanned;
//! - per process, a few syscalls whatever its fd numbers (dense, or sparse like 0, 1, 2, 10,
//!   251): open its fd directory, `fstat` it for the number of open fds (Linux 6.2+; none for
//!   kernel threads and zombies ends there), read fds 0–2 by name, list the rest (if any) with
//!   one `getdents64` into a reused buffer, one `readlinkat` per fd compared as bytes (details in
//!   `sys::linux::fd`); no other /proc file is read for a process that holds nothing wanted;
//! - the walk over all processes is split across threads (one per CPU, at most 8);
//! - within a process, reading stops once every wanted inode has been found in it;
//! - the scan can be limited to given processes (`owner:` checks one tree),
//!   and [`port_held_by`] stops at the first holder found in that tree.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::identity::ProcessIdentity;
use crate::sys::os::fd::{self as sysfd, ScanStop};
use crate::sys::os::proc::ProcReader;
use crate::sys::os::sock_diag::{
    self, procfs, InetQuery, InetSocket, SockDiag, UnixSocket, ALL_STATES, TCP_CLOSE, TCP_LISTEN,
};

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Proto {
    #[doc = concat!("TCP.")]
    Tcp,
    #[doc = concat!("UDP.")]
    Udp,
    #[doc = concat!("Unix domain sockets.")]
    Unix,
}

impl Proto {
    /// `tcp`, `udp` or `unix`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Unix => "unix",
        }
    }
}

/// Where the socket table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SocketSource {
    /// Netlink sock_diag.
    SockDiag,
    /// /proc/net text tables (netlink unavailable); unix sockets then have no uid.
    ProcNet,
}

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Owner {
    #[doc = concat!("The owner's PID.")]
    pub pid: u32,
    /// Command name (`comm`).
    pub name: String,
    /// Identity string (`PID:START:BOOT[:INODE]`), usable with `tether kill` / `stop`.
    // `None` (an empty string in JSON) when the process exited before it could be identified.
    #[serde(serialize_with = "crate::identity::serde_string::or_empty")]
    #[schemars(with = "String")]
    pub identity: Option<ProcessIdentity>,
    /// The fds of this process found pointing at the socket (the scan stops reading a
    /// process's fds once it has seen every socket it looks for).
    pub fds: Vec<i32>,
}

/// One socket.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct SocketEntry {
    #[doc = concat!("The protocol.")]
    pub proto: Proto,
    /// `ipv4`, `ipv6` or `unix`.
    pub family: String,
    /// `LISTEN`, `ESTAB`, `UNCONN`, … as `ss` prints them.
    pub state: String,
    /// Local address (unix: the bound path, `@name` for abstract ones; absent when unbound).
    pub local_addr: Option<String>,
    #[doc = concat!("Local port (inet sockets).")]
    pub local_port: Option<u16>,
    #[doc = concat!("Remote address, when connected.")]
    pub remote_addr: Option<String>,
    #[doc = concat!("Remote port, when connected.")]
    pub remote_port: Option<u16>,
    /// Unix sockets: `stream`, `dgram` or `seqpacket`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_type: Option<String>,
    /// Unix sockets: the peer's inode, when connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_inode: Option<u64>,
    #[doc = concat!("The socket's inode, the key that ties it to the fds of its owners.")]
    pub inode: u64,
    /// Creator's uid (absent for unix sockets from /proc/net).
    pub uid: Option<u32>,
    /// Every process holding it, by PID.
    pub owners: Vec<Owner>,
}

/// What [`list`] lists: start from [`SocketQuery::default`] and set what differs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SocketQuery {
    /// Protocols to list; empty = tcp, udp and unix.
    pub protos: Vec<Proto>,
    /// Every state, not just listening (TCP `LISTEN`, UDP/unix-datagram unconnected).
    pub all_states: bool,
    /// Only this local port (unix sockets have none and are left out).
    pub port: Option<u16>,
    /// Only sockets held by one of these processes (empty: no filter).
    pub pids: Vec<u32>,
    /// Skip the owner scan.
    pub no_owners: bool,
}

/// What [`list`] found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SocketList {
    /// Where the socket table came from.
    pub source: SocketSource,
    /// Set when the fallback was used, saying why, or when the owners of other users' sockets
    /// are not visible to this user.
    pub note: Option<String>,
    /// The sockets, sorted by protocol, port, family, address and inode.
    pub sockets: Vec<SocketEntry>,
}

/// What [`who`] found: the sockets on a port and every process holding them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PortHolders {
    /// The port.
    pub port: u16,
    /// The protocols looked at.
    pub protos: Vec<Proto>,
    /// Where the socket table came from.
    pub source: SocketSource,
    /// As [`SocketList::note`].
    pub note: Option<String>,
    /// The listening (TCP) or bound (UDP) sockets on the port.
    pub sockets: Vec<SocketEntry>,
    /// Every process holding one of them, once each, by PID.
    pub owners: Vec<Owner>,
}

/// Parse a port number: decimal digits only, 1 to 65535. The one port parser of the crate
/// (`who`, `ports --port`, `stop --port`, readiness targets and URLs all use it).
pub fn parse_port(s: &str) -> Result<u16> {
    let bad = || Error::invalid(format!("bad port '{s}': expected a number from 1 to 65535"));
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match s.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(bad()),
    }
}

/// Parse `PORT`, `PORT/tcp` or `PORT/udp` (the port as [`parse_port`] takes it).
pub fn parse_port_spec(s: &str) -> Result<(u16, Option<Proto>)> {
    let (p, proto) = match s.split_once('/') {
        Some((p, "tcp")) => (p, Some(Proto::Tcp)),
        Some((p, "udp")) => (p, Some(Proto::Udp)),
        Some((_, other)) => {
            return Err(Error::invalid(format!(
                "unknown protocol '{other}' in '{s}': use PORT, PORT/tcp or PORT/udp"
            )))
        }
        None => (s, None),
    };
    Ok((parse_port(p)?, proto))
}

/// A socket table reader: sock_diag, or /proc/net when netlink is denied.
pub(crate) struct Table {
    diag: Option<SockDiag>,
    pub(crate) note: Option<String>,
}

impl Table {
    pub(crate) fn open() -> Table {
        match SockDiag::open() {
            Ok(d) => Table {
                diag: Some(d),
                note: None,
            },
            Err(e) => Table {
                diag: None,
                note: Some(format!(
                    "netlink sock_diag unavailable ({e}); read /proc/net instead"
                )),
            },
        }
    }

    pub(crate) fn source(&self) -> SocketSource {
        if self.diag.is_some() {
            SocketSource::SockDiag
        } else {
            SocketSource::ProcNet
        }
    }

    pub(crate) fn inet(&mut self, q: InetQuery) -> Result<Vec<InetSocket>> {
        let r = match &mut self.diag {
            Some(d) => d.inet(q),
            None => procfs::inet(q),
        };
        r.map_err(|e| Error::from_io("reading the socket table", &e))
    }

    pub(crate) fn unix(&mut self, states: u32) -> Result<Vec<UnixSocket>> {
        let r = match &mut self.diag {
            Some(d) => d.unix(states),
            None => procfs::unix(states),
        };
        r.map_err(|e| Error::from_io("reading the unix socket table", &e))
    }

    /// TCP/UDP sockets of both families.
    pub(crate) fn inet_all(
        &mut self,
        protos: &[Proto],
        all_states: bool,
        port: Option<u16>,
    ) -> Result<Vec<InetSocket>> {
        let mut out = Vec::new();
        for &p in protos {
            let (protocol, listen) = match p {
                Proto::Tcp => (libc::IPPROTO_TCP as u8, 1 << TCP_LISTEN),
                Proto::Udp => (libc::IPPROTO_UDP as u8, 1 << TCP_CLOSE),
                Proto::Unix => continue,
            };
            for v6 in [false, true] {
                out.extend(self.inet(InetQuery {
                    protocol,
                    v6,
                    states: if all_states { ALL_STATES } else { listen },
                    local_port: port,
                })?);
            }
        }
        Ok(out)
    }
}

fn fmt_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("::ffff:{v4}"),
            None => v6.to_string(),
        },
        v4 => v4.to_string(),
    }
}

pub(crate) fn inet_entry(s: &InetSocket) -> SocketEntry {
    let connected = !s.remote.0.is_unspecified() || s.remote.1 != 0;
    SocketEntry {
        proto: if s.protocol as i32 == libc::IPPROTO_TCP {
            Proto::Tcp
        } else {
            Proto::Udp
        },
        family: if s.v6 { "ipv6" } else { "ipv4" }.into(),
        state: sock_diag::state_name(s.state).into(),
        local_addr: Some(fmt_ip(s.local.0)),
        local_port: Some(s.local.1),
        remote_addr: connected.then(|| fmt_ip(s.remote.0)),
        remote_port: connected.then_some(s.remote.1),
        socket_type: None,
        peer_inode: None,
        inode: s.inode,
        uid: Some(s.uid),
        owners: Vec::new(),
    }
}

pub(crate) fn unix_entry(s: &UnixSocket) -> SocketEntry {
    let ty = match s.sock_type as i32 {
        libc::SOCK_STREAM => "stream",
        libc::SOCK_DGRAM => "dgram",
        libc::SOCK_SEQPACKET => "seqpacket",
        _ => "other",
    };
    SocketEntry {
        proto: Proto::Unix,
        family: "unix".into(),
        state: sock_diag::state_name(s.state).into(),
        local_addr: s.path.clone(),
        local_port: None,
        remote_addr: None,
        remote_port: None,
        socket_type: Some(ty.into()),
        peer_inode: s.peer_inode.filter(|&p| p != 0),
        inode: s.inode,
        uid: s.uid,
        owners: Vec::new(),
    }
}

/// Name and identity of each PID, read once per PID.
fn describe(
    pids: impl IntoIterator<Item = u32>,
) -> HashMap<u32, (String, Option<ProcessIdentity>)> {
    let mut r = ProcReader::new().ok();
    let mut out = HashMap::new();
    for pid in pids {
        if out.contains_key(&pid) {
            continue;
        }
        let name = r
            .as_mut()
            .and_then(|r| r.stat(pid).ok())
            .map(|s| s.comm)
            .unwrap_or_default();
        // A holder that exits between the scan and here has no identity.
        let identity = ProcessIdentity::of(pid).ok();
        out.insert(pid, (name, identity));
    }
    out
}

/// Fill in `owners` of every entry, scanning `scope`.
pub(crate) fn attach_owners(
    entries: &mut [SocketEntry],
    scope: Option<&[u32]>,
    stop: ScanStop,
) -> Result<()> {
    let wanted: HashSet<u64> = entries
        .iter()
        .map(|e| e.inode)
        .filter(|&i| i != 0)
        .collect();
    let map = sysfd::socket_owners(&wanted, scope, stop)
        .map_err(|e| Error::from_io("scanning /proc for socket owners", &e))?;
    let info = describe(map.values().flatten().map(|(pid, _)| *pid));
    for e in entries.iter_mut() {
        if let Some(holders) = map.get(&e.inode) {
            e.owners = holders
                .iter()
                .map(|(pid, fds)| {
                    let (name, identity) = info.get(pid).cloned().unwrap_or_default();
                    Owner {
                        pid: *pid,
                        name,
                        identity,
                        fds: fds.clone(),
                    }
                })
                .collect();
            e.owners.sort_by_key(|o| o.pid);
        }
    }
    Ok(())
}

/// List sockets with their owners. No match is an empty list, not an error.
pub fn list(q: &SocketQuery) -> Result<SocketList> {
    let protos = if q.protos.is_empty() {
        vec![Proto::Tcp, Proto::Udp, Proto::Unix]
    } else {
        q.protos.clone()
    };
    let mut t = Table::open();
    let mut entries: Vec<SocketEntry> = t
        .inet_all(&protos, q.all_states, q.port)?
        .iter()
        .map(inet_entry)
        .collect();
    if protos.contains(&Proto::Unix) && q.port.is_none() {
        let states = if q.all_states {
            ALL_STATES
        } else {
            (1 << TCP_LISTEN) | (1 << TCP_CLOSE)
        };
        entries.extend(t.unix(states)?.iter().map(unix_entry));
    }
    if !q.pids.is_empty() {
        let mut held: HashSet<u64> = HashSet::new();
        for &pid in &q.pids {
            let fds = sysfd::held_sockets(pid).map_err(|e| {
                Error::from_io(format_args!("reading the fds of process {pid}"), &e)
            })?;
            held.extend(fds.iter().map(|&(ino, _)| ino));
        }
        entries.retain(|e| held.contains(&e.inode));
    }
    let mut note = t.note.take();
    if !q.no_owners {
        attach_owners(&mut entries, None, ScanStop::AllHolders)?;
        note = join_notes(note, hidden_owners_note(&entries));
    }
    sort_entries(&mut entries);
    Ok(SocketList {
        source: t.source(),
        note,
        sockets: entries,
    })
}

/// Without privilege, the holders of another user's sockets cannot be seen (their /proc/PID/fd
/// is not ours to read): say so, rather than let an empty owner list read as "nobody".
fn hidden_owners_note(entries: &[SocketEntry]) -> Option<String> {
    let me = rustix::process::geteuid();
    if me.is_root() {
        return None;
    }
    let hidden = entries
        .iter()
        .filter(|e| e.owners.is_empty() && e.uid.is_some_and(|u| u != me.as_raw()))
        .count();
    match hidden {
        0 => None,
        1 => Some(
            "the owner of 1 socket of another user is not visible without privilege (shown as -)"
                .into(),
        ),
        n => Some(format!(
            "the owners of {n} sockets of other users are not visible without privilege (shown as -)"
        )),
    }
}

fn join_notes(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

fn sort_entries(entries: &mut [SocketEntry]) {
    entries.sort_by(|a, b| {
        (
            a.proto.as_str(),
            a.local_port,
            &a.family,
            &a.local_addr,
            a.inode,
        )
            .cmp(&(
                b.proto.as_str(),
                b.local_port,
                &b.family,
                &b.local_addr,
                b.inode,
            ))
    });
}

/// Who holds `port` (listening TCP, bound UDP; `proto` `None` = both): every holder of every
/// such socket. An empty `owners` means nobody (visible to us) holds it.
pub fn who(port: u16, proto: Option<Proto>) -> Result<PortHolders> {
    let protos = match proto {
        Some(p) => vec![p],
        None => vec![Proto::Tcp, Proto::Udp],
    };
    let mut t = Table::open();
    let mut sockets: Vec<SocketEntry> = t
        .inet_all(&protos, false, Some(port))?
        .iter()
        .map(inet_entry)
        .collect();
    attach_owners(&mut sockets, None, ScanStop::AllHolders)?;
    sort_entries(&mut sockets);
    let mut owners: Vec<Owner> = Vec::new();
    for s in &sockets {
        for o in &s.owners {
            match owners.iter_mut().find(|x| x.pid == o.pid) {
                Some(x) => x.fds.extend(&o.fds),
                None => owners.push(o.clone()),
            }
        }
    }
    owners.sort_by_key(|o| o.pid);
    let note = join_notes(t.note.take(), hidden_owners_note(&sockets));
    Ok(PortHolders {
        port,
        protos,
        source: t.source(),
        note,
        sockets,
        owners,
    })
}

/// Whether anything listens on (TCP) or is bound to (UDP) local `port`. One kernel-filtered
/// sock_diag query; no /proc scan.
pub fn port_in_use(port: u16, proto: Proto) -> Result<bool> {
    let mut t = Table::open();
    Ok(!t.inet_all(&[proto], false, Some(port))?.is_empty())
}

/// Whether a listening socket on `port` is held by one of `pids` (typically a process tree).
/// Only those processes are scanned, and the scan stops at the first holder.
/// `Ok(None)` when nothing listens on the port; `Ok(Some(false))` when something does but it is
/// held by none of `pids` (a stale or unrelated server).
pub fn port_held_by(port: u16, proto: Proto, pids: &[u32]) -> Result<Option<bool>> {
    let mut t = Table::open();
    let socks = t.inet_all(&[proto], false, Some(port))?;
    if socks.is_empty() {
        return Ok(None);
    }
    let wanted: HashSet<u64> = socks.iter().map(|s| s.inode).collect();
    let map = sysfd::socket_owners(&wanted, Some(pids), ScanStop::FirstHolder)
        .map_err(|e| Error::from_io("scanning socket owners", &e))?;
    Ok(Some(!map.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        assert_eq!(parse_port_spec("80").unwrap(), (80, None));
        assert_eq!(parse_port_spec("53/udp").unwrap(), (53, Some(Proto::Udp)));
        assert_eq!(
            parse_port_spec("8080/tcp").unwrap(),
            (8080, Some(Proto::Tcp))
        );
        assert_eq!(parse_port("65535").unwrap(), 65535);
        assert_eq!(parse_port("08080").unwrap(), 8080);
        for bad in [
            "",
            "0",
            "70000",
            "65536",
            "x",
            "80/sctp",
            "/tcp",
            "+80",
            "-1",
            " 80",
            "18085x",
            "80/TCP",
            "4294967376",
        ] {
            assert!(parse_port_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn proc_net_fallback_agrees_with_sock_diag() {
        let l = std::net::TcpListener::bind("[::1]:0")
            .or_else(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = l.local_addr().unwrap().port();
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let uport = u.local_addr().unwrap().port();
        let mut diag = Table::open();
        assert_eq!(diag.source(), SocketSource::SockDiag);
        let mut fallback = Table {
            diag: None,
            note: Some("test".into()),
        };
        assert_eq!(fallback.source(), SocketSource::ProcNet);
        for (proto, p) in [(Proto::Tcp, port), (Proto::Udp, uport)] {
            let a: Vec<SocketEntry> = diag
                .inet_all(&[proto], false, Some(p))
                .unwrap()
                .iter()
                .map(inet_entry)
                .collect();
            let b: Vec<SocketEntry> = fallback
                .inet_all(&[proto], false, Some(p))
                .unwrap()
                .iter()
                .map(inet_entry)
                .collect();
            assert_eq!(a.len(), 1, "{a:?}");
            assert_eq!(a, b);
        }
    }

    #[test]
    fn own_listener_is_listed_and_held_by_self() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let r = list(&SocketQuery {
            protos: vec![Proto::Tcp],
            port: Some(port),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.sockets.len(), 1);
        assert_eq!(r.sockets[0].local_addr.as_deref(), Some("127.0.0.1"));
        assert_eq!(r.sockets[0].state, "LISTEN");
        assert!(port_in_use(port, Proto::Tcp).unwrap());
        assert!(!port_in_use(port, Proto::Udp).unwrap_or(true));
        assert_eq!(
            port_held_by(port, Proto::Tcp, &[std::process::id()]).unwrap(),
            Some(true)
        );
        drop(l);
        // Not held by us any more. (A child another test forks at this moment may hold a copy
        // until its exec closes it, so the socket itself may linger for a moment.)
        assert_ne!(
            port_held_by(port, Proto::Tcp, &[std::process::id()]).unwrap(),
            Some(true)
        );
    }
}
