//! A real, throwaway PostgreSQL cluster (the newest version installed) for the poll tests: `initdb` into a fresh directory
//! owned by the `postgres` OS user (tests run as root, and PostgreSQL refuses to run as root),
//! `pg_ctl start` on a free port, stopped on drop and by a watchdog when the test process ends.
//! SQL is run with `psql` over TCP (trust authentication, so any password is accepted).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The server binaries of the newest PostgreSQL installed (`/usr/lib/postgresql/N/bin`, as
/// Debian's `postgresql` package lays them out, whatever its version).
pub fn bin_dir() -> &'static str {
    static DIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let newest = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|v| {
                std::path::Path::new(&format!("/usr/lib/postgresql/{v}/bin/initdb")).exists()
            })
            .max()
            .expect("PostgreSQL server binaries in /usr/lib/postgresql/N/bin (scripts/setup)");
        format!("/usr/lib/postgresql/{newest}/bin")
    })
}
const OS_USER: &str = "postgres";

pub struct Postgres {
    pub port: u16,
    pub dir: PathBuf,
    running: bool,
}

fn bin(name: &str) -> String {
    format!("{}/{name}", bin_dir())
}

/// Runs a PostgreSQL server binary as the `postgres` OS user (directly when not root).
fn as_postgres(program: &str) -> Command {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if is_root {
        let mut c = Command::new("runuser");
        c.args(["-u", OS_USER, "--", program]);
        c
    } else {
        Command::new(program)
    }
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

impl Postgres {
    /// Creates a cluster in a fresh directory and starts it on a free port.
    pub fn start(name: &str) -> Postgres {
        let dir = std::env::temp_dir().join(format!("tripline-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pg dir");
        let _ = Command::new("chown")
            .args([&format!("{OS_USER}:{OS_USER}"), &dir.display().to_string()])
            .status();
        let data = dir.join("data");
        run(
            as_postgres(&bin("initdb")).arg("-D").arg(&data).args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ]),
            "initdb",
        );
        let mut pg = Postgres {
            port: super::free_port(),
            dir,
            running: false,
        };
        pg.watchdog();
        pg.start_server();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Stops the server (and removes its directory) when this test process goes away, even on
    /// a panic or an abort.
    fn watchdog(&self) {
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; \
             runuser -u {OS_USER} -- {ctl} -D {data} stop -m immediate >/dev/null 2>&1 || \
             {ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
            me = std::process::id(),
            ctl = bin("pg_ctl"),
            data = self.data().display(),
            dir = self.dir.display(),
        );
        let _ = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
    }

    /// Starts (or restarts) the server on its port and waits until it accepts connections.
    pub fn start_server(&mut self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        run(
            as_postgres(&bin("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .args(["-o", &opts, "-l"])
                .arg(self.dir.join("server.log"))
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
        self.running = true;
    }

    /// Stops the server (fast shutdown: open connections are closed).
    pub fn stop_server(&mut self) {
        if !self.running {
            return;
        }
        run(
            as_postgres(&bin("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .args(["-m", "fast", "-w", "-t", "60", "stop"]),
            "pg_ctl stop",
        );
        self.running = false;
    }

    /// A connection URL for `user` (the password is not checked: trust authentication).
    pub fn url(&self, user: &str) -> String {
        format!("postgres://{user}:pw@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL as the superuser; returns the output rows (unaligned, `|`-separated).
    pub fn sql(&self, sql: &str) -> String {
        run(
            Command::new(bin("psql"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
                .args(["-q", "-A", "-t", "-c", sql]),
            "psql",
        )
    }
}

/// A `psql` session that stays connected, so a test can hold a transaction open across polls
/// (as a slow writer would) and commit it later.
pub struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Postgres {
    /// Opens a session as the superuser.
    pub fn session(&self) -> Session {
        let mut child = Command::new(bin("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
            .args(["-q", "-A", "-t"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("psql session");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Session {
            child,
            stdin,
            stdout,
        }
    }
}

impl Session {
    /// Runs `sql` (one or more statements), waits until the server has answered them all, and
    /// returns the rows printed (unaligned, `|`-separated).
    pub fn exec(&mut self, sql: &str) -> Vec<String> {
        writeln!(self.stdin, "{sql}").expect("write to psql");
        writeln!(self.stdin, "\\echo __done__").expect("write to psql");
        self.stdin.flush().expect("flush psql");
        let mut rows = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).expect("read psql");
            assert!(n > 0, "psql ended while running: {sql}");
            match line.trim() {
                "__done__" => return rows,
                "" => {}
                row => rows.push(row.to_string()),
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let _ = as_postgres(&bin("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
