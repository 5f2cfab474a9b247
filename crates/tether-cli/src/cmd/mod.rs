//! One module per subcommand, plus the pieces several of them share.

pub mod columns;
pub mod filters;
pub mod info;
pub mod kill;
pub mod ps;
pub mod run;
pub mod signals;
pub mod stop;
pub mod tree;
pub mod wait;
