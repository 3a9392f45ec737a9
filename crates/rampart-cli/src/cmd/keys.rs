//! `rampart keys`: create, list, revoke and rotate the gateway's virtual keys.
//!
//! Keys are written straight to the gateway's database; a running gateway picks the change up
//! within `server.keys_refresh_secs`. A new key is printed once, alone on the last line of
//! standard output, and never stored (only its keyed hash is).

use super::out::outln;
use std::path::PathBuf;

use anyhow::{Context, bail};
use rampart_gateway::keys::{KeyHasher, KeySpec, new_key, spec_of};
use rampart_gateway::limits::BudgetPeriod;
use rampart_gateway::{key_json, now_ms, parse_time};
use rampart_store::Store;
use rampart_store::keys::VirtualKeys;
use rampart_store::usage::UsageLedger;

/// Arguments of `rampart keys`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Common {
    /// Gateway configuration file (names the database and the server secret).
    #[arg(long, default_value = "rampart.toml")]
    config: PathBuf,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Create a key and print it (once).
    Create {
        /// A name for the key (a team, service or person).
        #[arg(long)]
        name: String,
        /// Models (or aliases) the key may use, comma-separated; default: all.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Requests per minute.
        #[arg(long)]
        rpm: Option<u64>,
        /// Tokens per minute.
        #[arg(long)]
        tpm: Option<u64>,
        /// Concurrent requests.
        #[arg(long)]
        max_concurrency: Option<u32>,
        /// Spend budget in USD (model prices come from the config).
        #[arg(long)]
        budget_usd: Option<f64>,
        /// Budget period: total, day or month.
        #[arg(long, default_value = "total")]
        budget_period: String,
        /// Expiry: RFC 3339 time, a date (YYYY-MM-DD), or a duration from now (30d, 12h).
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// List keys (never the keys themselves).
    List {
        /// Output format: table or json.
        #[arg(long, default_value = "table")]
        format: String,
        #[command(flatten)]
        common: Common,
    },
    /// Revoke a key by id.
    Revoke {
        /// The key id (`key_…`, see `keys list`).
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Replace a key by a new one with the same settings (and budget spent); the old one is
    /// revoked. Prints the new key (once).
    Rotate {
        /// The key id.
        id: String,
        #[command(flatten)]
        common: Common,
    },
}

fn open(common: &Common) -> anyhow::Result<(rampart_gateway::Config, Store)> {
    let config = rampart_gateway::Config::load(&common.config)?;
    let db = config.database_path();
    let store =
        Store::open(&db).with_context(|| format!("cannot open the database {}", db.display()))?;
    Ok((config, store))
}

fn hasher(config: &rampart_gateway::Config) -> anyhow::Result<KeyHasher> {
    Ok(KeyHasher::new(config.server_secret()?.expose().as_bytes()))
}

fn describe(v: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    for k in ["rpm", "tpm", "max_concurrency"] {
        if let Some(n) = v[k].as_u64() {
            parts.push(format!("{k}={n}"));
        }
    }
    if let Some(b) = v["budget_usd"].as_f64() {
        parts.push(format!(
            "budget=${b} per {}",
            v["budget_period"].as_str().unwrap_or("total")
        ));
    }
    if let Some(e) = v["expires_at"].as_str() {
        parts.push(format!("expires {e}"));
    }
    if parts.is_empty() {
        "no limits".into()
    } else {
        parts.join(", ")
    }
}

fn models_of(v: &serde_json::Value) -> String {
    match v["models"].as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(","),
        _ => "all".into(),
    }
}

/// Run the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.command {
        Command::Create {
            name,
            models,
            rpm,
            tpm,
            max_concurrency,
            budget_usd,
            budget_period,
            expires,
            common,
        } => {
            let (config, mut store) = open(&common)?;
            for m in &models {
                let known = config
                    .models
                    .iter()
                    .any(|(n, mc)| n == m || mc.aliases.contains(m));
                if !known {
                    bail!(
                        "--models: `{m}` is not a model or alias in {}",
                        config.source.display()
                    );
                }
            }
            let Some(budget_period) = BudgetPeriod::parse(&budget_period) else {
                bail!("--budget-period: use total, day or month");
            };
            let expires_ms = match expires {
                None => None,
                Some(e) => {
                    let at = parse_time(&e, now_ms(), true)
                        .map_err(|m| anyhow::anyhow!("--expires: {m}"))?;
                    // A key that is expired when made is a typo, not a key.
                    if at <= now_ms() {
                        bail!("--expires: {e} is in the past");
                    }
                    Some(at)
                }
            };
            let spec = KeySpec {
                name,
                models,
                rpm,
                tpm,
                max_concurrency,
                budget_usd,
                budget_period,
                expires_ms,
            };
            let (key, rec) = new_key(&hasher(&config)?, &spec, now_ms(), None)?;
            store.insert_key(&rec)?;
            let v = key_json(&rec, None);
            outln!("created key {} ({})", rec.id, rec.name);
            outln!("  models: {}", models_of(&v));
            outln!("  limits: {}", describe(&v));
            outln!("Store this key now; it is shown only this once:");
            outln!("{key}");
            Ok(0)
        }
        Command::List { format, common } => {
            let (_config, store) = open(&common)?;
            let keys = store.list_keys()?;
            let spend = store.spend_by_key()?;
            let rows: Vec<serde_json::Value> = keys
                .iter()
                .map(|k| key_json(k, Some(spend.get(&k.id).copied().unwrap_or(0))))
                .collect();
            match format.as_str() {
                "json" => {
                    let text = serde_json::to_string_pretty(&rows)?;
                    outln!("{text}")
                }
                "table" => {
                    outln!(
                        "{:<21} {:<20} {:<8} {:<14} {:<20} {:>12}  LIMITS",
                        "ID",
                        "NAME",
                        "STATUS",
                        "KEY",
                        "MODELS",
                        "SPENT USD"
                    );
                    for v in &rows {
                        outln!(
                            "{:<21} {:<20} {:<8} {:<14} {:<20} {:>12.6}  {}",
                            v["id"].as_str().unwrap_or(""),
                            v["name"].as_str().unwrap_or(""),
                            v["status"].as_str().unwrap_or(""),
                            v["hint"].as_str().unwrap_or(""),
                            models_of(v),
                            v["spent_usd"].as_f64().unwrap_or(0.0),
                            describe(v)
                        );
                    }
                }
                other => bail!("--format: `{other}` is not table or json"),
            }
            Ok(0)
        }
        Command::Revoke { id, common } => {
            let (_config, mut store) = open(&common)?;
            if store.revoke_key(&id, now_ms())? {
                outln!("revoked {id}");
                Ok(0)
            } else {
                match store.get_key(&id)? {
                    Some(_) => bail!("key {id} is already revoked"),
                    None => bail!("no key {id} (see `rampart keys list`)"),
                }
            }
        }
        Command::Rotate { id, common } => {
            let (config, mut store) = open(&common)?;
            let Some(old) = store.get_key(&id)? else {
                bail!("no key {id} (see `rampart keys list`)");
            };
            if old.revoked_ms.is_some() {
                bail!("key {id} is revoked; create a new one instead");
            }
            let (key, rec) = new_key(
                &hasher(&config)?,
                &spec_of(&old),
                now_ms(),
                Some(old.id.clone()),
            )?;
            if !store.rotate_key(&old.id, &rec, now_ms())? {
                bail!("key {id} changed meanwhile; try again");
            }
            outln!(
                "rotated {} → {} ({}); {} is revoked",
                old.id,
                rec.id,
                rec.name,
                old.id
            );
            outln!("Store this key now; it is shown only this once:");
            outln!("{key}");
            Ok(0)
        }
    }
}
