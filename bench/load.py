"""Load for the benchmarks: wrk POSTing one JSON body to one or many paths (round-robin), and a
fast local upstream for http steps (bench/upstream.mjs)."""

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import time
import urllib.request

from dev_server import ROOT, free_port, load_cmd

# A valid body of exactly 1024 bytes for the benchmark workflows' request schema.
_BODY = {"email": "lead@example.com", "name": "Ada Lovelace", "amount": 4200, "active": True, "notes": ""}
_BODY["notes"] = "x" * (1024 - len(json.dumps(_BODY, separators=(",", ":"))))
BODY = json.dumps(_BODY, separators=(",", ":"))
assert len(BODY) == 1024

# The request schema of every benchmark workflow: 5 body fields.
SCHEMA = {"body": [
    {"name": "email", "type": "string", "required": True},
    {"name": "name", "type": "string", "required": True},
    {"name": "amount", "type": "integer", "required": True},
    {"name": "active", "type": "boolean"},
    {"name": "notes", "type": "string"},
]}


def wrk_available():
    return shutil.which("wrk") is not None


def run_wrk(base, paths, duration, connections, threads, workdir, tag):
    """POSTs BODY to base+paths (each wrk thread walks the list round-robin) for `duration`
    (a wrk duration such as "10s"). Returns {rps, p50, p99 (ms), requests, non2xx, errors}."""
    script = os.path.join(workdir, f"{tag}.lua")
    lua_paths = ", ".join(json.dumps(p) for p in paths)
    with open(script, "w") as f:
        f.write(f"""
local paths = {{ {lua_paths} }}
local body = {json.dumps(BODY)}
local headers = {{ ["content-type"] = "application/json" }}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", paths[(i % #paths) + 1], headers, body)
end
""")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        load_cmd(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-s", script, base]),
        capture_output=True, text=True, check=True,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.path.join(workdir, f"{tag}.wrk"), "w") as f:
        f.write(out)
    r = parse_wrk(out)
    wrk_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r["wrk_cpu_ms"] = 1000 * wrk_cpu / max(r["requests"], 1)
    return r


def parse_wrk(text):
    def ms(v):
        n, unit = re.match(r"([\d.]+)(us|ms|s|m)", v).groups()
        return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50": ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)),
        "p99": ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)),
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
        "non2xx": int(bad.group(1)) if bad else 0,
        "errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


class Upstream:
    """The http steps' upstream: a Node server on loopback answering 200 {"ok":true} at once."""

    def __init__(self, workdir):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, "upstream.log"), "w")
        self.proc = subprocess.Popen(
            load_cmd(["node", os.path.join(ROOT, "bench", "upstream.mjs"), str(self.port)]),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True,
        )
        for _ in range(100):
            try:
                self.count()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("the upstream did not start")

    def count(self):
        with urllib.request.urlopen(self.base + "/count", timeout=5) as r:
            return json.loads(r.read())["count"]

    def cpu(self):
        """CPU seconds (user + system) the upstream has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.log.close()
