#!/usr/bin/env python3
"""Where the bytes of a wasm module go: per section (raw and gzip -9 of the section alone) and,
with `--crates TWIGGY_CSV`, per crate from `twiggy top --format csv` of a build with its name
section kept. Prints Markdown tables. Used by `scripts/bench size`."""
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


def section_table(path):
    buf = open(path, "rb").read()
    rows = list(sections(buf))
    print(f"| section | raw | gzip -9 (alone) |\n|---|---:|---:|")
    for name, body, total in rows:
        print(f"| {name} | {kib(total)} | {kib(len(gzip.compress(body, 9)))} |")
    print(f"| **module** | **{kib(len(buf))}** | **{kib(len(gzip.compress(buf, 9)))}** |")


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


def crate_table(csv_path, top):
    by = defaultdict(int)
    total = 0
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            size = int(row["ShallowSize"])
            total += size
            by[crate_of(row["Name"])] += size
    print(f"| crate (by function/data name) | raw | share |\n|---|---:|---:|")
    items = sorted(by.items(), key=lambda kv: -kv[1])
    for name, size in items[:top]:
        print(f"| {name} | {kib(size)} | {100 * size / total:.1f}% |")
    rest = sum(s for _, s in items[top:])
    if rest:
        print(f"| {len(items) - top} more | {kib(rest)} | {100 * rest / total:.1f}% |")
    print(f"| **total** | **{kib(total)}** | |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("wasm")
    ap.add_argument("--crates", help="twiggy top --format csv of a build with names")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    section_table(a.wasm)
    if a.crates:
        print()
        crate_table(a.crates, a.top)
