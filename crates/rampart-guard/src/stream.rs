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
//! When several choices stream interleaved (`n` > 1: a chunk's `choices[0].index` above 0), the
//! window mixes their text, so each choice is also checked on its own text: such a stream is
//! held to its end (up to `outbound.max_response_bytes`), and a match that blocks, or one to
//! redact that only a single choice's text holds whole, blocks it. SSE lines may end in CRLF,
//! LF or a bare CR; a `data:` that is not JSON is checked as text (and rewritten as text).
//!
//! A body is SSE when it starts with an SSE field (`data:`, `event:`, `id:`, `retry:`, `:`);
//! anything else — JSON, an error page, plain text, after a skipped byte-order mark — is held
//! whole (up to `outbound.max_response_bytes`) and checked at its end
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
    /// The choice (`choices[].index`) each slot belongs to.
    lanes: Vec<u64>,
    /// `data:` that is not JSON, checked as one text slot.
    plain: bool,
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
    /// Several choices stream interleaved (`n` > 1): each is checked on its own text, and
    /// events are held to the end (see [`StreamScanner::lanes_block`]).
    multi: bool,
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
            multi: false,
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
        self.buf.extend_from_slice(chunk);
        if self.kind == Kind::Unknown {
            self.kind = sniff(&self.buf);
        }
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
                // A byte-order mark is not part of the JSON (Python's json skips it).
                let unmarked = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&body);
                let out = self
                    .guard
                    .check_body(&self.policy, Direction::Out, unmarked);
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
        for line in lines(&raw) {
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
            lanes: Vec::new(),
            plain: false,
            start,
        };
        if n_data > 0 && !is_done {
            match serde_json::from_slice::<Value>(&data) {
                Ok(mut v) => {
                    // In a chunk, `choices` holds one entry whose `index` says which choice.
                    let index: Vec<u64> = v["choices"].as_array().map_or(Vec::new(), |a| {
                        a.iter().map(|c| c["index"].as_u64().unwrap_or(0)).collect()
                    });
                    let mut list = Vec::new();
                    let mut unknown = Vec::new();
                    slots(&mut v, &mut list, &mut unknown);
                    if !list.is_empty() {
                        for s in &list {
                            let lane = choice_of(&s.path)
                                .and_then(|k| index.get(k).copied())
                                .unwrap_or(0);
                            self.multi |= lane != 0;
                            self.text.push_str(s.text);
                            self.unscanned += s.text.len();
                            ev.lens.push(s.text.len());
                            ev.lanes.push(lane);
                        }
                        drop(list);
                        ev.value = Some(v);
                    }
                }
                // Not JSON: its text is still text the client reads.
                Err(_) => {
                    let t = String::from_utf8_lossy(&data);
                    self.text.push_str(&t);
                    self.unscanned += t.len();
                    ev.lens.push(t.len());
                    ev.lanes.push(0);
                    ev.plain = true;
                }
            }
        }
        self.queue.push_back(ev);
        is_done
    }

    /// With interleaved choices, each choice's own text (after what was sent of it) checked
    /// alone: the first finding that blocks, or that redacts text the interleaved window does
    /// not hold whole (so its redaction cannot be written), blocks the stream.
    fn lanes_block(&mut self) -> Option<(Finding, String)> {
        // Nothing is sent once a second choice is seen, so what was sent is choice 0's alone and
        // `context` is its tail.
        let mut lanes: std::collections::BTreeMap<u64, String> =
            std::collections::BTreeMap::from([(0, self.context.clone())]);
        for ev in &self.queue {
            let mut a = ev.start;
            for (&len, &lane) in ev.lens.iter().zip(&ev.lanes) {
                lanes
                    .entry(lane)
                    .or_default()
                    .push_str(&self.text[a..a + len]);
                a += len;
            }
        }
        let window = format!("{}{}", self.context, self.text);
        for text in lanes.values() {
            let mut found = Vec::new();
            self.guard
                .text_findings(&self.policy, Direction::Out, text, None, &mut found);
            for mut f in found {
                let whole = f
                    .start
                    .zip(f.end)
                    .and_then(|(s, e)| text.get(s..e))
                    .is_some_and(|m| window.contains(m));
                if f.action == Action::Block || (f.action == Action::Redact && !whole) {
                    let range = f.start.zip(f.end).map(|(s, e)| s..e);
                    let excerpt = self.guard.excerpt(text, range, 160);
                    if f.action == Action::Redact {
                        f.action = Action::Block;
                        f.note.push_str(
                            "; split between interleaved choices, so it cannot be redacted",
                        );
                    }
                    f.start = None;
                    f.end = None;
                    return Some((f, excerpt));
                }
            }
        }
        None
    }

    fn process(&mut self, last: bool) -> StreamOutput {
        if self.queue.is_empty() {
            return StreamOutput::default();
        }
        if self.multi {
            if !last {
                let held: usize = self.queue.iter().map(|e| e.raw.len()).sum();
                if held > self.policy.outbound.max_response_bytes {
                    let f = crate::body::response_too_large(
                        held,
                        self.policy.outbound.max_response_bytes,
                    );
                    return self.block(f, String::new());
                }
                return StreamOutput::default();
            }
            if let Some((f, excerpt)) = self.lanes_block() {
                return self.block(f, excerpt);
            }
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
            if (ev.value.is_none() && !ev.plain)
                || !spans.iter().any(|(s, e, _)| *s < end && *e > ev.start)
            {
                out.extend_from_slice(&ev.raw);
                continue;
            }
            if ev.plain {
                let new = rewrite(&self.text, ev.start, end, &spans, &mut sent_upto);
                out.extend_from_slice(&rebuild_plain(&ev, &new));
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
            keep_tail(&mut self.context);
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
    let data = ev.value.as_ref().map(Value::to_string).unwrap_or_default();
    rebuild_plain(ev, &data)
}

/// Where the first complete event ends: (position of the delimiter, its length). An event ends
/// with an empty line; SSE lines end with CRLF, LF or a bare CR.
fn event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let term = |i: usize| -> Option<usize> {
        match buf.get(i)? {
            b'\r' if buf.get(i + 1) == Some(&b'\n') => Some(2),
            // A CR last in the buffer may be the first half of a CRLF still to come.
            b'\r' if i + 1 == buf.len() => None,
            b'\r' | b'\n' => Some(1),
            _ => None,
        }
    };
    let mut i = 0;
    while i < buf.len() {
        if matches!(buf[i], b'\r' | b'\n') {
            let t1 = term(i)?;
            if let Some(t2) = term(i + t1) {
                return Some((i, t1 + t2));
            }
            i += t1;
        } else {
            i += 1;
        }
    }
    None
}

/// The lines of an event (CRLF, LF or bare CR line ends).
fn lines(raw: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut from = 0;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' => {
                out.push(&raw[from..i]);
                i += if raw.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                from = i;
            }
            b'\n' => {
                out.push(&raw[from..i]);
                i += 1;
                from = i;
            }
            _ => i += 1,
        }
    }
    out.push(&raw[from..]);
    out
}

/// How a response body is framed, once its first bytes say: SSE when it starts with an SSE
/// field (`data:`, `event:`, `id:`, `retry:`, a `:` comment), else one body checked whole (JSON,
/// or text such as an error page). A UTF-8 byte-order mark is skipped.
fn sniff(buf: &[u8]) -> Kind {
    let b = buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(buf);
    let b = &b[b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len())..];
    if b.is_empty() || (buf.len() < 3 && b"\xef\xbb\xbf".starts_with(buf)) {
        return Kind::Unknown;
    }
    if b[0] == b':' {
        return Kind::Sse;
    }
    for field in [&b"data:"[..], b"event:", b"id:", b"retry:"] {
        if b.starts_with(field) {
            return Kind::Sse;
        }
        if field.starts_with(b) {
            return Kind::Unknown;
        }
    }
    Kind::Json
}

/// `choices[K]…` → K.
fn choice_of(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("choices[")?;
    rest[..rest.find(']')?].parse().ok()
}

/// Keep the last [`CONTEXT`] bytes of `s` (at a character boundary).
fn keep_tail(s: &mut String) {
    if s.len() > CONTEXT {
        let mut from = s.len() - CONTEXT;
        while !s.is_char_boundary(from) {
            from += 1;
        }
        s.drain(..from);
    }
}

/// An event with its `data:` replaced by `text`, one `data:` line per line of it (other lines
/// kept).
fn rebuild_plain(ev: &Ev, text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(ev.raw.len() + 32);
    for l in lines(&ev.raw) {
        if l.is_empty() || l.starts_with(b"data:") {
            continue;
        }
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    for l in text.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out
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
    fn interleaved_choices_are_each_checked_whole() {
        // `n` = 2: choice 0 carries a key in 4-byte deltas, choice 1 other text in between.
        let stream = |text: &str| {
            let mut all = String::new();
            for (i, piece) in text.as_bytes().chunks(4).enumerate() {
                let piece = std::str::from_utf8(piece).unwrap();
                for (index, t) in [(0, piece), (1, if i % 2 == 0 { "Th" } else { "e " })] {
                    let d = json!({"choices": [{"index": index, "delta": {"content": t}}]});
                    all.push_str(&format!("data: {d}\n\n"));
                }
            }
            all.push_str("data: [DONE]\n\n");
            all
        };
        let all = stream("Here is the key: AKIAQYLPMN5HHHFPZAM2 and more"); // rampart:allow (made-up test key)
        let pieces: Vec<&[u8]> = all.as_bytes().chunks(50).collect();
        let (out, s, _) = run(Policy::builtin(), &pieces);
        assert!(s.blocked(), "{}", String::from_utf8_lossy(&out));
        assert!(!String::from_utf8_lossy(&out).contains("AKIA"));
        // Clean interleaved choices pass byte for byte (held to the end).
        let clean = stream("Here is the key: the one in the vault, and more");
        let pieces: Vec<&[u8]> = clean.as_bytes().chunks(50).collect();
        let (out, mut s, _) = run(Policy::builtin(), &pieces);
        assert!(!s.blocked(), "{:?}", s.take_findings());
        assert_eq!(out, clean.as_bytes());
    }

    #[test]
    fn text_pages_bare_cr_events_and_marked_json_are_checked() {
        let key = "AKIAQYLPMN5HHHFPZAM2"; // rampart:allow (made-up test key)
        let page = format!("Error: upstream rejected Authorization: Bearer {key}\n");
        let html = format!("<html><body>502 {key}</body></html>");
        let marked = format!(
            "\u{feff}{}",
            json!({"choices": [{"message": {"role": "assistant", "content": key}}]})
        );
        let d = json!({"choices": [{"index": 0, "delta": {"content": key}}]});
        let cr = format!("data: {d}\r\rdata: [DONE]\r\r");
        let broken = format!("data: the key is {key}\n\ndata: [DONE]\n\n");
        for body in [page, html, marked, cr, broken] {
            let (out, s, _) = run(Policy::builtin(), &[body.as_bytes()]);
            assert!(s.blocked(), "{body:?}");
            assert!(!String::from_utf8_lossy(&out).contains(key), "{body:?}");
        }
        // SSE with bare CRs still splits into events and passes untouched when clean.
        let clean = format!(
            "data: {}\r\rdata: {}\r\rdata: [DONE]\r\r",
            json!({"choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "lo"}}]})
        );
        let pieces: Vec<&[u8]> = clean.as_bytes().chunks(9).collect();
        let (out, s, _) = run(Policy::builtin(), &pieces);
        assert!(!s.blocked());
        assert_eq!(out, clean.as_bytes());
        // A plain-text event with a redacted secret is rewritten, not passed.
        let mut p = Policy::builtin();
        p.outbound.secrets = Mode::Redact;
        let plain = format!("data: the key is {key}\n\ndata: [DONE]\n\n");
        let (out, s, _) = run(p, &[plain.as_bytes()]);
        assert!(!s.blocked());
        let out = String::from_utf8_lossy(&out);
        assert!(!out.contains(key) && out.contains("[REDACTED:"), "{out}");
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
        let mut big = b"data: ".to_vec();
        big.resize(MAX_EVENT + 10, b'a');
        let mut s = StreamScanner::new(Arc::new(Guard::new()), Arc::new(Policy::builtin()), false);
        let o = s.push(&big);
        assert!(o.end && s.blocked());
    }
}
