//! Why a command could not be started.

use std::fmt;

use crate::error::{strip_os_error, Error, ErrorKind};
use crate::sys::os::spawn::{Failure, STAGE_CHDIR, STAGE_CLONE, STAGE_EXEC};

/// What kind of failure a [`SpawnError`] is. New kinds may be added: a `match` needs a wildcard
/// arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnErrorKind {
    /// The program was not found (no such file, or not on `PATH`): a shell's exit code 127.
    NotFound,
    /// The program was found but could not be run (not executable, no permission, not a
    /// valid executable format, a directory): a shell's exit code 126.
    NotExecutable,
    /// The command was given badly: a NUL byte in an argument, a variable or the directory.
    InvalidInput,
    /// The child was made but could not be set up before it ran the program (changing to the
    /// working directory, its session, its parent-death signal).
    Setup,
    /// The system could not start it: no cgroup leaf where one was required, no watchdog, no
    /// process or memory left, /proc unreadable.
    System,
}

/// Why [`crate::command::Command::spawn`] (or `output`, `status`) could not start a command.
///
/// [`SpawnError::kind`] tells a missing program from one that cannot be run (the 127 and 126 of
/// shells and GNU `timeout`) and from a failure of the system; the message says what and where,
/// naming the OS error in words (`failed to run command 'x': No such file or directory`), and
/// [`std::error::Error::source`] gives the OS error itself. It converts into the library's
/// [`Error`] with `?`.
///
/// ```
/// use tether::command::{Command, SpawnErrorKind};
/// let e = Command::new("tether-no-such-program").spawn().unwrap_err();
/// assert_eq!(e.kind(), SpawnErrorKind::NotFound);
/// assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
/// let e: tether::Error = e.into();
/// assert_eq!(e.kind(), tether::ErrorKind::NotFound);
/// ```
#[derive(Debug, Clone)]
pub struct SpawnError {
    kind: SpawnErrorKind,
    error: Error,
}

impl SpawnError {
    /// The kind of failure.
    pub fn kind(&self) -> SpawnErrorKind {
        self.kind
    }
    /// The message for people.
    pub fn message(&self) -> &str {
        self.error.message()
    }
    /// The OS error number behind it, when there was one (`ENOENT`, `EACCES`, `EAGAIN`, …).
    pub fn raw_os_error(&self) -> Option<i32> {
        self.error.raw_os_error()
    }
    /// The library error it converts into: `NotFound` for a missing program, the kind of the
    /// OS error otherwise (`PermissionDenied` for EACCES), `InvalidArgument` for bad input.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// A failure of the system (or of this process) while preparing the start.
    pub(crate) fn system(error: Error) -> SpawnError {
        let kind = if error.kind() == ErrorKind::InvalidArgument {
            SpawnErrorKind::InvalidInput
        } else {
            SpawnErrorKind::System
        };
        SpawnError { kind, error }
    }

    /// The child's own failure, reported by the launch: its stage and errno.
    pub(crate) fn launch(f: Failure, program: &str, cwd: Option<&std::path::Path>) -> SpawnError {
        let io = std::io::Error::from_raw_os_error(f.errno);
        let (kind, context) = match f.stage {
            STAGE_EXEC if f.errno == libc::ENOENT => (
                SpawnErrorKind::NotFound,
                format!("failed to run command '{program}'"),
            ),
            STAGE_EXEC => (
                SpawnErrorKind::NotExecutable,
                format!("failed to run command '{program}'"),
            ),
            STAGE_CHDIR => (
                SpawnErrorKind::Setup,
                format!(
                    "cannot change to directory '{}' for command '{program}'",
                    cwd.map(|d| d.display().to_string()).unwrap_or_default()
                ),
            ),
            STAGE_CLONE => (
                SpawnErrorKind::System,
                format!("cannot start a process for command '{program}'"),
            ),
            _ => (
                SpawnErrorKind::Setup,
                format!("setting up the process for command '{program}'"),
            ),
        };
        let error = Error::from_io(context, &io);
        // The OS error in words only, as GNU's messages name it; the number stays in the source.
        let words = strip_os_error(error.message()).to_string();
        SpawnError {
            kind,
            error: error.with_message(words),
        }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

impl From<SpawnError> for Error {
    /// The library error: its kind comes from the OS error (`NotFound` for ENOENT,
    /// `PermissionDenied` for EACCES), and the OS error stays its source.
    fn from(e: SpawnError) -> Error {
        e.error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::os::spawn::STAGE_SETUP;

    fn failure(stage: i32, errno: i32) -> Failure {
        Failure { stage, errno }
    }

    #[test]
    fn kinds_come_from_the_stage_and_errno_never_the_message() {
        let k = |stage, errno| SpawnError::launch(failure(stage, errno), "x", None).kind();
        assert_eq!(k(STAGE_EXEC, libc::ENOENT), SpawnErrorKind::NotFound);
        assert_eq!(k(STAGE_EXEC, libc::EACCES), SpawnErrorKind::NotExecutable);
        assert_eq!(k(STAGE_EXEC, libc::ENOEXEC), SpawnErrorKind::NotExecutable);
        assert_eq!(k(STAGE_EXEC, libc::ENOTDIR), SpawnErrorKind::NotExecutable);
        assert_eq!(k(STAGE_CHDIR, libc::ENOENT), SpawnErrorKind::Setup);
        assert_eq!(k(STAGE_SETUP, libc::EPERM), SpawnErrorKind::Setup);
        assert_eq!(k(STAGE_CLONE, libc::EAGAIN), SpawnErrorKind::System);
    }

    #[test]
    fn message_in_words_source_with_the_errno() {
        let e = SpawnError::launch(failure(STAGE_EXEC, libc::ENOENT), "nope", None);
        assert_eq!(
            e.to_string(),
            "failed to run command 'nope': No such file or directory"
        );
        let src = std::error::Error::source(&e).expect("the OS error");
        assert_eq!(
            src.to_string(),
            std::io::Error::from_raw_os_error(libc::ENOENT).to_string()
        );
        let dir = std::path::Path::new("/no/dir");
        let e = SpawnError::launch(failure(STAGE_CHDIR, libc::ENOENT), "ls", Some(dir));
        assert!(e.message().contains("'/no/dir'"), "{e}");
        let lib: Error = e.into();
        assert_eq!(lib.kind(), ErrorKind::NotFound);
        assert_eq!(lib.raw_os_error(), Some(libc::ENOENT));
        let lib: Error = SpawnError::launch(failure(STAGE_EXEC, libc::EACCES), "x", None).into();
        assert_eq!(lib.kind(), ErrorKind::PermissionDenied);
    }
}
