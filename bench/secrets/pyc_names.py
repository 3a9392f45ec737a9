#!/usr/bin/env python3
"""Check the names Rampart's .pyc reader gives string constants against xdis, an independent
disassembler with its own opcode tables for every CPython version.

Usage: pyc_names.py RAMPART_TSV   (the output of `cargo run --example pyc_names -- DIR...`)

For every file the Rampart reader parsed, the same shapes are found with xdis instructions
(LOAD_CONST then STORE_NAME/STORE_GLOBAL/STORE_FAST; LOAD_CONST, a single-push load, STORE_ATTR;
constant keys tuples of BUILD_CONST_KEY_MAP and keyword calls; BUILD_MAP over constants) and each
string value's names compared: agree (Rampart's name is one of xdis's), missing, extra, wrong.
Prints one line per directory.
"""
import collections
import os
import sys

from xdis import iscode, load_module
from xdis.bytecode import Bytecode
from xdis.op_imports import get_opcode_module

LOADS = {"LOAD_FAST", "LOAD_NAME", "LOAD_GLOBAL", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW"}


def pairs_of(co, opc, out):
    ins = [i for i in Bytecode(co, opc).get_instructions(co) if i.opname not in ("CACHE", "EXTENDED_ARG")]

    def const_str(i):
        return i.opname == "LOAD_CONST" and isinstance(i.argval, str)

    def add(value, name):
        if isinstance(value, str) and isinstance(name, str):
            out[value].add(name)

    for k, i in enumerate(ins):
        p = ins[k - 1] if k else None
        if i.opname in ("STORE_NAME", "STORE_GLOBAL", "STORE_FAST"):
            if p and const_str(p):
                add(p.argval, i.argval)
        elif i.opname == "STORE_ATTR":
            if p and p.opname in LOADS and k >= 2 and const_str(ins[k - 2]):
                add(ins[k - 2].argval, i.argval)
        elif i.opname == "BUILD_MAP":
            n = i.arg
            w = ins[k - 2 * n:k] if n and k >= 2 * n else []
            if w and all(x.opname == "LOAD_CONST" for x in w):
                for a, b in zip(w[0::2], w[1::2]):
                    if isinstance(a.argval, str):
                        add(b.argval, a.argval)
        elif i.opname in ("BUILD_CONST_KEY_MAP", "CALL_FUNCTION_KW", "CALL_KW", "KW_NAMES"):
            if i.opname == "KW_NAMES":
                keys, end = co.co_consts[i.arg], k
            elif p and p.opname == "LOAD_CONST" and isinstance(p.argval, tuple):
                keys, end = p.argval, k - 1
            else:
                continue
            if not all(isinstance(x, str) for x in keys):
                continue
            if i.opname == "BUILD_CONST_KEY_MAP" and len(keys) != i.arg:
                continue
            n = len(keys)
            if end < n or not all(x.opname == "LOAD_CONST" for x in ins[end - n:end]):
                continue
            for key, x in zip(keys, ins[end - n:end]):
                add(x.argval, key)
    for c in co.co_consts:
        if iscode(c):
            pairs_of(c, opc, out)


def hexs(s):
    return s.encode("utf-8", "surrogatepass").hex()


def main():
    parsed, rampart = {}, collections.defaultdict(dict)
    for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
        p = line.rstrip("\n").split("\t")
        if p[0] == "FILE":
            parsed[p[1]] = p[3] == "true"
        elif p[0] == "PAIR":
            rampart[p[1]][p[3]] = p[2]
    by_dir = collections.defaultdict(lambda: collections.Counter())
    examples = []
    for f, ok in parsed.items():
        d = by_dir[os.path.dirname(f)]
        d["files"] += 1
        if not ok:
            continue
        d["parsed"] += 1
        try:
            r = load_module(f)
            co = r[3]
            opc = get_opcode_module(r[0], "CPython")
            out = collections.defaultdict(set)
            pairs_of(co, opc, out)
        except Exception as e:  # xdis cannot read it: not counted
            d["xdis_errors"] += 1
            continue
        ref = {hexs(v): {hexs(n) for n in ns} for v, ns in out.items()}
        mine = rampart.get(f, {})
        for v, names in ref.items():
            if v not in mine:
                d["missing"] += 1
                examples.append(("missing", f, bytes.fromhex(v)[:40]))
            elif mine[v] not in names:
                d["wrong"] += 1
                examples.append(("wrong name", f, bytes.fromhex(v)[:40]))
            else:
                d["agree"] += 1
        for v in mine:
            if v not in ref:
                d["extra"] += 1
                examples.append(("extra", f, bytes.fromhex(v)[:40]))
    for name, c in sorted(by_dir.items()):
        print(f"{name}: {c['parsed']} of {c['files']} files parsed; values agree {c['agree']}, "
              f"missing {c['missing']}, extra {c['extra']}, wrong name {c['wrong']}; xdis errors {c['xdis_errors']}")
    for e in examples[:20]:
        print("  ", *e)


if __name__ == "__main__":
    main()
