//! The OS boundary. Everything that makes a raw syscall or parses a kernel file lives below here;
//! the rest of the library speaks only to these modules.

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "linux")]
pub use linux as os;
