//! The pickle analyser: a full opcode walk (protocols 0–5) over a symbolic stack and memo,
//! executing nothing.
//!
//! The walker follows CPython's C unpickler (`_pickle.c`) where it matters for what gets
//! imported: marks fence the stack, `MEMOIZE` stores at the current memo size, `STACK_GLOBAL`
//! takes its operands from whatever the stack holds (including memo fetches), `INST`/`OBJ`/
//! `NEWOBJ(_EX)`/`REDUCE`/`BUILD` build call nodes, `EXT*` and persistent ids are recorded.
//! Every global is recorded the moment its opcode is read, so a stream that breaks later still
//! reports what Python would already have imported and called by then. Where CPython is strict
//! and we are lenient (number literals, UTF-8), we only ever walk further than Python would.
//!
//! Memory is bounded whatever the input: strings and bytes are spans into the input, containers
//! keep at most [`RETAINED_ITEMS`] children, and opcode count, memo size, stack and mark depth,
//! nested-pickle depth and distinct globals all have caps whose overflow is reported as an
//! [`Issue::Cap`] (a finding, since an attacker can use it to hide a payload past the cap).

use crate::policy::{Policy, Verdict, full_name};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Caps on the analysis of one file. The defaults keep peak memory well under 64 MB.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Opcodes walked per file, across all pickles in it.
    pub max_ops: u64,
    /// Distinct memo entries per pickle.
    pub max_memo: usize,
    /// Symbolic stack depth.
    pub max_stack: usize,
    /// Nested marks (open `(`).
    pub max_marks: usize,
    /// Nesting of value trees before it is reported as evasion.
    pub max_value_depth: u32,
    /// Pickles nested in pickles (bytes fed to a loader).
    pub max_nested: u32,
    /// Distinct globals recorded.
    pub max_globals: usize,
    /// Pickles in one stream.
    pub max_pickles: usize,
    /// Bytes decompressed from one archive member or compressed stream.
    pub max_decompressed: u64,
    /// Members of one archive.
    pub max_members: usize,
    /// Archive nesting (zip in zip).
    pub max_archive_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_ops: 50_000_000,
            max_memo: 1_000_000,
            max_stack: 200_000,
            max_marks: 100_000,
            max_value_depth: 1_000,
            max_nested: 4,
            max_globals: 10_000,
            max_pickles: 1_000,
            max_decompressed: 24 << 20,
            max_members: 100_000,
            max_archive_depth: 3,
        }
    }
}

/// Children kept per container for call-chain rendering (the rest are counted, not kept).
pub const RETAINED_ITEMS: usize = 64;

/// Approximate bytes of symbolic nodes after which plain-data containers are no longer kept.
const NODE_BUDGET: usize = 16 << 20;
/// Approximate bytes of symbolic nodes at which analysis stops with a cap finding.
const NODE_HARD_CAP: usize = 28 << 20;

/// One global named by the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalUse {
    /// Module as written in the pickle.
    pub module: String,
    /// Name as written (may be dotted).
    pub name: String,
    /// Normalised dotted path (`module.name`, compat-renamed).
    pub full: String,
    /// Policy verdict.
    pub verdict: Verdict,
    /// The opcode that named it (`GLOBAL`, `STACK_GLOBAL`, `INST`).
    pub opcode: &'static str,
    /// Byte offset of that opcode in the analysed stream.
    pub offset: usize,
    /// Where it sits when not in the top-level stream, e.g.
    /// `nested pickle in argument of torch.storage._load_from_bytes @1234`.
    pub nested: Option<String>,
    /// Calls that reach it, outermost last, rendered as Python-like expressions.
    pub call_chain: Vec<String>,
}

/// Something about the stream itself that is a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Issue {
    /// The stream does not parse to its end (as CPython would read it).
    Parse {
        /// Offset of the failing opcode.
        offset: usize,
        /// What failed.
        message: String,
        /// Nesting context, when inside a nested pickle.
        nested: Option<String>,
    },
    /// A cap was exceeded; analysis stopped there.
    Cap {
        /// Which cap.
        what: String,
        /// Its value.
        limit: u64,
        /// Offset reached.
        offset: usize,
    },
    /// `STACK_GLOBAL` whose module or name is not a constant string.
    DynamicGlobal {
        /// Offset of the opcode.
        offset: usize,
        /// Rendering of the operands.
        detail: String,
    },
    /// `EXT1/2/4`: an import resolved through copyreg's extension registry at load time.
    Extension {
        /// Offset of the opcode.
        offset: usize,
        /// The extension code.
        code: u32,
    },
    /// A loader that unpickles its argument (`torch.storage._load_from_bytes`, `pickle.loads`)
    /// is called on a value computed at load time, so the pickle it runs cannot be analysed.
    OpaqueNested {
        /// Offset of the call.
        offset: usize,
        /// The loader.
        loader: String,
        /// Rendering of the argument.
        detail: String,
    },
    /// Bytes after the last complete pickle that are not another pickle.
    Trailing {
        /// Where they start.
        offset: usize,
        /// How many.
        len: usize,
        /// Why the walker stopped there.
        message: String,
    },
}

/// Result of analysing one pickle stream.
#[derive(Clone, Debug, Default)]
pub struct PickleReport {
    /// Every distinct global named (per nesting context).
    pub globals: Vec<GlobalUse>,
    /// Stream problems.
    pub issues: Vec<Issue>,
    /// Complete pickles walked at the top level.
    pub pickles: usize,
    /// Opcodes walked.
    pub ops: u64,
    /// Highest protocol seen.
    pub protocol: u8,
    /// The stream is a legacy (pre-1.6, non-zip) `torch.save` stream.
    pub torch_legacy: bool,
    /// joblib arrays skipped over inline.
    pub joblib_arrays: usize,
}

impl PickleReport {
    /// Globals that are not allowed by the policy.
    pub fn flagged(&self) -> impl Iterator<Item = &GlobalUse> {
        self.globals
            .iter()
            .filter(|g| g.verdict != Verdict::Allowed)
    }

    /// True when nothing at all is wrong.
    pub fn is_clean(&self) -> bool {
        self.issues.is_empty() && self.flagged().next().is_none()
    }
}

/// How the top-level stream is consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamMode {
    /// Walk every pickle in the stream; non-pickle trailing bytes are an issue.
    Multi,
    /// Walk the first pickle only; trailing bytes are not looked at (e.g. `.npy` object arrays,
    /// where numpy reads exactly one pickle).
    Single,
    /// Walk pickles, and where a pickle fails to parse, resynchronise on the next `PROTO`
    /// opcode (legacy PyTorch tar members, which interleave pickles and raw storage bytes).
    Resync,
}

/// Analyse a stream of pickles.
pub fn analyse(data: &[u8], policy: &Policy, limits: &Limits) -> PickleReport {
    analyse_mode(data, policy, limits, StreamMode::Multi)
}

/// Analyse a stream of pickles with an explicit [`StreamMode`].
pub fn analyse_mode(
    data: &[u8],
    policy: &Policy,
    limits: &Limits,
    mode: StreamMode,
) -> PickleReport {
    let mut ctx = Ctx::new(policy, limits);
    let mut pos = 0usize;
    let mut report = PickleReport::default();
    let mut legacy_left: Option<usize> = None;
    while pos < data.len() {
        if report.pickles >= limits.max_pickles {
            ctx.issues.push(Issue::Cap {
                what: "pickles per stream".into(),
                limit: limits.max_pickles as u64,
                offset: pos,
            });
            break;
        }
        let first = report.pickles == 0;
        let mut w = Walker::new(data, pos, &mut ctx, None);
        let out = w.run();
        report.protocol = report.protocol.max(w.max_proto);
        drop(w);
        match out {
            Outcome::Stop { end, torch_magic } => {
                report.pickles += 1;
                pos = end;
                if first && torch_magic {
                    report.torch_legacy = true;
                    // protocol version, sys_info, the object, the storage keys; raw data follows.
                    legacy_left = Some(4);
                } else if let Some(n) = legacy_left.as_mut() {
                    *n -= 1;
                    if *n == 0 {
                        break;
                    }
                }
                if mode == StreamMode::Single {
                    break;
                }
            }
            Outcome::Error { offset, message } => {
                if first || legacy_left.is_some() {
                    ctx.issues.push(Issue::Parse {
                        offset,
                        message,
                        nested: None,
                    });
                    break;
                }
                match mode {
                    StreamMode::Resync => {
                        match memchr::memmem::find(&data[pos + 1..], b"\x80\x02")
                            .or_else(|| memchr::memmem::find(&data[pos + 1..], b"\x80\x04"))
                        {
                            Some(i) => pos = pos + 1 + i,
                            None => break,
                        }
                    }
                    _ => {
                        ctx.issues.push(Issue::Trailing {
                            offset: pos,
                            len: data.len() - pos,
                            message,
                        });
                        break;
                    }
                }
            }
            Outcome::Cap => break,
        }
    }
    report.ops = ctx.ops;
    report.joblib_arrays = ctx.joblib_arrays;
    report.globals = ctx.globals;
    report.issues = ctx.issues;
    report
}

/// Loaders whose bytes argument is itself unpickled: such arguments are walked strictly.
const NESTED_LOADERS: &[&str] = &[
    "torch.storage._load_from_bytes",
    "pickle.loads",
    "pickle._loads",
    "_pickle.loads",
    "dill.loads",
    "dill._dill.loads",
    "cloudpickle.loads",
    "numpy.loads",
];

struct Ctx<'p> {
    policy: &'p Policy,
    limits: &'p Limits,
    ops: u64,
    globals: Vec<GlobalUse>,
    index: HashMap<(String, Option<String>), u32>,
    issues: Vec<Issue>,
    joblib_arrays: usize,
    capped: bool,
    deep_reported: bool,
    /// Live node bytes (see [`LIVE_NODE_BYTES`]) when this analysis started.
    node_base: usize,
    /// A joblib array wrapper was named: keep every node (its state is decoded).
    joblib_seen: bool,
    /// Byte ranges (by address) already walked as nested pickles, and whether they parsed.
    walked: HashMap<(usize, usize), bool>,
}

impl<'p> Ctx<'p> {
    fn new(policy: &'p Policy, limits: &'p Limits) -> Self {
        Ctx {
            policy,
            limits,
            ops: 0,
            globals: Vec::new(),
            index: HashMap::new(),
            issues: Vec::new(),
            joblib_arrays: 0,
            capped: false,
            deep_reported: false,
            node_base: LIVE_NODE_BYTES.with(|c| c.get()),
            joblib_seen: false,
            walked: HashMap::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SpanKind {
    Str,
    Bytes,
    Long,
}

#[derive(Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float,
    /// Raw bytes in the input: a UTF-8 string, a bytes object, or a little-endian long.
    Span(SpanKind, usize, usize),
    /// A string whose escapes were decoded (protocol 0/1 `STRING`, `UNICODE`).
    Text(Rc<str>),
    Global(u32),
    Node(Rc<RefCell<Node>>),
    /// A plain-data container not kept because the node budget is spent (nothing in it is a
    /// global or a call, so nothing in it matters to the verdict).
    Opaque,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeKind {
    Tuple,
    List,
    Dict,
    Set,
    FrozenSet,
    Call,
    PersId,
}

struct Node {
    kind: NodeKind,
    items: Vec<Value>,
    len: usize,
    /// Non-allowed globals reachable from this node (at most 8).
    flagged: Vec<u32>,
    depth: u32,
    /// State applied by `BUILD` (kept for dtype/joblib decoding).
    state: Option<Value>,
    /// Mutated after creation (so possibly part of a reference cycle): cleared when the walk ends.
    tracked: bool,
    /// Bytes accounted in [`LIVE_NODE_BYTES`] for this node.
    cost: usize,
}

impl Drop for Node {
    fn drop(&mut self) {
        let cost = self.cost;
        LIVE_NODE_BYTES.with(|c| c.set(c.get().saturating_sub(cost)));
    }
}

thread_local! {
    /// Approximate bytes held by live symbolic nodes on this thread (one analysis runs on a
    /// thread at a time; nested walks share it).
    static LIVE_NODE_BYTES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

enum Outcome {
    Stop { end: usize, torch_magic: bool },
    Error { offset: usize, message: String },
    Cap,
}

struct Err(String);

type R<T> = Result<T, Err>;

fn err<T>(m: impl Into<String>) -> R<T> {
    Result::Err(Err(m.into()))
}

struct Memo {
    dense: Vec<Option<Value>>,
    sparse: HashMap<u64, Value>,
    len: usize,
}

const DENSE_MEMO: u64 = 1 << 20;
/// Memo keys far from the dense run (legitimate picklers never need many).
const SPARSE_MEMO: usize = 100_000;

impl Memo {
    fn new() -> Self {
        Memo {
            dense: Vec::new(),
            sparse: HashMap::new(),
            len: 0,
        }
    }
    fn get(&self, k: u64) -> Option<&Value> {
        match self.dense.get(k as usize) {
            Some(Some(v)) => Some(v),
            _ => self.sparse.get(&k),
        }
    }
    /// Returns false when the cap would be exceeded (total entries, or keys far from the dense
    /// run, which legitimate picklers never produce in bulk).
    fn put(&mut self, k: u64, v: Value, cap: usize) -> bool {
        if k < DENSE_MEMO && (k as usize) < self.dense.len() + 256 {
            let i = k as usize;
            if i >= self.dense.len() {
                if self.len >= cap {
                    return false;
                }
                self.dense.resize(i + 1, None);
            }
            if self.dense[i].is_none() {
                if self.sparse.remove(&k).is_some() {
                    self.len -= 1;
                }
                if self.len >= cap {
                    return false;
                }
                self.len += 1;
            }
            self.dense[i] = Some(v);
        } else {
            if !self.sparse.contains_key(&k) {
                if self.len >= cap || self.sparse.len() >= SPARSE_MEMO {
                    return false;
                }
                self.len += 1;
            }
            self.sparse.insert(k, v);
        }
        true
    }
}

struct Walker<'a, 'c, 'p> {
    data: &'a [u8],
    pos: usize,
    ctx: &'c mut Ctx<'p>,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: Memo,
    proto: u8,
    max_proto: u8,
    /// Nesting context label and depth.
    nested: Option<(String, u32)>,
    /// Byte values that look like pickles, walked when this pickle ends (after any loader
    /// call has walked them strictly with a better label).
    pending: Vec<(usize, usize)>,
    /// Containers mutated after creation; their children are released when the walk ends, so
    /// that reference cycles built by the stream (a list appended to itself) do not leak.
    mutated: Vec<std::rc::Weak<RefCell<Node>>>,
}

impl Drop for Walker<'_, '_, '_> {
    fn drop(&mut self) {
        for w in self.mutated.drain(..) {
            if let Some(n) = w.upgrade() {
                if let Ok(mut n) = n.try_borrow_mut() {
                    n.items.clear();
                    n.state = None;
                }
            }
        }
    }
}

fn op_name(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "?",
    }
}

/// The little-endian bytes of legacy torch's magic number 0x1950a86a20f9469cfc6c.
const TORCH_MAGIC_LE: &[u8] = &[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

impl<'a, 'c, 'p> Walker<'a, 'c, 'p> {
    fn new(
        data: &'a [u8],
        pos: usize,
        ctx: &'c mut Ctx<'p>,
        nested: Option<(String, u32)>,
    ) -> Self {
        Walker {
            data,
            pos,
            ctx,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: Memo::new(),
            proto: 0,
            max_proto: 0,
            nested,
            pending: Vec::new(),
            mutated: Vec::new(),
        }
    }

    fn run(&mut self) -> Outcome {
        let out = self.run_ops();
        for (s, l) in std::mem::take(&mut self.pending) {
            if self.ctx.capped {
                break;
            }
            let label = format!("pickle embedded in bytes @{s}");
            let _ = self.walk_nested(s, l, &label, false);
        }
        out
    }

    fn run_ops(&mut self) -> Outcome {
        loop {
            if self.ctx.capped {
                return Outcome::Cap;
            }
            let at = self.pos;
            let Some(&op) = self.data.get(self.pos) else {
                return Outcome::Error {
                    offset: at,
                    message: "stream ends before STOP (truncated pickle)".into(),
                };
            };
            self.pos += 1;
            self.ctx.ops += 1;
            if self.ctx.ops > self.ctx.limits.max_ops {
                return self.cap("opcodes", self.ctx.limits.max_ops, at);
            }
            match self.step(op, at) {
                Ok(Some(v)) => {
                    // The same number with extra sign bytes (`\x00`) is the same magic to Python.
                    let torch_magic = matches!(v, Value::Span(SpanKind::Long, s, l)
                        if l >= TORCH_MAGIC_LE.len()
                            && self.data[s..s + TORCH_MAGIC_LE.len()] == *TORCH_MAGIC_LE
                            && self.data[s + TORCH_MAGIC_LE.len()..s + l].iter().all(|&b| b == 0));
                    return Outcome::Stop {
                        end: self.pos,
                        torch_magic,
                    };
                }
                Ok(None) => {}
                Result::Err(Err(m)) => {
                    if self.ctx.capped {
                        return Outcome::Cap;
                    }
                    return Outcome::Error {
                        offset: at,
                        message: format!("{} at offset {at}: {m}", op_name(op)),
                    };
                }
            }
        }
    }

    fn cap(&mut self, what: &str, limit: u64, offset: usize) -> Outcome {
        self.ctx.issues.push(Issue::Cap {
            what: what.to_string(),
            limit,
            offset,
        });
        self.ctx.capped = true;
        Outcome::Cap
    }

    fn cap_err<T>(&mut self, what: &str, limit: u64) -> R<T> {
        let at = self.pos;
        self.cap(what, limit, at);
        err(format!("{what} cap exceeded"))
    }

    // ---- input ----

    fn take(&mut self, n: usize) -> R<(usize, usize)> {
        if n > self.data.len() - self.pos {
            return err(format!(
                "needs {n} bytes but only {} remain (truncated)",
                self.data.len() - self.pos
            ));
        }
        let s = self.pos;
        self.pos += n;
        Ok((s, n))
    }

    fn u8(&mut self) -> R<u8> {
        let (s, _) = self.take(1)?;
        Ok(self.data[s])
    }

    fn le(&mut self, n: usize) -> R<u64> {
        let (s, _) = self.take(n)?;
        let mut v = 0u64;
        for (i, b) in self.data[s..s + n].iter().enumerate() {
            v |= (*b as u64) << (8 * i);
        }
        Ok(v)
    }

    fn line(&mut self) -> R<&'a [u8]> {
        let rest = &self.data[self.pos..];
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => err("line not terminated by newline (truncated)"),
        }
    }

    // ---- stack ----

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, v: Value) -> R<()> {
        if self.stack.len() >= self.ctx.limits.max_stack {
            return self.cap_err("stack depth", self.ctx.limits.max_stack as u64);
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> R<Value> {
        if self.stack.len() <= self.fence() {
            return err("unpickling stack underflow");
        }
        Ok(self.stack.pop().unwrap_or(Value::Unknown))
    }

    fn top(&self) -> R<&Value> {
        if self.stack.len() <= self.fence() {
            return err("unpickling stack underflow");
        }
        self.stack.last().map_or_else(|| err("empty stack"), Ok)
    }

    fn pop_mark(&mut self) -> R<Vec<Value>> {
        match self.marks.pop() {
            Some(m) => Ok(self.stack.split_off(m.min(self.stack.len()))),
            None => err("could not find MARK"),
        }
    }

    // ---- values ----

    fn flagged_of(&self, v: &Value) -> (Vec<u32>, u32) {
        match v {
            Value::Global(g) => {
                if self.ctx.globals[*g as usize].verdict != Verdict::Allowed {
                    (vec![*g], 0)
                } else {
                    (Vec::new(), 0)
                }
            }
            Value::Node(n) => {
                let n = n.borrow();
                (n.flagged.clone(), n.depth)
            }
            _ => (Vec::new(), 0),
        }
    }

    /// Values nested deeper than the cap are not kept (their globals are): dropping or rendering
    /// a deep chain must not recurse without bound. Reported once per stream.
    fn cut_deep(&mut self, items: &mut [Value]) -> u32 {
        let mut depth = 0;
        let max = self.ctx.limits.max_value_depth;
        for it in items.iter_mut() {
            let (_, d) = self.flagged_of(it);
            if d >= max {
                *it = Value::Unknown;
                if !self.ctx.deep_reported {
                    self.ctx.deep_reported = true;
                    self.ctx.issues.push(Issue::Cap {
                        what: "value nesting".into(),
                        limit: max as u64,
                        offset: self.pos,
                    });
                }
            } else {
                depth = depth.max(d);
            }
        }
        depth
    }

    fn node(&mut self, kind: NodeKind, items: Vec<Value>) -> R<Value> {
        let len = items.len();
        let mut flagged: Vec<u32> = Vec::new();
        for it in &items {
            let (f, _) = self.flagged_of(it);
            for g in f {
                if flagged.len() < 8 && !flagged.contains(&g) {
                    flagged.push(g);
                }
            }
        }
        let plain = |v: &Value| {
            matches!(
                v,
                Value::None
                    | Value::Bool(_)
                    | Value::Int(_)
                    | Value::Float
                    | Value::Span(..)
                    | Value::Text(_)
                    | Value::Opaque
                    | Value::Unknown
            )
        };
        let live = LIVE_NODE_BYTES
            .with(|c| c.get())
            .saturating_sub(self.ctx.node_base);
        if live > NODE_BUDGET
            && !self.ctx.joblib_seen
            && flagged.is_empty()
            && (!matches!(kind, NodeKind::Call | NodeKind::PersId) || items.iter().all(plain))
        {
            return Ok(Value::Opaque);
        }
        if live > NODE_HARD_CAP {
            return self.cap_err("analysis memory (symbolic nodes)", NODE_HARD_CAP as u64);
        }
        let cost = 160 + 24 * items.len().min(RETAINED_ITEMS);
        LIVE_NODE_BYTES.with(|c| c.set(c.get() + cost));
        let mut items = items;
        let depth = self.cut_deep(&mut items) + 1;
        items.truncate(RETAINED_ITEMS);
        Ok(Value::Node(Rc::new(RefCell::new(Node {
            kind,
            items,
            len,
            flagged,
            depth,
            state: None,
            tracked: false,
            cost,
        }))))
    }

    /// Add children to a mutable container node (list/dict/set) on the stack.
    fn extend(&mut self, target: &Value, new: Vec<Value>) -> R<()> {
        if let Value::Node(n) = target {
            let mut flagged = Vec::new();
            for it in &new {
                let (f, _) = self.flagged_of(it);
                flagged.extend(f);
            }
            let mut new = new;
            let depth = self.cut_deep(&mut new);
            // A container appended to itself (or through a cycle) is borrowed already.
            let Ok(mut nb) = n.try_borrow_mut() else {
                return Ok(());
            };
            if !nb.tracked {
                nb.tracked = true;
                self.mutated.push(Rc::downgrade(n));
            }
            let mut n = nb;
            n.len += new.len();
            n.depth = n.depth.max(depth + 1);
            for g in flagged {
                if n.flagged.len() < 8 && !n.flagged.contains(&g) {
                    n.flagged.push(g);
                }
            }
            for it in new {
                if n.items.len() >= RETAINED_ITEMS {
                    break;
                }
                n.cost += 24;
                LIVE_NODE_BYTES.with(|c| c.set(c.get() + 24));
                n.items.push(it);
            }
        }
        Ok(())
    }

    fn str_of(&self, v: &Value) -> Option<String> {
        match v {
            Value::Span(SpanKind::Str, s, l) => {
                Some(String::from_utf8_lossy(&self.data[*s..*s + *l]).into_owned())
            }
            Value::Text(t) => Some(t.to_string()),
            _ => None,
        }
    }

    fn record_global(
        &mut self,
        module: &str,
        name: &str,
        opcode: &'static str,
        at: usize,
    ) -> R<u32> {
        let full = full_name(module, name);
        let nested = self.nested.as_ref().map(|(l, _)| l.clone());
        let key = (full.clone(), nested.clone());
        if let Some(&i) = self.ctx.index.get(&key) {
            return Ok(i);
        }
        if self.ctx.globals.len() >= self.ctx.limits.max_globals {
            return self.cap_err("distinct globals", self.ctx.limits.max_globals as u64);
        }
        let verdict = self.ctx.policy.classify_full(&full);
        if full.ends_with("numpy_pickle.NumpyArrayWrapper") {
            self.ctx.joblib_seen = true;
        }
        let i = self.ctx.globals.len() as u32;
        self.ctx.globals.push(GlobalUse {
            module: module.to_string(),
            name: name.to_string(),
            full,
            verdict,
            opcode,
            offset: at,
            nested,
            call_chain: Vec::new(),
        });
        self.ctx.index.insert(key, i);
        Ok(i)
    }

    fn render(&self, v: &Value, depth: u32, out: &mut String) {
        if out.len() > 240 {
            return;
        }
        match v {
            Value::None => out.push_str("None"),
            Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float => out.push_str("<float>"),
            Value::Span(SpanKind::Long, _, l) => out.push_str(&format!("<long {l} bytes>")),
            Value::Span(SpanKind::Bytes, s, l) => {
                let b = &self.data[*s..*s + (*l).min(24)];
                out.push_str(&format!("b{:?}", String::from_utf8_lossy(b)));
                if *l > 24 {
                    out.push_str(&format!("…({l} bytes)"));
                }
            }
            Value::Span(SpanKind::Str, _, _) | Value::Text(_) => {
                let s = self.str_of(v).unwrap_or_default();
                let t: String = s.chars().take(60).collect();
                out.push_str(&format!("{t:?}"));
                if s.chars().count() > 60 {
                    out.push('…');
                }
            }
            Value::Global(g) => out.push_str(&self.ctx.globals[*g as usize].full),
            Value::Unknown => out.push('?'),
            Value::Opaque => out.push_str("<data>"),
            Value::Node(n) => {
                if depth > 4 {
                    out.push('…');
                    return;
                }
                let Ok(n) = n.try_borrow() else {
                    out.push_str("<cycle>");
                    return;
                };
                let list = |w: &Self, items: &[Value], out: &mut String| {
                    for (i, it) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        if i >= 6 || out.len() > 240 {
                            out.push('…');
                            break;
                        }
                        w.render(it, depth + 1, out);
                    }
                };
                match n.kind {
                    NodeKind::Tuple => {
                        out.push('(');
                        list(self, &n.items, out);
                        out.push(')');
                    }
                    NodeKind::List => {
                        out.push('[');
                        list(self, &n.items, out);
                        out.push(']');
                    }
                    NodeKind::Set | NodeKind::FrozenSet => {
                        out.push('{');
                        list(self, &n.items, out);
                        out.push('}');
                    }
                    NodeKind::Dict => {
                        out.push('{');
                        for (i, kv) in n.items.chunks(2).enumerate() {
                            if i > 0 {
                                out.push_str(", ");
                            }
                            if i >= 4 {
                                out.push('…');
                                break;
                            }
                            self.render(&kv[0], depth + 1, out);
                            out.push_str(": ");
                            if let Some(v) = kv.get(1) {
                                self.render(v, depth + 1, out);
                            }
                        }
                        out.push('}');
                    }
                    NodeKind::PersId => {
                        out.push_str("persistent_load(");
                        list(self, &n.items, out);
                        out.push(')');
                    }
                    NodeKind::Call => {
                        if let Some(c) = n.items.first() {
                            self.render(c, depth + 1, out);
                        }
                        out.push('(');
                        if let Some(Value::Node(a)) = n.items.get(1) {
                            if let Ok(a) = a.try_borrow() {
                                list(self, &a.items, out);
                            }
                        } else if let Some(a) = n.items.get(1) {
                            out.push('*');
                            self.render(a, depth + 1, out);
                        }
                        if let Some(k) = n.items.get(2) {
                            out.push_str(", **");
                            self.render(k, depth + 1, out);
                        }
                        out.push(')');
                    }
                }
            }
        }
    }

    /// Attach a rendered call to the chains of the non-allowed globals it reaches.
    fn note_call(&mut self, v: &Value, prefix: &str) {
        let (flagged, _) = self.flagged_of(v);
        if flagged.is_empty() {
            return;
        }
        let mut s = String::from(prefix);
        self.render(v, 0, &mut s);
        for g in flagged {
            let chain = &mut self.ctx.globals[g as usize].call_chain;
            if chain.len() < 4 && !chain.contains(&s) {
                chain.push(s.clone());
            }
        }
    }

    fn call(
        &mut self,
        op: &'static str,
        callee: Value,
        args: Value,
        kwargs: Option<Value>,
        at: usize,
    ) -> R<Value> {
        let mut items = vec![callee.clone(), args.clone()];
        if let Some(k) = kwargs {
            items.push(k);
        }
        let _ = op;
        let v = self.node(NodeKind::Call, items)?;
        self.note_call(&v, "");
        self.maybe_nested(&callee, &args, at)?;
        Ok(v)
    }

    // ---- nested pickles ----

    fn depth(&self) -> u32 {
        self.nested.as_ref().map_or(0, |(_, d)| *d)
    }

    fn maybe_nested(&mut self, callee: &Value, args: &Value, at: usize) -> R<()> {
        let Value::Global(g) = callee else {
            return Ok(());
        };
        let full = self.ctx.globals[*g as usize].full.clone();
        if !NESTED_LOADERS.contains(&full.as_str()) {
            return Ok(());
        }
        let first = match args {
            Value::Node(n) => n.borrow().items.first().cloned(),
            _ => None,
        };
        let label = format!("nested pickle in argument of {full} @{at}");
        match first {
            Some(Value::Span(SpanKind::Bytes | SpanKind::Str, s, l)) => {
                self.walk_nested(s, l, &label, true)?;
            }
            // Numbers and None are no pickle: the loader raises.
            Some(Value::None | Value::Bool(_) | Value::Int(_) | Value::Float) => {}
            Some(Value::Span(SpanKind::Long, ..)) => {}
            first => match first.as_ref().and_then(|v| self.literal_bytes(v)) {
                Some(buf) => self.walk_nested_owned(&buf, &label)?,
                None => {
                    let mut detail = String::new();
                    match &first {
                        Some(v) => self.render(v, 0, &mut detail),
                        None => self.render(args, 0, &mut detail),
                    }
                    self.ctx.issues.push(Issue::OpaqueNested {
                        offset: at,
                        loader: full,
                        detail,
                    });
                }
            },
        }
        Ok(())
    }

    /// The bytes a loader argument evaluates to, when they are written as a literal the walker
    /// can evaluate: a decoded protocol 0/1 string, or `_codecs.encode(<literal str>, <codec>)`,
    /// which is how protocols 0–2 write a `bytes` object (`latin1`; `utf-8`/`ascii` also
    /// accepted). `None` for anything computed otherwise.
    fn literal_bytes(&self, v: &Value) -> Option<Vec<u8>> {
        let latin1 = |t: &str| -> Option<Vec<u8>> {
            t.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
        };
        match v {
            Value::Text(t) => latin1(t),
            Value::Node(n) => {
                let n = n.try_borrow().ok()?;
                if !self.is_call_to(&n, |f| f == "_codecs.encode") {
                    return None;
                }
                let Some(Value::Node(a)) = n.items.get(1) else {
                    return None;
                };
                let a = a.try_borrow().ok()?;
                if a.kind != NodeKind::Tuple || a.len > 3 {
                    return None;
                }
                let text = self.str_of(a.items.first()?)?;
                let codec = match a.items.get(1) {
                    Some(c) => self.str_of(c)?,
                    None => "utf-8".to_string(),
                };
                match codec.to_ascii_lowercase().replace('_', "-").as_str() {
                    "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "l1" | "cp819" => {
                        latin1(&text)
                    }
                    "utf-8" | "utf8" | "ascii" | "us-ascii" => Some(text.into_bytes()),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Whether `n` calls a global whose dotted name satisfies `full`.
    fn is_call_to(&self, n: &Node, full: impl Fn(&str) -> bool) -> bool {
        n.kind == NodeKind::Call
            && matches!(n.items.first(), Some(Value::Global(g))
                if full(&self.ctx.globals[*g as usize].full))
    }

    /// Walk `data[s..s+l]` as a nested pickle. `strict`: report its parse errors.
    fn walk_nested(&mut self, s: usize, l: usize, label: &str, strict: bool) -> R<()> {
        let whole: &'a [u8] = self.data;
        let data = &whole[s..s + l];
        let key = (data.as_ptr() as usize, l);
        match self.ctx.walked.get(&key) {
            Some(true) => return Ok(()),
            Some(false) if !strict => return Ok(()),
            _ => {}
        }
        let ok = self.walk_nested_in(data, label, strict)?;
        if self.ctx.walked.len() < 100_000 {
            self.ctx.walked.insert(key, ok);
        }
        Ok(())
    }

    /// Walk bytes the walker evaluated (not a span of the input) as a nested pickle, strictly.
    fn walk_nested_owned(&mut self, data: &[u8], label: &str) -> R<()> {
        self.walk_nested_in(data, label, true).map(|_| ())
    }

    /// Walk `data` as the stream a loader reads: one pickle, or, when it opens with legacy
    /// torch's magic number (what `torch.storage._load_from_bytes` gets), the four pickles that
    /// follow it too. Returns whether it parsed.
    fn walk_nested_in(&mut self, data: &[u8], label: &str, strict: bool) -> R<bool> {
        let depth = self.depth() + 1;
        if depth > self.ctx.limits.max_nested {
            return self.cap_err("nested pickle depth", self.ctx.limits.max_nested as u64);
        }
        let label = match &self.nested {
            Some((outer, _)) => format!("{outer} > {label}"),
            None => label.to_string(),
        };
        let before_globals = self.ctx.globals.len();
        let before_issues = self.ctx.issues.len();
        let mut pos = 0usize;
        let mut left = 1u32;
        let out = loop {
            let out = {
                let mut w = Walker::new(data, pos, self.ctx, Some((label.clone(), depth)));
                w.run()
            };
            match out {
                Outcome::Stop { end, torch_magic } => {
                    if pos == 0 && torch_magic {
                        left = 5;
                    }
                    left -= 1;
                    pos = end;
                    if left == 0 || pos >= data.len() {
                        break out;
                    }
                }
                other => break other,
            }
        };
        match out {
            Outcome::Stop { .. } => Ok(true),
            Outcome::Cap => err("cap exceeded in nested pickle"),
            Outcome::Error { offset, message } => {
                if strict {
                    self.ctx.issues.push(Issue::Parse {
                        offset,
                        message,
                        nested: Some(label),
                    });
                } else {
                    // Opportunistic: bytes that merely look like a pickle. Keep what it named
                    // only if it named something not allowed; drop its own parse noise.
                    self.ctx.issues.truncate(before_issues);
                    let named_bad = self.ctx.globals[before_globals..]
                        .iter()
                        .any(|g| g.verdict != Verdict::Allowed);
                    if !named_bad {
                        for g in self.ctx.globals.drain(before_globals..) {
                            self.ctx.index.remove(&(g.full, g.nested));
                        }
                    }
                }
                Ok(false)
            }
        }
    }

    // ---- joblib ----

    fn dict_get(&self, d: &Node, key: &str) -> Option<Value> {
        for kv in d.items.chunks(2) {
            if self.str_of(&kv[0]).as_deref() == Some(key) {
                return kv.get(1).cloned();
            }
        }
        None
    }

    /// `(itemsize, hasobject)` of a symbolic `numpy.dtype(...)` value.
    fn dtype_info(&self, v: &Value, depth: u32) -> Option<(u64, bool)> {
        if depth > 8 {
            return None;
        }
        let Value::Node(n) = v else { return None };
        let n = n.borrow();
        if !self.is_call_to(&n, |f| f == "numpy.dtype") {
            return None;
        }
        let Some(Value::Node(args)) = n.items.get(1) else {
            return None;
        };
        let code = self.str_of(args.borrow().items.first()?)?;
        let hasobject_field = || -> bool {
            // Structured dtypes: fields are in the BUILD state (names, fields dict of (dtype, offset)).
            if let Some(Value::Node(st)) = &n.state {
                let st = st.borrow();
                if let Some(Value::Node(fields)) = st.items.get(4) {
                    let fields = fields.borrow();
                    for kv in fields.items.chunks(2) {
                        if let Some(Value::Node(t)) = kv.get(1) {
                            if let Some(f) = t.borrow().items.first() {
                                if let Some((_, true)) = self.dtype_info(f, depth + 1) {
                                    return true;
                                }
                            }
                        }
                    }
                }
            }
            false
        };
        let elsize_from_state = || -> Option<u64> {
            if let Some(Value::Node(st)) = &n.state {
                if let Some(Value::Int(e)) = st.borrow().items.get(5) {
                    if *e > 0 {
                        return Some(*e as u64);
                    }
                }
            }
            None
        };
        match numpy_type_code(&code)? {
            NumpyType::Object => Some((8, true)),
            NumpyType::Void(n) => Some((elsize_from_state().unwrap_or(n), hasobject_field())),
            NumpyType::Flexible(n) => Some((elsize_from_state().unwrap_or(n), false)),
            NumpyType::Fixed(n) => Some((n, false)),
        }
    }

    /// After `BUILD` of a `NumpyArrayWrapper`, skip the raw array bytes joblib wrote inline (or
    /// walk the nested pickle of an object array). Mirrors joblib's `read_array`.
    fn joblib_after_build(&mut self, inst: &Value) -> R<()> {
        let Value::Node(n) = inst else { return Ok(()) };
        let (is_wrapper, state) = {
            let n = n.borrow();
            let is = self.is_call_to(&n, |f| f.ends_with("numpy_pickle.NumpyArrayWrapper"));
            (is, n.state.clone())
        };
        if !is_wrapper {
            return Ok(());
        }
        let Some(Value::Node(st)) = state else {
            return err("joblib NumpyArrayWrapper without a state dict");
        };
        let st = st.borrow();
        let shape = self.dict_get(&st, "shape");
        let dtype = self.dict_get(&st, "dtype");
        let align = self.dict_get(&st, "numpy_array_alignment_bytes");
        drop(st);
        let Some((itemsize, hasobject)) = dtype.as_ref().and_then(|d| self.dtype_info(d, 0)) else {
            let mut d = String::new();
            if let Some(v) = &dtype {
                self.render(v, 0, &mut d);
            }
            return err(format!(
                "joblib array with a dtype whose item size is unknown ({d}): the raw array bytes cannot be skipped, so the rest of the file could not be analysed"
            ));
        };
        self.ctx.joblib_arrays += 1;
        if hasobject {
            let start = self.pos;
            let label = format!("joblib object array @{start}");
            let depth = self.depth() + 1;
            if depth > self.ctx.limits.max_nested {
                return self.cap_err("nested pickle depth", self.ctx.limits.max_nested as u64);
            }
            let out = {
                let mut w = Walker::new(self.data, start, self.ctx, Some((label, depth)));
                w.run()
            };
            return match out {
                Outcome::Stop { end, .. } => {
                    self.pos = end;
                    Ok(())
                }
                Outcome::Cap => err("cap exceeded in joblib object array"),
                Outcome::Error { message, .. } => err(format!("joblib object array: {message}")),
            };
        }
        let mut count: u64 = 1;
        match &shape {
            Some(Value::Node(t)) => {
                for d in &t.borrow().items {
                    match d {
                        Value::Int(x) if *x >= 0 => {
                            count = count
                                .checked_mul(*x as u64)
                                .ok_or_else(|| Err("joblib array shape overflows".into()))?;
                        }
                        _ => return err("joblib array shape is not a tuple of ints"),
                    }
                }
            }
            _ => return err("joblib array without a shape"),
        }
        if matches!(align, Some(Value::Int(_))) {
            let pad = self.u8()? as usize;
            self.take(pad)?;
        }
        let bytes = count
            .checked_mul(itemsize)
            .ok_or_else(|| Err("joblib array size overflows".into()))?;
        if bytes > (self.data.len() - self.pos) as u64 {
            return err(format!(
                "joblib array data of {bytes} bytes runs past the end of the stream"
            ));
        }
        self.pos += bytes as usize;
        Ok(())
    }

    // ---- the opcodes ----

    fn int_line(&mut self) -> R<Value> {
        let l = self.line()?;
        let s = String::from_utf8_lossy(l);
        let t = s.trim().trim_end_matches('L').replace('_', "");
        match t.as_str() {
            "00" => return Ok(Value::Bool(false)),
            "01" => return Ok(Value::Bool(true)),
            _ => {}
        }
        // int() of anything but digits (after a sign) raises, and the load with it: text that
        // merely starts with `I` or `L` is not a pickle.
        let digits = t.strip_prefix(['+', '-']).unwrap_or(&t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return err(format!(
                "invalid literal for int(): {:?}",
                t.chars().take(40).collect::<String>()
            ));
        }
        Ok(t.parse::<i64>().map(Value::Int).unwrap_or(Value::Unknown))
    }

    /// A protocol 0 `FLOAT` line, checked as Python's `float()` would.
    fn float_line(&mut self) -> R<()> {
        let l = self.line()?;
        let s = String::from_utf8_lossy(l);
        let t = s.trim();
        // Underscores only between digits (PEP 515).
        let b = t.as_bytes();
        let ok_underscores = b.iter().enumerate().all(|(i, &c)| {
            c != b'_'
                || (i > 0
                    && i + 1 < b.len()
                    && b[i - 1].is_ascii_digit()
                    && b[i + 1].is_ascii_digit())
        });
        if ok_underscores && t.replace('_', "").parse::<f64>().is_ok() {
            Ok(())
        } else {
            err(format!(
                "could not convert string to float: {:?}",
                t.chars().take(40).collect::<String>()
            ))
        }
    }

    fn memo_key_line(&mut self) -> R<u64> {
        let l = self.line()?;
        let s = String::from_utf8_lossy(l);
        let t = s.trim();
        if t.starts_with('-') {
            return err("negative memo index");
        }
        // CPython reads the key with PyLong_FromString: `+1` and `0_0` are keys too.
        let t = t.strip_prefix('+').unwrap_or(t).replace('_', "");
        t.parse::<u64>()
            .map_err(|_| Err(format!("invalid memo index {t:?}")))
    }

    fn get(&mut self, k: u64) -> R<()> {
        match self.memo.get(k).cloned() {
            Some(v) => self.push(v),
            None => err(format!("memo value not found at index {k}")),
        }
    }

    fn put(&mut self, k: u64) -> R<()> {
        let v = self.top()?.clone();
        if !self.memo.put(k, v, self.ctx.limits.max_memo) {
            if self.memo.len >= self.ctx.limits.max_memo {
                return self.cap_err("memo entries", self.ctx.limits.max_memo as u64);
            }
            return self.cap_err("sparse memo keys", SPARSE_MEMO as u64);
        }
        Ok(())
    }

    fn global_lines(&mut self) -> R<(String, String)> {
        let m = self.line()?;
        let n = self.line()?;
        let (Ok(m), Ok(n)) = (std::str::from_utf8(m), std::str::from_utf8(n)) else {
            return err("GLOBAL module or name is not UTF-8");
        };
        Ok((m.to_string(), n.to_string()))
    }

    fn step(&mut self, op: u8, at: usize) -> R<Option<Value>> {
        match op {
            b'(' => {
                if self.marks.len() >= self.ctx.limits.max_marks {
                    return self.cap_err("open marks", self.ctx.limits.max_marks as u64);
                }
                self.marks.push(self.stack.len());
            }
            b'.' => {
                let v = self.pop()?;
                return Ok(Some(v));
            }
            b'0' => {
                if self.stack.len() > self.fence() {
                    self.stack.pop();
                } else if self.marks.pop().is_none() {
                    return err("unpickling stack underflow");
                }
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let v = self.top()?.clone();
                self.push(v)?;
            }
            b'F' => {
                self.float_line()?;
                self.push(Value::Float)?;
            }
            b'G' => {
                self.take(8)?;
                self.push(Value::Float)?;
            }
            b'I' | b'L' => {
                let v = self.int_line()?;
                self.push(v)?;
            }
            b'J' => {
                let v = self.le(4)? as u32 as i32 as i64;
                self.push(Value::Int(v))?;
            }
            b'K' => {
                let v = self.u8()? as i64;
                self.push(Value::Int(v))?;
            }
            b'M' => {
                let v = self.le(2)? as i64;
                self.push(Value::Int(v))?;
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    self.u8()? as u64
                } else {
                    let n = self.le(4)? as u32 as i32;
                    if n < 0 {
                        return err("LONG pickle has negative byte count");
                    }
                    n as u64
                };
                let (s, l) = self.take(n as usize)?;
                let v = if l <= 7 {
                    let mut x: i64 = 0;
                    for (i, b) in self.data[s..s + l].iter().enumerate() {
                        x |= (*b as i64) << (8 * i);
                    }
                    if l > 0 && self.data[s + l - 1] & 0x80 != 0 {
                        x -= 1i64 << (8 * l);
                    }
                    Value::Int(x)
                } else {
                    Value::Span(SpanKind::Long, s, l)
                };
                self.push(v)?;
            }
            b'N' => self.push(Value::None)?,
            0x88 => self.push(Value::Bool(true))?,
            0x89 => self.push(Value::Bool(false))?,
            b'P' => {
                let l = self.line()?;
                let s = String::from_utf8_lossy(l).into_owned();
                let v = self.node(NodeKind::PersId, vec![Value::Text(s.into())])?;
                self.push(v)?;
            }
            b'Q' => {
                let pid = self.pop()?;
                let v = self.node(NodeKind::PersId, vec![pid])?;
                self.note_call(&v, "");
                self.push(v)?;
            }
            b'R' => {
                let args = self.pop()?;
                let callee = self.pop()?;
                let v = self.call("REDUCE", callee, args, None, at)?;
                self.push(v)?;
            }
            b'S' => {
                let l = self.line()?;
                let l = trim_ascii_end(l);
                if l.len() < 2 || l[0] != l[l.len() - 1] || (l[0] != b'\'' && l[0] != b'"') {
                    return err("the STRING opcode argument must be quoted");
                }
                let s = escape_decode(&l[1..l.len() - 1]);
                self.push(Value::Text(s.into()))?;
            }
            b'T' | b'U' => {
                let n = if op == b'T' {
                    let n = self.le(4)? as u32 as i32;
                    if n < 0 {
                        return err("BINSTRING pickle has negative byte count");
                    }
                    n as usize
                } else {
                    self.u8()? as usize
                };
                let (s, l) = self.take(n)?;
                self.push(latin1_or_span(self.data, s, l))?;
                self.bytes_hook(s, l)?;
            }
            b'V' => {
                let l = self.line()?;
                let s = raw_unicode_escape_decode(l);
                self.push(Value::Text(s.into()))?;
            }
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'X' => self.le(4)?,
                    0x8c => self.u8()? as u64,
                    _ => self.le(8)?,
                };
                if n > (self.data.len() - self.pos) as u64 {
                    return err("string length runs past the end of the stream (truncated)");
                }
                let (s, l) = self.take(n as usize)?;
                self.push(Value::Span(SpanKind::Str, s, l))?;
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                let n = match op {
                    b'B' => self.le(4)?,
                    b'C' => self.u8()? as u64,
                    _ => self.le(8)?,
                };
                if n > (self.data.len() - self.pos) as u64 {
                    return err("bytes length runs past the end of the stream (truncated)");
                }
                let (s, l) = self.take(n as usize)?;
                self.push(Value::Span(SpanKind::Bytes, s, l))?;
                self.bytes_hook(s, l)?;
            }
            b'a' => {
                if self.stack.len() < self.fence() + 2 {
                    return err("unpickling stack underflow");
                }
                let v = self.pop()?;
                let t = self.top()?.clone();
                self.extend(&t, vec![v])?;
            }
            b'e' | 0x90 => {
                let items = self.pop_mark()?;
                let t = self.top()?.clone();
                self.extend(&t, items)?;
            }
            b's' => {
                if self.stack.len() < self.fence() + 3 {
                    return err("unpickling stack underflow");
                }
                let v = self.pop()?;
                let k = self.pop()?;
                let t = self.top()?.clone();
                self.extend(&t, vec![k, v])?;
            }
            b'u' => {
                let items = self.pop_mark()?;
                if items.len() % 2 != 0 {
                    return err("odd number of items for SETITEMS");
                }
                let t = self.top()?.clone();
                self.extend(&t, items)?;
            }
            b'l' => {
                let items = self.pop_mark()?;
                let v = self.node(NodeKind::List, items)?;
                self.push(v)?;
            }
            b']' => {
                let v = self.node(NodeKind::List, Vec::new())?;
                self.push(v)?;
            }
            b'd' => {
                let items = self.pop_mark()?;
                if items.len() % 2 != 0 {
                    return err("odd number of items for DICT");
                }
                let v = self.node(NodeKind::Dict, items)?;
                self.push(v)?;
            }
            b'}' => {
                let v = self.node(NodeKind::Dict, Vec::new())?;
                self.push(v)?;
            }
            b't' => {
                let items = self.pop_mark()?;
                let v = self.node(NodeKind::Tuple, items)?;
                self.push(v)?;
            }
            b')' => {
                let v = self.node(NodeKind::Tuple, Vec::new())?;
                self.push(v)?;
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if self.stack.len() < self.fence() + n {
                    return err("unpickling stack underflow");
                }
                let items = self.stack.split_off(self.stack.len() - n);
                let v = self.node(NodeKind::Tuple, items)?;
                self.push(v)?;
            }
            0x8f => {
                let v = self.node(NodeKind::Set, Vec::new())?;
                self.push(v)?;
            }
            0x91 => {
                let items = self.pop_mark()?;
                let v = self.node(NodeKind::FrozenSet, items)?;
                self.push(v)?;
            }
            b'c' => {
                let (m, n) = self.global_lines()?;
                let g = self.record_global(&m, &n, "GLOBAL", at)?;
                self.push(Value::Global(g))?;
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                match (self.str_of(&module), self.str_of(&name)) {
                    (Some(m), Some(n)) => {
                        let g = self.record_global(&m, &n, "STACK_GLOBAL", at)?;
                        self.push(Value::Global(g))?;
                    }
                    _ => {
                        let mut d = String::new();
                        self.render(&module, 0, &mut d);
                        d.push_str(", ");
                        self.render(&name, 0, &mut d);
                        self.ctx.issues.push(Issue::DynamicGlobal {
                            offset: at,
                            detail: d,
                        });
                        self.push(Value::Unknown)?;
                    }
                }
            }
            b'i' => {
                let (m, n) = self.global_lines()?;
                let g = self.record_global(&m, &n, "INST", at)?;
                let items = self.pop_mark()?;
                let args = self.node(NodeKind::Tuple, items)?;
                let v = self.call("INST", Value::Global(g), args, None, at)?;
                self.push(v)?;
            }
            b'o' => {
                let mut items = self.pop_mark()?;
                if items.is_empty() {
                    return err("unpickling stack underflow (OBJ without a class)");
                }
                let rest = items.split_off(1);
                let cls = items.pop().unwrap_or(Value::Unknown);
                let args = self.node(NodeKind::Tuple, rest)?;
                let v = self.call("OBJ", cls, args, None, at)?;
                self.push(v)?;
            }
            0x81 => {
                let args = self.pop()?;
                let cls = self.pop()?;
                let v = self.call("NEWOBJ", cls, args, None, at)?;
                self.push(v)?;
            }
            0x92 => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                let v = self.call("NEWOBJ_EX", cls, args, Some(kwargs), at)?;
                self.push(v)?;
            }
            b'b' => {
                if self.stack.len() < self.fence() + 2 {
                    return err("unpickling stack underflow");
                }
                let state = self.pop()?;
                let inst = self.top()?.clone();
                if let Value::Node(n) = &inst {
                    let (f, _) = self.flagged_of(&state);
                    if let Ok(mut nb) = n.try_borrow_mut() {
                        if !nb.tracked {
                            nb.tracked = true;
                            self.mutated.push(Rc::downgrade(n));
                        }
                        let mut n = nb;
                        n.state = Some(state.clone());
                        for g in f {
                            if n.flagged.len() < 8 && !n.flagged.contains(&g) {
                                n.flagged.push(g);
                            }
                        }
                    }
                }
                let (fs, _) = self.flagged_of(&state);
                if !fs.is_empty() {
                    let mut s = String::new();
                    self.render(&inst, 0, &mut s);
                    s.push_str(".__setstate__(");
                    self.render(&state, 0, &mut s);
                    s.push(')');
                    for g in fs {
                        let chain = &mut self.ctx.globals[g as usize].call_chain;
                        if chain.len() < 4 && !chain.contains(&s) {
                            chain.push(s.clone());
                        }
                    }
                }
                self.joblib_after_build(&inst)?;
            }
            b'g' => {
                let k = self.memo_key_line()?;
                self.get(k)?;
            }
            b'h' => {
                let k = self.u8()? as u64;
                self.get(k)?;
            }
            b'j' => {
                let k = self.le(4)?;
                self.get(k)?;
            }
            b'p' => {
                let k = self.memo_key_line()?;
                self.put(k)?;
            }
            b'q' => {
                let k = self.u8()? as u64;
                self.put(k)?;
            }
            b'r' => {
                let k = self.le(4)?;
                self.put(k)?;
            }
            0x94 => {
                let k = self.memo.len as u64;
                self.put(k)?;
            }
            0x82..=0x84 => {
                let code = match op {
                    0x82 => self.u8()? as u32,
                    0x83 => self.le(2)? as u32,
                    _ => self.le(4)? as u32,
                };
                if code == 0 {
                    return err("EXT specifies code <= 0");
                }
                self.ctx.issues.push(Issue::Extension { offset: at, code });
                self.push(Value::Unknown)?;
            }
            0x80 => {
                let v = self.u8()?;
                if v > 5 {
                    return err(format!("unsupported pickle protocol: {v}"));
                }
                self.proto = v;
                self.max_proto = self.max_proto.max(v);
            }
            0x95 => {
                let n = self.le(8)?;
                if n > (self.data.len() - self.pos) as u64 {
                    // The C unpickler stops here, but the pure-Python one (used by joblib) runs
                    // the opcodes of a short frame: keep walking, and report the lie.
                    self.ctx.issues.push(Issue::Parse {
                        offset: at,
                        message: format!(
                            "FRAME at offset {at}: frame length {n} exceeds the {} bytes that remain",
                            self.data.len() - self.pos
                        ),
                        nested: self.nested.as_ref().map(|(l, _)| l.clone()),
                    });
                }
            }
            0x97 => self.push(Value::Unknown)?,
            0x98 => {
                self.top()?;
            }
            _ => return err(format!("invalid load key {:?} (0x{op:02x})", op as char)),
        }
        Ok(None)
    }

    /// Bytes that start like a protocol-2+ pickle are walked opportunistically.
    fn bytes_hook(&mut self, s: usize, l: usize) -> R<()> {
        if l >= 8
            && self.data[s] == 0x80
            && (2..=5).contains(&self.data[s + 1])
            && self.pending.len() < 1000
        {
            self.pending.push((s, l));
        }
        Ok(())
    }
}

fn trim_ascii_end(l: &[u8]) -> &[u8] {
    let mut e = l.len();
    while e > 0 && l[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    &l[..e]
}

fn latin1_or_span(data: &[u8], s: usize, l: usize) -> Value {
    // Protocol 0–2 byte strings: Python 3 decodes them (ASCII by default) into str, so they can
    // feed STACK_GLOBAL. Keep them as string spans when ASCII, else as bytes.
    if data[s..s + l].is_ascii() {
        Value::Span(SpanKind::Str, s, l)
    } else {
        Value::Span(SpanKind::Bytes, s, l)
    }
}

/// Python's `codecs.escape_decode` (used for protocol-0 `STRING`), decoded as Latin-1.
fn escape_decode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().min(4096));
    let mut i = 0;
    while i < b.len() && out.len() < 65536 {
        let c = b[i];
        i += 1;
        if c != b'\\' || i >= b.len() {
            out.push(c as char);
            continue;
        }
        let e = b[i];
        i += 1;
        match e {
            b'\n' => {}
            b'\\' => out.push('\\'),
            b'\'' => out.push('\''),
            b'"' => out.push('"'),
            b'a' => out.push('\x07'),
            b'b' => out.push('\x08'),
            b'f' => out.push('\x0c'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'v' => out.push('\x0b'),
            b'x' => {
                let h = b.get(i..i + 2).and_then(|h| std::str::from_utf8(h).ok());
                match h.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v as char);
                        i += 2;
                    }
                    None => out.push_str("\\x"),
                }
            }
            b'0'..=b'7' => {
                let mut v = (e - b'0') as u32;
                let mut k = 0;
                while k < 2 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + (b[i] - b'0') as u32;
                    i += 1;
                    k += 1;
                }
                out.push(char::from_u32(v & 0xff).unwrap_or('?'));
            }
            other => {
                out.push('\\');
                out.push(other as char);
            }
        }
    }
    out
}

/// Python's `raw_unicode_escape` decoding (protocol-0 `UNICODE`): only `\uXXXX` and
/// `\UXXXXXXXX` are escapes; other bytes are Latin-1.
fn raw_unicode_escape_decode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().min(4096));
    let mut i = 0;
    while i < b.len() && out.len() < 65536 {
        let c = b[i];
        if c == b'\\' && i + 1 < b.len() && (b[i + 1] == b'u' || b[i + 1] == b'U') {
            let n = if b[i + 1] == b'u' { 4 } else { 8 };
            if let Some(h) = b.get(i + 2..i + 2 + n) {
                if let Some(ch) = std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
                {
                    out.push(ch);
                    i += 2 + n;
                    continue;
                }
            }
        }
        out.push(c as char);
        i += 1;
    }
    out
}

/// What a numpy type string passed to `numpy.dtype(...)` is, for sizing joblib's raw arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumpyType {
    /// `O`: the array body is a pickle.
    Object,
    /// `V…`: a structured or raw-bytes type (size from the `BUILD` state when there is one).
    Void(u64),
    /// `S…`/`a…`/`U…`: sized by the number (from the state when there is one).
    Flexible(u64),
    /// A fixed-size type of this many bytes.
    Fixed(u64),
}

/// Size a numpy type string as `numpy.dtype(code)` does on a 64-bit platform: one-letter
/// codes (`d` is 8 bytes, `e` 2, `g` 16, `G` 32…), kind + byte count (`<f8`, `u1`, `M8[ns]`),
/// and the common names (`float64`, `int`, `bool`…). `None` when it cannot be sized: the
/// caller must not guess.
fn numpy_type_code(code: &str) -> Option<NumpyType> {
    use NumpyType::*;
    let t = code.strip_prefix(['<', '>', '|', '=']).unwrap_or(code);
    let letters: String = t
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '?' || *c == '_')
        .collect();
    let rest = &t[letters.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let tail = &rest[digits.len()..];
    let num: Option<u64> = if digits.is_empty() {
        None
    } else {
        Some(digits.parse().ok()?)
    };
    // Only datetime units may follow the number.
    let datetime_unit = matches!(letters.as_str(), "M" | "m" | "datetime" | "timedelta")
        && tail.starts_with('[')
        && tail.ends_with(']');
    if !tail.is_empty() && !datetime_unit {
        return None;
    }
    let one = |n: u64| if num.is_none() { Some(Fixed(n)) } else { None };
    let sized = |allowed: &[u64]| num.filter(|n| allowed.contains(n)).map(Fixed);
    match letters.as_str() {
        "O" | "object" | "object_" => match num {
            None | Some(4) | Some(8) => Some(Object),
            _ => None,
        },
        "V" | "void" => Some(Void(num.unwrap_or(0))),
        "S" | "a" | "bytes" | "bytes_" => Some(Flexible(num.unwrap_or(0))),
        "U" | "str" | "str_" => Some(Flexible(num.unwrap_or(0).checked_mul(4)?)),
        "?" | "bool" | "bool_" => one(1),
        "b" => num.map_or(Some(Fixed(1)), |n| (n == 1).then_some(Fixed(1))),
        "B" | "h" | "H" | "i" | "I" | "l" | "L" | "q" | "Q" | "p" | "P" | "n" | "N" | "e" | "f"
        | "d" | "g" | "F" | "D" | "G"
            if num.is_none() =>
        {
            Some(Fixed(match letters.as_str() {
                "B" => 1,
                "h" | "H" | "e" => 2,
                "i" | "I" | "f" => 4,
                "g" | "D" => 16,
                "G" => 32,
                _ => 8,
            }))
        }
        "i" | "u" => sized(&[1, 2, 4, 8]),
        "f" => sized(&[2, 4, 8, 16]),
        // `c` alone is `S1`.
        "c" if num.is_none() => Some(Fixed(1)),
        "c" => sized(&[8, 16, 32]),
        "M" | "m" => num.map_or(Some(Fixed(8)), |n| (n == 8).then_some(Fixed(8))),
        "int" | "uint" => match num {
            None => Some(Fixed(8)),
            Some(b @ (8 | 16 | 32 | 64)) => Some(Fixed(b / 8)),
            _ => None,
        },
        "float" => match num {
            None => Some(Fixed(8)),
            Some(b @ (16 | 32 | 64 | 128)) => Some(Fixed(b / 8)),
            _ => None,
        },
        "complex" => match num {
            None => Some(Fixed(16)),
            Some(b @ (64 | 128 | 256)) => Some(Fixed(b / 8)),
            _ => None,
        },
        "datetime" | "timedelta" => (num == Some(64)).then_some(Fixed(8)),
        "byte" | "ubyte" => one(1),
        "short" | "ushort" | "half" => one(2),
        "intc" | "uintc" | "single" => one(4),
        "long" | "ulong" | "longlong" | "ulonglong" | "intp" | "uintp" | "double" => one(8),
        "longdouble" | "clongdouble" if num.is_none() => {
            Some(Fixed(if letters == "longdouble" { 16 } else { 32 }))
        }
        "csingle" => one(8),
        "cdouble" => one(16),
        _ => None,
    }
}

/// First opcodes of a protocol 0/1 text pickle (the cheap pre-filter of
/// [`looks_like_pickle_with`]).
const TEXT_STARTERS: &[u8] = b"(cdl]}ti)NIKJFSVXUTGLMhgq";

/// Binary opcodes that can open a pickle without a `PROTO` header: CPython's unpickler runs
/// any opcode whatever protocol is declared, so `\x8c\x02os…` (SHORT_BINUNICODE), a `FRAME`
/// or an `EMPTY_SET` first is as much a pickle as `\x80\x04…`. These are the opcodes that push
/// something (or, for `FRAME`, need nothing) on an empty stack; the rest fail at once.
const BINARY_STARTERS: &[u8] = &[
    b'B', b'C', 0x82, 0x83, 0x84, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x95, 0x96,
];

/// True when `b0` can be the first opcode of a pickle worth walking (a cheap pre-filter).
pub fn pickle_starter(b0: u8) -> bool {
    b0 == 0x80 || TEXT_STARTERS.contains(&b0) || BINARY_STARTERS.contains(&b0)
}

/// True when `head`, the first bytes of a longer stream, reads as the start of a pickle: a
/// `PROTO` opcode, a stream [`looks_like_pickle`] accepts, or a walk from a plausible first
/// opcode that runs out of input before anything fails (used to decide whether a compressed
/// stream is worth decompressing in full).
pub fn looks_like_pickle_prefix(head: &[u8]) -> bool {
    let Some(&b0) = head.first() else {
        return false;
    };
    if !pickle_starter(b0) {
        return false;
    }
    if looks_like_pickle(head) {
        return true;
    }
    let limits = Limits {
        max_ops: 100_000,
        ..Limits::default()
    };
    let policy = Policy::builtin();
    let mut ctx = Ctx::new(&policy, &limits);
    let out = Walker::new(head, 0, &mut ctx, None).run();
    matches!(out, Outcome::Error { message, .. } if message.contains("truncated"))
}

/// True when `data` plausibly starts a pickle: a `PROTO` opcode, or a stream whose first pickle
/// walks to `STOP` (or names a global before failing).
pub fn looks_like_pickle(data: &[u8]) -> bool {
    looks_like_pickle_with(data, true)
}

/// [`looks_like_pickle`], where `lenient` says whether a stream that names a global and then
/// fails to parse still counts. Protocol 0 is text: a file of words, one per line, that starts
/// with `c` or `i` reads as `GLOBAL`/`INST` (`ct\nm.j\n…`, NLTK's `abbrev_types.txt`;
/// `inspect_evals\nregister_tooling\n`, a wheel's `top_level.txt`). So the lenient reading is
/// kept for names that say "model" ([`crate::formats::model_extension`]) and for content
/// without a name; anything else must walk to `STOP`.
///
/// A stream without `PROTO` counts when its first pickle walks to `STOP` and is the whole
/// input, names a global (a dotted name), or — for a first byte that is not ASCII and content
/// that is not text — spans more than 16 bytes; under any name, a stream that
/// opens with a non-ASCII opcode and names a global the policy does not allow before failing
/// counts too (Python has run it by then).
pub fn looks_like_pickle_with(data: &[u8], lenient: bool) -> bool {
    if data.len() >= 2 && data[0] == 0x80 && (1..=5).contains(&data[1]) {
        return true;
    }
    // Cheap pre-filter on the first opcode.
    let Some(&b0) = data.first() else {
        return false;
    };
    if !TEXT_STARTERS.contains(&b0) && !BINARY_STARTERS.contains(&b0) {
        return false;
    }
    // Text: a protocol 0/1 opening, or printable bytes whatever the opcode (`CHANGELOG\n…`
    // opens with SHORT_BINBYTES `C`, its length byte `H`).
    let head = &data[..data.len().min(256)];
    let text = TEXT_STARTERS.contains(&b0)
        || head
            .iter()
            .all(|&c| (0x20..0x7f).contains(&c) || matches!(c, b'\t' | b'\n' | b'\r'));
    // Text files often start with these letters: require the first pickle to walk cleanly,
    // or to name a global whose module and name are identifiers.
    let limits = Limits {
        max_ops: 100_000,
        ..Limits::default()
    };
    let policy = Policy::builtin();
    let mut ctx = Ctx::new(&policy, &limits);
    let out = Walker::new(data, 0, &mut ctx, None).run();
    let ident = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    };
    let named = |g: &GlobalUse| ident(&g.module) && ident(&g.name);
    match out {
        Outcome::Stop { end, .. } => {
            // A one-opcode "pickle" like `N.` inside text is not enough evidence, nor is a
            // "global" that is not a dotted name (text read as `c` + two lines). A first pickle
            // that names no global runs no code, so text followed by more text is not one.
            end >= 3
                && (end == data.len()
                    || ctx.globals.iter().any(named)
                    || (end > 16 && !text && !b0.is_ascii()))
        }
        _ if !lenient => {
            !text
                && !b0.is_ascii()
                && ctx
                    .globals
                    .iter()
                    .any(|g| g.verdict != Verdict::Allowed && named(g))
        }
        _ => ctx.globals.iter().any(named),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[u8]) -> PickleReport {
        analyse(data, &Policy::builtin(), &Limits::default())
    }

    fn flagged(r: &PickleReport) -> Vec<String> {
        r.flagged().map(|g| g.full.clone()).collect()
    }

    #[test]
    fn protocol0_global_reduce() {
        let r = run(b"cos\nsystem\n(S'echo pwned'\ntR.");
        assert_eq!(flagged(&r), ["os.system"]);
        assert_eq!(r.globals[0].verdict, Verdict::Dangerous);
        assert_eq!(r.globals[0].call_chain, ["os.system(\"echo pwned\")"]);
        assert!(r.issues.is_empty(), "{:?}", r.issues);
    }

    #[test]
    fn stack_global_from_memo() {
        // "os" and "system" are memoised first, then fetched with BINGET for STACK_GLOBAL.
        let mut p = vec![0x80, 4];
        p.extend(b"\x8c\x02os\x94\x8c\x06system\x94\x8c\x01x\x940");
        p.extend(b"0");
        p.extend(b"h\x00h\x01\x93\x8c\x02id\x85R.");
        let r = run(&p);
        assert_eq!(flagged(&r), ["os.system"], "{:?}", r.issues);
        assert!(r.globals[0].call_chain[0].starts_with("os.system(\"id\""));
    }

    #[test]
    fn dynamic_stack_global_is_reported() {
        // STACK_GLOBAL whose module is the result of a call.
        let p = b"\x80\x04\x8c\x08builtins\x8c\x03str\x93)R\x8c\x06system\x93.";
        let r = run(p);
        assert!(
            r.issues
                .iter()
                .any(|i| matches!(i, Issue::DynamicGlobal { .. })),
            "{:?}",
            r.issues
        );
    }

    #[test]
    fn parse_error_after_payload_keeps_payload() {
        let r = run(b"cos\nsystem\n(S'id'\ntR\xff");
        assert_eq!(flagged(&r), ["os.system"]);
        assert!(matches!(r.issues[0], Issue::Parse { .. }));
    }

    #[test]
    fn multiple_pickles_in_one_stream() {
        let r = run(b"N.cos\nsystem\n(S'id'\ntR.");
        assert_eq!(r.pickles, 2);
        assert_eq!(flagged(&r), ["os.system"]);
    }

    #[test]
    fn nested_pickle_in_loader_argument() {
        let inner = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";
        let mut p = b"\x80\x02ctorch.storage\n_load_from_bytes\nq\x00C".to_vec();
        p.push(inner.len() as u8);
        p.extend(inner);
        p.extend(b"\x85R.");
        let r = run(&p);
        assert_eq!(flagged(&r), ["posix.system"]);
        assert!(r.globals.iter().any(|g| {
            g.nested
                .as_deref()
                .unwrap_or("")
                .contains("_load_from_bytes")
        }));
    }

    #[test]
    fn caps_are_findings_not_crashes() {
        let mut p = vec![b'('; 200_000];
        p.push(b'.');
        let r = run(&p);
        assert!(
            r.issues.iter().any(|i| matches!(i, Issue::Cap { .. })),
            "{:?}",
            r.issues
        );
        let limits = Limits {
            max_ops: 10,
            ..Limits::default()
        };
        let r = analyse(&[b'N', b'0'].repeat(100), &Policy::builtin(), &limits);
        assert!(
            r.issues
                .iter()
                .any(|i| matches!(i, Issue::Cap { what, .. } if what == "opcodes"))
        );
    }

    #[test]
    fn marks_fence_the_stack() {
        // REDUCE with its operands below an open mark is an underflow in CPython.
        let r = run(b"cos\nsystem\n(S'id'\nt(R.");
        assert!(matches!(r.issues[0], Issue::Parse { .. }));
        assert_eq!(flagged(&r), ["os.system"]);
    }

    #[test]
    fn escapes_in_protocol0_strings_are_decoded() {
        // STACK_GLOBAL fed by STRING opcodes whose text is hex-escaped.
        let r = run(b"\x80\x04S'\\x6fs'\nS'sys\\x74em'\n\x93S'id'\n\x85R.");
        assert_eq!(flagged(&r), ["os.system"], "{:?}", r.issues);
    }

    #[test]
    fn benign_plain_data_is_clean() {
        let r = run(b"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94K\x01u.");
        assert!(r.is_clean(), "{:?} {:?}", r.issues, r.globals);
    }

    #[test]
    fn numpy_item_sizes() {
        use NumpyType::*;
        for (code, want) in [
            ("d", Some(Fixed(8))),
            ("<f8", Some(Fixed(8))),
            ("e", Some(Fixed(2))),
            ("g", Some(Fixed(16))),
            ("G", Some(Fixed(32))),
            ("F", Some(Fixed(8))),
            ("?", Some(Fixed(1))),
            ("b1", Some(Fixed(1))),
            ("q", Some(Fixed(8))),
            ("i", Some(Fixed(4))),
            ("u2", Some(Fixed(2))),
            ("c16", Some(Fixed(16))),
            ("M8[ns]", Some(Fixed(8))),
            ("float32", Some(Fixed(4))),
            ("int", Some(Fixed(8))),
            ("|O", Some(Object)),
            ("object", Some(Object)),
            ("V16", Some(Void(16))),
            ("U5", Some(Flexible(20))),
            ("d8", None),
            ("f3", None),
            ("x7", None),
            ("f8junk", None),
        ] {
            assert_eq!(numpy_type_code(code), want, "{code}");
        }
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_pickle(b"\x80\x04N."));
        assert!(looks_like_pickle(b"cos\nsystem\n(S'id'\ntR."));
        assert!(!looks_like_pickle(b"cmake_minimum_required(VERSION 3.1)\n"));
        assert!(!looks_like_pickle(b"Import this\n"));
        assert!(!looks_like_pickle(b"{\"a\": 1}"));
        // Word lists read as GLOBAL/INST and then fail: pickles only under a model's name.
        for text in [
            &b"ct\nm.j\nt\na.c\nn.h\n"[..],
            b"inspect_evals\nregister_tooling\n",
        ] {
            assert!(looks_like_pickle_with(text, true));
            assert!(!looks_like_pickle_with(text, false));
        }
        // A complete protocol 0 pickle is one under any name.
        assert!(looks_like_pickle_with(b"cos\nsystem\n(S'id'\ntR.", false));
    }
}
