//! NumPy `.npy` arrays: an object dtype (`|O`, `object`, `T`, or an object field of a
//! structured dtype, with the header read as `ast.literal_eval` reads it, the last duplicate
//! key winning) means
//! the array body is a pickle, which `numpy.load(allow_pickle=True)` runs.

use super::pickle_member;
use crate::Sink;
use crate::pickle::StreamMode;

/// Header of an `.npy` file: `(header text, offset of the body)`.
pub fn header(data: &[u8]) -> Result<(&str, usize), String> {
    if !data.starts_with(b"\x93NUMPY") || data.len() < 10 {
        return Err("not an .npy file (bad magic or truncated)".into());
    }
    let major = data[6];
    let (len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([data[8], data[9]]) as usize, 10),
        2 | 3 => {
            let b = data.get(8..12).ok_or("truncated header length")?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let end = start.checked_add(len).ok_or("header length overflows")?;
    let h = data
        .get(start..end)
        .ok_or_else(|| format!("header of {len} bytes runs past the end of the file"))?;
    let h = std::str::from_utf8(h).map_err(|_| "header is not text".to_string())?;
    // No textual check for `descr`: Python reads escapes in the key (`'d\x65scr'`).
    Ok((h, end))
}

/// A Python literal as `ast.literal_eval` reads an `.npy` header (only what matters here).
#[derive(Clone, Debug, PartialEq)]
enum Lit {
    Str(String),
    Tuple(Vec<Lit>),
    List(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
    /// Numbers, `True`/`False`/`None`, and anything else that is no container or string.
    Other,
}

/// Recursive-descent reader of Python literal syntax (strings with escapes and implicit
/// concatenation, tuples, lists, dicts, sets, comments). Depth and input are bounded.
struct LitParser<'h> {
    b: &'h [u8],
    pos: usize,
}

impl LitParser<'_> {
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if c.is_ascii_whitespace() || c == b'\\' {
                self.pos += 1;
            } else if c == b'#' {
                while self.b.get(self.pos).is_some_and(|&c| c != b'\n') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        // Optional prefix letters (b, r, u, f are all letters before a quote).
        let mut raw = false;
        while let Some(&c) = self.b.get(self.pos) {
            if c.is_ascii_alphabetic() {
                raw |= c == b'r' || c == b'R';
                self.pos += 1;
            } else {
                break;
            }
        }
        let q = *self.b.get(self.pos)?;
        if q != b'\'' && q != b'"' {
            return None;
        }
        let triple = self.b.get(self.pos..self.pos + 3) == Some(&[q, q, q][..]);
        self.pos += if triple { 3 } else { 1 };
        let mut out = Vec::new();
        loop {
            let c = *self.b.get(self.pos)?;
            if c == q && (!triple || self.b.get(self.pos..self.pos + 3) == Some(&[q, q, q][..])) {
                self.pos += if triple { 3 } else { 1 };
                break;
            }
            self.pos += 1;
            if c == b'\\' && !raw {
                let e = *self.b.get(self.pos)?;
                self.pos += 1;
                match e {
                    b'\n' => {}
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'0'..=b'7' => out.push(e - b'0'),
                    b'x' => {
                        let h = self.b.get(self.pos..self.pos + 2)?;
                        let v = u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
                        self.pos += 2;
                        out.push(v);
                    }
                    b'u' | b'U' => {
                        let n = if e == b'u' { 4 } else { 8 };
                        let h = self.b.get(self.pos..self.pos + n)?;
                        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
                        self.pos += n;
                        let mut buf = [0u8; 4];
                        out.extend(char::from_u32(v)?.encode_utf8(&mut buf).as_bytes());
                    }
                    other => out.push(other),
                }
            } else {
                out.push(c);
            }
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    fn items(&mut self, close: u8, depth: u32) -> Option<(Vec<Lit>, bool)> {
        let mut v = Vec::new();
        let mut comma = false;
        loop {
            self.ws();
            if self.b.get(self.pos) == Some(&close) {
                self.pos += 1;
                return Some((v, comma));
            }
            v.push(self.value(depth + 1)?);
            self.ws();
            match self.b.get(self.pos) {
                Some(b',') => {
                    comma = true;
                    self.pos += 1;
                }
                Some(&c) if c == close => {}
                _ => return None,
            }
        }
    }

    fn value(&mut self, depth: u32) -> Option<Lit> {
        if depth > 64 {
            return None;
        }
        self.ws();
        let c = *self.b.get(self.pos)?;
        match c {
            b'(' => {
                self.pos += 1;
                let (mut v, comma) = self.items(b')', depth)?;
                Some(if v.len() == 1 && !comma {
                    v.pop()?
                } else {
                    Lit::Tuple(v)
                })
            }
            b'[' => {
                self.pos += 1;
                Some(Lit::List(self.items(b']', depth)?.0))
            }
            b'{' => {
                self.pos += 1;
                let mut kv = Vec::new();
                let mut set = Vec::new();
                loop {
                    self.ws();
                    if self.b.get(self.pos) == Some(&b'}') {
                        self.pos += 1;
                        break;
                    }
                    let k = self.value(depth + 1)?;
                    self.ws();
                    if self.b.get(self.pos) == Some(&b':') {
                        self.pos += 1;
                        let v = self.value(depth + 1)?;
                        kv.push((k, v));
                    } else {
                        set.push(k);
                    }
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {}
                        _ => return None,
                    }
                }
                Some(if set.is_empty() {
                    Lit::Dict(kv)
                } else {
                    Lit::List(set)
                })
            }
            _ if c == b'\'' || c == b'"' || c.is_ascii_alphabetic() && self.quote_follows() => {
                // Adjacent literals concatenate: 'ob' 'ject' is 'object'.
                let mut s = self.string()?;
                loop {
                    let save = self.pos;
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(&c)
                            if c == b'\''
                                || c == b'"'
                                || c.is_ascii_alphabetic() && self.quote_follows() =>
                        {
                            s.push_str(&self.string()?);
                        }
                        _ => {
                            self.pos = save;
                            break;
                        }
                    }
                }
                Some(Lit::Str(s))
            }
            _ => {
                // A number, name or sign: up to the next delimiter.
                let start = self.pos;
                while let Some(&c) = self.b.get(self.pos) {
                    if b",:)]}".contains(&c) || c.is_ascii_whitespace() && self.pos > start {
                        break;
                    }
                    self.pos += 1;
                }
                (self.pos > start).then_some(Lit::Other)
            }
        }
    }

    /// A string prefix (`b'…'`, `rb"…"`) starts here.
    fn quote_follows(&self) -> bool {
        let rest = &self.b[self.pos..];
        let n = rest
            .iter()
            .take(3)
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        n <= 2 && matches!(rest.get(n), Some(b'\'' | b'"'))
    }
}

/// The header dict's `descr` value, as numpy reads it (`ast.literal_eval`; the last of
/// duplicate keys wins). `None` when the header is not a literal dict this reader understands.
fn descr_value(header: &str) -> Option<Lit> {
    let mut p = LitParser {
        b: header.as_bytes(),
        pos: 0,
    };
    let Lit::Dict(kv) = p.value(0)? else {
        return None;
    };
    p.ws();
    if p.pos != header.len() && header.as_bytes()[p.pos..].iter().any(|c| *c != 0) {
        return None;
    }
    kv.into_iter()
        .rev()
        .find(|(k, _)| *k == Lit::Str("descr".into()))
        .map(|(_, v)| v)
}

/// True when `np.dtype(s)` of a type string has `hasobject`: `O`/`O4`/`O8`, `object`,
/// `object_`, `T` (StringDType, stored pickled), with a byte-order mark or a subarray shape
/// (`(2,)O`, `2O`), or any such part of a comma-separated string (`f8,O`).
fn object_type_str(s: &str) -> bool {
    // Subarray shapes go: `(2,)O` is `O`, and their commas separate nothing.
    let mut flat = String::with_capacity(s.len());
    let mut depth = 0u32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => flat.push(c),
            _ => {}
        }
    }
    flat.split(',').any(|part| {
        let mut t = part.trim();
        t = t.trim_start_matches(|c: char| c.is_ascii_digit());
        t = t.strip_prefix(['<', '>', '|', '=']).unwrap_or(t);
        matches!(t, "object" | "object_" | "T")
            || t.strip_prefix('O')
                .is_some_and(|d| d.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Whether a `descr` value makes numpy's `descr_to_dtype` build a dtype with an object part:
/// a type string, a `(subtype, shape)` tuple, or a sequence of fields `(name, type[, shape])`
/// at any depth.
fn descr_has_object(d: &Lit, depth: u32) -> bool {
    if depth > 64 {
        return true;
    }
    match d {
        Lit::Str(s) => object_type_str(s),
        Lit::Tuple(t) => t.first().is_some_and(|s| descr_has_object(s, depth + 1)),
        Lit::List(fields) => fields.iter().any(|f| field_has_object(f, depth + 1)),
        // Iterating a dict yields its keys.
        Lit::Dict(kv) => kv.iter().any(|(k, _)| field_has_object(k, depth + 1)),
        Lit::Other => false,
    }
}

/// A field unpacks as `name, type[, shape]`; a 2- or 3-character string unpacks too.
fn field_has_object(f: &Lit, depth: u32) -> bool {
    match f {
        Lit::Tuple(v) | Lit::List(v) => v.get(1).is_some_and(|t| descr_has_object(t, depth)),
        Lit::Str(s) => {
            let cs: Vec<char> = s.chars().collect();
            matches!(cs.len(), 2 | 3) && object_type_str(&cs[1].to_string())
        }
        Lit::Dict(kv) => kv.get(1).is_some_and(|(k, _)| descr_has_object(k, depth)),
        Lit::Other => false,
    }
}

/// True when the dtype description in an `.npy` header contains an object type, read as numpy
/// reads it. A header this reader cannot parse counts when any quoted string in it is an object
/// type (erring towards analysing the body).
pub fn has_object_dtype(header: &str) -> bool {
    if let Some(d) = descr_value(header) {
        return descr_has_object(&d, 0);
    }
    let mut in_q: Option<char> = None;
    let mut cur = String::new();
    for c in header.chars() {
        match in_q {
            Some(q) if c == q => {
                if object_type_str(&cur) {
                    return true;
                }
                cur.clear();
                in_q = None;
            }
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => in_q = Some(c),
            None => {}
        }
    }
    false
}

/// Analyse an `.npy` file (standalone or an `.npz` member).
pub fn analyse(sink: &mut Sink, data: &[u8], member: Option<&str>, format: &str) {
    match header(data) {
        Ok((h, body)) => {
            if has_object_dtype(h) {
                // numpy reads exactly one pickle after the header.
                pickle_member(sink, &data[body..], StreamMode::Single, format, member);
            }
        }
        Err(e) => sink.skip(
            member,
            format!("malformed .npy: {e}; not analysed (numpy cannot load it either)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_dtypes() {
        assert!(has_object_dtype(
            "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"
        ));
        assert!(has_object_dtype(
            "{'descr': [('a', '<f8'), ('b', '|O')], 'fortran_order': False, 'shape': (2,), }"
        ));
        assert!(!has_object_dtype(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
        ));
        assert!(!has_object_dtype(
            "{'descr': [('O', '<f8')], 'fortran_order': False, 'shape': (2,), }"
        ));
        assert!(has_object_dtype(
            "{'descr': [('O', '|O')], 'fortran_order': False, 'shape': (2,), }"
        ));
        // Spellings numpy accepts (review bypass #3), and names/titles that are not types.
        for (h, want) in [
            (
                "{'descr': 'object', 'fortran_order': False, 'shape': (1,), }",
                true,
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'descr': '|O', }",
                true,
            ),
            (
                "{'descr': '|O', 'fortran_order': False, 'shape': (1,), 'descr': '<f8', }",
                false,
            ),
            (
                "{'descr': [('a', 'object')], 'fortran_order': False, 'shape': (1,), }",
                true,
            ),
            (
                "{'descr': [(('t', 'O'), '<f8')], 'fortran_order': False, 'shape': (1,), }",
                false,
            ),
            (
                "{'descr': [('a', [('b', 'O8', (2,))])], 'fortran_order': False, 'shape': (1,), }",
                true,
            ),
            (
                "{'descr': ('O', (2,)), 'fortran_order': False, 'shape': (1,), }",
                true,
            ),
            (
                "{'descr': 'f8, O', 'fortran_order': False, 'shape': (1,), }",
                true,
            ),
            (
                "{'descr': 'f8,(2,)O', 'fortran_order': False, 'shape': (1,), }",
                true,
            ),
            (
                "{'descr': '2O', 'fortran_order': False, 'shape': (1,), }",
                true,
            ),
            (
                "{'descr': '(2,3)<f8', 'fortran_order': False, 'shape': (1,), }",
                false,
            ),
            (
                "{'descr': 'ob' 'ject', 'fortran_order': False, 'shape': (1,), }",
                true,
            ),
            (
                "{'descr': \"T\", 'fortran_order': False, 'shape': (1,), } # x",
                true,
            ),
            (
                "{'descr': ['aO'], 'fortran_order': False, 'shape': (1,), }",
                true,
            ),
            (
                "{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }",
                false,
            ),
        ] {
            assert_eq!(has_object_dtype(h), want, "{h}");
        }
    }
}
