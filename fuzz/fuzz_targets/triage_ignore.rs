//! Fuzz the `.rampartignore` parser and glob compilation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(f) = rampart_report::IgnoreFile::parse(".rampartignore", &text) {
        if let Some(g) = f.globset() {
            let _ = g.is_match("a/b/c.txt");
        }
    }
});
