//! tether: process primitives that get identity, containment and waiting right.
//!
//! - [`inspect`]: fast process snapshots and filters;
//! - [`identity`]: tokens that survive PID reuse;
//! - [`signal`]: signal names, safety rails, identity-checked sending through pidfds;
//! - [`net`]: sockets and their owners, open files;
//! - [`ready`]: readiness waits (ports, HTTP, files, log lines, exits).

pub mod duration;
pub mod error;
pub mod identity;
pub mod inspect;
pub mod net;
pub mod ready;
pub mod report;
pub mod signal;
pub mod size;
pub mod sys;

pub use error::{Error, ErrorKind, Result};
pub use identity::{IdentityCheck, ProcessIdentity};
