//! Which name each string constant of a `.pyc` is assigned to, read from the code objects.
//!
//! `API_KEY = "sk-…"` compiles to `LOAD_CONST i; STORE_NAME j`: the value sits in the code
//! object's constants and the name in its names, so a rule that needs the name (a context rule,
//! a generic `password = …` assignment) never sees both together in the constants alone. This
//! module reads the `marshal` stream properly (CPython's `Python/marshal.c` format, with its
//! back-references) and walks the bytecode of every code object for these shapes:
//!
//! - `LOAD_CONST v; STORE_NAME|STORE_GLOBAL|STORE_FAST n` — `n = v`;
//! - `LOAD_CONST v; LOAD_FAST|LOAD_NAME|LOAD_GLOBAL|LOAD_DEREF o; STORE_ATTR n` — `o.n = v`;
//! - `LOAD_CONST v1 … LOAD_CONST vk; LOAD_CONST (n1, …, nk); BUILD_CONST_KEY_MAP k` —
//!   `{"n1": v1, …}`; and `BUILD_MAP k` over constant keys and values;
//! - keyword arguments whose values are constants: `f(n1=v1)` (`CALL_FUNCTION_KW` before 3.11,
//!   `KW_NAMES` in 3.11 and 3.12, `CALL_KW` since 3.13).
//!
//! CPython 3.8 to 3.14 are read (magic numbers 3400–3439, 3450–3531, 3550–3571, 3600–3627), each
//! with its own opcode numbers ([`Ops`]) and code-object layout. Anything else — another version,
//! a stream that does not parse, or one that does not end exactly where its last object does —
//! gives no assignments, and the caller falls back to the constants alone.

use std::collections::HashMap;
use std::rc::Rc;

/// The opcodes this reads, per CPython version (from each release's `Lib/opcode.py` /
/// `Include/opcode_ids.h`; 3.13 renumbered them all and 3.14 again).
struct Ops {
    load_const: u8,
    store_name: u8,
    store_global: u8,
    store_fast: u8,
    store_attr: u8,
    extended_arg: u8,
    /// Single-push loads of the object an attribute is stored on (`self`, a module, a global).
    loads: &'static [u8],
    /// `BUILD_CONST_KEY_MAP n` (values, then the keys tuple); gone in 3.14.
    const_key_map: Option<u8>,
    /// `BUILD_MAP n` (key, value, key, value…).
    build_map: u8,
    /// How keyword-argument names reach a call.
    kw: Kw,
    /// 3.11+: inline cache entries (opcode 0) between instructions.
    caches: bool,
}

#[derive(Clone, Copy)]
enum Kw {
    /// The names tuple is loaded by the instruction just before this one (`CALL_FUNCTION_KW`
    /// before 3.11, `CALL_KW` since 3.13).
    TupleBefore(u8),
    /// `KW_NAMES consti` names the tuple in its argument (3.11, 3.12).
    KwNames(u8),
}

const OPS_38: Ops = Ops {
    load_const: 100,
    store_name: 90,
    store_global: 97,
    store_fast: 125,
    store_attr: 95,
    extended_arg: 144,
    loads: &[124, 101, 116],
    const_key_map: Some(156),
    build_map: 105,
    kw: Kw::TupleBefore(141),
    caches: false,
};
const OPS_311: Ops = Ops {
    kw: Kw::KwNames(172),
    caches: true,
    ..OPS_38
};
const OPS_312: Ops = Ops {
    loads: &[124, 101, 116, 127], // + LOAD_FAST_CHECK
    ..OPS_311
};
const OPS_313: Ops = Ops {
    load_const: 83,
    store_name: 114,
    store_global: 113,
    store_fast: 110,
    store_attr: 108,
    extended_arg: 71,
    loads: &[85, 92, 91, 87],
    const_key_map: Some(46),
    build_map: 48,
    kw: Kw::TupleBefore(57),
    caches: true,
};
const OPS_314: Ops = Ops {
    load_const: 82,
    store_name: 116,
    store_global: 115,
    store_fast: 112,
    store_attr: 110,
    extended_arg: 69,
    loads: &[84, 93, 92, 88, 86], // + LOAD_FAST_BORROW
    const_key_map: None,
    build_map: 47,
    kw: Kw::TupleBefore(55),
    caches: true,
};

/// Nesting deeper than this is not a compiled module.
const MAX_DEPTH: usize = 200;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// 3.8–3.10: `nlocals`, `co_varnames`, `co_lnotab`.
    Py38,
    /// 3.11–3.14: `co_localsplusnames`, `co_qualname`, exception table.
    Py311,
}

#[derive(Clone)]
enum Obj<'a> {
    Str(&'a [u8]),
    Bytes(&'a [u8]),
    Tuple(Rc<Vec<Obj<'a>>>),
    Code(Rc<Code<'a>>),
    Null,
    Other,
}

struct Code<'a> {
    code: &'a [u8],
    consts: Rc<Vec<Obj<'a>>>,
    names: Vec<&'a [u8]>,
    locals: Vec<&'a [u8]>,
}

struct Reader<'a> {
    d: &'a [u8],
    p: usize,
    refs: Vec<Option<Obj<'a>>>,
    layout: Layout,
    depth: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.d.get(self.p..self.p.checked_add(n)?)?;
        self.p += n;
        Some(s)
    }

    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    fn i32(&mut self) -> Option<i32> {
        self.bytes(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.i32()?).ok()
    }

    fn obj(&mut self) -> Option<Obj<'a>> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let r = self.obj_inner();
        self.depth -= 1;
        r
    }

    fn obj_inner(&mut self) -> Option<Obj<'a>> {
        let code = self.u8()?;
        let (flag, ty) = (code & 0x80 != 0, code & 0x7f);
        // A flagged object gets the next reference slot before its contents are read.
        let slot = flag.then(|| {
            self.refs.push(None);
            self.refs.len() - 1
        });
        let o = match ty {
            b'0' => Obj::Null,
            b'N' | b'F' | b'T' | b'S' | b'.' => Obj::Other,
            b'i' => {
                self.bytes(4)?;
                Obj::Other
            }
            b'l' => {
                let n = self.i32()?.unsigned_abs() as usize;
                self.bytes(n.checked_mul(2)?)?;
                Obj::Other
            }
            b'g' => {
                self.bytes(8)?;
                Obj::Other
            }
            b'y' => {
                self.bytes(16)?;
                Obj::Other
            }
            b'f' => {
                let n = self.u8()? as usize;
                self.bytes(n)?;
                Obj::Other
            }
            b'x' => {
                for _ in 0..2 {
                    let n = self.u8()? as usize;
                    self.bytes(n)?;
                }
                Obj::Other
            }
            b's' => {
                let n = self.len()?;
                Obj::Bytes(self.bytes(n)?)
            }
            b't' | b'u' | b'a' | b'A' => {
                let n = self.len()?;
                Obj::Str(self.bytes(n)?)
            }
            b'z' | b'Z' => {
                let n = self.u8()? as usize;
                Obj::Str(self.bytes(n)?)
            }
            b')' => {
                let n = self.u8()? as usize;
                self.seq(n)?
            }
            b'(' | b'[' | b'<' | b'>' => {
                let n = self.len()?;
                self.seq(n)?
            }
            b'{' => {
                loop {
                    if matches!(self.obj()?, Obj::Null) {
                        break;
                    }
                    self.obj()?;
                }
                Obj::Other
            }
            b'r' => {
                let i = self.len()?;
                return self.refs.get(i)?.clone();
            }
            b'c' => self.code()?,
            // 3.14: a constant slice (start, stop, step).
            b':' => {
                for _ in 0..3 {
                    self.obj()?;
                }
                Obj::Other
            }
            _ => return None,
        };
        if let Some(s) = slot {
            self.refs[s] = Some(o.clone());
        }
        Some(o)
    }

    fn seq(&mut self, n: usize) -> Option<Obj<'a>> {
        // Each element takes at least one byte: a count beyond what is left is corrupt.
        if n > self.d.len() - self.p {
            return None;
        }
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.obj()?);
        }
        Some(Obj::Tuple(Rc::new(v)))
    }

    fn code(&mut self) -> Option<Obj<'a>> {
        let ints = match self.layout {
            Layout::Py38 => 6,
            Layout::Py311 => 5,
        };
        for _ in 0..ints {
            self.i32()?;
        }
        let Obj::Bytes(code) = self.obj()? else {
            return None;
        };
        let Obj::Tuple(consts) = self.obj()? else {
            return None;
        };
        let names = strs(&self.obj()?)?;
        let locals = strs(&self.obj()?)?;
        match self.layout {
            Layout::Py38 => {
                self.obj()?; // freevars
                self.obj()?; // cellvars
                self.obj()?; // filename
                self.obj()?; // name
                self.i32()?; // firstlineno
                self.obj()?; // lnotab
            }
            Layout::Py311 => {
                self.obj()?; // localspluskinds
                self.obj()?; // filename
                self.obj()?; // name
                self.obj()?; // qualname
                self.i32()?; // firstlineno
                self.obj()?; // linetable
                self.obj()?; // exceptiontable
            }
        }
        Some(Obj::Code(Rc::new(Code {
            code,
            consts,
            names,
            locals,
        })))
    }
}

fn strs<'a>(o: &Obj<'a>) -> Option<Vec<&'a [u8]>> {
    match o {
        Obj::Tuple(v) => v
            .iter()
            .map(|x| match x {
                Obj::Str(s) => Some(*s),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// `value → name` for every string constant assigned to a name in `data`, a `.pyc` (see the
/// module docs; a value assigned to several names keeps one of them). Empty when the file is not
/// one this reads.
pub fn assignments(data: &[u8]) -> HashMap<&[u8], String> {
    let mut out = HashMap::new();
    let Some((module, ops)) = module(data) else {
        return out;
    };
    let mut stack = vec![module];
    let mut seen = 0usize;
    while let Some(c) = stack.pop() {
        seen += 1;
        if seen > 100_000 {
            break;
        }
        for k in c.consts.iter() {
            if let Obj::Code(inner) = k {
                stack.push(Rc::clone(inner));
            }
        }
        walk(&c, ops, &mut out);
    }
    out
}

/// Whether `data` is a `.pyc` of a CPython version this reads whose `marshal` stream parses to
/// exactly its end (when it is not, [`assignments`] is empty).
pub fn parses(data: &[u8]) -> bool {
    module(data).is_some()
}

/// The module's code object and the opcodes of its CPython version, when `data` is a `.pyc` of
/// a version this reads and its `marshal` stream parses to exactly its end.
fn module(data: &[u8]) -> Option<(Rc<Code<'_>>, &'static Ops)> {
    if data.len() < 17 {
        return None;
    }
    let magic = u16::from_le_bytes([data[0], data[1]]);
    let (layout, ops) = match magic {
        3400..=3439 => (Layout::Py38, &OPS_38),
        3450..=3495 => (Layout::Py311, &OPS_311),
        3500..=3531 => (Layout::Py311, &OPS_312),
        3550..=3571 => (Layout::Py311, &OPS_313),
        3600..=3627 => (Layout::Py311, &OPS_314),
        _ => return None,
    };
    let mut r = Reader {
        d: data,
        p: 16,
        refs: Vec::new(),
        layout,
        depth: 0,
    };
    let Some(Obj::Code(module)) = r.obj() else {
        return None;
    };
    (r.p == data.len()).then_some((module, ops))
}

fn walk<'a>(c: &Code<'a>, ops: &Ops, out: &mut HashMap<&'a [u8], String>) {
    let text = |i: u32| match c.consts.get(i as usize) {
        Some(Obj::Str(s)) => Some(*s),
        _ => None,
    };
    let name = |v: &[&'a [u8]], i: u32| {
        v.get(i as usize)
            .and_then(|s| std::str::from_utf8(s).ok())
            .map(str::to_string)
    };
    let mut add = |value: &'a [u8], n: Option<String>| {
        if let Some(n) = n {
            out.entry(value).or_insert(n);
        }
    };
    // The instructions, with EXTENDED_ARG folded in and inline caches dropped.
    let mut ins: Vec<(u8, u32)> = Vec::with_capacity(c.code.len() / 2);
    let mut ext = 0u32;
    for w in c.code.chunks_exact(2) {
        let (op, arg) = (w[0], ext | u32::from(w[1]));
        if op == ops.extended_arg {
            ext = arg << 8;
            continue;
        }
        ext = 0;
        if op == 0 && ops.caches {
            continue;
        }
        ins.push((op, arg));
    }
    // The string constants loaded by the `k` instructions ending just before `end`, if all are
    // LOAD_CONST.
    let loaded = |end: usize, k: usize| -> Option<Vec<Option<&'a [u8]>>> {
        let start = end.checked_sub(k)?;
        ins[start..end]
            .iter()
            .map(|&(op, a)| (op == ops.load_const).then(|| text(a)))
            .collect()
    };
    let keys = |a: u32| c.consts.get(a as usize).and_then(strs);
    for (i, &(op, arg)) in ins.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| ins[j]);
        if op == ops.store_name || op == ops.store_global || op == ops.store_fast {
            if let Some((p, v)) = prev
                && p == ops.load_const
                && let Some(value) = text(v)
            {
                let table = if op == ops.store_fast {
                    &c.locals
                } else {
                    &c.names
                };
                add(value, name(table, arg));
            }
        } else if op == ops.store_attr {
            if prev.is_some_and(|p| ops.loads.contains(&p.0))
                && i >= 2
                && ins[i - 2].0 == ops.load_const
                && let Some(value) = text(ins[i - 2].1)
            {
                add(value, name(&c.names, arg));
            }
        } else if op == ops.build_map {
            // Key, value, key, value: pairs of constants only.
            let n = arg as usize;
            if let Some(kv) = loaded(i, n.saturating_mul(2)).filter(|_| n > 0) {
                for pair in kv.chunks_exact(2) {
                    if let [Some(k), Some(v)] = pair {
                        add(v, std::str::from_utf8(k).ok().map(str::to_string));
                    }
                }
            }
        } else {
            // Values, then the names: the keys tuple of a constant-key dict, or the keyword
            // names of a call.
            let (tuple_arg, values_end, dict) = match ops.kw {
                Kw::KwNames(k) if op == k => (arg, i, false),
                Kw::TupleBefore(k) if op == k => match prev {
                    Some((p, t)) if p == ops.load_const => (t, i - 1, false),
                    _ => continue,
                },
                _ if Some(op) == ops.const_key_map => match prev {
                    Some((p, t)) if p == ops.load_const => (t, i - 1, true),
                    _ => continue,
                },
                _ => continue,
            };
            let Some(ks) = keys(tuple_arg) else { continue };
            if dict && ks.len() != arg as usize {
                continue;
            }
            let Some(vals) = loaded(values_end, ks.len()) else {
                continue;
            };
            for (k, v) in ks.iter().zip(vals) {
                if let Some(v) = v {
                    add(v, std::str::from_utf8(k).ok().map(str::to_string));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSIGN: &[u8] = include_bytes!("../../tests/fixtures/pyc/assign.cpython-311.pyc");

    fn pairs(data: &[u8]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = assignments(data)
            .into_iter()
            .map(|(k, n)| (n, String::from_utf8_lossy(k).into_owned()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_cpython_311_module_gives_its_assignments() {
        let got = pairs(ASSIGN);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        // Module names, an attribute, a local, keyword arguments, dict keys; the docstring and
        // the positional argument have no name.
        for n in [
            "DEEPSEEK_API_KEY",
            "TOKEN_PATTERN",
            "DEFAULT_HOST",
            "secret_token",
            "password",
            "host",
            "api_key",
            "name",
        ] {
            assert!(names.contains(&n), "{n} not in {got:?}");
        }
        assert!(!got.iter().any(|(_, v)| v == "Wq5nB8xT2kL7vR3m"), "{got:?}");
        assert!(
            got.contains(&("password".into(), "Zq8wX3vN6mK1pL4s".into())),
            "{got:?}"
        );
    }

    /// A hand-built `.pyc` of CPython `magic` whose module code is `code` over the constants
    /// (`None`, a slice `[:]`, `"s3cr3t-value-0001"`) and the names (`api_token`).
    fn built(magic: u16, code: &[u8]) -> Vec<u8> {
        let mut p = magic.to_le_bytes().to_vec();
        p.extend(b"\r\n");
        p.extend([0; 12]);
        let py38 = magic < 3450;
        p.push(b'c');
        for _ in 0..if py38 { 6 } else { 5 } {
            p.extend(0i32.to_le_bytes());
        }
        p.push(b's');
        p.extend((code.len() as i32).to_le_bytes());
        p.extend(code);
        // consts: None, a slice (3.14's marshal type `:`), the value.
        let value = b"s3cr3t-value-0001";
        p.extend([b')', if magic >= 3600 { 3 } else { 2 }, b'N']);
        if magic >= 3600 {
            p.extend([b':', b'N', b'N', b'N']);
        }
        p.extend([b'z', value.len() as u8]);
        p.extend(value);
        p.extend([b')', 1, b'z', 9]);
        p.extend(b"api_token");
        let empty_tuple = [b')', 0];
        if py38 {
            // varnames, freevars, cellvars, filename, name, firstlineno, lnotab
            p.extend(empty_tuple);
            p.extend(empty_tuple);
            p.extend(empty_tuple);
            p.extend([b'z', 1, b'f', b'z', 1, b'm']);
            p.extend(1i32.to_le_bytes());
            p.extend([b's', 0, 0, 0, 0]);
        } else {
            // localsplusnames, localspluskinds, filename, name, qualname, firstlineno,
            // linetable, exceptiontable
            p.extend(empty_tuple);
            p.extend([b's', 0, 0, 0, 0]);
            p.extend([b'z', 1, b'f', b'z', 1, b'm', b'z', 1, b'm']);
            p.extend(1i32.to_le_bytes());
            p.extend([b's', 0, 0, 0, 0, b's', 0, 0, 0, 0]);
        }
        p
    }

    #[test]
    fn each_version_uses_its_own_opcode_numbers() {
        let slot = |magic: u16| if magic >= 3600 { 2 } else { 1 };
        // (magic, LOAD_CONST, STORE_NAME), from each release's opcode table.
        for (magic, load_const, store_name) in [
            (3413u16, 100u8, 90u8), // 3.8
            (3439, 100, 90),        // 3.10
            (3495, 100, 90),        // 3.11
            (3531, 100, 90),        // 3.12
            (3571, 83, 114),        // 3.13
            (3627, 82, 116),        // 3.14
        ] {
            let code = [load_const, slot(magic), store_name, 0];
            let p = built(magic, &code);
            assert!(parses(&p), "{magic}");
            let got = pairs(&p);
            assert_eq!(
                got,
                [("api_token".to_string(), "s3cr3t-value-0001".to_string())],
                "{magic}"
            );
            // The previous release's numbering reads nothing from the same bytes.
            if magic == 3571 || magic == 3627 {
                let old = built(magic, &[100, slot(magic), 90, 0]);
                assert!(pairs(&old).is_empty(), "{magic}");
            }
        }
        // EXTENDED_ARG (3.14: 69) widens the next argument: constant 2 + 256 does not exist.
        let p = built(3627, &[69, 1, 82, 2, 116, 0]);
        assert!(pairs(&p).is_empty());
    }

    #[test]
    fn damaged_or_unknown_streams_give_nothing_and_never_panic() {
        for cut in 0..ASSIGN.len() {
            assert!(assignments(&ASSIGN[..cut]).is_empty(), "cut at {cut}");
        }
        let mut d = ASSIGN.to_vec();
        for i in 16..d.len() {
            for b in [0x00, 0x29, 0x72, 0xff] {
                let keep = d[i];
                d[i] = b;
                let _ = assignments(&d);
                d[i] = keep;
            }
        }
        // A version this does not know (3.15's first magic, 3650): not read.
        let mut unknown = ASSIGN.to_vec();
        unknown[..2].copy_from_slice(&3650u16.to_le_bytes());
        assert!(assignments(&unknown).is_empty());
        // Deep nesting stops at the limit instead of overflowing the stack.
        let mut deep = ASSIGN[..16].to_vec();
        deep.extend(std::iter::repeat_n([b')', 1], 100_000).flatten());
        assert!(assignments(&deep).is_empty());
        // A reference to a slot that does not exist.
        let mut bad_ref = ASSIGN[..16].to_vec();
        bad_ref.extend([b'r', 9, 0, 0, 0]);
        assert!(assignments(&bad_ref).is_empty());
    }
}
