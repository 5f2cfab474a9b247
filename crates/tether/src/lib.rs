//! tether: process primitives that get identity, containment and waiting right.
//!
//! - [`inspect`]: fast process snapshots and filters;
//! - [`process`]: [`Process`], one handle for one process (a pidfd and its verified identity);
//! - [`identity`]: tokens that survive PID reuse;
//! - [`signal`]: signal names, safety rails, identity-checked sending through pidfds;
//! - [`net`]: sockets and their owners, open files;
//! - [`ready`]: readiness waits (ports, HTTP, files, log lines, exits);
//! - [`command`]: starting a command as a contained tree ([`Command`] → [`Child`]): the one way
//!   to start a process, with bounded output capture and a time limit;
//! - [`contain`]: containment (cgroup leaf, or session + subreaper, held by a watchdog), trees;
//! - [`wait`]: event-driven waiting on any process through pidfds;
//! - [`terminate`]: ending a whole tree (hold, signal, grace, escalate);
//! - [`run`]: run with a time limit, the GNU `timeout` contract;
//! - [`pidfile`]: PID files that cannot go stale silently (identity, lock, legacy files);
//! - [`fs`]: atomic file replacement.
//! - [`retry`]: run a command again until it succeeds (backoff, exit-code policy, deadline).
//! - [`init`]: a container init (PID 1) or subreaper: signals passed on, zombies reaped.
//! - [`limits`]: process limits a caller may want to raise first (open files).
//!
//! The library returns typed values and never prints or exits; the JSON reports of the command
//! line tool (and of the C ABI and bindings) live one layer up, in the `tether-report` crate.

#![warn(missing_debug_implementations)]

pub mod command;
pub mod contain;
pub mod duration;
pub mod error;
pub mod fs;
pub mod identity;
pub mod init;
pub mod inspect;
pub mod limits;
pub mod net;
pub mod pidfile;
pub mod process;
pub mod ready;
pub mod retry;
pub mod run;
pub mod signal;
pub mod size;
mod sys;
pub mod terminate;
#[cfg(test)]
mod testing;
pub mod wait;

pub use command::{Child, Command, Output, Stdio};
pub use error::{Error, ErrorKind, Result};
pub use identity::{IdentityCheck, ProcessIdentity};
pub use process::{Process, ProcessRef};
