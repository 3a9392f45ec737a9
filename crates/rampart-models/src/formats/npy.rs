//! NumPy `.npy` arrays: an object dtype (`|O`, or an `O` field of a structured dtype) means
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
    if !h.contains("descr") {
        return Err("header has no 'descr' key".into());
    }
    Ok((h, end))
}

/// True when the dtype description in an `.npy` header contains an object type.
pub fn has_object_dtype(header: &str) -> bool {
    let Some(i) = header.find("descr") else {
        return false;
    };
    let after = &header[i + 5..];
    let Some(colon) = after.find(':') else {
        return false;
    };
    let rest = &after[colon + 1..];
    // The descr value ends where the next top-level key starts.
    let end = [
        "'fortran_order'",
        "'shape'",
        "\"fortran_order\"",
        "\"shape\"",
    ]
    .iter()
    .filter_map(|k| rest.find(k))
    .min()
    .unwrap_or(rest.len());
    let descr = &rest[..end];
    let mut in_q: Option<char> = None;
    let mut cur = String::new();
    // In a structured descr, the first string of each `(name, type[, shape])` tuple is a name.
    let mut name_next = false;
    for c in descr.chars() {
        match in_q {
            Some(q) if c == q => {
                let t = cur.trim_start_matches(['<', '>', '|', '=']);
                if !name_next && t.starts_with('O') && t[1..].chars().all(|d| d.is_ascii_digit()) {
                    return true;
                }
                name_next = false;
                cur.clear();
                in_q = None;
            }
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => in_q = Some(c),
            None if c == '(' => name_next = true,
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
    }
}
