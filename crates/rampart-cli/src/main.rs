//! `rampart` — scan what you ship, guard what you run.
//!
//! This crate only parses arguments and wires the library crates together; each subcommand lives
//! in its own module under `cmd/`.
//!
//! Exit codes (all subcommands): 0 = success and nothing at or above the failure threshold,
//! 1 = findings at or above the threshold (or a blocked verdict), 2 = usage or fatal error.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Rampart: a security toolkit for organisations that build on AI.
#[derive(Parser)]
#[command(name = "rampart", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan files, directories, git history and stdin for leaked credentials and other problems.
    Scan(cmd::scan::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Scan(a) => cmd::scan::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("rampart: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
