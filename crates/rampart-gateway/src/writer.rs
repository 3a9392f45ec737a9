//! The write-behind thread: audit records and usage counts leave the request path through a
//! channel and are committed in batches by one thread that owns its own database connection.
//!
//! The thread sleeps while idle; the first record of a batch wakes it, it then lets the batch
//! fill for `audit.flush_interval_ms` (so the request path never wakes it per record) and commits
//! everything queued, at most `audit.batch_size` records per transaction. A failed commit keeps the batch and retries, so nothing is
//! dropped; the queue depth is exported and, past `audit.max_queue`, the gateway refuses new
//! requests (503) rather than lose records. After `kill -9` at most the uncommitted batch is lost
//! and the chain still verifies, because each batch is one transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rampart_store::Store;
use rampart_store::audit::{AuditEntry, AuditLog, ChainHead};
use rampart_store::incidents::{Incidents, NewIncident};
use rampart_store::usage::{UsageDelta, UsageLedger};

use crate::metrics::Metrics;

/// What the request path sends.
pub enum Msg {
    /// One audit record.
    Audit(Box<AuditEntry>),
    /// Usage to add.
    Usage(UsageDelta),
    /// A guardrail incident (a `block` decision).
    Incident(Box<NewIncident>),
    /// Commit now and answer with the chain head.
    Flush(Sender<ChainHead>),
    /// Commit everything and stop.
    Shutdown,
}

/// Handle to the writer thread.
pub struct WriteBehind {
    tx: Sender<Msg>,
    metrics: Arc<Metrics>,
    healthy: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WriteBehind {
    /// Start the thread with its own connection to `store`.
    pub fn start(
        store: Store,
        batch_size: usize,
        flush_interval: Duration,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<WriteBehind> {
        let (tx, rx) = mpsc::channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let m = Arc::clone(&metrics);
        let h = Arc::clone(&healthy);
        let thread = std::thread::Builder::new()
            .name("rampart-audit".into())
            .spawn(move || run(store, rx, batch_size, flush_interval, m, h))?;
        Ok(WriteBehind {
            tx,
            metrics,
            healthy,
            thread: Some(thread),
        })
    }

    /// A sender for the request path.
    pub fn sender(&self) -> AuditSender {
        AuditSender {
            tx: self.tx.clone(),
            metrics: Arc::clone(&self.metrics),
        }
    }

    /// Whether the last commit succeeded.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// The flag behind [`WriteBehind::healthy`].
    pub(crate) fn healthy_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.healthy)
    }

    /// Commit everything pending and stop the thread (blocking).
    pub fn shutdown(mut self) {
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Cheap, cloneable sender used by requests.
#[derive(Clone)]
pub struct AuditSender {
    tx: Sender<Msg>,
    metrics: Arc<Metrics>,
}

impl AuditSender {
    /// Queue an audit record.
    pub fn audit(&self, e: AuditEntry) {
        self.metrics.audit_queue.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(Msg::Audit(Box::new(e))).is_err() {
            self.metrics.audit_queue.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Queue usage.
    pub fn usage(&self, d: UsageDelta) {
        let _ = self.tx.send(Msg::Usage(d));
    }

    /// Queue a guardrail incident.
    pub fn incident(&self, i: NewIncident) {
        let _ = self.tx.send(Msg::Incident(Box::new(i)));
    }

    /// Records waiting.
    pub fn depth(&self) -> i64 {
        self.metrics.audit_queue.load(Ordering::Relaxed)
    }

    /// Ask for a commit; the receiver gets the head once it is done.
    pub fn flush(&self) -> Option<Receiver<ChainHead>> {
        let (tx, rx) = mpsc::channel();
        self.tx.send(Msg::Flush(tx)).ok().map(|()| rx)
    }
}

struct Pending {
    audit: Vec<AuditEntry>,
    usage: HashMap<(String, i64, String), UsageDelta>,
    incidents: Vec<NewIncident>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.audit.is_empty() && self.usage.is_empty() && self.incidents.is_empty()
    }

    fn add_usage(&mut self, d: UsageDelta) {
        let k = (d.key_id.clone(), d.minute_ms, d.model.clone());
        let e = self.usage.entry(k).or_insert_with(|| UsageDelta {
            key_id: d.key_id.clone(),
            minute_ms: d.minute_ms,
            model: d.model.clone(),
            ..Default::default()
        });
        e.requests += d.requests;
        e.errors += d.errors;
        e.prompt_tokens += d.prompt_tokens;
        e.completion_tokens += d.completion_tokens;
        e.cost_nanos += d.cost_nanos;
    }
}

fn commit(store: &mut Store, p: &mut Pending, metrics: &Metrics, healthy: &AtomicBool) -> bool {
    if !p.audit.is_empty() {
        match store.append_audit(&p.audit) {
            Ok(_) => {
                let n = p.audit.len();
                metrics.audit_batch(n as u64, false);
                metrics.audit_queue.fetch_sub(n as i64, Ordering::Relaxed);
                p.audit.clear();
            }
            Err(e) => {
                rampart_core::stderr_line!("rampart gateway: audit write failed (will retry): {e}");
                metrics.audit_batch(0, true);
                healthy.store(false, Ordering::Relaxed);
                return false;
            }
        }
    }
    if !p.usage.is_empty() {
        let deltas: Vec<UsageDelta> = p.usage.values().cloned().collect();
        match store.add_usage(&deltas) {
            Ok(()) => p.usage.clear(),
            Err(e) => {
                rampart_core::stderr_line!("rampart gateway: usage write failed (will retry): {e}");
                healthy.store(false, Ordering::Relaxed);
                return false;
            }
        }
    }
    if !p.incidents.is_empty() {
        match store.add_incidents(&p.incidents) {
            Ok(()) => p.incidents.clear(),
            Err(e) => {
                rampart_core::stderr_line!(
                    "rampart gateway: incident write failed (will retry): {e}"
                );
                healthy.store(false, Ordering::Relaxed);
                return false;
            }
        }
    }
    healthy.store(true, Ordering::Relaxed);
    true
}

fn run(
    mut store: Store,
    rx: Receiver<Msg>,
    batch_size: usize,
    interval: Duration,
    metrics: Arc<Metrics>,
    healthy: Arc<AtomicBool>,
) {
    let mut p = Pending {
        audit: Vec::with_capacity(batch_size),
        usage: HashMap::new(),
        incidents: Vec::new(),
    };
    let mut waiters: Vec<Sender<ChainHead>> = Vec::new();
    let mut stopping = false;
    let mut force = false;
    loop {
        // Wait for the first message of a batch (blocking when idle, bounded while a failed
        // batch waits for its retry), then let the batch fill for `interval` without being
        // woken per record, then drain the channel.
        let first = if p.is_empty() {
            match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => {
                    stopping = true;
                    None
                }
            }
        } else {
            match rx.recv_timeout(interval) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    stopping = true;
                    None
                }
            }
        };
        if let Some(m) = first {
            take(m, &mut p, &mut waiters, &mut stopping, &mut force);
        }
        if !stopping && !force {
            std::thread::sleep(interval);
        }
        while let Ok(m) = rx.try_recv() {
            take(m, &mut p, &mut waiters, &mut stopping, &mut force);
        }
        force = false;
        let mut ok = true;
        while ok && !p.is_empty() {
            // At most `batch_size` records per transaction.
            let rest = if p.audit.len() > batch_size {
                p.audit.split_off(batch_size)
            } else {
                Vec::new()
            };
            ok = commit(&mut store, &mut p, &metrics, &healthy);
            if ok {
                p.audit = rest;
            } else {
                p.audit.extend(rest);
            }
        }
        if p.is_empty() {
            let head = store.audit_head().unwrap_or_default();
            for w in waiters.drain(..) {
                let _ = w.send(head);
            }
        }
        if stopping {
            if !p.is_empty() && !commit(&mut store, &mut p, &metrics, &healthy) {
                rampart_core::stderr_line!(
                    "rampart gateway: {} audit records could not be written at shutdown",
                    p.audit.len()
                );
            }
            let head = store.audit_head().unwrap_or_default();
            for w in waiters.drain(..) {
                let _ = w.send(head);
            }
            // Keep this line somewhere else to detect a rewrite of the whole chain later.
            rampart_core::stderr_line!(
                "rampart gateway: audit chain head: record {} hash {}",
                head.seq,
                rampart_store::audit::hex(&head.hash)
            );
            return;
        }
    }
}

fn take(
    m: Msg,
    p: &mut Pending,
    waiters: &mut Vec<Sender<ChainHead>>,
    stopping: &mut bool,
    force: &mut bool,
) {
    match m {
        Msg::Audit(e) => p.audit.push(*e),
        Msg::Usage(d) => p.add_usage(d),
        Msg::Incident(i) => p.incidents.push(*i),
        Msg::Flush(w) => {
            waiters.push(w);
            *force = true;
        }
        Msg::Shutdown => *stopping = true,
    }
}
