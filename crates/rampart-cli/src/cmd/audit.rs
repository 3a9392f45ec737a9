//! `rampart audit`: verify the gateway's audit hash chain, export it as JSON Lines.

use super::out::outln;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use rampart_gateway::{audit_json, now_ms, parse_time};
use rampart_store::Store;
use rampart_store::audit::{AuditLog, AuditQuery, hex};

/// Arguments of `rampart audit`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// Where the gateway's database is: named by the config, or given directly (shared with
/// `rampart incidents`).
#[derive(clap::Args)]
pub(crate) struct Source {
    /// Gateway configuration file (names the database).
    #[arg(long, default_value = "rampart.toml")]
    config: PathBuf,
    /// The database file, instead of the one named in --config.
    #[arg(long)]
    db: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Walk the hash chain; exit 1 and name the first edited, reordered or deleted record.
    Verify {
        /// Output format: text or json.
        #[arg(long, default_value = "text")]
        format: String,
        /// A head hash kept outside the database (the gateway prints `audit chain head: record N
        /// hash H` when it stops; `verify` prints it too): exit 1 unless the chain still holds
        /// that record, so cutting the tail and its head, or rewriting the whole chain, is seen.
        #[arg(long, value_name = "HASH")]
        head: Option<String>,
        #[command(flatten)]
        source: Source,
    },
    /// Write the audit records as JSON Lines (one record per line, oldest first).
    Export(Export),
}

/// `--format jsonl [--since T] [-o FILE]` and the database: the arguments of `audit export` and
/// `incidents export`.
#[derive(clap::Args)]
pub(crate) struct Export {
    /// Output format (jsonl).
    #[arg(long, default_value = "jsonl")]
    format: String,
    /// Only entries at or after this time: RFC 3339, YYYY-MM-DD, or a duration ago (24h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[command(flatten)]
    source: Source,
}

impl Export {
    /// Check the arguments, open the database and the output, and write one JSON line per value
    /// that `rows` hands to its callback. A closed pipe (`| head`) ends quietly. Exit code 0.
    pub(crate) fn write_jsonl(
        self,
        rows: impl FnOnce(&Store, Option<i64>, &mut dyn FnMut(&serde_json::Value)) -> anyhow::Result<()>,
    ) -> anyhow::Result<u8> {
        if self.format != "jsonl" {
            bail!("--format: `{}` is not supported (use jsonl)", self.format);
        }
        let since_ms = parse_since(self.since)?;
        let store = open(&self.source)?;
        let out: Box<dyn Write> = match &self.output {
            Some(p) => Box::new(
                std::fs::File::create(p)
                    .with_context(|| format!("cannot write {}", p.display()))?,
            ),
            None => Box::new(std::io::stdout().lock()),
        };
        let mut out = std::io::BufWriter::new(out);
        let mut io_err = None;
        rows(&store, since_ms, &mut |v| {
            if io_err.is_none()
                && let Err(e) = writeln!(out, "{v}")
            {
                io_err = Some(e);
            }
        })?;
        // A closed pipe (`| head`) is `main`'s to end quietly, like every other command's.
        if let Some(e) = io_err.or_else(|| out.flush().err()) {
            return Err(e.into());
        }
        Ok(0)
    }
}

/// `--since`: RFC 3339, YYYY-MM-DD, or a duration ago (24h, 7d), as Unix milliseconds.
pub(crate) fn parse_since(s: Option<String>) -> anyhow::Result<Option<i64>> {
    s.map(|s| parse_time(&s, now_ms(), false).map_err(|m| anyhow::anyhow!("--since: {m}")))
        .transpose()
}

/// Open the gateway's database named by `source`; it must exist.
pub(crate) fn open(source: &Source) -> anyhow::Result<Store> {
    let path = match &source.db {
        Some(p) => p.clone(),
        None => rampart_gateway::Config::load(&source.config)?.database_path(),
    };
    if !path.exists() {
        bail!("no database at {}", path.display());
    }
    Store::open(&path).with_context(|| format!("cannot open the database {}", path.display()))
}

/// Run the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.command {
        Command::Verify {
            format,
            head,
            source,
        } => {
            let store = open(&source)?;
            let r = store.verify_audit()?;
            let head = match head {
                Some(h) => {
                    let h = h.trim().to_ascii_lowercase();
                    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                        bail!("--head: `{h}` is not a 64-digit hex hash");
                    }
                    Some(h)
                }
                None => None,
            };
            // The kept head must still be a record of the (intact) chain.
            let mut head_seq = None;
            if let Some(h) = &head
                && r.problem.is_none()
            {
                store.for_each_audit(
                    AuditQuery {
                        after_seq: None,
                        tail: None,
                        since_ms: None,
                    },
                    &mut |rec| {
                        if head_seq.is_none() && hex(&rec.hash) == *h {
                            head_seq = Some(rec.seq);
                        }
                        Ok(())
                    },
                )?;
            }
            let head_missing = head.is_some() && r.problem.is_none() && head_seq.is_none();
            // Name the record a break points at, when it still exists.
            let mut named = None;
            if let Some(p) = &r.problem {
                let seq = p.seq();
                store.for_each_audit(
                    AuditQuery {
                        after_seq: Some(seq.saturating_sub(1)),
                        tail: None,
                        since_ms: None,
                    },
                    &mut |rec| {
                        if named.is_none() && rec.seq == seq {
                            named = Some((rec.entry.request_id.clone(), rec.entry.ts_ms));
                        }
                        Ok(())
                    },
                )?;
            }
            match format.as_str() {
                "json" => {
                    let v = serde_json::json!({
                        "ok": r.problem.is_none(),
                        "records": r.records,
                        "last_seq": r.last.seq,
                        "last_hash": hex(&r.last.hash),
                        "problem": r.problem.as_ref().map(|p| serde_json::json!({
                            "seq": p.seq(),
                            "message": p.to_string(),
                            "request_id": named.as_ref().map(|n| n.0.clone()),
                        })),
                        "head": head.as_ref().map(|h| serde_json::json!({
                            "hash": h,
                            "found": head_seq.is_some(),
                            "seq": head_seq,
                        })),
                    });
                    outln!("{v}");
                }
                "text" => match &r.problem {
                    None if head_missing => outln!(
                        "audit chain BROKEN: the head kept elsewhere ({}) is not in it — records after it were removed, or the chain was rewritten ({} records now, head record {} hash {})",
                        head.as_deref().unwrap_or_default(),
                        r.records,
                        r.last.seq,
                        hex(&r.last.hash)
                    ),
                    None => outln!(
                        "audit chain intact: {} records; head record {} hash {}",
                        r.records,
                        r.last.seq,
                        hex(&r.last.hash)
                    ),
                    Some(p) => {
                        let at = named
                            .as_ref()
                            .map(|(id, ts)| {
                                format!(" (request {id} at {})", rampart_gateway::rfc3339(*ts))
                            })
                            .unwrap_or_default();
                        outln!("audit chain BROKEN at record {}{at}: {p}", p.seq());
                    }
                },
                other => bail!("--format: `{other}` is not text or json"),
            }
            Ok(u8::from(r.problem.is_some() || head_missing))
        }
        Command::Export(export) => export.write_jsonl(|store, since_ms, emit| {
            store.for_each_audit(
                AuditQuery {
                    since_ms,
                    ..Default::default()
                },
                &mut |rec| {
                    emit(&audit_json(&rec));
                    Ok(())
                },
            )?;
            Ok(())
        }),
    }
}
