#!/usr/bin/env python3
"""Inputs and report for bench/urls (see run.sh).

  evaluate.py prepare OUT          write permutations.urls, dictionary.urls, topsites.urls,
                                   throughput.urls and their labels (*.meta.tsv)
  evaluate.py tldextract-time OUT  time tldextract on throughput.urls (one core)
  evaluate.py report OUT           print the summary
"""
import collections
import json
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BRANDS = os.path.join(ROOT, "crates", "rampart-url", "data", "brands.txt")
SHARED_PSL = os.path.join(ROOT, "..", "shared", "data", "psl", "public_suffix_list.dat")

# The words of dnstwist's own dictionaries/english.dict (elceef/dnstwist, Apache-2.0): "the most
# common words used in targeted phishing campaigns". Used only to generate combosquats.
DNSTWIST_ENGLISH_DICT = """auth access account agree cdn choose claim cl click confirm confirmation
connect download enroll find http https https-www install login mail my online payment payments
recovery register ssl safe secure security service services signin support summary update user
verify verification view ww www""".split()


def brands():
    """(name, main target domain, set of own domains, set of own wildcard labels) per brand."""
    out = []
    for line in open(BRANDS, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _cat, doms = [x.strip() for x in line.split("|")]
        own, labels, main = set(), set(), None
        for tok in doms.split():
            target = not tok.startswith("=")
            d = tok.lstrip("=~").lower()
            if d.endswith(".*"):
                labels.add(d[:-2])
                continue
            own.add(d)
            if target and main is None:
                main = d
        out.append((name, main, own, labels))
    return out


def is_own(domain, own, labels):
    d = domain.lower().rstrip(".")
    parts = d.split(".")
    for i in range(len(parts)):
        if ".".join(parts[i:]) in own:
            return True
    return False


def prepare(out):
    import dnstwist

    perm_urls, perm_meta = [], []
    dict_urls, dict_meta = [], []
    for name, main, _own, _labels in brands():
        if not main:
            continue
        f = dnstwist.Fuzzer(main)
        f.generate()
        for p in f.permutations():
            if p["fuzzer"] == "*original":
                continue
            perm_urls.append("http://%s/" % p["domain"])
            perm_meta.append((p["domain"], name, p["fuzzer"]))
        f = dnstwist.Fuzzer(main, dictionary=DNSTWIST_ENGLISH_DICT)
        f.generate(fuzzers=["dictionary"])
        for p in f.permutations():
            if p["fuzzer"] != "dictionary":
                continue
            dict_urls.append("http://%s/" % p["domain"])
            dict_meta.append((p["domain"], name, p["fuzzer"]))
    top = json.load(open(os.path.join(out, "top-sites", "package", "top-sites.json")))
    top_domains = [t["rootDomain"] for t in top]
    write(out, "permutations", perm_urls, perm_meta)
    write(out, "dictionary", dict_urls, dict_meta)
    write(out, "topsites", ["https://%s/" % d for d in top_domains], [(d, "", "") for d in top_domains])
    # Throughput input: unique URLs with paths and queries, built from both lists.
    hosts = [m[0] for m in perm_meta] + [m[0] for m in dict_meta] + top_domains
    tp = []
    for i, h in enumerate(hosts):
        tp.append("https://%s/account/login?session=%d&next=%%2Fhome" % (h, i))
        tp.append("http://cdn%d.%s/static/app.js" % (i % 97, h))
    with open(os.path.join(out, "throughput.urls"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(tp) + "\n")
    write_legit(out, top_domains)
    print("prepared: %d permutations, %d dictionary combos, %d top sites, %d throughput URLs"
          % (len(perm_urls), len(dict_urls), len(top_domains), len(tp)), file=sys.stderr)


def write_legit(out, top_domains):
    """throughput-legit.urls: 100,000 unique URLs on the top-sites domains (ordinary traffic)."""
    subs = ["", "www.", "api.", "static.", "m.", "login.", "cdn.", "docs.", "a.b.", "en."]
    paths = ["/", "/index.html", "/search?q=rust+url", "/account/settings", "/a/b/c/d.png",
             "/watch?v=dQw4w9WgXcQ", "/wiki/Public_Suffix_List", "/cart?item=42&qty=1",
             "/news/2026/11/story.html", "/login?next=%2Fhome"]
    urls = []
    i = 0
    while len(urls) < 100000:
        d = top_domains[i % len(top_domains)]
        bare = d[4:] if d.startswith("www.") else d
        k = i // len(top_domains)
        urls.append("https://%s%s%s%s" % (subs[k % len(subs)], bare, paths[(k // len(subs)) % len(paths)],
                                           ("&n=%d" if "?" in paths[(k // len(subs)) % len(paths)] else "?n=%d") % i))
        i += 1
    with open(os.path.join(out, "throughput-legit.urls"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(urls) + "\n")


def write(out, name, urls, meta):
    with open(os.path.join(out, name + ".urls"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(urls) + "\n")
    with open(os.path.join(out, name + ".meta.tsv"), "w", encoding="utf-8") as fh:
        for m in meta:
            fh.write("\t".join(m) + "\n")


def extractor():
    import tldextract

    urls = ("file://" + os.path.abspath(SHARED_PSL),) if os.path.exists(SHARED_PSL) else ()
    return tldextract.TLDExtract(suffix_list_urls=urls, cache_dir=None,
                                 include_psl_private_domains=True, fallback_to_snapshot=True)


def registrable(r):
    if hasattr(r, "top_domain_under_public_suffix"):
        return r.top_domain_under_public_suffix
    return r.registered_domain


def tldextract_time(out, name="throughput.urls"):
    ext = extractor()
    urls = [u for u in open(os.path.join(out, name), encoding="utf-8").read().split("\n") if u]
    ext(urls[0])  # load the list outside the timing
    best, found = float("inf"), 0
    for _ in range(3):
        t = time.perf_counter()
        found = 0
        for u in urls:
            if registrable(ext(u)):
                found += 1
        best = min(best, time.perf_counter() - t)
    print("tldextract\t%d\t%d\t%.6f\t%.0f" % (len(urls), found, best, len(urls) / best))


def read_judged(out, name):
    meta = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, name + ".meta.tsv"), encoding="utf-8") if l.strip()]
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, name + ".judged.tsv"), encoding="utf-8") if l.strip()]
    assert len(meta) == len(rows), (name, len(meta), len(rows))
    return list(zip(meta, rows))


def accuracy(out, name, bl):
    own_of = {b[0]: (b[2], b[3]) for b in bl}
    rows = read_judged(out, name)
    per_fuzzer = collections.defaultdict(lambda: collections.Counter())
    misses = collections.defaultdict(list)
    wrong = []
    verdicts = collections.Counter()
    tech = collections.Counter()
    for (domain, brand, fuzzer), (_u, verdict, score, reg, got, gotdom, technique, codes) in rows:
        c = per_fuzzer[fuzzer]
        c["total"] += 1
        own, labels = own_of[brand]
        if is_own(domain, own, labels):
            c["own"] += 1
            continue
        if got == brand:
            c["traced"] += 1
            verdicts[verdict] += 1
            tech[(fuzzer, technique)] += 1
        elif got:
            c["wrong"] += 1
            wrong.append((domain, brand, got, technique))
        else:
            c["missed"] += 1
            misses[fuzzer].append(domain)
    return per_fuzzer, misses, wrong, verdicts, tech


def report(out):
    bl = brands()
    main_count = sum(1 for b in bl if b[1])
    print("# bench/urls summary\n")
    print("brands with a target domain (dnstwist input): %d" % main_count)
    for name in ("permutations", "dictionary"):
        per, misses, wrong, verdicts, tech = accuracy(out, name, bl)
        tot = collections.Counter()
        for c in per.values():
            tot.update(c)
        judged = tot["total"] - tot["own"]
        print("\n## %s (%s)" % (name, "dnstwist default fuzzers" if name == "permutations"
                                  else "dnstwist --dictionary english.dict"))
        print("permutations: %d (of which %d are the brand's own domains, excluded)" % (tot["total"], tot["own"]))
        print("traced to the right brand: %d / %d = %.2f%%" % (tot["traced"], judged, 100.0 * tot["traced"] / max(judged, 1)))
        print("traced to another brand:   %d" % tot["wrong"])
        print("not traced:                %d" % tot["missed"])
        print("verdicts of traced: %s" % dict(verdicts))
        print("\n| fuzzer | permutations | traced | % | other brand | missed |")
        print("|---|---:|---:|---:|---:|---:|")
        for f, c in sorted(per.items(), key=lambda kv: -kv[1]["total"]):
            j = c["total"] - c["own"]
            print("| %s | %d | %d | %.2f | %d | %d |" % (f, j, c["traced"], 100.0 * c["traced"] / max(j, 1), c["wrong"], c["missed"]))
        for f, ds in sorted(misses.items()):
            print("missed %s (%d), e.g.: %s" % (f, len(ds), " ".join(ds[:8])))
        if wrong:
            print("other brand, e.g.: %s" % "; ".join("%s (%s → %s, %s)" % w for w in wrong[:12]))
    rows = read_judged(out, "topsites")
    v = collections.Counter(r[1][1] for r in rows)
    own_all = set().union(*[b[2] for b in bl])
    non_own = [r for r in rows if not is_own(r[0][0], own_all, set()) and r[1][7].find("official-domain") < 0]
    v2 = collections.Counter(r[1][1] for r in non_own)
    n = len(rows)
    print("\n## false positives: npm top-sites@1.1.222 (MIT), %d domains" % n)
    print("malicious: %d (%.2f%%), suspicious: %d (%.2f%%), safe: %d" % (
        v["malicious"], 100.0 * v["malicious"] / n, v["suspicious"], 100.0 * v["suspicious"] / n, v["safe"]))
    print("domains that are not a built-in brand's own: %d; malicious %d, suspicious %d" % (
        len(non_own), v2["malicious"], v2["suspicious"]))
    for (d, _, _), r in rows:
        if r[1] != "safe":
            print("  %s: %s %s %s %s" % (d, r[1], r[2], r[4] + (" by " + r[6] if r[6] else ""), r[7]))
    # Split agreement with tldextract on the same hosts.
    ext = extractor()
    agree = dis = 0
    examples = []
    for name in ("permutations", "dictionary", "topsites"):
        for (_m, r) in read_judged(out, name):
            ours = r[3]
            theirs = registrable(ext(r[0])) or ""
            if ours == theirs:
                agree += 1
            else:
                dis += 1
                if len(examples) < 6:
                    examples.append("%s ours=%r tldextract=%r" % (r[0], ours, theirs))
    print("\n## split agreement with tldextract (same list): %d agree, %d differ" % (agree, dis))
    for e in examples:
        print("  " + e)
    print("\n## throughput (one core, best of runs)")
    for corpus in ("legit", "lookalike"):
        print("corpus %s:" % corpus)
        rates = {}
        for what in ("rust-split", "tldextract-split", "rust-judge"):
            p = os.path.join(out, "%s-%s.tsv" % (what, corpus))
            if not os.path.exists(p):
                continue
            _w, n_urls, found, secs, rate = open(p).read().split()[:5]
            rates[what] = float(rate)
            print("  %-16s %s URLs in %.3f s = %s URLs/s" % (what, n_urls, float(secs),
                                                            "{:,}".format(int(float(rate)))))
        if "rust-split" in rates and "tldextract-split" in rates:
            print("  split speed-up over tldextract: %.1fx" % (rates["rust-split"] / rates["tldextract-split"]))


if __name__ == "__main__":
    cmd, out = sys.argv[1], sys.argv[2]
    if cmd == "prepare-legit":
        top = json.load(open(os.path.join(out, "top-sites", "package", "top-sites.json")))
        write_legit(out, [t["rootDomain"] for t in top])
    elif cmd == "tldextract-time":
        tldextract_time(out, *sys.argv[3:])
    else:
        {"prepare": prepare, "report": report}[cmd](out)
