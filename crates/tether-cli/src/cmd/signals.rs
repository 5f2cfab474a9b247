//! `tether signals`: the signal table, like `kill -l`.

use tether::signal::Signal;
use tether::Result;
use tether_report::SignalsReport;

use crate::output::{print_report, Ctx};

/// After the options in `--help`.
pub const HELP: &str =
    "Without arguments, prints the table of `kill -l` (bash's layout). With arguments, \
translates each: a number prints its name, a name (TERM, SIGTERM, term, RTMIN+1) its number.

Exit codes: 0 success; 2 usage error (an unknown signal name or number).";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Translate these: a number prints its name, a name prints its number (like `kill -l 15`).
    pub signals: Vec<String>,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let list: Vec<Signal> = if a.signals.is_empty() {
        Signal::all().collect()
    } else {
        a.signals.iter().map(|s| s.parse()).collect::<Result<_>>()?
    };
    if ctx.json {
        print_report(&list.iter().collect::<SignalsReport>());
    } else if a.signals.is_empty() {
        out!("{}", Signal::kill_l_table());
    } else {
        for (s, arg) in list.iter().zip(&a.signals) {
            if arg.trim().parse::<i32>().is_ok() {
                outln!("{}", s.name());
            } else {
                outln!("{}", s.number());
            }
        }
    }
    Ok(0)
}
