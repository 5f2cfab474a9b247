//! [`Process`]: one handle for one process — a pidfd and the identity verified on it.
//!
//! Every operation that acts on one process takes or builds a `Process`, so "open this target"
//! exists once: a PID or an identity ([`ProcessRef`]) is opened here, its identity checked on
//! the pidfd, and from then on signals go through that pidfd (they reach this process or
//! nobody, never a later process that got its PID), and what is read by PID from /proc is
//! re-checked against it afterwards, so that a record never belongs to a successor.
//!
//! ```
//! use tether::{Process, ProcessRef};
//! use tether::inspect::{Field, FieldSet};
//!
//! let me = Process::current().unwrap();
//! // Remember the identity, not the PID: it refuses a reused PID later.
//! let token = me.identity().to_string();
//! let again = Process::open_ref(&token.parse::<ProcessRef>().unwrap()).unwrap();
//! assert_eq!(again.pid(), std::process::id());
//! let info = again.info(FieldSet::of(&[Field::Name])).unwrap();
//! assert!(info.name.is_some());
//! assert!(again.is_running().unwrap());
//! ```

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::identity::{self, ProcessIdentity};
use crate::inspect::{FieldSet, ProcessInfo, ProcessTree};
use crate::net::FdInfo;
use crate::net::FdKind;
use crate::ready::Cancel;
use crate::signal::rails::{parse_pid, validate_pid};
use crate::signal::{SendState, Signal, SignalOptions};
use crate::sys::os::{family, pidfd};
use crate::terminate::{StopOptions, StopOutcome};
use crate::wait::{WaitMode, WaitOutcome};

/// A process named by the caller: a bare PID, or an identity that also says which process
/// had that PID. Parse one from `"4242"` or from an identity string
/// (`PID:START_TICKS:BOOT8[:INODE]`, as [`ProcessIdentity`] prints it).
///
/// ```
/// use tether::ProcessRef;
/// assert_eq!("4242".parse::<ProcessRef>().unwrap(), ProcessRef::Pid(4242));
/// let r: ProcessRef = "4242:1234567:9f1c0a3e".parse().unwrap();
/// assert!(matches!(r, ProcessRef::Identity(ref id) if id.start_ticks == 1234567));
/// assert_eq!(r.pid(), 4242);
/// assert!("0".parse::<ProcessRef>().is_err()); // the rails: never PID 0
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProcessRef {
    /// A bare PID: its identity is taken when it is opened.
    Pid(u32),
    /// A process named by identity: refused once its PID belongs to another process.
    Identity(ProcessIdentity),
}

impl ProcessRef {
    /// The PID it names.
    pub fn pid(&self) -> u32 {
        match self {
            ProcessRef::Pid(p) => *p,
            ProcessRef::Identity(id) => id.pid,
        }
    }
}

impl FromStr for ProcessRef {
    type Err = Error;

    /// A PID (the rails apply: not 0, not negative, not above `i32::MAX`), or an identity
    /// string (anything with a `:`). `InvalidArgument` otherwise.
    fn from_str(s: &str) -> Result<ProcessRef> {
        if s.contains(':') {
            return s.parse().map(ProcessRef::Identity);
        }
        parse_pid(s).map(ProcessRef::Pid)
    }
}

impl From<u32> for ProcessRef {
    fn from(pid: u32) -> Self {
        ProcessRef::Pid(pid)
    }
}

impl From<ProcessIdentity> for ProcessRef {
    fn from(id: ProcessIdentity) -> Self {
        ProcessRef::Identity(id)
    }
}

/// The PID, or the identity string.
impl fmt::Display for ProcessRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessRef::Pid(p) => write!(f, "{p}"),
            ProcessRef::Identity(id) => write!(f, "{id}"),
        }
    }
}

/// One process: a pidfd on it and the identity verified on that pidfd.
///
/// The handle stays valid after the process exits (a zombie, or reaped): signals then reach
/// nobody and reads by PID fail with `NotFound`, never reaching a process that reused its PID.
/// It holds one file descriptor.
#[derive(Debug)]
pub struct Process {
    fd: OwnedFd,
    identity: ProcessIdentity,
}

impl AsFd for Process {
    /// The pidfd: readable once the process has exited.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Process {
    /// Open the process `pid` and take its identity on the pidfd.
    ///
    /// Errors: `InvalidArgument` for a PID the rails refuse (0, above `i32::MAX`); `NotFound`
    /// when no process has that PID ("no such process"), also for the id of a thread (the
    /// message names its process: "PID 4243 is a thread of process 4242, not a process"), or
    /// when it exited while being identified; `PermissionDenied` when /proc hides it from
    /// this user. A process of another user opens like any other.
    pub fn open(pid: u32) -> Result<Process> {
        let fd = Self::pidfd(pid)?;
        let identity = ProcessIdentity::of_pidfd(pid, &fd)?;
        Ok(Process { fd, identity })
    }

    /// Open the process `id` names, refusing any other: `NotFound` when it has exited
    /// ("process 4242 has exited", or it belonged to an earlier boot), `IdentityMismatch` when
    /// its PID now belongs to another process.
    ///
    /// [`Process::identity`] is then `id` as given (it was verified).
    pub fn from_identity(id: &ProcessIdentity) -> Result<Process> {
        let fd = id.open()?;
        Ok(Process {
            fd,
            identity: id.clone(),
        })
    }

    /// [`Process::open`] or [`Process::from_identity`], as `r` says.
    pub fn open_ref(r: &ProcessRef) -> Result<Process> {
        match r {
            ProcessRef::Pid(p) => Self::open(*p),
            ProcessRef::Identity(id) => Self::from_identity(id),
        }
    }

    /// Like [`Process::open_ref`], but a process that existed and has exited is `Ok(None)`
    /// instead of an error: an identity whose process is gone, or a PID whose process exited
    /// while it was being identified. What `wait` and `stop` need, for which "already gone" is
    /// an answer. A bare PID that names no process at all is still `NotFound` (a mistyped
    /// PID must not pass), and so is a thread id; a reused identity is `IdentityMismatch`.
    pub fn open_unless_gone(r: &ProcessRef) -> Result<Option<Process>> {
        let gone_is_none = |e: Error| {
            if e.kind() == ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(e)
            }
        };
        match r {
            ProcessRef::Pid(p) => {
                let fd = Self::pidfd(*p)?;
                match ProcessIdentity::of_pidfd(*p, &fd) {
                    Ok(identity) => Ok(Some(Process { fd, identity })),
                    Err(e) => gone_is_none(e),
                }
            }
            ProcessRef::Identity(id) => Self::from_identity(id).map(Some).or_else(gone_is_none),
        }
    }

    /// The calling process.
    pub fn current() -> Result<Process> {
        Self::open(std::process::id())
    }

    fn pidfd(pid: u32) -> Result<OwnedFd> {
        validate_pid(pid as i64)?;
        pidfd::open(pid)
    }

    /// Its PID (in the caller's PID namespace).
    pub fn pid(&self) -> u32 {
        self.identity.pid
    }

    /// Its identity, as verified when it was opened.
    pub fn identity(&self) -> &ProcessIdentity {
        &self.identity
    }

    /// Its record, with `fields` (see [`crate::inspect::get`]). Read by PID from /proc, then
    /// re-verified on the pidfd — it still runs, or is still the zombie holding its PID —:
    /// `NotFound` ("exited while being read") rather than a record of a process that reused
    /// the PID. A zombie has a record.
    pub fn info(&self, fields: FieldSet) -> Result<ProcessInfo> {
        let record = crate::inspect::get(self.pid(), fields)?;
        self.still_named()?;
        Ok(record)
    }

    /// Whether it is still running: `false` once it has exited, zombie included (its pidfd is
    /// readable then). Nothing is sent, so a process of another user runs like any other.
    ///
    /// A `Result`, not a `bool`: the only failure is the `poll` on the pidfd itself failing
    /// (out of memory), and answering "not running" then would let a caller treat a live
    /// process as gone — the very mistake identity checks exist to prevent.
    pub fn is_running(&self) -> Result<bool> {
        pidfd::is_alive(&self.fd)
    }

    /// Send `sig` through the pidfd, with the rails applied ([`crate::signal::rails`]: not the
    /// caller, its ancestors, PID 1, ...; `Refused`). `NotFound` when the process has exited;
    /// `PermissionDenied` when it belongs to another user.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        match self.signal_with(sig, &SignalOptions::default())? {
            SendState::Gone => Err(Error::not_found(format!(
                "process {} has exited",
                self.pid()
            ))),
            _ => Ok(()),
        }
    }

    /// Send `sig` with options ([`SignalOptions`]: `force` past the rails, `require_exe`,
    /// `dry_run`), as [`crate::signal::send_all`] does for one process. Returns
    /// [`SendState::Sent`], [`SendState::WouldSend`] (dry run) or [`SendState::Gone`] (it
    /// exited after it was validated).
    pub fn signal_with(&self, sig: Signal, opts: &SignalOptions) -> Result<SendState> {
        let mut out = crate::signal::send_all(std::slice::from_ref(self), sig, opts)?;
        Ok(out.remove(0).outcome)
    }

    /// Wait for it to exit, up to `timeout` (`None` = forever): one `poll` on the pidfd. The
    /// exit status is known when it is a child of the caller (read without reaping it);
    /// otherwise the outcome says the kernel did not tell. A timeout is
    /// [`crate::wait::WaitState::TimedOut`], not an error.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<WaitOutcome> {
        let mut r = crate::wait::wait_all(std::slice::from_ref(self), WaitMode::All, timeout)?;
        Ok(r.targets.remove(0))
    }

    /// [`Process::wait`] that another thread can end early: `Ok(None)` when `cancel` is
    /// cancelled, before or during the wait (its eventfd is polled with the pidfd).
    pub fn wait_cancellable(
        &self,
        timeout: Option<Duration>,
        cancel: &Cancel,
    ) -> Result<Option<WaitOutcome>> {
        let r = crate::wait::wait_all_cancellable(
            std::slice::from_ref(self),
            WaitMode::All,
            timeout,
            cancel,
        )?;
        Ok(r.map(|mut r| r.targets.remove(0)))
    }

    /// Stop it and its whole tree: [`crate::terminate::stop`].
    pub fn terminate_tree(&self, opts: &StopOptions) -> Result<StopOutcome> {
        crate::terminate::stop(self, opts)
    }

    /// Its children, each opened (see [`Process::descendants`]).
    pub fn children(&self) -> Result<Vec<Process>> {
        self.family(Some(1))
    }

    /// Its descendants, breadth first, each opened and so held by a pidfd. Found through
    /// `/proc/PID/task/*/children` of each member, at the cost of the tree and never of a pass
    /// over /proc; each is taken only if, once held, it still has the parent it was listed
    /// under, and the listing is re-verified on this process's pidfd (so it was not a
    /// successor's). A descendant that exits meanwhile is left out; zombies are included.
    ///
    /// Errors: `NotFound` when this process has exited and been reaped; a failure to hold a
    /// descendant other than its exit (EMFILE: one descriptor per descendant).
    pub fn descendants(&self) -> Result<Vec<Process>> {
        self.family(None)
    }

    fn family(&self, depth: Option<usize>) -> Result<Vec<Process>> {
        let mut out = Vec::new();
        let mut failed = None;
        family::walk_descendants(&[self.pid()], depth, &mut |child, parent| {
            if failed.is_some() {
                return false;
            }
            match Process::open(child) {
                // Held first, then checked: had the PID been reused since it was listed, the
                // process now holding it would have another parent (or be a new child of the
                // same parent, and so a descendant too).
                Ok(p) if family::parentage(child).is_some_and(|par| par.ppid == parent) => {
                    out.push(p);
                    true
                }
                Ok(_) => false,
                Err(e) if e.kind() == ErrorKind::NotFound => false,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        self.still_named()?;
        Ok(out)
    }

    /// The PIDs of its ancestors, nearest first, up to the top of the caller's PID namespace.
    /// Re-verified after the read, as [`Process::info`].
    pub fn ancestors(&self) -> Result<Vec<u32>> {
        let chain = family::ancestors(self.pid()).ok_or_else(|| self.exited_while_read())?;
        self.still_named()?;
        Ok(chain.into_iter().map(|(p, _)| p).collect())
    }

    /// It and its descendants as a tree, down to `depth` levels, each with `fields` (and its
    /// parent): [`crate::inspect::tree`], re-verified after the read.
    pub fn tree(&self, depth: Option<usize>, fields: FieldSet) -> Result<ProcessTree> {
        let t = crate::inspect::tree(self.pid(), depth, fields)?;
        self.still_named()?;
        Ok(t)
    }

    /// Its open fds (or only those of `kind`): [`crate::net::fds`]. `PermissionDenied` for
    /// another user's process unless the caller is root.
    pub fn open_files(&self, kind: Option<FdKind>) -> Result<Vec<FdInfo>> {
        crate::net::fds(self, kind).map(|o| o.fds)
    }

    /// Confirm, after something was read by PID, that the PID still named this process, so
    /// that what was read was its own: it runs now (then it ran throughout), or it is still
    /// the zombie holding its PID (the same pidfs inode, or without pidfs the same start time).
    /// `NotFound` ("exited while being read") otherwise.
    pub(crate) fn still_named(&self) -> Result<()> {
        if pidfd::is_alive(&self.fd)? {
            return Ok(());
        }
        let pid = self.pid();
        let still = match pidfd::inode(self.fd.as_fd()) {
            Some(ino) => pidfd::inode_of(pid) == Some(ino),
            None => identity::read_start(pid).is_ok_and(|(ticks, state)| {
                ticks == self.identity.start_ticks && matches!(state, 'Z' | 'X')
            }),
        };
        if still {
            Ok(())
        } else {
            Err(self.exited_while_read())
        }
    }

    fn exited_while_read(&self) -> Error {
        Error::not_found(format!("process {} exited while being read", self.pid()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::Field;
    use crate::wait::WaitState;

    use crate::testing::sleeper;

    #[test]
    fn refs_parse_and_print() {
        assert_eq!("42".parse::<ProcessRef>().unwrap(), ProcessRef::Pid(42));
        assert_eq!(ProcessRef::from(42u32).to_string(), "42");
        let id: ProcessIdentity = "10:20:abcdef01:7".parse().unwrap();
        let r = ProcessRef::from(id.clone());
        assert_eq!(r.to_string(), "10:20:abcdef01:7");
        assert_eq!(r.to_string().parse::<ProcessRef>().unwrap(), r);
        for bad in ["0", "-1", "x", "2147483648", "10:x:ab", ""] {
            let e = bad.parse::<ProcessRef>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn opens_by_pid_and_by_identity() {
        let mut child = sleeper();
        let p = Process::open(child.id()).unwrap();
        assert_eq!(p.pid(), child.id());
        assert!(p.is_running().unwrap());
        let by_id = Process::from_identity(p.identity()).unwrap();
        assert_eq!(by_id.identity(), p.identity());
        let by_str = Process::open_ref(&p.identity().to_string().parse().unwrap()).unwrap();
        assert_eq!(by_str.pid(), child.id());
        // One clock tick off, without the pidfs inode: another process than this one.
        let mut other = p.identity().clone();
        other.start_ticks += 1;
        other.pidfs_inode = None;
        let e = Process::from_identity(&other).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IdentityMismatch);
        let e = Process::open_unless_gone(&other.clone().into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IdentityMismatch);
        child.kill().unwrap();
        child.wait().unwrap();
        // The handle stays: it tells that its process is gone, and reads nothing by PID.
        assert!(!p.is_running().unwrap());
        assert_eq!(
            p.info(FieldSet::empty()).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            p.signal(Signal::TERM).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        // Gone: an identity is gone (None), a bare PID that names nothing is an error.
        let e = Process::from_identity(p.identity()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message().contains("has exited"), "{e}");
        assert!(Process::open_unless_gone(&p.identity().clone().into())
            .unwrap()
            .is_none());
        let e = Process::open(child.id()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message().contains("no such process"), "{e}");
        let e = Process::open_unless_gone(&ProcessRef::Pid(child.id())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn a_wait_ends_when_cancelled() {
        let mut child = sleeper();
        let p = Process::open(child.id()).unwrap();
        let cancel = Cancel::new().unwrap();
        let c = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            c.cancel();
        });
        assert!(p.wait_cancellable(None, &cancel).unwrap().is_none());
        t.join().unwrap();
        assert!(p.is_running().unwrap());
        let fresh = Cancel::new().unwrap();
        let r = p
            .wait_cancellable(Some(Duration::from_millis(20)), &fresh)
            .unwrap()
            .unwrap();
        assert!(r.timed_out());
        child.kill().unwrap();
        let r = p.wait_cancellable(None, &fresh).unwrap().unwrap();
        assert!(r.exited());
        child.wait().unwrap();
    }

    #[test]
    fn rails_refuse_the_unconditional_pids() {
        for pid in [0, i32::MAX as u32 + 1, u32::MAX] {
            let e = Process::open(pid).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{pid}");
        }
    }

    #[test]
    fn a_thread_id_is_named_as_a_thread() {
        crate::sys::os::proc::with_thread_id(|tid| {
            let want = format!("PID {tid} is a thread of process {}", std::process::id());
            for e in [
                Process::open(tid).unwrap_err(),
                Process::open_unless_gone(&ProcessRef::Pid(tid)).unwrap_err(),
            ] {
                assert_eq!(e.kind(), ErrorKind::NotFound);
                assert!(e.message().contains(&want), "{e}");
            }
        });
    }

    #[test]
    fn info_of_a_zombie_and_after_the_reap() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let p = Process::open(child.id()).unwrap();
        let r = p.wait(Some(Duration::from_secs(30))).unwrap();
        assert!(matches!(r.state, WaitState::Exited(_)), "{r:?}");
        assert_eq!(r.exit().unwrap().code, Some(0));
        // A zombie still holds its PID: its record is its own.
        let fields = FieldSet::of(&[Field::State, Field::Identity]);
        let info = p.info(fields).unwrap();
        assert_eq!(info.state, Some(crate::inspect::ProcessState::Zombie));
        assert_eq!(info.identity.unwrap().start_ticks, p.identity().start_ticks);
        child.wait().unwrap();
        let e = p.info(fields).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(p.ancestors().unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(p.descendants().unwrap_err().kind(), ErrorKind::NotFound);
    }

    #[test]
    fn children_descendants_and_ancestors() {
        let t = crate::testing::Nested::start();
        let p = Process::open(t.top.id()).unwrap();
        let pids = |v: Vec<Process>| v.iter().map(Process::pid).collect::<Vec<_>>();
        assert_eq!(pids(p.descendants().unwrap()), vec![t.middle, t.leaf]);
        assert_eq!(pids(p.children().unwrap()), vec![t.middle]);
        let leaf = Process::open(t.leaf).unwrap();
        assert_eq!(
            &leaf.ancestors().unwrap()[..3],
            &[t.middle, t.top.id(), std::process::id()]
        );
        let tree = p.tree(None, FieldSet::of(&[Field::Name])).unwrap();
        assert_eq!(tree.process.pid, t.top.id());
        let below = &tree.children[0].children[0].process;
        assert_eq!((below.pid, below.name.as_deref()), (t.leaf, Some("sleep")));
        let shallow = p.tree(Some(1), FieldSet::empty()).unwrap();
        assert!(shallow.children[0].children.is_empty());
    }

    #[test]
    fn signal_rails_refuse_without_sending() {
        let me = Process::current().unwrap();
        let e = me.signal(Signal::CONT).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Refused);
        let parent = Process::open(crate::sys::os::process::parent_pid().unwrap()).unwrap();
        let e = parent.signal(Signal::CONT).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert!(e.message().contains("parent"), "{e}");
        // Forced, as a dry run: validated, and still nothing is sent.
        let opts = SignalOptions {
            force: true,
            dry_run: true,
            ..Default::default()
        };
        assert_eq!(
            me.signal_with(Signal::CONT, &opts).unwrap(),
            SendState::WouldSend
        );
        let mut child = sleeper();
        let p = Process::open(child.id()).unwrap();
        p.signal(Signal::KILL).unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(9));
    }

    #[test]
    fn open_files_of_the_caller() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let _open = std::fs::File::open(f.path()).unwrap();
        let fds = Process::current()
            .unwrap()
            .open_files(Some(FdKind::File))
            .unwrap();
        assert!(fds.iter().any(|x| x.target == f.path().to_str().unwrap()));
    }
}
