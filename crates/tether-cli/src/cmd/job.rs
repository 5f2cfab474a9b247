//! The job commands: `tether start`, `status`, `list`, `logs`, `restart`, `rm` (and the job
//! form of `stop`), over the library's [`tether::job`]; and the hidden `__job-supervisor`
//! entry point that runs a job's supervisor.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tether::duration::parse_duration;
use tether::job::{self, JobSpec, JobStatus, Launcher, StateDir, Stream};
use tether::{Error, Result};
use tether_report::{JobLogsReport, JobReport, JobsReport};

use crate::output::{self, print_report, Ctx, Table};

/// The argument that runs a supervisor instead of a command (see [`supervisor_main`]).
pub use tether::job::SUPERVISOR_ARG;

pub const START_HELP: &str = "Starts a small supervisor for the job, detached in its own session (no daemon \
is left behind when the job ends). It holds the job's lock, so a name that is running is never started \
twice, however many starts race; it runs the command contained (cgroup, or session + subreaper, held by \
a watchdog), writes its stdout and stderr to STATE/NAME/stdout.log and stderr.log with size-bounded \
rotation, applies the restart policy, and keeps STATE/NAME/status.json current (atomic writes). If the \
supervisor is killed, the command's watchdog ends the command's whole tree and `tether status` reports \
the job `killed` (supervisor lost).

Restarts: with on-failure (non-zero exit or a signal) or always, the command is started again after a \
delay that doubles from the first --backoff value up to the second, each spread at random over its upper \
half [d/2, d] (as tether retry --jitter) so that jobs that failed together do not restart in step, reset to the \
first once a run has lasted --min-uptime; after --max-restarts restarts the job gives up (`failed`, with \
the reason).

--requires waits (up to --timeout) for each named job to be running and ready before the command starts. \
--ready takes `tether wait-for` targets (:PORT, HOST:PORT, URLs, file:PATH, log:PATH=REGEX, unix:PATH, \
cmd:COMMAND): start returns once all are ready, and fails, stopping the job, if they are not ready \
within --timeout or the command exits first. Interrupting start while it waits (Ctrl-C, or start \
killed) stops the job too: a job is either ready for a caller that heard so, or stopped.

Environment values given with --env are kept in STATE/NAME/spec.json (mode 0600) for `tether restart`.

State: --state-dir, else $TETHER_STATE_DIR, else $XDG_STATE_HOME/tether, else \
~/.local/state/tether. It is created 0700 (files 0600); a state directory, job directory or file that \
is a symbolic link or belongs to another user is refused.

Exit codes: 0 the job runs (and is ready); 1 it could not start, exited before it was ready, a required \
job was not ready, or it was running already (nothing was started); 2 usage error; 124 --timeout passed \
before it was ready (the job was stopped).";

pub const STATUS_HELP: &str = "Without NAME, every job. A job whose status says pending, running or backoff but \
whose supervisor is gone (killed) is reported `killed`, with supervisorLost: its watchdog ended the \
command. JSON: tether.job/v1 for one job, tether.jobs/v1 for all (status fields in camelCase, as in \
status.json).

Exit codes: 0 shown; 1 no such job, or the state directory is refused; 2 usage error.";

pub const LIST_HELP: &str =
    "One line per job: name, status, PID, restarts, duration, command. JSON: \
tether.jobs/v1.

Exit codes: 0 listed (also when there are none); 1 the state directory is refused; 2 usage error.";

pub const LOGS_HELP: &str = "The last -n lines of the job's stdout (or --stderr), from the rotated files too \
when needed. With -f, then what is appended, through rotations, until the job's supervisor exits (or \
the output is closed). JSON (without -f): tether.job-logs/v1.

Exit codes: 0 shown; 1 no such job or log; 2 usage error (-f with --json).";

pub const RESTART_HELP: &str =
    "Stops the job if it runs (as `tether stop NAME`) and starts it again with the \
spec it was last started with (STATE/NAME/spec.json).

Exit codes: as for `tether start`.";

pub const RM_HELP: &str =
    "Stops the job if it runs (as `tether stop NAME`) and removes its directory: spec, \
status and logs.

Exit codes: 0 removed; 1 no such job, or it could not be stopped; 2 usage error.";

/// `--state-dir`, shared by the job commands.
#[derive(clap::Args, Debug)]
pub struct StateArg {
    /// The state directory (default: $TETHER_STATE_DIR, else $XDG_STATE_HOME/tether, else
    /// ~/.local/state/tether).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl StateArg {
    pub fn resolve(&self) -> Result<StateDir> {
        StateDir::resolve(self.state_dir.as_deref())
    }
}

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// The job's name: letters, digits, '.', '_', '-', starting with a letter or '_'.
    pub name: String,
    /// Restart policy: no, on-failure or always.
    #[arg(long, default_value = "no", value_name = "POLICY")]
    pub restart: String,
    /// Give up after this many restarts (default: never).
    #[arg(long, value_name = "N")]
    pub max_restarts: Option<u32>,
    /// Restart delay range MIN..MAX (doubling from MIN; e.g. 100ms..30s).
    #[arg(long, default_value = "100ms..30s", value_name = "D..D")]
    pub backoff: String,
    /// A run this long resets the delay to MIN.
    #[arg(long, default_value = "1s", value_name = "D")]
    pub min_uptime: String,
    /// Working directory of the command (default: the current one).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set a variable in the command's environment (repeatable).
    #[arg(long, value_name = "K=V", action = clap::ArgAction::Append)]
    pub env: Vec<String>,
    /// Rotate a log when it would grow beyond this size (e.g. 10M, 512K).
    #[arg(long, default_value = "10M", value_name = "S")]
    pub log_max_size: String,
    /// Rotated files kept per log.
    #[arg(long, default_value_t = job::DEFAULT_LOG_KEEP, value_name = "N")]
    pub log_keep: u32,
    /// How long start waits for --requires and --ready.
    #[arg(short, long, default_value = "30s", value_name = "D")]
    pub timeout: String,
    /// Wait until this target is ready before returning (repeatable; `tether wait-for` forms).
    #[arg(long, value_name = "TARGET", action = clap::ArgAction::Append)]
    pub ready: Vec<String>,
    /// Start only once this job is running and ready (repeatable).
    #[arg(long, value_name = "NAME", action = clap::ArgAction::Append)]
    pub requires: Vec<String>,
    /// Write a tether PID file for each run of the command.
    #[arg(long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArg,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The job (default: every job).
    pub name: Option<String>,
    #[command(flatten)]
    pub state: StateArg,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub state: StateArg,
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// The job.
    pub name: String,
    /// Keep printing what is appended, until the job's supervisor exits.
    #[arg(short, long)]
    pub follow: bool,
    /// Show stderr.log instead of stdout.log.
    #[arg(long)]
    pub stderr: bool,
    /// How many lines to show first.
    #[arg(short = 'n', long = "lines", default_value_t = 10, value_name = "N")]
    pub lines: usize,
    #[command(flatten)]
    pub state: StateArg,
}

#[derive(clap::Args, Debug)]
pub struct RestartArgs {
    /// The job.
    pub name: String,
    /// Time the job's tree gets after TERM before KILL.
    #[arg(long, default_value = "10", value_name = "D")]
    pub grace: String,
    #[command(flatten)]
    pub state: StateArg,
}

pub type RmArgs = RestartArgs;

/// The launcher of supervisors: this very program, by its absolute path.
fn launcher() -> Result<Launcher> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::not_found(format!("cannot find the tether program: {e}")))?;
    Ok(Launcher::new(exe, [SUPERVISOR_ARG]))
}

fn spec_of(a: &StartArgs) -> Result<JobSpec> {
    let command = a
        .command
        .iter()
        .map(|c| {
            c.clone().into_string().map_err(|c| {
                Error::invalid(format!(
                    "the command must be valid UTF-8: {}",
                    c.to_string_lossy()
                ))
            })
        })
        .collect::<Result<Vec<String>>>()?;
    let mut s = JobSpec::new(&a.name, command);
    s.restart = a.restart.parse()?;
    s.max_restarts = a.max_restarts;
    let (lo, hi) = job::parse_backoff(&a.backoff)?;
    s.backoff_min_ms = lo.as_millis() as u64;
    s.backoff_max_ms = hi.as_millis() as u64;
    s.min_uptime_ms = ms(parse_duration(&a.min_uptime)?);
    s.cwd = a.cwd.clone();
    s.env = a
        .env
        .iter()
        .map(|e| job::parse_env(e))
        .collect::<Result<_>>()?;
    s.log_max_size = tether::size::parse_size(&a.log_max_size)?;
    s.log_keep = a.log_keep;
    s.timeout_ms = ms(parse_duration(&a.timeout)?);
    s.ready = a.ready.clone();
    s.requires = a.requires.clone();
    s.pidfile = a.pidfile.clone();
    Ok(s)
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

fn run_start(a: StartArgs, ctx: &Ctx) -> Result<i32> {
    let spec = spec_of(&a)?;
    let state = a.state.resolve()?;
    let r = job::start(&state, &spec, &launcher()?)?;
    if ctx.json {
        let mut rep = JobReport::new(r.status.clone());
        rep.already_running = r.already_running;
        print_report(&rep);
    }
    if r.already_running {
        diag!(
            "tether: job '{}' is already running{}; nothing was started",
            output::escape(&a.name),
            r.status
                .pid
                .map_or(String::new(), |p| format!(" (PID {p})"))
        );
        return Ok(1);
    }
    if !ctx.json {
        outln!(
            "started job {} (PID {}){}",
            output::escape(&r.status.name),
            r.status.pid.map_or("-".into(), |p| p.to_string()),
            if spec.ready.is_empty() { "" } else { ", ready" }
        );
    }
    Ok(0)
}

fn run_status(a: StatusArgs, ctx: &Ctx) -> Result<i32> {
    let state = a.state.resolve()?;
    match &a.name {
        Some(n) => {
            let s = job::status(&state, n)?;
            if ctx.json {
                print_report(&JobReport::new(s));
            } else {
                print_one(&s);
            }
        }
        None => print_all(&state, ctx)?,
    }
    Ok(0)
}

fn run_list(a: ListArgs, ctx: &Ctx) -> Result<i32> {
    print_all(&a.state.resolve()?, ctx)?;
    Ok(0)
}

fn print_all(state: &StateDir, ctx: &Ctx) -> Result<()> {
    let jobs = job::list(state)?;
    if ctx.json {
        print_report(&JobsReport::new(
            state.path().to_string_lossy().into_owned(),
            jobs,
        ));
        return Ok(());
    }
    let mut t = Table::new(
        vec!["NAME", "STATUS", "PID", "RESTARTS", "DURATION", "COMMAND"],
        vec![false, false, true, true, true, false],
    );
    for j in &jobs {
        t.push(vec![
            j.name.clone(),
            j.status.to_string(),
            j.pid.map_or("-".into(), |p| p.to_string()),
            j.restarts.to_string(),
            j.duration.clone().unwrap_or_else(|| "-".into()),
            j.command.join(" "),
        ]);
    }
    t.print();
    Ok(())
}

fn print_one(s: &JobStatus) {
    let e = |v: &str| output::escape(v).into_owned();
    outln!("job:        {}", e(&s.name));
    outln!("status:     {}", s.status);
    if let Some(p) = s.pid {
        outln!("pid:        {p}");
    }
    if let Some(i) = &s.identity {
        outln!("identity:   {i}");
    }
    if let Some(t) = &s.started_at {
        outln!("started:    {t}");
    }
    if let Some(d) = &s.duration {
        outln!("duration:   {d}");
    }
    outln!("restarts:   {} (policy {})", s.restarts, s.restart.as_str());
    if let Some(c) = s.exit_code {
        outln!("exit code:  {c}");
    }
    if let Some(sig) = &s.signal {
        outln!("signal:     {sig}");
    }
    if let Some(r) = &s.last_exit_reason {
        outln!("reason:     {}", e(r));
    }
    if let Some(n) = &s.next_start_at {
        outln!("next start: {n}");
    }
    outln!("ready:      {}", if s.ready { "yes" } else { "no" });
    outln!("command:    {}", e(&s.command.join(" ")));
}

fn run_logs(a: LogsArgs, ctx: &Ctx) -> Result<i32> {
    if a.follow && ctx.json {
        return Err(Error::invalid(
            "-f cannot be used with --json (one document is printed)",
        ));
    }
    let state = a.state.resolve()?;
    let stream = if a.stderr {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    if a.follow {
        job::follow_logs(
            &state,
            &a.name,
            stream,
            a.lines,
            &mut |b| {
                output::write_out_bytes(b);
                output::flush();
                !output::is_closed()
            },
            None,
        )?;
        return Ok(0);
    }
    let path = job::log_path(&state, &a.name, stream)?;
    let last = job::tail(&path, a.lines)?;
    if ctx.json {
        let name = if a.stderr { "stderr" } else { "stdout" };
        print_report(&JobLogsReport::new(
            &a.name,
            name,
            path.to_string_lossy().into_owned(),
            &last,
        ));
        return Ok(0);
    }
    output::write_out_bytes(&last);
    Ok(0)
}

/// `tether stop NAME`.
pub fn stop(name: &str, grace: Duration, state: &StateArg, ctx: &Ctx) -> Result<i32> {
    let state = state.resolve()?;
    let r = job::stop(&state, name, grace)?;
    if ctx.json {
        let mut rep = JobReport::new(r.status.clone());
        rep.already_stopped = r.already_stopped;
        print_report(&rep);
    } else if r.already_stopped {
        outln!(
            "job {} is not running ({}); nothing to do",
            output::escape(name),
            r.status.status
        );
    } else {
        outln!("stopped job {}", output::escape(name));
    }
    Ok(0)
}

fn run_restart(a: RestartArgs, ctx: &Ctx) -> Result<i32> {
    let state = a.state.resolve()?;
    let grace = parse_duration(&a.grace)?;
    let r = job::restart(&state, &a.name, grace, &launcher()?)?;
    if ctx.json {
        let mut rep = JobReport::new(r.status.clone());
        rep.already_running = r.already_running;
        print_report(&rep);
    } else {
        outln!(
            "restarted job {} (PID {})",
            output::escape(&a.name),
            r.status.pid.map_or("-".into(), |p| p.to_string())
        );
    }
    Ok(if r.already_running { 1 } else { 0 })
}

fn run_rm(a: RmArgs, ctx: &Ctx) -> Result<i32> {
    let state = a.state.resolve()?;
    let grace = parse_duration(&a.grace)?;
    let last = job::remove(&state, &a.name, grace)?;
    if ctx.json {
        let mut rep = JobReport::new(last);
        rep.removed = true;
        print_report(&rep);
    } else {
        outln!("removed job {}", output::escape(&a.name));
    }
    Ok(0)
}

/// `tether __job-supervisor STATE_DIR` (what [`job::start`] runs, detached): the supervisor of
/// one job, whose spec arrives on stdin. Not for people; its exit code is for nobody.
pub fn supervisor_main(args: &[OsString]) -> i32 {
    let Some(dir) = args.get(2) else {
        diag!("tether: {SUPERVISOR_ARG} needs the state directory");
        return 2;
    };
    let state = match StateDir::resolve(Some(Path::new(dir))) {
        Ok(s) => s,
        Err(e) => {
            diag!("tether: {}", output::escape(e.message()));
            return 1;
        }
    };
    match job::supervise(&state) {
        Ok(code) => code,
        Err(e) => {
            diag!("tether: job supervisor: {}", output::escape(e.message()));
            1
        }
    }
}

/// One module per job subcommand, in the shape the subcommand table expects.
macro_rules! job_commands {
    ($($module:ident: $args:ident, $run:ident, $help:ident;)*) => {$(
        pub mod $module {
            pub type Args = super::$args;
            pub const HELP: &str = super::$help;
            pub fn run(a: Args, ctx: &crate::output::Ctx) -> tether::Result<i32> {
                super::$run(a, ctx)
            }
        }
    )*};
}

job_commands! {
    start: StartArgs, run_start, START_HELP;
    status: StatusArgs, run_status, STATUS_HELP;
    list: ListArgs, run_list, LIST_HELP;
    logs: LogsArgs, run_logs, LOGS_HELP;
    restart: RestartArgs, run_restart, RESTART_HELP;
    rm: RmArgs, run_rm, RM_HELP;
}
