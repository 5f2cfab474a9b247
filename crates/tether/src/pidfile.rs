//! PID files that cannot go stale silently.
//!
//! **Format.** A tether PID file is one JSON object ([`Record`]): the format marker
//! [`FORMAT`], the process identity (`pid`, `start_ticks`, `boot_id`, `pidfs_inode` when the
//! kernel has pidfs), its `exe` and `argv`, and its start time (`start_unix_ms`). It is written
//! with [`crate::fs::AtomicFile`] (temporary file, `fsync`, rename, `fsync` of the directory),
//! so a reader sees the previous file or the complete new one, never a torn or empty one.
//!
//! **Lock.** The writer — the *owner* — takes an exclusive `flock` on the temporary file before
//! it is renamed into place and holds it, on a descriptor it keeps open (close-on-exec), for as
//! long as it owns the file: [`Owned`] holds it until it is released or dropped; `tether run
//! --pidfile` holds it while its command runs. The kernel releases a `flock` when its holder
//! dies, SIGKILL included, so a reader that finds the lock **held** knows the owner is alive and
//! keeps the file current. A **free** lock means the owner has ended or let go: the file is an
//! orphan, and only the identity check below says whether its process still runs. (A lock that
//! is free never makes a live process dead, and a held one never makes a dead process alive.)
//!
//! **Verdict** ([`PidFile::check`]): [`Status::Alive`] when the process the file names runs —
//! same boot, same PID, same start time at clock-tick precision (and the same pidfs inode when
//! both are known); [`Status::Gone`] when it has exited (no process has its PID, or only its
//! zombie is left); [`Status::Stale`] when the file was written on an earlier boot, its PID now
//! belongs to another process, or the process runs another executable than the file records.
//! A changed executable with a matching identity is a process that called `exec` when the
//! kernel (pidfs inode) or the file's live owner (held lock) vouches that it is the same
//! process; otherwise it is treated as stale, the cautious answer for a PID reused within one
//! clock tick on a kernel without pidfs.
//!
//! **Legacy files** holding a bare PID (`echo $! > app.pid`, most daemons) are read too: the
//! process with that PID is trusted only if it started no later than the file was last
//! modified (at clock-tick precision, with 10 ms for the coarse clock file systems stamp with,
//! and against the wall clock, so a clock stepped since can mislead it), and the verdict says the identity is [`IdentityStrength::Weak`]. A file written
//! before the last boot is stale.
//!
//! **Refusals.** A PID file that is empty, holds anything but one PID or one record, a PID that
//! is 0, 1 (init: no PID file names it), negative or above `i32::MAX`, is larger than
//! [`MAX_LEN`], is a directory or not a regular file, is a symbolic link (opened with
//! `O_NOFOLLOW`: never followed) or cannot be read is an error of its own ([`read`]), and the
//! caller signals nothing.
//!
//! ```
//! use tether::pidfile::{self, Status};
//! let path = std::env::temp_dir().join(format!("app-{}.pid", std::process::id()));
//! // The owner: writes the file, holds its lock, removes it when dropped.
//! let owned = pidfile::create(&path, std::process::id()).unwrap();
//! // Anyone else:
//! let file = pidfile::read(&path).unwrap();
//! assert!(matches!(file.check().unwrap(), Status::Alive { .. }));
//! drop(owned);
//! ```

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::fs::{AtomicFile, DEFAULT_MODE};
use crate::identity::ProcessIdentity;
use crate::process::{Process, ProcessRef};
use crate::signal::rails::validate_pid;
use crate::sys::os::proc::ProcReader;
use crate::sys::os::{clock, flock, pidfd};

/// The format marker of a tether PID file (the `format` field).
pub const FORMAT: &str = "tether.pidfile/v1";

/// The largest PID file read, in bytes: a record is a few hundred bytes, plus its command line.
pub const MAX_LEN: u64 = 64 * 1024;

/// How long [`remove_if_names`] waits by default for a live owner to let go of the lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// What a tether PID file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Record {
    /// Always `tether.pidfile/v1` (FORMAT).
    pub format: String,
    /// The process: `pid`, `start_ticks`, `boot_id` (full, 32 hex digits) and `pidfs_inode`.
    #[serde(flatten)]
    pub identity: ProcessIdentity,
    /// Its executable when the file was written (`null` when it could not be read).
    #[serde(default)]
    pub exe: Option<String>,
    /// Its command line when the file was written.
    #[serde(default)]
    pub argv: Vec<String>,
    /// Its start time, in milliseconds since the Unix epoch (at clock-tick precision).
    pub start_unix_ms: u64,
}

/// The content of a PID file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Content {
    /// A tether PID file: the full identity.
    Record(Record),
    /// A bare PID (legacy): only the PID and the file's modification time identify it.
    Legacy(u32),
}

/// A PID file as read by [`read`].
#[derive(Debug, Clone)]
pub struct PidFile {
    /// Where it was read.
    pub path: PathBuf,
    /// What it holds.
    pub content: Content,
    /// When it was last modified.
    pub modified: SystemTime,
    /// Whether its owner held its lock when it was read (legacy writers never lock).
    pub locked: bool,
    /// Device and inode of the file read, to tell whether the path still names it.
    file_id: (u64, u64),
}

/// How much a verdict of "alive" rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityStrength {
    /// The full identity matched: boot, PID and start time (and pidfs inode when known).
    Strong,
    /// Only a PID was known (a legacy file, or a bare PID): the process was matched by its PID
    /// and, for a file, by having started before the file was written.
    Weak,
}

/// What the executable check of a record found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExeCheck {
    /// The process runs the executable the file records.
    Same,
    /// It runs another one: it called `exec` since the file was written (only reported with
    /// [`Status::Alive`] when the kernel or the file's owner vouches for the identity).
    Changed {
        /// What the file records.
        recorded: String,
        /// What the process runs now.
        now: String,
    },
    /// Not checked: the file records none (legacy, bare PID), or the process's executable
    /// cannot be read by this user.
    Unknown,
}

/// Why a PID file no longer names a running process although its PID may be in use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StaleReason {
    /// The file was written before the machine last booted.
    Rebooted,
    /// Its PID now belongs to a process that started at another time.
    Reused,
    /// The process with its PID and start time runs another executable, and nothing vouches
    /// that it is the same process (see the module documentation).
    ExeChanged {
        /// What the file records.
        recorded: String,
        /// What the process runs now.
        now: String,
    },
    /// Legacy file: the process with its PID started after the file was written.
    StartedAfterFile,
}

impl StaleReason {
    /// A stable snake_case name: `rebooted`, `reused`, `exe_changed`, `started_after_file`.
    pub fn as_str(&self) -> &'static str {
        match self {
            StaleReason::Rebooted => "rebooted",
            StaleReason::Reused => "reused",
            StaleReason::ExeChanged { .. } => "exe_changed",
            StaleReason::StartedAfterFile => "started_after_file",
        }
    }
}

impl fmt::Display for StaleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaleReason::Rebooted => write!(f, "it was written before the machine last booted"),
            StaleReason::Reused => write!(f, "its PID now belongs to another process"),
            StaleReason::ExeChanged { recorded, now } => write!(
                f,
                "the process with its PID and start time runs {now}, not {recorded}"
            ),
            StaleReason::StartedAfterFile => write!(
                f,
                "the process with its PID started after the file was written (the PID was reused)"
            ),
        }
    }
}

/// The verdict on a PID file (or on a process named on a command line, [`check_target`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// The process runs.
    Alive {
        /// Its identity, verified now (for a weak match: taken now).
        identity: ProcessIdentity,
        /// What the match rests on.
        strength: IdentityStrength,
        /// The executable check.
        exe: ExeCheck,
    },
    /// The file names a process that is gone, and its PID may belong to another one.
    Stale(StaleReason),
    /// The process has exited: no process has its PID, or only its zombie is left.
    Gone,
}

impl Status {
    /// Only [`Status::Alive`] is alive: stale is not.
    pub fn is_alive(&self) -> bool {
        matches!(self, Status::Alive { .. })
    }
}

impl PidFile {
    /// The PID the file names.
    pub fn pid(&self) -> u32 {
        match &self.content {
            Content::Record(r) => r.identity.pid,
            Content::Legacy(pid) => *pid,
        }
    }

    /// The identity the file records (`None` for a legacy file).
    pub fn identity(&self) -> Option<&ProcessIdentity> {
        match &self.content {
            Content::Record(r) => Some(&r.identity),
            Content::Legacy(_) => None,
        }
    }

    /// Whether the process the file names runs, now (see the module documentation).
    ///
    /// Errors only when no answer can be had (`PermissionDenied` when /proc hides the process,
    /// `System` for failures such as running out of file descriptors).
    pub fn check(&self) -> Result<Status> {
        match &self.content {
            Content::Record(r) => check_record(r, self.locked),
            Content::Legacy(pid) => check_legacy(*pid, self.modified),
        }
    }
}

/// Read the PID file at `path` (never following a symbolic link) and whether its owner holds
/// its lock. Nothing is signalled or changed.
///
/// Errors: `NotFound` when there is no file; `PermissionDenied` when it may not be read;
/// `InvalidArgument` when it is a symbolic link, a directory or not a regular file, larger than
/// [`MAX_LEN`], empty, or holds anything but one PID (2 to `i32::MAX`) or one valid
/// [`Record`] (a newer format included).
pub fn read(path: &Path) -> Result<PidFile> {
    let (content, meta, file) = load(path)?;
    // A shared lock is granted unless an owner holds the exclusive one; it is let go at once.
    let cannot_lock =
        |e: std::io::Error| Error::from_io(format_args!("locking PID file {}", path.display()), &e);
    let locked = !flock::try_lock(&file, false).map_err(cannot_lock)?;
    if !locked {
        flock::unlock(&file).map_err(cannot_lock)?;
    }
    Ok(PidFile {
        path: path.to_path_buf(),
        content,
        modified: meta.modified().unwrap_or(UNIX_EPOCH),
        locked,
        file_id: (meta.dev(), meta.ino()),
    })
}

/// Open, check and parse a PID file.
fn load(path: &Path) -> Result<(Content, std::fs::Metadata, File)> {
    let mut file = open_nofollow(path)?;
    let meta = file
        .metadata()
        .map_err(|e| Error::from_io(format_args!("reading PID file {}", path.display()), &e))?;
    let content = read_content(path, &mut file, &meta)?;
    Ok((content, meta, file))
}

/// Open a PID file for reading: never through a symbolic link, never blocking (a FIFO), never
/// becoming a controlling terminal.
fn open_nofollow(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => Error::invalid(format!(
                "PID file {} is a symbolic link; refusing to follow it (give the path of the \
                 file itself)",
                path.display()
            )),
            Some(libc::ENOENT) => Error::not_found(format!("no PID file {}", path.display())),
            _ => Error::from_io(format_args!("opening PID file {}", path.display()), &e),
        })
}

/// Read and parse the content of an open PID file.
fn read_content(path: &Path, file: &mut File, meta: &std::fs::Metadata) -> Result<Content> {
    let bad = |why: String| Error::invalid(format!("PID file {} {why}", path.display()));
    if meta.is_dir() {
        return Err(bad("is a directory".into()));
    }
    if !meta.is_file() {
        return Err(bad("is not a regular file".into()));
    }
    let too_long = |len: u64| {
        bad(format!(
            "is {len} bytes long; a PID file holds one PID or one small JSON record (at most \
             {MAX_LEN} bytes)"
        ))
    };
    if meta.len() > MAX_LEN {
        return Err(too_long(meta.len()));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_LEN + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::from_io(format_args!("reading PID file {}", path.display()), &e))?;
    if buf.len() as u64 > MAX_LEN {
        return Err(too_long(buf.len() as u64));
    }
    parse(&buf).map_err(bad)
}

/// Parse the bytes of a PID file; the error says what is wrong with them.
fn parse(buf: &[u8]) -> std::result::Result<Content, String> {
    let text = std::str::from_utf8(buf).map_err(|_| "holds binary data, not a PID".to_string())?;
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return Err(if buf.is_empty() {
            "is empty (a writer may have been killed while writing it in place)".into()
        } else {
            "holds only white space, not a PID".into()
        });
    }
    if t.starts_with('{') {
        return parse_record(t).map(Content::Record);
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.is_empty() {
        let preview: String = t.chars().take(40).collect();
        let more = if t.chars().count() > 40 { "…" } else { "" };
        return Err(format!(
            "holds {preview:?}{more}, not a PID (a PID file holds one PID, or a tether record)"
        ));
    }
    // All digits: anything that does not fit an i64 is far out of range.
    let n: i64 = t.parse().unwrap_or(if t.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    });
    check_pid(n).map(Content::Legacy)
}

/// The PIDs a PID file may name: the rails of every PID, and never init.
fn check_pid(n: i64) -> std::result::Result<u32, String> {
    match n {
        0 => Err("holds PID 0, which names no process".into()),
        1 => Err("holds PID 1 (init); no PID file names init, refusing".into()),
        n if n < 0 => Err(format!(
            "holds a negative PID ({n}), which names no process"
        )),
        n => validate_pid(n).map_err(|_| {
            format!(
                "holds PID {n}, which is out of range (PIDs go up to {})",
                i32::MAX
            )
        }),
    }
}

fn parse_record(t: &str) -> std::result::Result<Record, String> {
    let r: Record = serde_json::from_str(t).map_err(|e| format!("holds malformed JSON ({e})"))?;
    if r.format != FORMAT {
        return Err(if r.format.starts_with("tether.pidfile/") {
            format!(
                "was written by a newer tether (format {}); this one reads {FORMAT}",
                r.format
            )
        } else {
            format!("is not a tether PID file (format {:?})", r.format)
        });
    }
    check_pid(r.identity.pid as i64)?;
    let b = &r.identity.boot_id;
    if b.is_empty() || !b.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("holds a malformed boot id ({b:?})"));
    }
    Ok(r)
}

/// The verdict on a record; `vouched` when its owner holds the lock.
fn check_record(r: &Record, vouched: bool) -> Result<Status> {
    let id = &r.identity;
    if !id.same_boot() {
        return Ok(Status::Stale(StaleReason::Rebooted));
    }
    let process = match Process::from_identity(id) {
        Ok(p) => p,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Status::Gone),
        Err(e) if e.kind() == ErrorKind::IdentityMismatch => {
            return Ok(Status::Stale(StaleReason::Reused))
        }
        Err(e) => return Err(e),
    };
    if !process.is_running()? {
        return Ok(Status::Gone);
    }
    let exe = match (&r.exe, current_exe(id.pid)) {
        (Some(recorded), Some(now)) if same_exe(recorded, &now) => ExeCheck::Same,
        (Some(recorded), Some(now)) => ExeCheck::Changed {
            recorded: recorded.clone(),
            now,
        },
        _ => ExeCheck::Unknown,
    };
    // The exe was read by PID: it was this process's if the process still runs now.
    if !process.is_running()? {
        return Ok(Status::Gone);
    }
    if let ExeCheck::Changed { recorded, now } = &exe {
        // Proven by the kernel: the pidfs inodes matched (opening it compared them).
        let proven = id.pidfs_inode.is_some() && pidfd::inode(process.as_fd()).is_some();
        if !proven && !vouched {
            return Ok(Status::Stale(StaleReason::ExeChanged {
                recorded: recorded.clone(),
                now: now.clone(),
            }));
        }
    }
    Ok(Status::Alive {
        identity: id.clone(),
        strength: IdentityStrength::Strong,
        exe,
    })
}

/// The executable of `pid`, when it can be read (not for another user's process).
fn current_exe(pid: u32) -> Option<String> {
    ProcReader::new().ok()?.exe(pid).ok().flatten()
}

/// Paths of one executable, also when it was replaced on disk since (`/x (deleted)`).
fn same_exe(a: &str, b: &str) -> bool {
    let strip = |s: &str| s.strip_suffix(" (deleted)").unwrap_or(s).to_string();
    strip(a) == strip(b)
}

/// How far a file's modification time may lag the moment it was written: file systems stamp
/// with the coarse clock, up to one jiffy (10 ms at HZ=100) behind. A process that started up
/// to this long after the stamp is still trusted (a PID is not handed out again that fast).
const TIMESTAMP_SLACK_MS: u64 = 10;

/// The verdict on a legacy file: the process is trusted only if it started no later than the
/// file was last modified.
fn check_legacy(pid: u32, modified: SystemTime) -> Result<Status> {
    let mtime_ms = modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let boot_ms = clock::boot_unix_ms();
    if mtime_ms < boot_ms {
        return Ok(Status::Stale(StaleReason::Rebooted));
    }
    let process = match Process::open(pid) {
        Ok(p) => p,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Status::Gone),
        Err(e) => return Err(e),
    };
    if !process.is_running()? {
        return Ok(Status::Gone);
    }
    let identity = process.identity().clone();
    if boot_ms + clock::ticks_to_ms(identity.start_ticks) > mtime_ms + TIMESTAMP_SLACK_MS {
        return Ok(Status::Stale(StaleReason::StartedAfterFile));
    }
    Ok(Status::Alive {
        identity,
        strength: IdentityStrength::Weak,
        exe: ExeCheck::Unknown,
    })
}

/// The same verdict for a process named on a command line: a bare PID (alive when a process
/// has it: [`IdentityStrength::Weak`]; gone when none does) or an identity (stale when its PID
/// now belongs to another process).
///
/// Errors: `InvalidArgument` for a PID the rails refuse; `NotFound` for the id of a thread (the
/// message names its process).
pub fn check_target(target: &ProcessRef) -> Result<Status> {
    let process = match Process::open_unless_gone(target) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(Status::Gone),
        Err(e) if e.kind() == ErrorKind::IdentityMismatch => {
            return Ok(Status::Stale(StaleReason::Reused))
        }
        Err(e) if e.kind() == ErrorKind::NotFound && !is_thread(target.pid()) => {
            return Ok(Status::Gone)
        }
        Err(e) => return Err(e),
    };
    if !process.is_running()? {
        return Ok(Status::Gone);
    }
    let strength = match target {
        ProcessRef::Identity(_) => IdentityStrength::Strong,
        _ => IdentityStrength::Weak,
    };
    Ok(Status::Alive {
        identity: process.identity().clone(),
        strength,
        exe: ExeCheck::Unknown,
    })
}

/// Whether `pid` is the id of a thread of another process.
fn is_thread(pid: u32) -> bool {
    ProcReader::new()
        .and_then(|mut r| r.tgid(pid))
        .is_ok_and(|tgid| tgid != pid)
}

/// A PID file about to be written: its temporary file exists and is locked. Made before the
/// process is started (so that a path that cannot be written fails first), written by
/// [`Pending::commit`] once the PID is known.
#[derive(Debug)]
pub struct Pending {
    file: AtomicFile,
    path: PathBuf,
}

/// Get ready to write a PID file at `path`.
///
/// Refused (`Refused`) when `path` names a process that is running: a second copy is not
/// started over a live one. An existing file that cannot be read as a PID file is an error
/// (its kind, as for [`read`]) and is left alone; a stale one, or one whose process is gone,
/// will be replaced. Errors creating the temporary file are as for [`crate::fs::write_atomic`].
pub fn prepare(path: &Path) -> Result<Pending> {
    match read(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::new(
                e.kind(),
                format!(
                    "{}; not replacing it (remove it, or give another path)",
                    e.message()
                ),
            ))
        }
        Ok(pf) => {
            if let Status::Alive { identity, .. } = pf.check()? {
                return Err(Error::new(
                    ErrorKind::Refused,
                    format!(
                        "PID file {} names process {identity}, which is running; not starting \
                         a second copy (stop it first)",
                        path.display()
                    ),
                ));
            }
        }
    }
    let mut file = AtomicFile::new(path, DEFAULT_MODE)?;
    // Nobody else can know the temporary file yet: the lock is free.
    flock::try_lock(file.file(), true)
        .map_err(|e| Error::from_io(format_args!("locking {}", file.temp_path().display()), &e))?;
    Ok(Pending {
        file,
        path: path.to_path_buf(),
    })
}

impl Pending {
    /// Write the record of the running process `pid` and put it in place, keeping its lock.
    ///
    /// Errors: `NotFound` when the process has already exited (nothing is written);
    /// write errors as for [`crate::fs::write_atomic`].
    pub fn commit(mut self, pid: u32) -> Result<Owned> {
        let identity = Process::open(pid)?.identity().clone();
        let mut proc = ProcReader::new().map_err(|e| Error::from_io("opening /proc", &e))?;
        let exe = proc.exe(pid).ok().flatten();
        let argv = proc.cmdline(pid).unwrap_or_default();
        let record = Record {
            format: FORMAT.into(),
            start_unix_ms: clock::boot_unix_ms() + clock::ticks_to_ms(identity.start_ticks),
            identity,
            exe,
            argv,
        };
        let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
        let tmp = self.file.temp_path().to_path_buf();
        self.file
            .file()
            .write_all(text.as_bytes())
            .map_err(|e| Error::from_io(format_args!("writing {}", tmp.display()), &e))?;
        let file = self.file.commit()?;
        let meta = file
            .metadata()
            .map_err(|e| Error::from_io(format_args!("reading {}", self.path.display()), &e))?;
        Ok(Owned {
            file_id: (meta.dev(), meta.ino()),
            _lock: file,
            path: self.path,
            record,
            released: false,
        })
    }
}

/// Write a PID file for the running process `pid` at `path` and own it ([`prepare`], then
/// [`Pending::commit`]).
pub fn create(path: &Path, pid: u32) -> Result<Owned> {
    prepare(path)?.commit(pid)
}

/// A PID file this process wrote and owns: its lock is held until [`Owned::release`] or drop,
/// which remove the file if it still names the process (and leave a file that replaced it).
///
/// The lock is on a close-on-exec descriptor: programs this process executes do not hold it,
/// but a child that is forked without exec shares it until it exits.
#[derive(Debug)]
pub struct Owned {
    _lock: File,
    path: PathBuf,
    record: Record,
    file_id: (u64, u64),
    released: bool,
}

impl Owned {
    /// What the file holds.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remove the file if the path still holds it with the same content, then let go of the
    /// lock. The comparison runs while the lock is held.
    pub fn release(mut self) -> Result<Removal> {
        self.released = true;
        remove_own(
            &self.path,
            self.file_id,
            &Content::Record(self.record.clone()),
        )
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if !self.released {
            let _ = remove_own(
                &self.path,
                self.file_id,
                &Content::Record(self.record.clone()),
            );
        }
    }
}

/// What became of a PID file that was to be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Removal {
    /// It still named the process, and was removed.
    Removed,
    /// It was gone already (its owner removed it).
    AlreadyRemoved,
    /// The path now holds another file or other content (a newer writer's): kept.
    Replaced,
    /// Its owner still held the lock when the wait ended: kept (the owner removes it itself
    /// when its process ends).
    Locked,
}

/// Remove the PID file `pf` was read from, if it still names the same process: the file is
/// locked (waiting up to `wait` for a live owner to let go, in the kernel), and only then
/// compared — the path must still name the same file, and its content must be unchanged.
///
/// There is no "unlink if unchanged" in the kernel: a writer that renames a new file into
/// place in the microseconds between the comparison and the removal loses its file. Writers
/// that take [`prepare`]'s path do not race like that with a running process's file.
///
/// If the wait ends first, a helper thread stays blocked on the lock until the owner lets go,
/// and releases it at once.
pub fn remove_if_names(pf: &PidFile, wait: Duration) -> Result<Removal> {
    let file = match open_nofollow(&pf.path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Removal::AlreadyRemoved),
        Err(e) => return Err(e),
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::from_io(format_args!("reading PID file {}", pf.path.display()), &e))?;
    if (meta.dev(), meta.ino()) != pf.file_id {
        return Ok(Removal::Replaced);
    }
    let Some(_held) = lock_within(&file, wait)
        .map_err(|e| Error::from_io(format_args!("locking {}", pf.path.display()), &e))?
    else {
        return Ok(Removal::Locked);
    };
    remove_own(&pf.path, pf.file_id, &pf.content)
}

/// Remove `path` if it is still the file `file_id` and holds `content`.
fn remove_own(path: &Path, file_id: (u64, u64), content: &Content) -> Result<Removal> {
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if gone(&e) => return Ok(Removal::AlreadyRemoved),
        Err(e) => {
            return Err(Error::from_io(
                format_args!("reading {}", path.display()),
                &e,
            ))
        }
    };
    if (meta.dev(), meta.ino()) != file_id {
        return Ok(Removal::Replaced);
    }
    // Re-read: a legacy writer may have rewritten it in place.
    match load(path) {
        Ok((now, _, _)) if now == *content => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Removal::AlreadyRemoved),
        _ => return Ok(Removal::Replaced),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(Removal::Removed),
        Err(e) if gone(&e) => Ok(Removal::AlreadyRemoved),
        Err(e) => Err(Error::from_io(
            format_args!("removing {}", path.display()),
            &e,
        )),
    }
}

/// Take the exclusive lock of `file` on a descriptor of its own, waiting up to `wait`: the
/// kernel wakes a thread blocked in `flock` when the holder lets go (no polling). `None` when
/// the wait ended first; the thread then releases the lock as soon as it gets it.
fn lock_within(file: &File, wait: Duration) -> std::io::Result<Option<File>> {
    // A new open file description of the same file, so that the lock belongs to it alone.
    let mine = File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    if flock::try_lock(&mine, true)? {
        return Ok(Some(mine));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("tether-pidfile-lock".into())
        .spawn(move || {
            if flock::lock_exclusive(&mine).is_ok() {
                // A receiver that stopped waiting drops the file, which releases the lock.
                let _ = tx.send(mine);
            }
        })?;
    Ok(rx.recv_timeout(wait).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};

    struct Kid(Child);
    impl Drop for Kid {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    /// `sleep 300`, returned once it has exec'd (before that, its argv and exe are still
    /// this test binary's, which a record taken under load would capture).
    fn sleeper() -> Kid {
        let kid = Kid(Command::new("sleep").arg("300").spawn().unwrap());
        let cmdline = format!("/proc/{}/cmdline", kid.0.id());
        let began = std::time::Instant::now();
        while std::fs::read(&cmdline).map_or(true, |c| !c.starts_with(b"sleep\0"))
            && began.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        kid
    }
    /// The executable of `pid`, as /proc names it.
    fn exe_of(pid: u32) -> String {
        let p = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn err_of(text: &[u8]) -> String {
        parse(text).unwrap_err()
    }

    #[test]
    fn parses_bare_pids_and_refuses_the_rest() {
        assert_eq!(parse(b"4242\n").unwrap(), Content::Legacy(4242));
        assert_eq!(parse(b"  17 \t\n").unwrap(), Content::Legacy(17));
        assert_eq!(parse(b"+5").unwrap(), Content::Legacy(5));
        assert!(err_of(b"").contains("is empty"));
        assert!(err_of(b" \n").contains("only white space"));
        assert!(err_of(b"abc").contains("\"abc\", not a PID"));
        assert!(err_of(b"12 13").contains("not a PID"));
        assert!(err_of(b"12\n13").contains("not a PID"));
        assert!(err_of(b"0x10").contains("not a PID"));
        assert!(err_of(b"-").contains("not a PID"));
        assert!(err_of(b"0").contains("PID 0"));
        assert!(err_of(b"1\n").contains("init"));
        assert!(err_of(b"-5").contains("negative PID (-5)"));
        assert!(err_of(b"2147483648").contains("out of range"));
        assert!(err_of(b"99999999999999999999999").contains("out of range"));
        assert!(err_of(b"-99999999999999999999999").contains("negative"));
        assert!(err_of(b"\xff\xfe").contains("binary"));
        assert_eq!(
            parse(b"2147483647").unwrap(),
            Content::Legacy(i32::MAX as u32)
        );
    }

    #[test]
    fn parses_records_and_refuses_bad_ones() {
        let id = ProcessIdentity::of(std::process::id()).unwrap();
        let rec = Record {
            format: FORMAT.into(),
            identity: id,
            exe: Some("/bin/x".into()),
            argv: vec!["x".into()],
            start_unix_ms: 1,
        };
        let text = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            parse(text.as_bytes()).unwrap(),
            Content::Record(rec.clone())
        );
        let with = |k: &str, v: serde_json::Value| {
            let mut j = serde_json::to_value(&rec).unwrap();
            j[k] = v;
            err_of(j.to_string().as_bytes())
        };
        assert!(with("format", "tether.pidfile/v2".into()).contains("newer tether"));
        assert!(with("format", "x".into()).contains("not a tether PID file"));
        assert!(with("pid", 0.into()).contains("PID 0"));
        assert!(with("pid", 1.into()).contains("init"));
        assert!(with("pid", (-3).into()).contains("malformed JSON"));
        assert!(with("boot_id", "".into()).contains("boot id"));
        assert!(with("boot_id", "zz".into()).contains("boot id"));
        assert!(err_of(b"{\"format\":").contains("malformed JSON"));
    }

    #[test]
    fn owner_holds_the_lock_and_removes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.pid");
        let kid = sleeper();
        let owned = create(&path, kid.0.id()).unwrap();
        assert_eq!(owned.record().exe, Some(exe_of(kid.0.id())));
        assert_eq!(owned.record().argv, ["sleep", "300"]);
        let pf = read(&path).unwrap();
        assert!(pf.locked);
        assert_eq!(pf.pid(), kid.0.id());
        let Status::Alive { strength, exe, .. } = pf.check().unwrap() else {
            panic!("not alive");
        };
        assert_eq!((strength, exe), (IdentityStrength::Strong, ExeCheck::Same));
        // A second owner is refused while the process runs.
        let e = create(&path, std::process::id()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Refused, "{e}");
        // The owner's lock makes a remover wait; it gives up when its wait ends.
        assert_eq!(
            remove_if_names(&pf, Duration::from_millis(50)).unwrap(),
            Removal::Locked
        );
        assert_eq!(owned.release().unwrap(), Removal::Removed);
        assert!(!path.exists());
        assert_eq!(read(&path).unwrap_err().kind(), ErrorKind::NotFound);
    }

    #[test]
    fn owner_keeps_a_file_that_replaced_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.pid");
        let kid = sleeper();
        let owned = create(&path, kid.0.id()).unwrap();
        crate::fs::write_atomic(&path, b"12345\n").unwrap();
        assert_eq!(owned.release().unwrap(), Removal::Replaced);
        assert_eq!(std::fs::read(&path).unwrap(), b"12345\n");
        // Rewritten in place (same file, other content): kept too.
        let owned = create(&path, kid.0.id()).unwrap();
        std::fs::write(&path, b"54321\n").unwrap();
        drop(owned);
        assert_eq!(std::fs::read(&path).unwrap(), b"54321\n");
    }

    #[test]
    fn remover_waits_for_the_owner_and_finds_the_file_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.pid");
        let kid = sleeper();
        let owned = create(&path, kid.0.id()).unwrap();
        let pf = read(&path).unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            owned.release().unwrap()
        });
        let r = remove_if_names(&pf, Duration::from_secs(30)).unwrap();
        assert_eq!(t.join().unwrap(), Removal::Removed);
        assert_eq!(r, Removal::AlreadyRemoved);
    }

    #[test]
    fn orphaned_record_of_an_exited_process_is_gone_and_removable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.pid");
        let mut kid = sleeper();
        let owned = create(&path, kid.0.id()).unwrap();
        // The owner is "killed": its lock goes, its file stays.
        let text = std::fs::read(&path).unwrap();
        drop(owned);
        crate::fs::write_atomic(&path, &text).unwrap();
        let pf = read(&path).unwrap();
        assert!(!pf.locked);
        assert!(pf.check().unwrap().is_alive());
        kid.0.kill().unwrap();
        kid.0.wait().unwrap();
        assert_eq!(pf.check().unwrap(), Status::Gone);
        assert_eq!(remove_if_names(&pf, LOCK_WAIT).unwrap(), Removal::Removed);
    }

    #[test]
    fn record_verdicts_reused_rebooted_exe() {
        let kid = sleeper();
        let id = ProcessIdentity::of(kid.0.id()).unwrap();
        let sleep = exe_of(kid.0.id());
        let rec = |id: ProcessIdentity, exe: &str| Record {
            format: FORMAT.into(),
            identity: id,
            exe: Some(exe.into()),
            argv: vec![],
            start_unix_ms: 0,
        };
        let mut other = id.clone();
        other.start_ticks += 1;
        other.pidfs_inode = None;
        assert_eq!(
            check_record(&rec(other, &sleep), false).unwrap(),
            Status::Stale(StaleReason::Reused)
        );
        let mut boot = id.clone();
        boot.boot_id = "0123456789abcdef0123456789abcdef".into();
        assert_eq!(
            check_record(&rec(boot, &sleep), false).unwrap(),
            Status::Stale(StaleReason::Rebooted)
        );
        // Another executable: stale unless the kernel (pidfs inode) or the owner vouches.
        let mut no_inode = id.clone();
        no_inode.pidfs_inode = None;
        assert!(matches!(
            check_record(&rec(no_inode.clone(), "/bin/else"), false).unwrap(),
            Status::Stale(StaleReason::ExeChanged { .. })
        ));
        let vouched = check_record(&rec(no_inode, "/bin/else"), true).unwrap();
        assert!(
            matches!(&vouched, Status::Alive { exe: ExeCheck::Changed { now, .. }, .. } if *now == sleep),
            "{vouched:?}"
        );
        let proven = check_record(&rec(id.clone(), "/bin/else"), false).unwrap();
        assert_eq!(proven.is_alive(), id.pidfs_inode.is_some(), "{proven:?}");
    }

    #[test]
    fn legacy_trusts_only_a_process_older_than_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.pid");
        let kid = sleeper();
        std::fs::write(&path, format!("{}\n", kid.0.id())).unwrap();
        let pf = read(&path).unwrap();
        assert!(!pf.locked);
        let st = pf.check().unwrap();
        assert!(
            matches!(
                st,
                Status::Alive {
                    strength: IdentityStrength::Weak,
                    ..
                }
            ),
            "{st:?}"
        );
        // Written before the process started: the PID was reused since.
        let f = File::options().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(2))
            .unwrap();
        let kid2 = sleeper();
        std::fs::write(&path, format!("{}\n", kid2.0.id())).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(2))
            .unwrap();
        // kid2 started less than 2 s ago.
        let st = read(&path).unwrap().check().unwrap();
        assert_eq!(st, Status::Stale(StaleReason::StartedAfterFile));
        // Written before the last boot.
        f.set_modified(UNIX_EPOCH + Duration::from_secs(1000))
            .unwrap();
        let st = read(&path).unwrap().check().unwrap();
        assert_eq!(st, Status::Stale(StaleReason::Rebooted));
    }

    #[test]
    fn read_refuses_what_is_not_a_pid_file() {
        let dir = tempfile::tempdir().unwrap();
        let kind = |p: &Path| read(p).unwrap_err().kind();
        assert_eq!(kind(dir.path()), ErrorKind::InvalidArgument);
        assert_eq!(kind(&dir.path().join("none")), ErrorKind::NotFound);
        let real = dir.path().join("real");
        std::fs::write(&real, "4242\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = read(&link).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("symbolic link"), "{e}");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'1'; 3 * 1024 * 1024]).unwrap();
        let e = read(&big).unwrap_err();
        assert!(e.message().contains("bytes long"), "{e}");
        let fifo = dir.path().join("fifo");
        assert!(Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let e = read(&fifo).unwrap_err();
        assert!(e.message().contains("not a regular file"), "{e}");
    }

    #[test]
    fn targets_alive_gone_and_reused() {
        let mut kid = sleeper();
        let pid = kid.0.id();
        let id = ProcessIdentity::of(pid).unwrap();
        assert!(check_target(&ProcessRef::Pid(pid)).unwrap().is_alive());
        let mut other = id.clone();
        other.start_ticks += 1;
        other.pidfs_inode = None;
        assert_eq!(
            check_target(&ProcessRef::Identity(other)).unwrap(),
            Status::Stale(StaleReason::Reused)
        );
        kid.0.kill().unwrap();
        // A zombie is not alive.
        let p = Process::open(pid).unwrap();
        assert!(p.wait(Some(Duration::from_secs(30))).unwrap().exited());
        assert_eq!(check_target(&ProcessRef::Pid(pid)).unwrap(), Status::Gone);
        kid.0.wait().unwrap();
        assert_eq!(check_target(&ProcessRef::Pid(pid)).unwrap(), Status::Gone);
        assert_eq!(
            check_target(&ProcessRef::Identity(id)).unwrap(),
            Status::Gone
        );
        assert_eq!(
            check_target(&ProcessRef::Pid(0)).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
