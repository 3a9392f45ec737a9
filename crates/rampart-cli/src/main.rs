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
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("rampart: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
