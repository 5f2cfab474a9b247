//! Starting commands as contained trees, in the shape of [`std::process::Command`]: a builder
//! ([`Command`]) and a handle on the running tree ([`Child`]). This is the library's one way to
//! start a process.
//!
//! What differs from std:
//!
//! - **Contained.** The command starts in the strongest containment available
//!   ([`ContainMode::Auto`]: a cgroup v2 leaf, else a new session whose parent is a subreaper),
//!   launched by a small watchdog process that is its parent, so that everything it starts can
//!   be found and ended, `setsid` escapers and double-forked daemons included
//!   ([`crate::contain`]). [`Child::containment`] says which mechanism was used and how strong
//!   it is.
//! - **Nothing outlives it by accident.** Ending a [`Child`] ([`Child::close`],
//!   [`Child::stop`], [`Child::kill_tree`], or dropping it) ends the whole tree; if this process
//!   dies without cleaning up (SIGKILL included), the watchdog ends the tree.
//! - **A time limit with GNU `timeout`'s contract** ([`Command::timeout`],
//!   [`Command::timeout_signal`], [`Command::kill_after`]), applied while the child is waited
//!   for.
//! - **Bounded output capture** ([`Command::output`], [`Command::capture_limit`]): the last N
//!   bytes of each stream and how many were dropped, never an unbounded buffer.
//! - **Typed start errors** ([`SpawnError`]): a missing program (127) is told from one that
//!   cannot be run (126) by kind, never by a message.
//!
//! Start a contained tree and end all of it:
//!
//! ```
//! use std::time::Duration;
//! use tether::Command;
//!
//! let mut child = Command::new("sh").args(["-c", "sleep 30 & sleep 30"]).spawn()?;
//! println!("{} in {}", child.identity(), child.containment().mechanism);
//! let outcome = child.stop(&tether::terminate::StopOptions::default())?; // TERM, grace, KILL
//! assert!(outcome.remaining.is_empty()); // the background `sleep` is gone too
//! child.close()?;
//! # Ok::<(), tether::Error>(())
//! ```
//!
//! Capture output, keeping the last 16 bytes of each stream:
//!
//! ```
//! let out = tether::Command::new("sh")
//!     .args(["-c", "seq 1 1000; echo oops >&2"])
//!     .capture_limit(16)
//!     .output()?;
//! assert!(out.status.success());
//! assert_eq!(out.stdout, b"97\n998\n999\n1000\n"); // the last 16 bytes
//! assert_eq!(out.stdout_dropped, 3893 - 16);
//! assert_eq!(out.stderr, b"oops\n");
//! # Ok::<(), tether::command::SpawnError>(())
//! ```
//!
//! Run with a time limit (TERM when it passes, KILL 2 s later if it is still running):
//!
//! ```
//! use std::time::Duration;
//! let outcome = tether::Command::new("sleep")
//!     .arg("30")
//!     .timeout(Duration::from_millis(200))
//!     .kill_after(Duration::from_secs(2))
//!     .status()?;
//! assert!(outcome.timed_out);
//! # Ok::<(), tether::command::SpawnError>(())
//! ```

mod capture;
mod child;
mod error;
mod forward;
mod limit;
mod spawn;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use capture::Output;
pub use child::Child;
pub use error::{SpawnError, SpawnErrorKind};

use crate::contain::{ChildSignals, ContainMode, Guard};
use crate::ready::Cancel;
use crate::run::{RunEvent, RunOutcome};
use crate::signal::Signal;
use crate::sys::os::fd;
use crate::wait::ExitInfo;

/// How many bytes of each stream [`Command::output`] keeps unless [`Command::capture_limit`]
/// says otherwise: 1 MiB.
pub const DEFAULT_CAPTURE_LIMIT: usize = 1 << 20;

/// How long the tree gets after the death signal when this process dies without cleaning up,
/// unless [`Command::kill_after`] says otherwise.
pub const DEFAULT_DEATH_GRACE: Duration = Duration::from_secs(1);

/// Where a standard stream of the child goes.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stdio {
    /// The same as this process's (the default of [`Command::spawn`] and [`Command::status`]).
    Inherit,
    /// `/dev/null`.
    Null,
    /// A new pipe, whose other end is [`Child::stdin`] / [`Child::stdout`] / [`Child::stderr`]
    /// (the default of stdout and stderr in [`Command::output`], which captures them).
    Piped,
    /// An open file (or any descriptor, through `From<OwnedFd>`); the child gets a copy, and the
    /// `Command` keeps it for the next spawn.
    File(File),
}

impl Stdio {
    /// A copy of this process's open descriptor `fd`, given by number (as a C caller or a
    /// binding holds it): the descriptor is duplicated, close-on-exec, so the caller keeps its
    /// own and may close it as soon as this returns; the child gets the copy
    /// ([`Stdio::File`]).
    ///
    /// Errors: [`ErrorKind::InvalidArgument`](crate::ErrorKind) for a negative number or one
    /// that is not open here; [`ErrorKind::System`](crate::ErrorKind) when no descriptor is
    /// left (`EMFILE`).
    ///
    /// Send a command's output to a file this process opened:
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use tether::command::Stdio;
    ///
    /// let path = std::env::temp_dir().join(format!("tether-dup-raw-{}", std::process::id()));
    /// let log = std::fs::File::create(&path)?;
    /// let status = tether::Command::new("echo")
    ///     .arg("hi")
    ///     .stdout(Stdio::dup_raw(log.as_raw_fd())?)
    ///     .status()?;
    /// assert!(status.success());
    /// assert_eq!(std::fs::read_to_string(&path)?, "hi\n");
    /// # std::fs::remove_file(&path)?;
    /// assert!(Stdio::dup_raw(-1).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dup_raw(fd: i32) -> crate::Result<Stdio> {
        if fd < 0 {
            return Err(crate::Error::invalid(format!(
                "file descriptor {fd} is negative: pass an open descriptor (0 or more)"
            )));
        }
        match fd::dup_raw_cloexec(fd) {
            Ok(copy) => Ok(Stdio::from(copy)),
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => Err(crate::Error::invalid(format!(
                "file descriptor {fd} is not open in this process: pass an open descriptor"
            ))),
            Err(e) => Err(crate::Error::from_io(
                format!("duplicating file descriptor {fd}"),
                &e,
            )),
        }
    }
}

impl From<File> for Stdio {
    fn from(f: File) -> Stdio {
        Stdio::File(f)
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio::File(File::from(fd))
    }
}

/// A command to start as a contained tree: program, arguments, working directory, environment,
/// standard streams, containment, and the GNU `timeout` contract. Build it with [`Command::new`]
/// and the setters (each returns `&mut Self`), then [`Command::spawn`], [`Command::output`] or
/// [`Command::status`]; it can be started again.
///
/// The program is looked up in the child's `PATH` (the one set with [`Command::env`], else this
/// process's) unless it contains a `/`, as `execvp` does.
///
/// Its `Debug` form names the variables set or removed but never shows their values, which may
/// be secrets.
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env_clear: bool,
    /// Variables set (`Some`) or removed (`None`) on top of the inherited (or cleared) set.
    env: BTreeMap<OsString, Option<OsString>>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    mode: ContainMode,
    guard: Guard,
    timeout: Option<Duration>,
    timeout_signal: Option<Signal>,
    kill_after: Option<Duration>,
    capture_limit: usize,
    /// `None`: follow the timeout signal.
    death_signal: Option<Option<Signal>>,
    process_group: bool,
    foreground_tty: bool,
    child_signals: Option<ChildSignals>,
    forward_signals: bool,
    adopt_children: bool,
    cancel: Option<Cancel>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| {
                let k = k.to_string_lossy();
                if v.is_some() {
                    format!("{k}=…")
                } else {
                    format!("-{k}")
                }
            })
            .collect();
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field("env_clear", &self.env_clear)
            .field("env", &env)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("mode", &self.mode)
            .field("guard", &self.guard)
            .field("timeout", &self.timeout)
            .field("timeout_signal", &self.timeout_signal)
            .field("kill_after", &self.kill_after)
            .field("capture_limit", &self.capture_limit)
            .field("death_signal", &self.death_signal)
            .field("process_group", &self.process_group)
            .field("foreground_tty", &self.foreground_tty)
            .field("child_signals", &self.child_signals)
            .field("forward_signals", &self.forward_signals)
            .field("adopt_children", &self.adopt_children)
            .field("cancel", &self.cancel)
            .finish()
    }
}

impl Command {
    /// A command running `program`, with defaults: no arguments, this process's environment
    /// and working directory, inherited streams, [`ContainMode::Auto`], no time limit.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            env_clear: false,
            env: BTreeMap::new(),
            stdin: None,
            stdout: None,
            stderr: None,
            mode: ContainMode::Auto,
            guard: Guard::PerCommand,
            timeout: None,
            timeout_signal: Some(Signal::TERM),
            kill_after: None,
            capture_limit: DEFAULT_CAPTURE_LIMIT,
            death_signal: None,
            process_group: false,
            foreground_tty: false,
            child_signals: None,
            forward_signals: false,
            adopt_children: false,
            cancel: None,
        }
    }

    /// Add an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Add arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Run the command in `dir` (failing to change to it is a [`SpawnErrorKind::Setup`] error).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Set a variable in the child's environment.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Set several variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Remove a variable from the child's environment (also one set earlier with `env`).
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Start the child from an empty environment (plus what is set afterwards). The program is
    /// still looked up in this process's `PATH` unless one is set.
    pub fn env_clear(&mut self) -> &mut Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Where the child's stdin comes from.
    pub fn stdin(&mut self, s: impl Into<Stdio>) -> &mut Self {
        self.stdin = Some(s.into());
        self
    }

    /// Where the child's stdout goes.
    pub fn stdout(&mut self, s: impl Into<Stdio>) -> &mut Self {
        self.stdout = Some(s.into());
        self
    }

    /// Where the child's stderr goes.
    pub fn stderr(&mut self, s: impl Into<Stdio>) -> &mut Self {
        self.stderr = Some(s.into());
        self
    }

    /// The containment to ask for (default [`ContainMode::Auto`]).
    ///
    /// [`ContainMode::Group`] holds the tree by a new session whose parent, the watchdog, is a
    /// child subreaper: orphans are reparented to it and found. Should the watchdog itself be
    /// killed, orphans are found only while they stay in the command's process group or
    /// session, unless this process is a subreaper too ([`crate::contain::become_subreaper`]).
    pub fn contain(&mut self, mode: ContainMode) -> &mut Self {
        self.mode = mode;
        self
    }

    /// What ends the tree if this process dies without cleaning up (default
    /// [`Guard::PerCommand`]; [`Guard::Shared`] for a process that starts many commands).
    ///
    /// ```
    /// use tether::contain::Guard;
    /// let out = tether::Command::new("true").guard(Guard::Shared).output()?;
    /// assert!(out.status.success());
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn guard(&mut self, guard: Guard) -> &mut Self {
        self.guard = guard;
        self
    }

    /// The time limit (GNU `timeout`'s DURATION), from the start: when it passes, the timeout
    /// signal is sent to the whole tree (followed by SIGCONT), and KILL after
    /// [`Command::kill_after`] if the command is still running. Zero means none;
    /// [`Duration::MAX`] never passes. Applied while the child is waited for
    /// ([`Child::wait`], [`Child::try_wait`], [`Command::status`], [`Command::output`]).
    pub fn timeout(&mut self, limit: Duration) -> &mut Self {
        self.timeout = (!limit.is_zero()).then_some(limit);
        self
    }

    /// The signal sent when the limit passes (GNU `-s`, default TERM). `None` is GNU's signal
    /// 0: nothing is sent, so only [`Command::kill_after`] ends the command.
    pub fn timeout_signal(&mut self, signal: Option<Signal>) -> &mut Self {
        self.timeout_signal = signal;
        self
    }

    /// Send KILL this long after the timeout signal if the command is still running (GNU `-k`;
    /// zero means never). Also the time the tree gets after the death signal if this process
    /// dies ([`Command::death_signal`]).
    pub fn kill_after(&mut self, after: Duration) -> &mut Self {
        self.kill_after = (!after.is_zero()).then_some(after);
        self
    }

    /// How many bytes of stdout and of stderr [`Command::output`] keeps, each: the last ones
    /// (default [`DEFAULT_CAPTURE_LIMIT`]).
    pub fn capture_limit(&mut self, bytes: usize) -> &mut Self {
        self.capture_limit = bytes;
        self
    }

    /// What the tree gets when this process dies without ending it (SIGKILL of this process
    /// included): this signal, then after [`Command::kill_after`] (or
    /// [`DEFAULT_DEATH_GRACE`]) KILL to whatever is left; `None` sends nothing first. Default:
    /// the timeout signal (TERM), as GNU `timeout` makes its `-s` signal the parent-death
    /// signal. With a watchdog (contained modes) the watchdog sends them; in
    /// [`ContainMode::None`] the command alone gets this signal from the kernel
    /// (`PR_SET_PDEATHSIG`), when the *thread* that spawned it exits.
    pub fn death_signal(&mut self, signal: Option<Signal>) -> &mut Self {
        self.death_signal = Some(signal);
        self
    }

    /// With [`ContainMode::None`]: start the command in a new process group of its own, in this
    /// session (as a shell or an init starts a job), so that signals can go to its group. Its
    /// containment is then [`Mechanism::ProcessGroup`](crate::contain::Mechanism). Ignored by the
    /// contained modes, which give it a new session anyway.
    pub fn process_group(&mut self, on: bool) -> &mut Self {
        self.process_group = on;
        self
    }

    /// With [`Command::process_group`]: make the command's new group the foreground group of
    /// the terminal on its stdin before it runs (as an init hands the terminal to its command).
    /// No terminal there is not an error. Only do this when this process's group holds the
    /// foreground, or the terminal is taken from whoever holds it.
    pub fn foreground_tty(&mut self, on: bool) -> &mut Self {
        self.foreground_tty = on;
        self
    }

    /// The signal dispositions and mask the command starts with (default
    /// [`ChildSignals::inherited`]: what this process inherited, so that a signal its caller
    /// ignored stays ignored in the command).
    pub fn child_signals(&mut self, signals: ChildSignals) -> &mut Self {
        self.child_signals = Some(signals);
        self
    }

    /// For a program that stands in for its command (GNU `timeout`, `tether run`): pass TERM,
    /// INT, HUP, QUIT, USR1, USR2 and the timeout signal received by this process on to the
    /// tree while the child is waited for, and read SIGALRM as the time limit passing
    /// ([`crate::run`] has the details). Process-wide effects, from the spawn until the child
    /// is finished: those signals are blocked in the calling thread and read through a
    /// signalfd (and stay blocked afterwards, so that one arriving late cannot end this process
    /// before it reports); SIGCHLD is at its default action; with [`ContainMode::None`], TTIN
    /// and TTOU are ignored. For a single-threaded front end; default off.
    pub fn forward_signals(&mut self, on: bool) -> &mut Self {
        self.forward_signals = on;
        self
    }

    /// Count every child of this process as part of the tree (orphans adopted because this
    /// process is a subreaper, should the watchdog die). Only for a process that owns all its
    /// children, like the `tether` command; default off (then only adopted orphans still in the
    /// tree's process group or session count).
    pub fn adopt_children(&mut self, on: bool) -> &mut Self {
        self.adopt_children = on;
        self
    }

    /// End [`Command::status`] and [`Command::output`] early when `cancel` is cancelled, from
    /// any thread (a binding's context or abort signal): the whole tree is ended, as when
    /// waiting fails, and [`RunOutcome::error`] says the run was cancelled (kind
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut)); `child_exit` is then the
    /// command's death by SIGKILL, when it was collected. Waits of a spawned [`Child`] take their own ([`Child::wait_cancellable`]).
    pub fn cancel(&mut self, cancel: Cancel) -> &mut Self {
        self.cancel = Some(cancel);
        self
    }

    /// The program.
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments (without the program).
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// Start the command; the streams not set are inherited. The tree is contained as
    /// [`Command::contain`] says, and [`Child`] is the handle to all of it.
    ///
    /// Errors ([`SpawnError::kind`]): the program not found, found but not executable, bad
    /// input, the child's set-up, or the system (e.g. [`ContainMode::Cgroup`] without a
    /// usable cgroup v2).
    pub fn spawn(&self) -> Result<Child, SpawnError> {
        spawn::spawn(
            self,
            [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit],
            Instant::now(),
        )
    }

    /// Run the command to the end, under the time limit, and return how it went; the streams
    /// not set are inherited. Whatever the command leaves running when it exits is ended (in a
    /// contained mode). Fails only when the command could not be started: a failure while
    /// waiting ends the tree and is in [`RunOutcome::error`].
    pub fn status(&self) -> Result<RunOutcome, SpawnError> {
        self.status_with_events(&mut |_| {})
    }

    /// [`Command::status`], calling `on_event` as things happen: once started (with the PID,
    /// e.g. for a PID file), and before each signal the time limit or forwarding sends (GNU
    /// `timeout -v` prints a line for each).
    pub fn status_with_events(
        &self,
        on_event: &mut dyn FnMut(&RunEvent),
    ) -> Result<RunOutcome, SpawnError> {
        let began = Instant::now();
        let mut child = spawn::spawn(
            self,
            [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit],
            began,
        )?;
        on_event(&RunEvent::Started { pid: child.pid() });
        let exit = self.drive_run(&mut child, on_event, None);
        Ok(child.finish_run(self.command_line(), exit, None, began))
    }

    /// Run the command to the end, under the time limit, capturing its stdout and stderr
    /// (unless they were set otherwise) into bounded rings that keep the last
    /// [`Command::capture_limit`] bytes of each and count what was dropped. Stdin is
    /// `/dev/null` unless set. Both pipes are read as data arrives, so a command that floods
    /// both never blocks. Output is captured until the command has exited and what it left
    /// running has been ended; in [`ContainMode::None`] nothing is waited for after the exit.
    pub fn output(&self) -> Result<Output, SpawnError> {
        let began = Instant::now();
        let mut child = spawn::spawn(self, [Stdio::Null, Stdio::Piped, Stdio::Piped], began)?;
        // Nobody writes to a piped stdin here: the child sees its end at once.
        child.stdin = None;
        let mut capture =
            capture::Capture::new(child.stdout.take(), child.stderr.take(), self.capture_limit);
        let exit = self.drive_run(&mut child, &mut |_| {}, Some(&mut capture));
        let status = child.finish_run(self.command_line(), exit, Some(&mut capture), began);
        Ok(capture.finish(status))
    }

    /// Wait for a run's command to exit, unless the run is cancelled first (an error, which
    /// makes the run end the tree).
    fn drive_run(
        &self,
        child: &mut Child,
        on_event: &mut dyn FnMut(&RunEvent),
        capture: Option<&mut capture::Capture>,
    ) -> crate::Result<Option<ExitInfo>> {
        match child.drive(None, on_event, capture, self.cancel.as_ref())? {
            Some(e) => Ok(Some(e)),
            None => Err(crate::Error::new(
                crate::ErrorKind::TimedOut,
                "the run was cancelled",
            )),
        }
    }

    /// Program and arguments, as a run reports them.
    fn command_line(&self) -> Vec<OsString> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// The death signal in force.
    fn effective_death_signal(&self) -> Option<Signal> {
        self.death_signal.unwrap_or(self.timeout_signal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd};

    #[test]
    fn dup_raw_gives_an_independent_copy() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let mut r = File::from(r);
        let Stdio::File(mut copy) = Stdio::dup_raw(w.as_raw_fd()).unwrap() else {
            panic!("not a file");
        };
        assert_ne!(copy.as_raw_fd(), w.as_raw_fd());
        drop(w); // the caller closes its own: the copy still writes
        copy.write_all(b"hi").unwrap();
        drop(copy);
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hi");
    }

    #[test]
    fn dup_raw_refuses_negative_and_closed_descriptors() {
        // A number far from what other tests' threads open meanwhile (they take the lowest).
        let f = tempfile::tempfile().unwrap();
        // SAFETY: F_DUPFD_CLOEXEC returns a new fd, owned (and closed) here.
        let closed = unsafe {
            let fd = libc::fcntl(f.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 5000);
            assert!(fd >= 5000, "F_DUPFD_CLOEXEC");
            drop(File::from_raw_fd(fd));
            fd
        };
        for bad in [-1, i32::MIN, closed, i32::MAX] {
            let e = Stdio::dup_raw(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}: {e}");
            assert!(e.message().contains(&bad.to_string()), "{e}");
        }
    }
}
