//! Open-loop (fixed rate) and closed-loop (max throughput) HTTP/1.1 load generator.
//!
//! loadgen --url http://127.0.0.1:4000/v1/chat/completions [--key K] [--rate R | --max]
//!         [--duration SECS] [--conns N] [--warmup SECS] [--threads N] [--label L]
//!
//! Fixed rate: request i is due at t0 + i/R. Two latencies are recorded: from the moment the
//! request is written (`p50_us`… — the service time) and from the moment it was due (`co_…`,
//! which also counts waiting for a free connection, so a stall cannot hide: no coordinated
//! omission; it includes the ~1 ms granularity of the Tokio timer). Prints one JSON line.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

const BODY: &str = r#"{"model":"bench-model","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence, please."}],"max_tokens":32}"#;

struct Opts {
    url: hyper::Uri,
    key: Option<String>,
    rate: f64,
    duration: f64,
    conns: usize,
    warmup: f64,
    threads: usize,
    label: String,
    /// The request body (`--body-file PATH`; default: a short chat request).
    body: Bytes,
}

fn parse() -> Opts {
    let a: Vec<String> = std::env::args().collect();
    let get = |k: &str| a.iter().position(|x| x == k).and_then(|i| a.get(i + 1)).cloned();
    Opts {
        url: get("--url").expect("--url").parse().expect("url"),
        key: get("--key"),
        rate: if a.iter().any(|x| x == "--max") { 0.0 } else { get("--rate").map_or(100.0, |r| r.parse().unwrap()) },
        duration: get("--duration").map_or(10.0, |d| d.parse().unwrap()),
        conns: get("--conns").map_or(64, |c| c.parse().unwrap()),
        warmup: get("--warmup").map_or(1.0, |c| c.parse().unwrap()),
        threads: get("--threads").map_or(1, |c| c.parse().unwrap()),
        label: get("--label").unwrap_or_default(),
        body: get("--body-file").map_or(Bytes::from_static(BODY.as_bytes()), |p| {
            Bytes::from(std::fs::read(&p).expect("--body-file"))
        }),
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(o: &Opts) -> Sender {
    let auth = o.url.authority().unwrap().as_str().to_string();
    let s = tokio::net::TcpStream::connect(&auth).await.expect("connect");
    let _ = s.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s)).await.expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn one(o: &Opts, sender: &mut Sender) -> bool {
    let mut b = Request::builder()
        .method("POST")
        .uri(o.url.path())
        .header("host", o.url.authority().unwrap().as_str())
        .header("content-type", "application/json");
    if let Some(k) = &o.key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    let req = b.body(Full::new(o.body.clone())).unwrap();
    if sender.ready().await.is_err() {
        return false;
    }
    match sender.send_request(req).await {
        Ok(r) => {
            let ok = r.status().is_success();
            let _ = r.into_body().collect().await;
            ok
        }
        Err(_) => false,
    }
}

fn main() {
    let o = Arc::new(parse());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(o));
}

async fn run(o: Arc<Opts>) {
    // Warm up: open the connections and send a few requests each.
    let mut senders = Vec::new();
    for _ in 0..o.conns {
        senders.push(connect(&o).await);
    }
    let wu_end = Instant::now() + Duration::from_secs_f64(o.warmup);
    while Instant::now() < wu_end {
        for s in senders.iter_mut().take(8) {
            one(&o, s).await;
        }
    }
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now() + Duration::from_millis(20);
    let end = t0 + Duration::from_secs_f64(o.duration);
    let mut tasks = Vec::new();
    for mut s in senders {
        let (o, next, errors) = (Arc::clone(&o), Arc::clone(&next), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::new();
            let mut co: Vec<u32> = Vec::new();
            loop {
                let due = if o.rate > 0.0 {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let due = t0 + Duration::from_secs_f64(i as f64 / o.rate);
                    if due >= end {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    due
                } else {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    now.max(t0)
                };
                let sent = Instant::now();
                if !one(&o, &mut s).await {
                    errors.fetch_add(1, Ordering::Relaxed);
                    s = connect(&o).await;
                }
                lat.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                co.push(due.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            (lat, co)
        }));
    }
    let mut all = Vec::new();
    let mut all_co = Vec::new();
    for t in tasks {
        let (l, c) = t.await.unwrap();
        all.extend(l);
        all_co.extend(c);
    }
    // Wall time from the first due request to the last answer: an overloaded target that
    // answers late gets a lower rate than the one asked for.
    let elapsed = t0.elapsed().as_secs_f64().max(o.duration);
    all.sort_unstable();
    all_co.sort_unstable();
    let at = |v: &Vec<u32>, p: f64| -> u32 {
        if v.is_empty() {
            return 0;
        }
        v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
    };
    let pct = |p: f64| at(&all, p);
    println!(
        "{{\"label\":\"{}\",\"rate\":{},\"conns\":{},\"requests\":{},\"errors\":{},\"achieved_rps\":{:.1},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"co_p50_us\":{},\"co_p99_us\":{}}}",
        o.label,
        o.rate,
        o.conns,
        all.len(),
        errors.load(Ordering::Relaxed),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        all.last().copied().unwrap_or(0),
        at(&all_co, 0.50),
        at(&all_co, 0.99)
    );
}
