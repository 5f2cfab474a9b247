//! Process inspection: snapshots, single lookups, filters, trees and CPU sampling.
//!
//! ```
//! use tether::inspect::{snapshot, Field, FieldSet, Filter, NameMatch, Query};
//! let mut filter = Filter::default();
//! filter.name = Some(NameMatch::Exact("sshd".into()));
//! let q = Query::new(FieldSet::of(&[Field::Name, Field::Cmdline]), filter);
//! for p in snapshot(&q).unwrap() {
//!     println!("{} {:?}", p.pid, p.cmdline); // only read, never signalled
//! }
//! ```

mod cpu;
mod fields;
mod filter;
mod info;
mod read;
mod snapshot;
mod tree;

pub use cpu::sample_cpu;
pub use fields::{Field, FieldSet};
pub use filter::{compile_regex, parse_user, Filter, NameMatch};
pub use info::{denied_note, ProcessInfo, ProcessState};
pub use regex::Regex;
pub use snapshot::{get, snapshot, thread_group_of, Query};
pub use tree::{ancestors, descendants, forest, tree, ProcessTree};

/// Default cap on the environment bytes read per process.
pub const ENV_MAX_BYTES: usize = 64 * 1024;
