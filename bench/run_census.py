"""What the benchmarked Worker did, read without asking workerd for it: the runs created in a
window and how many of them finished (from every `runs` table in the state's SQLite files, so
D1-stored and object-stored runs alike), and the D1 statement counter of a dev build."""

import sqlite3
import time
from datetime import datetime, timezone

from dev_server import HttpError, readonly


def iso(ms):
    """Epoch ms → the ISO form the Worker stores (`2026-12-01T10:40:00.123Z`), which sorts as text."""
    t = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ms) % 1000:03d}Z"


def _run_tables(server):
    """Paths of the SQLite files with a `runs` table that has the columns counted here."""
    need = {"workflow_id", "status", "created_at", "finished_at"}
    out = []
    for path in server.sqlite_files():
        try:
            with readonly(path) as db:
                cols = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
        except sqlite3.Error:
            continue
        if need <= cols:
            out.append(path)
    return out


def count_runs(server, workflow_ids, start_ms, end_ms):
    """Runs of these workflows created since `start` (requests still in flight when the load
    stopped at `end` count too): {created, finished_in_window (finished by `end`), succeeded,
    failed, unfinished, tables (SQLite files holding them)}."""
    lo, hi = iso(start_ms), iso(end_ms)
    ids = list(workflow_ids)
    marks = ",".join("?" * len(ids))
    sql = f"""SELECT COUNT(*),
                     COALESCE(SUM(finished_at IS NOT NULL AND finished_at <= ?), 0),
                     COALESCE(SUM(status = 'succeeded'), 0),
                     COALESCE(SUM(status = 'failed'), 0),
                     COALESCE(SUM(status IN ('queued', 'running')), 0)
              FROM runs WHERE workflow_id IN ({marks}) AND created_at >= ?"""
    total = {"created": 0, "finished_in_window": 0, "succeeded": 0, "failed": 0, "unfinished": 0,
             "tables": 0}
    for path in _run_tables(server):
        try:
            with readonly(path) as db:
                row = db.execute(sql, [hi, *ids, lo]).fetchone()
        except sqlite3.Error:
            continue
        if row[0]:
            total["tables"] += 1
        for k, v in zip(("created", "finished_in_window", "succeeded", "failed", "unfinished"), row):
            total[k] += v
    return total


def wait_finished(server, workflow_ids, start_ms, end_ms, timeout_s):
    """Waits until every run created since the window's start has finished (or `timeout_s` passed); returns
    the last count and the seconds waited after the window."""
    t0 = time.time()
    while True:
        c = count_runs(server, workflow_ids, start_ms, end_ms)
        if c["unfinished"] == 0 or time.time() - t0 > timeout_s:
            return c, time.time() - t0
        time.sleep(0.5)


def dev_stats(server):
    """The dev build's D1 statement counter, {kind: count}, from `GET /__dev/stats`; None when
    the endpoint is not there (not a 200 with a JSON object of numbers)."""
    try:
        v = server.call("GET", "/__dev/stats")
    except (HttpError, OSError, ValueError):
        return None
    if isinstance(v, dict) and isinstance(v.get("statements"), dict):
        v = v["statements"]  # tolerate {"statements": {kind: count}}
    if isinstance(v, dict) and v and all(isinstance(x, (int, float)) for x in v.values()):
        return v
    if isinstance(v, dict) and not v:
        return {}
    return None


def stats_delta(before, after):
    """{kind: statements} spent between two counter readings (None when there is no counter)."""
    if before is None or after is None:
        return None
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)
            if after.get(k, 0) - before.get(k, 0)}
