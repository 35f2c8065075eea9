#!/usr/bin/env python3
"""Scheduler lateness benchmark (`scripts/bench schedule`).

Lateness = fired_at - scheduled_at of each slot. Scenarios: (a) one workflow every 1 s for
DURATION seconds, (b) FLEET workflows every 1 s for DURATION seconds. Each runs against
Tripline (the built Worker under `wrangler dev`, runs read back over the API) and against a
baseline: a minimal JavaScript Durable Object (bench/baseline) that re-arms its own alarm every
second, also under `wrangler dev`. Both instances are started and stopped here, one at a time,
each with a fresh state directory, in BENCH_ROUNDS alternating rounds (default 3) whose fires
are pooled per side.

Each side first runs BENCH_WARMUP seconds (default 20) unmeasured after everything is armed: a
fresh `wrangler dev` compiles Tripline's wasm lazily and optimizes its hot functions over the
first ~20 s of fires (p99 74 ms in the first 10 s of one round, 20–25 ms from the 20th second
on), which a long-lived isolate pays once; the baseline's few lines of JavaScript barely
notice. Missed slots: whole seconds in the measured window (from the first slot after the
warm-up to the last slot before the stop) with no run. Duplicates: runs beyond the first for
a slot. Environment: BENCH_DURATION (default 60, per round), BENCH_FLEET (default 50),
BENCH_ROUNDS, BENCH_SCENARIOS ("a,b"), BENCH_IMPLS ("tripline,baseline,floor"; the floor is
bench/schedule-floor/: the baseline plus the one run row per fire that Tripline stores, in the
same table with the same indexes, written from JavaScript), BENCH_VARS (JSON vars
for Tripline), BENCH_DUMP (a path prefix for the raw fires), BENCH_DEV and BENCH_STATE (see
docs/schedule.md).
"""

import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The same wrangler dev start-up, state directory (BENCH_STATE) and mode (BENCH_DEV) as the
# other benchmarks; tripline_config is wrangler.toml without the PG binding.
from dev_server import MODE, STATE, TOKEN, Server, tripline_config  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DURATION = int(os.environ.get("BENCH_DURATION", "60"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "20"))
FLEET = int(os.environ.get("BENCH_FLEET", "50"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Which scenarios run ("a", "b" or "a,b") and whether the baseline runs too (for quick looks).
SCENARIOS = os.environ.get("BENCH_SCENARIOS", "a,b").split(",")
IMPLS = os.environ.get("BENCH_IMPLS", "tripline,baseline,floor").split(",")
# Extra vars for Tripline's worker (JSON object), e.g. to try a setting.
EXTRA_VARS = json.loads(os.environ.get("BENCH_VARS", "{}"))
LOAD = "n/a"


def now_ms():
    return int(time.time() * 1000)


def pmap(f, items, workers=10):
    with ThreadPoolExecutor(workers) as ex:
        return list(ex.map(f, items))


def tripline(n):
    """Deploys n workflows every 1 s for DURATION s; returns ({id: [(slot, fired)]}, window)."""
    srv = Server(f"tripline-{n}", tripline_config(STATE), {"ADMIN_TOKEN": TOKEN, **EXTRA_VARS},
                 migrate=True)
    try:
        definition = {
            "name": "bench every second",
            "trigger": {"type": "schedule", "schedule": {"kind": "seconds", "every": 1}},
            "steps": [{"type": "log", "name": "tick", "message": "{{schedule.scheduled_at}}"}],
        }
        # Warm up (the first request compiles the wasm).
        srv.call("GET", "/api/workflows")
        ids = pmap(lambda _: srv.call("POST", "/api/workflows", definition)["id"], range(n))
        pmap(lambda i: srv.call("POST", f"/api/workflows/{i}/deploy"), ids)
        time.sleep(WARMUP)
        start, cpu0 = now_ms(), srv.workerd_cpu()
        time.sleep(DURATION)
        stop, cpu = now_ms(), srv.workerd_cpu() - cpu0
        pmap(lambda i: srv.call("POST", f"/api/workflows/{i}/undeploy"), ids)
        time.sleep(1)
        out = {}
        for i in ids:
            page = srv.call("GET", f"/api/workflows/{i}/runs?limit=100")
            fires = []
            cursor = True
            while cursor:
                for run in page["runs"]:
                    s = run["input"]["schedule"]
                    fires.append((iso_ms(s["scheduled_at"]), iso_ms(s["fired_at"]),
                                  iso_ms(run["created_at"])))
                cursor = page.get("next_cursor")
                if cursor:
                    page = srv.call("GET", f"/api/workflows/{i}/runs?limit=100&cursor={cursor}")
            out[i] = fires
        return out, (start, stop, cpu)
    finally:
        srv.stop()


def baseline(n, folder="baseline"):
    """Starts n baseline objects (or the floor's, `folder` schedule-floor) for DURATION s;
    returns ({name: [(slot, fired)]}, window)."""
    srv = Server(f"{folder}-{n}", os.path.join(ROOT, "bench", folder, "wrangler.toml"), {},
                 migrate=False)
    try:
        srv.call("GET", "/results?n=1", admin=False)  # warm up
        srv.call("GET", f"/start?n={n}", admin=False)
        time.sleep(WARMUP)
        start, cpu0 = now_ms(), srv.workerd_cpu()
        time.sleep(DURATION)
        stop, cpu = now_ms(), srv.workerd_cpu() - cpu0
        srv.call("GET", f"/stop?n={n}", admin=False)
        results = srv.call("GET", f"/results?n={n}", admin=False)
        return {k: [(x[0], x[1], None) for x in v] for k, v in results.items()}, (start, stop, cpu)
    finally:
        srv.stop()


def iso_ms(s):
    from datetime import datetime
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))  # nearest rank
    return v[k]


def summarize(rounds):
    """Pools the fires of several rounds: [(per_timer, window), …] → one row of the table."""
    lateness, recorded, missed, duplicates, cpu_s, secs = [], [], 0, 0, 0.0, 0.0
    round_p99 = []
    for per_timer, (start, stop, cpu) in rounds:
        # Slots everyone should have run: after all were armed (+1 s), before the stop (-1 s).
        first = (start // 1000 + 2) * 1000
        last = (stop // 1000 - 1) * 1000
        cpu_s += cpu
        secs += (stop - start) / 1000
        this_round = []
        for fires in per_timer.values():
            slots = [s for s, _, _ in fires]
            duplicates += len(slots) - len(set(slots))
            have = set(slots)
            missed += sum(1 for s in range(first, last + 1, 1000) if s not in have)
            this_round += [f - s for s, f, _ in fires if first <= s <= last]
            recorded += [c - s for s, _, c in fires if first <= s <= last and c is not None]
        lateness += this_round
        round_p99.append(percentile(this_round, 99))
    return {
        "recorded_p50": percentile(recorded, 50) if recorded else "–",
        "recorded_p99": percentile(recorded, 99) if recorded else "–",
        "fires": len(lateness),
        "p50": percentile(lateness, 50),
        "p99": percentile(lateness, 99),
        "max": max(lateness) if lateness else float("nan"),
        "missed": missed,
        "duplicates": duplicates,
        # workerd's CPU over the measured windows, as a share of one core.
        "cpu": f"{100 * cpu_s / max(secs, 1):.0f} %",
        "cpu_share": cpu_s / max(secs, 1),
        # The same window as the pooled figures, round by round.
        "round_p99": round_p99,
    }


def main():
    global LOAD
    LOAD = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "n/a"
    os.makedirs(STATE, exist_ok=True)
    rows = []
    try:
        for key, label, n in (("a", "(a) 1 × every 1 s", 1), ("b", f"(b) {FLEET} × every 1 s", FLEET)):
            if key not in SCENARIOS:
                continue
            t_rounds, b_rounds, f_rounds = [], [], []
            # Rounds alternate the two sides so that both see the same machine (its load drifts).
            for r in range(ROUNDS):
                print(f"… {label}: round {r + 1}/{ROUNDS}: Tripline, {DURATION} s", file=sys.stderr, flush=True)
                t_rounds.append(tripline(n))
                if "baseline" in IMPLS:
                    print(f"… {label}: round {r + 1}/{ROUNDS}: baseline, {DURATION} s", file=sys.stderr, flush=True)
                    b_rounds.append(baseline(n))
                if "floor" in IMPLS:
                    print(f"… {label}: round {r + 1}/{ROUNDS}: floor, {DURATION} s", file=sys.stderr, flush=True)
                    f_rounds.append(baseline(n, "schedule-floor"))
            if os.environ.get("BENCH_DUMP"):
                with open(os.environ["BENCH_DUMP"] + f".{key}.json", "w") as f:
                    json.dump({"tripline": t_rounds, "baseline": b_rounds, "floor": f_rounds}, f)
            t = summarize(t_rounds)
            b = summarize(b_rounds) if b_rounds else None
            fl = summarize(f_rounds) if f_rounds else None
            rows.append((label, t, b, fl))
    finally:
        shutil.rmtree(STATE, ignore_errors=True)
    print(f"\nLateness (fired_at − scheduled_at, ms): {ROUNDS} round(s) of {DURATION} s per side after "
          f"{WARMUP} s of warm-up, alternating; wrangler dev ({MODE}), state in "
          f"{'memory' if STATE.startswith('/dev/shm') else 'target/'}; load average before: {LOAD}.")
    print("\"run recorded\": created_at − scheduled_at of Tripline's runs (when the run row was "
          "written). CPU: workerd's, share of one core.\n")
    print("| scenario | implementation | fires | p50 | p99 | max | p99 per round | missed | duplicates "
          "| workerd CPU | run recorded p50 / p99 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, t, b, fl in rows:
        for name, r in (("Tripline", t), ("baseline JS DO", b), ("floor JS DO + run row", fl)):
            if r is None:
                continue
            per_round = " / ".join(str(x) for x in r["round_p99"])
            print(f"| {label} | {name} | {r['fires']} | {r['p50']} | {r['p99']} | {r['max']} "
                  f"| {per_round} | {r['missed']} | {r['duplicates']} | {r['cpu']} "
                  f"| {r['recorded_p50']} / {r['recorded_p99']} |")
    ok = True
    if all(b for _, _, b, _ in rows):
        print("\n| scenario | p99 ratio | CPU ratio | target (p99 ≤ 1.5×, CPU ≤ 3×, 0 missed, 0 dup) "
              "| floor: p99 ratio | floor: CPU ratio |")
        print("|---|---:|---:|---|---:|---:|")
        for label, t, b, fl in rows:
            ratio = t["p99"] / max(b["p99"], 1)
            # CPU below 1 % of a core on both sides is noise: counted as 1 %.
            cpu_ratio = max(t["cpu_share"], 0.01) / max(b["cpu_share"], 0.01)
            met = ratio <= 1.5 and cpu_ratio <= 3 and t["missed"] == 0 and t["duplicates"] == 0
            ok &= met
            floor = ("| – | – |" if fl is None else
                     f"| {fl['p99'] / max(b['p99'], 1):.2f} "
                     f"| {max(fl['cpu_share'], 0.01) / max(b['cpu_share'], 0.01):.1f} |")
            print(f"| {label} | {ratio:.2f} | {cpu_ratio:.1f} | {'met' if met else 'NOT met'} {floor}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
