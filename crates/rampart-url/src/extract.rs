//! Finding URLs in text: a fast byte scanner for `scheme://…` and `www.…` links.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind};
use std::ops::Range;
use std::sync::OnceLock;

/// Longest URL returned; the rest of a longer run of URL characters is skipped.
pub const MAX_URL_LEN: usize = 64 * 1024;

const SCHEMES: &[&[u8]] = &[b"http", b"https", b"ftp", b"ftps", b"sftp", b"ws", b"wss"];

fn anchors() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .build(["://", "www."])
            .expect("two literal patterns always build")
    })
}

/// Iterator over the URLs in a byte buffer; see [`find_urls`].
pub struct FindUrls<'a> {
    text: &'a [u8],
    pos: usize,
}

/// Find the URLs in `text`: `http`, `https`, `ftp(s)`, `sftp` and `ws(s)` links with `://`, and
/// bare `www.` host names. Yields each URL's byte range in `text` and the URL itself.
///
/// The scan is a single pass over the bytes (an Aho-Corasick search for `://` and `www.`), so it
/// suits large inputs. A URL ends at whitespace, a control byte, a quote, `<`, `>`, a backtick or
/// invalid UTF-8; trailing punctuation (`.`, `,`, `;`, `:`, `!`, `?`) and unbalanced closing
/// brackets are left out, so links in prose and Markdown come out clean. Defanged links
/// (`hxxp://`, `example[.]com`) and scheme-less names other than `www.` are not reported.
///
/// ```
/// let text = b"see https://paypa1.com/login), or www.example.org.";
/// let urls: Vec<_> = rampart_url::find_urls(text).map(|(_, u)| u).collect();
/// assert_eq!(urls, ["https://paypa1.com/login", "www.example.org"]);
/// ```
pub fn find_urls(text: &[u8]) -> FindUrls<'_> {
    FindUrls { text, pos: 0 }
}

fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

/// Length of the UTF-8 character starting at `s[0]` if it is valid and may appear in a URL.
fn url_char_len(s: &[u8]) -> Option<usize> {
    let b = *s.first()?;
    if b < 0x80 {
        let ok = b > b' '
            && b != 0x7f
            && !matches!(
                b,
                b'"' | b'\'' | b'<' | b'>' | b'`' | b'{' | b'}' | b'|' | b'\\' | b'^'
            );
        return ok.then_some(1);
    }
    let len = match b {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let c = std::str::from_utf8(s.get(..len)?).ok()?.chars().next()?;
    let stop = c.is_whitespace()
        || c.is_control()
        || ('\u{3000}'..='\u{303f}').contains(&c) // CJK punctuation
        || ('\u{ff01}'..='\u{ff0f}').contains(&c) // fullwidth punctuation
        || matches!(c, '\u{ff1a}'..='\u{ff20}' | '\u{2018}'..='\u{201f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{200b}');
    (!stop).then_some(len)
}

impl<'a> Iterator for FindUrls<'a> {
    type Item = (Range<usize>, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        while self.pos < text.len() {
            let m = anchors().find(&text[self.pos..])?;
            let (ms, me) = (self.pos + m.start(), self.pos + m.end());
            let start = if m.pattern().as_usize() == 0 {
                // `://`: walk back over the scheme.
                let mut s = ms;
                while s > 0 && ms - s < 16 && is_scheme_byte(text[s - 1]) {
                    s -= 1;
                }
                // The scheme starts at its first letter.
                while s < ms && !text[s].is_ascii_alphabetic() {
                    s += 1;
                }
                let scheme = &text[s..ms];
                if !SCHEMES.iter().any(|k| k.eq_ignore_ascii_case(scheme)) {
                    self.pos = me;
                    continue;
                }
                s
            } else {
                // `www.`: only at the start of a word.
                if ms > 0 {
                    let p = text[ms - 1];
                    if p.is_ascii_alphanumeric()
                        || matches!(p, b'.' | b'-' | b'_' | b'@' | b'/' | b':')
                        || p >= 0x80
                    {
                        self.pos = me;
                        continue;
                    }
                }
                ms
            };
            // Walk forward over URL characters.
            let mut end = me;
            while end < text.len() {
                match url_char_len(&text[end..]) {
                    Some(n) => end += n,
                    None => break,
                }
            }
            self.pos = end.max(me);
            let mut stop = end.min(start + MAX_URL_LEN);
            while !(stop == end || std::str::from_utf8(&text[start..stop]).is_ok()) {
                stop -= 1;
            }
            let stop = trim_end(&text[start..stop]) + start;
            // Something must follow the anchor: a host.
            if stop <= me || (m.pattern().as_usize() == 1 && !text[me..stop].contains(&b'.')) {
                continue;
            }
            if let Ok(s) = std::str::from_utf8(&text[start..stop]) {
                return Some((start..stop, s));
            }
        }
        None
    }
}

/// Length of `url` without trailing punctuation and unbalanced closing brackets.
fn trim_end(url: &[u8]) -> usize {
    let mut end = url.len();
    loop {
        let Some(&last) = url[..end].last() else {
            return end;
        };
        let drop = match last {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'*' => true,
            b')' => count(&url[..end], b'(') < count(&url[..end], b')'),
            b']' => count(&url[..end], b'[') < count(&url[..end], b']'),
            _ => false,
        };
        if !drop {
            return end;
        }
        end -= 1;
    }
}

fn count(s: &[u8], b: u8) -> usize {
    memchr::memchr_iter(b, s).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(t: &[u8]) -> Vec<String> {
        find_urls(t).map(|(_, u)| u.to_string()).collect()
    }

    #[test]
    fn prose_and_markdown() {
        assert_eq!(
            urls(b"Go to https://example.com/a?b=c. Then [x](http://a.example/b_(c)) and (https://q.example/)!"),
            ["https://example.com/a?b=c", "http://a.example/b_(c)", "https://q.example/"]
        );
        assert_eq!(
            urls(b"<a href=\"HTTPS://X.example/\">"),
            ["HTTPS://X.example/"]
        );
        assert_eq!(urls(b"url=https://x.example'"), ["https://x.example"]);
    }

    #[test]
    fn ranges_point_into_the_text() {
        let t = "héllo https://bücher.example/ü ok".as_bytes();
        let (r, u) = find_urls(t).next().unwrap();
        assert_eq!(&t[r], u.as_bytes());
        assert_eq!(u, "https://bücher.example/ü");
    }

    #[test]
    fn rejects_non_urls() {
        assert!(urls(b"javascript:// no, abc://x, ://, http://, www.").is_empty());
        assert!(urls(b"awww.example.com").is_empty());
        assert_eq!(
            urls(b"xhttps://a.example https://b.example"),
            ["https://b.example"]
        );
        assert!(urls(b"").is_empty());
    }

    #[test]
    fn invalid_utf8_ends_a_url() {
        let t = b"http://a.example/\xff\xfe rest http://b.example";
        assert_eq!(urls(t), ["http://a.example/", "http://b.example"]);
    }

    #[test]
    fn long_runs_are_capped() {
        let mut t = b"http://a.example/".to_vec();
        t.extend(std::iter::repeat_n(b'a', MAX_URL_LEN * 2));
        t.extend(b" http://b.example");
        let u = urls(&t);
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].len(), MAX_URL_LEN);
        assert_eq!(u[1], "http://b.example");
    }
}
