//! `tether stop --port N[/PROTO]`: stop the owner(s) of a port and their trees.

use tether::net::{parse_port_spec, stop_port};
use tether::terminate::StopOptions;
use tether::Result;
use tether_report::StopPortReport;

use crate::exit;
use crate::output::{escape, print_report, Ctx};

/// Run `stop --port` with the options of `stop`.
pub fn run(spec: &str, opts: &StopOptions, ctx: &Ctx) -> Result<i32> {
    let (port, proto) = parse_port_spec(spec)?;
    let r = stop_port(port, proto, opts)?;
    let ok = r.stops.iter().all(|s| s.remaining.is_empty());
    if ctx.json {
        print_report(&StopPortReport::from(&r));
    } else {
        let owners: Vec<String> = r
            .owners
            .iter()
            .map(|o| format!("{}/{}", o.pid, escape(&o.name)))
            .collect();
        outln!("port {spec} was held by {}", owners.join(", "));
        for s in &r.stops {
            super::stop::print_human(s);
        }
        if !r.port_free {
            diag!("tether: port {spec} is still in use");
        }
    }
    Ok(if ok { exit::OK } else { exit::FAILED })
}
