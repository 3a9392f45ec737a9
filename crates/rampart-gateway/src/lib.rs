//! Rampart's gateway: an OpenAI-compatible (and Anthropic pass-through) proxy in front of AI
//! providers, with virtual keys, in-memory limits and a tamper-evident audit trail.
//!
//! Clients send requests with a Rampart virtual key (`rk-…`); the gateway authenticates the key
//! against the in-memory [`keys::KeyRing`] (constant time, no database query), admits it against
//! the key's [`limits`], lets an optional [`inspect::Inspector`] (the guardrails seam) look at
//! and rewrite the body, then forwards it to the model's upstream with the provider key,
//! retrying and falling back as configured ([`upstream`]). The response — JSON or SSE — streams
//! back chunk by chunk through a metered body that counts tokens ([`sniff`]) and, when the
//! response ends (or the client leaves), sends an audit record and usage counts to the
//! write-behind thread ([`writer`]), which appends them to the SQLite hash chain in batches.
//!
//! ```no_run
//! use rampart_gateway::{Config, Gateway, Options};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::load(std::path::Path::new("rampart.toml"))?;
//! let listener = tokio::net::TcpListener::bind(&config.server.listen).await?;
//! let gateway = Gateway::new(config, Options::default())?;
//! gateway.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! The key format and the audit chain can be used without a server:
//!
//! ```
//! use rampart_gateway::keys::{generate_key, well_formed};
//! let key = generate_key().unwrap();
//! assert!(key.starts_with("rk-") && key.len() == 41 && well_formed(key.as_bytes()));
//! ```
#![deny(missing_docs)]

mod admin;
pub mod config;
pub mod guard;
pub mod inspect;
mod io;
pub mod keys;
pub mod limits;
pub mod metrics;
mod server;
pub mod sniff;
pub mod upstream;
pub mod writer;

pub use config::{Config, ConfigError};
pub use server::{Body, Gateway, Metered, Model, Options};

use rampart_store::audit::{AuditRecord, hex};
use rampart_store::keys::KeyRecord;
use serde_json::{Value, json};

/// Everything that can stop the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database.
    #[error(transparent)]
    Store(#[from] rampart_store::StoreError),
    /// I/O (listener, threads).
    #[error("{0}")]
    Io(std::io::Error),
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// RFC 3339 UTC time of `ms`, with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_else(|_| ms.to_string())
}

/// Parse a time given by a user: RFC 3339 (`2026-01-31T12:00:00Z`), a date (`2026-01-31`,
/// midnight UTC), or a duration (`90d`, `12h`, `30m`) — in the future when `future`, else in the
/// past (relative to `now_ms`).
pub fn parse_time(s: &str, now_ms: i64, future: bool) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| e.to_string());
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().map_err(|_| {
        format!("`{s}` is not a time (RFC 3339, YYYY-MM-DD, or a duration like 30d, 12h, 15m)")
    })?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{unit}` (use s, m, h, d or w)"
            ));
        }
    };
    let delta = n
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("`{s}` is too large"))?;
    Ok(if future {
        now_ms.saturating_add(delta)
    } else {
        now_ms.saturating_sub(delta)
    })
}

/// A key as shown by `keys list` and the admin API: never the key, never its hash.
pub fn key_json(k: &KeyRecord, spent_nanos: Option<i64>) -> Value {
    let now = now_ms();
    let status = if k.revoked_ms.is_some() {
        "revoked"
    } else if k.expires_ms.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
    json!({
        "id": k.id,
        "name": k.name,
        "hint": k.hint,
        "status": status,
        "models": k.models,
        "rpm": k.rpm,
        "tpm": k.tpm,
        "max_concurrency": k.max_concurrency,
        "budget_usd": k.budget_nanos.map(|n| n as f64 / 1e9),
        "budget_period": keys::period_of(k).as_str(),
        "spent_usd": spent_nanos.map(|n| n as f64 / 1e9),
        "expires_at": k.expires_ms.map(rfc3339),
        "created_at": rfc3339(k.created_ms),
        "revoked_at": k.revoked_ms.map(rfc3339),
        "rotated_from": k.rotated_from,
    })
}

/// An audit record as exported (`audit export --format jsonl`, `/admin/audit`).
pub fn audit_json(r: &AuditRecord) -> Value {
    let e = &r.entry;
    let detail = e
        .detail
        .as_deref()
        .map(|d| serde_json::from_str::<Value>(d).unwrap_or_else(|_| Value::from(d)));
    json!({
        "seq": r.seq,
        "time": rfc3339(e.ts_ms),
        "ts_ms": e.ts_ms,
        "request_id": e.request_id,
        "key_id": e.key_id,
        "method": e.method,
        "path": e.path,
        "upstream": e.upstream,
        "model": e.model,
        "status": e.status,
        "decision": e.decision,
        "prompt_tokens": e.prompt_tokens,
        "completion_tokens": e.completion_tokens,
        "tokens_estimated": e.tokens_estimated,
        "cost_usd": e.cost_nanos as f64 / 1e9,
        "cost_nanos": e.cost_nanos,
        "latency_ms": e.latency_us as f64 / 1000.0,
        "body_sha256": e.body_sha256,
        "body": e.body,
        "detail": detail,
        "prev_hash": hex(&r.prev_hash),
        "hash": hex(&r.hash),
    })
}

/// Write the example configuration to `path` and, next to it, a fresh server secret
/// (`rampart.secret`, mode 0600) when absent. Refuses to overwrite an existing config.
pub fn init(path: &std::path::Path) -> Result<Vec<std::path::PathBuf>, std::io::Error> {
    use std::io::Write;
    let mut written = Vec::new();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(config::EXAMPLE.as_bytes())?;
    written.push(path.to_path_buf());
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let secret = dir.join("rampart.secret");
    if !secret.exists() {
        let value = keys::random_base62(48).map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut s = opts.open(&secret)?;
        s.write_all(value.as_bytes())?;
        s.write_all(b"\n")?;
        written.push(secret);
    }
    Ok(written)
}

/// Run the gateway until SIGTERM or Ctrl-C: build a Tokio runtime, bind `listen` (or
/// `server.listen`), call `on_listen` with the bound address, serve, then drain and flush.
pub fn run(
    config: Config,
    listen: Option<&str>,
    options: Options,
    on_listen: impl FnOnce(std::net::SocketAddr),
) -> Result<(), GatewayError> {
    let addr = listen.unwrap_or(&config.server.listen).to_string();
    let gateway = Gateway::new(config, options)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rampart-gateway")
        .build()
        .map_err(GatewayError::Io)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
            GatewayError::Io(std::io::Error::new(
                e.kind(),
                format!("cannot listen on {addr}: {e}"),
            ))
        })?;
        on_listen(listener.local_addr().map_err(GatewayError::Io)?);
        gateway.serve(listener, shutdown_signal()).await
    })
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_three_forms() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_time("2023-11-14T22:13:20Z", now, true).unwrap(), now);
        assert_eq!(parse_time("1970-01-02", now, true).unwrap(), 86_400_000);
        assert_eq!(parse_time("2d", now, true).unwrap(), now + 2 * 86_400_000);
        assert_eq!(parse_time("1h", now, false).unwrap(), now - 3_600_000);
        assert!(parse_time("soon", now, true).is_err());
        assert!(
            parse_time("5y", now, true)
                .unwrap_err()
                .contains("unknown unit")
        );
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn init_writes_a_config_that_loads_and_a_private_secret() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rampart.toml");
        let w = init(&p).unwrap();
        assert_eq!(w.len(), 2);
        let c = Config::load(&p).unwrap();
        assert!(c.server_secret().unwrap().expose().len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("rampart.secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
        assert!(init(&p).is_err(), "never overwrites");
    }
}
