//! One module per subcommand: an `Args` struct (clap) and `run(Args) -> anyhow::Result<u8>`
//! returning the process exit code.

pub mod audit;
pub mod db;
pub mod fix_plan;
pub mod gateway;
pub mod guard;
pub mod incidents;
pub mod keys;
pub(crate) mod out;
pub mod presence;
pub mod sbom;
pub mod scan;
pub mod url;
