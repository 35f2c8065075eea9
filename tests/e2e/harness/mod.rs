//! End-to-end harness: starts the real Worker and the PostgreSQL Worker it calls under one
//! `wrangler dev` (workerd, local D1 and Durable Objects) on a free port with a fresh state
//! directory, and talks to it over HTTP.

pub mod http_server;
pub mod oauth_provider;
pub mod postgres;
pub mod upstream;

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub const ENCRYPTION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // base64 of 32 bytes
/// `TRIPLINE_SIGNIN_KEY`: what an app's backend signs Sign-in links with.
pub const SIGNIN_KEY: &str = "test-signin-key-0123456789abcdef0123456789";

/// A Sign-in URL path as an app's backend mints it: `user_id`, `expires` (10 minutes ahead) and
/// the hex HMAC-SHA256 of `{workflow_id}.{user_id}.{expires}` under [`SIGNIN_KEY`].
pub fn signin_path(workflow_id: &str, user_id: &str) -> String {
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    signin_path_at(workflow_id, user_id, expires as i64)
}

/// [`signin_path`] with a chosen `expires` (Unix seconds).
pub fn signin_path_at(workflow_id: &str, user_id: &str, expires: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SIGNIN_KEY.as_bytes()).expect("key");
    m.update(format!("{workflow_id}.{user_id}.{expires}").as_bytes());
    let signature: String = m
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let user: String = url_encode(user_id);
    format!("/oauth/{workflow_id}/signin?user_id={user}&expires={expires}&signature={signature}")
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A port for a server started later (wrangler dev, PostgreSQL), free when probed.
///
/// Taken below the kernel's ephemeral range (32768–60999 on Linux), which the kernel hands out
/// to every `bind(0)` and outgoing connection: a port probed there and released could be given
/// to another process (a workerd's inner socket, say) before our server binds it, and a health
/// check would then reach the wrong server. Each port is handed out once per test process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 16_000;
    const COUNT: u32 = 16_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Test processes started one after another begin at different places.
    let seed = std::process::id().wrapping_mul(7_919) % COUNT;
    for _ in 0..COUNT {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (FIRST + (seed + n) % COUNT) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + COUNT)
}

/// A running `wrangler dev`.
pub struct Dev {
    pub base: String,
    pub state_dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
    vars: Vec<(String, String)>,
    /// The wrangler configurations started together (the main Worker's first).
    configs: Vec<String>,
}

/// Both Workers: the main one (served on the port) and the PostgreSQL Worker it reaches over
/// the service binding `PG`.
const BOTH_WORKERS: &[&str] = &["wrangler.toml", "pg/wrangler.toml"];

fn wrangler() -> PathBuf {
    root().join("node_modules/.bin/wrangler")
}

/// Applies the D1 migrations to a new, empty state directory. Local D1 under load now and then
/// fails a migration with an assertion of its own (`false == true`, no SQL error): the
/// directory is then emptied and the migrations applied once more from the start.
pub fn migrate(state_dir: &Path) {
    let apply = || {
        let out = Command::new(wrangler())
            .args(["d1", "migrations", "apply", "DB", "--local", "--persist-to"])
            .arg(state_dir)
            .current_dir(root())
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "true")
            .output()
            .expect("run wrangler d1 migrations apply");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = apply();
    assert!(
        ok || text.contains("false == true"),
        "migrations failed: {text}"
    );
    if ok {
        return;
    }
    eprintln!("migrations failed once, applying them again from the start: {text}");
    let _ = std::fs::remove_dir_all(state_dir);
    std::fs::create_dir_all(state_dir).expect("state dir");
    let (ok, text) = apply();
    assert!(ok, "migrations failed twice: {text}");
}

impl Dev {
    /// Starts a fresh instance with its own state directory.
    pub fn start(name: &str, vars: &[(&str, &str)]) -> Dev {
        Dev::start_with(name, vars, BOTH_WORKERS)
    }

    /// Starts the main Worker with the PostgreSQL Worker configured by `pg_config` (a copy of
    /// `pg/wrangler.toml` with more bindings).
    pub fn start_with_pg_config(name: &str, vars: &[(&str, &str)], pg_config: &Path) -> Dev {
        let pg_config = pg_config.to_string_lossy();
        Dev::start_with(name, vars, &["wrangler.toml", &pg_config])
    }

    /// Starts the main Worker from a copy of `wrangler.toml` whose `[vars]` also hold `vars`
    /// (TOML, as written in the file: `RUN_STORAGE_LIMIT_BYTES = 1`), with its paths made
    /// absolute so that the copy can live in the state directory.
    pub fn start_with_toml_vars(name: &str, vars: &str) -> Dev {
        let dir = root()
            .join("target/e2e")
            .join(format!("{name}-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("config dir");
        let at = |p: &str| root().join(p).display().to_string();
        let text = std::fs::read_to_string(root().join("wrangler.toml")).expect("wrangler.toml");
        let mut config = String::new();
        for line in text.lines() {
            let line = match line.trim() {
                "main = \"src/entry.js\"" => format!("main = \"{}\"", at("src/entry.js")),
                "command = \"scripts/build worker\"" => {
                    format!("command = \"{} worker\"", at("scripts/build"))
                }
                "directory = \"dashboard/dist\"" => {
                    format!("directory = \"{}\"", at("dashboard/dist"))
                }
                "migrations_dir = \"migrations\"" => {
                    format!("migrations_dir = \"{}\"", at("migrations"))
                }
                "[vars]" => format!("[vars]\n{vars}"),
                _ => line.to_string(),
            };
            config.push_str(&line);
            config.push('\n');
        }
        assert!(
            config.contains(&at("src/entry.js")) && config.contains(vars),
            "{config}"
        );
        let path = dir.join("wrangler.toml");
        std::fs::write(&path, config).expect("write config");
        let pg = root().join("pg/wrangler.toml");
        let (main, pg) = (path.to_string_lossy(), pg.to_string_lossy());
        Dev::start_with(name, &[], &[&main, &pg])
    }

    /// Starts the main Worker alone: its binding `PG` leads nowhere, as when the PostgreSQL
    /// Worker was not deployed.
    pub fn start_without_pg_worker(name: &str, vars: &[(&str, &str)]) -> Dev {
        Dev::start_with(name, vars, &["wrangler.toml"])
    }

    fn start_with(name: &str, vars: &[(&str, &str)], configs: &[&str]) -> Dev {
        let dir = root()
            .join("target/e2e")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("state dir");
        migrate(&dir);
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut dev = Dev {
            base: String::new(),
            state_dir: dir,
            port: 0,
            child: None,
            vars,
            configs: configs.iter().map(|c| c.to_string()).collect(),
        };
        dev.spawn();
        dev
    }

    /// Starts `wrangler dev` on the current state directory and waits for `/healthz`.
    pub fn spawn(&mut self) {
        // A free port can be taken by another process between our probe and wrangler's
        // bind (tests run in parallel): try again on a new port.
        for attempt in 1..=4 {
            match self.try_spawn() {
                Ok(()) => return,
                Err(log) if attempt < 4 && log.contains("already in use") => continue,
                Err(log) => panic!(
                    "wrangler dev exited early; see {}:\n{}",
                    self.state_dir.display(),
                    log.lines().rev().take(15).collect::<Vec<_>>().join("\n")
                ),
            }
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let port = free_port();
        let log_path = self.state_dir.join(format!("wrangler-{port}.log"));
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut cmd = Command::new(wrangler());
        cmd.arg("dev");
        for config in &self.configs {
            cmd.args(["-c", config]);
        }
        cmd.args([
            "--ip",
            "127.0.0.1",
            "--test-scheduled",
            "--show-interactive-dev-session=false",
        ])
        .args(["--port", &port.to_string()])
        .args(["--inspector-port", &free_port().to_string()])
        .arg("--persist-to")
        .arg(&self.state_dir)
        .args(["--var", &format!("ADMIN_TOKEN:{ADMIN_TOKEN}")])
        .args([
            "--var",
            &format!("TRIPLINE_ENCRYPTION_KEY:{ENCRYPTION_KEY}"),
        ])
        .args(["--var", &format!("TRIPLINE_SIGNIN_KEY:{SIGNIN_KEY}")])
        // The D1 statement counter of local mode (GET /__dev/stats, see `d1_statements`).
        .args(["--var", "TRIPLINE_DEV_STATS:1"]);
        for (k, v) in &self.vars {
            cmd.args(["--var", &format!("{k}:{v}")]);
        }
        cmd.current_dir(root())
            .env("WRANGLER_SEND_METRICS", "false")
            // A dev registry of its own: wrangler dev otherwise connects a service binding to
            // any other `wrangler dev` of the same user that runs a Worker of that name (another
            // test's, another checkout's). The Workers started together bind to each other.
            .env("WRANGLER_REGISTRY_PATH", self.state_dir.join("registry"))
            .env("TRIPLINE_SKIP_BUILD", "1")
            .env("CI", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0);
        let child = cmd.spawn().expect("spawn wrangler dev");
        // A watchdog that kills the server group when this test process goes away, even on
        // a panic or abort (statics are never dropped).
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill -s KILL -- -{pg} 2>/dev/null",
                me = std::process::id(),
                pg = child.id()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of the terminal's group: a Ctrl-C stops the tests, not the watchdog.
            .process_group(0)
            .spawn();
        self.port = port;
        self.base = format!("http://127.0.0.1:{port}");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            // Wrangler says it listens on our port: the answer below is this instance's.
            let ready = std::fs::read_to_string(&log_path)
                .is_ok_and(|log| log.contains(&format!("Ready on {}", self.base)));
            if ready {
                if let Ok(r) = ureq::get(&format!("{}/healthz", self.base))
                    .timeout(Duration::from_secs(10))
                    .call()
                {
                    if r.status() == 200 {
                        break;
                    }
                }
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    self.kill();
                    return Err(std::fs::read_to_string(&log_path).unwrap_or_default());
                }
            }
            assert!(
                Instant::now() < deadline,
                "wrangler dev did not become healthy; see {}",
                self.state_dir.display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(())
    }

    /// SIGKILLs the whole process group (wrangler and workerd), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", c.id())])
                .status();
            let _ = c.wait();
        }
    }

    /// Sets (`Some`) or drops (`None`) a var given to `wrangler dev` from the next start on; a
    /// var set here overrides the harness's own (the encryption key, say).
    pub fn set_var(&mut self, name: &str, value: Option<&str>) {
        self.vars.retain(|(k, _)| k != name);
        if let Some(v) = value {
            self.vars.push((name.to_string(), v.to_string()));
        }
    }

    /// Kills and starts again on the same state directory (a new port).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Fires the Cron Trigger once, as the platform would every minute. A pass whose answer
    /// never comes (the local proxy can lose a request on a loaded machine) is fired once more,
    /// as the platform's next minute would.
    pub fn fire_cron(&self) {
        let url = format!("{}/__scheduled?cron=*+*+*+*+*", self.base);
        let r = match ureq::get(&url).timeout(Duration::from_secs(60)).call() {
            Err(ureq::Error::Transport(t)) => {
                eprintln!("/__scheduled: {t} (fired again)");
                ureq::get(&url)
                    .timeout(Duration::from_secs(120))
                    .call()
                    .expect("/__scheduled, fired again")
            }
            other => other.expect("/__scheduled"),
        };
        assert_eq!(r.status(), 200);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Reads the local D1 database directly (SQLite in WAL mode, so reading never blocks
    /// the Worker's writes — `wrangler d1 execute` would take locks and cause SQLITE_BUSY).
    pub fn d1(&self, sql: &str) -> Vec<Value> {
        self.d1_run(sql, false)
    }

    /// Writes to the local D1 database directly: one statement, committed at once. Only while
    /// nothing else uses the instance: the Worker's D1 does not wait for a lock, so a statement
    /// of the Worker that meets this write fails with SQLITE_BUSY (a 500).
    pub fn d1_write(&self, sql: &str) {
        self.d1_run(sql, true);
    }

    fn d1_run(&self, sql: &str, commit: bool) -> Vec<Value> {
        let dir = self.state_dir.join("v3/d1/miniflare-D1DatabaseObject");
        let file = std::fs::read_dir(&dir)
            .expect("local D1 directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.extension().is_some_and(|x| x == "sqlite")
                    && p.file_name().is_some_and(|n| n != "metadata.sqlite")
            })
            .expect("local D1 database file");
        let script = r#"
import json, os, sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
c.row_factory = sqlite3.Row
rows = [dict(r) for r in c.execute(sys.argv[2]).fetchall()]
if sys.argv[3] == "commit":
    c.commit()
print(json.dumps(rows), flush=True)
# Exit without closing: the last close of a connection checkpoints the WAL under an exclusive
# lock, which the Worker's D1 calls would meet as SQLITE_BUSY.
os._exit(0)
"#;
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&file)
            .arg(sql)
            .arg(if commit { "commit" } else { "read" })
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "d1 query failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("rows as JSON")
    }
}

impl Dev {
    /// Runs `sql` (with `params` as its `?`s) against every Durable Object's SQLite file of the
    /// stopped instance (see [`Dev::kill`]); returns the rows changed in all of them. Objects
    /// without the statement's table are skipped.
    pub fn objects_exec(&self, sql: &str, params: &[Value]) -> usize {
        assert!(
            self.child.is_none(),
            "stop the instance before writing its objects"
        );
        let script = r#"
import glob, json, os, sqlite3, sys
changed = 0
for f in glob.glob(os.path.join(sys.argv[1], "v3", "do", "*", "*.sqlite")):
    c = sqlite3.connect(f)
    try:
        changed += c.execute(sys.argv[2], json.loads(sys.argv[3])).rowcount
        c.commit()
    except sqlite3.OperationalError as e:
        if "no such table" not in str(e):
            raise
    c.close()
print(changed)
"#;
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&self.state_dir)
            .arg(sql)
            .arg(Value::Array(params.to_vec()).to_string())
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "object SQLite write failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a count")
    }

    /// Runs the read-only `sql` against every Durable Object's SQLite file of the stopped
    /// instance; returns the rows of all of them (blobs as their bytes read as Latin-1).
    /// Objects without the statement's table are skipped.
    pub fn objects_query(&self, sql: &str) -> Vec<Value> {
        assert!(
            self.child.is_none(),
            "stop the instance before reading its objects"
        );
        let script = r#"
import glob, json, os, sqlite3, sys
rows = []
for f in glob.glob(os.path.join(sys.argv[1], "v3", "do", "*", "*.sqlite")):
    c = sqlite3.connect("file:" + f + "?mode=ro", uri=True)
    try:
        for r in c.execute(sys.argv[2]).fetchall():
            rows.append([v.decode("latin-1") if isinstance(v, bytes) else v for v in r])
    except sqlite3.OperationalError as e:
        if "no such table" not in str(e):
            raise
    c.close()
print(json.dumps(rows))
"#;
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&self.state_dir)
            .arg(sql)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "object SQLite read failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("rows as JSON")
    }

    /// Changes the storage of `workflow_id`'s object, as another release might have left it:
    /// runs the Python statements `edit` with `db` (the object's SQLite file, committed after)
    /// and `args` (`args`, strings), and asserts that it changed exactly one row (`edit` adds
    /// the rows it changed to `done`). Only while `wrangler dev` is stopped (`Dev::kill`).
    pub fn edit_object_storage(&self, workflow_id: &str, edit: &str, args: &[&str]) {
        let script = format!(
            r#"
import glob, json, sqlite3, sys
args = sys.argv[3:]
done = 0
for path in glob.glob(sys.argv[1] + "/v3/do/tripline-WorkflowObject/*.sqlite"):
    db = sqlite3.connect(path)
    try:
        name = db.execute("SELECT name FROM __miniflare_do_name").fetchone()
    except sqlite3.OperationalError:
        continue
    if name != (sys.argv[2],):
        continue
{edit}
    db.commit()
print(done)
"#
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&self.state_dir)
            .arg(workflow_id)
            .args(args)
            .output()
            .expect("python3");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "1",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Everything `wrangler dev` printed in this state directory (every start).
    pub fn logs(&self) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(&self.state_dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with("wrangler-") && name.ends_with(".log") {
                    out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        out
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The instance shared by the tests of one test binary.
pub fn shared() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| Dev::start("shared", &[("RUN_LEASE_SECONDS", "3")]))
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The problem+json `errors[].location`s.
    pub fn locations(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["location"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Sends a request; `headers` are added as given; never fails on an HTTP status.
///
/// `wrangler dev`'s own proxy sometimes answers 503 "Your worker restarted mid-request" when
/// it finds its kept-alive connection to the runtime closed (the Worker never saw the request
/// and did not restart); that answer is the dev server's, never Tripline's, so it is sent again.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    // Cookies the Worker set go back to it, as a browser sends them (see `CookieJar`).
    let cookies = COOKIES.lock().unwrap().header_for(url);
    let mut with_cookies = headers.to_vec();
    if let Some(c) = &cookies {
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        {
            with_cookies.push(("cookie", c));
        }
    }
    let resp = send_without_cookies(method, url, &with_cookies, body);
    if let Some(set) = resp.header("set-cookie") {
        COOKIES.lock().unwrap().keep(url, set);
    }
    resp
}

/// The cookies the Worker set, kept for every test as one browser keeps them: by host and path
/// prefix. (The Sign-in URL's cookie is named after its sign-in, so tests running at once never
/// take each other's.)
#[derive(Default)]
pub struct CookieJar {
    /// (host, path, `name=value`)
    cookies: Vec<(String, String, String)>,
}

static COOKIES: Mutex<CookieJar> = Mutex::new(CookieJar {
    cookies: Vec::new(),
});

/// `host[:port]` and path of an `http://` URL.
fn host_and_path(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = path.split(['?', '#']).next().unwrap_or("");
    (host.to_string(), path.to_string())
}

impl CookieJar {
    fn header_for(&self, url: &str) -> Option<String> {
        let (host, path) = host_and_path(url);
        let matching: Vec<&str> = self
            .cookies
            .iter()
            .filter(|(h, p, _)| *h == host && path.starts_with(p.as_str()))
            .map(|(_, _, c)| c.as_str())
            .collect();
        (!matching.is_empty()).then(|| matching.join("; "))
    }

    fn keep(&mut self, url: &str, set_cookie: &str) {
        let (host, default_path) = host_and_path(url);
        let mut parts = set_cookie.split(';').map(str::trim);
        let pair = parts.next().unwrap_or_default().to_string();
        let name = pair.split('=').next().unwrap_or_default().to_string();
        let mut path = default_path;
        let mut gone = false;
        for attr in parts {
            if let Some(p) = attr.strip_prefix("Path=") {
                path = p.to_string();
            }
            gone |= attr == "Max-Age=0";
        }
        self.cookies
            .retain(|(h, p, c)| !(*h == host && *p == path && c.split('=').next() == Some(&name)));
        if !gone {
            self.cookies.push((host, path, pair));
        }
    }
}

/// [`send`] as another browser would: no cookie is sent or kept.
pub fn send_without_cookies(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let mut attempt = 1;
    loop {
        let resp = match send_once(method, url, headers, body) {
            Ok(resp) => resp,
            // A GET changes nothing: one whose answer never came (the dev proxy can hold a
            // request on a connection it lost) is sent again.
            Err(e) if method == "GET" && attempt < 3 => {
                eprintln!("{method} {url}: {e} (attempt {attempt}), again");
                attempt += 1;
                continue;
            }
            Err(e) => panic!("{method} {url}: {e}"),
        };
        if resp.status == 503
            && resp.text.starts_with("Your worker restarted mid-request")
            && attempt < 3
        {
            eprintln!(
                "{method} {url}: the dev proxy lost its connection (attempt {attempt}), again"
            );
            attempt += 1;
            continue;
        }
        return resp;
    }
}

fn send_once(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Resp, String> {
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(90))
        .build();
    let mut req = agent.request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.header(&n).unwrap_or("").to_string();
            (n, v)
        })
        .collect();
    let mut text = String::new();
    let _ = resp
        .into_reader()
        .take(50_000_000)
        .read_to_string(&mut text);
    Ok(Resp {
        status,
        headers,
        text,
    })
}

/// A management API call with the admin token; `body` is sent as JSON.
pub fn api(dev: &Dev, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let bytes = body.map(|b| b.to_string().into_bytes());
    let call = || {
        send(
            method,
            &dev.url(path),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            bytes.as_deref(),
        )
    };
    // workerd answers 503 "restarted mid-request" when the local runtime reloads the Worker
    // while a request is in flight (seen on a loaded machine); it retries only GET and HEAD by
    // itself. A management client sends the call again, as this one does (twice at most).
    let mut r = call();
    for _ in 0..2 {
        if r.status != 503 || !r.text.contains("restarted mid-request") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        r = call();
    }
    r
}

/// Creates a workflow and returns its id (asserting 201).
pub fn create(dev: &Dev, def: &Value) -> String {
    let r = api(dev, "POST", "/api/workflows", Some(def));
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().expect("id").to_string()
}

/// Saves a new version of a workflow and deploys it (asserting 200 for both); returns the
/// deploy's answer.
pub fn redeploy(dev: &Dev, id: &str, def: &Value) -> Value {
    let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(def));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// Deletes workflow `id`'s object alarm through the dev-only route (`TRIPLINE_DEV_ACTIONS=1`),
/// as a platform that gave the alarm up would.
pub fn lose_alarm(dev: &Dev, id: &str) {
    let r = api(
        dev,
        "POST",
        &format!("/api/dev/workflows/{id}/lose-alarm"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Creates and deploys a workflow; returns its id.
pub fn create_deployed(dev: &Dev, def: &Value) -> String {
    let id = create(dev, def);
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

/// Whether any file of the instance's state (D1 and every Durable Object's SQLite, with their
/// journals) holds `needle`: what storage keeps, whatever the layout.
pub fn state_contains(dev: &Dev, needle: &str) -> bool {
    fn walk(dir: &Path, needle: &[u8]) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        entries.flatten().any(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path, needle)
            } else {
                std::fs::read(&path)
                    .map(|b| b.windows(needle.len()).any(|w| w == needle))
                    .unwrap_or(false)
            }
        })
    }
    walk(&dev.state_dir, needle.as_bytes())
}

/// Every run of a workflow (all pages), newest first.
pub fn runs(dev: &Dev, workflow_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/workflows/{workflow_id}/runs?limit=100");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = api(dev, "GET", &path, None);
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        out.extend(v["runs"].as_array().cloned().unwrap_or_default());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// Polls `GET /api/runs/{id}` until the run is finished (or panics after `secs`).
pub fn wait_run(dev: &Dev, run_id: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = api(dev, "GET", &format!("/api/runs/{run_id}"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        if v["status"] == "succeeded" || v["status"] == "failed" {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "run {run_id} did not finish: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `f` is true, checking every 200 ms, for at most `secs`.
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The D1 statements the Worker and its objects have made for `workflow_id` so far, by
/// invocation kind (`GET /__dev/stats?workflow=…`, local mode: `TRIPLINE_DEV_STATS=1`, which
/// every `Dev` sets). Kinds with no statement are absent.
pub fn d1_statements(dev: &Dev, workflow_id: &str) -> std::collections::BTreeMap<String, u64> {
    dev_stats(dev, &format!("workflow={workflow_id}"))
}

/// Of [`d1_statements`], the writes only (every statement but a SELECT).
pub fn d1_writes(dev: &Dev, workflow_id: &str) -> std::collections::BTreeMap<String, u64> {
    dev_stats(dev, &format!("workflow={workflow_id}&writes=1"))
}

fn dev_stats(dev: &Dev, query: &str) -> std::collections::BTreeMap<String, u64> {
    let r = api(dev, "GET", &format!("/__dev/stats?{query}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    serde_json::from_value(r.json()).expect("{kind: count}")
}

/// The D1 statements of one kind for `workflow_id` so far (0 when none).
pub fn d1_statements_of(dev: &Dev, workflow_id: &str, kind: &str) -> u64 {
    d1_statements(dev, workflow_id)
        .get(kind)
        .copied()
        .unwrap_or(0)
}

/// Runs JavaScript test files (paths from the repository root) under node's test runner; its
/// report, after checking that every test passed. Files are named one by one: a directory is
/// read as a pattern by newer versions of node.
pub fn node_tests(files: &[&str]) -> String {
    let out = Command::new("node")
        .arg("--test")
        .args(files)
        .current_dir(root())
        .output()
        .expect("run node --test");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("# fail 0"), "{stdout}");
    stdout
}

/// Asserts the dev counters at `path`: the most one wake did (`most`) is within `bound`, and
/// there were at least `wakes` wakes.
pub fn assert_wakes_bounded(
    dev: &Dev,
    path: &str,
    most: &str,
    bound: std::ops::RangeInclusive<u64>,
    wakes: u64,
) {
    let r = api(dev, "GET", path, None);
    assert_eq!(r.status, 200, "{}", r.text);
    let counters = r.json();
    let seen = counters[most].as_u64().expect(most);
    assert!(bound.contains(&seen), "{most} out of {bound:?}: {counters}");
    let seen = counters["wakes"].as_u64().expect("wakes");
    assert!(seen >= wakes, "fewer than {wakes} wakes: {counters}");
}
