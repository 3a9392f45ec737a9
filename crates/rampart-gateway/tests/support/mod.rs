//! Test support: a mock OpenAI/Anthropic/Azure-style upstream on 127.0.0.1:0, a real gateway on
//! another port with a real SQLite file, and a small HTTP client.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rampart_gateway::{Config, Gateway, Options};
use rampart_store::Store;
use rampart_store::keys::VirtualKeys;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// What the mock saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub query: Option<String>,
    pub headers: http::HeaderMap,
    pub body: Value,
}

/// The mock upstream.
pub struct Mock {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Released by the test to let a held stream continue.
    pub release: Arc<Notify>,
    /// Requests per model name.
    pub counts: Arc<Mutex<HashMap<String, u32>>>,
}

pub const CHAT_BODY: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-mock","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}"#;

pub const SSE_FIRST: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
pub const SSE_REST: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\ndata: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\ndata: [DONE]\n\n";

type MockBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(status: StatusCode, ct: &str, body: impl Into<Bytes>) -> Response<MockBody> {
    Response::builder()
        .status(status)
        .header("content-type", ct)
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

async fn mock_handle(
    req: Request<Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
    release: Arc<Notify>,
    counts: Arc<Mutex<HashMap<String, u32>>>,
) -> Response<MockBody> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let headers = req.headers().clone();
    let bytes = req.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        query,
        headers,
        body: body.clone(),
    });
    let model = body["model"].as_str().unwrap_or("").to_string();
    let n = {
        let mut c = counts.lock().unwrap();
        let e = c.entry(model.clone()).or_insert(0);
        *e += 1;
        *e
    };
    let stream = body["stream"].as_bool().unwrap_or(false);
    match model.as_str() {
        "always-500" => full(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            r#"{"error":{"message":"boom","type":"server_error"}}"#,
        ),
        "flaky" if n <= 2 => full(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            r#"{"error":{"message":"try later"}}"#,
        ),
        "ratelimited" => Response::builder()
            .status(429)
            .header("retry-after", "0")
            .body(Full::new(Bytes::from_static(br#"{"error":{"message":"slow down"}}"#)).boxed())
            .unwrap(),
        "big" => full(StatusCode::OK, "application/json", vec![b' '; 32 << 20]),
        "hang" => {
            // Never answers (until the test ends).
            std::future::pending::<()>().await;
            unreachable!()
        }
        _ if path.ends_with("/v1/messages/count_tokens") => {
            full(StatusCode::OK, "application/json", r#"{"input_tokens":17}"#)
        }
        _ if path.ends_with("/v1/messages") => {
            if stream {
                let s = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":21,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":4}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
                full(StatusCode::OK, "text/event-stream", s)
            } else {
                full(
                    StatusCode::OK,
                    "application/json",
                    r#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}],"usage":{"input_tokens":13,"output_tokens":5}}"#,
                )
            }
        }
        _ if path.ends_with("/embeddings") => full(
            StatusCode::OK,
            "application/json",
            r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"usage":{"prompt_tokens":4,"total_tokens":4}}"#,
        ),
        _ if stream => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
            let hold = model == "held-stream";
            tokio::spawn(async move {
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from_static(SSE_FIRST.as_bytes()))))
                    .await;
                if hold {
                    release.notified().await;
                }
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from_static(SSE_REST.as_bytes()))))
                    .await;
            });
            let s = futures_stream(rx);
            Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .body(s.boxed())
                .unwrap()
        }
        _ => full(StatusCode::OK, "application/json", CHAT_BODY),
    }
}

/// A `Stream` over an mpsc receiver without pulling in futures-util.
fn futures_stream(
    rx: mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> impl hyper::body::Body<Data = Bytes, Error = Infallible> + Send + Sync + 'static {
    struct RxBody(std::sync::Mutex<mpsc::Receiver<Result<Frame<Bytes>, Infallible>>>);
    impl hyper::body::Body for RxBody {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            self.get_mut().0.get_mut().unwrap().poll_recv(cx)
        }
    }
    RxBody(std::sync::Mutex::new(rx))
}

impl Mock {
    pub async fn start() -> Mock {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(Notify::new());
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let (s, r, c) = (seen.clone(), release.clone(), counts.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let (s, r, c) = (s.clone(), r.clone(), c.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let (s, r, c) = (s.clone(), r.clone(), c.clone());
                        async move { Ok::<_, Infallible>(mock_handle(req, s, r, c).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Mock {
            addr,
            seen,
            release,
            counts,
        }
    }

    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the mock saw a request")
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub const ADMIN_TOKEN: &str = "admin-token-0123456789";
pub const PROVIDER_KEY: &str = "sk-provider-test-DO-NOT-LEAK-1234567890";

/// The standard test config: upstreams on the mock (plus a dead one), models with aliases.
pub fn config_text(mock: SocketAddr, dead: u16, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database = "rampart.db"
secret_file = "secret"
max_body_bytes = 2048
body_timeout_secs = 0.5
header_timeout_secs = 0.5
write_timeout_secs = 0.5
shutdown_grace_secs = 5
keys_refresh_secs = 0.05

[admin]
token_file = "admin.token"

[audit]
batch_size = 64
flush_interval_ms = 20
log_bodies = true

[upstreams.mock]
kind = "openai"
base_url = "http://{mock}/v1"
api_key_file = "provider.key"
timeout_secs = 0.5
max_retries = 2
retry_backoff_ms = 1
max_backoff_ms = 5

[upstreams.dead]
kind = "openai"
base_url = "http://127.0.0.1:{dead}/v1"
timeout_secs = 0.5
max_retries = 1
retry_backoff_ms = 1

[upstreams.claude]
kind = "anthropic"
base_url = "http://{mock}"
api_key_file = "provider.key"

[upstreams.az]
kind = "azure"
base_url = "http://{mock}"
api_key_file = "provider.key"
api_version = "2024-10-21"
max_retries = 0

[models.gpt-mock]
aliases = ["fast"]
targets = [{{ upstream = "mock" }}]
input_usd_per_mtok = 1000.0
output_usd_per_mtok = 2000.0

[models.renamed]
targets = [{{ upstream = "mock", model = "upstream-name" }}]

[models.always-500]
targets = [{{ upstream = "mock" }}]

[models.flaky]
targets = [{{ upstream = "mock" }}]

[models.ratelimited]
targets = [{{ upstream = "mock" }}]

[models.hang]
targets = [{{ upstream = "mock" }}]

[models.big]
targets = [{{ upstream = "mock" }}]

[models.held-stream]
targets = [{{ upstream = "mock" }}]

[models.with-fallback]
targets = [{{ upstream = "dead" }}, {{ upstream = "mock", model = "gpt-mock" }}]

[models.only-dead]
targets = [{{ upstream = "dead" }}]

[models.text-embed]
targets = [{{ upstream = "mock" }}]

[models.claude-x]
targets = [{{ upstream = "claude" }}]

[models.azure-model]
targets = [{{ upstream = "az", model = "my-deployment" }}]
{extra}
"#
    )
}

/// A running gateway.
pub struct Gw {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<()>>,
    pub config: Config,
}

impl Gw {
    pub async fn start(mock: &Mock, extra: &str, options: Options) -> Gw {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("secret"),
            "test-server-secret-0123456789-abcdefghij",
        )
        .unwrap();
        std::fs::write(dir.path().join("admin.token"), ADMIN_TOKEN).unwrap();
        std::fs::write(dir.path().join("provider.key"), PROVIDER_KEY).unwrap();
        let text = config_text(mock.addr, closed_port(), extra);
        let path = dir.path().join("rampart.toml");
        std::fs::write(&path, &text).unwrap();
        let config = Config::load(&path).unwrap();
        let gw = Gateway::new(config.clone(), options).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            gw.serve(listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Gw {
            addr,
            dir,
            stop: Some(tx),
            task: Some(task),
            config,
        }
    }

    pub fn store(&self) -> Store {
        Store::open(self.dir.path().join("rampart.db")).unwrap()
    }

    /// Create a key straight in the database (as `rampart keys create` does).
    pub async fn key(&self, spec: rampart_gateway::keys::KeySpec) -> (String, String) {
        let hasher = rampart_gateway::keys::KeyHasher::new(
            self.config.server_secret().unwrap().expose().as_bytes(),
        );
        let (key, rec) =
            rampart_gateway::keys::new_key(&hasher, &spec, rampart_gateway::now_ms(), None)
                .unwrap();
        self.store().insert_key(&rec).unwrap();
        // Make the running gateway see it now.
        let r = send(
            self.addr,
            "POST",
            "/admin/keys/reload",
            Some(ADMIN_TOKEN),
            "",
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        (key, rec.id)
    }

    pub async fn simple_key(&self) -> String {
        self.key(rampart_gateway::keys::KeySpec {
            name: "test".into(),
            ..Default::default()
        })
        .await
        .0
    }

    /// Stop the gateway (drain + flush) and wait for it.
    pub async fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }

    /// All audit records (after a flush through the admin API).
    pub async fn audit(&self) -> Vec<Value> {
        let r = send(
            self.addr,
            "GET",
            "/admin/audit?tail=10000",
            Some(ADMIN_TOKEN),
            "",
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["records"].as_array().unwrap().clone()
    }
}

/// A response, fully read.
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Open a connection and send one request; returns the response head and its body stream.
pub async fn open(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> Response<Incoming> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json");
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    sender
        .send_request(b.body(Full::new(Bytes::from(body.to_string()))).unwrap())
        .await
        .unwrap()
}

/// A request with arbitrary headers.
pub async fn send_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut b = Request::builder()
        .method("POST")
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let r = sender
        .send_request(b.body(Full::new(Bytes::from(body.to_string()))).unwrap())
        .await
        .unwrap();
    let (parts, b) = r.into_parts();
    Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: b.collect().await.map(|c| c.to_bytes()).unwrap_or_default(),
    }
}

pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> Resp {
    let r = open(addr, method, path, key, body).await;
    let (parts, b) = r.into_parts();
    let body = b.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

pub async fn chat(addr: SocketAddr, key: &str, model: &str) -> Resp {
    send(
        addr,
        "POST",
        "/v1/chat/completions",
        Some(key),
        &json!({"model": model, "messages": [{"role": "user", "content": "Say hello"}]})
            .to_string(),
    )
    .await
}

pub static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn next() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}
