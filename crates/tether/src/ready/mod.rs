//! Readiness waits: until a port accepts connections, an HTTP endpoint answers, a file appears,
//! a log line is written, a process exits, a port is held by a given tree, or a command succeeds.
//!
//! How each kind is watched (never a sleep loop where the kernel can tell):
//! - `file:`, `log:` and `unix:` paths: inotify on their directories (re-checked on any change);
//! - `exit:` and the watched process of [`WaitOptions::watch`]: pidfds in the same `poll`;
//! - `cmd:`: the running command's pidfd; the next run starts after a backoff;
//! - a [`Cancel`] of [`WaitOptions::cancel`]: an eventfd in the same `poll`;
//! - network checks (`tcp`, `http`, `owner:`): attempts with exponential backoff from
//!   [`FIRST_DELAY`] up to [`WaitOptions::interval`]. A local target (loopback or this host's
//!   address) is first looked up in the kernel's socket table through sock_diag, which costs a
//!   few microseconds and sends the server nothing; while nothing listens, that cheap check backs
//!   off only up to [`LOCAL_CAP`], so a port opening is seen within milliseconds.
//!
//! ```
//! use tether::ready::{wait_for, Target, WaitOptions};
//! # let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! # let port = listener.local_addr().unwrap().port();
//! let t: Target = format!("127.0.0.1:{port}").parse().unwrap();
//! let mut opts = WaitOptions::default();
//! opts.timeout = Some(std::time::Duration::from_secs(5));
//! let r = wait_for(vec![t], &opts, None).unwrap();
//! assert!(r.ready());
//! ```

mod cancel;
mod cmd;
mod exec;
mod exit;
mod file;
mod http;
mod log;
mod owner;
mod tcp;
mod unix;

use std::collections::BTreeSet;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use regex::Regex;
use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::identity::ProcessIdentity;
use crate::net::{parse_port, parse_port_spec, Proto};
use crate::process::{Process, ProcessRef};
use crate::signal::rails::parse_pid;
use crate::sys::os::inotify::Watcher;

pub use cancel::Cancel;
pub use exec::exec;

/// The first retry delay of polled checks; it doubles up to the interval.
pub const FIRST_DELAY: Duration = Duration::from_millis(1);
/// The backoff cap of the cheap local socket-table check while nothing listens.
pub const LOCAL_CAP: Duration = Duration::from_millis(10);

/// What to wait for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Target {
    /// A TCP connect to `host:port` succeeds (`host:port`, `:port`, `tcp://host:port`; the
    /// port may carry `/tcp`).
    Tcp {
        /// Host name or address (`127.0.0.1` when the spec gave only `:port`).
        host: String,
        /// The port.
        port: u16,
    },
    /// An HTTP(S) request answers with an accepted status (and body). The URL as parsed: its
    /// scheme in lower case, its port (if any) checked.
    Http {
        /// The URL.
        url: String,
    },
    /// The path exists (see [`FileOptions`]).
    File {
        /// The path.
        path: PathBuf,
    },
    /// A Unix stream socket at the path accepts a connection.
    Unix {
        /// The socket's path.
        path: PathBuf,
    },
    /// A line matching `regex` is appended to the file (from its end when the wait starts).
    Log {
        /// The file to follow.
        path: PathBuf,
        /// The pattern a new line must match.
        regex: Regex,
    },
    /// The process is gone. With an identity, a reused PID counts as gone.
    Exit {
        /// The process's PID.
        pid: u32,
        /// Its identity, when known: then a reused PID is not mistaken for it.
        identity: Option<ProcessIdentity>,
    },
    /// The listening socket(s) on the port are held by `pid` or one of its descendants.
    Owner {
        /// The port.
        port: u16,
        /// Its protocol.
        proto: Proto,
        /// The process expected to hold it (itself or through a descendant).
        pid: u32,
    },
    /// `sh -c COMMAND` exits 0.
    Cmd {
        /// The shell command.
        command: String,
    },
}

/// The kind of a [`Target`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TargetKind {
    /// [`Target::Tcp`].
    Tcp,
    /// [`Target::Http`].
    Http,
    /// [`Target::File`].
    File,
    /// [`Target::Unix`].
    Unix,
    /// [`Target::Log`].
    Log,
    /// [`Target::Exit`].
    Exit,
    /// [`Target::Owner`].
    Owner,
    /// [`Target::Cmd`].
    Cmd,
}

impl TargetKind {
    /// The stable name, as the target's prefix spells it: `tcp`, `http`, `file`, `unix`,
    /// `log`, `exit`, `owner`, `cmd`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Tcp => "tcp",
            TargetKind::Http => "http",
            TargetKind::File => "file",
            TargetKind::Unix => "unix",
            TargetKind::Log => "log",
            TargetKind::Exit => "exit",
            TargetKind::Owner => "owner",
            TargetKind::Cmd => "cmd",
        }
    }
}

impl Target {
    /// Its kind.
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Tcp { .. } => TargetKind::Tcp,
            Target::Http { .. } => TargetKind::Http,
            Target::File { .. } => TargetKind::File,
            Target::Unix { .. } => TargetKind::Unix,
            Target::Log { .. } => TargetKind::Log,
            Target::Exit { .. } => TargetKind::Exit,
            Target::Owner { .. } => TargetKind::Owner,
            Target::Cmd { .. } => TargetKind::Cmd,
        }
    }
}

fn non_empty<'a>(what: &str, s: &'a str, full: &str) -> Result<&'a str> {
    if s.is_empty() {
        Err(Error::invalid(format!("empty {what} in target '{full}'")))
    } else {
        Ok(s)
    }
}

/// The forms of target, for error messages.
const TARGET_FORMS: &str = "expected host:port, :port, tcp://host:port, http(s)://…, file:, \
unix:, log:PATH=REGEX, exit:, owner:PORT=PID or cmd:";

/// A TCP port of a `host:port` target: `N` or `N/tcp` (a UDP port cannot be connected to).
fn tcp_port(spec: &str, full: &str) -> Result<u16> {
    match parse_port_spec(spec) {
        Ok((p, None | Some(Proto::Tcp))) => Ok(p),
        Ok((_, Some(_))) => Err(Error::invalid(format!(
            "bad target '{full}': a TCP connect is checked; for a UDP port use owner:PORT/udp=PID"
        ))),
        Err(e) => Err(Error::invalid(format!(
            "bad target '{full}': {}",
            e.message()
        ))),
    }
}

fn parse_host_port(s: &str, full: &str) -> Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| Error::invalid(format!("bad target '{full}': {TARGET_FORMS}")))?;
    let port = tcp_port(port, full)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    Ok((host.to_string(), port))
}

/// `s` without its `scheme://` prefix, matched case-insensitively (RFC 3986).
fn strip_scheme<'a>(s: &'a str, scheme: &str) -> Option<&'a str> {
    let n = scheme.len();
    if s.len() >= n + 3 && s[..n].eq_ignore_ascii_case(scheme) && &s[n..n + 3] == "://" {
        Some(&s[n + 3..])
    } else {
        None
    }
}

/// Check an `http(s)://` URL (`rest` is what follows the scheme) and return it with its scheme
/// in lower case. The port, when given, must be one [`parse_port`] accepts.
fn parse_http_url(scheme: &str, rest: &str, full: &str) -> Result<String> {
    let url = format!("{scheme}://{rest}");
    let bad = |why: String| Error::invalid(format!("bad URL '{full}': {why}"));
    let uri: ureq::http::Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
    let authority = uri
        .authority()
        .ok_or_else(|| bad("no host".to_string()))?
        .as_str();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // The port follows the last ':' after the host (an IPv6 host is in brackets).
    let port = match hostport.rfind(']') {
        Some(end) => hostport[end + 1..].strip_prefix(':'),
        None => hostport.rsplit_once(':').map(|(_, p)| p),
    };
    // (An empty port, `http://host:/`, is refused like any other port that is not 1-65535.)
    if let Some(p) = port {
        parse_port(p).map_err(|e| bad(e.message().to_string()))?;
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host".to_string()));
    }
    Ok(url)
}

impl FromStr for Target {
    type Err = Error;

    fn from_str(s: &str) -> Result<Target> {
        if let Some(rest) = strip_scheme(s, "tcp") {
            let (host, port) = parse_host_port(rest.trim_end_matches('/'), s)?;
            return Ok(Target::Tcp { host, port });
        }
        for scheme in ["http", "https"] {
            if let Some(rest) = strip_scheme(s, scheme) {
                return Ok(Target::Http {
                    url: parse_http_url(scheme, rest, s)?,
                });
            }
        }
        if let Some(p) = s.strip_prefix("file:") {
            return Ok(Target::File {
                path: non_empty("path", p, s)?.into(),
            });
        }
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(Target::Unix {
                path: non_empty("path", p, s)?.into(),
            });
        }
        if let Some(rest) = s.strip_prefix("log:") {
            let (p, re) = rest.split_once('=').ok_or_else(|| {
                Error::invalid(format!("bad target '{s}': expected log:PATH=REGEX"))
            })?;
            let regex = Regex::new(non_empty("regex", re, s)?)
                .map_err(|e| Error::invalid(format!("bad regex in '{s}': {e}")))?;
            return Ok(Target::Log {
                path: non_empty("path", p, s)?.into(),
                regex,
            });
        }
        if let Some(rest) = s.strip_prefix("exit:") {
            if rest.contains(':') {
                let id: ProcessIdentity = rest.parse()?;
                return Ok(Target::Exit {
                    pid: id.pid,
                    identity: Some(id),
                });
            }
            return Ok(Target::Exit {
                pid: parse_pid(rest)?,
                identity: None,
            });
        }
        if let Some(rest) = s.strip_prefix("owner:") {
            let (port, pid) = rest.split_once('=').ok_or_else(|| {
                Error::invalid(format!(
                    "bad target '{s}': expected owner:PORT[/tcp|/udp]=PID"
                ))
            })?;
            let (port, proto) = parse_port_spec(port)
                .map_err(|e| Error::invalid(format!("bad target '{s}': {}", e.message())))?;
            return Ok(Target::Owner {
                port,
                proto: proto.unwrap_or(Proto::Tcp),
                pid: parse_pid(pid)?,
            });
        }
        if let Some(c) = s.strip_prefix("cmd:") {
            return Ok(Target::Cmd {
                command: non_empty("command", c, s)?.to_string(),
            });
        }
        if s.contains("://") {
            return Err(Error::invalid(format!(
                "unsupported scheme in target '{s}': use tcp://, http:// or https://"
            )));
        }
        let (host, port) = parse_host_port(s, s)?;
        Ok(Target::Tcp { host, port })
    }
}

/// The process whose exit ends a wait early, with [`Outcome::ProcessDied`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Watch {
    /// By PID: its identity is taken when the wait starts, and a PID that does not exist then
    /// counts as a process that already exited.
    Pid(u32),
    /// By identity: a process that is gone, or whose PID now belongs to another process, has
    /// exited.
    Identity(ProcessIdentity),
    /// A process known to have exited already (named by a PID file that is stale, or whose
    /// process is gone): the wait ends at once.
    Gone(u32),
}

/// A PID is watched by PID, an identity by identity.
impl From<ProcessRef> for Watch {
    fn from(r: ProcessRef) -> Self {
        match r {
            ProcessRef::Pid(p) => Watch::Pid(p),
            ProcessRef::Identity(id) => Watch::Identity(id),
        }
    }
}

/// The PID, or the identity string.
impl std::fmt::Display for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Watch::Pid(pid) | Watch::Gone(pid) => write!(f, "{pid}"),
            Watch::Identity(id) => write!(f, "{id}"),
        }
    }
}

/// The process named by a PID file, to watch: read and checked by [`crate::pidfile`] (a tether
/// record or a bare PID, never through a symbolic link). A file that is stale or names a
/// process that is gone gives [`Watch::Gone`]. Errors as for [`crate::pidfile::read`]:
/// `NotFound` when the file does not exist, `InvalidArgument` when it holds no valid PID.
pub fn watch_pidfile(path: &Path) -> Result<Watch> {
    let file = crate::pidfile::read(path)?;
    Ok(match file.check()? {
        crate::pidfile::Status::Alive { identity, .. } => Watch::Identity(identity),
        _ => Watch::Gone(file.pid()),
    })
}

/// The HTTP methods [`HttpOptions::method`] accepts (a request without a body is sent).
pub const HTTP_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

/// Parse an HTTP method name (case-insensitive) into its upper-case form.
pub fn parse_method(s: &str) -> Result<String> {
    let up = s.to_ascii_uppercase();
    if HTTP_METHODS.contains(&up.as_str()) {
        Ok(up)
    } else {
        Err(Error::invalid(format!(
            "unknown HTTP method '{s}': use one of {}",
            HTTP_METHODS.join(", ")
        )))
    }
}

/// Parse a request header `Name: value` (the value may be empty).
pub fn parse_header(s: &str) -> Result<(String, String)> {
    let bad = |why: &str| Error::invalid(format!("bad header '{s}': {why}"));
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| bad("expected 'Name: value'"))?;
    let value = value.trim_matches([' ', '\t']);
    ureq::http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| bad("the name must be a token (letters, digits, '-', …)"))?;
    ureq::http::HeaderValue::from_str(value)
        .map_err(|_| bad("the value holds a control character"))?;
    Ok((name.to_string(), value.to_string()))
}

/// Options of HTTP checks: start from [`HttpOptions::default`] and set what differs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Accepted status ranges (inclusive); default 200–399.
    pub status: Vec<(u16, u16)>,
    /// The body must match this.
    pub body: Option<Regex>,
    /// Skip certificate verification (off by default).
    pub insecure: bool,
    /// The request method, one of [`HTTP_METHODS`] (default `GET`).
    pub method: String,
    /// Request headers, in order.
    pub headers: Vec<(String, String)>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            status: vec![(200, 399)],
            body: None,
            insecure: false,
            method: "GET".to_string(),
            headers: Vec::new(),
        }
    }
}

/// Parse a status list such as `200`, `200-299`, `200,204,300-399`.
pub fn parse_status_ranges(s: &str) -> Result<Vec<(u16, u16)>> {
    let bad = || {
        Error::invalid(format!(
            "bad status list '{s}': expected statuses from 100 to 599, e.g. 200 or 200-299,304"
        ))
    };
    s.split(',')
        .map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: u16 = a.trim().parse().map_err(|_| bad())?;
            let b: u16 = b.trim().parse().map_err(|_| bad())?;
            if !(100..=599).contains(&a) || !(100..=599).contains(&b) || a > b {
                return Err(bad());
            }
            Ok((a, b))
        })
        .collect()
}

/// Options of `file:` targets.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct FileOptions {
    /// The file must be non-empty.
    pub non_empty: bool,
    /// The size (and modification time) must not have changed for this long.
    pub stable: Option<Duration>,
}

/// How to wait: start from [`WaitOptions::default`] and set what differs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WaitOptions {
    /// Give up after this long (`None`: wait forever).
    pub timeout: Option<Duration>,
    /// Backoff cap of polled checks.
    pub interval: Duration,
    /// Longest time one attempt may take: a TCP or Unix-socket connect, an HTTP request, a
    /// `cmd:` run (killed when it takes longer). `None`: 5 s for connects, 10 s for requests,
    /// no limit for commands. The overall deadline still applies.
    pub attempt_timeout: Option<Duration>,
    /// Ready when any target is (default: all).
    pub any: bool,
    /// Wait until the targets are *not* ready (a port freed, a file removed, a process alive…).
    pub reverse: bool,
    /// Fail at once, with [`Outcome::ProcessDied`], if this process exits first (or does not
    /// exist when the wait starts).
    pub watch: Option<Watch>,
    /// HTTP targets: method, accepted statuses, body match, TLS.
    pub http: HttpOptions,
    /// File targets: what counts as present.
    pub file: FileOptions,
    /// How often the progress callback runs.
    pub progress_every: Duration,
    /// Ends the wait with [`Outcome::Cancelled`] when cancelled from another thread (the
    /// language bindings' AbortSignal and context cancellation).
    pub cancel: Option<Cancel>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: None,
            interval: Duration::from_secs(1),
            attempt_timeout: None,
            any: false,
            reverse: false,
            watch: None,
            http: HttpOptions::default(),
            file: FileOptions::default(),
            progress_every: Duration::from_millis(100),
            cancel: None,
        }
    }
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The targets are ready (or, with `reverse`, no longer are).
    Ready,
    /// The timeout passed first.
    TimedOut,
    /// The watched process (`WaitOptions::watch`; `--watch-pid`, `--watch-pidfile`) exited
    /// first, or was not running when the wait started.
    ProcessDied,
    /// A target can never become ready (e.g. the PID of an `owner:` target exited).
    Failed,
    /// The wait was cancelled through [`WaitOptions::cancel`] (never by the CLI).
    Cancelled,
}

/// The state of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetOutcome {
    /// The target as given (its label).
    pub target: String,
    /// Its kind.
    pub kind: TargetKind,
    /// It is ready (with `reverse`: no longer ready).
    pub ready: bool,
    /// Time from the start of the wait to this target being ready.
    pub time_to_ready: Option<Duration>,
    /// Checks made (connect attempts, requests, file checks, command runs).
    pub attempts: u64,
    /// Why the last check was not ready.
    pub last_error: Option<String>,
}

/// What [`wait_for`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitForOutcome {
    /// How the wait ended.
    pub outcome: Outcome,
    /// Time the wait took.
    pub elapsed: Duration,
    /// Ready when any target was (rather than all).
    pub any: bool,
    /// The wait was for the targets to be no longer ready.
    pub reverse: bool,
    /// The process whose death ends the wait: by identity when it was running at the start,
    /// else as it was given.
    pub watched: Option<Watch>,
    /// One state per target, in the order given.
    pub targets: Vec<TargetOutcome>,
}

impl WaitForOutcome {
    /// The targets are ready (or, with `reverse`, no longer are).
    pub fn ready(&self) -> bool {
        self.outcome == Outcome::Ready
    }

    /// The targets that did not end ready, each with the reason of its last check when there
    /// is one: `127.0.0.1:8080 (connection refused)`; for the messages of a failed wait.
    pub fn pending(&self) -> Vec<String> {
        self.targets
            .iter()
            .filter(|t| !t.ready)
            .map(|t| match &t.last_error {
                Some(e) => format!("{} ({e})", t.target),
                None => t.target.clone(),
            })
            .collect()
    }
}

/// What a progress callback sees.
#[derive(Debug)]
#[non_exhaustive]
pub struct Progress<'a> {
    /// Time since the wait started.
    pub elapsed: Duration,
    /// The state of each target so far.
    pub targets: &'a [TargetOutcome],
}

/// The result of one check.
pub(crate) enum Status {
    Ready,
    NotReady(String),
    /// Can never become ready.
    Fatal(String),
}

/// When to check a target again when it is not ready.
impl Next {
    /// The backoff of a network check: capped at [`LOCAL_CAP`] while a cheap local socket-table
    /// lookup can tell that nothing listens yet, else at `--interval`.
    pub(crate) fn network(cheap: bool, cx: &Cx) -> Next {
        if cheap {
            Next::Backoff(cx.opts.interval.min(LOCAL_CAP))
        } else {
            Next::Backoff(cx.opts.interval)
        }
    }
}

pub(crate) enum Next {
    /// After the backoff delay, which doubles up to this cap.
    Backoff(Duration),
    /// At this instant (e.g. when a file's size has been stable long enough).
    At(Instant),
    /// Only when woken by an event (inotify, a pidfd).
    Event,
}

/// Shared context of the checks.
pub(crate) struct Cx<'a> {
    pub opts: &'a WaitOptions,
    pub deadline: Option<Instant>,
}

impl Cx<'_> {
    /// Time an attempt may take: until the deadline, at most the attempt timeout of the
    /// options, or `default` when none is set.
    pub fn attempt_timeout(&self, default: Duration) -> Duration {
        let cap = self.opts.attempt_timeout.unwrap_or(default);
        match self.deadline {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .min(cap)
                .max(Duration::from_millis(1)),
            None => cap,
        }
    }
}

/// One target's checker.
pub(crate) trait Check {
    /// Run one check.
    fn check(&mut self, cx: &Cx) -> Status;
    /// When to check again after a not-ready answer.
    fn next(&self, cx: &Cx) -> Next;
    /// Directories whose changes warrant a re-check.
    fn watch_dirs(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    /// An fd whose readability warrants a re-check.
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
    /// Attempts made, when the checker counts them itself.
    fn attempts(&self) -> Option<u64> {
        None
    }
}

fn checker(t: &Target, opts: &WaitOptions) -> Result<Box<dyn Check>> {
    Ok(match t {
        Target::Tcp { host, port } => Box::new(tcp::TcpCheck::new(host, *port)),
        Target::Http { url } => Box::new(http::HttpCheck::new(url, opts)?),
        Target::File { path } => Box::new(file::FileCheck::new(path)),
        Target::Unix { path } => Box::new(unix::UnixCheck::new(path)),
        Target::Log { path, regex } => Box::new(log::LogCheck::new(path, regex.clone())),
        Target::Exit { pid, identity } => Box::new(exit::ExitCheck::new(*pid, identity.as_ref())?),
        Target::Owner { port, proto, pid } => Box::new(owner::OwnerCheck::new(*port, *proto, *pid)),
        Target::Cmd { command } => Box::new(cmd::CmdCheck::new(command, opts.attempt_timeout)),
    })
}

/// The directory to watch for `path` to appear or change: its parent, or the nearest existing
/// ancestor when the parent does not exist yet.
pub(crate) fn watch_dir_for(path: &Path) -> Option<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let mut dir = abs.parent()?.to_path_buf();
    loop {
        if dir.is_dir() {
            return Some(dir);
        }
        dir = dir.parent()?.to_path_buf();
    }
}

struct Slot {
    check: Box<dyn Check>,
    result: TargetOutcome,
    due: Option<Instant>,
    delay: Duration,
    settled: bool,
}

/// Wait for `targets` (named by `labels` in the report, e.g. the strings the user typed).
/// `progress` runs every `opts.progress_every` while waiting.
///
/// Errors only for setup failures (inotify unavailable, a bad URL); not-ready ends are
/// reported through [`WaitForOutcome::outcome`].
pub fn wait_for(
    targets: Vec<Target>,
    opts: &WaitOptions,
    progress: Option<&mut dyn FnMut(&Progress)>,
) -> Result<WaitForOutcome> {
    let labels = targets.iter().map(label).collect();
    wait_for_labeled(targets, labels, opts, progress)
}

/// A readable name for a target.
pub fn label(t: &Target) -> String {
    match t {
        Target::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
        Target::Tcp { host, port } => format!("{host}:{port}"),
        Target::Http { url } => url.clone(),
        Target::File { path } => format!("file:{}", path.display()),
        Target::Unix { path } => format!("unix:{}", path.display()),
        Target::Log { path, regex } => format!("log:{}={}", path.display(), regex.as_str()),
        Target::Exit { pid, identity } => match identity {
            Some(id) => format!("exit:{id}"),
            None => format!("exit:{pid}"),
        },
        Target::Owner { port, proto, pid } => format!("owner:{port}/{}={pid}", proto.as_str()),
        Target::Cmd { command } => format!("cmd:{command}"),
    }
}

/// [`wait_for`] with the report's target names given.
pub fn wait_for_labeled(
    targets: Vec<Target>,
    labels: Vec<String>,
    opts: &WaitOptions,
    mut progress: Option<&mut dyn FnMut(&Progress)>,
) -> Result<WaitForOutcome> {
    if targets.is_empty() {
        return Err(Error::invalid("no target to wait for"));
    }
    let start = Instant::now();
    let deadline = opts.timeout.map(|t| start + t);
    let cx = Cx { opts, deadline };
    let (watched, watched_name) = match &opts.watch {
        Some(w) => match open_watched(w) {
            Ok(p) => {
                let name = Watch::Identity(p.identity().clone());
                (Some(p), Some(name))
            }
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IdentityMismatch) => {
                let mut slots = Vec::new();
                for (t, l) in targets.iter().zip(labels) {
                    slots.push(new_result(t, l));
                }
                let watched = Some(w.clone());
                return Ok(finish(Outcome::ProcessDied, start, opts, watched, slots));
            }
            Err(e) => return Err(e),
        },
        None => (None, None),
    };
    let mut slots: Vec<Slot> = Vec::with_capacity(targets.len());
    for (t, l) in targets.iter().zip(labels) {
        slots.push(Slot {
            check: checker(t, opts)?,
            result: new_result(t, l),
            due: Some(start),
            delay: FIRST_DELAY,
            settled: false,
        });
    }
    let mut watcher =
        Watcher::new().map_err(|e| Error::from_io("creating an inotify instance", &e))?;
    let mut watched_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut inotify_fired = false;
    let mut last_progress = start;
    let cancel = opts.cancel.as_ref();
    let outcome = 'wait: loop {
        if cancel.is_some_and(Cancel::is_cancelled) {
            // Cancelled before the wait started, or while the last round of checks ran: no
            // further check is made. (While blocked, the poll below sees it.)
            break 'wait Outcome::Cancelled;
        }
        // Watches first, then checks: a change between the two still wakes the next poll.
        let dirs: BTreeSet<PathBuf> = slots
            .iter()
            .filter(|s| !s.settled)
            .flat_map(|s| s.check.watch_dirs())
            .collect();
        if dirs != watched_dirs {
            watcher.clear();
            for d in &dirs {
                // A directory removed meanwhile is found again on the next round.
                let _ = watcher.watch_dir(d);
            }
            watched_dirs = dirs;
            inotify_fired = true; // re-check against the new watches
        }
        let now = Instant::now();
        let mut fd_ready = vec![false; slots.len()];
        if inotify_fired {
            for (i, s) in slots.iter().enumerate() {
                fd_ready[i] = !s.check.watch_dirs().is_empty();
            }
        }
        inotify_fired = false;
        let mut fatal = false;
        for (i, s) in slots.iter_mut().enumerate() {
            if s.settled {
                continue;
            }
            let woken = fd_ready[i] || s.due.is_some_and(|d| d <= now);
            if !woken {
                continue;
            }
            let st = s.check.check(&cx);
            s.result.attempts = s.check.attempts().unwrap_or(s.result.attempts + 1);
            let ready = match st {
                Status::Ready => !opts.reverse,
                Status::NotReady(why) => {
                    if opts.reverse {
                        true
                    } else {
                        s.result.last_error = Some(why);
                        false
                    }
                }
                Status::Fatal(why) => {
                    s.result.last_error = Some(why);
                    fatal = !opts.reverse;
                    opts.reverse
                }
            };
            if ready {
                s.settled = true;
                s.result.ready = true;
                s.result.time_to_ready = Some(start.elapsed());
                if opts.reverse {
                    s.result.last_error = None;
                }
                s.due = None;
                continue;
            }
            if opts.reverse {
                s.result.last_error = Some("still ready".into());
            }
            s.due = match s.check.next(&cx) {
                Next::Backoff(cap) => {
                    let d = s.delay.min(cap);
                    s.delay = (s.delay * 2).min(cap.max(FIRST_DELAY));
                    Some(Instant::now() + d)
                }
                Next::At(t) => Some(t),
                Next::Event => None,
            };
        }
        if fatal {
            break 'wait Outcome::Failed;
        }
        let done = if opts.any {
            slots.iter().any(|s| s.result.ready)
        } else {
            slots.iter().all(|s| s.result.ready)
        };
        if done {
            break 'wait Outcome::Ready;
        }
        // Block until the earliest of: a due check, the deadline, a progress tick, an event.
        let now = Instant::now();
        if deadline.is_some_and(|d| d <= now) {
            break 'wait Outcome::TimedOut;
        }
        let mut wake = slots
            .iter()
            .filter(|s| !s.settled)
            .filter_map(|s| s.due)
            .min();
        if let Some(d) = deadline {
            wake = Some(wake.map_or(d, |w| w.min(d)));
        }
        if progress.is_some() {
            let tick = last_progress + opts.progress_every;
            wake = Some(wake.map_or(tick, |w| w.min(tick)));
        }
        let mut pfds: Vec<rustix::event::PollFd> = Vec::with_capacity(slots.len() + 2);
        pfds.push(rustix::event::PollFd::new(
            &watcher,
            rustix::event::PollFlags::IN,
        ));
        if let Some(w) = &watched {
            pfds.push(rustix::event::PollFd::new(w, rustix::event::PollFlags::IN));
        }
        if let Some(c) = cancel {
            pfds.push(rustix::event::PollFd::new(c, rustix::event::PollFlags::IN));
        }
        let mut fd_owner: Vec<usize> = Vec::new();
        for (i, s) in slots.iter().enumerate() {
            if s.settled {
                continue;
            }
            if let Some(fd) = s.check.fd() {
                pfds.push(rustix::event::PollFd::from_borrowed_fd(
                    fd,
                    rustix::event::PollFlags::IN,
                ));
                fd_owner.push(i);
            }
        }
        let ts = wake.map(|w| {
            let left = w.saturating_duration_since(Instant::now());
            // Round up so that a wake-up is never early (an early one would spin).
            let left = left + Duration::from_micros(50);
            rustix::time::Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            }
        });
        match rustix::event::poll(&mut pfds, ts.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::from_errno("waiting for readiness events", e)),
        }
        let revents: Vec<bool> = pfds.iter().map(|p| !p.revents().is_empty()).collect();
        drop(pfds);
        if revents[0] {
            let _ = watcher.drain();
            inotify_fired = true;
        }
        if watched.is_some() && revents[1] {
            break 'wait Outcome::ProcessDied;
        }
        let base = 1 + usize::from(watched.is_some()) + usize::from(cancel.is_some());
        if cancel.is_some() && revents[base - 1] {
            break 'wait Outcome::Cancelled;
        }
        for (k, &i) in fd_owner.iter().enumerate() {
            if revents[base + k] {
                // Due now: the fd says something changed.
                slots[i].due = Some(Instant::now());
            }
        }
        if let Some(cb) = progress.as_mut() {
            if last_progress.elapsed() >= opts.progress_every {
                last_progress = Instant::now();
                let results: Vec<TargetOutcome> = slots.iter().map(|s| s.result.clone()).collect();
                cb(&Progress {
                    elapsed: start.elapsed(),
                    targets: &results,
                });
            }
        }
    };
    let results = slots.into_iter().map(|s| s.result).collect();
    Ok(finish(outcome, start, opts, watched_name, results))
}

/// The watched process, opened.
fn open_watched(w: &Watch) -> Result<Process> {
    match w {
        Watch::Pid(pid) => Process::open(*pid),
        Watch::Identity(id) => Process::from_identity(id),
        Watch::Gone(pid) => Err(Error::not_found(format!("process {pid} has exited"))),
    }
}

fn new_result(t: &Target, label: String) -> TargetOutcome {
    TargetOutcome {
        target: label,
        kind: t.kind(),
        ready: false,
        time_to_ready: None,
        attempts: 0,
        last_error: None,
    }
}

/// An I/O error's text without Rust's " (os error N)" suffix, for `last_error`.
pub(crate) fn plain_io(e: &std::io::Error) -> String {
    crate::error::strip_os_error(&e.to_string()).to_string()
}

/// A duration for messages: `250 ms`, `1.5 s`, `90 s`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        let s = d.as_secs_f64();
        if s.fract() == 0.0 {
            format!("{s:.0} s")
        } else {
            format!("{s:.1} s")
        }
    }
}

fn finish(
    outcome: Outcome,
    start: Instant,
    opts: &WaitOptions,
    watched: Option<Watch>,
    targets: Vec<TargetOutcome>,
) -> WaitForOutcome {
    WaitForOutcome {
        outcome,
        elapsed: start.elapsed(),
        any: opts.any,
        reverse: opts.reverse,
        watched,
        targets,
    }
}

/// Whether `ip` is an address of this host's network namespace that sock_diag can see
/// (loopback, unspecified, or assigned to a local interface).
pub(crate) fn is_local(ip: std::net::IpAddr) -> bool {
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    // Binding to an address succeeds only when it is local.
    let addr = std::net::SocketAddr::new(ip, 0);
    std::net::UdpSocket::bind(addr).is_ok()
}

/// The schedule of real attempts (connects, requests) of a check that also has a cheap local
/// pre-check. Real attempts keep their own exponential backoff up to the interval even while
/// the cheap check says nothing listens, so a port served without a local listener (e.g. a
/// DNAT rule) is still found.
pub(crate) struct Pacer {
    delay: Duration,
    next: Option<Instant>,
}

impl Pacer {
    pub fn new() -> Self {
        Pacer {
            delay: FIRST_DELAY,
            next: None,
        }
    }

    /// Whether a real attempt is due.
    pub fn due(&self) -> bool {
        self.next.is_none_or(|t| Instant::now() >= t)
    }

    /// Record a real attempt and schedule the next one.
    pub fn attempted(&mut self, cap: Duration) {
        self.next = Some(Instant::now() + self.delay.min(cap));
        self.delay = (self.delay * 2).min(cap.max(FIRST_DELAY));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_headers() {
        assert_eq!(parse_method("head").unwrap(), "HEAD");
        assert!(parse_method("FETCH").is_err());
        assert_eq!(
            parse_header("X-Token:  abc def ").unwrap(),
            ("X-Token".to_string(), "abc def".to_string())
        );
        assert_eq!(
            parse_header("Accept:").unwrap(),
            ("Accept".to_string(), String::new())
        );
        for bad in ["nocolon", ": v", "Bad Name: v", "K: a\u{7}b"] {
            assert!(parse_header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_in_messages() {
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10 s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn parse_targets() {
        let t = |s: &str| s.parse::<Target>().unwrap();
        assert!(matches!(t(":8080"), Target::Tcp { ref host, port: 8080 } if host == "127.0.0.1"));
        assert!(matches!(t("db:5432"), Target::Tcp { ref host, port: 5432 } if host == "db"));
        assert!(matches!(t("tcp://[::1]:80"), Target::Tcp { ref host, port: 80 } if host == "::1"));
        assert!(matches!(t("https://x/y"), Target::Http { .. }));
        // Schemes are case-insensitive and kept in lower case; ports are checked.
        assert!(
            matches!(t("HTTP://x:8080/y"), Target::Http { ref url } if url == "http://x:8080/y")
        );
        assert!(
            matches!(t("Https://[::1]:443/"), Target::Http { ref url } if url == "https://[::1]:443/")
        );
        assert!(matches!(t("TCP://h:1"), Target::Tcp { ref host, port: 1 } if host == "h"));
        assert!(matches!(t("http://u:p@h:65535/"), Target::Http { .. }));
        assert!(matches!(t(":8080/tcp"), Target::Tcp { port: 8080, .. }));
        assert!(matches!(t("file:/tmp/x"), Target::File { .. }));
        assert!(matches!(t("unix:/run/s"), Target::Unix { .. }));
        assert!(
            matches!(t("log:/var/log/x=ready ok"), Target::Log { ref regex, .. } if regex.as_str() == "ready ok")
        );
        assert!(matches!(
            t("exit:42"),
            Target::Exit {
                pid: 42,
                identity: None
            }
        ));
        assert!(matches!(
            t("exit:42:100:abcdef01"),
            Target::Exit {
                pid: 42,
                identity: Some(_)
            }
        ));
        assert!(matches!(
            t("owner:80=7"),
            Target::Owner {
                port: 80,
                proto: Proto::Tcp,
                pid: 7
            }
        ));
        assert!(matches!(
            t("owner:53/udp=7"),
            Target::Owner {
                port: 53,
                proto: Proto::Udp,
                pid: 7
            }
        ));
        assert!(matches!(t("cmd:true"), Target::Cmd { .. }));
        for bad in [
            "",
            "x",
            "host:",
            "host:0",
            "host:99999",
            "ftp://x",
            "file:",
            "log:/x",
            "log:/x=(",
            "exit:0",
            "exit:-1",
            "exit:abc",
            "owner:80",
            "owner:80=0",
            "owner:70000=5",
            "owner:80x=5",
            "cmd:",
            "http://127.0.0.1:70000/",
            "http://127.0.0.1:18085x/",
            "http://127.0.0.1:0/",
            "https://[::1]:65536/",
            "HTTP://h:-1/",
            "http:///path",
            "http://h:/",
            ":+80",
            ":80/udp",
            ":80/sctp",
            "tcp://h:99999",
        ] {
            let e = bad.parse::<Target>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn status_ranges() {
        assert_eq!(parse_status_ranges("200").unwrap(), vec![(200, 200)]);
        assert_eq!(
            parse_status_ranges("200-299,304").unwrap(),
            vec![(200, 299), (304, 304)]
        );
        assert_eq!(parse_status_ranges("100-599").unwrap(), vec![(100, 599)]);
        for bad in ["", "abc", "300-200", "99", "200-", "999", "600", "200-600"] {
            assert!(parse_status_ranges(bad).is_err(), "{bad}");
        }
    }
}
