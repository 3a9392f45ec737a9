//! One module per subcommand: an `Args` struct (clap) and `run(Args) -> anyhow::Result<u8>`
//! returning the process exit code.

pub mod scan;
