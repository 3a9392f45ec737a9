//! Token usage read from responses as they pass: the `usage` object of a JSON body, or of the
//! SSE events of a stream (OpenAI's final chunk, Anthropic's `message_start`/`message_delta`).
//! When the upstream reports nothing (e.g. a stream without `stream_options.include_usage`),
//! tokens are estimated at four characters per token and the audit record says so.

use serde_json::Value;

/// Largest JSON body buffered to find its usage.
const MAX_JSON: usize = 8 * 1024 * 1024;
/// Largest SSE line kept.
const MAX_LINE: usize = 1024 * 1024;

/// Tokens of one exchange.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt (input) tokens.
    pub prompt: u64,
    /// Completion (output) tokens.
    pub completion: u64,
    /// Whether these are estimates.
    pub estimated: bool,
}

/// Watches a response body go by.
#[derive(Debug)]
pub struct Sniffer {
    sse: bool,
    buf: Vec<u8>,
    overflow: bool,
    prompt: Option<u64>,
    completion: Option<u64>,
    content_chars: u64,
    request_estimate: u64,
}

fn num(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

impl Sniffer {
    /// A sniffer for a response whose request body had `request_len` bytes.
    pub fn new(sse: bool, request_len: usize) -> Sniffer {
        Sniffer {
            sse,
            buf: Vec::new(),
            overflow: false,
            prompt: None,
            completion: None,
            content_chars: 0,
            request_estimate: (request_len as u64).div_ceil(4),
        }
    }

    /// Feed the next chunk.
    pub fn feed(&mut self, chunk: &[u8]) {
        if !self.sse {
            if self.buf.len() + chunk.len() <= MAX_JSON {
                self.buf.extend_from_slice(chunk);
            } else {
                self.overflow = true;
            }
            return;
        }
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            if !self.overflow && self.buf.len() + i <= MAX_LINE {
                self.buf.extend_from_slice(&rest[..i]);
                let line = std::mem::take(&mut self.buf);
                self.line(&line);
                self.buf = line;
            }
            self.buf.clear();
            self.overflow = false;
            rest = &rest[i + 1..];
        }
        if self.buf.len() + rest.len() <= MAX_LINE {
            self.buf.extend_from_slice(rest);
        } else {
            self.overflow = true;
            self.buf.clear();
        }
    }

    fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        if data == b"[DONE]" || data.is_empty() {
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        self.event(&v);
    }

    fn event(&mut self, v: &Value) {
        self.usage(v.get("usage"));
        // Anthropic: message_start carries message.usage; deltas carry text.
        if let Some(m) = v.get("message") {
            self.usage(m.get("usage"));
        }
        if let Some(choices) = v.get("choices").and_then(Value::as_array) {
            for c in choices {
                for t in [
                    c.get("delta").and_then(|d| d.get("content")),
                    c.get("text"),
                    c.get("message").and_then(|m| m.get("content")),
                ]
                .into_iter()
                .flatten()
                {
                    if let Some(s) = t.as_str() {
                        self.content_chars += s.chars().count() as u64;
                    }
                }
            }
        }
        if let Some(s) = v
            .get("delta")
            .and_then(|d| d.get("text"))
            .and_then(Value::as_str)
        {
            self.content_chars += s.chars().count() as u64;
        }
        if let Some(parts) = v.get("content").and_then(Value::as_array) {
            for p in parts {
                if let Some(s) = p.get("text").and_then(Value::as_str) {
                    self.content_chars += s.chars().count() as u64;
                }
            }
        }
    }

    fn usage(&mut self, u: Option<&Value>) {
        let Some(u) = u.filter(|u| u.is_object()) else {
            return;
        };
        if let Some(p) = num(u, "prompt_tokens").or_else(|| num(u, "input_tokens")) {
            self.prompt = Some(p);
        }
        if let Some(c) = num(u, "completion_tokens").or_else(|| num(u, "output_tokens")) {
            self.completion = Some(c);
        } else if num(u, "prompt_tokens").is_some() && num(u, "total_tokens").is_some() {
            // Embeddings: only prompt and total.
            self.completion = Some(0);
        }
    }

    /// The usage, once the body has ended.
    pub fn finish(&mut self) -> Usage {
        if !self.sse && !self.overflow && !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                self.event(&v);
            }
        } else if self.sse && !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.line(&line);
        }
        match (self.prompt, self.completion) {
            (Some(prompt), Some(completion)) => Usage {
                prompt,
                completion,
                estimated: false,
            },
            (p, c) => Usage {
                prompt: p.unwrap_or(self.request_estimate),
                completion: c.unwrap_or(self.content_chars.div_ceil(4)),
                estimated: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_json_usage() {
        let mut s = Sniffer::new(false, 100);
        let body = br#"{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#;
        s.feed(&body[..20]);
        s.feed(&body[20..]);
        assert_eq!(
            s.finish(),
            Usage {
                prompt: 12,
                completion: 3,
                estimated: false
            }
        );
    }

    #[test]
    fn sse_usage_across_chunk_boundaries() {
        let mut s = Sniffer::new(true, 100);
        let stream = b"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
        for c in stream.chunks(7) {
            s.feed(c);
        }
        assert_eq!(
            s.finish(),
            Usage {
                prompt: 7,
                completion: 2,
                estimated: false
            }
        );
    }

    #[test]
    fn sse_without_usage_is_estimated() {
        let mut s = Sniffer::new(true, 40);
        s.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"abcdefgh\"}}]}\r\n\r\ndata: [DONE]\r\n\r\n");
        let u = s.finish();
        assert!(u.estimated);
        assert_eq!((u.prompt, u.completion), (10, 2));
    }

    #[test]
    fn anthropic_stream_usage() {
        let mut s = Sniffer::new(true, 10);
        s.feed(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n");
        s.feed(b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n");
        s.feed(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n");
        assert_eq!(
            s.finish(),
            Usage {
                prompt: 25,
                completion: 15,
                estimated: false
            }
        );
    }

    #[test]
    fn garbage_is_estimated_not_a_panic() {
        let mut s = Sniffer::new(false, 8);
        s.feed(&[0xff, 0xfe, b'{']);
        let u = s.finish();
        assert!(u.estimated);
        let mut s = Sniffer::new(true, 8);
        s.feed(b"data: {not json\n\n");
        s.feed(&vec![b'x'; MAX_LINE + 10]);
        s.feed(b"\n");
        assert!(s.finish().estimated);
    }
}
