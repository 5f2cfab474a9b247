//! One module per subcommand, plus the pieces several of them share.

pub mod alive;
pub mod columns;
pub mod fds;
pub mod filters;
pub mod info;
pub mod init;
pub mod job;
pub mod kill;
pub mod pidfile;
pub mod ports;
pub mod ps;
pub mod retry;
pub mod run;
pub mod run_gnu;
pub mod signals;
pub mod stop;
pub mod stop_port;
pub mod tree;
pub mod wait;
pub mod wait_for;
pub mod who;
pub use job::{list, logs, restart, rm, start, status};
