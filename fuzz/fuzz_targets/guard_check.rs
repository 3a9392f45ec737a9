//! The guardrail pipeline reads untrusted prompts, API bodies and upstream streams (any bytes,
//! any chunking): it must never panic, rewritten bodies must stay JSON, and a stream with no
//! findings must pass through byte for byte.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use rampart_guard::{Direction, Guard, Mode, Policy, StreamScanner};

fn guard() -> &'static Arc<Guard> {
    static G: OnceLock<Arc<Guard>> = OnceLock::new();
    G.get_or_init(|| Arc::new(Guard::new()))
}

fn policy(redact: bool) -> Arc<Policy> {
    let mut p = Policy::builtin();
    let m = if redact { Mode::Redact } else { Mode::Block };
    p.inbound.secrets = m;
    p.inbound.pii = m;
    p.inbound.unknown_parts = Mode::Flag;
    p.outbound.secrets = m;
    p.outbound.pii = m;
    p.outbound.urls = m;
    p.outbound.harm = Mode::Block;
    p.outbound.stream_holdback_bytes = 64;
    p.outbound.max_response_bytes = 1 << 16;
    Arc::new(p)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let p = policy(first & 1 == 1);
    let dir = if first & 2 == 0 {
        Direction::In
    } else {
        Direction::Out
    };
    match (first >> 2) & 3 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            let out = guard().check_text(&p, dir, &text);
            if out.findings.is_empty() {
                assert_eq!(out.text, text);
            }
        }
        1 => {
            let out = guard().check_body(&p, dir, rest);
            if let Some(b) = &out.body {
                assert!(serde_json::from_slice::<serde_json::Value>(b).is_ok());
            }
        }
        _ => {
            let step = usize::from(first >> 4).max(1);
            let mut s = StreamScanner::new(Arc::clone(guard()), p, first & 2 == 2);
            let mut out = Vec::new();
            let mut ended = false;
            for chunk in rest.chunks(step) {
                let o = s.push(chunk);
                out.extend(o.bytes);
                if o.end {
                    ended = true;
                    break;
                }
            }
            if !ended {
                out.extend(s.finish().bytes);
            }
            if s.take_findings().is_empty() && !s.blocked() {
                assert_eq!(out, rest, "a clean stream must pass byte for byte");
            }
        }
    }
});
