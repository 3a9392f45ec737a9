//! Fuzz the presence event parser and the analyzer behind it: arbitrary bytes, split into
//! lines, must never panic, and every line is either an event or an error with a message.
//! Four landmarks, so that a claim with three RTTs reaches the region and likelihood tests, and
//! low minimums for loops and key intervals, so that short inputs reach the relay and keystroke
//! evidence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_presence::{Analyzer, Config, Landmarks, Prior};

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if let Err(e) = rampart_presence::event::parse_line(line) {
            assert!(!e.to_string().is_empty());
        }
    }
    let cfg = Config {
        session_idle_lines: 4,
        session_idle_ms: 10.0,
        max_open_sessions: 8,
        min_interactions: 2,
        bunch_min_intervals: 2,
        ..Config::default()
    };
    let (landmarks, _) = Landmarks::parse(
        r#"[{"id":"a","lat":50,"lon":8},{"id":"b","lat":40,"lon":-74},
                {"id":"c","lat":35.7,"lon":139.7},{"id":"d","lat":48.9,"lon":2.35}]"#,
    );
    let mut a = Analyzer::new(cfg, landmarks, Prior::default());
    for line in data.split(|&b| b == b'\n') {
        a.push_line(line);
    }
    a.finish();
    let _ = a.drain_reports().count();
});
