#!/usr/bin/env python3
"""Generate a secret-scanning corpus: realistic files with planted credentials and decoys.

Writes OUT/files/... and OUT/truth.jsonl (one line per planted secret: file, line, secret,
provider). Decoys (placeholders, documented example keys, hashes, UUIDs, references to
environment variables, keys with broken checksums, public keys) are written too and are not in
the truth file: a scanner that reports them loses precision.

Formats are written from the providers' public documentation of their key shapes, not from
Rampart's rule files. Filler text is taken from the Python standard library of the machine that
runs this script (real code, never test directories), so a scanner is also measured on how
quietly it reads ordinary code.

Usage: gen_corpus.py OUT [--files N] [--seed S]
"""
import argparse
import base64
import binascii
import json
import os
import random
import string
import sysconfig
import uuid

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
HEX = "0123456789abcdef"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class G:
    def __init__(self, rng):
        self.r = rng

    def s(self, n, alphabet=ALNUM):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def b62(self, n):
        out = ""
        while n:
            out = B62[n % 62] + out
            n //= 62
        return out.rjust(6, "0")

    def crc_token(self, prefix, n=30):
        body = self.s(n)
        return prefix + body + self.b62(binascii.crc32(body.encode()))

    def b64(self, nbytes):
        return base64.b64encode(self.r.randbytes(nbytes)).decode()


# Each generator returns (provider, secret, env-var name or context word).
def secret_kinds(g):
    r = g.r
    return [
        ("OpenAI", lambda: "sk-proj-" + g.s(74, URLSAFE) + "T3BlbkFJ" + g.s(74, URLSAFE), "OPENAI_API_KEY"),
        ("OpenAI", lambda: "sk-svcacct-" + g.s(74, URLSAFE) + "T3BlbkFJ" + g.s(74, URLSAFE), "OPENAI_API_KEY"),
        ("OpenAI", lambda: "sk-" + g.s(20) + "T3BlbkFJ" + g.s(20), "OPENAI_KEY"),
        ("Anthropic", lambda: "sk-ant-api03-" + g.s(93, URLSAFE) + "AA", "ANTHROPIC_API_KEY"),
        ("Anthropic", lambda: "sk-ant-admin01-" + g.s(93, URLSAFE) + "AA", "ANTHROPIC_ADMIN_KEY"),
        ("Google", lambda: "AIza" + g.s(35, URLSAFE), "GEMINI_API_KEY"),
        ("Hugging Face", lambda: "hf_" + g.s(34, string.ascii_letters), "HF_TOKEN"),
        ("Groq", lambda: "gsk_" + g.s(52), "GROQ_API_KEY"),
        ("Replicate", lambda: "r8_" + g.s(37), "REPLICATE_API_TOKEN"),
        ("Perplexity", lambda: "pplx-" + g.s(48), "PERPLEXITY_API_KEY"),
        ("xAI", lambda: "xai-" + g.s(80), "XAI_API_KEY"),
        ("OpenRouter", lambda: "sk-or-v1-" + g.s(64, HEX), "OPENROUTER_API_KEY"),
        ("Fireworks", lambda: "fw_" + g.s(24), "FIREWORKS_API_KEY"),
        ("LangSmith", lambda: "lsv2_pt_" + g.s(32, HEX) + "_" + g.s(10, HEX), "LANGSMITH_API_KEY"),
        ("Pinecone", lambda: "pcsk_" + g.s(6) + "_" + g.s(58), "PINECONE_API_KEY"),
        ("NVIDIA", lambda: "nvapi-" + g.s(64, URLSAFE), "NVIDIA_API_KEY"),
        ("Cerebras", lambda: "csk-" + g.s(48, string.ascii_lowercase + string.digits), "CEREBRAS_API_KEY"),
        ("Langfuse", lambda: "sk-lf-" + str(uuid.UUID(int=r.getrandbits(128))), "LANGFUSE_SECRET_KEY"),
        ("Voyage", lambda: "pa-" + g.s(43, URLSAFE), "VOYAGE_API_KEY"),
        ("Jina", lambda: "jina_" + g.s(60), "JINA_API_KEY"),
        ("DeepSeek", lambda: "sk-" + g.s(32, HEX), "DEEPSEEK_API_KEY"),
        ("Mistral", lambda: g.s(32), "MISTRAL_API_KEY"),
        ("Cohere", lambda: g.s(40), "COHERE_API_KEY"),
        ("Together", lambda: g.s(64, HEX), "TOGETHER_API_KEY"),
        ("ElevenLabs", lambda: "sk_" + g.s(48, HEX), "ELEVENLABS_API_KEY"),
        ("Deepgram", lambda: g.s(40, HEX), "DEEPGRAM_API_KEY"),
        ("AssemblyAI", lambda: g.s(32, HEX), "ASSEMBLYAI_API_KEY"),
        ("Weights & Biases", lambda: g.s(40, HEX), "WANDB_API_KEY"),
        ("AWS", lambda: "AKIA" + g.s(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), "AWS_ACCESS_KEY_ID"),
        ("AWS", lambda: g.s(40, ALNUM + "+/"), "AWS_SECRET_ACCESS_KEY"),
        ("GitHub", lambda: g.crc_token("ghp_"), "GITHUB_TOKEN"),
        ("GitHub", lambda: g.crc_token("gho_"), "GH_OAUTH_TOKEN"),
        ("GitHub", lambda: "github_pat_" + g.s(22) + "_" + g.s(59), "GITHUB_PAT"),
        ("GitLab", lambda: "glpat-" + g.s(20, URLSAFE), "GITLAB_TOKEN"),
        ("Slack", lambda: "xoxb-" + g.s(12, "0123456789") + "-" + g.s(13, "0123456789") + "-" + g.s(24), "SLACK_BOT_TOKEN"),
        ("Slack", lambda: "https://hooks.slack.com/services/T" + g.s(8, string.ascii_uppercase + string.digits) + "/B" + g.s(10, string.ascii_uppercase + string.digits) + "/" + g.s(24), "SLACK_WEBHOOK_URL"),
        ("Stripe", lambda: "sk_live_" + g.s(99), "STRIPE_SECRET_KEY"),
        ("Stripe", lambda: "rk_live_" + g.s(99), "STRIPE_RESTRICTED_KEY"),
        ("Twilio", lambda: "SK" + g.s(32, HEX), "TWILIO_API_KEY"),
        ("SendGrid", lambda: "SG." + g.s(22, URLSAFE) + "." + g.s(43, URLSAFE), "SENDGRID_API_KEY"),
        ("npm", lambda: g.crc_token("npm_"), "NPM_TOKEN"),
        ("PyPI", lambda: "pypi-AgEIcHlwaS5vcmc" + g.s(140, URLSAFE), "PYPI_TOKEN"),
        ("Shopify", lambda: "shpat_" + g.s(32, HEX), "SHOPIFY_ACCESS_TOKEN"),
        ("DigitalOcean", lambda: "dop_v1_" + g.s(64, HEX), "DIGITALOCEAN_TOKEN"),
        # Vault >= 1.10 service tokens: `hvs.` + a base64url protobuf (about 90 characters).
        ("HashiCorp Vault", lambda: "hvs.CAESI" + g.s(86, URLSAFE), "VAULT_TOKEN"),
        ("Linear", lambda: "lin_api_" + g.s(40), "LINEAR_API_KEY"),
        ("Doppler", lambda: "dp.pt." + g.s(43), "DOPPLER_TOKEN"),
        ("Grafana", lambda: "glsa_" + g.s(32) + "_" + g.s(8, HEX), "GRAFANA_SERVICE_ACCOUNT_TOKEN"),
        ("Postman", lambda: "PMAK-" + g.s(24, HEX) + "-" + g.s(34, HEX), "POSTMAN_API_KEY"),
        ("Telegram", lambda: str(r.randint(10**8, 10**10 - 1)) + ":AA" + g.s(33, URLSAFE), "TELEGRAM_BOT_TOKEN"),
        ("age", lambda: age_key(g), "AGE_KEY"),
        ("Docker Hub", lambda: "dckr_pat_" + g.s(27, URLSAFE), "DOCKERHUB_TOKEN"),
        ("Generic", lambda: g.s(14, ALNUM) + r.choice("!#%&*") + g.s(5), "DB_PASSWORD"),
        ("Generic", lambda: g.s(50, ALNUM + "!@#%^&*(-_=+)"), "DJANGO_SECRET_KEY"),
    ]


BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (b >> i) & 1 else 0
    return chk


def age_key(g):
    """An age X25519 identity: bech32 (BIP-173) of 32 random bytes, hrp `age-secret-key-`."""
    data, acc, bits = [], 0, 0
    for byte in g.r.randbytes(32):
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    hrp = "age-secret-key-"
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    poly = bech32_polymod(expanded + data + [0] * 6) ^ 1
    check = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return (hrp + "1" + "".join(BECH32[d] for d in data + check)).upper()


def pem_rsa(g):
    body = g.b64(900)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----"


def pem_openssh(g):
    body = base64.b64encode(b"openssh-key-v1\x00" + g.r.randbytes(380)).decode()
    lines = [body[i:i + 70] for i in range(0, len(body), 70)]
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----"


def jwt(g):
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")
    head = enc({"alg": "HS256", "typ": "JWT"})
    body = enc({"sub": g.s(12), "iat": g.r.randint(1600000000, 1800000000), "role": "service"})
    return head + "." + body + "." + g.s(43, URLSAFE)


def gcp_sa(g):
    key = pem_rsa(g).replace("RSA PRIVATE KEY", "PRIVATE KEY")
    proj = "proj-" + g.s(6, string.ascii_lowercase)
    doc = {
        "type": "service_account",
        "project_id": proj,
        "private_key_id": g.s(40, HEX),
        "private_key": key + "\n",
        "client_email": f"deployer@{proj}.iam.gserviceaccount.com",
        "client_id": g.s(21, "0123456789"),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return json.dumps(doc, indent=2), key


# Decoys: look like secrets, are not.
def decoys(g):
    r = g.r
    crc_bad = g.crc_token("ghp_")
    crc_bad = crc_bad[:-1] + ("a" if crc_bad[-1] != "a" else "b")
    return [
        "OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        'api_key = os.environ["OPENAI_API_KEY"]',
        "const key = process.env.ANTHROPIC_API_KEY;",
        "ANTHROPIC_API_KEY=<your-anthropic-key>",
        "HF_TOKEN=${HF_TOKEN}",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        f"GITHUB_TOKEN={crc_bad}",
        f"commit {g.s(40, HEX)}",
        f'"integrity": "sha512-{g.b64(64)}"',
        f'checksum = "{g.s(64, HEX)}"',
        f"request_id: {uuid.UUID(int=r.getrandbits(128))}",
        f"trace_id = '{g.s(32, HEX)}'",
        "password: ${DB_PASSWORD}",
        "password = get_secret('database')",
        "DB_PASSWORD=changeme",
        "PASSWORD_RESET_URL=https://example.org/reset",
        "postgres://user:password@localhost:5432/app",
        "redis://localhost:6379/0",
        "stripe_key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'  # Stripe docs sample",
        f"color: #{g.s(6, HEX)};",
        f"sha256:{g.s(64, HEX)}",
        "-----BEGIN PUBLIC KEY-----\n" + g.b64(270)[:64] + "\n" + g.b64(48)[:64] + "\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\n" + g.b64(300)[:64] + "\n-----END CERTIFICATE-----",
        "token = request.headers.get('Authorization')",
        "secret_key = settings.SECRET_KEY",
        "OPENAI_API_KEY=sk-proj-...",
        "export SLACK_BOT_TOKEN=xoxb-your-token",
        f'"image": "data:image/png;base64,{g.b64(300)}"',
        f"id: {g.s(24, HEX)}",
        "api_key: YOUR_API_KEY_HERE",
        "Set `COHERE_API_KEY` in your environment before running.",
        f"{g.s(20)}",
    ]


def filler_sources():
    base = sysconfig.get_paths()["stdlib"]
    out = []
    for root, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d not in ("test", "tests", "idlelib", "site-packages", "__pycache__", "lib2to3", "ensurepip")]
        for f in files:
            if f.endswith(".py"):
                out.append(os.path.join(root, f))
    out.sort()
    return out


TEMPLATES = {
    ".env": lambda var, val: f"{var}={val}",
    ".py": lambda var, val: f'{var.lower()} = "{val}"',
    ".js": lambda var, val: f"const {var.lower()} = '{val}';",
    ".yaml": lambda var, val: f"  {var.lower()}: \"{val}\"",
    ".json": lambda var, val: f'  "{var.lower()}": "{val}",',
    ".sh": lambda var, val: f"export {var}={val}",
    ".toml": lambda var, val: f'{var.lower()} = "{val}"',
    ".tf": lambda var, val: f'  {var.lower()} = "{val}"',
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20261123)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    g = G(rng)
    kinds = secret_kinds(g)
    sources = filler_sources()
    texts = []
    for p in sources:
        try:
            with open(p, encoding="utf-8") as fh:
                texts.append(fh.read().splitlines())
        except (UnicodeDecodeError, OSError):
            pass
    os.makedirs(os.path.join(a.out, "files"), exist_ok=True)
    truth = open(os.path.join(a.out, "truth.jsonl"), "w")
    planted = decoy_count = 0
    exts = list(TEMPLATES)
    for i in range(a.files):
        ext = rng.choice(exts)
        sub = rng.choice(["app", "services/api", "deploy", "config", "scripts", "notebooks", "infra/prod", "docs"])
        rel = f"{sub}/{i:05d}{ext}"
        src = rng.choice(texts)
        start = rng.randrange(max(1, len(src) - 120))
        lines = src[start:start + rng.randint(20, 400)]
        inserts = []  # (position, text, secret, provider)
        n_secrets = rng.choice([0, 0, 1, 1, 1, 2, 3])
        for _ in range(n_secrets):
            roll = rng.random()
            if roll < 0.05:
                key = pem_rsa(g) if rng.random() < 0.5 else pem_openssh(g)
                inserts.append((key, key, "Private key"))
            elif roll < 0.08:
                doc, key = gcp_sa(g)
                # In the JSON file the key's newlines are `\n` escapes: that is the text to find.
                inserts.append((doc, json.dumps(key)[1:-1], "GCP service account"))
            elif roll < 0.12:
                t = jwt(g)
                inserts.append((f"Authorization: Bearer {t}", t, "JWT"))
            elif roll < 0.16:
                pw = g.s(16, ALNUM)
                scheme = rng.choice(["postgresql", "mysql", "mongodb+srv", "redis", "amqp"])
                url = f"{scheme}://svc_{g.s(5, string.ascii_lowercase)}:{pw}@db-{g.s(4, string.ascii_lowercase)}.internal:5432/app"
                inserts.append((f"DATABASE_URL={url}", pw, "Database URL"))
            elif roll < 0.18:
                auth = base64.b64encode(f"ci-bot:{g.s(20)}".encode()).decode()
                doc = '{\n  "auths": {\n    "registry.example.io": {\n      "auth": "%s"\n    }\n  }\n}' % auth
                inserts.append((doc, auth, "Docker config"))
            elif roll < 0.20:
                key = g.b64(64)
                cs = f"DefaultEndpointsProtocol=https;AccountName=st{g.s(8, string.ascii_lowercase)};AccountKey={key};EndpointSuffix=core.windows.net"
                inserts.append((f"AZURE_STORAGE_CONNECTION_STRING={cs}", key, "Azure Storage"))
            else:
                provider, make, var = rng.choice(kinds)
                val = make()
                inserts.append((TEMPLATES[ext](var, val), val, provider))
        for _ in range(rng.choice([0, 1, 1, 2])):
            inserts.append((rng.choice(decoys(g)), None, None))
            decoy_count += 1
        body = list(lines)
        positions = sorted(rng.randrange(len(body) + 1) for _ in inserts)
        rng.shuffle(inserts)
        out_lines = []
        truth_rows = []
        pi = 0
        for idx in range(len(body) + 1):
            while pi < len(positions) and positions[pi] == idx:
                text, secret, provider = inserts[pi]
                line_no = len(out_lines) + 1
                if secret is not None:
                    off = text.find(secret)
                    line_no += text[:off].count("\n")
                    truth_rows.append({"file": rel, "line": line_no, "secret": secret, "provider": provider})
                out_lines.extend(text.split("\n"))
                pi += 1
            if idx < len(body):
                out_lines.append(body[idx])
        path = os.path.join(a.out, "files", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write("\n".join(out_lines) + "\n")
        for row in truth_rows:
            truth.write(json.dumps(row) + "\n")
            planted += 1
    truth.close()
    print(json.dumps({"files": a.files, "planted": planted, "decoys": decoy_count}))


if __name__ == "__main__":
    main()
