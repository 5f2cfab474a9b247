//! Replace the calling process with a command once the wait is over, as `wait-for-it`,
//! `dockerize` and `wait4x` do with `-- CMD`: the command keeps the PID, the environment and
//! the open standard streams, and its exit status is the caller's.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use crate::error::Error;

/// Execute `argv[0]` (searched in `PATH` when it has no `/`) with the arguments `argv[1..]`,
/// in place of the calling process. Returns only on failure: `NotFound` when the command does
/// not exist (shells exit 127 then), another kind when it cannot be executed (126).
///
/// The standard library resets the signal dispositions it changed (SIGPIPE) in the new image;
/// the library's own fds (pidfds, inotify, sockets) are close-on-exec.
pub fn exec(argv: &[OsString]) -> Error {
    let Some((prog, args)) = argv.split_first() else {
        return Error::invalid("no command to execute");
    };
    let e = std::process::Command::new(prog).args(args).exec();
    Error::from_io(format_args!("executing {}", prog.to_string_lossy()), &e)
}
