//! Sockets and their owners: `tether.ports-query/v1` → `tether.ports/v1`, a port →
//! `tether.who/v1`.

use std::ffi::c_char;

use tether::net::{list, parse_port_spec, who};
use tether_report::query::PortsQuery;
use tether_report::{PortsReport, WhoReport};

use crate::error::call_string;
use crate::inspect::running;
use crate::json::{query, report};
use crate::strings::arg;

/// List sockets and every process holding each. `query_json` is a `tether.ports-query/v1`
/// document: `{"schema":"tether.ports-query/v1","protos":["tcp"],"port":8080}` (optional:
/// protos tcp/udp/unix, all_states, port 1-65535, pids as PID or identity strings, each of
/// which must name a running process, no_owners). `*out` receives a `tether.ports/v1`
/// document; no match is an empty list.
///
/// # Safety
/// `query_json` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_ports(query_json: *const c_char, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let q: PortsQuery = query(query_json)?;
            let (mut q, targets) = q.to_query()?;
            // Every process is checked before the socket table is read.
            for t in &targets {
                q.pids.push(running(t)?);
            }
            report(&PortsReport::from(&list(&q)?))
        })
    }
}

/// Who holds a port: `port` is `"N"`, `"N/tcp"` or `"N/udp"` (N from 1 to 65535; both
/// protocols without a suffix). `*out` receives a `tether.who/v1` document; nobody holding the
/// port is an empty `owners` list, not an error.
///
/// # Safety
/// `port` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_who(port: *const c_char, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let (port, proto) = parse_port_spec(arg(port, "port")?)?;
            report(&WhoReport::from(&who(port, proto)?))
        })
    }
}
