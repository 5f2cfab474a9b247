//! The one error type of the library, with stable kinds.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// Stable error kinds. Their `as_str` names appear in JSON output and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
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

/// A library error: a stable [`ErrorKind`] plus a message for people, and the operating-system
/// error that caused it, when there was one ([`std::error::Error::source`],
/// [`Error::raw_os_error`]).
///
/// The kinds are stable: a program may match on them, and their names
/// ([`ErrorKind::as_str`]) appear in JSON output and never change. New kinds may be added, so a
/// `match` needs a wildcard arm.
///
/// ```
/// use tether::{Error, ErrorKind};
/// let e = Error::invalid("unknown signal 'FOO'");
/// assert_eq!(e.kind(), ErrorKind::InvalidArgument);
/// assert!(std::error::Error::source(&e).is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// Shared, so that the error stays `Clone` (`io::Error` is not).
    source: Option<Arc<std::io::Error>>,
}

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
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
    /// The OS error number that caused this error, when an OS error did (`ESRCH`, `EPERM`, …).
    pub fn raw_os_error(&self) -> Option<i32> {
        self.source.as_ref().and_then(|e| e.raw_os_error())
    }
    /// The same error (kind and cause) with another message, e.g. with advice appended.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
    /// Map an OS error number to an error with context, e.g. `("signal 42", ESRCH)`.
    pub(crate) fn from_errno(context: impl fmt::Display, errno: rustix::io::Errno) -> Self {
        Self::from_io(context, &std::io::Error::from(errno))
    }
    /// Map an I/O error with context; the error is kept as the source.
    pub(crate) fn from_io(context: impl fmt::Display, err: &std::io::Error) -> Self {
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
        Error {
            kind,
            message: format!("{context}: {err}"),
            source: Some(Arc::new(copy_io(err))),
        }
    }
}

/// An owned copy of an I/O error: its OS error number when it has one, else its kind and text.
fn copy_io(err: &std::io::Error) -> std::io::Error {
    match err.raw_os_error() {
        Some(n) => std::io::Error::from_raw_os_error(n),
        None => std::io::Error::new(err.kind(), err.to_string()),
    }
}

/// A message without the " (os error N)" that Rust appends to an OS error's text, for messages
/// that name the error in words only.
pub(crate) fn strip_os_error(msg: &str) -> &str {
    match msg.rfind(" (os error ") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_are_kept_as_the_source() {
        let e = Error::from_errno("signalling 42", rustix::io::Errno::SRCH);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.raw_os_error(), Some(libc::ESRCH));
        assert!(e.message().starts_with("signalling 42: "), "{e}");
        let src = std::error::Error::source(&e).expect("a source");
        assert_eq!(
            src.to_string(),
            std::io::Error::from_raw_os_error(libc::ESRCH).to_string()
        );
        // A new message keeps the kind and the cause.
        let e = e.with_message("gone");
        assert_eq!(
            (e.kind(), e.raw_os_error()),
            (ErrorKind::NotFound, Some(libc::ESRCH))
        );
        assert!(Error::invalid("x").raw_os_error().is_none());
        assert_eq!(
            strip_os_error("x: No such process (os error 3)"),
            "x: No such process"
        );
    }
}
