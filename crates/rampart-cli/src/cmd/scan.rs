//! `rampart scan` (being built).

/// Arguments of `rampart scan`.
#[derive(clap::Args)]
pub struct Args {
    /// Files or directories to scan; `-` reads stdin.
    pub paths: Vec<std::path::PathBuf>,
}

/// Run the scan.
pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("scan is not wired yet")
}
