//! Socket tables through netlink `sock_diag` (inet and unix), with a /proc/net fallback.
//!
//! Hand-written over a rustix netlink socket rather than with `netlink-packet-sock-diag`: the
//! requests are two fixed C structs, the crate family pins its own `netlink-packet-core` versions,
//! and it offers no typed in-kernel bytecode filter, which is what makes a one-port lookup cheap
//! (the kernel skips every other socket, as `ss 'sport = :N'` does). About 150 lines, tested below.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustix::net::{netlink, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const INET_DIAG_REQ_BYTECODE: u16 = 1;
const INET_DIAG_BC_S_EQ: u8 = 11;
const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_PEER: u32 = 0x04;
const UDIAG_SHOW_UID: u32 = 0x40;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_UID: u16 = 7;

/// TCP state numbers (include/net/tcp_states.h); UDP and unix sockets reuse them.
pub const TCP_ESTABLISHED: u8 = 1;
/// `TCP_CLOSE`: for UDP and unix datagram sockets, "unconnected".
pub const TCP_CLOSE: u8 = 7;
/// `TCP_LISTEN`.
pub const TCP_LISTEN: u8 = 10;
/// Every state bit the kernel knows for `states` masks.
pub const ALL_STATES: u32 = 0xfff;

/// The kernel's name for a TCP state, as `ss` prints it.
pub fn state_name(state: u8) -> &'static str {
    match state {
        1 => "ESTAB",
        2 => "SYN-SENT",
        3 => "SYN-RECV",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "UNCONN",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW-SYN-RECV",
        _ => "UNKNOWN",
    }
}

/// An IPv4 or IPv6 socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetSocket {
    /// `libc::IPPROTO_TCP` or `libc::IPPROTO_UDP`.
    pub protocol: u8,
    pub v6: bool,
    pub state: u8,
    pub local: (IpAddr, u16),
    pub remote: (IpAddr, u16),
    pub uid: u32,
    pub inode: u64,
}

/// A Unix-domain socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    /// `libc::SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    pub sock_type: u8,
    pub state: u8,
    pub inode: u64,
    /// The bound path; abstract names start with `@`.
    pub path: Option<String>,
    pub peer_inode: Option<u64>,
    pub uid: Option<u32>,
}

/// Which inet sockets to ask for.
#[derive(Debug, Clone, Copy)]
pub struct InetQuery {
    pub protocol: u8,
    pub v6: bool,
    /// Bit mask of `1 << state`.
    pub states: u32,
    /// Only sockets whose local port is this (filtered in the kernel).
    pub local_port: Option<u16>,
}

/// A netlink sock_diag socket. `open` fails when the kernel or a sandbox denies netlink.
pub struct SockDiag {
    fd: std::os::fd::OwnedFd,
    buf: Vec<u8>,
    seq: u32,
}

fn put_u16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_ne_bytes());
}
fn put_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_ne_bytes());
}
fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl SockDiag {
    /// Open a `NETLINK_SOCK_DIAG` socket.
    pub fn open() -> io::Result<Self> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(netlink::SOCK_DIAG),
        )?;
        Ok(SockDiag {
            fd,
            buf: vec![0; 32 * 1024],
            seq: 0,
        })
    }

    fn request(&mut self, payload: &[u8]) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut msg = Vec::with_capacity(16 + payload.len());
        put_u32(&mut msg, (16 + payload.len()) as u32);
        put_u16(&mut msg, SOCK_DIAG_BY_FAMILY);
        put_u16(&mut msg, NLM_F_REQUEST | NLM_F_DUMP);
        put_u32(&mut msg, self.seq);
        put_u32(&mut msg, 0);
        msg.extend_from_slice(payload);
        rustix::net::sendto(
            &self.fd,
            &msg,
            SendFlags::empty(),
            &netlink::SocketAddrNetlink::new(0, 0),
        )?;
        Ok(self.seq)
    }

    /// Read the dump answering `seq`, calling `each` with every message payload.
    fn read_dump(&mut self, seq: u32, mut each: impl FnMut(&[u8])) -> io::Result<()> {
        loop {
            let n = loop {
                match rustix::net::recv(&self.fd, &mut self.buf[..], RecvFlags::empty()) {
                    Ok((_, n)) => break n,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            let mut off = 0;
            while off + 16 <= n {
                let b = &self.buf[..n];
                let len = u32_at(b, off) as usize;
                let ty = u16_at(b, off + 4);
                let mseq = u32_at(b, off + 8);
                if len < 16 || off + len > n {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink message",
                    ));
                }
                if mseq == seq {
                    match ty {
                        NLMSG_DONE => return Ok(()),
                        NLMSG_ERROR => {
                            let errno = u32_at(b, off + 16) as i32;
                            if errno == 0 {
                                return Ok(());
                            }
                            return Err(io::Error::from_raw_os_error(-errno));
                        }
                        SOCK_DIAG_BY_FAMILY => each(&b[off + 16..off + len]),
                        _ => {}
                    }
                }
                off += (len + 3) & !3;
            }
        }
    }

    /// Dump inet sockets matching `q`.
    pub fn inet(&mut self, q: InetQuery) -> io::Result<Vec<InetSocket>> {
        let mut p = Vec::with_capacity(80);
        p.push(if q.v6 {
            libc::AF_INET6 as u8
        } else {
            libc::AF_INET as u8
        });
        p.push(q.protocol);
        p.push(0); // no extensions
        p.push(0);
        put_u32(&mut p, q.states);
        p.extend_from_slice(&[0u8; 48]); // inet_diag_sockid: wildcard
        if let Some(port) = q.local_port {
            // Two ops: S_EQ jumps 8 bytes on a match (to the end: accept) and 12 on a miss
            // (past the end: reject); the second op carries the port in its `no` field.
            put_u16(&mut p, 4 + 8);
            put_u16(&mut p, INET_DIAG_REQ_BYTECODE);
            p.extend_from_slice(&[INET_DIAG_BC_S_EQ, 8]);
            put_u16(&mut p, 12);
            p.extend_from_slice(&[0, 0]);
            put_u16(&mut p, port);
        }
        let seq = self.request(&p)?;
        let mut out = Vec::new();
        let (proto, v6) = (q.protocol, q.v6);
        self.read_dump(seq, |m| {
            if let Some(s) = parse_inet(m, proto, v6) {
                out.push(s);
            }
        })?;
        Ok(out)
    }

    /// Dump unix sockets in the `states` mask.
    pub fn unix(&mut self, states: u32) -> io::Result<Vec<UnixSocket>> {
        let mut p = Vec::with_capacity(24);
        p.push(libc::AF_UNIX as u8);
        p.push(0);
        put_u16(&mut p, 0);
        put_u32(&mut p, states);
        put_u32(&mut p, 0); // any inode
        put_u32(&mut p, UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_UID);
        put_u32(&mut p, u32::MAX); // cookie: INET_DIAG_NOCOOKIE
        put_u32(&mut p, u32::MAX);
        let seq = self.request(&p)?;
        let mut out = Vec::new();
        self.read_dump(seq, |m| {
            if let Some(s) = parse_unix(m) {
                out.push(s);
            }
        })?;
        Ok(out)
    }
}

fn addr_of(b: &[u8], v6: bool) -> IpAddr {
    if v6 {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[..16]);
        IpAddr::V6(Ipv6Addr::from(a))
    } else {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

/// Parse one `inet_diag_msg`.
fn parse_inet(m: &[u8], protocol: u8, v6: bool) -> Option<InetSocket> {
    if m.len() < 72 {
        return None;
    }
    let id = &m[4..52];
    let sport = u16::from_be_bytes([id[0], id[1]]);
    let dport = u16::from_be_bytes([id[2], id[3]]);
    Some(InetSocket {
        protocol,
        v6,
        state: m[1],
        local: (addr_of(&id[4..20], v6), sport),
        remote: (addr_of(&id[20..36], v6), dport),
        uid: u32_at(m, 64),
        inode: u32_at(m, 68) as u64,
    })
}

/// Parse one `unix_diag_msg` and its attributes.
fn parse_unix(m: &[u8]) -> Option<UnixSocket> {
    if m.len() < 16 {
        return None;
    }
    let mut s = UnixSocket {
        sock_type: m[1],
        state: m[2],
        inode: u32_at(m, 4) as u64,
        path: None,
        peer_inode: None,
        uid: None,
    };
    let mut off = 16;
    while off + 4 <= m.len() {
        let len = u16_at(m, off) as usize;
        let ty = u16_at(m, off + 2);
        if len < 4 || off + len > m.len() {
            break;
        }
        let data = &m[off + 4..off + len];
        match ty {
            UNIX_DIAG_NAME if !data.is_empty() => {
                s.path = Some(if data[0] == 0 {
                    format!("@{}", String::from_utf8_lossy(&data[1..]))
                } else {
                    let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
                    String::from_utf8_lossy(&data[..end]).into_owned()
                });
            }
            UNIX_DIAG_PEER if data.len() >= 4 => s.peer_inode = Some(u32_at(data, 0) as u64),
            UNIX_DIAG_UID if data.len() >= 4 => s.uid = Some(u32_at(data, 0)),
            _ => {}
        }
        off += (len + 3) & !3;
    }
    Some(s)
}

/// The /proc/net fallback, for when netlink is unavailable (some sandboxes deny it).
pub mod procfs {
    use super::*;

    fn hex_addr(s: &str, v6: bool) -> Option<(IpAddr, u16)> {
        let (a, p) = s.split_once(':')?;
        let port = u16::from_str_radix(p, 16).ok()?;
        let ip = if v6 {
            if a.len() != 32 {
                return None;
            }
            let mut b = [0u8; 16];
            // Four 32-bit words, each printed in host byte order.
            for w in 0..4 {
                let word = u32::from_str_radix(&a[w * 8..w * 8 + 8], 16).ok()?;
                b[w * 4..w * 4 + 4].copy_from_slice(&word.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(b))
        } else {
            let word = u32::from_str_radix(a, 16).ok()?;
            let b = word.to_ne_bytes();
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        };
        Some((ip, port))
    }

    /// Parse the text of `/proc/net/{tcp,tcp6,udp,udp6}`.
    pub fn parse_inet(text: &str, protocol: u8, v6: bool) -> Vec<InetSocket> {
        text.lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_ascii_whitespace().collect();
                if f.len() < 10 {
                    return None;
                }
                Some(InetSocket {
                    protocol,
                    v6,
                    local: hex_addr(f[1], v6)?,
                    remote: hex_addr(f[2], v6)?,
                    state: u8::from_str_radix(f[3], 16).ok()?,
                    uid: f[7].parse().ok()?,
                    inode: f[9].parse().ok()?,
                })
            })
            .collect()
    }

    /// Read the inet table of one protocol and family.
    pub fn inet(q: InetQuery) -> io::Result<Vec<InetSocket>> {
        let name = match (q.protocol as i32, q.v6) {
            (libc::IPPROTO_TCP, false) => "tcp",
            (libc::IPPROTO_TCP, true) => "tcp6",
            (libc::IPPROTO_UDP, false) => "udp",
            _ => "udp6",
        };
        let text = match std::fs::read_to_string(format!("/proc/net/{name}")) {
            Ok(t) => t,
            // No IPv6 in this kernel: no IPv6 sockets.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(parse_inet(&text, q.protocol, q.v6)
            .into_iter()
            .filter(|s| q.states & (1 << s.state) != 0)
            .filter(|s| q.local_port.is_none_or(|p| p == s.local.1))
            .collect())
    }

    /// Parse the text of `/proc/net/unix` (no uid there).
    pub fn parse_unix(text: &str) -> Vec<UnixSocket> {
        text.lines()
            .skip(1)
            .filter_map(|l| {
                // The inode is space-padded, so split on runs of blanks; a path with
                // several blanks in a row comes back with single ones (fallback only).
                let f: Vec<&str> = l.split_ascii_whitespace().collect();
                if f.len() < 7 {
                    return None;
                }
                let sock_type = u8::from_str_radix(f[4], 16).ok()?;
                let st = u8::from_str_radix(f[5], 16).ok()?;
                // /proc/net/unix prints socket states (SS_*), not TCP ones.
                let flags = u32::from_str_radix(f[3], 16).ok()?;
                let state = if flags & (1 << 16) != 0 {
                    TCP_LISTEN
                } else if st == 3 {
                    TCP_ESTABLISHED
                } else {
                    TCP_CLOSE
                };
                Some(UnixSocket {
                    sock_type,
                    state,
                    inode: f[6].parse().ok()?,
                    path: (f.len() > 7).then(|| f[7..].join(" ")),
                    peer_inode: None,
                    uid: None,
                })
            })
            .collect()
    }

    /// Read `/proc/net/unix`, keeping sockets in the `states` mask.
    pub fn unix(states: u32) -> io::Result<Vec<UnixSocket>> {
        let text = std::fs::read_to_string("/proc/net/unix")?;
        Ok(parse_unix(&text)
            .into_iter()
            .filter(|s| states & (1 << s.state) != 0)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn listening(port: u16) -> InetQuery {
        InetQuery {
            protocol: libc::IPPROTO_TCP as u8,
            v6: false,
            states: 1 << TCP_LISTEN,
            local_port: Some(port),
        }
    }

    #[test]
    fn finds_own_listener_by_port_with_inode() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let ino = std::fs::metadata(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&l)
        ))
        .unwrap()
        .ino();
        let mut d = SockDiag::open().unwrap();
        let got = d.inet(listening(port)).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].inode, ino);
        assert_eq!(got[0].local, ("127.0.0.1".parse().unwrap(), port));
        assert_eq!(got[0].state, TCP_LISTEN);
        // The kernel filter really filters: a whole dump has it too, a wrong port does not.
        let all = d
            .inet(InetQuery {
                local_port: None,
                ..listening(port)
            })
            .unwrap();
        assert!(all.iter().any(|s| s.inode == ino));
        let other = if port == 1 { 2 } else { port - 1 };
        assert!(d
            .inet(listening(other))
            .unwrap()
            .iter()
            .all(|s| s.inode != ino));
        // The /proc/net fallback agrees.
        let fb = procfs::inet(listening(port)).unwrap();
        assert_eq!(fb.len(), 1);
        assert_eq!(fb[0], got[0]);
    }

    #[test]
    fn finds_unix_listener_with_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let ino = std::fs::metadata(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&_l)
        ))
        .unwrap()
        .ino();
        let mut d = SockDiag::open().unwrap();
        let all = d.unix(1 << TCP_LISTEN).unwrap();
        let me = all
            .iter()
            .find(|s| s.inode == ino)
            .expect("own unix listener");
        assert_eq!(me.path.as_deref(), Some(path.to_str().unwrap()));
        assert_eq!(me.sock_type, libc::SOCK_STREAM as u8);
        let fb = procfs::unix(1 << TCP_LISTEN).unwrap();
        let f = fb
            .iter()
            .find(|s| s.inode == ino)
            .expect("in /proc/net/unix");
        assert_eq!(f.path, me.path);
    }

    #[test]
    fn proc_net_v6_address_parse() {
        let text = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n";
        let s = procfs::parse_inet(text, 6, true);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].local, ("::1".parse().unwrap(), 8080));
        assert_eq!((s[0].state, s[0].inode), (TCP_LISTEN, 12345));
    }
}
