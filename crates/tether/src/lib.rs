//! tether: process primitives that get identity, containment and waiting right.
//!
//! Three promises. **A signal never reaches the wrong process**: a [`Process`] holds a pidfd and
//! the [`ProcessIdentity`] verified on it (PID, start time in clock ticks, boot id), so a PID
//! that was reused is refused, not signalled. **A started tree is never lost**: a [`Command`]
//! runs in a cgroup leaf or a session held by a watchdog, and its [`Child`] ends the whole tree,
//! `setsid` escapers included, saying which containment it had. **No polling where the kernel
//! can tell**: exits come from pidfds, file changes from inotify, deadlines from timers.
//!
//! # By task
//!
//! Every example below runs as a doc test; each acts only on processes it starts itself.
//!
//! **Inspect** processes: a snapshot reads only the /proc files the fields and filters need.
//!
//! ```
//! use tether::inspect::{snapshot, Field, FieldSet, Query};
//! let mut query = Query::default();
//! query.fields = FieldSet::of(&[Field::Name, Field::Rss, Field::Cmdline]);
//! query.filter.pids = Some(vec![std::process::id()]);
//! let me = &snapshot(&query)?[0];
//! assert!(me.name.is_some() && me.rss_bytes.is_some());
//! # Ok::<(), tether::Error>(())
//! ```
//!
//! **Signal safely**: keep the identity string, not the PID; re-opening it checks that the
//! process is the same one (`IdentityMismatch` when its PID now belongs to another), and the
//! signal goes through the pidfd that check was made on.
//!
//! ```
//! use tether::{signal::Signal, Process, ProcessIdentity};
//! # let mut sleeper = std::process::Command::new("sleep").arg("30").spawn()?;
//! let token = Process::open(sleeper.id())?.identity().to_string(); // "PID:START:BOOT8[:INODE]"
//! // ... later, perhaps in another program:
//! let id: ProcessIdentity = token.parse()?;
//! Process::from_identity(&id)?.signal(Signal::TERM)?;
//! # sleeper.wait()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Spawn contained**: the tree lives in a cgroup leaf where one can be made, else in its own
//! session and process group under a watchdog; [`Child::containment`] says which, and how
//! strong. [`Command::output`] captures into bounded buffers; [`Command::timeout`] follows
//! GNU `timeout`.
//!
//! ```
//! use tether::Command;
//! let mut child = Command::new("sh").args(["-c", "setsid sleep 30 & sleep 30"]).spawn()?;
//! let how = child.containment();
//! println!("PID {} in a {} ({})", child.pid(), how.mechanism, how.strength);
//! child.close()?; // SIGKILL to the whole tree, waited for; the leaf removed
//! let out = Command::new("echo").arg("hi").output()?;
//! assert_eq!(out.stdout, b"hi\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Wait** for any process, with a timeout: its pidfd says when it has exited; the exit status
//! comes too when it is this process's child ([`wait::wait_all`] waits for many).
//!
//! ```
//! use std::time::Duration;
//! use tether::Process;
//! let sleeper = std::process::Command::new("sleep").arg("0.1").spawn()?;
//! let done = Process::open(sleeper.id())?.wait(Some(Duration::from_secs(60)))?;
//! assert_eq!(done.exit().and_then(|e| e.code), Some(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Stop a tree**: held still, the graceful signal, a grace period (event-driven), then the
//! kill signal to whatever survived; the outcome lists who got what. [`Process::terminate_tree`]
//! does the same for a process this program did not start.
//!
//! ```
//! use std::time::Duration;
//! use tether::{terminate::StopOptions, Command};
//! let mut child = Command::new("sh").args(["-c", "trap '' TERM; sleep 30 & wait"]).spawn()?;
//! let mut opts = StopOptions::default();
//! opts.grace = Duration::from_millis(200); // then KILL: TERM is ignored here
//! let stopped = child.stop(&opts)?;
//! assert!(stopped.remaining.is_empty());
//! child.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Wait for a port** (or an HTTP answer, a file, a log line, a process's exit, a command):
//! cheap local checks with backoff, one overall deadline.
//!
//! ```
//! use std::time::Duration;
//! use tether::ready::{wait_for, Target, WaitOptions};
//! # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! # let port = listener.local_addr()?.port();
//! let mut opts = WaitOptions::default();
//! opts.timeout = Some(Duration::from_secs(30));
//! let target: Target = format!("127.0.0.1:{port}").parse()?;
//! assert!(wait_for(vec![target], &opts, None)?.ready());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **PID files** that cannot go stale silently: they record the identity and hold a lock while
//! their owner lives; a reader gets alive, gone or stale, never a wrong process.
//!
//! ```
//! use tether::pidfile::{self, Status};
//! let path = std::env::temp_dir().join(format!("tether-doc-{}.pid", std::process::id()));
//! let owned = pidfile::create(&path, std::process::id())?; // written atomically, locked
//! assert!(matches!(pidfile::read(&path)?.check()?, Status::Alive { .. }));
//! drop(owned); // removed, since it still names this process
//! # Ok::<(), tether::Error>(())
//! ```
//!
//! **Init**: run one command as a container's PID 1 (or as a subreaper anywhere): signals
//! passed on, zombies reaped, leftovers ended when the command exits. It takes over this
//! process's signal handling, so call it from a program that is nothing else.
//!
//! ```
//! use tether::init::{run_init, InitOptions};
//! let outcome = run_init(&InitOptions::new(["sh", "-c", "sleep 30 & exit 3"]))?;
//! assert_eq!(outcome.exit_code, 3); // and the background sleep was ended
//! # Ok::<(), tether::init::InitError>(())
//! ```
//!
//! `examples/supervisor.rs` puts these together: three contained workers, one restarted when it
//! dies, all stopped on Ctrl-C.
//!
//! # Modules
//!
//! - [`inspect`]: fast process snapshots and filters;
//! - [`process`]: [`Process`], one handle for one process (a pidfd and its verified identity);
//! - [`identity`]: tokens that survive PID reuse;
//! - [`signal`]: signal names, safety rails, identity-checked sending through pidfds;
//! - [`net`]: sockets and their owners, open files;
//! - [`ready`]: readiness waits (ports, HTTP, files, log lines, exits);
//! - [`command`]: starting a command as a contained tree ([`Command`] → [`Child`]): the one way
//!   to start a process, with bounded output capture and a time limit;
//! - [`contain`]: containment (cgroup leaf, or session + subreaper, held by a watchdog), trees;
//! - [`wait`]: event-driven waiting on any process through pidfds;
//! - [`terminate`]: ending a whole tree (hold, signal, grace, escalate);
//! - [`run`]: run with a time limit, the GNU `timeout` contract;
//! - [`pidfile`]: PID files that cannot go stale silently (identity, lock, legacy files);
//! - [`init`]: a container init (PID 1) or subreaper: signals passed on, zombies reaped;
//! - [`job`]: background jobs without a daemon (a detached supervisor per job, status files, logs);
//! - [`retry`]: run a command again until it succeeds (backoff, exit-code policy, deadline);
//! - [`limits`]: process limits a caller may want to raise first (open files);
//! - [`fs`]: atomic file replacement;
//! - [`duration`], [`size`]: the duration and size parsers every front end shares;
//! - [`error`]: the one error type and its stable kinds.
//!
//! **Side effects are opt-in.** The library never prints, exits, changes rlimits or makes the
//! caller a subreaper on its own ([`contain::become_subreaper`], [`limits::raise_open_files`]
//! are there to call); dropping a [`Child`] never blocks (see its documentation).
//!
//! The library returns typed values; the JSON reports of the command line tool (and of the C
//! ABI and bindings) live one layer up, in the `tether-report` crate.

#![warn(missing_debug_implementations)]
#![warn(missing_docs)]

// Documentation of JSON-schema types: schemars copies every literal `///` comment into the
// generated schema as a `description`, and the committed schemas under `schemas/` stay
// byte-for-byte as they are. Fields and variants that had no description there are documented
// with `#[doc = concat!("…")]`: rustdoc shows it, schemars reads only literal doc strings.

pub mod command;
pub mod contain;
pub mod duration;
pub mod error;
pub mod fs;
pub mod identity;
pub mod init;
pub mod inspect;
pub mod job;
pub mod limits;
pub mod net;
pub mod pidfile;
pub mod process;
pub mod ready;
pub mod retry;
pub mod run;
pub mod signal;
pub mod size;
mod sys;
pub mod terminate;
#[cfg(test)]
mod testing;
pub mod wait;

pub use command::{Child, Command, Output, Stdio};
pub use error::{Error, ErrorKind, Result};
pub use identity::{IdentityCheck, ProcessIdentity};
pub use process::{Process, ProcessRef};
