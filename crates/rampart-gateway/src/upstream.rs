//! Upstream providers: URLs and auth per protocol, and forwarding with timeouts, retries with
//! backoff on connection errors / timeouts / 429 / 5xx, and fallback to the next target.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::{Config, ConfigError, UpstreamKind, secs};
use crate::metrics::{Metrics, Route, UpstreamError};

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One configured upstream, ready to send to.
pub struct Upstream {
    /// Its name in the config.
    pub name: String,
    /// Index (metrics).
    pub idx: usize,
    /// Protocol.
    pub kind: UpstreamKind,
    base: String,
    auth: Option<(HeaderName, HeaderValue)>,
    api_version: Option<String>,
    timeout: Duration,
    /// Longest silence between body chunks.
    pub read_timeout: Duration,
    max_retries: u32,
    backoff: Duration,
    max_backoff: Duration,
    client: HttpsClient,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The upstreams of a config: those ready to serve, and those left out because their provider
/// key could not be read (each with the reason, which names the config field).
pub struct Built {
    /// Upstreams with their key (or needing none).
    pub ready: Vec<Arc<Upstream>>,
    /// `(name, reason)` of upstreams whose key variable or file is missing or empty.
    pub disabled: Vec<(String, String)>,
}

/// Build every upstream of `config`, reading provider keys. An upstream whose key cannot be read
/// is left out (a `rampart gateway --init` config names three providers; most users have keys
/// for one or two): its models fall back to their other targets, or answer 503 naming the
/// variable. No upstream at all being ready is an error.
pub fn build(config: &Config) -> Result<Built, ConfigError> {
    let mut out = Vec::new();
    let mut disabled = Vec::new();
    for (idx, (name, u)) in config.upstreams.iter().enumerate() {
        let key = match config.upstream_key(name) {
            Ok(k) => k,
            Err(e) => {
                disabled.push((name.clone(), e.to_string()));
                continue;
            }
        };
        let auth = match key {
            None => None,
            Some(k) => {
                let (hname, value) = match u.kind {
                    UpstreamKind::Openai => {
                        (header::AUTHORIZATION, format!("Bearer {}", k.expose()))
                    }
                    UpstreamKind::Azure => {
                        (HeaderName::from_static("api-key"), k.expose().to_string())
                    }
                    UpstreamKind::Anthropic => {
                        (HeaderName::from_static("x-api-key"), k.expose().to_string())
                    }
                };
                let mut v = HeaderValue::from_str(&value).map_err(|_| ConfigError::Field {
                    path: config.source.clone(),
                    field: format!("upstreams.{name}.api_key_env"),
                    message: "the provider key contains characters not allowed in a header".into(),
                })?;
                v.set_sensitive(true);
                Some((hname, v))
            }
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(secs(u.connect_timeout_secs)));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| ConfigError::Field {
                path: config.source.clone(),
                field: format!("upstreams.{name}"),
                message: format!("TLS setup failed: {e}"),
            })?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .build(https);
        out.push(Arc::new(Upstream {
            name: name.clone(),
            idx,
            kind: u.kind,
            base: u.base_url.trim_end_matches('/').to_string(),
            auth,
            api_version: u.api_version.clone(),
            timeout: secs(u.timeout_secs),
            read_timeout: secs(u.read_timeout_secs),
            max_retries: u.max_retries,
            backoff: Duration::from_millis(u.retry_backoff_ms),
            max_backoff: Duration::from_millis(u.max_backoff_ms),
            client,
        }));
    }
    if out.is_empty() && !disabled.is_empty() {
        let reasons: Vec<&str> = disabled.iter().map(|(_, r)| r.as_str()).collect();
        return Err(ConfigError::Field {
            path: config.source.clone(),
            field: "upstreams".into(),
            message: format!(
                "no upstream has a usable provider key: {}",
                reasons.join("; ")
            ),
        });
    }
    Ok(Built {
        ready: out,
        disabled,
    })
}

/// Request headers a client may pass through to the provider.
const PASS_HEADERS: &[&str] = &[
    "accept",
    "anthropic-version",
    "anthropic-beta",
    "openai-beta",
    "user-agent",
];

impl Upstream {
    fn url(&self, route: Route, model: &str) -> String {
        let tail = match route {
            Route::Chat => "chat/completions",
            Route::Completions => "completions",
            Route::Embeddings => "embeddings",
            Route::Messages => "messages",
            _ => "",
        };
        match self.kind {
            UpstreamKind::Openai => format!("{}/{tail}", self.base),
            UpstreamKind::Anthropic if route == Route::CountTokens => {
                format!("{}/v1/messages/count_tokens", self.base)
            }
            UpstreamKind::Anthropic => format!("{}/v1/messages", self.base),
            UpstreamKind::Azure => format!(
                "{}/openai/deployments/{}/{tail}?api-version={}",
                self.base,
                pct(model),
                pct(self.api_version.as_deref().unwrap_or_default())
            ),
        }
    }

    fn request(
        &self,
        route: Route,
        model: &str,
        body: Bytes,
        client: &HeaderMap,
    ) -> Result<Request<Full<Bytes>>, http::Error> {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri(self.url(route, model))
            .header(header::CONTENT_TYPE, "application/json")
            // Answers are inspected as they arrive: ask for them uncompressed.
            .header(header::ACCEPT_ENCODING, "identity");
        for h in PASS_HEADERS {
            if let Some(v) = client.get(*h) {
                b = b.header(*h, v);
            }
        }
        if self.kind == UpstreamKind::Anthropic && !client.contains_key("anthropic-version") {
            b = b.header("anthropic-version", "2023-06-01");
        }
        if let Some((n, v)) = &self.auth {
            b = b.header(n, v);
        }
        b.body(Full::new(body))
    }
}

fn pct(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// One place a model can be served.
#[derive(Debug, Clone)]
pub struct Target {
    /// The upstream.
    pub upstream: Arc<Upstream>,
    /// Model name sent upstream.
    pub model: String,
}

/// A successful forward: the upstream's response (any status).
pub struct Forwarded {
    /// The response; its body is still to be read.
    pub response: Response<Incoming>,
    /// Which upstream answered.
    pub upstream: Arc<Upstream>,
    /// Requests sent (retries and fallbacks included).
    pub attempts: u32,
}

/// Every try failed without a response.
#[derive(Debug)]
pub struct ForwardFailure {
    /// The last upstream tried.
    pub upstream: String,
    /// Whether the last failure was a timeout (504) rather than a connection error (502).
    pub timeout: bool,
    /// Requests sent.
    pub attempts: u32,
    /// Last error, for the audit trail.
    pub message: String,
}

fn retryable(s: StatusCode) -> bool {
    s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error()
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(header::RETRY_AFTER)?.to_str().ok()?;
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Cheap jitter source (not for secrets).
fn jitter(seed: u64) -> f64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    0.75 + (x % 1000) as f64 / 2000.0
}

/// Send to the targets in order, retrying each, until one answers with something other than
/// 429/5xx; the last target's last 429/5xx answer is returned as is.
pub async fn forward(
    targets: &[Target],
    route: Route,
    body_for: &(dyn Fn(&Target) -> Bytes + Sync),
    client_headers: &HeaderMap,
    metrics: &Metrics,
    seed: u64,
) -> Result<Forwarded, ForwardFailure> {
    let mut attempts = 0u32;
    let mut failure = ForwardFailure {
        upstream: String::new(),
        timeout: false,
        attempts: 0,
        message: "no target".into(),
    };
    for (ti, t) in targets.iter().enumerate() {
        let u = &t.upstream;
        let body = body_for(t);
        let last_target = ti + 1 == targets.len();
        let mut wait_hint: Option<Duration> = None;
        for attempt in 0..=u.max_retries {
            if attempt > 0 {
                let exp = u.backoff.saturating_mul(1 << (attempt - 1).min(16));
                let mut d = exp.mul_f64(jitter(seed ^ u64::from(attempts)));
                if let Some(h) = wait_hint.take() {
                    d = d.max(h);
                }
                tokio::time::sleep(d.min(u.max_backoff)).await;
            }
            attempts += 1;
            metrics.upstream_request(u.idx);
            let final_try = last_target && attempt == u.max_retries;
            let req = match u.request(route, &t.model, body.clone(), client_headers) {
                Ok(r) => r,
                Err(e) => {
                    failure = ForwardFailure {
                        upstream: u.name.clone(),
                        timeout: false,
                        attempts,
                        message: format!("cannot build the upstream request: {e}"),
                    };
                    break;
                }
            };
            match tokio::time::timeout(u.timeout, u.client.request(req)).await {
                Err(_) => {
                    metrics.upstream_error(u.idx, UpstreamError::Timeout);
                    failure = ForwardFailure {
                        upstream: u.name.clone(),
                        timeout: true,
                        attempts,
                        message: format!("no response within {:?}", u.timeout),
                    };
                }
                Ok(Err(e)) => {
                    metrics.upstream_error(u.idx, UpstreamError::Connect);
                    failure = ForwardFailure {
                        upstream: u.name.clone(),
                        timeout: false,
                        attempts,
                        message: format!(
                            "{}: {}",
                            if e.is_connect() { "connect" } else { "request" },
                            error_chain(&e)
                        ),
                    };
                }
                Ok(Ok(resp)) => {
                    let s = resp.status();
                    if retryable(s) {
                        metrics.upstream_error(
                            u.idx,
                            if s == StatusCode::TOO_MANY_REQUESTS {
                                UpstreamError::Status429
                            } else {
                                UpstreamError::Status5xx
                            },
                        );
                        if !final_try {
                            wait_hint = retry_after(resp.headers());
                            continue;
                        }
                    }
                    return Ok(Forwarded {
                        response: resp,
                        upstream: Arc::clone(u),
                        attempts,
                    });
                }
            }
        }
    }
    failure.attempts = attempts;
    Err(failure)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_urls_use_the_deployment_and_api_version() {
        let cfg = Config::parse(
            "[server]\nsecret_env = \"X\"\n[upstreams.az]\nkind = \"azure\"\nbase_url = \"https://r.openai.azure.com/\"\napi_version = \"2024-10-21\"\n",
            std::path::Path::new("t.toml"),
            std::path::Path::new("."),
        )
        .unwrap();
        let ups = build(&cfg).unwrap().ready;
        assert_eq!(
            ups[0].url(Route::Chat, "my deploy"),
            "https://r.openai.azure.com/openai/deployments/my%20deploy/chat/completions?api-version=2024-10-21"
        );
        let dbg = format!("{:?}", ups[0]);
        assert!(!dbg.contains("api-key"));
    }

    #[test]
    fn upstreams_without_keys_are_off_and_none_ready_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "sk-provider-secret\n").unwrap();
        let parse =
            |text: &str| Config::parse(text, &dir.path().join("t.toml"), dir.path()).unwrap();
        let both = parse(
            "[server]\nsecret_env = \"X\"\n[upstreams.a]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_file = \"k\"\n[upstreams.b]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_file = \"nope\"\n",
        );
        let built = build(&both).unwrap();
        assert_eq!(built.ready.len(), 1);
        assert_eq!(built.disabled[0].0, "b");
        assert!(built.disabled[0].1.contains("upstreams.b.api_key_file"));
        let none = parse(
            "[server]\nsecret_env = \"X\"\n[upstreams.b]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_file = \"nope\"\n",
        );
        let e = build(&none).err().unwrap().to_string();
        assert!(e.contains("no upstream has a usable provider key"), "{e}");
    }

    #[test]
    fn provider_keys_go_only_into_a_sensitive_header() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "sk-provider-secret\n").unwrap();
        let cfg = Config::parse(
            "[server]\nsecret_env = \"X\"\n[upstreams.o]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_file = \"k\"\n",
            &dir.path().join("t.toml"),
            dir.path(),
        )
        .unwrap();
        let ups = build(&cfg).unwrap().ready;
        let (n, v) = ups[0].auth.as_ref().unwrap();
        assert_eq!(n, header::AUTHORIZATION);
        assert!(v.is_sensitive());
        assert!(!format!("{v:?}").contains("sk-provider"));
        assert!(!format!("{:?}", ups[0]).contains("sk-provider"));
    }
}
