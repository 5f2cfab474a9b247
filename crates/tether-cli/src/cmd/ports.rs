//! `tether ports`: sockets and every process holding them.

use tether::net::{list, parse_port_spec, Proto, SocketEntry, SocketQuery};
use tether::{Error, Result};
use tether_report::PortsReport;

use crate::output::{escape, print_report, Ctx, Table};

pub const HELP: &str = "Lists listening TCP sockets, bound UDP sockets and listening/unconnected \
Unix sockets (all states with --all-states), IPv4 and IPv6, from netlink sock_diag (from /proc/net \
when netlink is unavailable, with a note saying so). A socket shared by several processes \
(pre-fork workers) lists every holder.\n\n\
--port takes N, N/tcp or N/udp (N from 1 to 65535); --pid takes a comma-separated list of PIDs or \
identity strings (repeatable) and keeps the sockets one of them holds.\n\n\
Exit codes: 0 success, also when nothing matches (an empty list); 1 the socket table could not be \
read, or a --pid process does not exist or its fds are not ours to read; 2 usage error.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// TCP sockets.
    #[arg(long)]
    pub tcp: bool,
    /// UDP sockets.
    #[arg(long)]
    pub udp: bool,
    /// Unix-domain sockets.
    #[arg(long)]
    pub unix: bool,
    /// Every state (established, time-wait, …), not just listening/unconnected.
    #[arg(long)]
    pub all_states: bool,
    /// Only this local port: N, N/tcp or N/udp.
    #[arg(long, value_name = "N[/PROTO]")]
    pub port: Option<String>,
    /// Only sockets held by one of these processes (PIDs or identity strings).
    #[arg(long = "pid", value_name = "PID,...", value_delimiter = ',')]
    pub pids: Vec<String>,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let mut protos = Vec::new();
    if a.tcp {
        protos.push(Proto::Tcp);
    }
    if a.udp {
        protos.push(Proto::Udp);
    }
    if a.unix {
        protos.push(Proto::Unix);
    }
    let port = match a.port.as_deref().map(parse_port_spec).transpose()? {
        Some((port, Some(p))) => {
            if !protos.is_empty() && !protos.contains(&p) {
                return Err(Error::invalid(format!(
                    "--port {} names {} but the protocol options ask for {}",
                    a.port.as_deref().unwrap_or_default(),
                    p.as_str(),
                    protos
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                )));
            }
            protos = vec![p];
            Some(port)
        }
        Some((port, None)) => Some(port),
        None => None,
    };
    // Every PID is checked before the socket table is read.
    let pids = a
        .pids
        .iter()
        .map(|p| super::info::open(p).map(|p| p.pid()))
        .collect::<Result<Vec<u32>>>()?;
    let mut q = SocketQuery::default();
    q.protos = protos;
    q.all_states = a.all_states;
    q.port = port;
    q.pids = pids;
    let r = list(&q)?;
    if let Some(n) = &r.note {
        diag!("tether: {n}");
    }
    if ctx.json {
        print_report(&PortsReport::from(&r));
        return Ok(0);
    }
    print_table(&r.sockets);
    Ok(0)
}

/// `addr:port` with brackets for IPv6, or the unix path.
pub fn endpoint(addr: Option<&str>, port: Option<u16>) -> String {
    match (addr, port) {
        (Some(a), Some(p)) if a.contains(':') => format!("[{a}]:{p}"),
        (Some(a), Some(p)) => format!("{a}:{p}"),
        (Some(a), None) => escape(a).into_owned(),
        (None, _) => "*".to_string(),
    }
}

/// `pid/name` of every owner, comma-separated.
pub fn owners_cell(s: &SocketEntry) -> String {
    if s.owners.is_empty() {
        return "-".into();
    }
    s.owners
        .iter()
        .map(|o| format!("{}/{}", o.pid, escape(&o.name)))
        .collect::<Vec<_>>()
        .join(",")
}

fn print_table(sockets: &[SocketEntry]) {
    let mut t = Table::new(
        vec!["PROTO", "STATE", "LOCAL", "REMOTE", "INODE", "OWNERS"],
        vec![false, false, false, false, true, false],
    );
    for s in sockets {
        let proto = match (s.proto, s.family.as_str()) {
            (Proto::Unix, _) => format!("unix/{}", s.socket_type.as_deref().unwrap_or("?")),
            (p, "ipv6") => format!("{}6", p.as_str()),
            (p, _) => p.as_str().to_string(),
        };
        t.push(vec![
            proto,
            s.state.clone(),
            endpoint(s.local_addr.as_deref(), s.local_port),
            match (&s.remote_addr, s.peer_inode) {
                (Some(_), _) => endpoint(s.remote_addr.as_deref(), s.remote_port),
                (None, Some(p)) => format!("peer:{p}"),
                _ => "*".into(),
            },
            s.inode.to_string(),
            owners_cell(s),
        ]);
    }
    t.print();
}
