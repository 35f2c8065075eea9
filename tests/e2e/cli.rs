//! The `tripline` CLI against a real `wrangler dev`: apply a folder from a fresh checkout,
//! idempotence, edits, prune, offline check with positions, following runs, exit codes.
//!
//! The binary belongs to another workspace package, so it is built here once with
//! `cargo build -p tripline-cli` and run as a separate process, as a user or CI would.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

/// The CLI binary, built once per test process.
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "tripline-cli"])
            .current_dir(root())
            .status()
            .expect("cargo build -p tripline-cli");
        assert!(status.success(), "building the CLI failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target"));
        target.join("debug/tripline")
    })
}

/// This module's own instance: `--prune` deletes every keyed workflow that is not in the folder,
/// so no other module's workflows may be in the way.
fn dev() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| Dev::start("cli", &[]))
}

/// Tests that apply folders take turns (a prune would delete the other test's workflows).
fn server_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the CLI in `dir` against the module's instance.
fn tripline(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env("TRIPLINE_URL", &dev().base)
        .env("TRIPLINE_TOKEN", ADMIN_TOKEN)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run tripline");
    finish(out)
}

fn temp_dir(name: &str) -> PathBuf {
    let d = root()
        .join("target/e2e")
        .join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

const SIGNUP_YAML: &str = "# Comments are fine in YAML workflow files.
$schema: ../../api/definition.schema.json
name: Signup note
trigger:
  type: endpoint
  method: POST
steps:
  - type: log
    name: note
    message: 'signup {{request.body.email}}'
";

fn by_key(key: &str) -> Option<Value> {
    let r = api(dev(), "GET", &format!("/api/workflows?key={key}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["workflows"].get(0).cloned()
}

/// A repository with a `workflows/` folder: two examples and a YAML file.
fn repository(name: &str) -> PathBuf {
    let repo = temp_dir(name);
    let wf = repo.join("workflows");
    std::fs::create_dir_all(&wf).unwrap();
    for example in ["endpoint.json", "schedule.json"] {
        let text = std::fs::read_to_string(root().join("examples").join(example)).unwrap();
        // Keys come from the file names: lead-created, nightly-report.
        let name = match example {
            "endpoint.json" => "lead-created.json",
            _ => "nightly-report.json",
        };
        std::fs::write(wf.join(name), text).unwrap();
    }
    std::fs::write(wf.join("signup.yaml"), SIGNUP_YAML).unwrap();
    repo
}

#[test]
fn apply_from_fresh_clones_is_idempotent_updates_one_and_prunes() {
    let _turn = server_lock();
    let dev = dev();
    // A workflow made by hand (no key) must never be touched by apply or prune.
    let by_hand = create(
        dev,
        &json!({"name": "by hand", "trigger": {"type": "endpoint"}, "steps": []}),
    );

    // 1. First apply, from one checkout.
    let repo = repository("first");
    let r = tripline(&repo, &["apply", "workflows", "--deploy"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for key in ["lead-created", "nightly-report", "signup"] {
        assert!(
            r.stdout.contains(&format!("+ create {key}")),
            "{key}: {}",
            r.stdout
        );
        assert!(
            r.stdout.contains(&format!("^ deploy {key}")),
            "{}",
            r.stdout
        );
        let wf = by_key(key).unwrap_or_else(|| panic!("{key} exists"));
        assert_eq!(wf["status"], "deployed", "{wf}");
        assert_eq!(wf["deployed_version"], 1, "{wf}");
        assert_eq!(wf["draft"]["key"], key);
        assert!(wf["draft"].get("$schema").is_none(), "{wf}");
    }
    assert!(
        r.stdout
            .contains("applied: 3 created, 0 updated, 3 deployed, 0 deleted, 0 unchanged"),
        "{}",
        r.stdout
    );
    let versions = |id: &str| {
        dev.d1(&format!(
            "SELECT COUNT(*) AS n FROM workflow_versions WHERE workflow_id = '{id}'"
        ))[0]["n"]
            .as_i64()
            .unwrap()
    };
    let id = |key: &str| by_key(key).unwrap()["id"].as_str().unwrap().to_string();
    let (lead, nightly, signup) = (id("lead-created"), id("nightly-report"), id("signup"));

    // 2. A second, fresh checkout elsewhere (no local state): nothing changes.
    let clone = temp_dir("second");
    copy_folder(&repo.join("workflows"), &clone.join("workflows"));
    let r = tripline(&clone, &["apply", "workflows", "--deploy", "--prune"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("nothing to do: 3 workflows up to date"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("+ create") && !r.stdout.contains("^ deploy"),
        "{}",
        r.stdout
    );
    for wf in [&lead, &nightly, &signup] {
        assert_eq!(versions(wf), 1);
    }
    let r = tripline(&clone, &["--json", "diff", "workflows", "--deploy"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["changes"], 0, "{v}");

    // 3. Edit one file: diff shows it, apply updates and redeploys only that one.
    let file = clone.join("workflows/signup.yaml");
    std::fs::write(&file, SIGNUP_YAML.replace("Signup note", "Signup noted")).unwrap();
    let r = tripline(&clone, &["diff", "workflows", "--deploy"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("~ would update signup"), "{}", r.stdout);
    assert!(
        r.stdout.contains("-   \"name\": \"Signup note\",")
            && r.stdout.contains("+   \"name\": \"Signup noted\","),
        "{}",
        r.stdout
    );
    assert_eq!(
        by_key("signup").unwrap()["name"],
        "Signup note",
        "diff changed nothing"
    );
    let r = tripline(&clone, &["apply", "workflows", "--deploy"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("applied: 0 created, 1 updated, 1 deployed, 0 deleted, 2 unchanged"),
        "{}",
        r.stdout
    );
    let wf = by_key("signup").unwrap();
    assert_eq!(
        (wf["name"].as_str(), wf["deployed_version"].as_i64()),
        (Some("Signup noted"), Some(2))
    );
    assert_eq!(versions(&signup), 2);
    assert_eq!(versions(&lead), 1);
    assert_eq!(versions(&nightly), 1);

    // 4. Delete a file: without --prune it stays, with --prune it goes; the hand-made one stays.
    std::fs::remove_file(clone.join("workflows/nightly-report.json")).unwrap();
    let r = tripline(&clone, &["apply", "workflows"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(by_key("nightly-report").is_some());
    let r = tripline(&clone, &["--json", "apply", "workflows", "--prune"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["changes"], 1, "{v}");
    assert_eq!(v["actions"][0]["action"], "delete", "{v}");
    assert_eq!(v["actions"][0]["key"], "nightly-report", "{v}");
    // Unchanged workflows are named with their ids, as changed ones are.
    let unchanged: Vec<(Value, Value)> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "unchanged")
        .map(|a| (a["key"].clone(), a["id"].clone()))
        .collect();
    assert_eq!(
        unchanged,
        [
            (json!("lead-created"), json!(lead)),
            (json!("signup"), json!(signup))
        ],
        "{v}"
    );
    assert!(by_key("nightly-report").is_none());
    assert_eq!(
        api(dev, "GET", &format!("/api/workflows/{nightly}"), None).status,
        404
    );
    assert_eq!(
        api(dev, "GET", &format!("/api/workflows/{by_hand}"), None).status,
        200
    );
    assert!(by_key("signup").is_some() && by_key("lead-created").is_some());
}

/// `--prune` takes folders only, and `--prune-prefix` narrows it: two folders applied to one
/// Tripline, each with its own prefix, leave each other's workflows alone.
#[test]
fn prune_takes_folders_and_a_prefix_leaves_other_keys_alone() {
    let _turn = server_lock();
    let repo = temp_dir("prune-prefix");
    let keys = ["team-a-one", "team-a-two", "team-b-one", "team-b-two"];
    for key in keys {
        let dir = repo.join(&key[..6]);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{key}.json")),
            include_str!("../../examples/endpoint.json"),
        )
        .unwrap();
    }
    for team in ["team-a", "team-b"] {
        let prefix = format!("{team}-");
        let r = tripline(
            &repo,
            &["apply", team, "--prune", "--prune-prefix", &prefix],
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert!(!r.stdout.contains("- delete"), "{}", r.stdout);
    }
    for key in keys {
        assert!(by_key(key).is_some(), "{key}");
    }
    // Single files with --prune (one, or a shell's expansion of team-a/*.json) are refused
    // before anything is sent: every other keyed workflow would go.
    for files in [
        &["team-a/team-a-one.json"][..],
        &["team-a/team-a-one.json", "team-a/team-a-two.json"],
    ] {
        let r = tripline(&repo, &[&["apply"][..], files, &["--prune"]].concat());
        assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("team-a/team-a-one.json is a file, not a folder"),
            "{}",
            r.stderr
        );
    }
    for key in keys {
        assert!(by_key(key).is_some(), "{key}");
    }
    // A file gone from team A's folder: its prune deletes that workflow, and only it.
    std::fs::remove_file(repo.join("team-a/team-a-two.json")).unwrap();
    let r = tripline(
        &repo,
        &[
            "--json",
            "apply",
            "team-a",
            "--prune",
            "--prune-prefix",
            "team-a-",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["changes"], 1, "{v}");
    assert_eq!(v["actions"][0]["action"], "delete", "{v}");
    assert_eq!(v["actions"][0]["key"], "team-a-two", "{v}");
    assert!(by_key("team-a-two").is_none());
    // Leave no keyed workflow behind for the other tests' prunes.
    for key in ["team-a-one", "team-b-one", "team-b-two"] {
        let id = by_key_id(key);
        assert_eq!(
            api(dev(), "DELETE", &format!("/api/workflows/{id}"), None).status,
            204
        );
    }
}

#[test]
fn check_reports_file_line_and_location_and_exits_1() {
    let dir = temp_dir("check");
    std::fs::write(
        dir.join("bad.yaml"),
        "name: Bad\ntrigger:\n  type: schedule\n  schedule: {kind: seconds, every: 0}\nsteps: []\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("typo.json"),
        "{\n  \"name\": \"x\",\n  \"trigger\": {\"type\": \"endpoint\"},\n  \"steps\": [\n    {\"type\": \"log\", \"mesage\": \"hi\"}\n  ]\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("good.json"),
        include_str!("../../examples/poll.json"),
    )
    .unwrap();
    let r = tripline(&dir, &["check", "."]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "./bad.yaml:4:29: trigger.schedule.every: must be between 1 and 3600, got 0",
            "./typo.json:5:5: steps[0].message: is required",
            "./typo.json:5:21: steps[0].mesage: unknown field `mesage` (did you mean `message`?); expected one of: type, name, message",
        ],
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("3 problems in 2 files"), "{}", r.stderr);

    let r = tripline(&dir, &["--json", "check", "good.json", "bad.yaml"]);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"][0]["line"], 4);
    assert_eq!(v["problems"][0]["location"], "trigger.schedule.every");

    let r = tripline(&dir, &["check", "good.json"]);
    assert_eq!((r.code, r.stdout.trim()), (0, "ok: 1 workflow file valid"));
}

/// A run id (of the legacy form) that no run has.
const UNKNOWN_RUN_ID: &str = "run_0000000000zzzzzzzzzzzzzzzz";

#[test]
fn exit_codes() {
    let dir = temp_dir("codes");
    // 2: usage.
    assert_eq!(tripline(&dir, &["apply"]).code, 2);
    assert_eq!(tripline(&dir, &["runs", "x", "--bogus"]).code, 2);
    let r = tripline(&dir, &["check", "missing-folder"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no such file or folder: missing-folder"),
        "{}",
        r.stderr
    );
    // 0: help, with an example.
    let r = tripline(&dir, &["apply", "--help"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("Example:\n  tripline apply workflows/ --deploy --prune"),
        "{}",
        r.stdout
    );
    // 1: invalid — an invalid folder is not applied at all; an unknown key or run.
    std::fs::write(dir.join("half.json"), r#"{"name": "half"}"#).unwrap();
    let r = tripline(&dir, &["apply", ".", "--deploy"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("./half.json:1:1: trigger: is required"),
        "{}",
        r.stdout
    );
    assert!(by_key("half").is_none());
    // With --json, in the shape apply always prints.
    let r = tripline(&dir, &["--json", "apply", ".", "--deploy"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (&v["applied"], &v["changes"]),
        (&json!(false), &json!(0)),
        "{v}"
    );
    assert_eq!(v["problems"][0]["location"], "trigger", "{v}");
    assert!(by_key("half").is_none());
    let r = tripline(&dir, &["runs", "no-such-workflow"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("no workflow with key `no-such-workflow`"),
        "{}",
        r.stderr
    );
    // A run id of the shape of one that no run has; a malformed one is a usage error (exit 2).
    assert_eq!(tripline(&dir, &["run", UNKNOWN_RUN_ID]).code, 1);
    assert_eq!(tripline(&dir, &["run", "run_nope"]).code, 2);
    // 3: server or network — nothing listening, or a wrong token.
    let r = Command::new(binary())
        .args([
            "--url",
            &format!("http://127.0.0.1:{}", free_port()),
            "runs",
            "x",
        ])
        .env("TRIPLINE_TOKEN", "t")
        .output()
        .unwrap();
    let r = finish(r);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach"), "{}", r.stderr);
    let r = tripline(&dir, &["--token", "wrong", "runs", "x"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("401"), "{}", r.stderr);
}

/// A `--url` with a path (Tripline behind a path on a shared host) reaches no route: the error
/// says that Tripline answers at the Worker's root.
#[test]
fn a_url_with_a_path_is_named_in_the_error() {
    let _turn = server_lock();
    let dir = temp_dir("url-path");
    let run = |url: &str| {
        let out = Command::new(binary())
            .args(["runs", "no-such-key"])
            .current_dir(&dir)
            .env("TRIPLINE_URL", url)
            .env("TRIPLINE_TOKEN", ADMIN_TOKEN)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        finish(out)
    };
    let r = run(&format!("{}/tripline", dev().base));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("404 no route for /tripline/api/workflows"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("/tripline has a path: Tripline answers at the Worker's root URL"),
        "{}",
        r.stderr
    );
    // At the root, the same command only says the key is unknown.
    let r = run(&dev().base);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("no workflow with key `no-such-key`"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("has a path"), "{}", r.stderr);
}

/// With no token anywhere (no `--token`, no `TRIPLINE_TOKEN`, no `.dev.vars` in the folder or
/// above), a command that calls the server stops before any request with a usage error (exit 2)
/// that says where a token comes from; `check` and `preview FILE` still work offline.
#[test]
fn no_token_is_a_usage_error_before_any_request() {
    // Outside the checkout, so no .dev.vars above it.
    let base_dir =
        std::env::temp_dir().join(format!("tripline-cli-no-token-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base_dir);
    let dir = base_dir.join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    assert!(
        dir.ancestors().all(|d| !d.join(".dev.vars").exists()),
        "a .dev.vars above {}",
        dir.display()
    );
    std::fs::write(
        dir.join("nightly.json"),
        include_str!("../../examples/schedule.json"),
    )
    .unwrap();
    // Nothing listens there: a request would be "cannot reach", exit 3.
    let url = format!("http://127.0.0.1:{}", free_port());
    let run = |token_env: Option<&str>, args: &[&str]| {
        let mut cmd = Command::new(binary());
        cmd.args(args)
            .current_dir(&dir)
            .env("TRIPLINE_URL", &url)
            .env_remove("TRIPLINE_TOKEN")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        if let Some(t) = token_env {
            cmd.env("TRIPLINE_TOKEN", t);
        }
        finish(cmd.output().unwrap())
    };
    let says = "error: no admin token: pass --token, set TRIPLINE_TOKEN, or run inside the \
                checkout whose .dev.vars holds ADMIN_TOKEN\n";
    for args in [
        &["runs", "nightly"][..],
        &["apply", ".", "--deploy"],
        &["diff", "."],
        &["run", "run_x"],
        &["replay", "run_x"],
        &["preview", "nightly"],
        &["send", "nightly", "--test"],
    ] {
        let r = run(None, args);
        assert_eq!((r.code, r.stderr.as_str()), (2, says), "{args:?}");
        // An empty TRIPLINE_TOKEN (an unset CI secret) or --token is no token either.
        let r = run(Some(""), args);
        assert_eq!((r.code, r.stderr.as_str()), (2, says), "{args:?}");
        let r = run(None, &[&["--token", ""][..], args].concat());
        assert_eq!((r.code, r.stderr.as_str()), (2, says), "{args:?}");
    }
    // Offline commands need no token.
    let r = run(None, &["check", "."]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(None, &["preview", "nightly.json", "--count", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(None, &["schema"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A .dev.vars in a parent folder supplies it: the request is then made.
    std::fs::write(base_dir.join(".dev.vars"), "ADMIN_TOKEN=t\n").unwrap();
    let r = run(None, &["runs", "nightly"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach"), "{}", r.stderr);
    // …but only to a Tripline on this machine: a remote one never gets the local token.
    let r = run(
        None,
        &[
            "--url",
            "https://tripline.example.invalid",
            "runs",
            "nightly",
        ],
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            2,
            "error: no admin token: pass --token or set TRIPLINE_TOKEN (a token in .dev.vars \
             goes only to a Tripline on this machine)\n"
        )
    );
    // A token copied with a line break is trimmed; one holding a line break inside is refused
    // before any request, without quoting it (the HTTP client's error would).
    let r = run(Some("t\r\n"), &["runs", "nightly"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach"), "{}", r.stderr);
    let r = run(Some("se\ncret-token"), &["runs", "nightly"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("holds a line break"), "{}", r.stderr);
    assert!(!r.stderr.contains("cret-token"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&base_dir);
}

#[test]
fn runs_follow_prints_a_run_triggered_while_it_follows() {
    let _turn = server_lock();
    let repo = temp_dir("follow");
    std::fs::write(
        repo.join("follow-me.json"),
        include_str!("../../examples/endpoint.json"),
    )
    .unwrap();
    // The lifecycle test prunes keyed workflows it does not know: give this one its own turn.
    let r = tripline(&repo, &["apply", "follow-me.json", "--deploy"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let mut child = Command::new(binary())
        .args(["runs", "follow-me", "--follow"])
        .env("TRIPLINE_URL", &dev().base)
        .env("TRIPLINE_TOKEN", ADMIN_TOKEN)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx2.send(format!("stderr: {line}"));
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |what: &dyn Fn(&str) -> bool, secs: u64| -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    seen.push(line.clone());
                    if what(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("timed out; the follower printed: {seen:#?}"),
            }
        }
    };
    wait_for(&|l| l.contains("following runs of follow-me"), 30);

    // Trigger a run while it follows, with `tripline send`.
    let r = tripline(
        &repo,
        &[
            "send",
            "follow-me",
            "--data",
            r#"{"email": "ada@example.com"}"#,
            "-q",
            "source=website",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let run_id = serde_json::from_str::<Value>(&r.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let line = wait_for(&|l| l.starts_with(&run_id), 30);
    assert!(
        ["queued", "running", "succeeded"]
            .iter()
            .any(|s| line.contains(s)),
        "{line}"
    );
    assert!(line.contains("endpoint") && line.contains("v1"), "{line}");
    // A run seen before it finished is printed again when its status changes.
    if !line.contains("succeeded") {
        wait_for(&|l| l.starts_with(&run_id) && l.contains("succeeded"), 60);
    }
    let _ = child.kill();
    let _ = child.wait();

    // The run as a timeline; a bad request through `send` is exit 1 with the server's problem.
    let r = tripline(&repo, &["run", &run_id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("succeeded") && r.stdout.contains("✓"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("note"), "{}", r.stdout);
    assert!(
        r.stdout.contains("New lead ada@example.com from website"),
        "{}",
        r.stdout
    );
    let r = tripline(&repo, &["send", "follow-me", "--data", "{}"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("query.source"), "{}", r.stdout);
    let r = tripline(&repo, &["runs", "follow-me", "--status", "succeeded"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("RUN "), "{}", r.stdout);
    assert!(r.stdout.contains(&run_id), "{}", r.stdout);
    // Leave no keyed workflow behind for the other test's prune.
    let id = by_key("follow-me").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api(dev(), "DELETE", &format!("/api/workflows/{id}"), None).status,
        204
    );
}

#[test]
fn preview_is_offline_for_a_file() {
    let dir = temp_dir("preview");
    std::fs::write(
        dir.join("nightly.json"),
        include_str!("../../examples/schedule.json"),
    )
    .unwrap();
    // No server at all: a port nobody listens on.
    let out = Command::new(binary())
        .args([
            "--url",
            &format!("http://127.0.0.1:{}", free_port()),
            "--json",
            "preview",
            "nightly.json",
            "--count",
            "3",
            "--after",
            "2027-03-13T12:00:00Z",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let r = finish(out);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    // 02:30 New York: EST before the 14 March 2027 change, EDT after (the gap moves it to 03:00).
    assert_eq!(v["fire_times"][0]["utc"], "2027-03-14T07:00:00Z", "{v}");
    assert_eq!(v["fire_times"][0]["dst_shifted"], true, "{v}");
    assert_eq!(v["fire_times"][1]["at"], "2027-03-15T02:30:00-04:00", "{v}");
}

/// What the stub management API does.
#[derive(Clone, Copy)]
enum Stub {
    /// Answers the second `POST /api/workflows` 500 with a problem.
    Fails,
    /// Closes the connection of the second `POST /api/workflows` without an answer.
    Drops,
    /// Lists one workflow, key `a`, and answers its first `PUT` 503 "Draft saved, test URL not
    /// updated" (the save stands, its copy for the test URL did not reach the object), the next
    /// one 200.
    DraftCopyFailsTwice,
    /// Not a Tripline: every request, the list included, is answered 200 with an HTML page
    /// (an app that serves its page at every path).
    NotTripline,
}

/// A stub of the management API on a std `TcpListener`: lists no workflows, creates the first
/// one, and fails the second create as told (or as `Stub` says otherwise). Returns its base URL
/// and every request line it got.
fn stub_api(second: Stub) -> (String, std::sync::Arc<Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut creates = 0;
        let mut puts = 0;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // The head, then as many body bytes as it announces.
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            let head_end = loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                data.extend_from_slice(&buf[..n]);
                if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&data[..head_end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while data.len() < head_end + length {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
            }
            let line = head.lines().next().unwrap_or("").to_string();
            log.lock().unwrap().push(line.clone());
            let (status, body) = if let Stub::NotTripline = second {
                let page = "<!doctype html><title>app</title>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                continue;
            } else if line.starts_with("GET /api/workflows?") {
                let listed = match second {
                    Stub::DraftCopyFailsTwice => {
                        r#"[{"id": "wf_000000000000000000000000001", "key": "a", "status": "draft",
                             "draft": {"name": "old", "key": "a", "trigger": {"type": "endpoint"}}}]"#
                    }
                    _ => "[]",
                };
                (
                    "200 OK",
                    format!(r#"{{"workflows": {listed}, "next_cursor": null}}"#),
                )
            } else if line.starts_with("PUT /api/workflows/") {
                puts += 1;
                match puts {
                    1 | 2 => (
                        "503 Service Unavailable",
                        r#"{"type": "urn:tripline:problem:unavailable", "title": "Draft saved, test URL not updated", "status": 503, "detail": "the draft was saved; save the same draft again to update it"}"#
                            .to_string(),
                    ),
                    _ => (
                        "200 OK",
                        r#"{"id": "wf_000000000000000000000000001", "key": "a", "status": "draft"}"#
                            .to_string(),
                    ),
                }
            } else if line.starts_with("POST /api/workflows ") {
                creates += 1;
                match (creates, second) {
                    (1, _) => (
                        "201 Created",
                        r#"{"id": "wf_000000000000000000000000001", "status": "draft"}"#
                            .to_string(),
                    ),
                    (_, Stub::Drops | Stub::NotTripline | Stub::DraftCopyFailsTwice) => {
                        drop(stream);
                        continue;
                    }
                    (_, Stub::Fails) => (
                        "500 Internal Server Error",
                        r#"{"type": "urn:tripline:problem:error", "title": "Internal error", "status": 500, "detail": "the stub fails the second create"}"#
                            .to_string(),
                    ),
                }
            } else {
                (
                    "404 Not Found",
                    r#"{"detail": "not in the stub"}"#.to_string(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, seen)
}

/// `tripline apply .` run in `dir` against the stub API at `base`, with `more` arguments.
fn apply_to_stub(dir: &Path, base: &str, more: &[&str]) -> Run {
    let out = Command::new(binary())
        .args(["--url", base, "--token", "t", "apply", "."])
        .args(more)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    finish(out)
}

#[test]
fn apply_stops_at_the_first_server_error_and_names_its_file() {
    let dir = temp_dir("apply-stops");
    for name in ["a", "b", "c"] {
        std::fs::write(
            dir.join(format!("{name}.json")),
            include_str!("../../examples/endpoint.json"),
        )
        .unwrap();
    }
    for (second, says) in [
        (Stub::Fails, "the stub fails the second create"),
        (Stub::Drops, "cannot reach"),
    ] {
        let (base, seen) = stub_api(second);
        let r = apply_to_stub(&dir, &base, &[]);
        assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.starts_with("error: ./b.json: ") && r.stderr.contains(says),
            "{}",
            r.stderr
        );
        // Listed once, created a, failed on b, and never tried c.
        let seen = seen.lock().unwrap().clone();
        let creates = seen.iter().filter(|l| l.starts_with("POST ")).count();
        assert_eq!(creates, 2, "{seen:#?}");
        assert_eq!(seen.len(), 3, "{seen:#?}");
        assert!(
            r.stdout.contains("+ create a") && !r.stdout.contains("create c"),
            "{}",
            r.stdout
        );
    }
}

/// A save whose copy for the test URL did not reach the workflow's object (503 "Draft saved,
/// test URL not updated") is sent again, as the answer asks, here twice: a later `apply` would
/// find the draft unchanged and send nothing, leaving the test URL on the old draft. (It
/// stopped with exit 3 before, and after a second 503 until the retries were three.)
#[test]
fn apply_saves_a_draft_again_when_its_copy_for_the_test_url_was_not_kept() {
    let dir = temp_dir("apply-draft-copy");
    std::fs::write(
        dir.join("a.json"),
        r#"{"name": "new", "trigger": {"type": "endpoint"}}"#,
    )
    .unwrap();
    let (base, seen) = stub_api(Stub::DraftCopyFailsTwice);
    let r = apply_to_stub(&dir, &base, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let seen = seen.lock().unwrap().clone();
    let puts: Vec<&String> = seen.iter().filter(|l| l.starts_with("PUT ")).collect();
    assert_eq!(puts.len(), 3, "{seen:#?}");
    assert!(
        puts[0].starts_with("PUT /api/workflows/wf_000000000000000000000000001 "),
        "{seen:#?}"
    );
}

/// `runs --limit N` lists the newest N even when the server ends a page of large runs early
/// (it reads at most 4 MiB of records a page, and answers a cursor): the CLI follows the
/// cursor (it showed the first page only before).
#[test]
fn runs_limit_follows_pages_the_server_ends_early() {
    let _turn = server_lock();
    let repo = temp_dir("runs-large");
    let def = json!({
        "name": "large runs",
        "trigger": {"type": "endpoint"},
        "steps": []
    });
    std::fs::write(repo.join("large-runs.json"), def.to_string()).unwrap();
    let r = tripline(&repo, &["apply", "large-runs.json", "--deploy"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let id = by_key("large-runs").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Seven runs of 700 KB each: 4.9 MB, more than one page reads.
    let body = json!({"pad": "x".repeat(700_000)}).to_string();
    for _ in 0..7 {
        let r = send(
            "POST",
            &format!("{}/hooks/{id}", dev().base),
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 202, "{}", r.text);
    }
    let page = api(
        dev(),
        "GET",
        &format!("/api/workflows/{id}/runs?limit=7"),
        None,
    );
    assert_eq!(page.status, 200, "{}", page.status);
    let first = page.json()["runs"].as_array().unwrap().len();
    assert!(first < 7, "the server's first page holds {first} runs");
    assert!(page.json()["next_cursor"].is_string());

    let r = tripline(&repo, &["runs", "large-runs", "--limit", "7", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed: Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = listed["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 7, "{ids:?}");
    let distinct: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), 7, "{ids:?}");
    let r = tripline(&repo, &["runs", "large-runs", "--limit", "3", "--json"]);
    let listed: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(listed["runs"].as_array().unwrap().len(), 3);
    assert_eq!(listed["runs"][0]["id"], ids[0]);
    let r = api(dev(), "DELETE", &format!("/api/workflows/{id}"), None);
    assert!(r.status < 300, "{}", r.text);
}

/// A URL that answers 200 with something other than JSON is not taken for an empty Tripline:
/// `apply` stops at the list, creates nothing and exits 3 naming what answered (it printed
/// "applied: 1 created" before, with nothing created).
#[test]
fn apply_to_a_url_that_is_not_a_tripline_stops_at_the_first_answer() {
    let dir = temp_dir("apply-not-tripline");
    std::fs::write(
        dir.join("a.json"),
        include_str!("../../examples/endpoint.json"),
    )
    .unwrap();
    let (base, seen) = stub_api(Stub::NotTripline);
    let r = apply_to_stub(&dir, &base, &["--deploy"]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("answered 200 with `text/html`, not JSON")
            && r.stderr.contains(&format!("is {base} a Tripline?")),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("applied"), "{}", r.stdout);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "only the list was asked: {seen:#?}");
    assert!(seen[0].starts_with("GET /api/workflows?"), "{seen:#?}");
}

/// `send` goes to the live URL with the deployed version's method whatever the draft says, and
/// `--test` with the draft's; a redirect answered by a Response step is an answer (exit 0); a
/// malformed header is a usage error (exit 2); an undeployed workflow is named as such (exit 1).
#[test]
fn send_follows_the_deployed_version_and_tells_usage_errors_apart() {
    let _turn = server_lock();
    let repo = temp_dir("send-live");
    let def = |method: &str| {
        json!({"name": "send live", "trigger": {"type": "endpoint", "method": method},
               "steps": [{"type": "response", "status": 302,
                          "headers": {"location": "https://example.com/done"}}]})
        .to_string()
    };
    std::fs::write(repo.join("send-live.json"), def("POST")).unwrap();
    let r = tripline(&repo, &["apply", "send-live.json", "--deploy"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    std::fs::write(repo.join("send-live.json"), def("PUT")).unwrap();
    let r = tripline(&repo, &["apply", "send-live.json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let id = by_key_id("send-live");

    let r = tripline(&repo, &["--json", "send", "send-live", "-d", "{}"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let sent: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(sent["status"], 302, "{sent}");
    let runs = api(dev(), "GET", &format!("/api/workflows/{id}/runs"), None).json();
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1), "{runs}");

    let r = tripline(
        &repo,
        &["--json", "send", "send-live", "--test", "-d", "{}"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let shelf = api(
        dev(),
        "GET",
        &format!("/api/workflows/{id}/test-requests"),
        None,
    )
    .json();
    assert_eq!(shelf["test_requests"][0]["method"], "PUT", "{shelf}");

    let r = tripline(&repo, &["send", "send-live", "-H", "X Key: 1"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("is not a header name"), "{}", r.stderr);

    let r = api(
        dev(),
        "POST",
        &format!("/api/workflows/{id}/undeploy"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = tripline(&repo, &["send", "send-live", "-d", "{}"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("send-live is not deployed"),
        "{}",
        r.stderr
    );
    let runs = api(dev(), "GET", &format!("/api/workflows/{id}/runs"), None).json();
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1), "{runs}");
    // Gone before the next test's turn: a prune there would delete it and say so.
    assert_eq!(
        api(dev(), "DELETE", &format!("/api/workflows/{id}"), None).status,
        204
    );
}

#[test]
fn send_to_the_test_url_and_replay_a_run() {
    let _turn = server_lock();
    let repo = temp_dir("send-test");
    std::fs::write(
        repo.join("shelf-me.json"),
        include_str!("../../examples/endpoint.json"),
    )
    .unwrap();
    let r = tripline(&repo, &["apply", "shelf-me.json", "--deploy"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let id = by_key("shelf-me").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // --test: captured on the test shelf with its header, query and body; no run.
    let r = tripline(
        &repo,
        &[
            "--json",
            "send",
            "shelf-me",
            "--test",
            "-H",
            "x-a: 1",
            "-q",
            "source=cli",
            "--data",
            r#"{"email": "grace@example.com"}"#,
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let sent: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(sent["status"], 200, "{sent}");
    assert_eq!(sent["body"]["captured"], true, "{sent}");
    let shelf = api(
        dev(),
        "GET",
        &format!("/api/workflows/{id}/test-requests"),
        None,
    );
    assert_eq!(shelf.status, 200, "{}", shelf.text);
    let shelf = shelf.json();
    let captured = &shelf["test_requests"][0];
    assert_eq!(captured["id"], sent["body"]["id"], "{shelf}");
    assert_eq!(captured["method"], "POST", "{captured}");
    assert_eq!(captured["headers"]["x-a"], "1", "{captured}");
    assert_eq!(captured["query"]["source"], "cli", "{captured}");
    assert_eq!(captured["body"]["email"], "grace@example.com", "{captured}");
    let runs = api(dev(), "GET", &format!("/api/workflows/{id}/runs"), None).json();
    assert_eq!(
        runs["runs"],
        json!([]),
        "a test request runs nothing: {runs}"
    );

    // A live run, then `replay`: a new run of the deployed version with the same input.
    let r = tripline(
        &repo,
        &[
            "send",
            "shelf-me",
            "-q",
            "source=website",
            "--data",
            r#"{"email": "ada@example.com"}"#,
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let run_id = serde_json::from_str::<Value>(&r.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = tripline(&repo, &["replay", &run_id]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let replay_id = r
        .stdout
        .trim()
        .strip_prefix(&format!("replayed {run_id} as "))
        .unwrap_or_else(|| panic!("{}", r.stdout))
        .to_string();
    assert!(
        replay_id.starts_with("run_") && replay_id != run_id,
        "{replay_id}"
    );
    let original = api(dev(), "GET", &format!("/api/runs/{run_id}"), None).json();
    let replayed = api(dev(), "GET", &format!("/api/runs/{replay_id}"), None);
    assert_eq!(replayed.status, 200, "{}", replayed.text);
    let replayed = replayed.json();
    assert_eq!(replayed["trigger"], "replay", "{replayed}");
    assert_eq!(replayed["workflow_id"], id.as_str());
    assert_eq!(replayed["version"], 1);
    assert_eq!(replayed["input"], original["input"], "{replayed}");
    // An unknown run is exit 1; a malformed id, which could name another route, exit 2.
    assert_eq!(tripline(&repo, &["replay", UNKNOWN_RUN_ID]).code, 1);
    let r = tripline(&repo, &["replay", &format!("../workflows/{id}/undeploy?")]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("is not a run id"), "{}", r.stderr);
    assert_eq!(by_key("shelf-me").unwrap()["status"], "deployed");

    assert_eq!(
        api(dev(), "DELETE", &format!("/api/workflows/{id}"), None).status,
        204
    );
}

#[test]
fn preview_by_key_asks_the_server_and_agrees_with_the_file() {
    let _turn = server_lock();
    let repo = temp_dir("preview-key");
    std::fs::write(
        repo.join("nightly-preview.json"),
        include_str!("../../examples/schedule.json"),
    )
    .unwrap();
    // A draft is enough: the server previews the draft's schedule.
    let r = tripline(&repo, &["apply", "nightly-preview.json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let args = |target: &'static str| {
        [
            "--json",
            "preview",
            target,
            "--count",
            "3",
            "--after",
            "2027-03-13T12:00:00Z",
        ]
    };
    let by_key = tripline(&repo, &args("nightly-preview"));
    assert_eq!(by_key.code, 0, "{}", by_key.stderr);
    let from_server: Value = serde_json::from_str(&by_key.stdout).unwrap();
    assert_eq!(
        from_server["fire_times"][0]["utc"], "2027-03-14T07:00:00Z",
        "{from_server}"
    );
    assert_eq!(from_server["fire_times"].as_array().unwrap().len(), 3);
    let offline = tripline(&repo, &args("nightly-preview.json"));
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    let offline: Value = serde_json::from_str(&offline.stdout).unwrap();
    assert_eq!(from_server, offline);
    // As a table; a file that does not exist is a usage error, not a key.
    let r = tripline(&repo, &["preview", "nightly-preview", "--count", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("LOCAL "), "{}", r.stdout);
    assert_eq!(r.stdout.lines().count(), 3, "{}", r.stdout);
    let r = tripline(&repo, &["preview", "missing.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("missing.yaml: no such file"),
        "{}",
        r.stderr
    );

    let id = by_key_id("nightly-preview");
    assert_eq!(
        api(dev(), "DELETE", &format!("/api/workflows/{id}"), None).status,
        204
    );
}

fn by_key_id(key: &str) -> String {
    by_key(key).unwrap()["id"].as_str().unwrap().to_string()
}

/// `pull` writes each keyed workflow's draft into the folder (a new file, or its JSON file
/// rewritten), keeps a YAML file that differs with a warning, names the workflows without a
/// key, and leaves a folder that `diff` finds unchanged.
#[test]
fn pull_writes_keyed_drafts_that_apply_then_finds_unchanged() {
    let _turn = server_lock();
    let repo = temp_dir("pull");
    let pid = std::process::id();
    let (a, b) = (format!("pull-a-{pid}"), format!("pull-b-{pid}"));
    let create = |body: Value| {
        let r = api(dev(), "POST", "/api/workflows", Some(&body));
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["id"].as_str().unwrap().to_string()
    };
    let endpoint = |key: Option<&str>, name: &str| {
        let mut d = json!({"name": name, "trigger": {"type": "endpoint"},
                           "steps": [{"type": "log", "name": "note", "message": "got {{request.body.n}}"}]});
        if let Some(k) = key {
            d["key"] = json!(k);
        }
        d
    };
    let id_a = create(endpoint(Some(&a), "Pulled A"));
    let id_b = create(endpoint(Some(&b), "Pulled B"));
    let id_c = create(endpoint(None, "Made by hand"));
    let d = format!("pull-d-{pid}");
    let id_d = create(endpoint(Some(&d), "Pulled D"));
    // B has a YAML file here already, with another draft.
    let wf = repo.join("wf");
    std::fs::create_dir_all(&wf).unwrap();
    let yaml = "name: Older B\ntrigger: {type: endpoint}\nsteps: []\n".to_string();
    std::fs::write(wf.join(format!("{b}.yaml")), &yaml).unwrap();
    // D's file is named otherwise: its `key` names it, and it points editors at the schema.
    let mut older_d = endpoint(Some(&d), "Older D");
    older_d["$schema"] = json!("https://tripline.example/api/definition.schema.json");
    std::fs::write(wf.join("named-otherwise.json"), older_d.to_string()).unwrap();

    let r = tripline(&repo, &["pull", "wf"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("+ wrote {a}")), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("! kept {b}")), "{}", r.stdout);
    assert!(r.stderr.contains("a YAML file differs"), "{}", r.stderr);
    assert!(
        r.stderr.contains("without a key") && r.stderr.contains(&id_c),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(wf.join(format!("{b}.yaml"))).unwrap(),
        yaml
    );
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(wf.join(format!("{a}.json"))).unwrap())
            .unwrap();
    let mut draft =
        api(dev(), "GET", &format!("/api/workflows/{id_a}"), None).json()["draft"].clone();
    draft.as_object_mut().unwrap().remove("key");
    assert_eq!(written, draft);
    // The folder is what the server has: `diff` would change nothing for A.
    let r = tripline(&repo, &["--json", "diff", "wf"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let action_of = |v: &Value, key: &str| {
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["key"] == key)
            .map(|x| x["action"].clone())
    };
    assert_eq!(action_of(&v, &a), Some(json!("unchanged")), "{v}");
    assert_eq!(action_of(&v, &b), Some(json!("update")), "{v}");
    // D's file was rewritten with its key and its `$schema` kept.
    assert_eq!(action_of(&v, &d), Some(json!("unchanged")), "{v}");
    let rewritten: Value =
        serde_json::from_str(&std::fs::read_to_string(wf.join("named-otherwise.json")).unwrap())
            .unwrap();
    assert_eq!(rewritten["key"], json!(d));
    assert_eq!(rewritten["name"], "Pulled D");
    assert_eq!(rewritten["$schema"], older_d["$schema"]);

    // A changed on the server: the next pull rewrites its file, the one after finds it unchanged.
    let mut edited = endpoint(Some(&a), "Pulled A, edited");
    edited["steps"][0]["message"] = json!("edited {{request.body.n}}");
    let r = api(
        dev(),
        "PUT",
        &format!("/api/workflows/{id_a}"),
        Some(&edited),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = tripline(&repo, &["--json", "pull", "wf"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(action_of(&v, &a), Some(json!("update")), "{v}");
    assert!(
        v["without_key"].as_array().unwrap().contains(&json!(id_c)),
        "{v}"
    );
    let text = std::fs::read_to_string(wf.join(format!("{a}.json"))).unwrap();
    assert!(text.contains("\"name\": \"Pulled A, edited\""), "{text}");
    let r = tripline(&repo, &["pull", "wf"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("= unchanged {a}")),
        "{}",
        r.stdout
    );
    let r = tripline(&repo, &["--json", "diff", "wf"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(action_of(&v, &a), Some(json!("unchanged")), "{v}");
    // A folder path that is a file is a usage error.
    let r = tripline(&repo, &["pull", &format!("wf/{a}.json")]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("is not a folder"), "{}", r.stderr);

    for id in [id_a, id_b, id_c, id_d] {
        assert_eq!(
            api(dev(), "DELETE", &format!("/api/workflows/{id}"), None).status,
            204
        );
    }
}

/// `undeploy KEY` stops a workflow and keeps it; `delete KEY` asks for `--yes`, then removes it;
/// an unknown key is exit 1.
#[test]
fn undeploy_and_delete_by_key() {
    let _turn = server_lock();
    let repo = temp_dir("undeploy-delete");
    let key = format!("gone-{}", std::process::id());
    let body = json!({"key": key, "name": "To stop", "trigger": {"type": "endpoint"},
                      "steps": [{"type": "log", "name": "note", "message": "hi"}]});
    let r = api(dev(), "POST", "/api/workflows", Some(&body));
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = api(dev(), "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let hook = |dev: &Dev| send("POST", &dev.url(&format!("/hooks/{id}")), &[], Some(b"{}")).status;
    assert_eq!(hook(dev()), 202);

    let r = tripline(&repo, &["undeploy", &key]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("undeployed {key}  {id}")),
        "{}",
        r.stdout
    );
    assert_eq!(by_key(&key).unwrap()["status"], "draft");
    // Another isolate may take requests for a few seconds more (here there is one).
    eventually(10, "the live URL answers 404", || hook(dev()) == 404);

    let r = tripline(&repo, &["delete", &key]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("pass --yes to confirm"), "{}", r.stderr);
    assert!(by_key(&key).is_some());
    let r = tripline(&repo, &["--json", "delete", &key, "--yes"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v, json!({"deleted": id, "key": key}));
    assert!(by_key(&key).is_none());
    for args in [&["delete", &key, "--yes"][..], &["undeploy", &key]] {
        let r = tripline(&repo, args);
        assert_eq!(r.code, 1, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("no workflow with key"), "{}", r.stderr);
    }
}

/// `apply` names each secret a workflow reads that the Worker lacks, once per workflow (from
/// its deploy's answer), and applies all the same; `--json` carries the list.
#[test]
fn apply_warns_of_secrets_the_worker_lacks() {
    let _turn = server_lock();
    let repo = temp_dir("missing-secrets");
    std::fs::write(
        repo.join("needs-secret.json"),
        json!({"key": "needs-secret", "name": "Needs a secret", "trigger": {"type": "endpoint"},
               "steps": [{"type": "log", "name": "note", "message": "{{secrets.CLI_UNSET_TOKEN}}"},
                         {"type": "log", "message": "after"}]})
        .to_string(),
    )
    .unwrap();
    let r = tripline(&repo, &["apply", ".", "--deploy"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let warning = "warning: needs-secret: steps[0].message reads the secret CLI_UNSET_TOKEN, \
                   which the Worker does not have";
    assert_eq!(r.stderr.matches(warning).count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("`wrangler secret put CLI_UNSET_TOKEN`"),
        "{}",
        r.stderr
    );
    let id = by_key_id("needs-secret");
    let w = api(dev(), "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(w["status"], "deployed", "{w}");
    // A run fails at the step that reads it; `run` lists the step after it as not run.
    let r = tripline(&repo, &["send", "needs-secret"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let run_id = serde_json::from_str::<Value>(&r.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = wait_run(dev(), &run_id, 60);
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error"].to_string().contains("CLI_UNSET_TOKEN"),
        "{run}"
    );
    let r = tripline(&repo, &["run", &run_id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let not_run: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("  · ")).collect();
    assert_eq!(not_run.len(), 1, "{}", r.stdout);
    assert!(
        not_run[0].contains("log_1") && not_run[0].ends_with("not run"),
        "{}",
        r.stdout
    );
    // Saved without a deploy: from the save's answer.
    std::fs::write(
        repo.join("needs-secret.json"),
        json!({"key": "needs-secret", "name": "Needs it twice", "trigger": {"type": "endpoint"},
               "steps": [{"type": "log", "name": "note", "message": "{{secrets.CLI_UNSET_TOKEN}}"},
                         {"type": "log", "message": "after"}]})
        .to_string(),
    )
    .unwrap();
    let r = tripline(&repo, &["--json", "apply", "."]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v["actions"][0]["missing_secrets"],
        json!([{"name": "CLI_UNSET_TOKEN", "location": "steps[0].message"}]),
        "{v}"
    );
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    assert_eq!(
        api(dev(), "DELETE", &format!("/api/workflows/{id}"), None).status,
        204
    );
}
