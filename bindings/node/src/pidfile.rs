//! PID files: read one, and whether the process it names still runs (`tether alive`'s verdict),
//! never signalling anything.

use std::path::Path;

use napi::bindgen_prelude::Unknown;
use napi::Env;
use napi_derive::napi;
use tether::pidfile::{self, Content};
use tether_report::{PidFileView, Verdict};

use crate::args;
use crate::error::{sync, Result};

/// A tether PID file record (`tether.pidfile/v1`).
#[napi(object, object_from_js = false)]
pub struct PidFileRecord {
    /// The identity string of the process it names.
    pub identity: String,
    /// Its executable when the file was written.
    pub exe: Option<String>,
    /// Its command line when the file was written.
    pub argv: Vec<String>,
    /// Its start time, Unix time in milliseconds.
    pub start_unix_ms: f64,
}

/// A PID file as read.
#[napi(object, object_from_js = false)]
pub struct PidFileInfo {
    pub path: String,
    /// `tether` (a record) or `legacy` (a bare PID).
    pub format: String,
    /// The PID it names.
    pub pid: u32,
    /// Whether its owner held its lock when it was read (legacy writers never lock).
    pub locked: bool,
    /// When it was last modified, Unix time in milliseconds.
    pub modified_unix_ms: f64,
    /// What it holds, for the tether format.
    pub record: Option<PidFileRecord>,
}

/// Whether the process a PID file names runs.
#[napi(object, object_from_js = false)]
pub struct PidFileCheck {
    /// Only `alive` is alive: `stale` and `gone` are not.
    pub alive: bool,
    /// `alive`, `stale` (the process the file names is gone, and its PID may belong to another
    /// one) or `gone`.
    pub status: String,
    /// Why it is stale: `rebooted`, `reused`, `exe_changed` or `started_after_file`.
    pub stale_reason: Option<String>,
    /// The verdict in words.
    pub message: String,
    pub pid: u32,
    /// The identity string of the running process, when alive.
    pub identity: Option<String>,
    /// `strong` (the full identity matched) or `weak` (a bare PID), when alive.
    pub identity_strength: Option<String>,
    /// The executable it runs now, when it differs from the one recorded.
    pub exe_now: Option<String>,
    /// The file as read.
    pub pidfile: PidFileInfo,
}

fn info(f: &pidfile::PidFile) -> PidFileInfo {
    let v = PidFileView::from(f);
    PidFileInfo {
        path: v.path,
        format: v.format,
        pid: f.pid(),
        locked: v.locked,
        modified_unix_ms: v.modified_unix_ms as f64,
        record: match &f.content {
            Content::Record(r) => Some(PidFileRecord {
                identity: r.identity.to_string(),
                exe: r.exe.clone(),
                argv: r.argv.clone(),
                start_unix_ms: r.start_unix_ms as f64,
            }),
            _ => None,
        },
    }
}

fn read(path: &Unknown) -> Result<(String, pidfile::PidFile)> {
    let path = args::string(path, "path")?;
    let f = pidfile::read(Path::new(&path))?;
    Ok((path, f))
}

/// Read a PID file (a tether record or a bare PID; a symbolic link is refused). Nothing is
/// signalled. `NotFoundError` when there is none, `InvalidArgumentError` when it holds
/// anything else.
#[napi(ts_args_type = "path: string")]
pub fn read_pidfile(env: &Env, path: Unknown) -> napi::Result<PidFileInfo> {
    sync(env, || Ok(info(&read(&path)?.1)))
}

/// Whether the process a PID file names still runs, checked by its identity (boot, PID, start
/// time): a PID reused by another process makes the file `stale`, never `alive`. Nothing is
/// signalled.
#[napi(ts_args_type = "path: string")]
pub fn check_pidfile(env: &Env, path: Unknown) -> napi::Result<PidFileCheck> {
    sync(env, || {
        let (path, f) = read(&path)?;
        let status = f.check()?;
        let v = Verdict::new(&status, f.pid(), Some(Path::new(&path)));
        Ok(PidFileCheck {
            alive: v.alive,
            status: v.status,
            stale_reason: v.stale_reason,
            message: v.message,
            pid: v.pid,
            identity: v.identity,
            identity_strength: v.identity_strength.map(crate::json_name),
            exe_now: v.exe_now,
            pidfile: info(&f),
        })
    })
}
