//! The admin API under `/admin/`, behind the admin token (`Authorization: Bearer TOKEN`).
//!
//! | method and path | what |
//! |---|---|
//! | `GET /admin/keys` | all keys (never the key itself or its hash) |
//! | `POST /admin/keys` | create: `{"name", "models", "rpm", "tpm", "max_concurrency", "budget_usd", "budget_period", "expires_at"}`; the key is in the answer, once |
//! | `POST /admin/keys/{id}/revoke`, `DELETE /admin/keys/{id}` | revoke |
//! | `POST /admin/keys/{id}/rotate` | revoke and replace with the same settings; the new key is in the answer, once |
//! | `POST /admin/keys/reload` | re-read keys changed by `rampart keys` now |
//! | `GET /admin/usage?since=RFC3339` | usage per key |
//! | `GET /admin/audit?tail=N` | the last N audit records (after a flush) |
//!
//! Admin requests are audited like all others (key id `admin`).

use std::sync::Arc;

use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rampart_store::audit::{AuditEntry, AuditLog, AuditQuery};
use rampart_store::keys::VirtualKeys;
use rampart_store::usage::UsageLedger;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::keys::{KeySpec, new_key, spec_of};
use crate::limits::BudgetPeriod;
use crate::server::{Done, State, admin_enabled, admin_ok};
use crate::{audit_json, key_json, now_ms, parse_time};

type Res = Result<Done, ApiErr>;

/// Admin errors are plain JSON errors.
pub(crate) struct ApiErr(StatusCode, String);

fn ok(status: StatusCode, v: Value, rid: &str) -> Res {
    Ok(Done::Full(crate::server::json_response(status, &v, rid)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    models: Vec<String>,
    rpm: Option<u64>,
    tpm: Option<u64>,
    max_concurrency: Option<u32>,
    budget_usd: Option<f64>,
    budget_period: Option<String>,
    expires_at: Option<String>,
}

pub(crate) async fn handle(
    state: &Arc<State>,
    entry: &mut AuditEntry,
    req: Request<Incoming>,
) -> Result<Done, crate::server::ApiError> {
    let rid = entry.request_id.clone();
    let r = inner(state, entry, req, &rid).await;
    r.map_err(|ApiErr(status, msg)| crate::server::ApiError::admin(status, msg))
}

async fn inner(
    state: &Arc<State>,
    entry: &mut AuditEntry,
    req: Request<Incoming>,
    rid: &str,
) -> Res {
    if !admin_enabled(state) {
        return Err(ApiErr(
            StatusCode::NOT_FOUND,
            "The admin API is disabled: set admin.token_env or admin.token_file.".into(),
        ));
    }
    if !admin_ok(state, req.headers()) {
        state.metrics.auth_failure();
        return Err(ApiErr(
            StatusCode::UNAUTHORIZED,
            "Invalid admin token.".into(),
        ));
    }
    entry.key_id = Some("admin".into());
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let body = match tokio::time::timeout(
        std::time::Duration::from_secs(30),
        http_body_util::Limited::new(req.into_body(), 1 << 20).collect(),
    )
    .await
    {
        Ok(Ok(b)) => b.to_bytes(),
        _ => {
            return Err(ApiErr(
                StatusCode::BAD_REQUEST,
                "Could not read the body (limit 1 MiB, 30 s).".into(),
            ));
        }
    };
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (&method, parts.as_slice()) {
        (&Method::GET, ["admin", "keys"]) => {
            let st = Arc::clone(state);
            let keys = blocking(move || {
                let db = lock(&st);
                db.list_keys()
            })
            .await?;
            let list: Vec<Value> = keys
                .iter()
                .map(|k| key_json(k, crate::server::key_spent(state, &k.id)))
                .collect();
            ok(StatusCode::OK, json!({"keys": list}), rid)
        }
        (&Method::POST, ["admin", "keys"]) => {
            let b: CreateBody = serde_json::from_slice(&body)
                .map_err(|e| ApiErr(StatusCode::BAD_REQUEST, format!("invalid key spec: {e}")))?;
            if let Some(m) = b
                .models
                .iter()
                .find(|m| !crate::server::knows_model(state, m))
            {
                return Err(ApiErr(
                    StatusCode::BAD_REQUEST,
                    format!("models: `{m}` is not a configured model or alias"),
                ));
            }
            let budget_period = match b.budget_period.as_deref() {
                None => BudgetPeriod::Total,
                Some(p) => BudgetPeriod::parse(p).ok_or_else(|| {
                    ApiErr(
                        StatusCode::BAD_REQUEST,
                        "budget_period: use total, day or month".into(),
                    )
                })?,
            };
            let expires_ms = match b.expires_at.as_deref() {
                None => None,
                Some(t) => Some(
                    parse_time(t, now_ms(), true)
                        .map_err(|e| ApiErr(StatusCode::BAD_REQUEST, format!("expires_at: {e}")))?,
                ),
            };
            let spec = KeySpec {
                name: b.name,
                models: b.models,
                rpm: b.rpm,
                tpm: b.tpm,
                max_concurrency: b.max_concurrency,
                budget_usd: b.budget_usd,
                budget_period,
                expires_ms,
            };
            let (key, rec) = new_key(state.keys.hasher(), &spec, now_ms(), None)
                .map_err(|e| ApiErr(StatusCode::BAD_REQUEST, e.to_string()))?;
            let st = Arc::clone(state);
            let r2 = rec.clone();
            blocking(move || lock(&st).insert_key(&r2)).await?;
            reload(state).await?;
            let mut v = key_json(&rec, Some(0));
            v["key"] = Value::from(key);
            ok(StatusCode::CREATED, v, rid)
        }
        (&Method::POST, ["admin", "keys", "reload"]) => {
            reload(state).await?;
            ok(StatusCode::OK, json!({"keys": state.keys.len()}), rid)
        }
        (&Method::POST, ["admin", "keys", id, "revoke"])
        | (&Method::DELETE, ["admin", "keys", id]) => {
            let st = Arc::clone(state);
            let id2 = id.to_string();
            let done = blocking(move || lock(&st).revoke_key(&id2, now_ms())).await?;
            if !done {
                return Err(ApiErr(StatusCode::NOT_FOUND, format!("no active key {id}")));
            }
            reload(state).await?;
            ok(StatusCode::OK, json!({"id": id, "revoked": true}), rid)
        }
        (&Method::POST, ["admin", "keys", id, "rotate"]) => {
            let st = Arc::clone(state);
            let id2 = id.to_string();
            let old = blocking(move || lock(&st).get_key(&id2)).await?;
            let Some(old) = old.filter(|o| o.revoked_ms.is_none()) else {
                return Err(ApiErr(StatusCode::NOT_FOUND, format!("no active key {id}")));
            };
            let (key, rec) = new_key(
                state.keys.hasher(),
                &spec_of(&old),
                now_ms(),
                Some(old.id.clone()),
            )
            .map_err(|e| ApiErr(StatusCode::BAD_REQUEST, e.to_string()))?;
            let st = Arc::clone(state);
            let r2 = rec.clone();
            let done = blocking(move || lock(&st).rotate_key(&old.id, &r2, now_ms())).await?;
            if !done {
                return Err(ApiErr(
                    StatusCode::CONFLICT,
                    format!("key {id} changed meanwhile"),
                ));
            }
            reload(state).await?;
            let mut v = key_json(&rec, crate::server::key_spent(state, &rec.id));
            v["key"] = Value::from(key);
            ok(StatusCode::OK, v, rid)
        }
        (&Method::GET, ["admin", "usage"]) => {
            let since = match query_param(&query, "since") {
                None => None,
                Some(t) => Some(
                    parse_time(&t, now_ms(), false)
                        .map_err(|e| ApiErr(StatusCode::BAD_REQUEST, format!("since: {e}")))?,
                ),
            };
            flush(state).await;
            let st = Arc::clone(state);
            let totals = blocking(move || lock(&st).usage_totals(since)).await?;
            let list: Vec<Value> = totals
                .iter()
                .map(|t| {
                    json!({"key_id": t.key_id, "requests": t.requests, "errors": t.errors,
                       "prompt_tokens": t.prompt_tokens, "completion_tokens": t.completion_tokens,
                       "cost_usd": t.cost_nanos as f64 / 1e9})
                })
                .collect();
            ok(StatusCode::OK, json!({"usage": list}), rid)
        }
        (&Method::GET, ["admin", "audit"]) => {
            let tail = query_param(&query, "tail")
                .and_then(|t| t.parse::<usize>().ok())
                .unwrap_or(100)
                .min(10_000);
            flush(state).await;
            let st = Arc::clone(state);
            let recs = blocking(move || {
                let db = lock(&st);
                let mut out = Vec::new();
                db.for_each_audit(
                    AuditQuery {
                        tail: Some(tail),
                        ..Default::default()
                    },
                    &mut |r| {
                        out.push(audit_json(&r));
                        Ok(())
                    },
                )?;
                Ok(out)
            })
            .await?;
            ok(StatusCode::OK, json!({"records": recs}), rid)
        }
        _ => Err(ApiErr(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint {method} {path}"),
        )),
    }
}

/// Commit what the write-behind thread holds, so reads see it.
async fn flush(state: &Arc<State>) {
    if let Some(rx) = crate::server::audit_sender(state).flush() {
        let _ = tokio::task::spawn_blocking(move || {
            rx.recv_timeout(std::time::Duration::from_secs(10))
        })
        .await;
    }
}

fn query_param(q: &str, name: &str) -> Option<String> {
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| pct_decode(v))
    })
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn lock(st: &State) -> std::sync::MutexGuard<'_, rampart_store::Store> {
    match st.db.lock() {
        Ok(d) => d,
        Err(p) => p.into_inner(),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, rampart_store::StoreError> + Send + 'static,
) -> Result<T, ApiErr> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiErr(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("database: {e}"),
        )),
        Err(_) => Err(ApiErr(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error".into(),
        )),
    }
}

async fn reload(state: &Arc<State>) -> Result<(), ApiErr> {
    let st = Arc::clone(state);
    match tokio::task::spawn_blocking(move || crate::server::reload(&st)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ApiErr(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        Err(_) => Err(ApiErr(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error".into(),
        )),
    }
}
