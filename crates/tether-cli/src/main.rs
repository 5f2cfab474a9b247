//! `tether`: process primitives on the command line. This crate parses arguments, formats
//! output and maps results to exit codes; every decision about processes is the library's.

#[macro_use]
mod output;
mod cmd;
mod exit;
mod startup;

use clap::{Parser, Subcommand};

// The unwinder std needs, linked in statically: libgcc_s is then not needed at run time
// (--as-needed drops it), which spares the loader one library to map, relocate and
// initialise on every start (part of `tether run`'s overhead, bench/contain.py).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[link(name = "gcc_eh", kind = "static")]
extern "C" {}

/// Process primitives that never signal the wrong process, never lose a child, and never poll
/// when the kernel can tell.
#[derive(Parser)]
#[command(name = "tether", version, about, long_about = None, after_help = exit::GENERAL_HELP)]
struct Cli {
    /// Print JSON (with a `schema` id) instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List processes, with filters, columns and sorting.
    #[command(after_help = exit::GENERAL_HELP)]
    Ps(cmd::ps::Args),
    /// Show a process and its descendants as a tree.
    #[command(after_help = exit::GENERAL_HELP)]
    Tree(cmd::tree::Args),
    /// Show everything known about one process, including its identity string.
    #[command(after_help = exit::GENERAL_HELP)]
    Info(cmd::info::Args),
    /// Send a signal, re-checking each target's identity on a pidfd at the moment of sending.
    #[command(after_help = cmd::kill::HELP)]
    Kill(cmd::kill::Args),
    /// List signal names and numbers, like `kill -l`.
    Signals(cmd::signals::Args),
    /// List sockets (TCP, UDP, Unix) and every process holding each one.
    #[command(after_help = cmd::ports::HELP)]
    Ports(cmd::ports::Args),
    /// Show the processes holding a port, with their identity strings.
    #[command(after_help = cmd::who::HELP)]
    Who(cmd::who::Args),
    /// List the open files of a process, with positions, flags and socket addresses.
    #[command(after_help = cmd::fds::HELP)]
    Fds(cmd::fds::Args),
    /// Wait until ports, URLs, files, log lines, exits or commands are ready.
    #[command(after_help = cmd::wait_for::HELP)]
    WaitFor(cmd::wait_for::Args),
    /// Wait for any process (PID or identity) to exit, through a pidfd.
    #[command(after_help = cmd::wait::HELP)]
    Wait(cmd::wait::Args),
    /// End a process and its whole tree: hold, signal, grace, kill what survives.
    #[command(after_help = cmd::stop::HELP)]
    Stop(cmd::stop::Args),
    /// Run a command with a time limit: GNU `timeout`, on a contained tree (exit codes 124-127).
    #[command(after_help = cmd::run::HELP)]
    Run(cmd::run::Args),
}

fn main() {
    // `tether run` and a `timeout` link have GNU's exit codes (125 for usage errors).
    cmd::run::intercept();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => exit::clap_error(e),
    };
    let ctx = output::Ctx { json: cli.json };
    let result = match cli.command {
        Command::Ps(a) => cmd::ps::run(a, &ctx),
        Command::Tree(a) => cmd::tree::run(a, &ctx),
        Command::Info(a) => cmd::info::run(a, &ctx),
        Command::Kill(a) => cmd::kill::run(a, &ctx),
        Command::Signals(a) => cmd::signals::run(a, &ctx),
        Command::Ports(a) => cmd::ports::run(a, &ctx),
        Command::Who(a) => cmd::who::run(a, &ctx),
        Command::Fds(a) => cmd::fds::run(a, &ctx),
        Command::WaitFor(a) => cmd::wait_for::run(a, &ctx),
        Command::Wait(a) => cmd::wait::run(a, &ctx),
        Command::Stop(a) => cmd::stop::run(a, &ctx),
        Command::Run(a) => cmd::run::run(a, &ctx),
    };
    output::exit(exit::finish(result, &ctx));
}
