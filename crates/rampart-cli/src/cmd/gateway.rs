//! `rampart gateway`: run the security gateway (or write a starter config with `--init`).

use super::out::outln;
use rampart_core::stderr_line;
use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `rampart gateway`.
#[derive(clap::Args)]
pub struct Args {
    /// Configuration file.
    #[arg(long, default_value = "rampart.toml")]
    pub config: PathBuf,
    /// Address to listen on, overriding `server.listen` (e.g. 127.0.0.1:0 for any free port).
    #[arg(long)]
    pub listen: Option<String>,
    /// Write a documented example configuration to --config (and a fresh server secret
    /// `rampart.secret` beside it) and exit. Never overwrites.
    #[arg(long)]
    pub init: bool,
}

/// Run the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    if args.init {
        let written = rampart_gateway::init(&args.config)
            .with_context(|| format!("cannot write {}", args.config.display()))?;
        for p in written {
            outln!("wrote {}", p.display());
        }
        outln!(
            "next: set the provider key variables named in the config, then `rampart keys create --name NAME --config {}` and `rampart gateway --config {}`",
            args.config.display(),
            args.config.display()
        );
        return Ok(0);
    }
    let config = rampart_gateway::Config::load(&args.config)?;
    rampart_gateway::run(
        config,
        args.listen.as_deref(),
        rampart_gateway::Options::default(),
        // stderr is unbuffered: the line is out before the first request is accepted.
        |addr| stderr_line!("rampart gateway listening on http://{addr}"),
    )?;
    stderr_line!("rampart gateway stopped; audit trail flushed");
    Ok(0)
}
