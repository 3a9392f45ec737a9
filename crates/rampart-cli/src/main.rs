//! `rampart` — scan what you ship, guard what you run.
//!
//! This crate only parses arguments and wires the library crates together; each subcommand lives
//! in its own module under `cmd/`.
//!
//! Exit codes (all subcommands): 0 = success and nothing at or above the failure threshold,
//! 1 = findings at or above the threshold (or a blocked verdict), 2 = usage or fatal error.
//! Output into a pipe whose reader has gone (`| head`) ends quietly: no error message, and the
//! exit code is the command's own or 0 when the write failed mid-report. Messages on a stderr
//! whose reader has gone are dropped; the command carries on with its usual exit code.

mod cmd;

use rampart_core::stderr_line;

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
    /// Manage the offline advisory database (OSV) used by the dependency checks.
    Db(cmd::db::Args),
    /// Write a CycloneDX 1.6 SBOM of the packages in a directory or lockfile.
    Sbom(cmd::sbom::Args),
    /// Propose the smallest upgrades that fix known vulnerable or malicious packages.
    FixPlan(cmd::fix_plan::Args),
    /// Judge URLs: registrable domain, phishing tricks, and the brand a lookalike imitates.
    Url(cmd::url::Args),
    /// Verify where users really are from latency: physical bounds, relays, impossible travel.
    Presence(cmd::presence::Args),
    /// Run the AI gateway: virtual keys, limits, routing, audit trail (`--init` writes a config).
    Gateway(cmd::gateway::Args),
    /// Create, list, revoke and rotate the gateway's virtual keys.
    Keys(cmd::keys::Args),
    /// Verify and export the gateway's tamper-evident audit trail.
    Audit(cmd::audit::Args),
    /// Run the guardrail pipeline offline on standard input (test a policy).
    Guard(cmd::guard::Args),
    /// List, show and export the incidents opened by guardrail blocks.
    Incidents(cmd::incidents::Args),
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
        Command::Db(a) => cmd::db::run(a),
        Command::Sbom(a) => cmd::sbom::run(a),
        Command::FixPlan(a) => cmd::fix_plan::run(a),
        Command::Url(a) => cmd::url::run(a),
        Command::Presence(a) => cmd::presence::run(a),
        Command::Gateway(a) => cmd::gateway::run(a),
        Command::Keys(a) => cmd::keys::run(a),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Guard(a) => cmd::guard::run(a),
        Command::Incidents(a) => cmd::incidents::run(a),
    };
    // What the commands wrote with `outln!`; a closed pipe (`| head`) is not an error.
    // Flushed on errors too, so nothing already reported is lost.
    let flushed = cmd::out::flush_out();
    let result = result.and_then(|code| flushed.map(|()| code));
    match result {
        Ok(code) => ExitCode::from(code),
        // The reader of our output went away (`| head`): nothing left to tell anyone.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            stderr_line!("rampart: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
    })
}
