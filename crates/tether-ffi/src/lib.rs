//! The C ABI of tether (`libtether.a`, `libtether.so`, `include/tether.h`).
//!
//! Conventions, the same for every function (the header repeats them):
//! - Every symbol is `tether_*`. [`tether_abi_version`] answers [`TETHER_ABI_VERSION`], which
//!   changes only with an incompatible change of the ABI.
//! - A function that can fail returns `int32_t`: [`TETHER_OK`] (0) or a `TETHER_E_*` code. Its
//!   result goes to an out-pointer, which receives NULL (or 0) on failure. Strings it returns
//!   are owned by the caller and freed with [`tether_free_string`].
//! - After a failure, the thread's last error ([`tether_last_error_code`],
//!   [`tether_last_error_message`], [`tether_last_error_json`]) describes it until the next
//!   call of a `tether_*` function on that thread; each fallible call clears it first.
//! - Structured input and output is JSON with a `schema` id: queries in
//!   (`tether.ps-query/v1`, …), the command-line tool's reports out (`tether.ps/v1`, …).
//!   NULL pointers, invalid UTF-8, malformed JSON, unknown fields and wrong schema ids are
//!   `TETHER_E_INVALID_ARGUMENT`.
//! - No panic crosses the boundary: one is caught and returned as `TETHER_E_INTERNAL`.
//!   Build the library with the `bindings` profile (which unwinds), as `scripts/test-go.sh`
//!   does.

mod cancel;
mod child;
mod error;
mod handle;
mod identity;
mod inspect;
mod job;
mod json;
mod net;
mod pidfile;
mod process;
mod ready;
mod retry;
mod signal;
mod strings;
mod version;

pub use cancel::{tether_cancel_free, tether_cancel_new, tether_cancel_trigger, TetherCancel};
pub use child::{
    tether_child_containment, tether_child_free, tether_child_identity, tether_child_kill_tree,
    tether_child_pid, tether_child_signal, tether_child_stop, tether_child_wait, tether_run,
    tether_spawn, TetherChild,
};
pub use error::{
    tether_last_error_code, tether_last_error_json, tether_last_error_message, TETHER_E_CANCELLED,
    TETHER_E_IDENTITY_MISMATCH, TETHER_E_INTERNAL, TETHER_E_INVALID_ARGUMENT, TETHER_E_NOT_FOUND,
    TETHER_E_NOT_SUPPORTED, TETHER_E_PERMISSION_DENIED, TETHER_E_REFUSED, TETHER_E_SYSTEM,
    TETHER_E_TIMED_OUT, TETHER_OK,
};
pub use identity::{
    tether_identity_check, tether_identity_of, tether_identity_parse, TETHER_IDENTITY_GONE,
    TETHER_IDENTITY_REUSED, TETHER_IDENTITY_SAME,
};
pub use inspect::{tether_get, tether_snapshot};
pub use job::{
    tether_free_bytes, tether_job_list, tether_job_logs, tether_job_logs_bytes, tether_job_remove,
    tether_job_restart, tether_job_start, tether_job_status, tether_job_stop,
};
pub use net::{tether_ports, tether_who};
pub use pidfile::{tether_pidfile_check, tether_pidfile_read};
pub use process::{
    tether_process_children, tether_process_free, tether_process_identity, tether_process_info,
    tether_process_is_running, tether_process_open, tether_process_pid, tether_process_signal,
    tether_process_terminate_tree, tether_process_wait, TetherProcess,
};
pub use ready::tether_wait_for;
pub use retry::tether_retry;
pub use signal::{tether_signal_name, tether_signal_number};
pub use strings::tether_free_string;
pub use version::{tether_abi_version, tether_version, TETHER_ABI_VERSION};
