//! `host:port`: a TCP connect succeeds.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{is_local, plain_io, Check, Cx, Next, Pacer, Status};
use crate::net::{port_in_use, Proto};

/// Connects time out after this long (or at the deadline, whichever is first).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct TcpCheck {
    host: String,
    port: u16,
    /// The last check only looked at the local socket table (nothing listened).
    cheap: bool,
    real: Pacer,
}

impl TcpCheck {
    pub fn new(host: &str, port: u16) -> Self {
        TcpCheck {
            host: host.to_string(),
            port,
            cheap: false,
            real: Pacer::new(),
        }
    }
}

/// Resolve `host:port`; names are resolved again on each attempt (DNS may come up late).
pub(crate) fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    match (host, port).to_socket_addrs() {
        Ok(a) => {
            let v: Vec<SocketAddr> = a.collect();
            if v.is_empty() {
                Err(format!("{host} resolves to no address"))
            } else {
                Ok(v)
            }
        }
        Err(e) => Err(format!("resolving {host}: {}", plain_io(&e))),
    }
}

/// For a local target, whether anything listens on the port (one sock_diag query, which the
/// server does not see). `None` when the target is not local or the table cannot be read.
pub(crate) fn local_listening(addrs: &[SocketAddr], port: u16) -> Option<bool> {
    if !addrs.iter().all(|a| is_local(a.ip())) {
        return None;
    }
    port_in_use(port, Proto::Tcp).ok()
}

/// Try each address in turn; the error of the last one is the reason.
pub(crate) fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, String> {
    let mut last = String::new();
    for a in addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("{a}: {}", plain_io(&e)),
        }
    }
    Err(last)
}

impl Check for TcpCheck {
    fn check(&mut self, cx: &Cx) -> Status {
        self.cheap = false;
        let addrs = match resolve(&self.host, self.port) {
            Ok(a) => a,
            Err(e) => return Status::NotReady(e),
        };
        // While nothing listens locally, checks stay on the fast cheap schedule; real connects
        // go on at their own backoff (see `Pacer`).
        self.cheap = local_listening(&addrs, self.port) == Some(false);
        if self.cheap && !self.real.due() {
            return Status::NotReady(format!("nothing listens on port {}", self.port));
        }
        self.real.attempted(cx.opts.interval);
        match connect_any(&addrs, cx.attempt_timeout(CONNECT_TIMEOUT)) {
            Ok(_) => Status::Ready,
            Err(e) => Status::NotReady(e),
        }
    }

    fn next(&self, cx: &Cx) -> Next {
        Next::network(self.cheap, cx)
    }
}
