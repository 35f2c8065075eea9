#!/usr/bin/env python3
"""Endpoint trigger benchmark (`scripts/bench endpoint`).

wrk POSTs a valid 1 KB JSON body to three deployed endpoint workflows with a 5-field request
schema — no steps, one `log` step, one `http` step to a local upstream (bench/upstream.mjs,
answering at once) — and to the baseline: a minimal JavaScript Worker that parses the JSON,
inserts one row into D1 and answers 202 (bench/endpoint-baseline/). Both run under their own
local `wrangler dev`, started side by side; each workflow is measured next to a baseline
measurement, in BENCH_ROUNDS rounds that alternate which side goes first.

After each Tripline window the benchmark waits until every run created in the window has
finished (at most BENCH_DRAIN seconds): the runs are counted in the local state's SQLite files
(created by the window's requests, finished within the window, finished after the wait), and the CPU of the window
plus the wait is charged to the requests, so work done after the 202 is counted (the part spent
within the window is shown too: it is what sets the requests/s).

CPU per request: user + system time of the `workerd` processes of that side's `wrangler dev`
(its session), read from /proc/PID/stat, divided by the 2xx answers of the window.

Environment: BENCH_DURATION (wrk duration per window, default 6s), BENCH_ROUNDS (2),
BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_WARMUP (3s), BENCH_DRAIN (30),
BENCH_WORKFLOWS ("none,log,http"), BENCH_ASSETS ("0": Tripline runs without its `[assets]`,
the dashboard, so that wrangler's local asset emulation is not in front of `/hooks/*`, as on
Cloudflare, where the asset router does not run in the Worker; "1": the deployed configuration
as is), BENCH_FLOOR ("1", the default, also measures bench/endpoint-floor/: a JavaScript Worker
whose object inserts the run into its SQLite and, for the http workflow, makes the one outbound
call, which is the least the design itself costs on this platform; "0" skips it), BENCH_PERF
("0"; "1" samples each side's workerd with `perf record` during its windows and reports where
the CPU per request went: code compiled at run time (the WebAssembly and optimized JavaScript),
workerd's own code (V8's interpreter, builtins and collector, the platform's APIs, SQLite), the
kernel, the rest, all in the Worker's own process, and wrangler's local proxy, the second workerd
that every request passes through locally; sampling costs a little throughput), BENCH_DEV and
BENCH_STATE (bench/dev_server.py).
"""

import os
import shutil
import statistics
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dev_server import LOAD_CPUS, MODE, PIN, ROOT, STATE, SUT_CPUS, TOKEN, CpuSampler, Server, tripline_config  # noqa: E402
from load import BODY, SCHEMA, Upstream, run_wrk  # noqa: E402
from run_census import wait_finished  # noqa: E402

DURATION = os.environ.get("BENCH_DURATION", "6s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
WARMUP = os.environ.get("BENCH_WARMUP", "3s")
DRAIN = float(os.environ.get("BENCH_DRAIN", "30"))
WORKFLOWS = os.environ.get("BENCH_WORKFLOWS", "none,log,http").split(",")
ASSETS = os.environ.get("BENCH_ASSETS", "0") == "1"
FLOOR = os.environ.get("BENCH_FLOOR", "1") == "1"
PERF = os.environ.get("BENCH_PERF", "0") == "1"


def definition(kind, upstream):
    steps = {
        "none": [],
        "log": [{"type": "log", "name": "note", "message": "lead {{request.body.email}}"}],
        "http": [{"type": "http", "name": "call", "url": f"{upstream}/lead",
                  "json": {"email": "{{request.body.email}}", "amount": "{{request.body.amount}}"}}],
    }[kind]
    return {"name": f"bench {kind}", "trigger": {"type": "endpoint", "request": SCHEMA}, "steps": steps}


LABELS = {"none": "no steps", "log": "one log step", "http": "one http step (local upstream)"}


def now_ms():
    return int(time.time() * 1000)


def sample(srv, tag, work):
    """A CPU sampler on `srv` for one window when BENCH_PERF=1, else None."""
    return CpuSampler(srv, tag, work) if PERF else None


def sampled(r, sampler, ok):
    """Adds the sampler's split of the window's CPU, in ms per 2xx answer, to `r`."""
    if sampler:
        kinds = sampler.stop()
        r["perf"] = {k: 1000 * n / CpuSampler.FREQ / max(ok, 1) for k, n in kinds.items()}


def measure_tripline(srv, wid, tag, work, upstream):
    hits0, up0 = upstream.count(), upstream.cpu()
    sampler = sample(srv, tag, work)
    cpu0, t0 = srv.workerd_cpu(), now_ms()
    r = run_wrk(srv.base, [f"/hooks/{wid}"], DURATION, CONNECTIONS, THREADS, work, tag)
    t1 = now_ms()
    in_window = srv.workerd_cpu() - cpu0
    runs, waited = wait_finished(srv, [wid], t0, t1, DRAIN)
    cpu = srv.workerd_cpu() - cpu0
    ok = r["requests"] - r["non2xx"]
    sampled(r, sampler, ok)
    r.update(cpu_ms=1000 * cpu / max(ok, 1), window_cpu_ms=1000 * in_window / max(ok, 1),
             runs=runs, waited=waited, upstream=upstream.count() - hits0,
             upstream_cpu_ms=1000 * (upstream.cpu() - up0) / max(ok, 1))
    return r


def measure_floor(srv, kind, tag, work, upstream):
    """The floor Worker; for the http workflow the CPU also covers the wait until its outbound
    calls (made after the 202) have reached the upstream, at most BENCH_DRAIN seconds."""
    path = "/" if kind != "http" else f"/?upstream={urllib.parse.quote(upstream.base, safe='')}"
    hits0, up0 = upstream.count(), upstream.cpu()
    sampler = sample(srv, tag, work)
    cpu0 = srv.workerd_cpu()
    r = run_wrk(srv.base, [path], DURATION, CONNECTIONS, THREADS, work, tag)
    ok = r["requests"] - r["non2xx"]
    deadline = time.time() + DRAIN
    while kind == "http" and upstream.count() - hits0 < ok and time.time() < deadline:
        time.sleep(0.2)
    cpu = srv.workerd_cpu() - cpu0
    sampled(r, sampler, ok)
    r.update(cpu_ms=1000 * cpu / max(ok, 1), upstream=upstream.count() - hits0,
             upstream_cpu_ms=1000 * (upstream.cpu() - up0) / max(ok, 1))
    return r


def measure_baseline(srv, tag, work):
    sampler = sample(srv, tag, work)
    cpu0 = srv.workerd_cpu()
    r = run_wrk(srv.base, ["/"], DURATION, CONNECTIONS, THREADS, work, tag)
    cpu = srv.workerd_cpu() - cpu0
    sampled(r, sampler, r["requests"] - r["non2xx"])
    r.update(cpu_ms=1000 * cpu / max(r["requests"] - r["non2xx"], 1))
    return r


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (scripts/setup installs it)")
    if PERF and not CpuSampler.available():
        sys.exit("BENCH_PERF=1 needs perf (Debian's linux-perf; scripts/setup installs it)")
    load = open("/proc/loadavg").read().split()[0]
    work = os.path.join(ROOT, "target", "bench-endpoint")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.makedirs(STATE, exist_ok=True)
    servers = []
    upstream = Upstream(work)
    try:
        print("… starting Tripline and the baseline (wrangler dev)", file=sys.stderr, flush=True)
        srv = Server("tripline", tripline_config(assets=ASSETS), {"ADMIN_TOKEN": TOKEN}, migrate=True)
        servers.append(srv)
        base = Server("baseline", os.path.join(ROOT, "bench", "endpoint-baseline", "wrangler.toml"), {},
                      migrate=True, health="/")
        servers.append(base)
        floor = None
        if FLOOR:
            floor = Server("floor", os.path.join(ROOT, "bench", "endpoint-floor", "wrangler.toml"), {},
                           migrate=False, health="/")
            servers.append(floor)
        ids = {}
        for kind in WORKFLOWS:
            wid = srv.call("POST", "/api/workflows", definition(kind, upstream.base))["id"]
            srv.call("POST", f"/api/workflows/{wid}/deploy")
            ids[kind] = wid
        for url in [f"{srv.base}/hooks/{w}" for w in ids.values()] + [base.base + "/"]:
            req = urllib.request.Request(url, data=BODY.encode(), method="POST",
                                         headers={"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as resp:
                if resp.status != 202:
                    sys.exit(f"the benchmark request is not accepted by {url} ({resp.status})")
        print(f"… warm-up ({WARMUP} each)", file=sys.stderr, flush=True)
        for kind, wid in ids.items():
            run_wrk(srv.base, [f"/hooks/{wid}"], WARMUP, CONNECTIONS, THREADS, work, f"warm-{kind}")
            wait_finished(srv, [wid], 0, now_ms(), DRAIN)
        run_wrk(base.base, ["/"], WARMUP, CONNECTIONS, THREADS, work, "warm-baseline")
        if floor:
            for kind in ids:
                measure_floor(floor, kind, f"warm-floor-{kind}", work, upstream)

        rows = []  # (round, kind, tripline result, baseline result)
        for rnd in range(1, ROUNDS + 1):
            for i, (kind, wid) in enumerate(ids.items()):
                tripline_first = (rnd + i) % 2 == 1
                print(f"… round {rnd}/{ROUNDS}, {LABELS[kind]}: "
                      f"{'Tripline, then the baseline' if tripline_first else 'the baseline, then Tripline'} "
                      f"({DURATION} each)", file=sys.stderr, flush=True)
                if tripline_first:
                    t = measure_tripline(srv, wid, f"tripline-{kind}-{rnd}", work, upstream)
                    b = measure_baseline(base, f"baseline-{kind}-{rnd}", work)
                else:
                    b = measure_baseline(base, f"baseline-{kind}-{rnd}", work)
                    t = measure_tripline(srv, wid, f"tripline-{kind}-{rnd}", work, upstream)
                if floor:
                    b["floor"] = measure_floor(floor, kind, f"floor-{kind}-{rnd}", work, upstream)
                rows.append((rnd, kind, t, b))
    finally:
        for s in servers:
            s.stop()
        upstream.stop()
        shutil.rmtree(STATE, ignore_errors=True)
    report(rows, load)
    return 0


def load_cpu(r):
    """The load generator's CPU per request, and the upstream's where it was called."""
    up = f" · {r['upstream_cpu_ms']:.2f} ms" if r.get("upstream") else ""
    return f"{r['wrk_cpu_ms']:.2f} ms{up}"


def report(rows, load):
    print(f"\nEndpoint: wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION} --latency, body 1024 B JSON, "
          f"{ROUNDS} alternating round(s); wrangler dev ({MODE}); {os.cpu_count()} cores; "
          f"load average before: {load}.")
    if PIN:
        print(f"Pinned (BENCH_PIN=1): every workerd on CPU {','.join(map(str, sorted(SUT_CPUS)))}; wrk, the "
              f"upstream and wrangler's Node on CPU {','.join(map(str, sorted(LOAD_CPUS)))}.")
    print("Baseline: a JavaScript Worker that parses the JSON, inserts one row into D1 and answers 202.")
    print("Tripline " + ("with its [assets] (the dashboard): wrangler's local asset emulation (two JavaScript "
                         "Workers) runs in front of every request (BENCH_ASSETS=1)." if ASSETS else
                         "without its [assets] (the dashboard), so that wrangler's local asset emulation is "
                         "not in front of /hooks/*, as on Cloudflare (BENCH_ASSETS=1 keeps it)."))
    print("CPU: user + system time of the workerd process(es) of each side's wrangler dev "
          "(/proc/PID/stat), per 2xx answer; Tripline's includes the wait for its runs to finish (in "
          "brackets: the part spent within the window, which is what sets its requests/s).\n")
    print("| round | workflow | side | requests/s | p50 | p99 | non-2xx | workerd CPU / request "
          "| runs created | finished in window | finished after wait | upstream calls | wrk · upstream CPU / request |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rnd, kind, t, b in rows:
        rr = t["runs"]
        print(f"| {rnd} | {LABELS[kind]} | Tripline | {t['rps']:.1f} | {t['p50']:.2f} ms | {t['p99']:.2f} ms "
              f"| {t['non2xx']} | {t['cpu_ms']:.2f} ms ({t['window_cpu_ms']:.2f} ms) | {rr['created']} "
              f"| {rr['finished_in_window']} "
              f"| {rr['succeeded'] + rr['failed']} ({rr['failed']} failed, +{t['waited']:.1f} s) "
              f"| {t['upstream'] if kind == 'http' else '–'} | {load_cpu(t)} |")
        print(f"| {rnd} | {LABELS[kind]} | baseline | {b['rps']:.1f} | {b['p50']:.2f} ms | {b['p99']:.2f} ms "
              f"| {b['non2xx']} | {b['cpu_ms']:.2f} ms | | | | | {load_cpu(b)} |")
        if "floor" in b:
            f = b["floor"]
            print(f"| {rnd} | {LABELS[kind]} | floor | {f['rps']:.1f} | {f['p50']:.2f} ms | {f['p99']:.2f} ms "
                  f"| {f['non2xx']} | {f['cpu_ms']:.2f} ms | | | | {f['upstream'] if kind == 'http' else '–'} "
                  f"| {load_cpu(f)} |")
    print("\n| workflow | throughput ÷ baseline | p50 ÷ baseline | p99 ÷ baseline | CPU / request (Tripline · baseline) "
          "| CPU ÷ baseline | target (≥ 0.9× throughput, ≤ 1.2× p99) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    m = statistics.median
    for kind in dict.fromkeys(k for _, k, _, _ in rows):
        sel = [(t, b) for _, k, t, b in rows if k == kind]
        thr = m([t["rps"] / b["rps"] for t, b in sel])
        p50 = m([t["p50"] / b["p50"] for t, b in sel])
        p99 = m([t["p99"] / b["p99"] for t, b in sel])
        cpu_t, cpu_b = m([t["cpu_ms"] for t, _ in sel]), m([b["cpu_ms"] for _, b in sel])
        met = "met" if thr >= 0.9 and p99 <= 1.2 else "NOT met"
        print(f"| {LABELS[kind]} | {thr:.2f}× | {p50:.2f}× | {p99:.2f}× | {cpu_t:.2f} ms · {cpu_b:.2f} ms "
              f"| {cpu_t / max(cpu_b, 1e-9):.2f}× | {met} |")
    if any("floor" in b for _, _, _, b in rows):
        print("\nFloor (bench/endpoint-floor/: a JavaScript Worker whose object inserts the run and, for the "
              "http workflow, makes the outbound call; no validation, engine, deduplication or lease):")
        print("\n| workflow | floor throughput ÷ baseline | floor p99 ÷ baseline | floor CPU / request | "
              "Tripline CPU − floor CPU |")
        print("|---|---:|---:|---:|---:|")
        for kind in dict.fromkeys(k for _, k, _, _ in rows):
            sel = [(t, b) for _, k, t, b in rows if k == kind and "floor" in b]
            thr = m([b["floor"]["rps"] / b["rps"] for _, b in sel])
            p99 = m([b["floor"]["p99"] / b["p99"] for _, b in sel])
            cpu_f = m([b["floor"]["cpu_ms"] for _, b in sel])
            cpu_t = m([t["cpu_ms"] for t, _ in sel])
            print(f"| {LABELS[kind]} | {thr:.2f}× | {p99:.2f}× | {cpu_f:.2f} ms | {cpu_t - cpu_f:+.2f} ms |")
    if any("perf" in t for _, _, t, _ in rows):
        report_perf(rows)
    print("\n(ratios: median over the rounds of each pair's ratio; CPU: median per side)")


def report_perf(rows):
    """Where each side's CPU per request went (BENCH_PERF=1), the median of the rounds."""
    print(f"\nWhere the CPU goes (BENCH_PERF=1: perf record at {CpuSampler.FREQ} Hz on each side's workerd "
          "during its windows, Tripline's wait for its runs included), ms per 2xx answer. JIT: code "
          "compiled at run time (Tripline's WebAssembly, optimized JavaScript); workerd: the runtime's "
          "own code (V8's interpreter, builtins and collector, the platform's APIs, SQLite); these four "
          "are the Worker's own process. Local proxy: wrangler's dev proxy, a second workerd that "
          "forwards every request to the Worker's process and does not exist on Cloudflare.")
    print("\n| workflow | side | JIT | workerd | kernel | other | the Worker's process | local proxy | total |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    m = statistics.median
    for kind in dict.fromkeys(k for _, k, _, _ in rows):
        sides = [("Tripline", [t for _, k, t, _ in rows if k == kind]),
                 ("baseline", [b for _, k, _, b in rows if k == kind]),
                 ("floor", [b["floor"] for _, k, _, b in rows if k == kind and "floor" in b])]
        for side, results in sides:
            results = [r for r in results if "perf" in r]
            if not results:
                continue
            split = {k: m([r["perf"][k] for r in results]) for k in CpuSampler.KINDS + ("proxy",)}
            cells = " | ".join(f"{split[k]:.2f}" for k in CpuSampler.KINDS)
            own = sum(split[k] for k in CpuSampler.KINDS)
            print(f"| {LABELS[kind]} | {side} | {cells} | {own:.2f} | {split['proxy']:.2f} | "
                  f"{own + split['proxy']:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
