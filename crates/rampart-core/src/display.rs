//! Text from scanned input made safe to print on a terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as it is: control characters (C0, DEL, C1 — `ESC`
/// starts the sequences that move the cursor, rewrite the title or hide text) and the bidi
/// controls that reorder what is shown (Trojan Source, CVE-2021-42574).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control or bidi-control character written as a visible escape (`\u{1b}`,
/// `\u{202e}`), so that a file name, secret or advisory text cannot drive the terminal that shows
/// a report. Borrowed unchanged in the common case.
///
/// ```
/// assert_eq!(rampart_core::terminal_safe("a\x1b[2Jb"), "a\\u{1b}[2Jb");
/// assert_eq!(rampart_core::terminal_safe("plain"), "plain");
/// ```
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    escape(s, unsafe_char)
}

/// [`terminal_safe`] for a message of several lines: line feeds and tabs are kept. Used by
/// [`crate::stderr_line!`].
pub fn terminal_safe_text(s: &str) -> Cow<'_, str> {
    escape(s, |c| c != '\n' && c != '\t' && unsafe_char(c))
}

fn escape(s: &str, bad: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::{terminal_safe, terminal_safe_text};

    #[test]
    fn escapes_controls_and_bidi_overrides() {
        assert_eq!(terminal_safe("x\u{0}y\ty\n"), "x\\u{0}y\\u{9}y\\u{a}");
        assert_eq!(terminal_safe("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(
            terminal_safe("invoice\u{202E}fdp.exe"),
            "invoice\\u{202e}fdp.exe"
        );
        assert_eq!(terminal_safe("é → ü 日本"), "é → ü 日本");
        assert_eq!(
            terminal_safe_text("line 1\n\tline 2\r\x1b[K"),
            "line 1\n\tline 2\\u{d}\\u{1b}[K"
        );
    }
}
