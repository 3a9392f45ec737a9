#!/usr/bin/env python3
"""Write a multi-layer `docker save` archive (uncompressed layers, classic layout) of >= 1 GB from
real files, with secrets planted where image scanners are known to look and to miss:

- layer 0: a Python environment (site-packages of SRC_VENV) under /usr/local/lib/python3.11
- layer 1: a real source tree (SRC_TREE) under /usr/src/tree
- layer 2: /app with a .env (two tokens) and settings.yaml (one token), and a start-up hook
           (site-packages/evil_init.pth)
- layer 3: deletes /app/.env (whiteout) and replaces /app/settings.yaml
- config: Env with a token, and a build command in history with a token

Prints the planted secrets as JSON (one object per secret: where, value) to OUT.truth.json.
Usage: make_image.py OUT.tar SRC_VENV SRC_TREE [SYSTEM_DIR]   (SYSTEM_DIR becomes a layer under /usr/lib)
"""
import base64, binascii, hashlib, io, json, os, random, sys, tarfile

out, venv, tree = sys.argv[1:4]
system = sys.argv[4] if len(sys.argv) > 4 else None
rng = random.Random(11)
A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def rand(n, al=A):
    return "".join(rng.choice(al) for _ in range(n))


def gh():
    body = rand(30)
    n = binascii.crc32(body.encode())
    s = ""
    while n:
        s = A[n % 62] + s
        n //= 62
    return "ghp_" + body + s.rjust(6, "0")


planted = {
    "deleted .env GitHub token": gh(),
    "deleted .env OpenAI key": "sk-proj-" + rand(74, A + "_-") + "T3BlbkFJ" + rand(74, A + "_-"),
    "replaced settings.yaml Anthropic key": "sk-ant-api03-" + rand(93, A + "_-") + "AA",
    "config Env Hugging Face token": "hf_" + rand(34, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "history build-arg GitHub token": gh(),
}


def layer_from_dir(src, prefix):
    buf = open(out + f".{prefix.replace('/', '_')}.tmp", "w+b")
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for root, dirs, files in os.walk(src):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(root, f)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                arc = prefix + "/" + os.path.relpath(p, src)
                t.add(p, arcname=arc, recursive=False)
    buf.seek(0)
    return buf


def layer_from_files(files):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1_700_000_000
            t.addfile(ti, io.BytesIO(data))
    bio.seek(0)
    return bio


layers = ([layer_from_dir(system, "usr/lib/system")] if system else []) + [
    layer_from_dir(venv, "usr/local/lib/python3.11"),
    layer_from_dir(tree, "usr/src/tree"),
    layer_from_files([
        ("app/.env", f"GITHUB_TOKEN={planted['deleted .env GitHub token']}\nOPENAI_API_KEY={planted['deleted .env OpenAI key']}\n".encode()),
        ("app/settings.yaml", f"anthropic:\n  api_key: {planted['replaced settings.yaml Anthropic key']}\n".encode()),
        ("usr/local/lib/python3.11/site-packages/evil_init.pth", b"import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import base64; exec(base64.b64decode(\"cHJpbnQoMSk=\"))'])\n"),
    ]),
    layer_from_files([("app/.wh..env", b""), ("app/settings.yaml", b"anthropic:\n  api_key: ${ANTHROPIC_API_KEY}\n")]),
]


def sha(f):
    h = hashlib.sha256()
    f.seek(0)
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    f.seek(0)
    return h.hexdigest()


diff_ids = [sha(l) for l in layers]
config = {
    "architecture": "amd64",
    "os": "linux",
    "config": {"Env": ["PATH=/usr/local/bin:/usr/bin", f"HF_TOKEN={planted['config Env Hugging Face token']}"], "Cmd": ["python", "-m", "app"]},
    "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
    "history": ([{"created_by": "COPY system /usr/lib/system"}] if system else []) + [
        {"created_by": "COPY venv /usr/local/lib/python3.11"},
        {"created_by": "COPY tree /usr/src/tree"},
        {"created_by": f"|1 GH_TOKEN={planted['history build-arg GitHub token']} /bin/sh -c pip install -r /app/requirements.txt"},
        {"created_by": "RUN rm /app/.env"},
    ],
}
cbytes = json.dumps(config).encode()
chex = hashlib.sha256(cbytes).hexdigest()
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    names = []
    for d, l in zip(diff_ids, layers):
        name = f"{d}/layer.tar"
        names.append(name)
        l.seek(0, 2)
        ti = tarfile.TarInfo(name)
        ti.size = l.tell()
        l.seek(0)
        t.addfile(ti, l)
    for name, data in ((f"{chex}.json", cbytes), ("manifest.json", json.dumps([{"Config": f"{chex}.json", "RepoTags": ["bench/app:1"], "Layers": names}]).encode())):
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
for l in layers:
    l.close()
for f in os.listdir(os.path.dirname(os.path.abspath(out))):
    if f.endswith(".tmp") and f.startswith(os.path.basename(out)):
        os.remove(os.path.join(os.path.dirname(os.path.abspath(out)), f))
json.dump(planted, open(out + ".truth.json", "w"), indent=1)
print(f"{out}: {os.path.getsize(out) / 1e6:.0f} MB, {len(layers)} layers")
