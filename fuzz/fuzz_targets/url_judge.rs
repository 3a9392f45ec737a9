//! Fuzz the URL judge: any bytes, as a URL (lossily decoded) and as text to extract links from.
//! Properties: no panic, score within 0–100, the shown URL bounded, extracted ranges inside the
//! input and equal to the returned text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_url::{Judge, find_urls};
use std::sync::OnceLock;

fn judge() -> &'static Judge {
    static J: OnceLock<Judge> = OnceLock::new();
    J.get_or_init(Judge::default)
}

fuzz_target!(|data: &[u8]| {
    let j = judge();
    let text = String::from_utf8_lossy(data);
    let v = j.judge(&text);
    assert!(v.score <= 100);
    assert!(v.url.len() <= 2048 + 4);
    for (range, url) in find_urls(data).take(64) {
        assert_eq!(&data[range.clone()], url.as_bytes());
        let v = j.judge(url);
        assert!(v.score <= 100);
    }
});
