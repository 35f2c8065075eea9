#!/usr/bin/env python3
"""Where the bytes of a wasm module go: per section (raw and gzip -9 of the section alone) and,
with `--crates TWIGGY_CSV`, per crate from `twiggy top --format csv` of a build with its name
section kept. Prints Markdown tables. Used by `scripts/bench size`.

With `--baseline FILE --worker NAME` each table gets a change column against that Worker's rows
of FILE (docs/size-baseline.tsv: the sizes of an earlier build), and crates that moved by
1 KiB or more are listed even outside the top ones. `--write-baseline` then replaces that
Worker's rows in FILE with this build's. `--upload "…"` adds `wrangler deploy --dry-run`'s
`Total Upload: … / gzip: …` line to the section table."""
import argparse, csv, gzip, re, sys
from collections import defaultdict

SECTIONS = {0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory",
            6: "global", 7: "export", 8: "start", 9: "element", 10: "code", 11: "data",
            12: "datacount", 13: "tag"}


def leb(buf, i):
    result = shift = 0
    while True:
        b = buf[i]; i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, i


def sections(buf):
    assert buf[:4] == b"\0asm", "not a wasm module"
    i = 8
    while i < len(buf):
        sid = buf[i]; size, j = leb(buf, i + 1)
        name = SECTIONS.get(sid, f"id {sid}")
        if sid == 0:
            n, k = leb(buf, j)
            name = "custom: " + buf[k:k + n].decode("utf-8", "replace")
        yield name, buf[j:j + size], j + size - i
        i = j + size


def kib(n):
    return f"{n / 1024:.1f} KiB"


def change(now, before, digits=1):
    """The change column: `+1.2 KiB`, `−0.3 KiB`, `0`, or `new` when the baseline has no row."""
    if before is None:
        return "new"
    d = (now - before) / 1024
    if round(d, digits) == 0:
        return "0"
    return f"{'+' if d > 0 else '−'}{abs(d):.{digits}f} KiB"


def read_baseline(path, worker):
    """{(kind, name): (raw, gzip or None)} of one Worker's rows (sizes in bytes)."""
    rows = {}
    try:
        f = open(path)
    except FileNotFoundError:
        return rows
    with f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            w, kind, name, raw, gz = line.rstrip("\n").split("\t")
            if w == worker:
                rows[(kind, name)] = (int(raw), int(gz) if gz else None)
    return rows


def write_baseline(path, worker, rows):
    """Replaces `worker`'s rows of the baseline file with `rows` [(kind, name, raw, gzip)]."""
    kept = []
    try:
        with open(path) as f:
            kept = [l for l in f if not l.startswith("#") and l.strip() and l.split("\t")[0] != worker]
    except FileNotFoundError:
        pass
    with open(path, "w") as f:
        f.write("# The release Workers' sizes in bytes, the reference `scripts/bench size` compares with.\n"
                "# Refresh: TRIPLINE_SIZE_BASELINE=update scripts/bench size (docs/size.md).\n"
                "# worker\tkind\tname\traw\tgzip\n")
        f.writelines(kept)
        for kind, name, raw, gz in rows:
            f.write(f"{worker}\t{kind}\t{name}\t{raw}\t{'' if gz is None else gz}\n")


def upload_sizes(line):
    """(raw, gzip) bytes of wrangler's `Total Upload: 1419.24 KiB / gzip: 592.64 KiB`."""
    m = re.search(r"Total Upload: ([0-9.]+) KiB / gzip: ([0-9.]+) KiB", line or "")
    return (round(float(m.group(1)) * 1024), round(float(m.group(2)) * 1024)) if m else None


def section_table(path, base, upload=None):
    """Prints the table; returns its rows for the baseline."""
    if base is not None and not any(k == "section" for k, _ in base):
        base = None  # no sections in the baseline: no change column
    buf = open(path, "rb").read()
    out = []
    for name, body, total in sections(buf):
        out.append(("section", name, total, len(gzip.compress(body, 9))))
    out.append(("section", "module", len(buf), len(gzip.compress(buf, 9))))
    if upload:
        out.append(("upload", "wrangler deploy --dry-run", *upload))
    cols = "| section | raw | gzip -9 (alone) |"
    if base is not None:
        cols += " Δ raw | Δ gzip |"
    print(cols + "\n|---|" + "---:|" * (cols.count("|") - 2))
    for kind, name, raw, gz in out:
        digits = 2 if kind == "upload" else 1
        cells = [f"{raw / 1024:.{digits}f} KiB", f"{gz / 1024:.{digits}f} KiB"]
        if base is not None:
            b = base.get((kind, name), (None, None))
            cells += [change(raw, b[0], digits), change(gz, b[1], digits)]
        if kind != "section" or name == "module":
            name = f"**{name}**" if kind == "section" else f"**upload** ({name}, JS glue included)"
            cells = [f"**{c}**" if i < 2 else c for i, c in enumerate(cells)]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return out


# A function's crate: the first path segment of its (demangled) name, looking through
# `<T as Trait>` and `impl` wrappers to the crate that owns the code.
WRAPPERS = re.compile(r"^(?:<|&|mut |dyn |\(|\[)+")
PRIMITIVE_IMPL = re.compile(r"^(?:str|char|bool|[iuf](?:8|16|32|64|128|size)|[A-Z])(?:; [^\]]*)?\]?>::")


def crate_of(name):
    if name.startswith(("data[", "data segment")):
        return "(data segments: constants, strings, tables)"
    if name.startswith(("type[", "import ", "export ", "elem[", "table[", "memory[", "global[",
                        "wasm magic bytes")) or name.endswith(" section headers"):
        return "(wasm tables, types, imports, exports)"
    if name.startswith(("custom section", '"')) or "section" in name and name.endswith("section"):
        return "(custom sections)"
    if name.startswith("code["):
        return "(unnamed functions)"
    # What wasm-bindgen generates: exported entry points (`workflowobject_alarm`), their
    # `externref`/`multivalue` shims, `__wbg_*` accessors and the `__externref_*` table helpers.
    if name.endswith(" shim") or "::" not in name and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return "(wasm-bindgen exports and shims)"
    # Crate hashes (`chrono[9b739d0eba46f9e]::`) are up to 16 hex digits: leading zeros are dropped.
    n = re.sub(r"(?<=[A-Za-z0-9_])\[[0-9a-f]{1,16}\]", "", WRAPPERS.sub("", name))
    # `<str>::parse`, `<u64>::_fmt`, `<[T]>::to_vec`: a primitive's inherent impl (core, or alloc
    # for the allocating ones) counts for `core`.
    if PRIMITIVE_IMPL.match(n):
        return "core"
    # `<f64 as core::fmt::Display>::fmt`: a primitive's impl belongs to the trait's crate.
    n = re.sub(r"^[a-z0-9]+(?:; [^\]]*)?\]? as ", "", n)
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", n)
    if not m:
        return "(other: " + (n.split("(")[0][:40] or "?") + ")"
    c = m.group(1)
    return {"_": "(other)"}.get(c, c)


def crate_table(csv_path, top, base):
    """Prints the table; returns its rows for the baseline (every crate)."""
    by = defaultdict(int)
    total = 0
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            size = int(row["ShallowSize"])
            total += size
            by[crate_of(row["Name"])] += size
    before = {} if base is None else {n: r for (k, n), (r, _) in base.items()
                                    if k == "crate" and n != "(total)"}
    if not before:
        base = None  # no crates in the baseline: no change column
    items = sorted(by.items(), key=lambda kv: -kv[1])
    shown = items[:top]
    if base is not None:
        # A crate that came, went or moved by 1 KiB or more is shown wherever it ranks.
        shown += [(n, s) for n, s in items[top:] if abs(s - before.get(n, 0)) >= 1024]
        shown += [(n, 0) for n, s in sorted(before.items(), key=lambda kv: -kv[1])
                  if n not in by and s >= 1024]
    names = {n for n, _ in shown}
    cols = "| crate (by function/data name) | raw | share |" + (" Δ raw |" if base is not None else "")
    print(cols + "\n|---|" + "---:|" * (cols.count("|") - 2))
    for name, size in shown:
        cells = [kib(size), f"{100 * size / total:.1f}%"]
        if base is not None:
            cells.append(change(size, before.get(name)) if name in by else "gone")
        print(f"| {name} | " + " | ".join(cells) + " |")
    rest = [(n, s) for n, s in items if n not in names]
    if rest:
        cells = [kib(sum(s for _, s in rest)), f"{100 * sum(s for _, s in rest) / total:.1f}%"]
        if base is not None:
            cells.append(change(sum(s for _, s in rest),
                                sum(before.get(n, 0) for n, _ in rest)
                                + sum(s for n, s in before.items() if n not in by and n not in names)))
        print(f"| {len(rest)} more | " + " | ".join(cells) + " |")
    cells = [f"**{kib(total)}**", ""]
    if base is not None:
        cells.append(change(total, base.get(("crate", "(total)"), (None,))[0]))
    print("| **total** | " + " | ".join(cells) + " |")
    return [("crate", n, s, None) for n, s in items] + [("crate", "(total)", total, None)]


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("wasm", help="the module whose sections are listed")
    ap.add_argument("--crates", help="twiggy top --format csv of a build with names: "
                    "list bytes per crate (instead of the sections)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--upload", help="wrangler's `Total Upload: … / gzip: …` line, listed with the sections")
    ap.add_argument("--baseline", help="sizes of an earlier build (docs/size-baseline.tsv)")
    ap.add_argument("--worker", default="main", help="whose rows of the baseline")
    ap.add_argument("--write-baseline", action="store_true",
                    help="replace the Worker's rows (sections, or crates) in --baseline with these")
    a = ap.parse_args()
    base = read_baseline(a.baseline, a.worker) if a.baseline else None
    if a.crates:
        rows = crate_table(a.crates, a.top, base)
        kinds = {"crate"}
    else:
        rows = section_table(a.wasm, base, upload_sizes(a.upload))
        kinds = {"section", "upload"}
    if a.write_baseline:
        assert a.baseline, "--write-baseline needs --baseline FILE"
        keep = [(k, n, r, g) for (k, n), (r, g) in read_baseline(a.baseline, a.worker).items()
                if k not in kinds]
        write_baseline(a.baseline, a.worker, keep + rows)
