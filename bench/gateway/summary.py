"""Summarise a bench/gateway results file: added latency vs direct, max RPS, RSS."""
import json
import sys

rows = {}
extra = []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if "@" in r.get("label", ""):
        rows[r["label"]] = r
    else:
        extra.append(r)

def ms(us):
    return f"{us / 1000:.3f}"

rates = sorted({k.split("@")[1] for k in rows if k.split("@")[1] != "max" and k.startswith("direct")}, key=float)
print("\n| rate (req/s) | target | achieved | errors | p50 ms | p99 ms | added p50 ms | added p99 ms | p99 from due time ms |")
print("|---|---|---|---|---|---|---|---|---|")
for rate in rates:
    d = rows.get(f"direct@{rate}")
    for t in ("direct", "rampart", "litellm"):
        r = rows.get(f"{t}@{rate}")
        if not r:
            continue
        add50 = add99 = ""
        if t != "direct" and d:
            add50 = ms(r["p50_us"] - d["p50_us"])
            add99 = ms(r["p99_us"] - d["p99_us"])
        print(f"| {rate} | {t} | {r['achieved_rps']:.0f} | {r['errors']} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {add50} | {add99} | {ms(r.get('co_p99_us', 0))} |")
guard_rows = [(rate, base, g) for rate in rates for base, g in (("rampart", "rampart-guard"), ("rampart-4k", "rampart-guard-4k")) if f"{g}@{rate}" in rows and f"{base}@{rate}" in rows]
if guard_rows:
    print("\n| rate (req/s) | guardrails (GUARDRAILS=1) | achieved | errors | p50 ms | p99 ms | added by guardrails p50 ms | added by guardrails p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for rate, base, g in guard_rows:
        b0, r = rows[f"{base}@{rate}"], rows[f"{g}@{rate}"]
        for label, x in ((base, b0), (g, r)):
            add50 = add99 = ""
            if x is r:
                add50, add99 = ms(r["p50_us"] - b0["p50_us"]), ms(r["p99_us"] - b0["p99_us"])
            print(f"| {rate} | {label} | {x['achieved_rps']:.0f} | {x['errors']} | {ms(x['p50_us'])} | {ms(x['p99_us'])} | {add50} | {add99} |")
print("\n| closed loop | requests/s | errors | p50 ms | p99 ms |")
print("|---|---|---|---|---|")
for t in ("direct", "rampart", "litellm"):
    r = rows.get(f"{t}@max")
    if r:
        print(f"| {t} | {r['achieved_rps']:.0f} | {r['errors']} | {ms(r['p50_us'])} | {ms(r['p99_us'])} |")
ra, la = rows.get("rampart@max"), rows.get("litellm@max")
if ra and la and la["achieved_rps"] > 0:
    print(f"\nmax RPS ratio rampart/litellm: {ra['achieved_rps'] / la['achieved_rps']:.1f}x")
print("\n| 401 path | p50 ms | p99 ms |")
print("|---|---|---|")
for k in ("401-revoked@500", "401-unknown@500", "401-garbage@500"):
    r = rows.get(k)
    if r:
        print(f"| {k} | {ms(r['p50_us'])} | {ms(r['p99_us'])} |")
for e in extra:
    print(json.dumps(e))
