//! Which Python globals a model file may name: the built-in allowlist, the built-in list of
//! known-dangerous globals, and user extensions loaded from a `--model-policy` TOML file.
//!
//! Everything is matched on the *full dotted path* (`module.name`), after the protocol-2
//! compatibility renames Python itself applies (`__builtin__` → `builtins`, `copy_reg` →
//! `copyreg`, …). Dotted names (`torch` + `serialization.load`) are therefore judged like the
//! attribute they resolve to (`torch.serialization.load`).

use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;

/// The verdict on one global.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// On the allowlist (built-in or policy file).
    Allowed,
    /// Not on the allowlist and not known to be dangerous: `high`.
    Unknown,
    /// Known to run code, read or write files, open sockets, import modules or reach
    /// Python internals: `critical`.
    Dangerous,
}

/// Errors loading a policy file.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read model policy {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid policy TOML.
    #[error("invalid model policy {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with line and column when known.
        message: String,
    },
    /// An entry is not a dotted Python name (optionally ending in `.*`).
    #[error(
        "invalid model policy {path}: entry `{entry}` in `{list}` is not a dotted Python name like `pkg.module.Class` or `pkg.module.*`"
    )]
    Entry {
        /// The file.
        path: String,
        /// `allow` or `deny`.
        list: &'static str,
        /// The offending entry.
        entry: String,
    },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
}

/// The global allowlist/denylist used to judge pickle globals and Keras `module` references.
///
/// A policy file is TOML with two optional arrays of dotted names; `pkg.*` covers every name in
/// `pkg` and its submodules:
///
/// ```toml
/// allow = ["mylab.models.ResNetCustom", "mylab.layers.*"]
/// deny  = ["numpy.load"]   # treated as dangerous (critical)
/// ```
///
/// `allow` never overrides the built-in dangerous list: `os.system` stays critical whatever the
/// file says, so a policy cannot silently re-open code execution.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    allow_exact: HashSet<String>,
    allow_prefix: Vec<String>,
    deny_exact: HashSet<String>,
    deny_prefix: Vec<String>,
}

impl Policy {
    /// The built-in policy only.
    pub fn builtin() -> Self {
        Policy::default()
    }

    /// Parse a policy from TOML text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim().to_string(),
        })?;
        let mut p = Policy::default();
        for (list, entries) in [("allow", &file.allow), ("deny", &file.deny)] {
            for e in entries {
                let e = e.trim();
                let (base, wildcard) = match e.strip_suffix(".*") {
                    Some(b) => (b, true),
                    None => (e, false),
                };
                if !is_dotted_name(base) {
                    return Err(PolicyError::Entry {
                        path: origin.to_string(),
                        list,
                        entry: e.to_string(),
                    });
                }
                let (exact, prefix) = if list == "allow" {
                    (&mut p.allow_exact, &mut p.allow_prefix)
                } else {
                    (&mut p.deny_exact, &mut p.deny_prefix)
                };
                if wildcard {
                    prefix.push(format!("{base}."));
                } else {
                    exact.insert(base.to_string());
                }
            }
        }
        Ok(p)
    }

    /// Load a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Judge a global given as `module` and `name` (as found in the pickle).
    pub fn classify(&self, module: &str, name: &str) -> Verdict {
        let full = full_name(module, name);
        self.classify_full(&full)
    }

    /// Judge a global given as its normalised full dotted path.
    pub fn classify_full(&self, full: &str) -> Verdict {
        if self.deny_exact.contains(full)
            || self
                .deny_prefix
                .iter()
                .any(|p| full.starts_with(p.as_str()))
        {
            return Verdict::Dangerous;
        }
        // The curated exact names win over module-level danger (`torch.jit._pickle.*` is what
        // every TorchScript archive names, while the rest of `torch.jit` is dangerous).
        if SAFE_EXACT.contains(&full) {
            return Verdict::Allowed;
        }
        if is_dangerous(full) {
            return Verdict::Dangerous;
        }
        if is_builtin_safe(full)
            || self.allow_exact.contains(full)
            || self
                .allow_prefix
                .iter()
                .any(|p| full.starts_with(p.as_str()))
        {
            return Verdict::Allowed;
        }
        Verdict::Unknown
    }
}

fn is_dotted_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !part.starts_with(|c: char| c.is_ascii_digit())
        })
}

/// Python 2 module names and the Python 3 modules the unpickler imports instead (CPython's
/// `Lib/_compat_pickle.py`, `IMPORT_MAPPING`, applied by `pickle.Unpickler.find_class` when the
/// stream's protocol is below 3). Rampart applies them at every protocol: a protocol-4 stream
/// naming `SimpleHTTPServer` fails to import in Python 3, so judging it as `http.server` only
/// errs towards caution. `exceptions` → `builtins` is wider than CPython's per-name list, for the
/// same reason.
const COMPAT_MODULES: &[(&str, &str)] = &[
    ("BaseHTTPServer", "http.server"),
    ("CGIHTTPServer", "http.server"),
    ("ConfigParser", "configparser"),
    ("Cookie", "http.cookies"),
    ("Dialog", "tkinter.dialog"),
    ("DocXMLRPCServer", "xmlrpc.server"),
    ("FileDialog", "tkinter.filedialog"),
    ("HTMLParser", "html.parser"),
    ("Queue", "queue"),
    ("ScrolledText", "tkinter.scrolledtext"),
    ("SimpleDialog", "tkinter.simpledialog"),
    ("SimpleHTTPServer", "http.server"),
    ("SimpleXMLRPCServer", "xmlrpc.server"),
    ("SocketServer", "socketserver"),
    ("StringIO", "io"),
    ("Tix", "tkinter.tix"),
    ("Tkconstants", "tkinter.constants"),
    ("Tkdnd", "tkinter.dnd"),
    ("Tkinter", "tkinter"),
    ("UserDict", "collections"),
    ("UserList", "collections"),
    ("UserString", "collections"),
    ("__builtin__", "builtins"),
    ("_abcoll", "collections.abc"),
    ("_elementtree", "xml.etree.ElementTree"),
    ("_winreg", "winreg"),
    ("anydbm", "dbm"),
    ("cPickle", "pickle"),
    ("cStringIO", "io"),
    ("commands", "subprocess"),
    ("cookielib", "http.cookiejar"),
    ("copy_reg", "copyreg"),
    ("dbhash", "dbm.bsd"),
    ("dbm", "dbm.ndbm"),
    ("dumbdbm", "dbm.dumb"),
    ("dummy_thread", "_dummy_thread"),
    ("exceptions", "builtins"),
    ("gdbm", "dbm.gnu"),
    ("htmlentitydefs", "html.entities"),
    ("httplib", "http.client"),
    ("markupbase", "_markupbase"),
    ("repr", "reprlib"),
    ("robotparser", "urllib.robotparser"),
    ("test.test_support", "test.support"),
    ("thread", "_thread"),
    ("tkColorChooser", "tkinter.colorchooser"),
    ("tkCommonDialog", "tkinter.commondialog"),
    ("tkFileDialog", "tkinter.filedialog"),
    ("tkFont", "tkinter.font"),
    ("tkMessageBox", "tkinter.messagebox"),
    ("tkSimpleDialog", "tkinter.simpledialog"),
    ("ttk", "tkinter.ttk"),
    ("urllib2", "urllib.request"),
    ("urlparse", "urllib.parse"),
    ("whichdb", "dbm"),
    ("xmlrpclib", "xmlrpc.client"),
];

/// A Python global as `(module, name)`.
type PyName = (&'static str, &'static str);

/// Python 2 `(module, name)` pairs the unpickler redirects (CPython's `NAME_MAPPING`):
/// `__builtin__.reduce` is `functools.reduce`, `urllib.urlretrieve` is
/// `urllib.request.urlretrieve`. Checked before [`COMPAT_MODULES`], as CPython does.
const COMPAT_NAMES: &[(PyName, PyName)] = &[
    (
        ("UserDict", "IterableUserDict"),
        ("collections", "UserDict"),
    ),
    (("UserDict", "UserDict"), ("collections", "UserDict")),
    (("UserList", "UserList"), ("collections", "UserList")),
    (("UserString", "UserString"), ("collections", "UserString")),
    (("__builtin__", "basestring"), ("builtins", "str")),
    (("__builtin__", "intern"), ("sys", "intern")),
    (("__builtin__", "long"), ("builtins", "int")),
    (("__builtin__", "reduce"), ("functools", "reduce")),
    (("__builtin__", "unichr"), ("builtins", "chr")),
    (("__builtin__", "unicode"), ("builtins", "str")),
    (("__builtin__", "xrange"), ("builtins", "range")),
    (
        ("_multiprocessing", "Connection"),
        ("multiprocessing.connection", "Connection"),
    ),
    (("_socket", "fromfd"), ("socket", "fromfd")),
    (("exceptions", "StandardError"), ("builtins", "Exception")),
    (("itertools", "ifilter"), ("builtins", "filter")),
    (("itertools", "ifilterfalse"), ("itertools", "filterfalse")),
    (("itertools", "imap"), ("builtins", "map")),
    (("itertools", "izip"), ("builtins", "zip")),
    (("itertools", "izip_longest"), ("itertools", "zip_longest")),
    (
        ("multiprocessing", "AuthenticationError"),
        ("multiprocessing.context", "AuthenticationError"),
    ),
    (
        ("multiprocessing", "BufferTooShort"),
        ("multiprocessing.context", "BufferTooShort"),
    ),
    (
        ("multiprocessing", "ProcessError"),
        ("multiprocessing.context", "ProcessError"),
    ),
    (
        ("multiprocessing", "TimeoutError"),
        ("multiprocessing.context", "TimeoutError"),
    ),
    (
        ("multiprocessing.forking", "Popen"),
        ("multiprocessing.popen_fork", "Popen"),
    ),
    (
        ("multiprocessing.process", "Process"),
        ("multiprocessing.context", "Process"),
    ),
    (("socket", "_socketobject"), ("socket", "SocketType")),
    (
        ("urllib", "ContentTooShortError"),
        ("urllib.error", "ContentTooShortError"),
    ),
    (("urllib", "getproxies"), ("urllib.request", "getproxies")),
    (
        ("urllib", "pathname2url"),
        ("urllib.request", "pathname2url"),
    ),
    (("urllib", "quote"), ("urllib.parse", "quote")),
    (("urllib", "quote_plus"), ("urllib.parse", "quote_plus")),
    (("urllib", "unquote"), ("urllib.parse", "unquote")),
    (("urllib", "unquote_plus"), ("urllib.parse", "unquote_plus")),
    (
        ("urllib", "url2pathname"),
        ("urllib.request", "url2pathname"),
    ),
    (("urllib", "urlcleanup"), ("urllib.request", "urlcleanup")),
    (("urllib", "urlencode"), ("urllib.parse", "urlencode")),
    (("urllib", "urlopen"), ("urllib.request", "urlopen")),
    (("urllib", "urlretrieve"), ("urllib.request", "urlretrieve")),
    (("urllib2", "HTTPError"), ("urllib.error", "HTTPError")),
    (("urllib2", "URLError"), ("urllib.error", "URLError")),
    (("whichdb", "whichdb"), ("dbm", "whichdb")),
];

/// The Python 3 `(module, name)` a protocol-2 stream's global resolves to.
fn compat<'a>(module: &'a str, name: &'a str) -> (&'a str, &'a str) {
    if let Some((_, to)) = COMPAT_NAMES
        .iter()
        .find(|(from, _)| *from == (module, name))
    {
        return *to;
    }
    match COMPAT_MODULES.iter().find(|(from, _)| *from == module) {
        Some((_, to)) => (to, name),
        None => (module, name),
    }
}

/// The normalised full dotted path of a global (`module.name`, compat-renamed, whitespace kept
/// as is so that tricks with odd names stay visible).
pub fn full_name(module: &str, name: &str) -> String {
    let (m, name) = compat(module, name);
    if name.is_empty() {
        m.to_string()
    } else if m.is_empty() {
        name.to_string()
    } else {
        format!("{m}.{name}")
    }
}

/// Modules every attribute of which is dangerous (the module and all its submodules).
const DANGEROUS_MODULES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "posixpath",
    "ntpath",
    "subprocess",
    "_posixsubprocess",
    "_winapi",
    "pty",
    "socket",
    "_socket",
    "socketserver",
    "ssl",
    "_ssl",
    "select",
    "shutil",
    "runpy",
    "code",
    "codeop",
    "inspect",
    "importlib",
    "_imp",
    "imp",
    "zipimport",
    "pkgutil",
    "pickle",
    "_pickle",
    "pickletools",
    "shelve",
    "marshal",
    "dill",
    "cloudpickle",
    "joblib.load",
    "pip",
    "ensurepip",
    "setuptools",
    "distutils",
    "webbrowser",
    "ctypes",
    "_ctypes",
    "cffi",
    "multiprocessing",
    "concurrent",
    "threading",
    "_thread",
    "asyncio",
    "pdb",
    "bdb",
    "trace",
    "timeit",
    "cProfile",
    "profile",
    "pydoc",
    "doctest",
    "sys",
    "gc",
    "signal",
    "resource",
    "urllib",
    "http",
    "httplib",
    "ftplib",
    "smtplib",
    "poplib",
    "imaplib",
    "telnetlib",
    "xmlrpc",
    "requests",
    "aiohttp",
    "httpx",
    "urllib3",
    "tempfile",
    "glob",
    "fileinput",
    "linecache",
    "tarfile",
    "zipfile",
    "venv",
    "builtins.eval",
    "uuid._get_command_stdout",
    "platform",
    "sysconfig",
    "site",
    "idlelib",
    "lib2to3",
    "test",
    "_osx_support",
    "_aix_support",
    "_pyrepl",
    "code",
    "types",
    "functools",
    "operator",
    "_operator",
    "logging",
    "_io",
    "io",
    "codecs",
    "numpy.f2py",
    "numpy.testing",
    "numpy.ctypeslib",
    "numpy.distutils",
    "numpy.load",
    "numpy.lib.npyio",
    "numpy.lib.format",
    "numpy.fromfile",
    "numpy.memmap",
    "numpy.save",
    "numpy.savetxt",
    "numpy.loadtxt",
    "numpy.genfromtxt",
    "pandas.read_pickle",
    "pandas.io",
    "torch.load",
    "torch.serialization",
    "torch.jit",
    "torch.hub",
    "torch.package",
    "torch.utils.cpp_extension",
    "torch.utils.collect_env",
    "torch.utils.bottleneck",
    "torch.utils.data.datapipes",
    "torch.utils._config_module",
    "torch._dynamo",
    "torch._inductor",
    "torch.fx",
    "torch.ops",
    "torch._ops",
    "torch.library",
    "torch.compile",
    "torch.classes",
    "keras.models.load_model",
    "keras.saving",
    "tensorflow.io",
    "tensorflow.keras.models.load_model",
    "yaml",
    "jinja2",
    "mako",
    "sqlite3",
    "dbm",
    "winreg",
    "_winreg",
    "smtpd",
    "antigravity",
    "this",
];

/// Single dangerous attributes of otherwise harmless modules.
const DANGEROUS_EXACT: &[&str] = &[
    "builtins.eval",
    "builtins.exec",
    "builtins.execfile",
    "builtins.compile",
    "builtins.open",
    "builtins.file",
    "builtins.input",
    "builtins.raw_input",
    "builtins.getattr",
    "builtins.setattr",
    "builtins.delattr",
    "builtins.hasattr",
    "builtins.__import__",
    "builtins.globals",
    "builtins.locals",
    "builtins.vars",
    "builtins.dir",
    "builtins.breakpoint",
    "builtins.apply",
    "builtins.reload",
    "builtins.help",
    "builtins.memoryview",
    "builtins.type",
    "builtins.super",
    "builtins.classmethod",
    "builtins.staticmethod",
    "builtins.property",
    "builtins.__build_class__",
    "builtins.__loader__",
    "builtins.__spec__",
    "builtins.exit",
    "builtins.quit",
    "builtins.copyright",
    "builtins.credits",
    "builtins.license",
    "builtins.print",
    "collections.namedtuple",
    "copyreg.add_extension",
    "copyreg.pickle",
    "copyreg.constructor",
    "numpy.core.multiarray.fromfile",
    "numpy._core.multiarray.fromfile",
    "scipy.io.loadmat",
    "sklearn.externals.joblib.load",
    "sklearn.utils._testing",
];

/// True when `full` is on the built-in dangerous list, or walks through a dunder attribute
/// (`__globals__`, `__subclasses__`, `__builtins__`…) that reaches Python internals.
pub fn is_dangerous(full: &str) -> bool {
    for m in DANGEROUS_MODULES {
        if full == *m
            || (full.len() > m.len() && full.starts_with(m) && full.as_bytes()[m.len()] == b'.')
        {
            return true;
        }
    }
    if DANGEROUS_EXACT.contains(&full) {
        return true;
    }
    // Attribute traversal through dunders, e.g. `builtins.object.__subclasses__` or
    // `collections.OrderedDict.__init__.__globals__`. The copyreg constructors are the only
    // dunders ordinary pickles name.
    full.split('.').skip(1).any(|part| {
        part.len() > 4
            && part.starts_with("__")
            && part.ends_with("__")
            && !matches!(part, "__newobj__" | "__newobj_ex__")
    })
}

const SAFE_EXACT: &[&str] = &[
    // Python containers and scalars (what protocol 0-2 pickles of plain data name).
    "builtins.set",
    "builtins.frozenset",
    "builtins.list",
    "builtins.dict",
    "builtins.tuple",
    "builtins.int",
    "builtins.float",
    "builtins.complex",
    "builtins.bool",
    "builtins.str",
    "builtins.bytes",
    "builtins.bytearray",
    "builtins.slice",
    "builtins.range",
    "builtins.object",
    "builtins.Ellipsis",
    "builtins.NotImplemented",
    "builtins.NoneType",
    "copyreg._reconstructor",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
    "_codecs.encode",
    "collections.OrderedDict",
    "collections.defaultdict",
    "collections.deque",
    "collections.Counter",
    "collections.ChainMap",
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
    "datetime.tzinfo",
    "decimal.Decimal",
    "fractions.Fraction",
    "uuid.UUID",
    "uuid.SafeUUID",
    "zoneinfo.ZoneInfo._unpickle",
    "pathlib.PurePath",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
    "pathlib.Path",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    "argparse.Namespace",
    "re._compile",
    // NumPy arrays, dtypes, scalars, random state.
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.matrix",
    "numpy.matrixlib.defmatrix.matrix",
    "numpy.core._internal._reconstruct",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    "numpy.ma.core._mareconstruct",
    "numpy.ma.core.MaskedArray",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__generator_ctor",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator",
    "numpy.random._mt19937.MT19937",
    "numpy.random._pcg64.PCG64",
    "numpy.random._pcg64.PCG64DXSM",
    "numpy.random._philox.Philox",
    "numpy.random._sfc64.SFC64",
    "numpy.random.bit_generator.SeedSequence",
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
    // joblib's array wrappers (the raw array bytes are handled by the walker).
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "joblib.numpy_pickle_compat.NDArrayWrapper",
    "joblib.numpy_pickle.NDArrayWrapper",
    "joblib.numpy_pickle_compat.ZNDArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    // PyTorch tensors, storages, parameters.
    "torch.Size",
    "torch.device",
    "torch.Tensor",
    "torch.dtype",
    "torch.layout",
    "torch.memory_format",
    "torch.UntypedStorage",
    "torch.TypedStorage",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "torch.storage._load_from_bytes",
    "torch.nn.parameter.Parameter",
    "torch.nn.parameter.Buffer",
    "torch.nn.parameter.UninitializedParameter",
    "torch.nn.parameter.UninitializedBuffer",
    "torch._tensor._rebuild_from_type",
    "torch._tensor._rebuild_from_type_v2",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._utils._get_layout",
    "torch.serialization._get_layout",
    "torch.torch_version.TorchVersion",
    // TorchScript's own pickles (read by the C++ unpickler, which resolves only these).
    "torch.jit._pickle.build_intlist",
    "torch.jit._pickle.build_tensorlist",
    "torch.jit._pickle.build_doublelist",
    "torch.jit._pickle.build_boollist",
    "torch.jit._pickle.build_tensor_from_id",
    "torch.jit._pickle.restore_type_tag",
    // SciPy sparse matrices inside scikit-learn models.
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csc.csc_matrix",
    "scipy.sparse._coo.coo_matrix",
    "scipy.sparse._csr.csr_array",
    "scipy.sparse._csc.csc_array",
    "scipy.sparse._coo.coo_array",
    "scipy.sparse.csr.csr_matrix",
    "scipy.sparse.csc.csc_matrix",
    "scipy.sparse.coo.coo_matrix",
];

const TORCH_STORAGES: &[&str] = &[
    "LongStorage",
    "FloatStorage",
    "HalfStorage",
    "DoubleStorage",
    "BFloat16Storage",
    "BoolStorage",
    "CharStorage",
    "ShortStorage",
    "IntStorage",
    "ByteStorage",
    "ComplexFloatStorage",
    "ComplexDoubleStorage",
    "QUInt2x4Storage",
    "QUInt4x2Storage",
    "QInt32Storage",
    "QInt8Storage",
    "QUInt8Storage",
];

const TORCH_ATTRS: &[&str] = &[
    // dtypes
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "bfloat16",
    "int8",
    "int16",
    "short",
    "int32",
    "int",
    "int64",
    "long",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex32",
    "complex64",
    "complex128",
    "cfloat",
    "cdouble",
    "chalf",
    "qint8",
    "quint8",
    "qint32",
    "quint4x2",
    "quint2x4",
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
    "float4_e2m1fn_x2",
    "bits8",
    "bits16",
    // layouts, memory formats, quantisation schemes
    "strided",
    "sparse_coo",
    "sparse_csr",
    "sparse_csc",
    "sparse_bsr",
    "sparse_bsc",
    "_mkldnn",
    "jagged",
    "contiguous_format",
    "channels_last",
    "channels_last_3d",
    "preserve_format",
    "per_tensor_affine",
    "per_channel_affine",
    "per_tensor_symmetric",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
];

const NUMPY_SCALARS: &[&str] = &[
    "bool_",
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "intc",
    "uintc",
    "intp",
    "uintp",
    "longlong",
    "ulonglong",
    "float16",
    "float32",
    "float64",
    "longdouble",
    "half",
    "single",
    "double",
    "complex64",
    "complex128",
    "clongdouble",
    "str_",
    "bytes_",
    "void",
    "datetime64",
    "timedelta64",
    "object_",
    "generic",
    "number",
];

fn is_capword(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// True when `full` is on the built-in allowlist of globals that ordinary PyTorch, NumPy,
/// scikit-learn/joblib, collections and datetime files need.
pub fn is_builtin_safe(full: &str) -> bool {
    if SAFE_EXACT.contains(&full) {
        return true;
    }
    let Some((module, name)) = full.rsplit_once('.') else {
        return false;
    };
    match module {
        "torch" => return TORCH_STORAGES.contains(&name) || TORCH_ATTRS.contains(&name),
        "numpy" | "numpy.core.numerictypes" | "numpy._core.numerictypes" => {
            return NUMPY_SCALARS.contains(&name);
        }
        "numpy.dtypes" => return is_capword(name) && name.ends_with("DType"),
        _ => {}
    }
    // Classes (CapWords names) of the model-defining packages: nn modules, optimisers,
    // schedulers, named tuples of torch; estimators and helpers of scikit-learn (including
    // Cython classes, which pickle through `__pyx_unpickle_<Class>`).
    let class_packages = [
        "torch.nn.modules.",
        "torch.optim.",
        "torch.return_types",
        "sklearn.",
    ];
    if class_packages
        .iter()
        .any(|p| module.starts_with(p) || module == p.trim_end_matches('.'))
    {
        if is_capword(name) {
            return true;
        }
        if module.starts_with("sklearn.") {
            if let Some(class) = name.strip_prefix("__pyx_unpickle_") {
                return is_capword(class);
            }
            // The Cython trees and metrics rebuild themselves through a module-level `newObj`.
            if name == "newObj" {
                return true;
            }
        }
        if module == "torch.return_types" {
            return name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_2_names_are_judged_as_what_python_3_imports() {
        let p = Policy::builtin();
        // CPython's NAME_MAPPING: `__builtin__.reduce` is `functools.reduce`.
        assert_eq!(full_name("__builtin__", "reduce"), "functools.reduce");
        assert_eq!(p.classify("__builtin__", "reduce"), Verdict::Dangerous);
        assert_eq!(p.classify("__builtin__", "intern"), Verdict::Dangerous);
        assert_eq!(
            full_name("urllib", "urlretrieve"),
            "urllib.request.urlretrieve"
        );
        // IMPORT_MAPPING: servers, RPC clients and databases under their Python 2 names.
        for (m, n) in [
            ("SimpleHTTPServer", "test"),
            ("CGIHTTPServer", "CGIHTTPRequestHandler"),
            ("xmlrpclib", "ServerProxy"),
            ("anydbm", "open"),
            ("dumbdbm", "open"),
            ("whichdb", "whichdb"),
            ("_winreg", "SetValue"),
        ] {
            assert_eq!(p.classify(m, n), Verdict::Dangerous, "{m}.{n}");
        }
        // Harmless Python 2 names resolve to allowed Python 3 ones.
        assert_eq!(p.classify("__builtin__", "xrange"), Verdict::Allowed);
        assert_eq!(p.classify("__builtin__", "unicode"), Verdict::Allowed);
        assert_eq!(
            p.classify("exceptions", "ValueError"),
            p.classify("builtins", "ValueError")
        );
        // NumPy's pre-1.0 array reconstructor and the matrix class under its defining module.
        assert_eq!(
            p.classify("numpy.core._internal", "_reconstruct"),
            Verdict::Allowed
        );
        assert_eq!(
            p.classify("numpy.matrixlib.defmatrix", "matrix"),
            Verdict::Allowed
        );
    }

    #[test]
    fn builtin_verdicts() {
        let p = Policy::builtin();
        assert_eq!(p.classify("os", "system"), Verdict::Dangerous);
        assert_eq!(p.classify("posix", "system"), Verdict::Dangerous);
        assert_eq!(p.classify("__builtin__", "eval"), Verdict::Dangerous);
        assert_eq!(p.classify("builtins", "getattr"), Verdict::Dangerous);
        assert_eq!(p.classify("importlib", "import_module"), Verdict::Dangerous);
        assert_eq!(p.classify("inspect", "getattr_static"), Verdict::Dangerous);
        assert_eq!(
            p.classify("torch", "serialization.load"),
            Verdict::Dangerous
        );
        assert_eq!(
            p.classify("builtins", "object.__subclasses__"),
            Verdict::Dangerous
        );
        assert_eq!(
            p.classify("torch._utils", "_rebuild_tensor_v2"),
            Verdict::Allowed
        );
        assert_eq!(p.classify("torch", "FloatStorage"), Verdict::Allowed);
        assert_eq!(p.classify("collections", "OrderedDict"), Verdict::Allowed);
        assert_eq!(
            p.classify("sklearn.linear_model._logistic", "LogisticRegression"),
            Verdict::Allowed
        );
        assert_eq!(p.classify("__main__", "Net"), Verdict::Unknown);
        assert_eq!(p.classify("mylib", "thing"), Verdict::Unknown);
        // Look-alike prefixes are not the module.
        assert_eq!(p.classify("osx", "thing"), Verdict::Unknown);
        assert_eq!(p.classify("os.path", "join"), Verdict::Dangerous);
    }

    #[test]
    fn policy_file_extends_but_never_reopens_danger() {
        let p = Policy::from_toml_str(
            "allow = [\"mylab.models.Net\", \"mylab.layers.*\", \"os.system\"]\ndeny = [\"numpy.ndarray\"]\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(p.classify("mylab.models", "Net"), Verdict::Allowed);
        assert_eq!(p.classify("mylab.layers.conv", "Conv"), Verdict::Allowed);
        assert_eq!(p.classify("mylab.other", "Net"), Verdict::Unknown);
        assert_eq!(p.classify("os", "system"), Verdict::Dangerous);
        assert_eq!(p.classify("numpy", "ndarray"), Verdict::Dangerous);
    }

    #[test]
    fn policy_errors_name_the_problem() {
        let e = Policy::from_toml_str("allow = [\"not a name\"]", "p.toml").unwrap_err();
        assert!(e.to_string().contains("not a name"), "{e}");
        let e = Policy::from_toml_str("alow = []", "p.toml").unwrap_err();
        assert!(e.to_string().contains("p.toml"), "{e}");
    }
}
