//! The HTTP server: routing, authentication, limits, inspection, forwarding, and the metered
//! response body that writes the audit record when the response ends.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rampart_store::Store;
use rampart_store::audit::AuditEntry;
use rampart_store::keys::VirtualKeys;
use rampart_store::usage::{UsageDelta, UsageLedger};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Config, secs};
use crate::inspect::{Action, ChunkOutcome, Decision, Inspector, RequestInfo, ResponseInspector};
use crate::keys::{AuthFailure, KeyEntry, KeyRing};
use crate::limits::{self, BudgetPeriod, Permit};
use crate::metrics::{Metrics, Route};
use crate::sniff::{Sniffer, Usage};
use crate::upstream::{self, Target, Upstream};
use crate::writer::{AuditSender, WriteBehind};

use crate::{GatewayError, now_ms};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A configured model.
#[derive(Debug)]
pub struct Model {
    /// Canonical name.
    pub name: String,
    /// Other names.
    pub aliases: Vec<String>,
    /// Targets in order.
    pub targets: Vec<Target>,
    /// Served by Anthropic upstreams.
    pub anthropic: bool,
    /// Why the model cannot be served when none of its targets' upstreams has a provider key
    /// (`targets` is then empty); requests get 503 with this text.
    pub unavailable: Option<String>,
    /// nano-USD per input token.
    pub in_nanos: f64,
    /// nano-USD per output token.
    pub out_nanos: f64,
}

/// Everything a request needs, shared.
pub(crate) struct State {
    pub(crate) keys: KeyRing,
    models: HashMap<String, Arc<Model>>,
    model_list: Vec<Arc<Model>>,
    audit: AuditSender,
    pub(crate) metrics: Arc<Metrics>,
    admin_token: Option<[u8; 32]>,
    inspector: Option<Arc<dyn Inspector>>,
    pub(crate) db: Mutex<Store>,
    ready: AtomicBool,
    draining: AtomicBool,
    writer_healthy: Arc<AtomicBool>,
    counter: AtomicU64,
    prefix: String,
    max_body: usize,
    body_timeout: Duration,
    max_queue: i64,
    log_bodies: bool,
    log_pii: bool,
    max_logged_body: usize,
    redactor: Option<rampart_detect::RuleSet>,
}

/// The gateway, configured and ready to serve.
pub struct Gateway {
    state: Arc<State>,
    writer: WriteBehind,
    config: Config,
}

/// Options beyond the config file.
#[derive(Default, Clone)]
pub struct Options {
    /// The guardrail seam.
    pub inspector: Option<Arc<dyn Inspector>>,
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

impl Gateway {
    /// Open the database, read secrets, load keys and start the write-behind thread.
    pub fn new(config: Config, options: Options) -> Result<Gateway, GatewayError> {
        let secret = config.server_secret()?;
        // As documented in the example config: without a token the admin API is off (404). A
        // variable that is named but not set is said at startup, so a typo does not go unseen.
        let admin_token = match config.admin_token() {
            Ok(t) => t.map(|t| sha256(t.expose().as_bytes())),
            Err(e) if config.admin_token_unset() => {
                rampart_core::stderr_line!("rampart gateway: warning: the admin API is off: {e}");
                None
            }
            Err(e) => return Err(e.into()),
        };
        let upstream::Built {
            ready: ups,
            disabled,
        } = upstream::build(&config)?;
        for (name, why) in &disabled {
            rampart_core::stderr_line!(
                "rampart gateway: warning: upstream `{name}` is off: {why}; its models use their other targets"
            );
        }
        let by_name: HashMap<&str, &Arc<Upstream>> =
            ups.iter().map(|u| (u.name.as_str(), u)).collect();
        let mut models = HashMap::new();
        let mut model_list = Vec::new();
        for (name, m) in &config.models {
            let targets = m
                .targets
                .iter()
                .filter_map(|t| {
                    by_name.get(t.upstream.as_str()).map(|u| Target {
                        upstream: Arc::clone(u),
                        model: t.model.clone().unwrap_or_else(|| name.clone()),
                    })
                })
                .collect::<Vec<_>>();
            // The API family comes from the configured primary, usable or not: a model whose
            // Anthropic upstream has no key is still a /v1/messages model.
            let anthropic = m.targets.first().is_some_and(|t| {
                config.upstreams.get(&t.upstream).map(|u| u.kind)
                    == Some(crate::config::UpstreamKind::Anthropic)
            });
            // Clients learn which upstreams are off, not the server's paths or variable names
            // (those are in the startup warning).
            let unavailable = targets.is_empty().then(|| {
                let off: Vec<String> = m
                    .targets
                    .iter()
                    .map(|t| format!("`{}`", t.upstream))
                    .collect();
                format!(
                    "The model `{name}` is unavailable: its upstreams ({}) have no provider key configured on the gateway.",
                    off.join(", ")
                )
            });
            let model = Arc::new(Model {
                name: name.clone(),
                aliases: m.aliases.clone(),
                targets,
                anthropic,
                unavailable,
                in_nanos: m.input_usd_per_mtok * 1000.0,
                out_nanos: m.output_usd_per_mtok * 1000.0,
            });
            models.insert(name.clone(), Arc::clone(&model));
            for a in &m.aliases {
                models.insert(a.clone(), Arc::clone(&model));
            }
            model_list.push(model);
        }
        let db_path = config.database_path();
        let writer_store = Store::open(&db_path)?;
        let db = Store::open(&db_path)?;
        let metrics = Arc::new(Metrics::new(ups.iter().map(|u| u.name.clone()).collect()));
        let writer = WriteBehind::start(
            writer_store,
            config.audit.batch_size,
            Duration::from_millis(config.audit.flush_interval_ms.max(1)),
            Arc::clone(&metrics),
        )
        .map_err(GatewayError::Io)?;
        let keys = KeyRing::new(crate::keys::KeyHasher::new(secret.expose().as_bytes()));
        let redactor = config
            .audit
            .log_bodies
            .then(rampart_detect::RuleSet::builtin);
        // Guardrails from `[guardrails]` unless the caller brought its own inspector.
        let inspector = match (options.inspector, &config.guardrails) {
            (Some(i), _) => Some(i),
            (None, Some(g)) if g.enabled => {
                let gi = crate::guard::GuardInspector::new(g, writer.sender()).map_err(|e| {
                    crate::ConfigError::Field {
                        path: config.source.clone(),
                        field: e.field,
                        message: e.message,
                    }
                })?;
                Some(Arc::new(gi) as Arc<dyn Inspector>)
            }
            _ => None,
        };
        let state = Arc::new(State {
            keys,
            models,
            model_list,
            audit: writer.sender(),
            metrics,
            admin_token,
            inspector,
            db: Mutex::new(db),
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            writer_healthy: writer.healthy_flag(),
            counter: AtomicU64::new(0),
            prefix: crate::keys::random_base62(6).unwrap_or_else(|_| "000000".into()),
            max_body: config.server.max_body_bytes,
            body_timeout: secs(config.server.body_timeout_secs),
            max_queue: i64::try_from(config.audit.max_queue).unwrap_or(i64::MAX),
            log_bodies: config.audit.log_bodies,
            log_pii: config.audit.log_pii,
            max_logged_body: config.audit.max_logged_body_bytes,
            redactor,
        });
        reload_keys(&state, None)?;
        Ok(Gateway {
            state,
            writer,
            config,
        })
    }

    /// Serve on `listener` until `shutdown` resolves; then stop accepting, let in-flight
    /// requests finish (up to `server.shutdown_grace_secs`), and flush the audit trail.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), GatewayError> {
        let Gateway {
            state,
            writer,
            config,
        } = self;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let conns = Arc::new(tokio::sync::Semaphore::new(config.server.max_connections));
        let header_timeout = secs(config.server.header_timeout_secs);
        let write_timeout = secs(config.server.write_timeout_secs);
        let stop_refresh = Arc::new(tokio::sync::Notify::new());
        let refresher = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop_refresh);
            let every = secs(config.server.keys_refresh_secs);
            tokio::spawn(async move {
                let mut version = None;
                loop {
                    tokio::select! {
                        _ = stop.notified() => break,
                        _ = tokio::time::sleep(every) => {}
                    }
                    let st = Arc::clone(&state);
                    let v = version;
                    match tokio::task::spawn_blocking(move || reload_keys(&st, v)).await {
                        Ok(Ok(nv)) => version = Some(nv),
                        Ok(Err(e)) => {
                            rampart_core::stderr_line!("rampart gateway: key refresh failed: {e}")
                        }
                        Err(_) => {}
                    }
                }
            })
        };
        state.ready.store(true, Ordering::Release);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                r = listener.accept() => {
                    let (stream, _peer) = match r {
                        Ok(x) => x,
                        Err(e) => {
                            // e.g. out of file descriptors: back off instead of spinning.
                            rampart_core::stderr_line!("rampart gateway: accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let Ok(permit) = Arc::clone(&conns).try_acquire_owned() else {
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let st = Arc::clone(&state);
                    let svc = service_fn(move |req| {
                        let st = Arc::clone(&st);
                        async move { Ok::<_, Infallible>(handle(st, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(header_timeout)
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(crate::io::TimedStream::new(stream, write_timeout)), svc);
                    let fut = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = fut.await;
                        drop(permit);
                    });
                }
                () = &mut shutdown => break,
            }
        }
        state.draining.store(true, Ordering::Release);
        drop(listener);
        let grace = secs(config.server.shutdown_grace_secs);
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            rampart_core::stderr_line!(
                "rampart gateway: shutdown grace of {grace:?} expired with requests still running"
            );
        }
        stop_refresh.notify_one();
        let _ = refresher.await;
        tokio::task::spawn_blocking(move || writer.shutdown())
            .await
            .map_err(|e| GatewayError::Io(std::io::Error::other(e.to_string())))?;
        Ok(())
    }
}

/// Re-read the key table when its version changed; returns the version seen.
fn reload_keys(
    state: &State,
    seen: Option<rampart_store::keys::KeysVersion>,
) -> Result<rampart_store::keys::KeysVersion, GatewayError> {
    let db = match state.db.lock() {
        Ok(d) => d,
        Err(p) => p.into_inner(),
    };
    let v = db.keys_version()?;
    if seen == Some(v) {
        return Ok(v);
    }
    let records = db.list_keys()?;
    let now = now_ms();
    let total = db.spend_by_key()?;
    let sum_since = |start: i64| -> Result<HashMap<String, i64>, GatewayError> {
        Ok(db
            .usage_totals(Some(start))?
            .into_iter()
            .map(|t| (t.key_id, t.cost_nanos))
            .collect())
    };
    let day = sum_since(BudgetPeriod::Day.bounds(now).0)?;
    let month = sum_since(BudgetPeriod::Month.bounds(now).0)?;
    drop(db);
    let by_id: HashMap<String, Option<String>> = records
        .iter()
        .map(|r| (r.id.clone(), r.rotated_from.clone()))
        .collect();
    state.keys.load(records, &|rec, period| {
        let (map, start) = match period {
            BudgetPeriod::Total => (&total, i64::MIN),
            BudgetPeriod::Day => (&day, BudgetPeriod::Day.bounds(now).0),
            BudgetPeriod::Month => (&month, BudgetPeriod::Month.bounds(now).0),
        };
        // A rotated key carries the spend of the keys it replaced.
        let mut spent = 0i64;
        let mut id = Some(rec.id.clone());
        let mut hops = 0;
        while let Some(cur) = id {
            spent = spent.saturating_add(map.get(&cur).copied().unwrap_or(0));
            id = by_id.get(&cur).cloned().flatten();
            hops += 1;
            if hops > 1000 {
                break;
            }
        }
        (spent, start)
    });
    Ok(v)
}

/// The largest non-streamed upstream answer the guardrails buffer to inspect whole.
const MAX_INSPECTED_RESPONSE: usize = 32 << 20;

// ── Bodies ────────────────────────────────────────────────────────────────────────────────────

/// The response body type of the gateway.
pub enum Body {
    /// A complete body.
    Full(Option<Bytes>),
    /// An upstream body passing through.
    Stream(Box<Metered>),
}

impl Body {
    fn full(b: impl Into<Bytes>) -> Body {
        Body::Full(Some(b.into()))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(m) => m.poll(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(b) => b.is_none(),
            Body::Stream(m) => m.ended,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

/// What is needed to write the audit record when a proxied response ends.
struct Finish {
    state: Arc<State>,
    key: Arc<KeyEntry>,
    _permit: Permit,
    model: Arc<Model>,
    entry: AuditEntry,
    route: Route,
    start: Instant,
    detail: serde_json::Map<String, Value>,
    decisions: Vec<Decision>,
    /// The upstream's status: a 2xx answer is charged even when a guardrail refuses to pass it on.
    upstream_status: u16,
}

/// An upstream body on its way to the client: counted, inspected, and audited at its end.
pub struct Metered {
    inner: Incoming,
    idle: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    sniffer: Sniffer,
    inspector: Option<Box<dyn ResponseInspector>>,
    finish: Option<Finish>,
    ended: bool,
}

impl Metered {
    fn done(&mut self, how: &str) {
        if let Some(mut f) = self.finish.take() {
            if let Some(i) = self.inspector.as_mut() {
                f.decisions.extend(i.decisions());
            }
            let usage = self.sniffer.finish();
            f.complete(usage, how);
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            match http_body::Body::poll_frame(Pin::new(&mut self.inner), cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let deadline = tokio::time::Instant::now() + self.idle;
                    self.sleep.as_mut().reset(deadline);
                    let data = match frame.into_data() {
                        Ok(d) => d,
                        Err(other) => return Poll::Ready(Some(Ok(other))),
                    };
                    self.sniffer.feed(&data);
                    let out = match self.inspector.as_mut() {
                        None => data,
                        Some(i) => match i.on_chunk(data) {
                            ChunkOutcome::Send(b) => b,
                            ChunkOutcome::End(b) => {
                                self.ended = true;
                                self.done("ended_by_inspector");
                                return Poll::Ready(Some(Ok(Frame::data(b))));
                            }
                        },
                    };
                    if out.is_empty() {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(Frame::data(out))));
                }
                Poll::Ready(Some(Err(e))) => {
                    self.ended = true;
                    self.done("upstream_error");
                    return Poll::Ready(Some(Err(Box::new(e))));
                }
                Poll::Ready(None) => {
                    self.ended = true;
                    let tail = self
                        .inspector
                        .as_mut()
                        .map(|i| i.on_end())
                        .unwrap_or_default();
                    self.done("complete");
                    if tail.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(tail))));
                }
                Poll::Pending => {
                    if self.sleep.as_mut().poll(cx).is_ready() {
                        self.ended = true;
                        self.done("upstream_read_timeout");
                        return Poll::Ready(Some(Err("upstream read timeout".into())));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.done("client_closed");
    }
}

impl Finish {
    fn complete(mut self, usage: Usage, how: &str) {
        let ok = self.upstream_status < 400;
        // Counting tokens generates nothing: it is free upstream, and free against limits here.
        let usage = if ok && self.route != Route::CountTokens {
            usage
        } else {
            Usage::default()
        };
        let cost = (usage.prompt as f64 * self.model.in_nanos
            + usage.completion as f64 * self.model.out_nanos)
            .round() as i64;
        let now = now_ms();
        limits::charge(&self.key, now, usage.prompt + usage.completion, cost);
        self.entry.prompt_tokens = usage.prompt;
        self.entry.completion_tokens = usage.completion;
        self.entry.tokens_estimated = usage.estimated;
        self.entry.cost_nanos = cost;
        self.entry.latency_us = self.start.elapsed().as_micros() as u64;
        if how != "complete" {
            self.detail.insert("end".into(), Value::from(how));
        }
        apply_decisions(&mut self.entry, &mut self.detail, &self.decisions);
        if !self.detail.is_empty() {
            self.entry.detail = Some(Value::Object(std::mem::take(&mut self.detail)).to_string());
        }
        let st = &self.state;
        st.metrics.tokens(usage.prompt, usage.completion);
        st.metrics.request(
            self.route,
            self.entry.status,
            self.start.elapsed().as_secs_f64(),
        );
        st.metrics.in_flight(-1);
        st.audit.usage(UsageDelta {
            key_id: self.key.record.id.clone(),
            minute_ms: self.entry.ts_ms.div_euclid(60_000) * 60_000,
            model: self.model.name.clone(),
            requests: 1,
            errors: u64::from(!ok),
            prompt_tokens: usage.prompt,
            completion_tokens: usage.completion,
            cost_nanos: cost,
        });
        st.audit.audit(std::mem::take(&mut self.entry));
    }
}

fn apply_decisions(
    entry: &mut AuditEntry,
    detail: &mut serde_json::Map<String, Value>,
    decisions: &[Decision],
) {
    if decisions.is_empty() {
        return;
    }
    if let Some(top) = decisions.iter().max_by_key(|d| d.action)
        && top.action != Action::Allow
    {
        entry.decision = format!("{}:{}", top.action.as_str(), top.rule);
    }
    detail.insert(
        "guardrails".into(),
        Value::Array(
            decisions
                .iter()
                .map(|d| json!({"action": d.action.as_str(), "rule": d.rule, "note": d.note}))
                .collect(),
        ),
    );
}

// ── Errors ────────────────────────────────────────────────────────────────────────────────────

/// An error answer, in the protocol of the route.
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: String,
    message: String,
    retry_after: Option<u64>,
    decision: String,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            code: code.to_string(),
            message: message.into(),
            retry_after: None,
            decision: format!("deny:{code}"),
        }
    }

    pub(crate) fn admin(status: StatusCode, message: String) -> Self {
        let code = match status.as_u16() {
            401 => "invalid_admin_token",
            404 => "not_found",
            400 => "invalid_request",
            _ => "admin_error",
        };
        ApiError::new(status, "invalid_request_error", code, message)
            .decision(format!("admin:{code}"))
    }

    fn decision(mut self, d: impl Into<String>) -> Self {
        self.decision = d.into();
        self
    }

    fn response(&self, route: Route, request_id: &str) -> Response<Body> {
        let body = if route.is_anthropic() {
            let t = match self.status.as_u16() {
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                500..=599 => "api_error",
                _ => "invalid_request_error",
            };
            json!({"type": "error", "error": {"type": t, "message": self.message}})
        } else {
            json!({"error": {"message": self.message, "type": self.kind, "param": null, "code": self.code}})
        };
        let mut r = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-request-id", request_id);
        if let Some(s) = self.retry_after {
            r = r.header(header::RETRY_AFTER, s.to_string());
        }
        r.body(Body::full(body.to_string()))
            .unwrap_or_else(|_| Response::new(Body::full("{}")))
    }
}

pub(crate) fn json_response(status: StatusCode, v: &Value, request_id: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", request_id)
        .body(Body::full(v.to_string()))
        .unwrap_or_else(|_| Response::new(Body::full("{}")))
}

// ── Handler ───────────────────────────────────────────────────────────────────────────────────

fn route_of(method: &Method, path: &str) -> Route {
    match (method, path) {
        (&Method::POST, "/v1/chat/completions") => Route::Chat,
        (&Method::POST, "/v1/completions") => Route::Completions,
        (&Method::POST, "/v1/embeddings") => Route::Embeddings,
        (&Method::POST, "/v1/messages") => Route::Messages,
        (&Method::POST, "/v1/messages/count_tokens") => Route::CountTokens,
        (&Method::GET, "/v1/models") => Route::Models,
        (_, p) if p == "/admin" || p.starts_with("/admin/") => Route::Admin,
        _ => Route::Other,
    }
}

/// The request's own record, filled in as it goes.
struct Ctx {
    state: Arc<State>,
    entry: AuditEntry,
    start: Instant,
    route: Route,
    key: Option<Arc<KeyEntry>>,
    model: Option<Arc<Model>>,
    /// The record has been handed on (written, or owned by a streaming body).
    done: bool,
}

impl Drop for Ctx {
    fn drop(&mut self) {
        if !self.done {
            // The client went away before the answer was ready.
            self.entry.decision = "client_closed".into();
            let state = Arc::clone(&self.state);
            finish_now(&state, self);
        }
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::GET, "/healthz") => {
            return json_response(StatusCode::OK, &json!({"status": "ok"}), "-");
        }
        (&Method::GET, "/readyz") => {
            let ready = state.ready.load(Ordering::Acquire)
                && !state.draining.load(Ordering::Acquire)
                && state.writer_healthy.load(Ordering::Relaxed);
            let (s, t) = if ready {
                (StatusCode::OK, "ready")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "not ready")
            };
            return json_response(s, &json!({"status": t}), "-");
        }
        (&Method::GET, "/metrics") => {
            return Response::builder()
                .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
                .body(Body::full(state.metrics.render()))
                .unwrap_or_else(|_| Response::new(Body::full("")));
        }
        _ => {}
    }
    state.metrics.in_flight(1);
    let start = Instant::now();
    let n = state.counter.fetch_add(1, Ordering::Relaxed);
    let route = route_of(req.method(), path);
    let mut ctx = Ctx {
        state: Arc::clone(&state),
        done: false,
        entry: AuditEntry {
            ts_ms: now_ms(),
            request_id: format!("req_{}{n:x}", state.prefix),
            method: req.method().as_str().to_string(),
            path: path.chars().take(512).collect(),
            decision: "allow".into(),
            ..Default::default()
        },
        start,
        route,
        key: None,
        model: None,
    };
    let result = if route == Route::Admin {
        crate::admin::handle(&state, &mut ctx.entry, req).await
    } else {
        api(&state, &mut ctx, req).await
    };
    let rid = ctx.entry.request_id.clone();
    match result {
        Ok(Done::Streaming(resp)) => resp,
        Ok(Done::Full(resp)) => {
            ctx.entry.status = resp.status().as_u16();
            finish_now(&state, &mut ctx);
            resp
        }
        Err(e) => {
            let resp = e.response(route, &rid);
            ctx.entry.status = e.status.as_u16();
            ctx.entry.decision = e.decision.clone();
            finish_now(&state, &mut ctx);
            resp
        }
    }
}

/// Audit and count a request answered by the gateway itself.
fn finish_now(state: &State, ctx: &mut Ctx) {
    if ctx.done {
        return;
    }
    ctx.done = true;
    ctx.entry.latency_us = ctx.start.elapsed().as_micros() as u64;
    state.metrics.request(
        ctx.route,
        ctx.entry.status,
        ctx.start.elapsed().as_secs_f64(),
    );
    state.metrics.in_flight(-1);
    if let Some(k) = &ctx.key {
        state.audit.usage(UsageDelta {
            key_id: k.record.id.clone(),
            minute_ms: ctx.entry.ts_ms.div_euclid(60_000) * 60_000,
            model: ctx.model.as_ref().map_or_else(
                || ctx.entry.model.clone().unwrap_or_default(),
                |m| m.name.clone(),
            ),
            requests: 1,
            errors: u64::from(ctx.entry.status >= 400),
            ..Default::default()
        });
    }
    state.audit.audit(std::mem::take(&mut ctx.entry));
}

/// How a handler answered.
pub(crate) enum Done {
    /// A complete response; the caller writes the audit record.
    Full(Response<Body>),
    /// A proxied response whose audit record is not the caller's business: its body writes it
    /// when it ends (streamed), or it was written before the headers (inspected whole).
    Streaming(Response<Body>),
}

pub(crate) fn presented_key(h: &HeaderMap) -> Option<&[u8]> {
    if let Some(v) = h.get(header::AUTHORIZATION) {
        let b = v.as_bytes();
        if b.len() > 7 && b[..7].eq_ignore_ascii_case(b"bearer ") {
            return Some(b[7..].trim_ascii());
        }
        return Some(b.trim_ascii());
    }
    h.get("x-api-key")
        .or_else(|| h.get("api-key"))
        .map(|v| v.as_bytes().trim_ascii())
}

/// Constant-time admin token check.
pub(crate) fn admin_ok(state: &State, h: &HeaderMap) -> bool {
    let Some(want) = &state.admin_token else {
        return false;
    };
    let got = presented_key(h).map_or([0u8; 32], sha256);
    bool::from(got.ct_eq(want))
}

pub(crate) fn admin_enabled(state: &State) -> bool {
    state.admin_token.is_some()
}

#[derive(Deserialize)]
struct Probe {
    model: Option<String>,
    stream: Option<bool>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
}

/// Personal data in a logged body replaced by `[PII:kind]` (the guardrails' detectors, with
/// their check digits, so order numbers and timestamps stay readable).
fn mask_pii(text: &str) -> String {
    let mut ms = rampart_guard::pii::find(text, &rampart_guard::pii::PiiKind::ALL);
    ms.sort_by_key(|m| m.range.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in ms {
        if m.range.start < at {
            continue;
        }
        out.push_str(&text[at..m.range.start]);
        out.push_str("[PII:");
        out.push_str(m.kind.as_str());
        out.push(']');
        at = m.range.end;
    }
    out.push_str(&text[at..]);
    out
}

fn redact_body(state: &State, body: &[u8]) -> String {
    // Redact the text a JSON body decodes to, not its bytes: a secret written with escapes
    // (`\/`, `\u0041`) does not match as bytes, and the audit log cannot be edited afterwards.
    let mut s = match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            redact_strings(state, &mut v);
            v.to_string()
        }
        // Not JSON we can read: its escapes could hide a secret from a byte scan.
        Err(_) if body.contains(&b'\\') => {
            return format!(
                "[body of {} bytes not logged: not JSON the redactor can read, and it holds escapes]",
                body.len()
            );
        }
        Err(_) => redact_text(state, &String::from_utf8_lossy(body)),
    };
    if s.len() > state.max_logged_body {
        let mut cut = state.max_logged_body;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("…[truncated]");
    }
    s
}

fn redact_strings(state: &State, v: &mut Value) {
    match v {
        Value::String(t) => *t = redact_text(state, t),
        Value::Array(a) => a.iter_mut().for_each(|x| redact_strings(state, x)),
        Value::Object(m) => m.values_mut().for_each(|x| redact_strings(state, x)),
        _ => {}
    }
}

fn redact_text(state: &State, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    if let Some(rs) = &state.redactor {
        let mut ms = rs.scan(text.as_bytes());
        ms.sort_by_key(|m| m.secret.start);
        for m in ms {
            if m.secret.start < at
                || !text.is_char_boundary(m.secret.start)
                || !text.is_char_boundary(m.secret.end)
            {
                continue;
            }
            out.push_str(&text[at..m.secret.start]);
            out.push_str(&rampart_core::redact(&text[m.secret.clone()]));
            at = m.secret.end;
        }
    }
    out.push_str(&text[at..]);
    if state.log_pii { out } else { mask_pii(&out) }
}

async fn api(state: &Arc<State>, ctx: &mut Ctx, req: Request<Incoming>) -> Result<Done, ApiError> {
    let route = ctx.route;
    if route == Route::Other {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "unknown_url",
            format!(
                "Unknown request URL: {} {}",
                ctx.entry.method, ctx.entry.path
            ),
        ));
    }
    if state.draining.load(Ordering::Acquire) {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "shutting_down",
            "The gateway is shutting down; retry on another instance.",
        );
        e.retry_after = Some(1);
        return Err(e);
    }
    // Authenticate: every failure takes the same path and says the same thing.
    let key = match presented_key(req.headers()) {
        None => Err(AuthFailure::Missing),
        Some(k) => state.keys.authenticate(k, ctx.entry.ts_ms),
    };
    let key = match key {
        Ok(k) => k,
        Err(f) => {
            state.metrics.auth_failure();
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "Invalid, revoked or expired Rampart key. Send a key created with `rampart keys create` as `Authorization: Bearer rk-…`.",
            )
            .decision(format!("deny:{}", f.as_str())));
        }
    };
    ctx.entry.key_id = Some(key.record.id.clone());
    ctx.key = Some(Arc::clone(&key));
    if route == Route::Models {
        let data: Vec<Value> = state
            .model_list
            .iter()
            .flat_map(|m| {
                std::iter::once(&m.name)
                    .chain(m.aliases.iter())
                    .filter(|n| key.allows(&m.name, n))
                    .map(|n| {
                        json!({"id": n, "object": "model", "created": 0,
                               "owned_by": m.targets.first().map_or("rampart", |t| t.upstream.name.as_str())})
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        return Ok(Done::Full(json_response(
            StatusCode::OK,
            &json!({"object": "list", "data": data}),
            &ctx.entry.request_id,
        )));
    }
    if state.audit.depth() > state.max_queue {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "audit_backlog",
            "The audit trail cannot keep up; retry shortly.",
        );
        e.retry_after = Some(1);
        return Err(e);
    }
    // Read the body: size cap, time cap.
    let (parts, body) = req.into_parts();
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!(
                "Request body is larger than the gateway's limit of {} bytes.",
                state.max_body
            ),
        )
    };
    if let Some(len) = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > state.max_body as u64
    {
        return Err(too_large());
    }
    let collected = tokio::time::timeout(
        state.body_timeout,
        http_body_util::Limited::new(body, state.max_body).collect(),
    )
    .await;
    let mut body = match collected {
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                "request_timeout",
                "The request body did not arrive in time.",
            ));
        }
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return Err(too_large());
            }
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "body_read_error",
                "Could not read the request body.",
            ));
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    ctx.entry.body_sha256 = rampart_store::audit::hex(&sha256(&body));
    if state.log_bodies {
        ctx.entry.body = Some(redact_body(state, &body));
    }
    let probe: Probe = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_json",
            format!("The request body is not a valid JSON object: {e}"),
        )
    })?;
    let Some(asked) = probe.model else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "missing_model",
            "You must provide a model parameter.",
        ));
    };
    ctx.entry.model = Some(asked.chars().take(256).collect());
    let stream = probe.stream.unwrap_or(false);
    let model = state
        .models
        .get(&asked)
        .filter(|m| key.allows(&m.name, &asked))
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!(
                    "The model `{}` does not exist or this key may not use it.",
                    ctx.entry.model.as_deref().unwrap_or_default()
                ),
            )
        })?;
    ctx.model = Some(Arc::clone(&model));
    if model.anthropic != route.is_anthropic() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "wrong_endpoint",
            if model.anthropic {
                format!(
                    "The model `{asked}` is served by an Anthropic upstream: use POST /v1/messages."
                )
            } else {
                format!(
                    "The model `{asked}` is served by an OpenAI-style upstream: use /v1/chat/completions, /v1/completions or /v1/embeddings."
                )
            },
        ));
    }
    if let Some(why) = &model.unavailable {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "upstream_unavailable",
            why.clone(),
        )
        .decision("upstream:no-key".to_string()));
    }
    // Reserved while the request runs (see `limits`): its prompt at 4 bytes a token, and what
    // it may generate (`max_tokens`, else a guess of 256; embeddings generate nothing).
    let completion = match route {
        Route::Embeddings | Route::CountTokens => 0,
        _ => probe
            .max_completion_tokens
            .or(probe.max_tokens)
            .unwrap_or(256),
    };
    let prompt = body.len().div_ceil(4) as u64;
    let est = limits::Estimate {
        tokens: prompt.saturating_add(completion),
        nanos: (prompt as f64 * model.in_nanos + completion as f64 * model.out_nanos)
            .round()
            .min(i64::MAX as f64) as i64,
    };
    let permit = limits::admit(&key, ctx.entry.ts_ms, est).map_err(|hit| {
        state.metrics.limit_hit(hit.limit);
        let (kind, code, msg) = match hit.limit {
            limits::Limit::Budget => (
                "insufficient_quota",
                "insufficient_quota",
                "This key has used up its budget.".to_string(),
            ),
            l => (
                "rate_limit_error",
                "rate_limit_exceeded",
                format!(
                    "Rate limit reached for this key ({}); retry after {} s.",
                    match l {
                        limits::Limit::Rpm => "requests per minute",
                        limits::Limit::Tpm => "tokens per minute",
                        _ => "concurrent requests",
                    },
                    hit.retry_after_secs
                ),
            ),
        };
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, kind, code, msg)
            .decision(format!("limit:{}", hit.limit.as_str()));
        e.retry_after = Some(hit.retry_after_secs);
        e
    })?;
    // Guardrails, inbound.
    let info = state.inspector.as_ref().map(|_| RequestInfo {
        request_id: ctx.entry.request_id.clone(),
        key_id: key.record.id.clone(),
        key_name: key.record.name.clone(),
        route,
        model: asked.clone(),
        stream,
    });
    let mut decisions = Vec::new();
    if let (Some(insp), Some(info)) = (&state.inspector, &info) {
        decisions = insp.inspect_request(info, &mut body);
        if let Some(block) = decisions.iter().find(|d| d.action == Action::Block) {
            let mut detail = serde_json::Map::new();
            apply_decisions(&mut ctx.entry, &mut detail, &decisions);
            ctx.entry.detail = Some(Value::Object(detail).to_string());
            let decision = ctx.entry.decision.clone();
            drop(permit);
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "guardrail_blocked",
                &block.rule,
                format!("Blocked by the gateway's guardrail `{}`.", block.rule),
            )
            .decision(decision));
        }
    }
    // Forward.
    let original = body.clone();
    let body_for = |t: &Target| -> Bytes {
        if t.model == asked || t.upstream.kind == crate::config::UpstreamKind::Azure {
            return original.clone();
        }
        match serde_json::from_slice::<Value>(&original) {
            Ok(Value::Object(mut m)) => {
                m.insert("model".into(), Value::from(t.model.clone()));
                Bytes::from(Value::Object(m).to_string())
            }
            _ => original.clone(),
        }
    };
    let seed = ctx.entry.ts_ms as u64 ^ state.counter.load(Ordering::Relaxed);
    let fwd = upstream::forward(
        &model.targets,
        route,
        &body_for,
        &parts.headers,
        &state.metrics,
        seed,
    )
    .await;
    let fwd = match fwd {
        Ok(f) => f,
        Err(fail) => {
            ctx.entry.upstream = Some(fail.upstream.clone());
            let mut detail = serde_json::Map::new();
            detail.insert("attempts".into(), Value::from(fail.attempts));
            detail.insert("error".into(), Value::from(fail.message.clone()));
            apply_decisions(&mut ctx.entry, &mut detail, &decisions);
            ctx.entry.detail = Some(Value::Object(detail).to_string());
            drop(permit);
            let (status, code, what) = if fail.timeout {
                (
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream_timeout",
                    "did not answer in time",
                )
            } else {
                (
                    StatusCode::BAD_GATEWAY,
                    "upstream_unavailable",
                    "could not be reached",
                )
            };
            return Err(ApiError::new(
                status,
                "api_error",
                code,
                format!(
                    "The upstream for model `{asked}` {what} after {} attempt(s).",
                    fail.attempts
                ),
            )
            .decision(format!("error:{code}")));
        }
    };
    ctx.entry.upstream = Some(fwd.upstream.name.clone());
    let (mut rparts, rbody) = fwd.response.into_parts();
    ctx.entry.status = rparts.status.as_u16();
    for h in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHENTICATE,
        header::SET_COOKIE,
    ] {
        rparts.headers.remove(h);
    }
    rparts.headers.remove("keep-alive");
    let sse = rparts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let response_inspector = match (&state.inspector, &info) {
        (Some(i), Some(info)) => i.response_inspector(info),
        _ => None,
    };
    if response_inspector.is_some() {
        rparts.headers.remove(header::CONTENT_LENGTH);
        // Compressed bytes cannot be inspected, and the client would decompress them: refuse
        // (the request asked for `identity`).
        if rparts
            .headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
        {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "api_error",
                "upstream_encoded_response",
                "The upstream's answer was compressed and cannot be inspected by the guardrails.",
            )
            .decision("error:upstream_encoded_response".to_string()));
        }
    }
    if let Ok(v) = HeaderValue::from_str(&ctx.entry.request_id) {
        rparts.headers.insert("x-request-id", v);
    }
    let mut detail = serde_json::Map::new();
    if fwd.attempts > 1 {
        detail.insert("attempts".into(), Value::from(fwd.attempts));
    }
    if stream {
        detail.insert("stream".into(), Value::from(true));
    }
    let idle = fwd.upstream.read_timeout;
    let upstream_status = rparts.status.as_u16();
    let mut response_inspector = response_inspector;
    if !sse && let Some(mut inspector) = response_inspector.take() {
        // A non-streamed answer is inspected whole before any header leaves, so a refusal is a
        // real error status, not a 200 with an error body.
        let body = match tokio::time::timeout(
            idle,
            http_body_util::Limited::new(rbody, MAX_INSPECTED_RESPONSE).collect(),
        )
        .await
        {
            Ok(Ok(c)) => c.to_bytes(),
            Ok(Err(e)) => {
                let code = if e.is::<http_body_util::LengthLimitError>() {
                    "upstream_response_too_large"
                } else {
                    "upstream_error"
                };
                return Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "api_error",
                    code,
                    "The upstream's answer could not be read for inspection.",
                )
                .decision(format!("error:{code}")));
            }
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "api_error",
                    "upstream_read_timeout",
                    "The upstream's answer did not arrive in time.",
                )
                .decision("error:upstream_read_timeout".to_string()));
            }
        };
        let mut sniffer = Sniffer::new(false, original.len());
        sniffer.feed(&body);
        let mut out = Vec::with_capacity(body.len());
        match inspector.on_chunk(body) {
            ChunkOutcome::Send(b) => {
                out.extend_from_slice(&b);
                out.extend_from_slice(&inspector.on_end());
            }
            ChunkOutcome::End(b) => out.extend_from_slice(&b),
        }
        let found = inspector.decisions();
        // A block either replaced the answer by a guardrail error (→ 403) or, for harm with a
        // safe completion configured, by a normal answer (→ the upstream's status).
        let refused = found.iter().any(|d| d.action == Action::Block)
            && serde_json::from_slice::<Value>(&out)
                .is_ok_and(|v| v["error"]["type"] == "guardrail_blocked");
        if refused {
            rparts.status = StatusCode::FORBIDDEN;
            rparts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        rparts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(out.len()));
        let mut decisions = decisions;
        decisions.extend(found);
        ctx.done = true;
        let mut entry = std::mem::take(&mut ctx.entry);
        entry.status = rparts.status.as_u16();
        Finish {
            state: Arc::clone(state),
            key,
            _permit: permit,
            model,
            entry,
            route,
            start: ctx.start,
            detail,
            decisions,
            upstream_status,
        }
        .complete(sniffer.finish(), "complete");
        return Ok(Done::Streaming(Response::from_parts(
            rparts,
            Body::full(out),
        )));
    }
    let metered = Metered {
        inner: rbody,
        idle,
        sleep: Box::pin(tokio::time::sleep(idle)),
        sniffer: Sniffer::new(sse, original.len()),
        inspector: response_inspector,
        finish: Some(Finish {
            state: Arc::clone(state),
            key,
            _permit: permit,
            model,
            entry: {
                ctx.done = true;
                std::mem::take(&mut ctx.entry)
            },
            route,
            start: ctx.start,
            detail,
            decisions,
            upstream_status,
        }),
        ended: false,
    };
    Ok(Done::Streaming(Response::from_parts(
        rparts,
        Body::Stream(Box::new(metered)),
    )))
}

pub(crate) fn audit_sender(state: &State) -> &AuditSender {
    &state.audit
}

pub(crate) fn key_spent(state: &State, id: &str) -> Option<i64> {
    state
        .keys
        .get(id)
        .map(|k| k.runtime.spent_nanos.load(Ordering::Relaxed))
}

pub(crate) fn knows_model(state: &State, name: &str) -> bool {
    state.models.contains_key(name)
}

pub(crate) fn reload(state: &State) -> Result<(), GatewayError> {
    reload_keys(state, None).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_the_usual_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  rk-abc "),
        );
        assert_eq!(presented_key(&h), Some(&b"rk-abc"[..]));
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("rk-x"));
        assert_eq!(presented_key(&h), Some(&b"rk-x"[..]));
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }
}
