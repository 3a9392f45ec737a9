//! Responses as they stream: SSE (`chat.completion.chunk` deltas, Anthropic events) or one JSON
//! body, checked with a window across chunk boundaries.
//!
//! SSE events are parsed as they complete; the text of their deltas is appended to a window
//! and checked together with the tail of what was already sent (so a secret split across two
//! deltas is still one match). Events are released in order once their text lies more than
//! `outbound.stream_holdback_bytes` before the end of the window and no redaction straddles
//! the cut; matches touching the end of the window wait for more text. Released events are sent
//! byte for byte unless a redaction changed their text, in which case only their `data:` JSON is
//! rewritten. A `block` drops the held events and ends the stream with an SSE error event
//! (`data: {"error": {...}}`, or Anthropic's `event: error`). `data: [DONE]` and the end of the
//! upstream body release everything.
//!
//! A non-SSE body is held whole (up to `outbound.max_response_bytes`) and checked at its end
//! with [`Guard::check_body`]; a block replaces it with an OpenAI-style (or Anthropic-style)
//! error body naming the guardrail. The gateway inspects non-SSE answers whole before sending
//! any header, so such a refusal reaches the client as a `403`.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::body::slots;
use crate::{Action, Direction, Finding, Guard, Policy};

/// Bytes of already-sent text kept as left context for the next check.
const CONTEXT: usize = 256;
/// Largest single SSE event accepted.
const MAX_EVENT: usize = 1 << 20;
/// Past this much held text, matches touching the end are acted on rather than waited for
/// (bounds memory against an endless match, e.g. a URL that never ends).
const MAX_HELD: usize = 64 << 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unknown,
    Sse,
    Json,
}

struct Ev {
    raw: Vec<u8>,
    /// Parsed `data:` JSON, when it carries text.
    value: Option<Value>,
    /// Text length of each slot, in walk order.
    lens: Vec<usize>,
    /// Offset of this event's text in the scanner's window text.
    start: usize,
}

impl Ev {
    fn len(&self) -> usize {
        self.lens.iter().sum()
    }
}

/// What to send after a chunk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamOutput {
    /// Bytes to send now (may be empty: held back).
    pub bytes: Vec<u8>,
    /// The stream ends here (blocked, or everything sent).
    pub end: bool,
}

/// Checks one response as it streams (see the module docs).
pub struct StreamScanner {
    guard: Arc<Guard>,
    policy: Arc<Policy>,
    anthropic: bool,
    kind: Kind,
    buf: Vec<u8>,
    queue: VecDeque<Ev>,
    text: String,
    context: String,
    released: usize,
    findings: Vec<Finding>,
    /// Text bytes queued since the last check.
    unscanned: usize,
    blocked: bool,
    excerpt: Option<String>,
    done: bool,
}

impl std::fmt::Debug for StreamScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamScanner")
            .field("held_events", &self.queue.len())
            .field("held_text", &self.text.len())
            .finish()
    }
}

impl StreamScanner {
    /// A scanner for one response; `anthropic` picks the error-event format.
    pub fn new(guard: Arc<Guard>, policy: Arc<Policy>, anthropic: bool) -> StreamScanner {
        StreamScanner {
            guard,
            policy,
            anthropic,
            kind: Kind::Unknown,
            buf: Vec::new(),
            queue: VecDeque::new(),
            text: String::new(),
            context: String::new(),
            released: 0,
            findings: Vec::new(),
            unscanned: 0,
            blocked: false,
            excerpt: None,
            done: false,
        }
    }

    /// Findings recorded so far (drained).
    pub fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }

    /// Whether the stream was blocked.
    pub fn blocked(&self) -> bool {
        self.blocked
    }

    /// A redacted excerpt around the blocking match (once blocked).
    pub fn excerpt(&self) -> Option<&str> {
        self.excerpt.as_deref()
    }

    /// The next chunk from upstream.
    pub fn push(&mut self, chunk: &[u8]) -> StreamOutput {
        if self.done {
            return StreamOutput {
                bytes: Vec::new(),
                end: true,
            };
        }
        if self.kind == Kind::Unknown {
            match chunk.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{' | b'[') => self.kind = Kind::Json,
                Some(_) => self.kind = Kind::Sse,
                None => {}
            }
        }
        self.buf.extend_from_slice(chunk);
        match self.kind {
            Kind::Json | Kind::Unknown => {
                if self.buf.len() > self.policy.outbound.max_response_bytes {
                    let f = crate::body::response_too_large(
                        self.buf.len(),
                        self.policy.outbound.max_response_bytes,
                    );
                    return self.block(f, String::new());
                }
                StreamOutput::default()
            }
            Kind::Sse => {
                let mut saw_done = false;
                while let Some((pos, dlen)) = event_end(&self.buf) {
                    let raw: Vec<u8> = self.buf.drain(..pos + dlen).collect();
                    saw_done |= self.enqueue(raw);
                }
                if self.buf.len() > MAX_EVENT {
                    let f = Finding {
                        check: "size",
                        rule: "size.max_event_bytes".into(),
                        action: Action::Block,
                        field: None,
                        start: None,
                        end: None,
                        note: format!("an SSE event larger than {MAX_EVENT} bytes"),
                    };
                    return self.block(f, String::new());
                }
                self.process(saw_done)
            }
        }
    }

    /// Upstream ended: everything still held, checked.
    pub fn finish(&mut self) -> StreamOutput {
        if self.done {
            return StreamOutput {
                bytes: Vec::new(),
                end: true,
            };
        }
        match self.kind {
            Kind::Json | Kind::Unknown => {
                self.done = true;
                let body = std::mem::take(&mut self.buf);
                if body.is_empty() {
                    return StreamOutput {
                        bytes: body,
                        end: true,
                    };
                }
                let out = self.guard.check_body(&self.policy, Direction::Out, &body);
                self.findings.extend(out.findings.iter().cloned());
                if out.action == Action::Block {
                    self.blocked = true;
                    self.excerpt = out.excerpt.clone();
                    if out.safe_completion
                        && let Some(b) = out.body
                    {
                        return StreamOutput {
                            bytes: b,
                            end: true,
                        };
                    }
                    let rule = out
                        .findings
                        .iter()
                        .find(|f| f.action == Action::Block)
                        .map_or("guardrail", |f| f.rule.as_str());
                    return StreamOutput {
                        bytes: error_json(rule, self.anthropic),
                        end: true,
                    };
                }
                StreamOutput {
                    bytes: out.body.unwrap_or(body),
                    end: true,
                }
            }
            Kind::Sse => {
                if !self.buf.is_empty() {
                    let raw = std::mem::take(&mut self.buf);
                    self.enqueue(raw);
                }
                let mut out = self.process(true);
                out.end = true;
                self.done = true;
                out
            }
        }
    }

    /// Parse one raw event and queue it; returns whether it was `data: [DONE]`.
    fn enqueue(&mut self, raw: Vec<u8>) -> bool {
        let mut data = Vec::new();
        let mut n_data = 0;
        for line in raw.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(d) = line.strip_prefix(b"data:") {
                if n_data > 0 {
                    data.push(b'\n');
                }
                data.extend_from_slice(d.strip_prefix(b" ").unwrap_or(d));
                n_data += 1;
            } else if line.starts_with(b"event:") {
                self.anthropic = true;
            }
        }
        let is_done = data.trim_ascii() == b"[DONE]";
        let start = self.text.len();
        let mut ev = Ev {
            raw,
            value: None,
            lens: Vec::new(),
            start,
        };
        if n_data > 0
            && !is_done
            && let Ok(mut v) = serde_json::from_slice::<Value>(&data)
        {
            let mut list = Vec::new();
            let mut unknown = Vec::new();
            slots(&mut v, &mut list, &mut unknown);
            if !list.is_empty() {
                for s in &list {
                    self.text.push_str(s.text);
                    self.unscanned += s.text.len();
                    ev.lens.push(s.text.len());
                }
                drop(list);
                ev.value = Some(v);
            }
        }
        self.queue.push_back(ev);
        is_done
    }

    fn process(&mut self, last: bool) -> StreamOutput {
        if self.queue.is_empty() {
            return StreamOutput::default();
        }
        // Check once per quarter window of new text, not per delta: nothing is released
        // before a check has covered it, so waiting only holds bytes a little longer.
        let every = (self.policy.outbound.stream_holdback_bytes / 4).max(1);
        if !last && self.unscanned > 0 && self.unscanned < every {
            return StreamOutput::default();
        }
        self.unscanned = 0;
        let ctx = self.context.len();
        let mut found = Vec::new();
        if !self.text.is_empty() {
            let window = format!("{}{}", self.context, self.text);
            self.guard
                .text_findings(&self.policy, Direction::Out, &window, None, &mut found);
            let wlen = window.len();
            // Keep findings that reach into the held text; make offsets relative to it.
            let mut kept = Vec::new();
            let mut limit = if last {
                self.text.len()
            } else {
                self.text
                    .len()
                    .saturating_sub(self.policy.outbound.stream_holdback_bytes)
            };
            for mut f in found {
                let (Some(s), Some(e)) = (f.start, f.end) else {
                    kept.push((f, false, true));
                    continue;
                };
                if e <= ctx {
                    continue;
                }
                let fresh = s >= ctx;
                let deferred = !last && e >= wlen && self.text.len() < MAX_HELD;
                let (rs, re) = (s.saturating_sub(ctx), e - ctx);
                f.start = Some(rs);
                f.end = Some(re);
                if deferred || (f.action == Action::Redact && re > limit) {
                    limit = limit.min(rs);
                }
                kept.push((f, deferred, fresh));
            }
            if let Some((f, _, _)) = kept
                .iter()
                .find(|(f, deferred, _)| f.action == Action::Block && !deferred)
            {
                let f = f.clone();
                let range = f.start.zip(f.end).map(|(s, e)| s + ctx..e + ctx);
                let excerpt = self.guard.excerpt(&window, range, 160);
                for (g, deferred, fresh) in &kept {
                    if !deferred && *fresh && g != &f {
                        self.record(g.clone());
                    }
                }
                return self.block(f, excerpt);
            }
            return self.release(limit, kept);
        }
        self.release(usize::MAX, Vec::new())
    }

    fn record(&mut self, mut f: Finding) {
        f.start = f.start.map(|s| s + self.released);
        f.end = f.end.map(|e| e + self.released);
        f.field = Some("stream".into());
        self.findings.push(f);
    }

    fn release(&mut self, limit: usize, kept: Vec<(Finding, bool, bool)>) -> StreamOutput {
        let mut out = Vec::new();
        let mut cut = 0;
        let mut spans: Vec<(usize, usize, String)> = kept
            .iter()
            .filter(|(f, deferred, _)| !deferred && f.action == Action::Redact)
            .filter_map(|(f, _, _)| Some((f.start?, f.end?, f.rule.clone())))
            .collect();
        spans.sort();
        let mut sent_upto = 0;
        while let Some(ev) = self.queue.front() {
            let end = ev.start + ev.len();
            if end > limit {
                break;
            }
            let Some(mut ev) = self.queue.pop_front() else {
                break;
            };
            cut = end;
            if ev.value.is_none() || !spans.iter().any(|(s, e, _)| *s < end && *e > ev.start) {
                out.extend_from_slice(&ev.raw);
                continue;
            }
            let mut news = Vec::new();
            let mut a = ev.start;
            for &len in &ev.lens {
                let b = a + len;
                news.push(rewrite(&self.text, a, b, &spans, &mut sent_upto));
                a = b;
            }
            if let Some(v) = ev.value.as_mut() {
                let mut list = Vec::new();
                let mut unknown = Vec::new();
                slots(v, &mut list, &mut unknown);
                for (s, n) in list.iter_mut().zip(news) {
                    *s.text = n;
                }
            }
            out.extend_from_slice(&rebuild(&ev));
        }
        for (f, deferred, fresh) in kept {
            if !deferred && fresh && f.start.is_none_or(|s| s < cut) {
                self.record(f);
            }
        }
        if cut > 0 {
            let sent: String = self.text.drain(..cut).collect();
            self.released += cut;
            for ev in self.queue.iter_mut() {
                ev.start -= cut;
            }
            self.context.push_str(&sent);
            if self.context.len() > CONTEXT {
                let mut from = self.context.len() - CONTEXT;
                while !self.context.is_char_boundary(from) {
                    from += 1;
                }
                self.context.drain(..from);
            }
        }
        StreamOutput {
            bytes: out,
            end: false,
        }
    }

    fn block(&mut self, f: Finding, excerpt: String) -> StreamOutput {
        self.done = true;
        self.blocked = true;
        self.excerpt = Some(excerpt);
        let rule = f.rule.clone();
        let harm = f.check == "harm";
        self.record(f);
        self.queue.clear();
        self.text.clear();
        self.buf.clear();
        let bytes = match (&self.policy.outbound.safe_completion, harm, self.kind) {
            (Some(msg), true, Kind::Sse) => safe_sse(msg, self.anthropic),
            (_, _, Kind::Sse) => error_sse(&rule, self.anthropic),
            _ => error_json(&rule, self.anthropic),
        };
        StreamOutput { bytes, end: true }
    }
}

/// The new text of slot `[a, b)` given redaction spans (relative to the held text).
fn rewrite(
    text: &str,
    a: usize,
    b: usize,
    spans: &[(usize, usize, String)],
    _: &mut usize,
) -> String {
    let mut s = String::new();
    let mut at = a;
    for (rs, re, rule) in spans {
        if *re <= at || *rs >= b {
            continue;
        }
        if *rs >= at {
            s.push_str(&text[at..*rs]);
            s.push_str(&format!("[REDACTED:{rule}]"));
        }
        at = (*re).min(b);
    }
    if at < b {
        s.push_str(&text[at..b]);
    }
    s
}

/// An event with its `data:` JSON replaced (other lines kept).
fn rebuild(ev: &Ev) -> Vec<u8> {
    let mut out = Vec::with_capacity(ev.raw.len() + 32);
    for line in ev.raw.split(|&b| b == b'\n') {
        let l = line.strip_suffix(b"\r").unwrap_or(line);
        if l.is_empty() || l.starts_with(b"data:") {
            continue;
        }
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    if let Some(v) = &ev.value {
        out.extend_from_slice(v.to_string().as_bytes());
    }
    out.extend_from_slice(b"\n\n");
    out
}

/// Where the first complete event ends: (position of the delimiter, its length).
fn event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = memfind(buf, b"\n\n").map(|p| (p, 2));
    let crlf = memfind(buf, b"\r\n\r\n").map(|p| (p, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn memfind(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn message(rule: &str) -> String {
    format!("Blocked by the gateway's guardrail `{rule}`.")
}

/// The JSON error body for a blocked response (OpenAI or Anthropic shape).
pub fn error_json(rule: &str, anthropic: bool) -> Vec<u8> {
    let v = if anthropic {
        json!({"type": "error", "error": {"type": "guardrail_blocked", "message": message(rule)}})
    } else {
        json!({"error": {"message": message(rule), "type": "guardrail_blocked", "code": rule, "param": null}})
    };
    v.to_string().into_bytes()
}

fn error_sse(rule: &str, anthropic: bool) -> Vec<u8> {
    let body = String::from_utf8(error_json(rule, anthropic)).unwrap_or_default();
    if anthropic {
        format!("event: error\ndata: {body}\n\n").into_bytes()
    } else {
        format!("data: {body}\n\n").into_bytes()
    }
}

fn safe_sse(msg: &str, anthropic: bool) -> Vec<u8> {
    if anthropic {
        let d = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": msg}});
        format!("event: content_block_delta\ndata: {d}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n").into_bytes()
    } else {
        let d = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": msg}, "finish_reason": "content_filter"}]});
        format!("data: {d}\n\ndata: [DONE]\n\n").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;

    fn chunk(text: &str) -> String {
        let d = json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]});
        format!("data: {d}\n\n")
    }

    fn run(policy: Policy, pieces: &[&[u8]]) -> (Vec<u8>, StreamScanner, Vec<usize>) {
        let mut s = StreamScanner::new(Arc::new(Guard::new()), Arc::new(policy), false);
        let mut out = Vec::new();
        let mut sizes = Vec::new();
        for p in pieces {
            let o = s.push(p);
            sizes.push(o.bytes.len());
            out.extend(o.bytes);
            if o.end {
                return (out, s, sizes);
            }
        }
        out.extend(s.finish().bytes);
        (out, s, sizes)
    }

    fn content(sse: &[u8]) -> String {
        let mut t = String::new();
        for line in String::from_utf8_lossy(sse).lines() {
            if let Some(d) = line.strip_prefix("data: ")
                && let Ok(v) = serde_json::from_str::<Value>(d)
                && let Some(c) = v["choices"][0]["delta"]["content"].as_str()
            {
                t.push_str(c);
            }
        }
        t
    }

    #[test]
    fn clean_streams_pass_byte_for_byte_whatever_the_chunking() {
        let mut all = String::new();
        for w in ["Hello", " there,", " here is", " your answer: 42."] {
            all.push_str(&chunk(w));
        }
        all.push_str("data: [DONE]\n\n");
        // Split at every 7 bytes, cutting through events and UTF-8-free JSON.
        let b = all.as_bytes();
        let pieces: Vec<&[u8]> = b.chunks(7).collect();
        let (out, s, _) = run(Policy::builtin(), &pieces);
        assert_eq!(out, b);
        assert!(!s.blocked());
    }

    #[test]
    fn a_secret_split_across_deltas_is_redacted_before_it_leaves() {
        let tok = crate::tests::github_token();
        let (a, b) = tok.split_at(14);
        let mut p = Policy::builtin();
        p.outbound.secrets = Mode::Redact;
        let stream = [
            chunk("Sure, use the token "),
            chunk(a),
            chunk(b),
            chunk(" in your config."),
            "data: [DONE]\n\n".to_string(),
        ];
        let pieces: Vec<&[u8]> = stream.iter().map(|s| s.as_bytes()).collect();
        let (out, mut s, _) = run(p, &pieces);
        let text = content(&out);
        assert!(
            !String::from_utf8_lossy(&out).contains(a),
            "first half leaked"
        );
        assert!(
            !String::from_utf8_lossy(&out).contains(b),
            "second half leaked"
        );
        assert!(
            text.starts_with("Sure, use the token [REDACTED:secrets."),
            "{text}"
        );
        assert!(text.ends_with("] in your config."), "{text}");
        assert!(String::from_utf8_lossy(&out).ends_with("data: [DONE]\n\n"));
        let f = s.take_findings();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].action, Action::Redact);
    }

    #[test]
    fn a_blocked_stream_ends_with_an_error_event_and_never_sends_the_match() {
        let tok = crate::tests::github_token();
        let (a, b) = tok.split_at(20);
        let mut stream: Vec<String> = (0..40)
            .map(|i| chunk(&format!("sentence number {i:02} of the answer. ")))
            .collect();
        stream.extend([chunk("and now "), chunk(a), chunk(b), chunk(" more")]);
        let pieces: Vec<&[u8]> = stream.iter().map(|s| s.as_bytes()).collect();
        let (out, s, sizes) = run(Policy::builtin(), &pieces);
        let o = String::from_utf8_lossy(&out);
        assert!(s.blocked());
        assert!(!o.contains(a), "{o}");
        assert!(
            o.contains("sentence number 00"),
            "text well before the match was released"
        );
        assert!(
            sizes[..40].iter().any(|&n| n > 0),
            "released while streaming: only the window is held back"
        );
        let last = o.trim_end().rsplit("\n\n").next().unwrap();
        let v: Value = serde_json::from_str(last.trim_start_matches("data: ")).unwrap();
        assert_eq!(v["error"]["type"], "guardrail_blocked");
        assert!(v["error"]["code"].as_str().unwrap().starts_with("secrets."));
        assert!(!s.excerpt().unwrap().contains(b));
    }

    #[test]
    fn a_phishing_link_split_in_two_blocks_anthropic_streams() {
        let ev = |t: &str| {
            let d = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}});
            format!("event: content_block_delta\ndata: {d}\n\n")
        };
        let stream = [
            "event: message_start\ndata: {\"type\":\"message_start\"}\n\n".to_string(),
            ev("Please sign in at https://www.pay"),
            ev("pa1.com/signin right away"),
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".to_string(),
        ];
        let pieces: Vec<&[u8]> = stream.iter().map(|s| s.as_bytes()).collect();
        let (out, s, _) = run(Policy::builtin(), &pieces);
        let o = String::from_utf8_lossy(&out);
        assert!(s.blocked(), "{o}");
        assert!(!o.contains("pa1.com"), "{o}");
        assert!(
            o.ends_with("\n\n") && o.contains("event: error\ndata: {"),
            "{o}"
        );
    }

    #[test]
    fn json_bodies_are_checked_whole() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"Go to https://www.paypa1.com/signin"}}]}"#;
        let (out, s, _) = run(Policy::builtin(), &[&body[..10], &body[10..]]);
        assert!(s.blocked());
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["error"]["code"], "urls.malicious");
        let ok = br#"{"choices":[{"message":{"role":"assistant","content":"Hi"}}]}"#;
        let (out, s, _) = run(Policy::builtin(), &[&ok[..]]);
        assert!(!s.blocked());
        assert_eq!(out, ok);
        let mut p = Policy::builtin();
        p.outbound.max_response_bytes = 8;
        let (out, s, _) = run(p, &[&ok[..]]);
        assert!(s.blocked());
        assert!(String::from_utf8_lossy(&out).contains("size.max_response_bytes"));
    }

    #[test]
    fn garbage_streams_do_not_panic() {
        let mut s = StreamScanner::new(Arc::new(Guard::new()), Arc::new(Policy::builtin()), false);
        for c in [
            &b"data: {\"choices\": [\xff\xfe]}\n\n"[..],
            b"\r\n\r\n",
            b"event: x\n",
            b"data: [DONE]\n\n",
            b"data: {\"a\":",
        ] {
            let _ = s.push(c);
        }
        let _ = s.finish();
        let big = vec![b'a'; MAX_EVENT + 10];
        let mut s = StreamScanner::new(Arc::new(Guard::new()), Arc::new(Policy::builtin()), false);
        let o = s.push(&big);
        assert!(o.end && s.blocked());
    }
}
