//! The one error type of the library, with stable kinds.

use serde::Serialize;

/// Stable error kinds. Their `as_str` names appear in JSON output and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The process, file or port does not exist (or no longer does).
    NotFound,
    /// The kernel refused the operation for lack of privilege.
    PermissionDenied,
    /// An identity token no longer names the same process (it exited or its PID was reused).
    IdentityMismatch,
    /// A safety rail refused the target (PID 1, tether itself, its ancestors, its own group and
    /// session leaders; see `signal::Rails`) without `force`. The message says why and names no
    /// flag: front ends add how to override.
    Refused,
    /// Bad input: an unknown signal, a malformed PID, duration, regex or identity string.
    InvalidArgument,
    /// A deadline passed.
    TimedOut,
    /// The kernel or platform lacks a needed feature.
    NotSupported,
    /// Any other failure reported by the operating system.
    System,
}

impl ErrorKind {
    /// The stable snake_case name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::IdentityMismatch => "identity_mismatch",
            ErrorKind::Refused => "refused",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::TimedOut => "timed_out",
            ErrorKind::NotSupported => "not_supported",
            ErrorKind::System => "system",
        }
    }
}

/// A library error: a stable [`ErrorKind`] plus a message for people.
///
/// ```
/// use tether::{Error, ErrorKind};
/// let e = Error::invalid("unknown signal 'FOO'");
/// assert_eq!(e.kind(), ErrorKind::InvalidArgument);
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    /// Shorthand for [`ErrorKind::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The message for people.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Map an OS error number to an error with context, e.g. `("signal 42", ESRCH)`.
    pub fn from_errno(context: impl std::fmt::Display, errno: rustix::io::Errno) -> Self {
        let kind = match errno {
            rustix::io::Errno::SRCH | rustix::io::Errno::NOENT => ErrorKind::NotFound,
            rustix::io::Errno::PERM | rustix::io::Errno::ACCESS => ErrorKind::PermissionDenied,
            rustix::io::Errno::NOSYS | rustix::io::Errno::NOTSUP => ErrorKind::NotSupported,
            rustix::io::Errno::INVAL => ErrorKind::InvalidArgument,
            _ => ErrorKind::System,
        };
        Error::new(kind, format!("{context}: {}", std::io::Error::from(errno)))
    }
    /// Map an I/O error with context.
    pub fn from_io(context: impl std::fmt::Display, err: &std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            std::io::ErrorKind::Unsupported => ErrorKind::NotSupported,
            std::io::ErrorKind::InvalidInput => ErrorKind::InvalidArgument,
            std::io::ErrorKind::TimedOut => ErrorKind::TimedOut,
            _ => match err.raw_os_error() {
                Some(libc::ESRCH) => ErrorKind::NotFound,
                _ => ErrorKind::System,
            },
        };
        Error::new(kind, format!("{context}: {err}"))
    }
}
