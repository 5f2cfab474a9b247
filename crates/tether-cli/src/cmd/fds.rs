//! `tether fds PID|IDENTITY`: the open files of a process.

use tether::net::{fds, FdKind};
use tether::Result;
use tether_report::FdsReport;

use super::ports::endpoint;
use crate::output::{escape, print_report, Ctx, Table};

pub const HELP: &str = "Lists every open fd with its kind, target (path, socket, pipe, anonymous \
inode), file position, open flags and mount id as /proc/PID/fdinfo shows them; sockets show their \
protocol, state and addresses when the socket tables know them. With an identity string, the \
process is verified first.\n\n\
Exit codes: 0 success; 1 no such process, identity mismatch, or permission denied; 2 usage error.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A PID, or an identity string (refused when the PID now belongs to another process).
    pub target: String,
    /// Only fds of this kind.
    #[arg(long, value_parser = ["file", "socket", "pipe", "anon", "other"])]
    pub kind: Option<String>,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let kind: Option<FdKind> = a.kind.as_deref().map(str::parse).transpose()?;
    let r = fds(&super::info::open(&a.target)?, kind)?;
    if ctx.json {
        print_report(&FdsReport::from(&r));
        return Ok(0);
    }
    let mut t = Table::new(
        vec!["FD", "KIND", "POS", "FLAGS", "TARGET"],
        vec![true, false, true, false, false],
    );
    for f in &r.fds {
        let target = match &f.socket {
            Some(s) => {
                let mut d = format!(
                    "{} {} {}",
                    s.proto.as_str(),
                    s.state,
                    endpoint(s.local_addr.as_deref(), s.local_port)
                );
                if s.remote_addr.is_some() {
                    d.push_str(" -> ");
                    d.push_str(&endpoint(s.remote_addr.as_deref(), s.remote_port));
                }
                format!("{d} ({})", escape(&f.target))
            }
            None => escape(&f.target).into_owned(),
        };
        t.push(vec![
            f.fd.to_string(),
            format!("{:?}", f.kind).to_lowercase(),
            f.pos.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            f.flag_names
                .iter()
                .map(|n| n.trim_start_matches("O_").to_lowercase())
                .collect::<Vec<_>>()
                .join(","),
            target,
        ]);
    }
    t.print();
    Ok(0)
}
