#!/usr/bin/env python3
"""Scale benchmark (`scripts/bench scale`).

On one local `wrangler dev`, wrk POSTs a valid 1 KB JSON body to endpoint workflows with one
`log` step:
  - 200 workflows, hit round-robin (every wrk thread walks the list of hook URLs);
  - one hot workflow with `"shards": 1`, 4 and 16 in its definition. A build that refuses the
    field (400 naming `shards`) gets "n/a" for 4 and 16, and its 1-shard row is measured with
    the field left out (one shard is what such a build has).
Per mode: requests/s, p50/p99, workerd CPU per request (as in the endpoint benchmark), runs
created and finished (after waiting up to BENCH_DRAIN s for the window's runs to finish),
D1 statements per request and bytes stored per run.

D1 statements: the dev-only counter `GET /__dev/stats` ({kind: count}, the Worker started with
TRIPLINE_DEV_STATS=1), read before the window and after the wait, divided by the 2xx answers;
"n/a" when the build has no such endpoint.
Bytes stored per run: growth of the bytes in use of every SQLite file in the state directory
(local D1 and every Durable Object; (page_count − freelist_count) × page_size as a reader sees
them, write-ahead log included) over the window and the wait, divided by the runs created.

Locally every Durable Object and the Worker share one workerd thread: these are overhead
figures, not the production ceilings (docs/scale.md turns them into those).

Environment: BENCH_DURATION (wrk duration per mode, default 8s), BENCH_CONNECTIONS (32),
BENCH_THREADS (2), BENCH_WARMUP (2s), BENCH_DRAIN (30), BENCH_FLEET (200), BENCH_SHARDS
("1,4,16"), BENCH_DEV and BENCH_STATE (bench/dev_server.py).
"""

import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dev_server import MODE, ROOT, STATE, TOKEN, HttpError, Server, tripline_config  # noqa: E402
from load import SCHEMA, run_wrk  # noqa: E402
from run_census import dev_stats, stats_delta, wait_finished  # noqa: E402

DURATION = os.environ.get("BENCH_DURATION", "8s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
WARMUP = os.environ.get("BENCH_WARMUP", "2s")
DRAIN = float(os.environ.get("BENCH_DRAIN", "30"))
FLEET = int(os.environ.get("BENCH_FLEET", "200"))
SHARDS = [int(x) for x in os.environ.get("BENCH_SHARDS", "1,4,16").split(",") if x]


def definition(name, shards=None):
    d = {"name": name, "trigger": {"type": "endpoint", "request": SCHEMA},
         "steps": [{"type": "log", "name": "note", "message": "lead {{request.body.email}}"}]}
    if shards is not None:
        d["shards"] = shards
    return d


def now_ms():
    return int(time.time() * 1000)


def pmap(f, items, workers=8):
    with ThreadPoolExecutor(workers) as ex:
        return list(ex.map(f, items))


def create(srv, d):
    wid = srv.call("POST", "/api/workflows", d)["id"]
    srv.call("POST", f"/api/workflows/{wid}/deploy")
    return wid


def measure(srv, ids, tag, work):
    """Warm-up, then one measured window over `ids` (round-robin) and the wait for its runs."""
    paths = [f"/hooks/{w}" for w in ids]
    run_wrk(srv.base, paths, WARMUP, CONNECTIONS, THREADS, work, f"warm-{tag}")
    wait_finished(srv, ids, 0, now_ms(), DRAIN)
    stats0, bytes0, cpu0, t0 = dev_stats(srv), srv.stored_bytes(), srv.workerd_cpu(), now_ms()
    r = run_wrk(srv.base, paths, DURATION, CONNECTIONS, THREADS, work, tag)
    t1 = now_ms()
    runs, waited = wait_finished(srv, ids, t0, t1, DRAIN)
    cpu, stats = srv.workerd_cpu() - cpu0, stats_delta(stats0, dev_stats(srv))
    grown = srv.stored_bytes() - bytes0
    ok = max(r["requests"] - r["non2xx"], 1)
    r.update(cpu_ms=1000 * cpu / ok, runs=runs, waited=waited, stats=stats,
             stmts=None if stats is None else sum(stats.values()) / ok,
             bytes_per_run=grown / runs["created"] if runs["created"] else None)
    return r


def refused_shards(e):
    return isinstance(e, HttpError) and e.status == 400 and "shards" in e.body


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (scripts/setup installs it)")
    load = open("/proc/loadavg").read().split()[0]
    work = os.path.join(ROOT, "target", "bench-scale")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.makedirs(STATE, exist_ok=True)
    rows = []  # (label, result or "n/a: …")
    srv = None
    try:
        print("… starting Tripline (wrangler dev)", file=sys.stderr, flush=True)
        srv = Server("tripline", tripline_config(),
                     {"ADMIN_TOKEN": TOKEN, "TRIPLINE_DEV_STATS": "1"}, migrate=True)
        print(f"… creating and deploying {FLEET} workflows", file=sys.stderr, flush=True)
        fleet = pmap(lambda i: create(srv, definition(f"bench fleet {i}")), range(FLEET))
        print(f"… {FLEET} workflows round-robin ({DURATION})", file=sys.stderr, flush=True)
        rows.append((f"{FLEET} workflows, round-robin", measure(srv, fleet, "fleet", work)))
        for n in SHARDS:
            label = f"1 hot workflow, {n} shard{'s' if n > 1 else ''}"
            try:
                wid = create(srv, definition(f"bench hot {n}", n))
            except HttpError as e:
                if not refused_shards(e):
                    raise
                if n != 1:
                    rows.append((label, "n/a: shards not supported by this build"))
                    continue
                wid = create(srv, definition("bench hot 1"))
                label += " (no `shards` field: this build has one)"
            print(f"… {label} ({DURATION})", file=sys.stderr, flush=True)
            rows.append((label, measure(srv, [wid], f"hot-{n}", work)))
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(STATE, ignore_errors=True)
    report(rows, load)
    return 0


def report(rows, load):
    print(f"\nScale: wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION} --latency per mode (after a {WARMUP} "
          f"warm-up), body 1024 B JSON, workflows with one log step; wrangler dev ({MODE}); "
          f"{os.cpu_count()} cores; load average before: {load}.")
    print("Locally every object and the Worker share one workerd thread: overhead figures, not "
          "production ceilings (docs/scale.md).\n")
    print("| mode | requests/s | p50 | p99 | non-2xx | workerd CPU / request | runs created "
          "| finished in window | finished after wait | D1 statements / request | bytes stored / run |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for label, r in rows:
        if isinstance(r, str):
            print(f"| {label} | {r} | | | | | | | | | |")
            continue
        rr = r["runs"]
        if r["stmts"] is None:
            stmts = "n/a (no /__dev/stats)"
        else:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["stats"].items()))
            stmts = f"{r['stmts']:.2f} ({kinds or 'none'})"
        per_run = "n/a" if r["bytes_per_run"] is None else f"{r['bytes_per_run']:.0f} B"
        print(f"| {label} | {r['rps']:.1f} | {r['p50']:.2f} ms | {r['p99']:.2f} ms | {r['non2xx']} "
              f"| {r['cpu_ms']:.2f} ms | {rr['created']} | {rr['finished_in_window']} "
              f"| {rr['succeeded'] + rr['failed']} ({rr['failed']} failed, +{r['waited']:.1f} s) "
              f"| {stmts} | {per_run} |")
    print("\nD1 statements: the dev counter's growth (kind count) over the window and the wait, per 2xx "
          "answer. Bytes: growth of the SQLite files' bytes in use (local D1 and every object) per run created.")


if __name__ == "__main__":
    sys.exit(main())
