//! Files that readers never see half-written: [`write_atomic`] and [`AtomicFile`].
//!
//! The new content goes to a temporary file in the target's directory (created with `O_EXCL`,
//! so no other file is ever opened by mistake), is written and `fsync`ed, then renamed over the
//! target, and the directory is `fsync`ed so that the rename itself survives a crash. A reader
//! opening the path sees either the old file or the complete new one, never an empty or torn
//! one, whatever happens to the writer (SIGKILL included) or the machine. A writer killed
//! before the rename leaves a hidden temporary file (`.NAME.PID.N.tmp`) next to the target and
//! the target as it was.
//!
//! A symbolic link at the target is replaced by the new file, never followed: `rename(2)` acts
//! on the directory entry, so a link planted where a file is expected cannot redirect the write.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("status.json");
//! tether::fs::write_atomic(&path, b"{\"ok\": true}\n").unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), b"{\"ok\": true}\n");
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The mode [`write_atomic`] creates files with (before the umask applies): `rw-r--r--`.
pub const DEFAULT_MODE: u32 = 0o644;

/// Replace the file at `path` with `bytes`, atomically (see the module documentation), with
/// mode [`DEFAULT_MODE`] as filtered by the umask.
///
/// Errors: `InvalidArgument` when `path` is a directory or has no file name; `NotFound` when
/// its directory does not exist; `PermissionDenied` when the directory may not be written;
/// `System` for anything else (disk full, I/O error). On error no temporary file is left
/// behind, and the target is unchanged (see [`AtomicFile::commit`] for the one exception).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, DEFAULT_MODE)
}

/// [`write_atomic`] with the given file mode (e.g. `0o600` for a private file; the umask
/// applies, as for any file created).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = AtomicFile::new(path, mode)?;
    f.file()
        .write_all(bytes)
        .map_err(|e| Error::from_io(format_args!("writing {}", f.tmp.display()), &e))?;
    f.commit().map(drop)
}

/// A replacement for a file, being written: a temporary file in the same directory, which
/// [`AtomicFile::commit`] renames over the target. Dropped without a commit, it removes the
/// temporary file and leaves the target untouched.
///
/// The open file is handed back by `commit`, so that a caller can keep a lock it took on the
/// temporary file (before anyone could see it) on the file now at the target.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    target: PathBuf,
    dir: PathBuf,
}

impl AtomicFile {
    /// Create the temporary file for `path` (mode `mode`, as filtered by the umask). Errors as
    /// for [`write_atomic`].
    pub fn new(path: &Path, mode: u32) -> Result<AtomicFile> {
        let name = path
            .file_name()
            .ok_or_else(|| Error::invalid(format!("{} names no file", path.display())))?;
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            return Err(Error::invalid(format!(
                "{} is a directory, not a file",
                path.display()
            )));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Hidden and with a suffix of its own, so that globs for the real files miss it; the
        // name is cut so that the whole stays within NAME_MAX.
        let base: String = name.to_string_lossy().chars().take(160).collect();
        static SEQ: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!(".{base}.{}.{n}.tmp", std::process::id()));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(&tmp)
            {
                Ok(file) => {
                    return Ok(AtomicFile {
                        file: Some(file),
                        tmp,
                        target: path.to_path_buf(),
                        dir,
                    })
                }
                // Left by an earlier process with our PID that was killed: take the next name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::from_io(
                        format_args!("creating a temporary file in {}", dir.display()),
                        &e,
                    ))
                }
            }
        }
    }

    /// The temporary file, to write the new content to.
    pub fn file(&mut self) -> &mut File {
        self.file
            .as_mut()
            .expect("an AtomicFile holds its file until commit")
    }

    /// The path of the temporary file.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Flush the content to disk, rename the temporary file over the target and flush the
    /// directory. Returns the file, still open (now the target). On an error before the rename
    /// the target is unchanged and the temporary file is removed; if only the directory cannot
    /// be flushed, the new file is in place and the error says so.
    pub fn commit(mut self) -> Result<File> {
        let file = self.file.take().expect("commit runs once");
        let step = |what: &str, r: io::Result<()>| {
            r.map_err(|e| Error::from_io(format_args!("{what} {}", self.target.display()), &e))
        };
        step("writing", file.sync_all())?;
        step("replacing", std::fs::rename(&self.tmp, &self.target))?;
        // From here the target is the new file: nothing to clean up any more.
        self.tmp = PathBuf::new();
        step("syncing the directory of", sync_dir(&self.dir))?;
        Ok(file)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// `fsync` a directory, so that the entries renamed into it are on disk. File systems that
/// cannot sync a directory (EINVAL) have nothing to sync.
fn sync_dir(dir: &Path) -> io::Result<()> {
    let d = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)?;
    match d.sync_all() {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::os::unix::fs::PermissionsExt;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two, longer").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two, longer");
        assert_eq!(entries(dir.path()), ["a.json"]);
        write_atomic_mode(&p, b"private", 0o600).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
        assert_eq!(std::fs::read(&link).unwrap(), b"new");
    }

    #[test]
    fn errors_leave_the_target_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_atomic(dir.path(), b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let e = write_atomic(&sub, b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains("is a directory"), "{e}");
        let e = write_atomic(&dir.path().join("missing/x"), b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        // Dropped without a commit: the temporary file goes, the target stays as it was.
        let p = dir.path().join("t");
        std::fs::write(&p, b"old").unwrap();
        let mut f = AtomicFile::new(&p, DEFAULT_MODE).unwrap();
        f.file().write_all(b"half").unwrap();
        let tmp = f.temp_path().to_path_buf();
        assert!(tmp.exists());
        drop(f);
        assert!(!tmp.exists());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(entries(dir.path()), ["sub", "t"]);
    }
}
