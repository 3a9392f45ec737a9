//! End-to-end tests: a real gateway on 127.0.0.1 in front of a real mock upstream, with a real
//! SQLite file. No sleeps: streams are held and released by the test, timeouts are short.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use rampart_gateway::inspect::{
    Action, ChunkOutcome, Decision, Inspector, RequestInfo, ResponseInspector,
};
use rampart_gateway::keys::KeySpec;
use rampart_gateway::{Options, keys::generate_key};
use rampart_store::audit::AuditLog;
use rampart_store::keys::VirtualKeys;
use rampart_store::usage::UsageLedger;
use serde_json::json;
use support::*;

fn err_code(r: &Resp) -> String {
    r.json()["error"]["code"].as_str().unwrap_or("").to_string()
}

#[tokio::test]
async fn chat_passes_through_with_the_provider_key_and_is_audited() {
    let mock = Mock::start().await;
    let mut gw = Gw::start(&mock, "", Options::default()).await;
    let key = gw.simple_key().await;
    let r = chat(gw.addr, &key, "gpt-mock").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), CHAT_BODY, "the body passes through unchanged");
    assert!(r.headers.contains_key("x-request-id"));
    // The upstream got the provider key, never the virtual key.
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(
        seen.headers["authorization"].to_str().unwrap(),
        format!("Bearer {PROVIDER_KEY}")
    );
    assert!(!format!("{:?}", seen.headers).contains(&key));
    let recs = gw.audit().await;
    let rec = recs
        .iter()
        .find(|r| r["path"] == "/v1/chat/completions")
        .unwrap();
    assert_eq!(rec["status"], 200);
    assert_eq!(rec["decision"], "allow");
    assert_eq!(rec["upstream"], "mock");
    assert_eq!(rec["prompt_tokens"], 11);
    assert_eq!(rec["completion_tokens"], 7);
    assert_eq!(rec["tokens_estimated"], false);
    // 11 × $1000/M + 7 × $2000/M = $0.025
    assert_eq!(rec["cost_nanos"], 25_000_000);
    assert_eq!(rec["body_sha256"].as_str().unwrap().len(), 64);
    gw.shutdown().await;
    // Nothing secret anywhere in the database file.
    let raw = std::fs::read(gw.dir.path().join("rampart.db")).unwrap();
    let wal = std::fs::read(gw.dir.path().join("rampart.db-wal")).unwrap_or_default();
    for hay in [&raw, &wal] {
        assert!(
            !contains(hay, PROVIDER_KEY.as_bytes()),
            "provider key stored"
        );
        assert!(!contains(hay, key.as_bytes()), "virtual key stored");
    }
    let store = gw.store();
    let v = store.verify_audit().unwrap();
    assert_eq!(v.problem, None);
    let usage = store.usage_totals(None).unwrap();
    assert_eq!(usage[0].prompt_tokens, 11);
    assert_eq!(usage[0].cost_nanos, 25_000_000);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn sse_streams_chunk_by_chunk_and_counts_usage_from_the_final_chunk() {
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let key = gw.simple_key().await;
    let body = json!({"model": "held-stream", "stream": true, "messages": []}).to_string();
    let resp = open(gw.addr, "POST", "/v1/chat/completions", Some(&key), &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut b = resp.into_body();
    // The first chunk arrives while the upstream still holds the rest: nothing is buffered.
    let first = b.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, Bytes::from_static(SSE_FIRST.as_bytes()));
    mock.release.notify_one();
    let rest = b.collect().await.unwrap().to_bytes();
    assert_eq!(rest, Bytes::from_static(SSE_REST.as_bytes()));
    let recs = gw.audit().await;
    let rec = recs.iter().find(|r| r["model"] == "held-stream").unwrap();
    assert_eq!(
        (
            rec["prompt_tokens"].as_u64(),
            rec["completion_tokens"].as_u64()
        ),
        (Some(9), Some(2))
    );
    assert_eq!(rec["tokens_estimated"], false);
    assert_eq!(rec["detail"]["stream"], true);
}

#[tokio::test]
async fn bad_input_gets_clear_openai_style_errors() {
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let key = gw.simple_key().await;
    let a = gw.addr;
    let r = send(
        a,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        "{\"model\": ",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(err_code(&r), "invalid_json");
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let r = send(a, "POST", "/v1/chat/completions", Some(&key), "[1,2]").await;
    assert_eq!(r.status, 400);
    let r = send(
        a,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        "{\"messages\":[]}",
    )
    .await;
    assert_eq!((r.status, err_code(&r).as_str()), (400, "missing_model"));
    let deep = "[".repeat(5000);
    let r = send(
        a,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        &format!("{{\"model\":{deep}"),
    )
    .await;
    assert_eq!(r.status, 413, "bigger than max_body_bytes = 2048");
    let deep = "[".repeat(1000);
    let r = send(
        a,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        &format!("{{\"x\":{deep}"),
    )
    .await;
    assert_eq!(
        r.status, 400,
        "deep nesting is refused, not a stack overflow"
    );
    let big = "x".repeat(3000);
    let r = send(a, "POST", "/v1/chat/completions", Some(&key), &big).await;
    assert_eq!(
        (r.status, err_code(&r).as_str()),
        (413, "request_too_large")
    );
    let r = chat(a, &key, "no-such-model").await;
    assert_eq!((r.status, err_code(&r).as_str()), (404, "model_not_found"));
    let r = send(a, "GET", "/v1/nothing", Some(&key), "").await;
    assert_eq!(r.status, 404);
    let r = send(
        a,
        "POST",
        "/v1/messages",
        Some(&key),
        &json!({"model": "gpt-mock", "max_tokens": 5, "messages": []}).to_string(),
    )
    .await;
    assert_eq!((r.status, r.json()["type"].as_str()), (400, Some("error")));
    assert_eq!(mock.count(), 0, "none of these reached the upstream");
    // Every one of them is in the audit trail.
    let recs = gw.audit().await;
    assert!(recs.iter().filter(|r| r["status"] == 400).count() >= 4);
    assert!(recs.iter().any(|r| r["status"] == 413));
}

#[tokio::test]
async fn bad_revoked_expired_and_missing_keys_get_the_same_401() {
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let good = gw.simple_key().await;
    let (revoked, rid) = gw
        .key(KeySpec {
            name: "r".into(),
            ..Default::default()
        })
        .await;
    let (expired, _) = gw
        .key(KeySpec {
            name: "e".into(),
            expires_ms: Some(1),
            ..Default::default()
        })
        .await;
    assert!(
        gw.store()
            .revoke_key(&rid, rampart_gateway::now_ms())
            .unwrap()
    );
    send(gw.addr, "POST", "/admin/keys/reload", Some(ADMIN_TOKEN), "").await;
    let wrong_checksum = {
        let mut k = good.clone().into_bytes();
        let i = k.len() - 1;
        k[i] = if k[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(k).unwrap()
    };
    let mut bodies = Vec::new();
    for k in [
        Some(revoked.as_str()),
        Some(expired.as_str()),
        Some(wrong_checksum.as_str()),
        Some(generate_key().unwrap().as_str()),
        Some("sk-not-even-ours"),
        None,
    ] {
        let r = send(
            gw.addr,
            "POST",
            "/v1/chat/completions",
            k,
            &json!({"model": "gpt-mock"}).to_string(),
        )
        .await;
        assert_eq!(r.status, 401);
        bodies.push(r.json());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "one message for all: {bodies:?}"
    );
    assert_eq!(chat(gw.addr, &good, "gpt-mock").await.status, 200);
    let recs = gw.audit().await;
    let reasons: Vec<_> = recs
        .iter()
        .filter(|r| r["status"] == 401)
        .map(|r| r["decision"].as_str().unwrap().to_string())
        .collect();
    for want in [
        "deny:revoked_key",
        "deny:expired_key",
        "deny:invalid_key",
        "deny:missing_key",
    ] {
        assert!(reasons.iter().any(|r| r == want), "{want} in {reasons:?}");
    }
}

#[tokio::test]
async fn limits_answer_429_with_retry_after() {
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let (key, _) = gw
        .key(KeySpec {
            name: "rpm".into(),
            rpm: Some(2),
            ..Default::default()
        })
        .await;
    assert_eq!(chat(gw.addr, &key, "gpt-mock").await.status, 200);
    assert_eq!(chat(gw.addr, &key, "gpt-mock").await.status, 200);
    let r = chat(gw.addr, &key, "gpt-mock").await;
    assert_eq!(r.status, 429);
    assert_eq!(err_code(&r), "rate_limit_exceeded");
    let ra: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    // Sliding-window estimate: at most the rest of this minute plus one more.
    assert!((1..=120).contains(&ra), "{ra}");

    // Concurrency: one stream held open, the second request is refused.
    let (ckey, _) = gw
        .key(KeySpec {
            name: "conc".into(),
            max_concurrency: Some(1),
            ..Default::default()
        })
        .await;
    let body = json!({"model": "held-stream", "stream": true}).to_string();
    let held = open(gw.addr, "POST", "/v1/chat/completions", Some(&ckey), &body).await;
    let r = chat(gw.addr, &ckey, "gpt-mock").await;
    assert_eq!(r.status, 429);
    assert!(r.headers.contains_key("retry-after"));
    mock.release.notify_one();
    held.into_body().collect().await.unwrap();
    // Released when the stream ended (the body's end runs the accounting).
    assert_eq!(chat(gw.addr, &ckey, "gpt-mock").await.status, 200);

    // Budget: one request costs $0.025; a $0.03 budget allows two.
    let (bkey, _) = gw
        .key(KeySpec {
            name: "budget".into(),
            budget_usd: Some(0.03),
            ..Default::default()
        })
        .await;
    assert_eq!(chat(gw.addr, &bkey, "gpt-mock").await.status, 200);
    assert_eq!(chat(gw.addr, &bkey, "gpt-mock").await.status, 200);
    let r = chat(gw.addr, &bkey, "gpt-mock").await;
    assert_eq!(r.status, 429);
    assert_eq!(err_code(&r), "insufficient_quota");
    assert!(r.headers.contains_key("retry-after"));

    // Tokens per minute: 18 tokens per request, tpm 20 → second allowed (window not full
    // before it), third refused.
    let (tkey, _) = gw
        .key(KeySpec {
            name: "tpm".into(),
            tpm: Some(20),
            ..Default::default()
        })
        .await;
    assert_eq!(chat(gw.addr, &tkey, "gpt-mock").await.status, 200);
    assert_eq!(chat(gw.addr, &tkey, "gpt-mock").await.status, 200);
    assert_eq!(chat(gw.addr, &tkey, "gpt-mock").await.status, 429);
    let m = send(gw.addr, "GET", "/metrics", None, "").await.text();
    for l in ["rpm", "concurrency", "budget", "tpm"] {
        let line = format!("rampart_gateway_limit_hits_total{{limit=\"{l}\"}} 1");
        assert!(m.contains(&line), "{line} in\n{m}");
    }
    let recs = gw.audit().await;
    assert!(recs.iter().any(|r| r["decision"] == "limit:rpm"));
}

#[tokio::test]
async fn retries_fallback_and_upstream_failures() {
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let key = gw.simple_key().await;
    // 503, 503, then 200: two retries.
    let r = chat(gw.addr, &key, "flaky").await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Always 500: the last answer is passed on after the retries.
    let r = chat(gw.addr, &key, "always-500").await;
    assert_eq!(r.status, 500);
    assert_eq!(mock.counts.lock().unwrap()["always-500"], 3);
    let r = chat(gw.addr, &key, "ratelimited").await;
    assert_eq!(r.status, 429);
    // Primary down → the fallback serves, with its own model name.
    let r = chat(gw.addr, &key, "with-fallback").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.last().body["model"], "gpt-mock");
    // Nothing listening → 502; never answering → 504.
    let r = chat(gw.addr, &key, "only-dead").await;
    assert_eq!(
        (r.status, err_code(&r).as_str()),
        (502, "upstream_unavailable")
    );
    let r = chat(gw.addr, &key, "hang").await;
    assert_eq!((r.status, err_code(&r).as_str()), (504, "upstream_timeout"));
    let recs = gw.audit().await;
    let flaky = recs.iter().find(|r| r["model"] == "flaky").unwrap();
    assert_eq!(flaky["detail"]["attempts"], 3);
    let fb = recs.iter().find(|r| r["model"] == "with-fallback").unwrap();
    assert_eq!(fb["upstream"], "mock");
    let dead = recs.iter().find(|r| r["model"] == "only-dead").unwrap();
    assert_eq!(dead["decision"], "error:upstream_unavailable");
    let m = send(gw.addr, "GET", "/metrics", None, "").await.text();
    assert!(
        m.contains("rampart_gateway_upstream_errors_total{upstream=\"mock\",kind=\"status_5xx\"}")
    );
    assert!(
        m.contains("rampart_gateway_upstream_errors_total{upstream=\"dead\",kind=\"connect\"} 4"),
        "{m}"
    );
}

#[tokio::test]
async fn an_upstream_without_its_key_is_off_and_its_models_say_why() {
    let mock = Mock::start().await;
    // Two more upstreams whose key files do not exist (as when `--init`'s Azure and Anthropic
    // sections are kept but only an OpenAI key is set): the gateway starts anyway.
    let extra = r#"
[upstreams.nokey]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_file = "missing-openai.key"

[upstreams.claude-nokey]
kind = "anthropic"
base_url = "http://127.0.0.1:9"
api_key_file = "missing-anthropic.key"

[models.nokey-first]
targets = [{ upstream = "nokey" }, { upstream = "mock", model = "gpt-mock" }]

[models.nokey-only]
targets = [{ upstream = "nokey" }]

[models.claude-nokey]
targets = [{ upstream = "claude-nokey" }]
"#;
    let gw = Gw::start(&mock, extra, Options::default()).await;
    let key = gw.simple_key().await;
    // The fallback serves a model whose primary has no key.
    let r = chat(gw.addr, &key, "nokey-first").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mock.last().body["model"], "gpt-mock");
    // A model with no usable upstream: 503 naming the upstream (not the server's file path),
    // nothing sent upstream.
    let before = mock.count();
    let r = chat(gw.addr, &key, "nokey-only").await;
    assert_eq!(
        (r.status, err_code(&r).as_str()),
        (503, "upstream_unavailable"),
        "{}",
        r.text()
    );
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("`nokey`"), "{msg}");
    assert!(!msg.contains("missing-openai.key"), "{msg}");
    // An Anthropic model stays a /v1/messages model when its upstream is off.
    let r = send_with(
        gw.addr,
        "/v1/messages",
        &[("x-api-key", key.as_str()), ("content-type", "application/json")],
        &json!({"model": "claude-nokey", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}).to_string(),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("`claude-nokey`"), "{}", r.text());
    assert_eq!(mock.count(), before);
    let recs = gw.audit().await;
    let off = recs.iter().find(|r| r["model"] == "nokey-only").unwrap();
    assert_eq!(off["decision"], "upstream:no-key");
}

#[tokio::test]
async fn aliases_renames_embeddings_anthropic_and_azure() {
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let key = gw.simple_key().await;
    let r = chat(gw.addr, &key, "fast").await;
    assert_eq!(r.status, 200);
    assert_eq!(mock.last().body["model"], "gpt-mock", "alias resolved");
    let r = chat(gw.addr, &key, "renamed").await;
    assert_eq!(r.status, 200);
    assert_eq!(mock.last().body["model"], "upstream-name");
    let r = send(
        gw.addr,
        "POST",
        "/v1/embeddings",
        Some(&key),
        &json!({"model": "text-embed", "input": "hi"}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(mock.last().path, "/v1/embeddings");
    // Anthropic, with the key in x-api-key as the Anthropic SDK sends it.
    let r = send_with(
        gw.addr,
        "/v1/messages",
        &[("x-api-key", key.as_str()), ("anthropic-version", "2023-06-01"), ("content-type", "application/json")],
        &json!({"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.headers["x-api-key"], PROVIDER_KEY);
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert!(!seen.headers.contains_key("authorization"));
    let r = send(
        gw.addr,
        "POST",
        "/v1/messages",
        Some(&key),
        &json!({"model": "claude-x", "stream": true, "max_tokens": 10, "messages": []}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("message_stop"));
    // Token counting (the Anthropic SDK's `messages.count_tokens`, Claude Code) goes to the same
    // upstream with the provider's key, under the same key checks; it costs nothing.
    let count = |model: &'static str| {
        let key = key.clone();
        async move {
            send_with(
                gw.addr,
                "/v1/messages/count_tokens",
                &[
                    ("x-api-key", key.as_str()),
                    ("content-type", "application/json"),
                ],
                &json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
                    .to_string(),
            )
            .await
        }
    };
    let r = count("claude-x").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["input_tokens"], 17);
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages/count_tokens");
    assert_eq!(seen.headers["x-api-key"], PROVIDER_KEY);
    let r = count("gpt-mock").await;
    assert_eq!(
        r.status, 400,
        "an OpenAI-style model has no token-count endpoint here"
    );
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    // Azure: deployment in the path, api-version in the query, api-key header.
    let r = chat(gw.addr, &key, "azure-model").await;
    assert_eq!(r.status, 200);
    let seen = mock.last();
    assert_eq!(
        seen.path,
        "/openai/deployments/my-deployment/chat/completions"
    );
    assert_eq!(seen.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(seen.headers["api-key"], PROVIDER_KEY);
    let recs = gw.audit().await;
    let emb = recs.iter().find(|r| r["model"] == "text-embed").unwrap();
    assert_eq!(
        (
            emb["prompt_tokens"].as_u64(),
            emb["completion_tokens"].as_u64()
        ),
        (Some(4), Some(0))
    );
    let msgs: Vec<_> = recs.iter().filter(|r| r["model"] == "claude-x").collect();
    assert_eq!(msgs[0]["prompt_tokens"], 13);
    assert_eq!(msgs[1]["prompt_tokens"], 21);
    assert_eq!(msgs[1]["completion_tokens"], 4);
    assert_eq!(msgs[2]["path"], "/v1/messages/count_tokens", "{}", msgs[2]);
    assert_eq!(msgs[2]["status"], 200);
    assert_eq!(
        (
            msgs[2]["prompt_tokens"].as_u64(),
            msgs[2]["cost_nanos"].as_i64()
        ),
        (Some(0), Some(0)),
        "{}",
        msgs[2]
    );
}

#[tokio::test]
async fn models_lists_only_what_the_key_may_use() {
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let (key, _) = gw
        .key(KeySpec {
            name: "limited".into(),
            models: vec!["gpt-mock".into()],
            ..Default::default()
        })
        .await;
    let r = send(gw.addr, "GET", "/v1/models", Some(&key), "").await;
    assert_eq!(r.status, 200);
    let ids: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec!["gpt-mock".to_string(), "fast".to_string()]);
    assert_eq!(chat(gw.addr, &key, "fast").await.status, 200);
    let r = chat(gw.addr, &key, "flaky").await;
    assert_eq!((r.status, err_code(&r).as_str()), (404, "model_not_found"));
}

#[tokio::test]
async fn admin_api_creates_revokes_rotates_and_tails_the_audit() {
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let a = gw.addr;
    assert_eq!(send(a, "GET", "/admin/keys", None, "").await.status, 401);
    assert_eq!(
        send(a, "GET", "/admin/keys", Some("wrong-token-0123456789"), "")
            .await
            .status,
        401
    );
    let r = send(
        a,
        "POST",
        "/admin/keys",
        Some(ADMIN_TOKEN),
        &json!({"name": "svc", "rpm": 100, "budget_usd": 5, "budget_period": "month"}).to_string(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let bad = send(
        a,
        "POST",
        "/admin/keys",
        Some(ADMIN_TOKEN),
        &json!({"name": "x", "models": ["nope"]}).to_string(),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(chat(a, &key, "gpt-mock").await.status, 200);
    let list = send(a, "GET", "/admin/keys", Some(ADMIN_TOKEN), "").await;
    assert!(!list.text().contains(&key), "listing never shows the key");
    assert_eq!(list.json()["keys"][0]["budget_period"], "month");
    let r = send(
        a,
        "POST",
        &format!("/admin/keys/{id}/rotate"),
        Some(ADMIN_TOKEN),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let new_key = r.json()["key"].as_str().unwrap().to_string();
    assert_eq!(r.json()["rotated_from"], id.as_str());
    // The rotated key carries the old one's spend.
    assert!(r.json()["spent_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(chat(a, &key, "gpt-mock").await.status, 401);
    assert_eq!(chat(a, &new_key, "gpt-mock").await.status, 200);
    let new_id = r.json()["id"].as_str().unwrap().to_string();
    let r = send(
        a,
        "DELETE",
        &format!("/admin/keys/{new_id}"),
        Some(ADMIN_TOKEN),
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(chat(a, &new_key, "gpt-mock").await.status, 401);
    let r = send(a, "GET", "/admin/usage", Some(ADMIN_TOKEN), "").await;
    assert_eq!(r.status, 200);
    assert!(r.json()["usage"].as_array().unwrap().len() >= 2);
    let recs = gw.audit().await;
    assert!(
        recs.iter()
            .any(|r| r["key_id"] == "admin" && r["path"] == "/admin/keys")
    );
    let seqs: Vec<u64> = recs.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(send(a, "GET", "/healthz", None, "").await.status, 200);
    assert_eq!(send(a, "GET", "/readyz", None, "").await.status, 200);
}

#[tokio::test]
async fn keys_created_elsewhere_are_picked_up_without_a_reload_call() {
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let hasher = rampart_gateway::keys::KeyHasher::new(
        gw.config.server_secret().unwrap().expose().as_bytes(),
    );
    let (key, rec) = rampart_gateway::keys::new_key(
        &hasher,
        &KeySpec {
            name: "cli".into(),
            ..Default::default()
        },
        rampart_gateway::now_ms(),
        None,
    )
    .unwrap();
    gw.store().insert_key(&rec).unwrap();
    // keys_refresh_secs = 0.05: poll until the refresher has loaded it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut status = 0;
    while std::time::Instant::now() < deadline {
        status = chat(gw.addr, &key, "gpt-mock").await.status;
        if status == 200 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(status, 200);
}

#[tokio::test]
async fn slow_clients_time_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let key = gw.simple_key().await;
    // Body promised but never sent: 408 after body_timeout_secs.
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(
        format!("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-length: 100\r\n\r\n{{\"model\"").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    // Headers never finished: the connection is closed after header_timeout_secs.
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let n = s.read_to_end(&mut buf).await;
    assert!(n.is_ok() || buf.is_empty());
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_audited() {
    use tokio::io::AsyncWriteExt;
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let key = gw.simple_key().await;
    // Ask for a 32 MiB answer and never read it.
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let body = json!({"model": "big"}).to_string();
    s.write_all(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // write_timeout_secs = 0.5: the gateway gives up on the connection and the body's end is
    // audited. Poll the audit trail (no sleeps).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let rec = loop {
        let recs = gw.audit().await;
        if let Some(r) = recs.iter().find(|r| r["model"] == "big") {
            break r.clone();
        }
        assert!(std::time::Instant::now() < deadline, "never audited");
        tokio::task::yield_now().await;
    };
    assert_eq!(rec["detail"]["end"], "client_closed");
    drop(s);
}

#[tokio::test]
async fn shutdown_flushes_every_record_and_the_chain_verifies() {
    let mock = Mock::start().await;
    let mut gw = Gw::start(&mock, "", Options::default()).await;
    let key = gw.simple_key().await;
    let mut n = 1; // the reload call
    for i in 0..40 {
        let model = if i % 3 == 0 { "no-such" } else { "gpt-mock" };
        chat(gw.addr, &key, model).await;
        n += 1;
    }
    gw.shutdown().await;
    let store = gw.store();
    let v = store.verify_audit().unwrap();
    assert_eq!(v.problem, None);
    assert_eq!(v.records, n);
}

/// A toy guardrail through the inspection seam: blocks prompts containing "forbidden",
/// redacts "secret" in prompts, and rewrites "Hello" in responses (including SSE).
struct Toy;

struct ToyResponse(Vec<Decision>);

impl ResponseInspector for ToyResponse {
    fn on_chunk(&mut self, chunk: Bytes) -> ChunkOutcome {
        let s = String::from_utf8_lossy(&chunk);
        if s.contains("Hel") {
            self.0.push(Decision {
                action: Action::Redact,
                rule: "toy-out".into(),
                note: "rewrote a greeting".into(),
            });
            return ChunkOutcome::Send(Bytes::from(s.replace("Hel", "[x]")));
        }
        ChunkOutcome::Send(chunk)
    }
    fn on_end(&mut self) -> Bytes {
        Bytes::new()
    }
    fn decisions(&mut self) -> Vec<Decision> {
        std::mem::take(&mut self.0)
    }
}

impl Inspector for Toy {
    fn inspect_request(&self, _info: &RequestInfo, body: &mut Bytes) -> Vec<Decision> {
        let s = String::from_utf8_lossy(body).into_owned();
        if s.contains("forbidden") {
            return vec![Decision {
                action: Action::Block,
                rule: "toy-block".into(),
                note: "found the word".into(),
            }];
        }
        if s.contains("secret") {
            *body = Bytes::from(s.replace("secret", "[redacted]"));
            return vec![Decision {
                action: Action::Redact,
                rule: "toy-redact".into(),
                note: "1 match".into(),
            }];
        }
        vec![]
    }
    fn response_inspector(&self, _info: &RequestInfo) -> Option<Box<dyn ResponseInspector>> {
        Some(Box::new(ToyResponse(Vec::new())))
    }
}

#[tokio::test]
async fn the_inspection_seam_sees_both_directions_and_decisions_are_audited() {
    let mock = Mock::start().await;
    let gw = Gw::start(
        &mock,
        "",
        Options {
            inspector: Some(Arc::new(Toy)),
        },
    )
    .await;
    let key = gw.simple_key().await;
    let body = |text: &str, stream: bool| {
        json!({"model": "gpt-mock", "stream": stream, "messages": [{"role": "user", "content": text}]})
            .to_string()
    };
    let r = send(
        gw.addr,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        &body("a forbidden word", false),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["code"], "toy-block");
    assert_eq!(mock.count(), 0);
    let r = send(
        gw.addr,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        &body("my secret", false),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(mock.last().body["messages"][0]["content"], "my [redacted]");
    assert!(r.text().contains("[x]lo there"), "{}", r.text());
    let r = send(
        gw.addr,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        &body("hi", true),
    )
    .await;
    assert!(r.text().starts_with("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"[x]\"}}]}"), "{}", r.text());
    let recs = gw.audit().await;
    let decisions: Vec<&str> = recs
        .iter()
        .map(|r| r["decision"].as_str().unwrap())
        .collect();
    assert!(decisions.contains(&"block:toy-block"), "{decisions:?}");
    assert!(decisions.contains(&"redact:toy-redact") || decisions.contains(&"redact:toy-out"));
    let blocked = recs
        .iter()
        .find(|r| r["decision"] == "block:toy-block")
        .unwrap();
    assert_eq!(blocked["status"], 403);
    assert_eq!(blocked["detail"]["guardrails"][0]["rule"], "toy-block");
}

#[tokio::test]
async fn bodies_are_logged_only_redacted() {
    let mock = Mock::start().await;
    let gw = Gw::start(&mock, "", Options::default()).await;
    let key = gw.simple_key().await;
    let random = "q8ZxR3vN0bLw7TfK2mYc9HsJ4pGd6A";
    let leaked = format!(
        "ghp_{random}{}",
        rampart_detect::validate::crc32_base62_checksum(random.as_bytes())
    );
    let r = send(
        gw.addr,
        "POST",
        "/v1/chat/completions",
        Some(&key),
        &json!({"model": "gpt-mock", "messages": [{"role": "user", "content":
            format!("token {leaked}; mail ana.garcia@example.org, card 4111 1111 1111 1111, order 5591")}]})
        .to_string(),
    )
    .await;
    assert_eq!(r.status, 200);
    let recs = gw.audit().await;
    let rec = recs.iter().find(|r| r["model"] == "gpt-mock").unwrap();
    let body = rec["body"].as_str().unwrap();
    assert!(body.contains("token "), "{body}");
    assert!(!body.contains(&leaked), "{body}");
    // Personal data is masked too (`audit.log_pii` is off by default); other numbers stay.
    assert!(!body.contains("ana.garcia@example.org"), "{body}");
    assert!(!body.contains("4111 1111 1111 1111"), "{body}");
    assert!(
        body.contains("[PII:email]") && body.contains("order 5591"),
        "{body}"
    );
    // Written with JSON escapes (`\u0067…`), the same token is still redacted: the log holds
    // the decoded text, redacted, not the escaped bytes.
    let escaped: String = leaked
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let raw = format!(
        r#"{{"model":"gpt-mock","messages":[{{"role":"user","content":"escaped {escaped} here"}}]}}"#
    );
    let r = send(gw.addr, "POST", "/v1/chat/completions", Some(&key), &raw).await;
    assert_eq!(r.status, 200);
    let recs = gw.audit().await;
    let body = recs
        .iter()
        .filter_map(|r| r["body"].as_str())
        .find(|b| b.contains("escaped "))
        .unwrap()
        .to_string();
    assert!(
        !body.contains(&leaked) && !body.contains(&escaped[..60]),
        "{body}"
    );
    assert!(body.contains("ghp_"), "{body}");
}
