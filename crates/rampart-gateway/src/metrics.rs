//! Prometheus metrics: plain atomics on the request path, rendered in the text exposition format.
//!
//! The label sets are fixed when the gateway starts (routes, status classes, upstream names,
//! limits), so every counter is an array slot and recording a request takes no lock.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Routes the metrics distinguish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/chat/completions`
    Chat,
    /// `POST /v1/completions`
    Completions,
    /// `POST /v1/embeddings`
    Embeddings,
    /// `POST /v1/messages`
    Messages,
    /// `POST /v1/messages/count_tokens`
    CountTokens,
    /// `GET /v1/models`
    Models,
    /// `/admin/…`
    Admin,
    /// Anything else.
    Other,
}

impl Route {
    const ALL: [Route; 8] = [
        Route::Chat,
        Route::Completions,
        Route::Embeddings,
        Route::Messages,
        Route::CountTokens,
        Route::Models,
        Route::Admin,
        Route::Other,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Chat => "chat_completions",
            Route::Completions => "completions",
            Route::Embeddings => "embeddings",
            Route::Messages => "messages",
            Route::CountTokens => "count_tokens",
            Route::Models => "models",
            Route::Admin => "admin",
            Route::Other => "other",
        }
    }

    /// Whether the route speaks Anthropic's Messages API.
    pub fn is_anthropic(self) -> bool {
        matches!(self, Route::Messages | Route::CountTokens)
    }

    fn idx(self) -> usize {
        self as usize
    }
}

const BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    120.0,
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
const LIMITS: [&str; 4] = ["rpm", "tpm", "concurrency", "budget"];
const UPSTREAM_ERRORS: [&str; 4] = ["connect", "timeout", "status_429", "status_5xx"];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cum = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{b}\"}} {cum}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let trimmed = labels.trim_end_matches(',');
        let _ = writeln!(out, "{name}_sum{{{trimmed}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{trimmed}}} {count}");
    }
}

/// All gateway metrics.
pub struct Metrics {
    requests: [[AtomicU64; 5]; 8],
    latency: [Histogram; 8],
    upstreams: Vec<String>,
    upstream_requests: Vec<AtomicU64>,
    upstream_errors: Vec<[AtomicU64; 4]>,
    limit_hits: [AtomicU64; 4],
    auth_failures: AtomicU64,
    tokens_prompt: AtomicU64,
    tokens_completion: AtomicU64,
    in_flight: AtomicI64,
    /// Audit records waiting to be written.
    pub audit_queue: AtomicI64,
    audit_written: AtomicU64,
    audit_errors: AtomicU64,
}

/// Kinds of upstream failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    /// Could not connect / connection broke.
    Connect,
    /// No response in time.
    Timeout,
    /// 429.
    Status429,
    /// 5xx.
    Status5xx,
}

impl Metrics {
    /// Metrics for these upstream names.
    pub fn new(upstreams: Vec<String>) -> Metrics {
        let n = upstreams.len();
        Metrics {
            requests: Default::default(),
            latency: Default::default(),
            upstream_requests: (0..n).map(|_| AtomicU64::new(0)).collect(),
            upstream_errors: (0..n).map(|_| Default::default()).collect(),
            upstreams,
            limit_hits: Default::default(),
            auth_failures: AtomicU64::new(0),
            tokens_prompt: AtomicU64::new(0),
            tokens_completion: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            audit_queue: AtomicI64::new(0),
            audit_written: AtomicU64::new(0),
            audit_errors: AtomicU64::new(0),
        }
    }

    /// A finished request.
    pub fn request(&self, route: Route, status: u16, secs: f64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.requests[route.idx()][class].fetch_add(1, Ordering::Relaxed);
        self.latency[route.idx()].observe(secs);
    }

    /// Requests in flight (+1 / −1).
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.fetch_add(delta, Ordering::Relaxed);
    }

    /// A request sent to upstream `idx`.
    pub fn upstream_request(&self, idx: usize) {
        if let Some(c) = self.upstream_requests.get(idx) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An upstream failure.
    pub fn upstream_error(&self, idx: usize, e: UpstreamError) {
        if let Some(c) = self.upstream_errors.get(idx) {
            c[e as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A refused request.
    pub fn limit_hit(&self, limit: crate::limits::Limit) {
        self.limit_hits[limit as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A failed authentication.
    pub fn auth_failure(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Tokens counted.
    pub fn tokens(&self, prompt: u64, completion: u64) {
        self.tokens_prompt.fetch_add(prompt, Ordering::Relaxed);
        self.tokens_completion
            .fetch_add(completion, Ordering::Relaxed);
    }

    /// Audit records committed / failed.
    pub fn audit_batch(&self, written: u64, failed: bool) {
        self.audit_written.fetch_add(written, Ordering::Relaxed);
        if failed {
            self.audit_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Render everything in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(8192);
        o.push_str("# HELP rampart_gateway_requests_total Requests answered, by route and status class.\n# TYPE rampart_gateway_requests_total counter\n");
        for r in Route::ALL {
            for (ci, c) in CLASSES.iter().enumerate() {
                let v = self.requests[r.idx()][ci].load(Ordering::Relaxed);
                let _ = writeln!(
                    o,
                    "rampart_gateway_requests_total{{route=\"{}\",status=\"{c}\"}} {v}",
                    r.as_str()
                );
            }
        }
        o.push_str("# HELP rampart_gateway_request_duration_seconds Time from request to the end of the response.\n# TYPE rampart_gateway_request_duration_seconds histogram\n");
        for r in Route::ALL {
            self.latency[r.idx()].render(
                &mut o,
                "rampart_gateway_request_duration_seconds",
                &format!("route=\"{}\",", r.as_str()),
            );
        }
        o.push_str("# HELP rampart_gateway_upstream_requests_total Requests sent upstream (retries included).\n# TYPE rampart_gateway_upstream_requests_total counter\n");
        for (i, u) in self.upstreams.iter().enumerate() {
            let _ = writeln!(
                o,
                "rampart_gateway_upstream_requests_total{{upstream=\"{}\"}} {}",
                esc(u),
                self.upstream_requests[i].load(Ordering::Relaxed)
            );
        }
        o.push_str("# HELP rampart_gateway_upstream_errors_total Upstream failures by kind.\n# TYPE rampart_gateway_upstream_errors_total counter\n");
        for (i, u) in self.upstreams.iter().enumerate() {
            for (k, kind) in UPSTREAM_ERRORS.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "rampart_gateway_upstream_errors_total{{upstream=\"{}\",kind=\"{kind}\"}} {}",
                    esc(u),
                    self.upstream_errors[i][k].load(Ordering::Relaxed)
                );
            }
        }
        o.push_str("# HELP rampart_gateway_limit_hits_total Requests refused by a key limit.\n# TYPE rampart_gateway_limit_hits_total counter\n");
        for (i, l) in LIMITS.iter().enumerate() {
            let _ = writeln!(
                o,
                "rampart_gateway_limit_hits_total{{limit=\"{l}\"}} {}",
                self.limit_hits[i].load(Ordering::Relaxed)
            );
        }
        let scalar = |o: &mut String, name: &str, kind: &str, help: &str, v: String| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        scalar(
            &mut o,
            "rampart_gateway_auth_failures_total",
            "counter",
            "Requests with a missing, invalid, revoked or expired key.",
            self.auth_failures.load(Ordering::Relaxed).to_string(),
        );
        let _ = writeln!(
            o,
            "# HELP rampart_gateway_tokens_total Tokens counted.\n# TYPE rampart_gateway_tokens_total counter\nrampart_gateway_tokens_total{{kind=\"prompt\"}} {}\nrampart_gateway_tokens_total{{kind=\"completion\"}} {}",
            self.tokens_prompt.load(Ordering::Relaxed),
            self.tokens_completion.load(Ordering::Relaxed)
        );
        scalar(
            &mut o,
            "rampart_gateway_in_flight_requests",
            "gauge",
            "Requests being served.",
            self.in_flight.load(Ordering::Relaxed).to_string(),
        );
        scalar(
            &mut o,
            "rampart_gateway_audit_queue",
            "gauge",
            "Audit records waiting to be written.",
            self.audit_queue.load(Ordering::Relaxed).to_string(),
        );
        scalar(
            &mut o,
            "rampart_gateway_audit_records_written_total",
            "counter",
            "Audit records committed to the chain.",
            self.audit_written.load(Ordering::Relaxed).to_string(),
        );
        scalar(
            &mut o,
            "rampart_gateway_audit_write_errors_total",
            "counter",
            "Failed audit batch writes (retried).",
            self.audit_errors.load(Ordering::Relaxed).to_string(),
        );
        o
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
