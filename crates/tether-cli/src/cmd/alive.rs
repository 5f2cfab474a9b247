//! `tether alive`: whether a process runs — named by a PID file, a PID or an identity string.

use std::path::PathBuf;

use tether::pidfile::check_target;
use tether::{ProcessRef, Result};

use super::pidfile;
use crate::output::Ctx;

pub const HELP: &str = "With --pidfile, the file is read without following a symbolic link. A tether PID \
file (JSON, written by `tether run --pidfile`) names the process by its full identity. It is stale, and \
stale is not alive, when it was written before the last boot, when its PID now belongs to another \
process, or when the process runs another executable than recorded (unless the kernel's pidfs inode or \
the file's live owner vouches that it is the same process, which then called exec). A legacy file \
holding a bare PID is trusted only if the process with that PID started before the file was last \
written; the answer then says the identity is weak. The file's lock shows whether its owner is alive \
(`locked` in JSON).

A bare PID is alive while a process has it (a zombie is not); an identity string only while its process \
runs (stale once its PID belongs to another process).

Nothing is ever signalled.

Exit codes: 0 alive; 1 not alive (exited, stale), no such PID file, or it may not be read; 2 usage error, \
or a PID file that is malformed: empty, not a PID (garbage, a PID of 0, 1, negative or above 2147483647), \
larger than 64 KiB, a directory or another non-regular file, or a symbolic link.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// PID or identity string (from `tether info`).
    #[arg(required_unless_present = "pidfile", conflicts_with = "pidfile")]
    pub target: Option<String>,
    /// The process named by this PID file (a tether PID file or a bare PID).
    #[arg(long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Print nothing: the exit code answers.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    if let Some(f) = &a.pidfile {
        return pidfile::alive(f, a.quiet, ctx);
    }
    let target: ProcessRef = a.target.as_deref().unwrap_or_default().parse()?;
    let status = check_target(&target)?;
    pidfile::print_alive(&status, target.pid(), None, a.quiet, ctx);
    Ok(pidfile::alive_code(&status))
}
