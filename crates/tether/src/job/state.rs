//! The state directory: where each job keeps its spec, status, lock and logs
//! (`STATE/NAME/…`), and the checks that make it safe to trust.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// The environment variable naming the state directory when none is given.
pub const STATE_DIR_ENV: &str = "TETHER_STATE_DIR";

/// The longest job name.
pub const MAX_NAME_LEN: usize = 64;

/// The state directory of the jobs, checked: a real directory (not a symbolic link) owned by
/// this user. Created `0700` when missing; the files in it are created `0600`.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

/// Whether `s` is a valid job name: 1 to 64 characters from `A-Z a-z 0-9 . _ -`, starting
/// with a letter or `_`. A job name can therefore never be read as a PID or an identity
/// string (they start with a digit), which is how `tether stop TARGET` tells them apart.
pub fn is_job_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && s.len() <= MAX_NAME_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// [`is_job_name`] as a check with a message.
pub fn check_name(s: &str) -> Result<()> {
    if is_job_name(s) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "bad job name '{s}': use 1 to {MAX_NAME_LEN} letters, digits, '.', '_' or '-', starting with a letter or '_'"
        )))
    }
}

impl StateDir {
    /// The state directory to use: `explicit` if given, else `$TETHER_STATE_DIR`, else
    /// `$XDG_STATE_HOME/tether`, else `~/.local/state/tether`, made absolute. Nothing is
    /// created or checked yet ([`StateDir::create`], [`StateDir::check`]).
    pub fn resolve(explicit: Option<&Path>) -> Result<StateDir> {
        let non_empty = |v: Option<std::ffi::OsString>| v.filter(|v| !v.is_empty());
        let path = if let Some(p) = explicit {
            p.to_path_buf()
        } else if let Some(p) = non_empty(std::env::var_os(STATE_DIR_ENV)) {
            PathBuf::from(p)
        } else if let Some(p) = non_empty(std::env::var_os("XDG_STATE_HOME")) {
            PathBuf::from(p).join("tether")
        } else if let Some(h) = non_empty(std::env::var_os("HOME")) {
            PathBuf::from(h).join(".local/state/tether")
        } else {
            return Err(Error::not_found(
                "no state directory: set TETHER_STATE_DIR, XDG_STATE_HOME or HOME",
            ));
        };
        // Absolute: the supervisor, which outlives the caller, works from `/`.
        let path = std::path::absolute(&path)
            .map_err(|e| Error::invalid(format!("state directory {}: {e}", path.display())))?;
        Ok(StateDir { path })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Create the directory (and its parents) if missing, mode `0700`, then check it.
    pub fn create(&self) -> Result<()> {
        match std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
        {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::from_io(
                    format_args!("creating state directory {}", self.path.display()),
                    &e,
                ))
            }
        }
        self.check()
    }

    /// Check the directory: it must exist, not be a symbolic link, and belong to this user.
    /// `NotFound` when it does not exist; `Refused` for a link or a foreign owner.
    pub fn check(&self) -> Result<()> {
        check_private_dir(&self.path, "state directory")
    }

    /// The directory of job `name` (`STATE/NAME`), without creating or checking it.
    pub fn job_path(&self, name: &str) -> Result<PathBuf> {
        check_name(name)?;
        Ok(self.path.join(name))
    }

    /// The directory of job `name`, created `0700` if missing, checked as the state directory
    /// is.
    pub fn create_job_dir(&self, name: &str) -> Result<PathBuf> {
        self.create()?;
        let dir = self.job_path(name)?;
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::from_io(
                    format_args!("creating job directory {}", dir.display()),
                    &e,
                ))
            }
        }
        check_private_dir(&dir, "job directory")?;
        Ok(dir)
    }

    /// The directory of an existing job, checked. `NotFound` (naming the job) when there is
    /// none.
    pub fn job_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.job_path(name)?;
        match self
            .check()
            .and_then(|()| check_private_dir(&dir, "job directory"))
        {
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::not_found(format!(
                "no job named '{name}' in {}",
                self.path.display()
            ))),
            r => r.map(|()| dir),
        }
    }

    /// The names of the jobs (directories holding a spec), sorted. An empty list when the
    /// directory does not exist yet.
    pub fn names(&self) -> Result<Vec<String>> {
        match self.check() {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            r => r?,
        }
        let rd = std::fs::read_dir(&self.path)
            .map_err(|e| Error::from_io(format_args!("reading {}", self.path.display()), &e))?;
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_job_name(n) && self.path.join(n).join(super::SPEC_FILE).is_file())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// `path` exists, is a directory and no symbolic link, and belongs to this user.
fn check_private_dir(path: &Path, what: &str) -> Result<()> {
    let md = std::fs::symlink_metadata(path)
        .map_err(|e| Error::from_io(format_args!("{what} {}", path.display()), &e))?;
    if md.file_type().is_symlink() {
        return Err(Error::new(
            ErrorKind::Refused,
            format!(
                "refusing {what} {}: it is a symbolic link (use a real directory)",
                path.display()
            ),
        ));
    }
    if !md.is_dir() {
        return Err(Error::invalid(format!(
            "{what} {} is not a directory",
            path.display()
        )));
    }
    check_owner(&md, path, what)
}

/// The file or directory belongs to this user.
fn check_owner(md: &std::fs::Metadata, path: &Path, what: &str) -> Result<()> {
    let me = rustix::process::geteuid().as_raw();
    if md.uid() != me {
        return Err(Error::new(
            ErrorKind::Refused,
            format!(
                "refusing {what} {}: it belongs to user {}, not to this user ({me})",
                path.display(),
                md.uid()
            ),
        ));
    }
    Ok(())
}

/// Open a file of a job for reading, refusing a symbolic link (`O_NOFOLLOW`) and a file owned
/// by another user.
pub(crate) fn open_private(path: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| refuse_link(path, e))?;
    let md = f
        .metadata()
        .map_err(|e| Error::from_io(format_args!("{}", path.display()), &e))?;
    check_owner(&md, path, "file")?;
    Ok(f)
}

/// Open (create `0600`) a file of a job for appending or writing, refusing a symbolic link.
pub(crate) fn open_private_write(path: &Path, truncate: bool) -> Result<File> {
    let mut o = OpenOptions::new();
    o.create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    let f = o.open(path).map_err(|e| refuse_link(path, e))?;
    let md = f
        .metadata()
        .map_err(|e| Error::from_io(format_args!("{}", path.display()), &e))?;
    check_owner(&md, path, "file")?;
    Ok(f)
}

/// ELOOP from `O_NOFOLLOW` is a planted link: refused, with a message that says so.
fn refuse_link(path: &Path, e: io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        Error::new(
            ErrorKind::Refused,
            format!("refusing {}: it is a symbolic link", path.display()),
        )
    } else {
        Error::from_io(format_args!("{}", path.display()), &e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_look_like_pids_or_identities() {
        for good in ["web", "_x", "a.b-c_1", "W"] {
            assert!(is_job_name(good), "{good}");
        }
        for bad in [
            "",
            "1web",
            "42",
            "4242:1:abcd",
            "a/b",
            "..",
            ".x",
            "-x",
            "a b",
        ] {
            assert!(!is_job_name(bad), "{bad}");
        }
        assert!(!is_job_name(&"a".repeat(65)));
    }

    #[test]
    fn symlinked_state_dir_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = StateDir::resolve(Some(&link))
            .unwrap()
            .create()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Refused, "{e}");
        assert!(e.message().contains("symbolic link"), "{e}");
    }

    #[test]
    fn created_private() {
        let t = tempfile::tempdir().unwrap();
        let d = StateDir::resolve(Some(&t.path().join("a/b"))).unwrap();
        let job = d.create_job_dir("web").unwrap();
        for p in [d.path(), job.as_path()] {
            let mode = std::fs::metadata(p).unwrap().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", p.display());
        }
    }
}
