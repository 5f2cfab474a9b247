//! Sockets and their owners (netlink sock_diag), and the open files of a process.
//!
//! ```
//! # let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! # let port = listener.local_addr().unwrap().port();
//! let who = tether::net::who(port, None).unwrap();
//! for o in &who.owners {
//!     println!("{} {} {:?}", o.pid, o.name, o.identity);
//! }
//! assert!(who.owners.iter().any(|o| o.pid == std::process::id()));
//! ```

mod fds;
mod sockets;
mod stop;

pub use fds::{fds, flag_names, kind_of, FdInfo, FdKind, OpenFiles};
pub use sockets::{
    list, parse_port, parse_port_spec, port_held_by, port_in_use, who, Owner, PortHolders, Proto,
    SocketEntry, SocketList, SocketQuery, SocketSource,
};
pub use stop::{stop_port, StopPortOutcome};
