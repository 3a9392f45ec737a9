//! POSIX tar: only the legacy PyTorch tar layout (`pickle`, `storages`, `tensors`, usually `sys_info`
//! members, written by `torch.save` before 0.4-era zip serialisation) is analysed here; other
//! tarballs are left to the scanner's archive source.

use super::pickle_member;
use crate::Sink;
use crate::pickle::StreamMode;

/// `(name, start, len)` of regular-file members; stops at the first malformed header.
pub fn members(b: &[u8], max: usize) -> Result<Vec<(String, usize, usize)>, String> {
    let mut out = Vec::new();
    let mut p = 0usize;
    while p + 512 <= b.len() {
        let h = &b[p..p + 512];
        if h.iter().all(|&x| x == 0) {
            break;
        }
        let cstr = |s: &[u8]| {
            let e = s.iter().position(|&x| x == 0).unwrap_or(s.len());
            String::from_utf8_lossy(&s[..e]).into_owned()
        };
        let mut name = cstr(&h[0..100]);
        if &h[257..262] == b"ustar" {
            let prefix = cstr(&h[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let size_field = cstr(&h[124..136]);
        let size = u64::from_str_radix(size_field.trim().trim_matches('\0'), 8)
            .map_err(|_| format!("tar header at {p} has a bad size field {size_field:?}"))?;
        let start = p + 512;
        start
            .checked_add(size as usize)
            .filter(|e| *e <= b.len())
            .ok_or_else(|| format!("tar member {name} of {size} bytes runs past the end"))?;
        let kind = h[156];
        // Python's tarfile treats CONTTYPE ('7') as a regular file, as it does '0' and NUL.
        if kind == b'0' || kind == 0 || kind == b'7' {
            out.push((name, start, size as usize));
            if out.len() > max {
                return Err(format!("tar has more than {max} members"));
            }
        }
        p = start + (size as usize).div_ceil(512) * 512;
    }
    Ok(out)
}

/// Analyse a tar archive (legacy PyTorch layout only).
pub fn analyse(sink: &mut Sink, data: &[u8], outer: Option<&str>, _depth: u32) {
    let ms = match members(data, sink.det.limits.max_members) {
        Ok(m) => m,
        Err(e) => {
            sink.skip(outer, format!("tar not analysed: {e}"));
            return;
        }
    };
    let base = |n: &str| n.rsplit('/').next().unwrap_or(n).to_string();
    let names: Vec<String> = ms.iter().map(|(n, _, _)| base(n)).collect();
    // torch's legacy_load extracts only these three; `sys_info` is never read.
    let legacy = ["pickle", "storages", "tensors"]
        .iter()
        .all(|k| names.iter().any(|n| n == k));
    if !legacy {
        return;
    }
    for (name, s, l) in &ms {
        let member = match outer {
            Some(o) => format!("{o}!{name}"),
            None => name.clone(),
        };
        let mode = match base(name).as_str() {
            "pickle" | "sys_info" => StreamMode::Multi,
            "storages" | "tensors" => StreamMode::Resync,
            _ => continue,
        };
        pickle_member(
            sink,
            &data[*s..*s + *l],
            mode,
            "pytorch-legacy-tar",
            Some(&member),
        );
    }
}
