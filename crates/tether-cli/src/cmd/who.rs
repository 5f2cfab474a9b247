//! `tether who PORT[/tcp|/udp]`: the processes holding a port.

use tether::net::{parse_port_spec, who};
use tether::Result;
use tether_report::WhoReport;

use super::ports::endpoint;
use crate::exit;
use crate::output::{escape, print_report, Ctx, Table};

pub const HELP: &str = "Finds the listening TCP socket(s) and bound UDP socket(s) on the port \
(both protocols unless /tcp or /udp is given) and every process holding them, with the identity \
strings that `tether kill` and `tether stop` accept.\n\n\
PORT is N, N/tcp or N/udp, N from 1 to 65535.\n\n\
Exit codes: 0 at least one owner found; 1 nobody (visible) holds the port; 2 usage error.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// PORT, PORT/tcp or PORT/udp.
    pub port: String,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let (port, proto) = parse_port_spec(&a.port)?;
    let r = who(port, proto)?;
    if let Some(n) = &r.note {
        diag!("tether: {n}");
    }
    let code = if r.owners.is_empty() {
        exit::FAILED
    } else {
        exit::OK
    };
    if ctx.json {
        print_report(&WhoReport::from(&r));
    } else if !r.owners.is_empty() {
        let mut t = Table::new(
            vec!["PID", "NAME", "PROTO", "LOCAL", "FDS", "IDENTITY"],
            vec![true, false, false, false, false, false],
        );
        for s in &r.sockets {
            for o in &s.owners {
                t.push(vec![
                    o.pid.to_string(),
                    escape(&o.name).into_owned(),
                    format!(
                        "{}{}",
                        s.proto.as_str(),
                        if s.family == "ipv6" { "6" } else { "" }
                    ),
                    endpoint(s.local_addr.as_deref(), s.local_port),
                    o.fds
                        .iter()
                        .map(i32::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    o.identity
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                ]);
            }
        }
        t.print();
    }
    if r.owners.is_empty() {
        if r.sockets.is_empty() {
            diag!("tether: nobody holds port {}", a.port);
        } else {
            diag!(
                "tether: port {} is bound, but no process visible to this user holds it",
                a.port
            );
        }
    }
    Ok(code)
}
