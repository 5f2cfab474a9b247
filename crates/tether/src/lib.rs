//! tether: process primitives that get identity, containment and waiting right.
//!
//! - [`inspect`]: fast process snapshots and filters;
//! - [`identity`]: tokens that survive PID reuse;
//! - [`signal`]: signal names, safety rails, identity-checked sending through pidfds.

pub mod duration;
pub mod error;
pub mod identity;
pub mod inspect;
pub mod report;
pub mod signal;
pub mod size;
pub mod sys;

pub use error::{Error, ErrorKind, Result};
pub use identity::{IdentityCheck, ProcessIdentity};
