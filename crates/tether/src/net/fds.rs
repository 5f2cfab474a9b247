//! The open files of a process: paths, sockets with their addresses, pipes, anonymous inodes,
//! and the position, flags and mount id that `/proc/PID/fdinfo` exposes.

use std::collections::HashMap;

use serde::Serialize;

use super::sockets::{inet_entry, unix_entry, Proto, SocketEntry, Table};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::ProcessIdentity;
use crate::process::Process;
use crate::sys::os::fd as sysfd;
use crate::sys::os::sock_diag::ALL_STATES;

/// What an fd refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FdKind {
    /// A path in the file system (regular file, directory, device, FIFO opened by path).
    File,
    #[doc = concat!("A socket (see `socket` for its protocol, state and addresses).")]
    Socket,
    /// An anonymous pipe.
    Pipe,
    /// An anonymous inode: eventfd, epoll, timerfd, signalfd, inotify, pidfd, ….
    Anon,
    /// Anything else (e.g. `/memfd:` names, deleted files are still `file`).
    Other,
}

impl std::str::FromStr for FdKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "file" => Ok(FdKind::File),
            "socket" => Ok(FdKind::Socket),
            "pipe" => Ok(FdKind::Pipe),
            "anon" => Ok(FdKind::Anon),
            "other" => Ok(FdKind::Other),
            _ => Err(Error::invalid(format!(
                "unknown fd kind '{s}': use file, socket, pipe, anon or other"
            ))),
        }
    }
}

/// Classify a `/proc/PID/fd` link target.
pub fn kind_of(target: &str) -> FdKind {
    if target.starts_with('/') {
        FdKind::File
    } else if target.starts_with("socket:[") {
        FdKind::Socket
    } else if target.starts_with("pipe:[") {
        FdKind::Pipe
    } else if target.starts_with("anon_inode:") {
        FdKind::Anon
    } else {
        FdKind::Other
    }
}

/// Names of the set `O_*` flags of an fdinfo `flags` value, access mode first.
pub fn flag_names(flags: u32) -> Vec<String> {
    let f = flags as i32;
    let mut out = vec![match f & libc::O_ACCMODE {
        libc::O_RDONLY => "O_RDONLY",
        libc::O_WRONLY => "O_WRONLY",
        _ => "O_RDWR",
    }
    .to_string()];
    for (bit, name) in [
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_NONBLOCK, "O_NONBLOCK"),
        (libc::O_CLOEXEC, "O_CLOEXEC"),
        (libc::O_DIRECT, "O_DIRECT"),
        (libc::O_DIRECTORY, "O_DIRECTORY"),
        (libc::O_DSYNC, "O_DSYNC"),
        (libc::O_LARGEFILE, "O_LARGEFILE"),
        (libc::O_NOATIME, "O_NOATIME"),
        (libc::O_PATH, "O_PATH"),
        (libc::O_SYNC & !libc::O_DSYNC, "O_SYNC"),
        (libc::O_ASYNC, "O_ASYNC"),
    ] {
        if f & bit != 0 {
            out.push(name.to_string());
        }
    }
    out
}

/// One open fd.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct FdInfo {
    #[doc = concat!("The fd number.")]
    pub fd: i32,
    #[doc = concat!("What it refers to.")]
    pub kind: FdKind,
    /// The `/proc/PID/fd` link target (a path, `socket:[N]`, `pipe:[N]`, `anon_inode:[…]`).
    pub target: String,
    /// File offset, where /proc exposes one.
    pub pos: Option<u64>,
    /// Open flags as a number (fdinfo prints them in octal).
    pub flags: Option<u32>,
    /// `O_*` names of `flags`.
    pub flag_names: Vec<String>,
    #[doc = concat!("The mount id of the file system it lives on (fdinfo `mnt_id`).")]
    pub mnt_id: Option<u64>,
    /// The inode (fdinfo `ino`, or the number inside `socket:[N]` / `pipe:[N]`).
    pub inode: Option<u64>,
    /// Sockets: protocol, state and addresses, when the socket tables know the inode.
    pub socket: Option<SocketEntry>,
}

/// The open fds of one process, as [`fds`] found them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OpenFiles {
    /// The process.
    pub pid: u32,
    /// Its identity, verified (or taken) before the fds were read.
    pub identity: ProcessIdentity,
    /// Its open fds, by number.
    pub fds: Vec<FdInfo>,
}

fn bracket_inode(t: &str) -> Option<u64> {
    let open = t.find('[')?;
    t[open + 1..].strip_suffix(']')?.parse().ok()
}

/// The open fds of a process (or only those of `kind`) ([`crate::Process::open_files`]). Read
/// by PID from /proc, then re-verified on the pidfd, so that they are never a successor's
/// (`NotFound`: "exited while being read"). `PermissionDenied` for another user's process
/// unless the caller is root.
///
/// ```
/// use tether::net::fds;
/// use tether::Process;
/// let me = Process::current().unwrap();
/// let open = fds(&me, None).unwrap(); // the pidfd `me` holds is one of them
/// assert!(open.fds.iter().any(|f| f.target.contains("pidfd")));
/// ```
pub fn fds(process: &Process, kind: Option<FdKind>) -> Result<OpenFiles> {
    let pid = process.pid();
    let raw = sysfd::list(pid).map_err(|e| {
        let err = Error::from_io(format_args!("reading /proc/{pid}/fd"), &e);
        if err.kind() == ErrorKind::PermissionDenied {
            let msg = format!(
                "{}: the fds of another user's process need root",
                err.message()
            );
            err.with_message(msg)
        } else {
            err
        }
    })?;
    let mut out: Vec<FdInfo> = raw
        .into_iter()
        .map(|e| {
            let k = kind_of(&e.target);
            FdInfo {
                fd: e.fd,
                kind: k,
                inode: e.ino.or_else(|| match k {
                    FdKind::Socket | FdKind::Pipe => bracket_inode(&e.target),
                    _ => None,
                }),
                pos: e.pos,
                flag_names: e.flags.map(flag_names).unwrap_or_default(),
                flags: e.flags,
                mnt_id: e.mnt_id,
                target: e.target,
                socket: None,
            }
        })
        .filter(|f| kind.is_none_or(|k| k == f.kind))
        .collect();
    if out.iter().any(|f| f.kind == FdKind::Socket) {
        // Look the inodes up in every socket table, all states, once.
        let mut t = Table::open();
        let mut by_inode: HashMap<u64, SocketEntry> = HashMap::new();
        if let Ok(v) = t.inet_all(&[Proto::Tcp, Proto::Udp], true, None) {
            by_inode.extend(v.iter().map(|s| (s.inode, inet_entry(s))));
        }
        if let Ok(v) = t.unix(ALL_STATES) {
            by_inode.extend(v.iter().map(|s| (s.inode, unix_entry(s))));
        }
        for f in out.iter_mut().filter(|f| f.kind == FdKind::Socket) {
            if let Some(ino) = bracket_inode(&f.target) {
                f.socket = by_inode.get(&ino).cloned();
            }
        }
    }
    out.sort_by_key(|f| f.fd);
    process.still_named()?;
    Ok(OpenFiles {
        pid,
        identity: process.identity().clone(),
        fds: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_flags() {
        assert_eq!(kind_of("/etc/passwd"), FdKind::File);
        assert_eq!(kind_of("socket:[1]"), FdKind::Socket);
        assert_eq!(kind_of("pipe:[2]"), FdKind::Pipe);
        assert_eq!(kind_of("anon_inode:[eventfd]"), FdKind::Anon);
        assert_eq!(kind_of("anon_inode:inotify"), FdKind::Anon);
        assert_eq!(
            flag_names((libc::O_WRONLY | libc::O_APPEND | libc::O_CLOEXEC) as u32),
            vec!["O_WRONLY", "O_APPEND", "O_CLOEXEC"]
        );
        assert!("bogus".parse::<FdKind>().is_err());
    }

    #[test]
    fn own_fds_show_socket_address_and_file_path() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let f = tempfile::NamedTempFile::new().unwrap();
        let _open = std::fs::File::open(f.path()).unwrap();
        let me = Process::current().unwrap();
        let r = fds(&me, None).unwrap();
        let sock = r
            .fds
            .iter()
            .find(|x| x.socket.as_ref().and_then(|s| s.local_port) == Some(port))
            .expect("listener fd");
        assert_eq!(sock.kind, FdKind::Socket);
        assert_eq!(sock.socket.as_ref().unwrap().state, "LISTEN");
        assert!(r
            .fds
            .iter()
            .any(|x| x.kind == FdKind::File && x.target == f.path().to_str().unwrap()));
        let only = fds(&me, Some(FdKind::Pipe)).unwrap();
        assert!(only.fds.iter().all(|x| x.kind == FdKind::Pipe));
    }
}
