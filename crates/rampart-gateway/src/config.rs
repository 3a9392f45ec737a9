//! `rampart.toml`: the gateway's configuration, its validation, and secret resolution.
//!
//! Parsing ([`Config::parse`]) checks structure and names the offending field; secrets
//! (the server secret that keys virtual-key hashes, the admin token, provider keys) are read
//! from environment variables or files only when needed, and never printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The documented example configuration (also what `rampart gateway --init` writes).
pub const EXAMPLE: &str = include_str!("../../../rampart.example.toml");

/// A configuration problem; the message names the field (and the file).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax or type error (the message carries the line and the key).
    #[error("config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said.
        message: String,
    },
    /// A value is wrong.
    #[error("config {path}: `{field}`: {message}")]
    Field {
        /// The file.
        path: PathBuf,
        /// Dotted path of the field, e.g. `upstreams.openai.base_url`.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listener, storage, secrets, timeouts.
    #[serde(default)]
    pub server: ServerConfig,
    /// The admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    /// The audit trail.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Upstream providers by name.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// Models clients may ask for, by name.
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
    /// Guardrails (`[guardrails]`, see `rampart_guard::policy`); absent: no guardrails.
    #[serde(default)]
    pub guardrails: Option<rampart_guard::GuardrailsConfig>,
    /// Directory the relative paths are resolved against (the config file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file this was read from (for messages).
    #[serde(skip)]
    pub source: PathBuf,
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// The SQLite file.
    pub database: PathBuf,
    /// File holding the server secret (keys the virtual-key hashes).
    pub secret_file: Option<PathBuf>,
    /// Environment variable holding the server secret.
    pub secret_env: Option<String>,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Time a client has to send its request headers.
    pub header_timeout_secs: f64,
    /// Time a client has to send its request body.
    pub body_timeout_secs: f64,
    /// Longest time a write to a client may make no progress (a client that stops reading).
    pub write_timeout_secs: f64,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace_secs: f64,
    /// How often the key table is re-read for changes made by `rampart keys`.
    pub keys_refresh_secs: f64,
    /// Largest number of open client connections.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:4000".into(),
            database: "rampart.db".into(),
            secret_file: None,
            secret_env: None,
            max_body_bytes: 4 * 1024 * 1024,
            header_timeout_secs: 10.0,
            body_timeout_secs: 30.0,
            write_timeout_secs: 30.0,
            shutdown_grace_secs: 30.0,
            keys_refresh_secs: 2.0,
            max_connections: 4096,
        }
    }
}

/// `[admin]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Environment variable holding the admin token.
    pub token_env: Option<String>,
    /// File holding the admin token.
    pub token_file: Option<PathBuf>,
}

/// `[audit]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Store request bodies (secrets redacted) in the audit trail.
    pub log_bodies: bool,
    /// Keep personal data (e-mail, phone, cards, IBAN, national ids, IPs) in logged bodies.
    /// Default false: it is masked as `[PII:kind]`, like secrets.
    pub log_pii: bool,
    /// Largest body stored, bytes (longer bodies are cut).
    pub max_logged_body_bytes: usize,
    /// Records per write transaction at most.
    pub batch_size: usize,
    /// Longest time a record waits before it is written.
    pub flush_interval_ms: u64,
    /// Records waiting to be written beyond which new requests get 503.
    pub max_queue: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            log_bodies: false,
            log_pii: false,
            max_logged_body_bytes: 64 * 1024,
            batch_size: 512,
            flush_interval_ms: 200,
            max_queue: 100_000,
        }
    }
}

/// The protocol an upstream speaks.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// Any OpenAI-compatible API (`base_url` ends in `/v1`).
    Openai,
    /// Azure OpenAI (`base_url` is the resource endpoint; models map to deployments).
    Azure,
    /// Anthropic's Messages API.
    Anthropic,
}

impl UpstreamKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamKind::Openai => "openai",
            UpstreamKind::Azure => "azure",
            UpstreamKind::Anthropic => "anthropic",
        }
    }
}

/// `[upstreams.NAME]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Protocol.
    pub kind: UpstreamKind,
    /// Base URL (`https://api.openai.com/v1`, `https://api.anthropic.com`,
    /// `https://NAME.openai.azure.com`).
    pub base_url: String,
    /// Environment variable with the provider key.
    pub api_key_env: Option<String>,
    /// File with the provider key.
    pub api_key_file: Option<PathBuf>,
    /// Azure `api-version`.
    pub api_version: Option<String>,
    /// Time to connect.
    #[serde(default = "d_connect")]
    pub connect_timeout_secs: f64,
    /// Time until the response headers arrive.
    #[serde(default = "d_timeout")]
    pub timeout_secs: f64,
    /// Longest silence between two chunks of a response body.
    #[serde(default = "d_timeout")]
    pub read_timeout_secs: f64,
    /// Retries on connection errors, timeouts, 429 and 5xx (before falling back).
    #[serde(default = "d_retries")]
    pub max_retries: u32,
    /// First backoff; doubles each retry, with jitter.
    #[serde(default = "d_backoff")]
    pub retry_backoff_ms: u64,
    /// Longest backoff (also caps an upstream's `Retry-After`).
    #[serde(default = "d_max_backoff")]
    pub max_backoff_ms: u64,
}

fn d_connect() -> f64 {
    5.0
}
fn d_timeout() -> f64 {
    120.0
}
fn d_retries() -> u32 {
    2
}
fn d_backoff() -> u64 {
    200
}
fn d_max_backoff() -> u64 {
    5000
}

/// One upstream a model can be served by.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The upstream's name.
    pub upstream: String,
    /// Model name sent upstream (Azure: the deployment); default: the model's own name.
    pub model: Option<String>,
}

/// `[models.NAME]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Other names clients may use.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Upstreams in order: the first is primary, the rest are fallbacks.
    pub targets: Vec<TargetConfig>,
    /// USD per million input tokens.
    #[serde(default)]
    pub input_usd_per_mtok: f64,
    /// USD per million output tokens.
    #[serde(default)]
    pub output_usd_per_mtok: f64,
}

/// A secret read from the environment or a file; never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The value. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Seconds (f64) to a `Duration`, for validated values.
pub(crate) fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v.max(0.0))
}

impl Config {
    /// Read and validate `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Config::parse(&text, path, &base)
    }

    /// Parse and validate configuration text; `source` is used in messages and `base_dir`
    /// anchors relative paths.
    pub fn parse(text: &str, source: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: source.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.base_dir = base_dir.to_path_buf();
        cfg.source = source.to_path_buf();
        cfg.validate()?;
        Ok(cfg)
    }

    fn field(&self, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Field {
            path: self.source.clone(),
            field: field.into(),
            message: message.into(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if s.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(self.field(
                "server.listen",
                format!("`{}` is not an address like 127.0.0.1:4000", s.listen),
            ));
        }
        for (name, v) in [
            ("server.header_timeout_secs", s.header_timeout_secs),
            ("server.body_timeout_secs", s.body_timeout_secs),
            ("server.write_timeout_secs", s.write_timeout_secs),
            ("server.shutdown_grace_secs", s.shutdown_grace_secs),
            ("server.keys_refresh_secs", s.keys_refresh_secs),
        ] {
            if !(v.is_finite() && v > 0.0 && v < 1e7) {
                return Err(self.field(name, "must be a positive number of seconds"));
            }
        }
        if s.max_body_bytes == 0 {
            return Err(self.field("server.max_body_bytes", "must be at least 1"));
        }
        if s.max_connections == 0 {
            return Err(self.field("server.max_connections", "must be at least 1"));
        }
        if s.secret_file.is_none() && s.secret_env.is_none() {
            return Err(self.field(
                "server.secret_file",
                "set server.secret_file or server.secret_env: the server secret keys the hashes of virtual keys (`rampart gateway --init` makes one)",
            ));
        }
        if self.audit.batch_size == 0 {
            return Err(self.field("audit.batch_size", "must be at least 1"));
        }
        if self.audit.max_queue == 0 {
            return Err(self.field("audit.max_queue", "must be at least 1"));
        }
        for (name, u) in &self.upstreams {
            let f = |k: &str| format!("upstreams.{name}.{k}");
            let url: Result<http::Uri, _> = u.base_url.parse();
            match url {
                Ok(uri)
                    if matches!(uri.scheme_str(), Some("http" | "https"))
                        && uri.authority().is_some()
                        && uri.query().is_none() => {}
                _ => {
                    return Err(self.field(
                        f("base_url"),
                        format!(
                            "`{}` is not an http(s) URL without a query string",
                            u.base_url
                        ),
                    ));
                }
            }
            if u.api_key_env.is_some() && u.api_key_file.is_some() {
                return Err(self.field(
                    f("api_key_env"),
                    "set api_key_env or api_key_file, not both",
                ));
            }
            if u.kind == UpstreamKind::Azure && u.api_version.is_none() {
                return Err(self.field(
                    f("api_version"),
                    "Azure upstreams need an api_version, e.g. \"2024-10-21\"",
                ));
            }
            for (k, v) in [
                ("connect_timeout_secs", u.connect_timeout_secs),
                ("timeout_secs", u.timeout_secs),
                ("read_timeout_secs", u.read_timeout_secs),
            ] {
                if !(v.is_finite() && v > 0.0 && v < 1e7) {
                    return Err(self.field(f(k), "must be a positive number of seconds"));
                }
            }
            if u.max_retries > 10 {
                return Err(self.field(f("max_retries"), "at most 10"));
            }
        }
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, m) in &self.models {
            let f = |k: &str| format!("models.\"{name}\".{k}");
            if let Some(prev) = names.insert(name, name) {
                return Err(self.field(
                    f("aliases"),
                    format!("`{name}` is also used by model `{prev}`"),
                ));
            }
            for a in &m.aliases {
                if let Some(prev) = names.insert(a, name) {
                    return Err(self.field(
                        f("aliases"),
                        format!("alias `{a}` is already a name of model `{prev}`"),
                    ));
                }
            }
            if m.targets.is_empty() {
                return Err(self.field(f("targets"), "needs at least one target upstream"));
            }
            let mut kind = None;
            for (i, t) in m.targets.iter().enumerate() {
                let Some(u) = self.upstreams.get(&t.upstream) else {
                    return Err(self.field(
                        format!("models.\"{name}\".targets[{i}].upstream"),
                        format!(
                            "no upstream called `{}` (known: {})",
                            t.upstream,
                            self.upstreams
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                };
                let anthropic = u.kind == UpstreamKind::Anthropic;
                if *kind.get_or_insert(anthropic) != anthropic {
                    return Err(self.field(
                        format!("models.\"{name}\".targets[{i}].upstream"),
                        "a model's targets must all speak the same protocol (Anthropic or OpenAI-style)",
                    ));
                }
            }
            for (k, v) in [
                ("input_usd_per_mtok", m.input_usd_per_mtok),
                ("output_usd_per_mtok", m.output_usd_per_mtok),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(self.field(f(k), "must be a price ≥ 0"));
                }
            }
        }
        // Models named in names but also upstream-relative paths checked at resolve time.
        let _ = names;
        if let Some(g) = &self.guardrails {
            g.validate().map_err(|e| self.field(e.field, e.message))?;
        }
        Ok(())
    }

    /// Resolve a configured path against the config file's directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The database file.
    pub fn database_path(&self) -> PathBuf {
        self.path(&self.server.database)
    }

    fn read_secret(
        &self,
        field_env: &str,
        env: Option<&String>,
        field_file: &str,
        file: Option<&PathBuf>,
    ) -> Result<Option<Secret>, ConfigError> {
        if let Some(var) = env {
            return match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(Secret(v.trim().to_string()))),
                _ => Err(self.field(
                    field_env,
                    format!("environment variable {var} is not set or empty"),
                )),
            };
        }
        if let Some(p) = file {
            let full = self.path(p);
            return match std::fs::read_to_string(&full) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(Secret(v.trim().to_string()))),
                Ok(_) => Err(self.field(field_file, format!("{} is empty", full.display()))),
                Err(e) => {
                    Err(self.field(field_file, format!("cannot read {}: {e}", full.display())))
                }
            };
        }
        Ok(None)
    }

    /// The server secret (required; at least 32 characters).
    pub fn server_secret(&self) -> Result<Secret, ConfigError> {
        let s = self
            .read_secret(
                "server.secret_env",
                self.server.secret_env.as_ref(),
                "server.secret_file",
                self.server.secret_file.as_ref(),
            )?
            .ok_or_else(|| self.field("server.secret_file", "not set"))?;
        if s.0.len() < 32 {
            let f = if self.server.secret_env.is_some() {
                "server.secret_env"
            } else {
                "server.secret_file"
            };
            return Err(self.field(f, "the server secret must be at least 32 characters"));
        }
        Ok(s)
    }

    /// The admin token, when the admin API is configured (at least 16 characters).
    pub fn admin_token(&self) -> Result<Option<Secret>, ConfigError> {
        let t = self.read_secret(
            "admin.token_env",
            self.admin.token_env.as_ref(),
            "admin.token_file",
            self.admin.token_file.as_ref(),
        )?;
        if let Some(t) = &t
            && t.0.len() < 16
        {
            return Err(self.field(
                "admin.token_env",
                "the admin token must be at least 16 characters",
            ));
        }
        Ok(t)
    }

    /// Whether `admin.token_env` names a variable that is not set (or is empty): the admin API
    /// is then off, not an error.
    pub fn admin_token_unset(&self) -> bool {
        self.admin
            .token_env
            .as_ref()
            .is_some_and(|v| std::env::var(v).map_or(true, |t| t.trim().is_empty()))
    }

    /// The provider key of upstream `name` (`None` when it needs none).
    pub fn upstream_key(&self, name: &str) -> Result<Option<Secret>, ConfigError> {
        let Some(u) = self.upstreams.get(name) else {
            return Ok(None);
        };
        self.read_secret(
            &format!("upstreams.{name}.api_key_env"),
            u.api_key_env.as_ref(),
            &format!("upstreams.{name}.api_key_file"),
            u.api_key_file.as_ref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"), Path::new("."))
    }

    const MIN: &str = "[server]\nsecret_env = \"X\"\n";

    #[test]
    fn the_example_config_parses() {
        let c = parse(EXAMPLE).unwrap();
        assert!(!c.models.is_empty());
        assert!(!c.upstreams.is_empty());
        // `rampart gateway --init` writes this file: guardrails are on from the start.
        let g = c.guardrails.expect("guardrails section");
        assert!(g.enabled);
        // Every key gets the default policy: rules block, the classifier records.
        let r = g.resolver().unwrap();
        let (name, p) = r.for_key("any-key").unwrap();
        assert_eq!(name, "default");
        assert_eq!(p.inbound.injection, rampart_guard::Mode::Block);
        assert_eq!(
            p.inbound.classifier.action(rampart_guard::Mode::Block),
            Some(rampart_guard::Action::Flag)
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse("[server]\nsecret_env = \"X\"\nlisten = \"nope\"\n").unwrap_err();
        assert!(e.to_string().contains("`server.listen`"), "{e}");
        let e = parse(&format!(
            "{MIN}[upstreams.a]\nkind = \"openai\"\nbase_url = \"ftp://x\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("`upstreams.a.base_url`"), "{e}");
        let e = parse(&format!(
            "{MIN}[upstreams.a]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\n[models.m]\ntargets = [{{ upstream = \"b\" }}]\n"
        ))
        .unwrap_err();
        assert!(
            e.to_string().contains("`models.\"m\".targets[0].upstream`"),
            "{e}"
        );
        let e = parse(&format!(
            "{MIN}[upstreams.a]\nkind = \"gopher\"\nbase_url = \"http://x\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("kind"), "{e}");
        let e = parse("[server]\nsecret_env = \"X\"\nlisen = \"1\"\n").unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        let e = parse("").unwrap_err();
        assert!(e.to_string().contains("server.secret_file"), "{e}");
        let e = parse(&format!(
            "{MIN}[upstreams.a]\nkind = \"azure\"\nbase_url = \"https://x\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("upstreams.a.api_version"), "{e}");
    }

    #[test]
    fn aliases_must_be_unique() {
        let e = parse(&format!(
            "{MIN}[upstreams.a]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\n\
             [models.m]\naliases = [\"n\"]\ntargets = [{{ upstream = \"a\" }}]\n\
             [models.n]\ntargets = [{{ upstream = \"a\" }}]\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("aliases"), "{e}");
    }

    #[test]
    fn secrets_are_read_and_never_debug_printed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), "0123456789abcdef0123456789abcdef\n").unwrap();
        let c = Config::parse(
            "[server]\nsecret_file = \"s\"\n",
            &dir.path().join("r.toml"),
            dir.path(),
        )
        .unwrap();
        let s = c.server_secret().unwrap();
        assert_eq!(s.expose(), "0123456789abcdef0123456789abcdef");
        assert_eq!(format!("{s:?}"), "Secret(…)");
        std::fs::write(dir.path().join("s"), "short").unwrap();
        let e = c.server_secret().unwrap_err();
        assert!(e.to_string().contains("server.secret_file"), "{e}");
    }
}
