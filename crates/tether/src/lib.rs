//! tether: process primitives that get identity, containment and waiting right.
//!
//! - [`inspect`]: fast process snapshots and filters;
//! - [`identity`]: tokens that survive PID reuse;
//! - [`signal`]: signal names, safety rails, identity-checked sending through pidfds;
//! - [`net`]: sockets and their owners, open files;
//! - [`ready`]: readiness waits (ports, HTTP, files, log lines, exits);
//! - [`contain`]: contained spawn (cgroup leaf, or session + subreaper) with a watchdog;
//! - [`wait`]: event-driven waiting on any process through pidfds;
//! - [`terminate`]: ending a whole tree (hold, signal, grace, escalate);
//! - [`run`]: run with a time limit, the GNU `timeout` contract;
//! - [`pidfile`]: PID files that cannot go stale silently (identity, lock, legacy files);
//! - [`fs`]: atomic file replacement.

pub mod contain;
pub mod duration;
pub mod error;
pub mod fs;
pub mod identity;
pub mod inspect;
pub mod net;
pub mod pidfile;
pub mod ready;
pub mod report;
pub mod run;
pub mod signal;
pub mod size;
pub mod sys;
pub mod terminate;
pub mod wait;

pub use error::{Error, ErrorKind, Result};
pub use identity::{IdentityCheck, ProcessIdentity};
