"""A local `wrangler dev` for the benchmarks: started in its own session with a fresh state
directory, called over HTTP, measured from /proc and from its state directory's SQLite files."""

import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRANGLER = os.path.join(ROOT, "node_modules", ".bin", "wrangler")
TOKEN = "bench-admin-token-0123456789"
# How wrangler dev is started: "api" (wrangler's `unstable_startWorker` with the devtools
# inspector off, bench/start_dev.mjs) or "cli" (`wrangler dev`, as the e2e tests do; its
# inspector proxy adds a dev-only cost per subrequest, which weighs on Tripline's D1 and DO
# calls and not on a Worker without them).
MODE = os.environ.get("BENCH_DEV", "api")
# State directories (D1 and Durable Object SQLite files): in memory (/dev/shm) when there is one,
# because every local SQLite commit fsyncs on workerd's only JS thread (on disk the numbers
# mostly measure the disk); BENCH_STATE=disk keeps them under target/bench.
_SHM = "/dev/shm"
if os.environ.get("BENCH_STATE", "memory") == "memory" and os.path.isdir(_SHM) and os.access(_SHM, os.W_OK):
    STATE = os.path.join(_SHM, f"tripline-bench-{os.getpid()}")
else:
    STATE = os.path.join(ROOT, "target", "bench", f"run-{os.getpid()}")


# BENCH_PIN=1 (on a machine with 2+ CPUs): every benchmarked workerd runs on CPU 0 alone, and the
# load generator, the upstream and wrangler's Node processes on the others. Without it they
# share every CPU, and the load generator and the upstream take turns with workerd.
PIN = os.environ.get("BENCH_PIN", "0") == "1" and len(os.sched_getaffinity(0)) >= 2
SUT_CPUS = {0}
LOAD_CPUS = set(os.sched_getaffinity(0)) - SUT_CPUS if PIN else set(os.sched_getaffinity(0))


def load_cmd(cmd):
    """`cmd`, run on the load generator's CPUs when the benchmark pins."""
    return ["taskset", "-c", ",".join(map(str, sorted(LOAD_CPUS)))] + cmd if PIN else cmd


def tripline_config(directory=STATE, assets=True):
    """The main Worker's wrangler.toml for a benchmark, without the `PG` service binding and the
    build command: wrangler's `unstable_startWorker` runs one Worker and refuses a binding to a
    service it does not run (none of these benchmarks reads PostgreSQL), and the benchmarks build
    once before starting. Paths are made absolute, so the copy can live in `directory`.

    `assets=False` also leaves out `[assets]` (the dashboard). Locally, wrangler emulates static
    assets with two JavaScript Workers (miniflare's RPC proxy and asset router) in the same
    workerd, on the same thread, in front of every request, `/hooks/*` included: about
    0.5–0.6 ms of CPU per request on this machine. On Cloudflare the asset router is the platform's: it does
    not run in the Worker's isolate or count in its CPU time. No `/hooks/*` request reads an
    asset."""
    os.makedirs(directory, exist_ok=True)
    out, skip = [], False
    for line in open(os.path.join(ROOT, "wrangler.toml")):
        header = line.strip()
        if header.startswith("["):
            skip = header in ("[build]", "[[services]]") or (header == "[assets]" and not assets)
        if skip:
            continue
        m = re.match(r'^(\s*(?:main|directory|migrations_dir)\s*=\s*)"([^"]+)"(.*)$', line)
        if m:
            line = f'{m.group(1)}"{os.path.join(ROOT, m.group(2))}"{m.group(3)}\n'
        out.append(line)
    path = os.path.join(directory, "wrangler.toml")
    with open(path, "w") as f:
        f.writelines(out)
    return path


def free_port():
    """A free port below the kernel's ephemeral range (32768-60999): a port probed there and
    released could be handed to another process's bind(0) before wrangler binds it."""
    for port in random.sample(range(16000, 32000), 16000):
        try:
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            s.close()
            return port
        except OSError:
            pass
    raise RuntimeError("no free port")


def child_env():
    e = dict(os.environ)
    e.update({"WRANGLER_SEND_METRICS": "false", "CI": "true", "TRIPLINE_SKIP_BUILD": "1"})
    return e


class HttpError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


class Server:
    """A `wrangler dev` in its own session (so its processes can be found and killed as one)."""

    def __init__(self, name, config, vars_, migrate, health="/healthz"):
        self.name = name
        self.dir = os.path.join(STATE, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        if migrate:
            subprocess.run(
                [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--config", config,
                 "--persist-to", self.dir],
                cwd=ROOT, env=child_env(), check=True, capture_output=True,
            )
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.dir, "wrangler.log"), "w")
        if MODE == "api":
            cmd = ["node", os.path.join(ROOT, "bench", "start_dev.mjs"), config, str(self.port),
                   self.dir, json.dumps(vars_)]
        else:
            cmd = [WRANGLER, "dev", "--config", config, "--ip", "127.0.0.1", "--port", str(self.port),
                   "--inspector-port", str(free_port()), "--persist-to", self.dir,
                   "--show-interactive-dev-session=false"]
            for k, v in vars_.items():
                cmd += ["--var", f"{k}:{v}"]
        self.proc = subprocess.Popen(
            load_cmd(cmd), cwd=ROOT, env=child_env(), stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=self.log, start_new_session=True,
        )
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(self.base + health, timeout=10):
                    break
            except urllib.error.HTTPError:
                break  # it answers
            except Exception:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                tail = "".join(open(self.log.name).readlines()[-15:])
                sys.exit(f"{name}: wrangler dev did not start; the end of its log:\n{tail}")
            time.sleep(0.25)
        if PIN:
            self.pin()

    def pin(self):
        """Moves every thread of this server's workerd processes to SUT_CPUS (threads they start
        later inherit it)."""
        for pid in self.workerd_pids():
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    os.sched_setaffinity(int(tid), SUT_CPUS)
                except OSError:
                    pass

    def workerd_pids(self):
        """The processes named `workerd` in this server's session."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            if name == "workerd" and int(fields[3]) == self.proc.pid:  # session id
                out.append(pid)
        return out

    def workerd_cpu(self):
        """CPU seconds (user + system) used so far by the workerd processes of this server: every
        process named `workerd` in its session, read from /proc/PID/stat (utime + stime)."""
        total = 0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in self.workerd_pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except Exception:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def call(self, method, path, body=None, admin=True):
        """One request; the parsed JSON answer (or text). Raises HttpError on a 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        if admin:
            req.add_header("authorization", f"Bearer {TOKEN}")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            raise HttpError(e.code, e.read().decode(errors="replace")) from None
        return json.loads(text) if text.strip().startswith(("{", "[")) else text

    def sqlite_files(self):
        """Every SQLite database in the state directory: local D1 and Durable Object storage."""
        out = []
        for d, _, files in os.walk(self.dir):
            out += [os.path.join(d, f) for f in files if f.endswith(".sqlite")]
        return sorted(out)

    def stored_bytes(self):
        """Bytes in use in every SQLite file of the state (pages minus free pages, × page size,
        as a reader sees them, write-ahead log included): what the stored data occupies, indexes
        and page slack included, independent of when the log is checkpointed."""
        total = 0
        for path in self.sqlite_files():
            try:
                with readonly(path) as db:
                    pages = db.execute("PRAGMA page_count").fetchone()[0]
                    free = db.execute("PRAGMA freelist_count").fetchone()[0]
                    size = db.execute("PRAGMA page_size").fetchone()[0]
                    total += (pages - free) * size
            except sqlite3.Error:
                pass
        return total


class CpuSampler:
    """`perf record` on a server's workerd processes for one measurement window (BENCH_PERF=1):
    where their CPU went, by the code that ran. `stop()` answers samples per kind of code:
    `jit` (code V8 compiled at run time: the Worker's WebAssembly and its optimized JavaScript),
    `workerd` (the runtime's own code: V8's interpreter, builtins and garbage collector, the
    platform's APIs, SQLite), `kernel` and `other` (libc and the rest), all in the Worker's own
    process, and `proxy`: every sample of wrangler's local proxy, the process the load generator
    connects to, which forwards each request to the Worker's process (it does not exist on
    Cloudflare, and costs about the same per request for every Worker)."""

    FREQ = 999
    KINDS = ("jit", "workerd", "kernel", "other")

    def __init__(self, server, tag, workdir):
        self.path = os.path.join(workdir, f"perf-{tag}.data")
        pids = server.workerd_pids()
        # The proxy listens on the server's port; the Worker's process on a port of its own.
        self.proxy = [pid for pid in pids if f"entry=127.0.0.1:{server.port} " in _cmdline(pid)]
        self.proc = subprocess.Popen(
            ["perf", "record", "-q", "-F", str(self.FREQ), "-o", self.path, "-p", ",".join(pids)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    @staticmethod
    def available():
        return shutil.which("perf") is not None

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        if not os.path.exists(self.path):
            sys.exit("perf record wrote no samples: is /proc/sys/kernel/perf_event_paranoid above 2?")
        out = subprocess.run(
            ["perf", "report", "-i", self.path, "--sort", "pid,dso", "-n", "-F", "sample,pid,dso",
             "--stdio", "-g", "none"],
            capture_output=True, text=True, check=True,
        ).stdout
        os.remove(self.path)
        # perf names threads; the proxy's are those listed under its process.
        proxy_threads = set()
        for pid in self.proxy:
            try:
                proxy_threads.update(os.listdir(f"/proc/{pid}/task"))
            except OSError:
                pass
        kinds = dict.fromkeys(self.KINDS + ("proxy",), 0)
        for line in out.splitlines():
            parts = line.split(None, 2)
            if len(parts) != 3 or not parts[0].isdigit():
                continue
            n, thread = int(parts[0]), parts[1].split(":", 1)[0]
            # A thread's name may hold spaces ("V8 DefaultWorker"): the dso ends the line.
            dso = parts[2].strip()
            if thread in proxy_threads:
                kinds["proxy"] += n
                continue
            kind = ("jit" if "[JIT]" in dso else "kernel" if dso.endswith("[kernel.kallsyms]")
                    else "workerd" if dso.endswith("workerd") else "other")
            kinds[kind] += n
        return kinds


def _cmdline(pid):
    """A process's command line, its arguments separated by spaces ("" when it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read().replace("\0", " ")
    except OSError:
        return ""


class readonly:
    """A read-only connection to a SQLite file that workerd has open (WAL readers coexist)."""

    def __init__(self, path):
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)

    def __enter__(self):
        return self.db

    def __exit__(self, *_):
        self.db.close()
