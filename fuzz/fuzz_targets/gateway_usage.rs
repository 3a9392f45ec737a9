//! The gateway's usage sniffer reads untrusted upstream bodies (JSON and SSE, any chunking):
//! it must never panic and never keep more than its caps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_gateway::sniff::Sniffer;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let sse = first & 1 == 1;
    let step = usize::from(first >> 1).max(1);
    let mut s = Sniffer::new(sse, rest.len());
    for chunk in rest.chunks(step) {
        s.feed(chunk);
    }
    let u = s.finish();
    // Estimates are bounded by the input.
    if u.estimated {
        assert!(u.completion <= rest.len() as u64);
    }
});
