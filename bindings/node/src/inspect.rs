//! Process inspection: `snapshot`, `snapshotSync`, `get`.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use napi::bindgen_prelude::{Either, Object, Unknown};
use napi::Env;
use napi_derive::napi;
use tether::inspect::{
    compile_regex, parse_user, Field, FieldSet, Filter, NameMatch, ProcessState, Query,
};

use crate::args::{self, integer_in, millis, pid};
use crate::error::{sync, Fail, Result};
use crate::json::Json;
use crate::{json_name, promise};

/// The fields read when none are asked for: `tether ps`'s columns, and the name.
const DEFAULT_FIELDS: [Field; 9] = [
    Field::Pid,
    Field::Ppid,
    Field::Name,
    Field::User,
    Field::State,
    Field::Cpu,
    Field::Rss,
    Field::Elapsed,
    Field::Cmdline,
];

/// One process. Every field but `pid` is present only when it was asked for (or a filter needed
/// it) and could be read; a field that could not be read is absent, never invented.
///
/// A snapshot hands its list to JavaScript as JSON (serialised on the snapshot's thread, parsed
/// by `JSON.parse`): for thousands of processes that is several times cheaper, on the event
/// loop, than building the objects property by property through Node-API.
#[napi(object, object_from_js = false)]
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessInfo {
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    /// Process group id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgid: Option<i32>,
    /// Session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<i32>,
    /// Controlling terminal (`pts/3`), absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    /// Command name (comm), at most 15 bytes, as the kernel keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Executable path; absent for kernel threads, zombies and unreadable processes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// Argument vector; empty for kernel threads and zombies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<Vec<String>>,
    /// `running`, `sleeping`, `disk_sleep`, `zombie`, `stopped`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Effective uid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Start time in clock ticks since boot: the identity's precision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<f64>,
    /// Start time, Unix time in milliseconds (`new Date(p.startTimeMs)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time_ms: Option<f64>,
    /// Time since start, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<f64>,
    /// Resident set size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<f64>,
    /// Virtual size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vsize_bytes: Option<f64>,
    /// User-mode CPU time in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_user_ms: Option<f64>,
    /// Kernel-mode CPU time in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_system_ms: Option<f64>,
    /// CPU use in percent of one CPU: sampled over `cpuSampleMs` when given, else the lifetime
    /// average (as `ps` computes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<f64>,
    /// The identity string (`PID:START_TICKS:BOOT8[:INODE]`): `ProcessIdentity.parse(it)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Environment as `KEY=VALUE` strings, only when asked for, capped in size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environ: Option<Vec<String>>,
    /// Whether the environment was cut short by the size cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environ_truncated: Option<bool>,
    /// Requested fields this user may not read for this process (`exe`, `env` of another user's
    /// process): absent for lack of permission, not because there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied: Option<Vec<String>>,
}

fn ms_since_epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as f64
}

impl From<tether::inspect::ProcessInfo> for ProcessInfo {
    fn from(p: tether::inspect::ProcessInfo) -> Self {
        let whole_ms = |d: std::time::Duration| d.as_millis() as f64;
        ProcessInfo {
            pid: p.pid,
            ppid: p.ppid,
            pgid: p.pgid,
            sid: p.sid,
            tty: p.tty,
            name: p.name,
            exe: p.exe,
            cmdline: p.cmdline,
            state: p.state.map(json_name),
            uid: p.uid,
            user: p.user,
            start_ticks: p.start_ticks.map(|t| t as f64),
            start_time_ms: p.start_time.map(ms_since_epoch),
            elapsed_ms: p.elapsed.map(whole_ms),
            rss_bytes: p.rss_bytes.map(|b| b as f64),
            vsize_bytes: p.vsize_bytes.map(|b| b as f64),
            cpu_user_ms: p.cpu_user.map(whole_ms),
            cpu_system_ms: p.cpu_system.map(whole_ms),
            cpu_percent: p.cpu_percent,
            threads: p.threads.map(|t| t as f64),
            identity: p.identity.map(|i| i.to_string()),
            environ: p.environ,
            environ_truncated: p.environ_truncated,
            denied: (!p.denied.is_empty()).then_some(p.denied),
        }
    }
}

/// What `snapshot` reads and which processes it keeps. Every filter given must match.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct SnapshotOptions {
    /// Fields to read, by the names `tether ps --fields` takes: `pid`, `ppid`, `pgid`, `sid`,
    /// `tty`, `name`, `exe`, `cmdline`, `state`, `uid`, `user`, `start`, `elapsed`, `rss`,
    /// `vsz`, `cpu_time`, `cpu`, `threads`, `env`, `identity`. Only the /proc files these need
    /// are opened. Default: pid, ppid, name, user, state, cpu, rss, elapsed, cmdline.
    pub fields: Option<Vec<String>>,
    /// Only these PIDs (the others are not even read).
    pub pids: Option<Vec<f64>>,
    /// The command name is exactly this.
    pub name: Option<String>,
    /// The command name contains this.
    pub name_contains: Option<String>,
    /// The command name matches this regular expression (Rust regex syntax, unanchored).
    pub name_regex: Option<String>,
    /// The command line, joined by spaces, matches this regular expression.
    pub cmdline: Option<String>,
    /// Owned by this user (a name or a uid).
    pub user: Option<Either<String, f64>>,
    pub ppid: Option<f64>,
    pub pgid: Option<f64>,
    pub sid: Option<f64>,
    /// In any of these states (`running`, `sleeping`, `zombie`, … or letters `R`, `S`, `Z`).
    pub states: Option<Vec<String>>,
    pub min_cpu_percent: Option<f64>,
    pub min_rss_bytes: Option<f64>,
    /// Started at least this many milliseconds ago.
    pub min_age_ms: Option<f64>,
    /// Sample CPU use over this many milliseconds instead of the lifetime average (the
    /// snapshot then takes that long).
    pub cpu_sample_ms: Option<f64>,
}

/// `get`'s options.
#[napi(object, object_to_js = false)]
pub struct GetOptions {
    /// Fields to read, as for `snapshot`. Default: as `snapshot`'s.
    pub fields: Option<Vec<String>>,
}

pub(crate) fn field_set(list: Option<&[String]>) -> Result<FieldSet> {
    match list {
        None => Ok(FieldSet::of(&DEFAULT_FIELDS)),
        Some(names) => {
            let fields = names
                .iter()
                .map(|n| Field::from_str(n))
                .collect::<tether::Result<Vec<_>>>()?;
            Ok(FieldSet::of(&fields))
        }
    }
}

fn query(o: Option<SnapshotOptions>) -> Result<Query> {
    let o = o.unwrap_or_default();
    let mut filter = Filter::default();
    if let Some(list) = &o.pids {
        filter.pids = Some(
            list.iter()
                .map(|&p| pid(p, "options.pids[]"))
                .collect::<Result<_>>()?,
        );
    }
    filter.name = match (o.name, o.name_contains, o.name_regex) {
        (None, None, None) => None,
        (Some(n), None, None) => Some(NameMatch::Exact(n)),
        (None, Some(n), None) => Some(NameMatch::Substring(n)),
        (None, None, Some(r)) => Some(NameMatch::Regex(compile_regex(&r)?)),
        _ => {
            return Err(Fail::Value(
                "options.name, options.nameContains and options.nameRegex exclude each other"
                    .into(),
            ))
        }
    };
    filter.cmdline = o.cmdline.as_deref().map(compile_regex).transpose()?;
    filter.uid = match o.user {
        None => None,
        Some(Either::A(name)) => Some(parse_user(&name)?),
        Some(Either::B(uid)) => Some(integer_in(uid, 0, u32::MAX as i64, "options.user")? as u32),
    };
    filter.ppid = o.ppid.map(|p| pid(p, "options.ppid")).transpose()?;
    let group = |n: f64, what: &str| integer_in(n, 1, i32::MAX as i64, what).map(|g| g as i32);
    filter.pgid = o.pgid.map(|g| group(g, "options.pgid")).transpose()?;
    filter.sid = o.sid.map(|s| group(s, "options.sid")).transpose()?;
    if let Some(states) = &o.states {
        filter.states = Some(
            states
                .iter()
                .map(|s| {
                    ProcessState::parse(s).ok_or_else(|| {
                        Fail::Tether(tether::Error::invalid(format!(
                            "unknown process state '{s}': use running, sleeping, disk_sleep, \
                             zombie, stopped, tracing_stop, dead, idle, parked, waking or a letter"
                        )))
                    })
                })
                .collect::<Result<_>>()?,
        );
    }
    if let Some(c) = o.min_cpu_percent {
        if !(c.is_finite() && c >= 0.0) {
            return Err(Fail::Range(format!(
                "options.minCpuPercent must be 0 or more; received {c}"
            )));
        }
        filter.min_cpu_percent = Some(c);
    }
    filter.min_rss_bytes = o
        .min_rss_bytes
        .map(|b| integer_in(b, 0, i64::MAX, "options.minRssBytes").map(|b| b as u64))
        .transpose()?;
    filter.min_age = o
        .min_age_ms
        .map(|m| millis(m, "options.minAgeMs"))
        .transpose()?;
    let mut q = Query::new(field_set(o.fields.as_deref())?, filter);
    q.cpu_sample = o
        .cpu_sample_ms
        .map(|m| millis(m, "options.cpuSampleMs"))
        .transpose()?;
    Ok(q)
}

/// The snapshot, as the JSON array of [`ProcessInfo`] that becomes the JavaScript list.
fn run(q: &Query) -> Result<Json> {
    let list: Vec<ProcessInfo> = tether::inspect::snapshot(q)?
        .into_iter()
        .map(ProcessInfo::from)
        .collect();
    Json::of(&list)
}

/// Every process that passes the filters, sorted by PID, read off the event loop. Processes that
/// exit while being read are left out; only a failure to list /proc is an error.
#[napi(
    ts_args_type = "options?: SnapshotOptions",
    ts_return_type = "Promise<ProcessInfo[]>"
)]
pub fn snapshot<'env>(env: &'env Env, options: Option<Unknown>) -> napi::Result<Object<'env>> {
    match args::options(options, "options").and_then(query) {
        Ok(q) => promise::spawn(env, "tether-snapshot", move || run(&q), |_, list| list),
        Err(fail) => promise::rejected(env, fail),
    }
}

/// `snapshot`, blocking the event loop while it reads (a few milliseconds per thousand
/// processes; with `cpuSampleMs`, that long too).
#[napi(
    ts_args_type = "options?: SnapshotOptions",
    ts_return_type = "ProcessInfo[]"
)]
pub fn snapshot_sync(env: &Env, options: Option<Unknown>) -> napi::Result<Json> {
    sync(env, || run(&query(args::options(options, "options")?)?))
}

/// One process (a few files of /proc, read at once). A `NotFoundError` when there is none.
#[napi(ts_args_type = "pid: number, options?: GetOptions")]
pub fn get(env: &Env, pid: Unknown, options: Option<Unknown>) -> napi::Result<ProcessInfo> {
    sync(env, || {
        let pid = args::pid(args::number(&pid, "pid")?, "pid")?;
        let o = args::options::<GetOptions>(options, "options")?;
        let fields = field_set(o.as_ref().and_then(|o| o.fields.as_deref()))?;
        Ok(tether::inspect::get(pid, fields)?.into())
    })
}
