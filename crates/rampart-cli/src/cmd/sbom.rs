//! `rampart sbom`: a CycloneDX 1.6 JSON bill of materials of a directory or lockfile.

use anyhow::{Context, Result, bail};
use rampart_core::stderr_line;
use rampart_deps::{sbom, walk};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `rampart sbom`.
#[derive(clap::Args)]
#[command(after_help = "\
Reads every lockfile and installed-package database under PATH (see `rampart fix-plan --help` for
the list), including inside container images and archives, through the same sources as `rampart scan`. Exit codes: 0 = BOM
written, 2 = error. Files that could not be read are listed on stderr.")]
pub struct Args {
    /// Directory or lockfile.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Write the BOM to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Run `rampart sbom`.
pub fn run(args: Args) -> Result<u8> {
    if !args.path.exists() {
        bail!("{}: no such file or directory", args.path.display());
    }
    let det = rampart_deps::DepsDetector::inventory_only()
        .with_include_reader(walk::disk_include_reader());
    let skipped = super::scan::inventory(&args.path, &det).skipped;
    let manifests = det.take_inventory();
    for s in &skipped {
        stderr_line!("rampart: skipped {}: {}", s.path, s.reason);
    }
    let bom = sbom::cyclonedx(&args.path.display().to_string(), &manifests);
    let text = serde_json::to_string_pretty(&bom)?;
    match &args.output {
        Some(p) => std::fs::write(p, text + "\n")
            .with_context(|| format!("cannot write {}", p.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = writeln!(out, "{text}").and_then(|_| out.flush()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e.into());
                }
            }
        }
    }
    let n = bom["components"].as_array().map_or(0, |c| c.len());
    stderr_line!(
        "rampart: {n} components from {} manifest(s)",
        manifests.len()
    );
    Ok(0)
}
