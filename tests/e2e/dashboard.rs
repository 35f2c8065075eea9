//! The dashboard, end to end: the static assets served by the real Worker under `wrangler dev`,
//! driven by headless Chromium (playwright-core, tests/e2e/browser/dashboard_*.mjs) through each
//! scenario, with every result checked here and against the management API. The scenarios also
//! save the screenshots in docs/screenshots/.

use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::harness::http_server::{Reply, Server};
use crate::harness::oauth_provider::{Provider, CLIENT_SECRET, PASSWORD};
use crate::harness::*;
use serde_json::{json, Value};

const OAUTH_SECRET_ENV: &str = "DASH_OAUTH_CLIENT_SECRET";
const GITHUB_SECRET_ENV: &str = "DASH_GITHUB_SECRET";
const GITHUB_SECRET: &str = "dashboard webhook secret";
const HOSTILE: &str = "<img src=x onerror=alert(1)>";

fn dev() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| {
        Dev::start(
            "dashboard",
            &[
                ("RUN_LEASE_SECONDS", "3"),
                (OAUTH_SECRET_ENV, CLIENT_SECRET),
                (GITHUB_SECRET_ENV, GITHUB_SECRET),
            ],
        )
    })
}

/// One Chromium at a time: the machine is small and each scenario is a whole browser.
static BROWSER: Mutex<()> = Mutex::new(());

/// Runs `tests/e2e/browser/{script}` with `args` (plus base URL, token and screenshot folder)
/// and returns its JSON report, failing with the scenario's own error when it did not finish.
fn browser(script: &str, args: Value) -> Value {
    browser_at(dev(), script, args)
}

fn browser_at(dev: &Dev, script: &str, mut args: Value) -> Value {
    args["base"] = json!(dev.base);
    args["token"] = json!(ADMIN_TOKEN);
    args["shots"] = json!(root().join("docs/screenshots"));
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("node")
        .arg(root().join("tests/e2e/browser").join(script))
        .arg(args.to_string())
        .current_dir(root())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    let report: Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON report ({e}): {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success() && report["ok"] == true,
        "{script} failed: {}\n{report:#}",
        report["error"].as_str().unwrap_or("")
    );
    assert_eq!(report["page_errors"], json!([]), "{script}: {report:#}");
    assert_eq!(report["dialogs"], json!([]), "{script}: {report:#}");
    report
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn endpoint_example() -> Value {
    serde_json::from_str(include_str!("../../examples/endpoint.json")).expect("example")
}

/// Sends a lead to the endpoint workflow `id` (examples/endpoint.json); returns the run id.
fn send_lead(dev: &Dev, id: &str, email: &str) -> String {
    let body = json!({ "email": email }).to_string();
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{id}?source=website")),
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    text(&r.json()["run_id"]).to_string()
}

/// A schedule workflow that fires daily at `at` in `timezone`, with one `log` step.
fn daily_schedule(name: &str, at: &str, timezone: &str) -> Value {
    json!({
        "name": name,
        "trigger": {"type": "schedule", "schedule": {"kind": "daily", "every": 1, "at": at},
                    "timezone": timezone},
        "steps": [{"type": "log", "name": "n", "message": "x"}]
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| text(x).to_string())
        .collect()
}

#[test]
fn error_locations_map_to_the_text_and_diffs_mark_lines() {
    // The dashboard's pure modules, under node's test runner (dashboard/test/).
    let mut files: Vec<String> = std::fs::read_dir(root().join("dashboard/test"))
        .expect("dashboard/test")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("dashboard/test/{name}"))
        .collect();
    files.sort();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let stdout = node_tests(&files);
    // Every test of every file ran and passed (none cancelled or skipped).
    let count = |name: &str| -> usize {
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {name} ")))
            .unwrap_or_else(|| panic!("no `# {name}` line: {stdout}"));
        line.trim().parse().expect("a count")
    };
    assert!(count("tests") >= 14, "{stdout}");
    assert_eq!(count("pass"), count("tests"), "{stdout}");
    assert_eq!(count("fail"), 0, "{stdout}");
}

#[test]
fn serves_the_dashboard_with_a_strict_csp_and_keeps_the_api() {
    let dev = dev();
    let r = send("GET", &dev.url("/"), &[], None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/html"));
    assert!(
        r.text
            .contains(r#"<script type="module" src="/app.js"></script>"#),
        "{}",
        r.text
    );
    let csp = r.header("content-security-policy").expect("CSP header");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let js = send("GET", &dev.url("/app.js"), &[], None);
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap_or("")
        .contains("javascript"));
    assert!(
        !js.text.contains("https://") || !js.text.contains("import(\"https"),
        "no remote imports"
    );
    // The Worker still owns its paths.
    let api_r = send("GET", &dev.url("/api/workflows"), &[], None);
    assert_eq!(api_r.status, 401, "{}", api_r.text);
    assert_eq!(
        api_r.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(send("GET", &dev.url("/healthz"), &[], None).status, 200);
    assert_eq!(
        send("GET", &dev.url("/hooks/wf_nope"), &[], None).status,
        404
    );
}

#[test]
fn workflow_resource_carries_the_deployed_definition() {
    let dev = dev();
    let def = endpoint_example();
    let id = create(dev, &def);
    let r = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(r.json()["deployed_definition"], Value::Null, "{}", r.text);
    let r = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let mut changed = def.clone();
    changed["name"] = json!("Lead created, edited");
    let r = api(dev, "PUT", &format!("/api/workflows/{id}"), Some(&changed));
    assert_eq!(r.status, 200, "{}", r.text);
    let v = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(v["deployed_definition"], def);
    assert_eq!(v["draft"]["name"], "Lead created, edited");
}

#[test]
fn workflow_list_carries_each_last_run() {
    let dev = dev();
    let mut keyed = endpoint_example();
    keyed["key"] = json!("last-run-listed");
    let busy = create_deployed(dev, &keyed);
    let idle = create(dev, &endpoint_example());
    let mut newest = String::new();
    for email in ["one@example.com", "two@example.com"] {
        let body = json!({ "email": email }).to_string();
        let r = send(
            "POST",
            &dev.url(&format!("/hooks/{busy}?source=website")),
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 202, "{}", r.text);
        newest = text(&r.json()["run_id"]).to_string();
    }
    let finished = wait_run(dev, &newest, 60);
    let list = api(dev, "GET", "/api/workflows?limit=100", None).json();
    let find = |id: &str| -> Value {
        list["workflows"]
            .as_array()
            .expect("workflows")
            .iter()
            .find(|w| w["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed: {list}"))
    };
    let last = find(&busy)["last_run"].clone();
    assert_eq!(last["id"], newest, "{last}");
    assert_eq!(last["status"], "succeeded", "{last}");
    assert_eq!(last["created_at"], finished["created_at"], "{last}");
    assert_eq!(last["finished_at"], finished["finished_at"], "{last}");
    assert_eq!(find(&idle)["last_run"], Value::Null);
    // Looked up by its key, the same.
    let by_key = api(dev, "GET", "/api/workflows?key=last-run-listed", None).json();
    assert_eq!(by_key["workflows"][0]["id"], busy, "{by_key}");
    assert_eq!(by_key["workflows"][0]["last_run"], last, "{by_key}");
}

#[test]
fn sign_in_rejects_a_wrong_token_and_accepts_the_right_one() {
    let r = browser("dashboard_signin.mjs", json!({}));
    let wrong = text(&r["wrong_message"]);
    assert!(wrong.contains("Wrong admin token"), "{wrong}");
    assert_eq!(r["stored_after_wrong"], Value::Null);
    assert_eq!(r["heading"], "Workflows");
    assert_eq!(r["stored_token"], ADMIN_TOKEN);
    assert!(!text(&r["url"]).contains(ADMIN_TOKEN), "{}", r["url"]);
    assert_eq!(r["stored_after_signout"], Value::Null);
    assert_eq!(r["tab_reached_token_field"], true);
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn sign_in_explains_an_unset_admin_token() {
    // An empty ADMIN_TOKEN is an unset one.
    let unset = Dev::start("dashboard-unset", &[("ADMIN_TOKEN", "")]);
    let r = browser_at(&unset, "dashboard_signin_unset.mjs", json!({}));
    let message = text(&r["message"]);
    assert!(message.contains("Admin token not configured"), "{message}");
    assert!(
        message.contains("wrangler secret put ADMIN_TOKEN"),
        "{message}"
    );
    assert_eq!(r["stored"], Value::Null);
}

#[test]
fn endpoint_workflow_from_template_to_replayed_run() {
    let dev = dev();
    let r = browser("dashboard_endpoint.mjs", json!({}));
    let id = text(&r["id"]).to_string();
    // The served definition schema flags an unknown step type as it is typed, at the type,
    // naming the types there are, before anything is saved; the template itself has no schema
    // error.
    let lint = r["schema_lint"].as_array().expect("schema_lint");
    let line = r["schema_expected_line"].as_u64().expect("line");
    assert!(
        lint.iter()
            .any(|l| l["line"].as_u64() == Some(line) && text(&l["text"]) == "\"sms\""),
        "{r:#}"
    );
    let messages = r["schema_messages"].as_array().expect("schema_messages");
    assert!(
        messages
            .iter()
            .any(|m| text(m).starts_with("/steps/0/type: ")
                && text(m).contains("\"sms\"")
                && text(m).contains("\"http\"")),
        "{r:#}"
    );
    assert_eq!(r["schema_errors_listed"], 0, "no save, no API error: {r:#}");
    // It completes a step's `type` with the step kinds.
    let completions: Vec<&str> = r["schema_completions"]
        .as_array()
        .expect("schema_completions")
        .iter()
        .map(text)
        .collect();
    for kind in ["http", "log", "response"] {
        assert!(
            completions.iter().any(|c| c.contains(kind)),
            "{kind}: {completions:?}"
        );
    }
    assert_eq!(r["schema_lint_after_fix"], 0, "{r:#}");
    // The error is at the line of the broken value, in the editor and in the list.
    let line = r["expected_line"].as_u64().expect("line");
    assert!(line > 1, "{r:#}");
    assert_eq!(r["lint_line"].as_u64(), Some(line), "{r:#}");
    assert_eq!(r["error_list_line"].as_u64(), Some(line), "{r:#}");
    assert!(
        text(&r["lint_text"]).contains("{{nope.value}}"),
        "{}",
        r["lint_text"]
    );
    let listed = text(&r["error_list_text"]);
    assert!(listed.contains("steps[0].message"), "{listed}");
    assert!(listed.contains("nope"), "{listed}");
    assert_eq!(r["errors_after_fix"], 0);
    // Version 1 was deployed with the fixed definition: the run used it.
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(wf["latest_version"], 1, "{wf}");
    let first = wait_run(dev, text(&r["run_id"]), 60);
    assert_eq!(first["version"], 1, "{first}");
    assert_eq!(
        first["steps"][0]["output"]["message"], "New lead ada@example.com from website",
        "{first}"
    );
    // The curl run appeared live and was opened; Replay made a second run.
    assert_eq!(r["live_without_reload"], true);
    assert_eq!(r["failed_filter_text"], "No failed runs.");
    assert_eq!(
        text(&r["filtered_hash"]),
        format!("#/w/{}/runs?status=failed", text(&r["id"])),
        "{r:#}"
    );
    assert_eq!(r["filter_after_reload"], "failed", "{r:#}");
    assert_eq!(r["filter_after_link"], "succeeded", "{r:#}");
    assert_eq!(r["succeeded_filter_rows"], 1);
    let run_id = text(&r["run_id"]);
    assert!(run_id.starts_with("run_"), "{run_id}");
    let step = text(&r["step_text"]);
    assert!(
        step.contains("note") && step.contains("succeeded"),
        "{step}"
    );
    assert!(
        text(&r["input_text"]).contains("ada@example.com"),
        "{}",
        r["input_text"]
    );
    let replay_id = text(&r["replay_run_id"]);
    assert_ne!(replay_id, run_id);
    assert!(text(&r["replay_heading"]).contains(replay_id));
    let all = runs(dev, &id);
    let ids: Vec<&str> = all.iter().map(|r| text(&r["id"])).collect();
    assert_eq!(ids.len(), 2, "{all:?}");
    assert!(ids.contains(&run_id) && ids.contains(&replay_id), "{ids:?}");
    let replayed = wait_run(dev, replay_id, 60);
    assert_eq!(replayed["trigger"], "replay");
    assert_eq!(replayed["status"], "succeeded", "{replayed}");
    // The skip link moved focus to the content without changing the hash (the route): the
    // workflow page and its unsaved edit stayed.
    assert_eq!(r["skip_hash_after"], r["skip_hash_before"], "{r:#}");
    assert_eq!(r["skip_focus"], "main", "{r:#}");
    assert_eq!(r["skip_kept_edit"], true, "{r:#}");
    // The rename shows as a change against the deployed version.
    assert_eq!(
        r["diff_added"],
        json!(["+   \"name\": \"Lead created (v2)\","])
    );
    assert_eq!(
        r["diff_removed"],
        json!(["-   \"name\": \"Lead created\","])
    );
    // Undeployed from the page: the production URL stops at once.
    assert_eq!(r["status_after_undeploy"], "draft");
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(wf["status"], "draft", "{wf}");
    let after = send(
        "POST",
        &dev.url(&format!("/hooks/{id}?source=website")),
        &[("content-type", "application/json")],
        Some(br#"{"email": "after@example.com"}"#),
    );
    assert_eq!(after.status, 404, "{}", after.text);
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn narrow_pages_do_not_scroll_sideways() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint_example());
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{id}?source=website")),
        &[("content-type", "application/json")],
        Some(br#"{"email": "narrow@example.com"}"#),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let first = r.json()["run_id"].as_str().expect("run_id").to_string();
    wait_run(dev, &first, 60);
    // A replay's dedup key (`replay:<run id>:<random>`) is long and has no space to wrap at.
    let r = api(dev, "POST", &format!("/api/runs/{first}/replay"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    let replayed = r.json()["run_id"].as_str().expect("run_id").to_string();
    let schedule = create(
        dev,
        &daily_schedule("Berlin, narrow", "02:30", "Europe/Berlin"),
    );
    let r = browser(
        "dashboard_narrow.mjs",
        json!({"run": replayed, "workflow": id, "schedule": schedule}),
    );
    assert_eq!(r["focus_after_signin"], "main", "{r:#}");
    for page in [
        "run_page",
        "runs_page",
        "schedule_page",
        "list_page_375",
        "workflow_page_375",
        "list_page_320",
        "workflow_page_320",
    ] {
        assert_eq!(r[page]["page"], 0, "{page}: {r:#}");
        for b in r[page]["boxes"].as_array().expect("boxes") {
            assert!(b.as_i64().expect("px") <= 0, "{page}: {r:#}");
        }
    }
    assert_eq!(r["input_box_tabindex"], "0", "{r:#}");
    // Stacked, a fire time not moved by DST shows no empty DST line.
    assert!(
        r["dst_cells"]
            .as_array()
            .expect("cells")
            .iter()
            .all(|c| c == "hidden" || c == "DST shift"),
        "{r:#}"
    );
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn a_failed_run_says_its_error_in_words_and_a_deleted_workflow_is_said_so() {
    let dev = dev();
    let server = Server::bind();
    let upstream = format!("{}/fails", server.base());
    server.serve(|_| Reply::json(500, json!({"error": "down"})));
    let id = create_deployed(
        dev,
        &json!({"name": "Fails", "trigger": {"type": "endpoint"},
                "steps": [{"type": "http", "name": "bad_call", "url": upstream, "retries": 0},
                          {"type": "log", "name": "after", "message": "never"},
                          {"type": "log", "name": "last", "message": "never"}]}),
    );
    let r = send("POST", &dev.url(&format!("/hooks/{id}")), &[], None);
    assert_eq!(r.status, 202, "{}", r.text);
    let run = text(&r.json()["run_id"]).to_string();
    let done = wait_run(dev, &run, 60);
    assert_eq!(done["status"], "failed", "{done}");
    let message = text(&done["error"]["message"]).to_string();
    assert!(message.contains("bad_call"), "{done}");
    let r = browser(
        "dashboard_failed_run.mjs",
        json!({"run": run, "workflow": id}),
    );
    // The error's message, not its JSON.
    assert_eq!(text(&r["run_error"]), message, "{r:#}");
    // The runs list says it too.
    assert_eq!(text(&r["list_error"]), message, "{r:#}");
    assert!(!text(&r["step_error"]).contains('{'), "{r:#}");
    assert_eq!(r["input_label"], "Run input", "{r:#}");
    assert_eq!(
        r["step_answer_title"], "The answer bad_call failed on",
        "{r:#}"
    );
    assert_eq!(r["step_request_line"], format!("GET {upstream}"), "{r:#}");
    let answer = text(&r["step_answer"]);
    assert!(
        answer.contains("500") && answer.contains("\"down\""),
        "{r:#}"
    );
    assert_eq!(
        r["unreached"],
        json!(["after: not run", "last: not run"]),
        "{r:#}"
    );
    assert_eq!(r["deleted"], 204, "{r:#}");
    let problems = strings(&r["runs_page_problems"]);
    assert_eq!(problems.len(), 1, "{r:#}");
    assert!(
        problems[0].starts_with("This workflow was deleted"),
        "{r:#}"
    );
    assert_eq!(r["csp_violations"], json!([]));
}

/// The workflow page names each secret its draft reads that the Worker lacks, with a link to
/// where; saved without them, the note goes.
#[test]
fn a_workflow_page_names_the_secrets_the_worker_lacks() {
    let dev = dev();
    let def = json!({"name": "Reads secrets", "trigger": {"type": "endpoint"},
                     "steps": [{"type": "log", "name": "first", "message": "x"},
                               {"type": "log", "name": "note", "message": "{{secrets.DASH_UNSET_TOKEN}}"}]});
    let id = create(dev, &def);
    let mut fixed = def.clone();
    fixed["steps"][1]["message"] = json!("no secret");
    let r = browser(
        "dashboard_missing_secrets.mjs",
        json!({"id": id, "fixed": fixed}),
    );
    assert_eq!(
        r["title"], "The draft reads a secret this Worker does not have",
        "{r:#}"
    );
    let items = strings(&r["items"]);
    assert_eq!(
        items,
        ["DASH_UNSET_TOKEN, read at steps[1].message"],
        "{r:#}"
    );
    // Its location moved the editor's cursor to the line that reads it.
    let lines = strings(&r["lines_with_secret"]);
    assert_eq!(lines.len(), 1, "{r:#}");
    assert_eq!(text(&r["focused_line"]).trim(), lines[0].trim(), "{r:#}");
    assert_eq!(r["after_save"], 0, "{r:#}");
    let w = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(w["missing_secrets"], json!([]), "{w}");
    assert_eq!(r["csp_violations"], json!([]));
}

/// While a run runs, its page lists the steps it has not recorded (the one in progress first,
/// then those waiting), and drops them as the run records them.
#[test]
fn a_running_runs_page_lists_the_steps_still_to_come() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    let dev = dev();
    let server = Server::bind();
    let base = server.base();
    let released = Arc::new(AtomicBool::new(false));
    let flag = released.clone();
    // The step's call is answered once the scenario has seen it in progress (at most 50 s).
    server.serve(move |req| {
        if req.url.starts_with("/release") {
            flag.store(true, Ordering::SeqCst);
            return Reply::json(200, json!({}));
        }
        let until = Instant::now() + Duration::from_secs(50);
        while !flag.load(Ordering::SeqCst) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        Reply::json(200, json!({"ok": true}))
    });
    let id = create_deployed(
        dev,
        &json!({"name": "Slow call", "trigger": {"type": "endpoint"},
                "steps": [{"type": "log", "name": "first", "message": "x"},
                          {"type": "http", "name": "slow", "url": format!("{base}/slow"),
                           "timeout_ms": 55000, "retries": 0},
                          {"type": "log", "name": "done", "message": "y"}]}),
    );
    let r = send("POST", &dev.url(&format!("/hooks/{id}")), &[], None);
    assert_eq!(r.status, 202, "{}", r.text);
    let run = text(&r.json()["run_id"]).to_string();
    let r = browser(
        "dashboard_run_progress.mjs",
        json!({"run": run, "release": format!("{base}/release")}),
    );
    assert!(released.load(Ordering::SeqCst), "{r:#}");
    assert_eq!(
        r["running"],
        json!(["slow: in progress", "done: waiting"]),
        "{r:#}"
    );
    assert!(text(&r["running_text"]).contains("http"), "{r:#}");
    assert_eq!(r["done"], json!([]), "{r:#}");
    assert_eq!(r["recorded"], json!(["first", "slow", "done"]), "{r:#}");
    let done = wait_run(dev, &run, 60);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn a_workflow_deleted_elsewhere_is_said_once_and_nothing_more_is_sent() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_deleted_elsewhere.mjs", json!({ "id": id }));
    assert_eq!(r["deleted"], 204, "{r:#}");
    let problems = strings(&r["problems"]);
    assert_eq!(problems.len(), 1, "{r:#}");
    assert!(
        problems[0].starts_with("This workflow was deleted"),
        "{r:#}"
    );
    assert_eq!(
        r["buttons"],
        json!([
            "Save draft (disabled)",
            "Deploy (disabled)",
            "Undeploy (disabled)",
            "Delete"
        ]),
        "{r:#}"
    );
    assert_eq!(r["panels"], 0, "{r:#}");
    assert_eq!(r["edit_kept"], true, "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn runs_page_pages_older_runs_and_keeps_showing_new_ones() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint_example());
    let mut sent = Vec::new();
    for i in 0..23 {
        let body = json!({ "email": format!("p{i}@example.com") }).to_string();
        let r = send(
            "POST",
            &dev.url(&format!("/hooks/{id}?source=website")),
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 202, "{}", r.text);
        sent.push(r.json()["run_id"].as_str().expect("run_id").to_string());
    }
    let r = browser("dashboard_runs_paging.mjs", json!({"id": id}));
    assert_eq!(r["first_page"], 20, "{r:#}");
    assert_eq!(r["stale_rows"], 20, "{r:#}");
    assert_eq!(r["stale_problem_boxes"], 0, "{r:#}");
    let shown: Vec<String> = r["after_older"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| text(v).to_string())
        .collect();
    // Each run once, all 23, the newest first.
    assert_eq!(shown.first(), sent.last(), "{r:#}");
    let mut sorted_shown = shown.clone();
    sorted_shown.sort();
    sorted_shown.dedup();
    let mut sorted_sent = sent.clone();
    sorted_sent.sort();
    assert_eq!(sorted_shown, sorted_sent);
    assert_eq!(r["older_button_left"], 0);
    assert_eq!(
        r["focus_after_last_page"].as_str(),
        shown.last().map(String::as_str),
        "{r:#}"
    );
    // The button pressed for a page that is not the last keeps the focus.
    assert_eq!(r["focus_after_failed_more"], "Older runs", "{r:#}");
    // A failed "Older runs" stayed on screen through the refreshes, until a try succeeded.
    assert_eq!(r["more_problem_after_refreshes"], 1, "{r:#}");
    assert_eq!(r["more_problem_after_success"], 0, "{r:#}");
    let after_new = r["after_new"].as_array().expect("ids");
    assert_eq!(after_new.len(), 24, "{r:#}");
    assert_eq!(after_new[0], r["new_run"]);
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn runs_page_keeps_the_pages_loaded_when_more_new_runs_come_than_a_page_holds() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint_example());
    let sent: Vec<String> = (0..43)
        .map(|i| send_lead(dev, &id, &format!("b{i}@example.com")))
        .collect();
    // Three pages loaded (20 + 20 + 3), then 25 new runs between two refreshes.
    let r = browser(
        "dashboard_runs_burst.mjs",
        json!({"id": id, "loaded": 43, "burst": 25}),
    );
    assert_eq!(r["loaded"], 43, "{r:#}");
    let new_runs = strings(&r["new_runs"]);
    assert_eq!(new_runs.len(), 25, "{r:#}");
    let after = strings(&r["after"]);
    // Every run once, the newest first: the 43 loaded were kept below the 25 new ones.
    assert_eq!(after.len(), 68, "{r:#}");
    assert_eq!(after.first(), new_runs.last(), "{r:#}");
    let mut shown = after.clone();
    shown.sort();
    shown.dedup();
    let mut all: Vec<String> = sent.iter().chain(&new_runs).cloned().collect();
    all.sort();
    assert_eq!(shown, all, "{r:#}");
    assert_eq!(r["older_button"], 0, "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn workflow_list_keeps_the_pages_loaded_when_it_refreshes() {
    // An instance of its own: the list is of every workflow, and 53 of them would push the
    // other scenarios' workflows off the first page.
    let dev = &Dev::start("dashboard-list-paging", &[]);
    let mut def = endpoint_example();
    let mut ids = Vec::new();
    for i in 0..53 {
        def["name"] = json!(format!("Paged {i:02}"));
        ids.push(create(dev, &def));
    }
    // Ten schedules on the first page: the list reads each one's next fire, a few at a time.
    for i in 0..10 {
        ids.push(create(
            dev,
            &daily_schedule(&format!("Scheduled {i}"), "02:30", "Europe/Berlin"),
        ));
    }
    let r = browser_at(
        dev,
        "dashboard_list_paging.mjs",
        json!({"oldest_name": "Paged 00"}),
    );
    assert_eq!(r["first_page"], 50, "{r:#}");
    assert_eq!(
        text(&r["filtered_before_more"]),
        "None of the 50 workflows loaded matches “Paged 00”; Load more workflows to look further.",
        "{r:#}"
    );
    let most = r["most_detail_reads"].as_u64().expect("most_detail_reads");
    assert!((2..=4).contains(&most), "{r:#}");
    // A failed "Load more workflows" stayed on screen through the refresh, until a try succeeded.
    assert_eq!(r["more_problem_after_refresh"], 1, "{r:#}");
    assert_eq!(r["more_problem_after_success"], 0, "{r:#}");
    let mut after_more = strings(&r["after_more"]);
    after_more.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(after_more, all, "{r:#}");
    // The refresh of the first page kept the second one, and there is nothing more to load.
    let mut after_refresh = strings(&r["after_refresh"]);
    after_refresh.sort();
    assert_eq!(after_refresh, all, "{r:#}");
    assert_eq!(r["more_button_after_refresh"], 0, "{r:#}");
    // The oldest workflow is on the second page: the filter finds it.
    assert_eq!(r["filtered"], json!([ids[0]]), "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn run_page_and_connections_survive_a_failed_refresh() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint_example());
    let run_id = send_lead(dev, &id, "refresh@example.com");
    wait_run(dev, &run_id, 60);
    let provider = Provider::start(&dev.base, 3600);
    let oauth_id = create(
        dev,
        &json!({"name": "Connect", "trigger": provider.trigger(OAUTH_SECRET_ENV, &["read"]),
                "steps": [{"type": "log", "name": "hello", "message": "connected {{oauth.user_id}}"}]}),
    );
    let r = browser(
        "dashboard_run_refresh.mjs",
        json!({"run_id": run_id, "oauth_id": oauth_id}),
    );
    // A refresh failed: the run stays on screen with a note, which goes at the next good answer.
    let during = &r["during_failure"];
    assert!(text(&during["heading"]).contains(&run_id), "{r:#}");
    assert!(
        text(&during["note"]).contains("The last refresh failed (Service Unavailable)"),
        "{r:#}"
    );
    assert_eq!(during["full_page_problem"], 0, "{r:#}");
    assert_eq!(r["after_recovery"], "succeeded", "{r:#}");
    // The first fetch failed: the page says so, then shows the run.
    assert!(
        text(&r["first_failed"]).contains("This run could not be loaded"),
        "{r:#}"
    );
    assert!(text(&r["first_failed_then"]).contains(&run_id), "{r:#}");
    assert_eq!(r["first_failed_problem_left"], 0, "{r:#}");
    // The connections: the list stays, with the note, until the next good answer.
    let oauth = &r["oauth_during_failure"];
    assert!(
        text(&oauth["note"]).contains("The last refresh failed"),
        "{r:#}"
    );
    assert_eq!(oauth["empty_shown"], 1, "{r:#}");
    assert_eq!(r["oauth_alerts_after"], 0, "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn runs_list_is_of_one_workflow_and_one_status_filter() {
    let dev = dev();
    let a = create_deployed(dev, &endpoint_example());
    let a_runs: Vec<String> = (0..2)
        .map(|i| send_lead(dev, &a, &format!("a{i}@example.com")))
        .collect();
    for run in &a_runs {
        wait_run(dev, run, 60);
    }
    // B's runs are newer than A's, and more than one page.
    let b = create_deployed(dev, &endpoint_example());
    let b_runs: Vec<String> = (0..21)
        .map(|i| send_lead(dev, &b, &format!("b{i}@example.com")))
        .collect();
    let r = browser(
        "dashboard_runs_switch.mjs",
        json!({"a": a, "b": b, "b_newest": b_runs.last()}),
    );
    // The answer for "all" that arrived after the switch to "failed" was not shown.
    assert_eq!(r["rows_while_failed"], json!([]), "{r:#}");
    assert_eq!(r["failed_empty_text"], "No failed runs.", "{r:#}");
    let mut shown_a = strings(&r["a_rows"]);
    shown_a.sort();
    let mut want_a = a_runs.clone();
    want_a.sort();
    assert_eq!(shown_a, want_a, "{r:#}");
    // B's runs page has B's newest 20 runs, none of A's.
    let shown_b = strings(&r["b_rows"]);
    let want_b: Vec<String> = b_runs.iter().rev().take(20).cloned().collect();
    assert_eq!(shown_b, want_b, "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn delete_asks_first_and_the_question_can_be_taken_back() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_delete_confirm.mjs", json!({"id": id}));
    let buttons = |k: &str| r[k]["buttons"].clone();
    assert_eq!(
        buttons("asking"),
        json!([
            "Save",
            "Deploy",
            "Undeploy (disabled)",
            "Really delete?",
            "Cancel"
        ]),
        "{r:#}"
    );
    // Not deployed: what goes with it.
    let warning = "Its runs, connections and test requests go with it.";
    assert_eq!(r["warning"], warning, "{r:#}");
    assert_eq!(r["described"], warning, "{r:#}");
    let calm = json!(["Save", "Deploy", "Undeploy (disabled)", "Delete"]);
    assert_eq!(buttons("after_cancel"), calm, "{r:#}");
    assert_eq!(buttons("after_click_elsewhere"), calm, "{r:#}");
    assert_eq!(buttons("after_waiting"), calm, "{r:#}");
    assert_eq!(r["errors_after_leaving"], json!([]), "{r:#}");
    // The second click on "Really delete?" deleted it.
    assert_eq!(r["landed_on"], "#/", "{r:#}");
    let gone = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(gone.status, 404, "{}", gone.text);
    assert_eq!(r["csp_violations"], json!([]));
}

/// The empty shelf's example request is one the draft's schema accepts: run as shown, it is
/// captured; sent to the production URL once deployed, it starts a run.
#[test]
fn the_example_request_meets_the_drafts_schema() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint_example());
    let r = browser("dashboard_example_curl.mjs", json!({"id": id}));
    let example = text(&r["example_curl"]).to_string();
    let test_url = dev.url(&format!("/hooks/{id}/test"));
    assert!(
        example.contains(&format!("'{test_url}?source=website'")),
        "{example}"
    );
    let run = |command: &str| {
        let out = Command::new("sh")
            .args(["-c", &format!("{command} -s -w '\\n%{{http_code}}'")])
            .output()
            .expect("run curl");
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = out.rsplit_once('\n').expect("status line");
        (status.to_string(), body.to_string())
    };
    let (status, body) = run(&example);
    assert_eq!(status, "200", "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["captured"],
        true,
        "{body}"
    );
    let (status, body) = run(&example.replacen("/test?", "?", 1));
    assert_eq!(status, "202", "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    let done = wait_run(dev, text(&reply["run_id"]), 60);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["input"]["request"]["body"],
        json!({"email": "example", "address": {"city": "example"}}),
        "{done}"
    );
    assert_eq!(r["csp_violations"], json!([]));
}

/// A deployed schedule's next run is shown on the wall clock of its zone, not in UTC.
#[test]
fn the_next_run_is_shown_in_the_schedules_zone() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &daily_schedule("Berlin next run", "12:30", "Europe/Berlin"),
    );
    let r = browser("dashboard_next_run.mjs", json!({"id": id}));
    let shown = text(&r["next_run_local"]);
    assert!(shown.ends_with(" 12:30:00 Europe/Berlin)"), "{r:#}");
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    let next = text(&wf["next_run_at"]);
    // 12:30 in Berlin is 11:30 UTC in winter, 10:30 in summer: the same date.
    assert!(
        next.ends_with("T11:30:00.000Z") || next.ends_with("T10:30:00.000Z"),
        "{wf}"
    );
    assert!(shown.starts_with(&format!(" ({}", &next[..10])), "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn test_shelf_fills_live_and_detected_schema_is_applied() {
    let dev = dev();
    let mut def = endpoint_example();
    def["name"] = json!("Shelf");
    def["trigger"]["request"] = json!({});
    def["trigger"]["verify"] = json!({"scheme": "github", "secret_env": GITHUB_SECRET_ENV});
    let id = create(dev, &def);
    let r = browser(
        "dashboard_shelf.mjs",
        json!({"id": id, "github_secret": GITHUB_SECRET}),
    );
    // The empty shelf's example request uses the draft's method (POST here).
    assert_eq!(
        text(&r["example_curl"]),
        format!(
            "curl -X POST '{}' -H 'content-type: application/json' -d '{{\"hello\":\"world\"}}'",
            dev.url(&format!("/hooks/{id}/test"))
        ),
        "{r:#}"
    );
    assert_eq!(
        text(&r["test_url_shown"]),
        dev.url(&format!("/hooks/{id}/test"))
    );
    assert_eq!(r["clipboard"], r["test_url_shown"]);
    let shelf = text(&r["shelf_text"]);
    assert!(shelf.contains("POST"), "{shelf}");
    assert!(shelf.contains("ada@example.com"), "{shelf}");
    // The failing one's body, not parsed, is shown as the bytes kept.
    let sent = json!({"email": "ada@example.com", "age": 36, "tags": ["a"]}).to_string();
    assert_eq!(
        text(&r["raw_summary"]),
        format!("Raw body ({} bytes)", sent.len()),
        "{r:#}"
    );
    assert_eq!(text(&r["raw_text"]), sent, "{r:#}");
    // Newest first: the right secret passes, the wrong one is reported as failing.
    assert_eq!(r["signatures"], json!(["valid", "invalid"]), "{r:#}");
    assert!(
        text(&r["signature_texts"][0]).contains("would pass"),
        "{r:#}"
    );
    assert!(
        text(&r["signature_texts"][1]).contains("would fail"),
        "{r:#}"
    );
    assert!(text(&r["proposal_text"]).contains("age"), "{r:#}");
    assert!(text(&r["editor_text"]).contains("\"age\""), "{r:#}");
    // The draft now holds the schema.
    let draft = api(dev, "GET", &format!("/api/workflows/{id}"), None).json()["draft"].clone();
    let request = &draft["trigger"]["request"];
    let names = |part: &str| -> Vec<String> {
        request[part]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(names("body").contains(&"email".to_string()), "{draft}");
    assert!(names("body").contains(&"age".to_string()), "{draft}");
    assert!(names("query").contains(&"source".to_string()), "{draft}");
    assert_eq!(draft["trigger"]["verify"]["scheme"], "github", "{draft}");
    // With unsaved edits, Apply put the newer request's schema into the editor beside them and
    // stored nothing; the save then stored both.
    assert!(
        text(&r["dirty_apply_editor"]).contains("Shelf, renamed"),
        "{r:#}"
    );
    assert!(
        text(&r["dirty_apply_note"]).contains("Unsaved changes"),
        "{r:#}"
    );
    assert!(
        text(&r["dirty_proposal_note"]).contains("beside your unsaved changes"),
        "{r:#}"
    );
    assert_eq!(r["applied_draft"]["name"], "Shelf", "{r:#}");
    assert_eq!(r["dirty_apply_stored"], r["applied_draft"], "{r:#}");
    let saved = &r["saved_draft"];
    assert_eq!(saved["name"], "Shelf, renamed", "{saved}");
    let body: Vec<&str> = saved["trigger"]["request"]["body"]
        .as_array()
        .expect("body fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(body.contains(&"plan") && body.contains(&"email"), "{saved}");
    assert_eq!(saved["trigger"]["verify"]["scheme"], "github", "{saved}");
    assert_eq!(
        text(&r["query_error_text"]),
        "Query: query.n is not valid UTF-8 once percent-decoded",
        "{r:#}"
    );
    // Apply over a draft saved elsewhere: refused, that draft kept as saved and shown; applied
    // again, the schema is in it.
    let elsewhere = &r["elsewhere"];
    assert_eq!(
        elsewhere["stored"]["name"], "Shelf, saved elsewhere",
        "{r:#}"
    );
    assert_eq!(
        elsewhere["stored"]["trigger"]["request"],
        json!({}),
        "{r:#}"
    );
    assert_eq!(elsewhere["editor_shows_theirs"], true, "{r:#}");
    let then = &elsewhere["then_stored"];
    assert_eq!(then["name"], "Shelf, saved elsewhere", "{r:#}");
    assert!(then["trigger"]["request"]["body"].is_array(), "{r:#}");
    // Typed while an Apply was under way and refused: the draft saved elsewhere is shown, and
    // the typed text comes back when asked.
    assert_eq!(
        r["typed_during_apply"],
        json!({"editor_shows_theirs": true, "restored": true}),
        "{r:#}"
    );
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn test_shelf_is_fetched_less_often_while_it_does_not_change() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_shelf_backoff.mjs", json!({"id": id}));
    // 14 s of an unchanged shelf: after 1.5, 3 and 6 s, not every 1.5 s.
    let idle = r["fetches_idle"].as_u64().expect("count");
    assert!((3..=5).contains(&idle), "{r:#}");
    // A new request appears by itself, within the longest wait (12 s).
    assert!(
        r["appeared_after_ms"].as_u64().expect("ms") < 14_000,
        "{r:#}"
    );
    // Then the wait starts over at 1.5 s.
    let next = r["next_fetch_after_change_ms"]
        .as_u64()
        .expect("a fetch after the change");
    assert!(next <= 2_500, "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn schedule_preview_marks_the_dst_shift() {
    let dev = dev();
    let id = create(
        dev,
        &daily_schedule("Berlin nightly", "02:30", "Europe/Berlin"),
    );
    let r = browser(
        "dashboard_schedule.mjs",
        json!({"id": id, "from": "2027-03-25", "count": 5}),
    );
    assert!(text(&r["caption"]).contains("Europe/Berlin"), "{r:#}");
    assert_eq!(r["fromLabel"], "From (date, in Europe/Berlin)", "{r:#}");
    let rows = r["rows"].as_array().expect("rows");
    let at: Vec<&str> = rows.iter().map(|x| text(&x["at"])).collect();
    assert_eq!(
        at,
        [
            "2027-03-25T02:30:00+01:00",
            "2027-03-26T02:30:00+01:00",
            "2027-03-27T02:30:00+01:00",
            "2027-03-28T03:00:00+02:00",
            "2027-03-29T02:30:00+02:00"
        ],
        "{r:#}"
    );
    let shifted: Vec<&str> = rows
        .iter()
        .filter(|x| x["dst"] == "shifted")
        .map(|x| text(&x["utc"]))
        .collect();
    assert_eq!(shifted, ["2027-03-28T01:00:00Z"], "{r:#}");
    assert_eq!(rows[3]["mark"], "DST shift");
    assert_eq!(rows[2]["mark"], "");
    assert_eq!(r["csp_violations"], json!([]));

    // "From" a date: a fire at 00:00 UTC that day is the first listed.
    let midnight = create(dev, &daily_schedule("UTC midnight", "00:00", "UTC"));
    let r = browser(
        "dashboard_schedule.mjs",
        json!({"id": midnight, "from": "2027-03-28", "count": 2, "shot": false}),
    );
    let utc: Vec<&str> = r["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|x| text(&x["utc"]))
        .collect();
    assert_eq!(
        utc,
        ["2027-03-28T00:00:00Z", "2027-03-29T00:00:00Z"],
        "{r:#}"
    );

    // The date is a day in the schedule's zone: from 28 March in New York (04:00 UTC), the fire
    // at 21:00 on 27 March there (01:00 UTC on the 28th) is not listed.
    let evening = create(
        dev,
        &daily_schedule("New York evening", "21:00", "America/New_York"),
    );
    let r = browser(
        "dashboard_schedule.mjs",
        json!({"id": evening, "from": "2027-03-28", "count": 2, "shot": false}),
    );
    assert_eq!(r["fromLabel"], "From (date, in America/New_York)", "{r:#}");
    let at: Vec<&str> = r["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|x| text(&x["at"]))
        .collect();
    assert_eq!(
        at,
        ["2027-03-28T21:00:00-04:00", "2027-03-29T21:00:00-04:00"],
        "{r:#}"
    );
}

/// A deployed schedule whose draft was saved as an endpoint still shows its schedule (what
/// runs), and the draft's endpoint panel with its test URL beside it.
#[test]
fn a_deployed_schedule_with_an_endpoint_draft_shows_both_panels() {
    let dev = dev();
    let id = create_deployed(
        dev,
        &json!({
            "name": "Hourly, soon a hook",
            "trigger": {"type": "schedule", "schedule": {"kind": "hourly", "minute": 5}},
            "steps": [{"type": "log", "name": "n", "message": "x"}]
        }),
    );
    let r = api(
        dev,
        "PUT",
        &format!("/api/workflows/{id}"),
        Some(
            &json!({"name": "Hourly, soon a hook", "trigger": {"type": "endpoint"},
                     "steps": [{"type": "log", "name": "n", "message": "x"}]}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = browser("dashboard_live_kind.mjs", json!({ "id": id }));
    let head = text(&r["head"]);
    assert!(head.contains("schedule (draft: endpoint)"), "{r:#}");
    assert_eq!(r["preview"], 1, "{r:#}");
    assert_eq!(r["test_url"], 1, "{r:#}");
    assert_eq!(r["production_url"], 0, "{r:#}");
    assert!(
        text(&r["note"]).contains("answers once this draft is deployed"),
        "{r:#}"
    );
    assert_eq!(r["csp_violations"], json!([]));
}

/// A JSON feed for the poll trigger: `{"data": [{"id": 1}, {"id": 2}]}`.
fn feed_server() -> String {
    let server = Server::bind();
    let base = server.base();
    server.serve(|_| {
        Reply::json(
            200,
            json!({"data": [{"id": 1, "email": "a@example.com"}, {"id": 2, "email": "b@example.com"}]}),
        )
    });
    format!("{base}/feed")
}

#[test]
fn poll_reset_and_oauth_connection_delete() {
    let dev = dev();
    let poll_id = create_deployed(
        dev,
        &json!({
            "name": "Feed",
            "trigger": {"type": "poll", "interval_seconds": 3600, "start": "now",
                        "source": {"kind": "http", "url": feed_server(), "items": "/data", "id": "/id"}},
            "steps": [{"type": "log", "name": "seen", "message": "item {{event.record.id}}"}]
        }),
    );
    let provider = Provider::start(&dev.base, 3600);
    let mut trigger = provider.trigger(OAUTH_SECRET_ENV, &["read"]);
    trigger["pkce"] = json!(true);
    let oauth_id = create_deployed(
        dev,
        &json!({"name": "Connect", "trigger": trigger,
                "steps": [{"type": "log", "name": "hello", "message": "connected {{oauth.user_id}}"}]}),
    );
    // A real sign-in in Chromium makes the connection.
    let user = "dash-user";
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("node")
        .arg(root().join("tests/e2e/browser/oauth_signin.mjs"))
        .arg(dev.url(&signin_path(&oauth_id, user)))
        .arg(format!("{}/app/done", provider.base))
        .args(["carol", PASSWORD])
        .current_dir(root())
        .output()
        .expect("run node");
    drop(_one);
    assert!(
        out.status.success(),
        "sign-in failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let conns = api(
        dev,
        "GET",
        &format!("/api/workflows/{oauth_id}/connections"),
        None,
    )
    .json();
    assert_eq!(conns["connections"][0]["user_id"], user, "{conns}");

    let r = browser(
        "dashboard_poll_oauth.mjs",
        json!({"poll_id": poll_id, "oauth_id": oauth_id, "user": user}),
    );
    let result = text(&r["reset_result"]);
    assert!(result.contains("start: beginning"), "{result}");
    // Started with `now`, the two records were only remembered; from the beginning, each
    // gets its run.
    assert!(
        text(&r["cursor_before"]).contains("\"remembered_ids\":2"),
        "{r:#}"
    );
    eventually(60, "two runs after the reset", || {
        runs(dev, &poll_id).len() == 2
    });
    // Undeployed, the poll polls no more: the API has no next poll, and the dashboard says so.
    let before = api(dev, "GET", &format!("/api/workflows/{poll_id}"), None).json();
    assert!(before["poll"]["next_poll_at"].is_string(), "{before}");
    let undeployed = api(
        dev,
        "POST",
        &format!("/api/workflows/{poll_id}/undeploy"),
        None,
    );
    assert_eq!(undeployed.status, 200, "{}", undeployed.text);
    let after = api(dev, "GET", &format!("/api/workflows/{poll_id}"), None).json();
    assert_eq!(after["poll"]["next_poll_at"], Value::Null, "{after}");
    assert_eq!(after["poll"]["runs_created"], 2, "{after}");
    let u = browser(
        "dashboard_poll_undeployed.mjs",
        json!({ "poll_id": poll_id }),
    );
    assert_eq!(text(&u["next_poll"]), "none (not deployed)", "{u:#}");
    assert_eq!(text(&u["backoff"]), "none", "{u:#}");
    assert_eq!(text(&u["list_health"]), "not deployed (2 runs)", "{u:#}");
    assert_eq!(u["csp_violations"], json!([]));
    assert!(text(&r["connection_text"]).contains(user), "{r:#}");
    assert_eq!(
        text(&r["signin_url"]),
        dev.url(&format!("/oauth/{oauth_id}/signin"))
    );
    assert_eq!(
        text(&r["redirect_url"]),
        dev.url(&format!("/oauth/{oauth_id}/callback"))
    );
    assert_eq!(r["after_delete"], "No connections yet.");
    // Delete asked first; pressed again while under way, it sent one DELETE, and no problem
    // showed; the focus went to the Connections heading.
    assert_eq!(r["deleted_after_first_press"], 0, "{r:#}");
    assert_eq!(r["disabled_in_flight"], true, "{r:#}");
    assert_eq!(r["delete_requests"], 1, "{r:#}");
    assert_eq!(r["alerts_after_delete"], 0, "{r:#}");
    assert_eq!(r["focus_after_delete"], "connections-h", "{r:#}");
    let conns = api(
        dev,
        "GET",
        &format!("/api/workflows/{oauth_id}/connections"),
        None,
    )
    .json();
    assert_eq!(conns["connections"], json!([]), "{conns}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn oauth_panel_creates_a_one_time_signin_link_that_works() {
    let dev = dev();
    let provider = Provider::start(&dev.base, 3600);
    let def = json!({"name": "Link", "trigger": provider.trigger(OAUTH_SECRET_ENV, &["read"]),
                     "steps": [{"type": "log", "name": "hello", "message": "connected {{oauth.user_id}}"}]});
    let oauth_id = create_deployed(dev, &def);
    let undeployed_id = create(dev, &def);
    let r = browser(
        "dashboard_signin_link.mjs",
        json!({"oauth_id": oauth_id, "undeployed_id": undeployed_id, "user": "link-user"}),
    );
    // Not deployed: the API's 409 is shown, and no link.
    assert!(
        text(&r["undeployed_problem"]).contains("is not deployed"),
        "{r:#}"
    );
    assert_eq!(r["undeployed_links"], 0, "{r:#}");
    // The link is on the workflow's Sign-in URL, one-time (`?link=`), and Copy copies it.
    let link = text(&r["link"]);
    let prefix = dev.url(&format!("/oauth/{oauth_id}/signin?link="));
    assert!(
        link.starts_with(&prefix) && link.len() > prefix.len(),
        "{r:#}"
    );
    assert_eq!(r["copied"], r["link"], "{r:#}");
    assert!(text(&r["note"]).contains("link-user"), "{r:#}");
    assert!(text(&r["note"]).contains("works once"), "{r:#}");
    assert_eq!(r["problems"], 0, "{r:#}");
    // It works: its first use sends the browser on to the provider.
    let used = send("GET", link, &[], None);
    assert!(matches!(used.status, 302 | 303), "{}", used.text);
    let to = used.header("location").expect("location");
    assert!(
        to.starts_with(&format!("{}/authorize?", provider.base)),
        "{to}"
    );
    assert_eq!(r["csp_violations"], json!([]));
}

/// A whole sign-in over HTTP, as a browser makes it: the signed Sign-in link, the provider's
/// form, the callback; the connection of `user` is stored.
fn connect_over_http(dev: &Dev, provider: &Provider, wf: &str, user: &str) {
    let r = send("GET", &dev.url(&signin_path(wf, user)), &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
    let authorize = r.header("location").expect("location").to_string();
    let mut form = oauth2::url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in oauth2::url::Url::parse(&authorize)
        .expect("authorize URL")
        .query_pairs()
    {
        form.append_pair(&k, &v);
    }
    form.append_pair("username", user)
        .append_pair("password", PASSWORD)
        .append_pair("decision", "allow");
    let body = form.finish();
    let r = send(
        "POST",
        &format!("{}/authorize", provider.base),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 302, "{}", r.text);
    let r = send("GET", r.header("location").expect("callback"), &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
}

#[test]
fn oauth_connections_page_with_load_more() {
    let dev = dev();
    let provider = Provider::start(&dev.base, 3600);
    let id = create_deployed(
        dev,
        &json!({"name": "Many connections", "trigger": provider.trigger(OAUTH_SECRET_ENV, &["read"]),
                "steps": [{"type": "log", "name": "hello", "message": "connected {{oauth.user_id}}"}]}),
    );
    let users: Vec<String> = (0..53).map(|i| format!("user-{i:02}")).collect();
    for user in &users {
        connect_over_http(dev, &provider, &id, user);
    }
    let r = browser("dashboard_connections_paging.mjs", json!({"id": id}));
    // Listed by user id: the first 50, then the rest, kept through the next refresh.
    assert_eq!(strings(&r["first_page"]), users[..50], "{r:#}");
    assert_eq!(strings(&r["after_more"]), users, "{r:#}");
    assert_eq!(strings(&r["after_refresh"]), users, "{r:#}");
    assert_eq!(r["more_button_after_refresh"], 0, "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn a_connection_delete_stays_with_its_connection_through_refreshes() {
    let dev = dev();
    let provider = Provider::start(&dev.base, 3600);
    let id = create_deployed(
        dev,
        &json!({"name": "Refreshed connections", "trigger": provider.trigger(OAUTH_SECRET_ENV, &["read"]),
                "steps": [{"type": "log", "name": "hello", "message": "connected {{oauth.user_id}}"}]}),
    );
    for user in ["ann", "cat", "dan"] {
        connect_over_http(dev, &provider, &id, user);
    }
    // "bob" comes in with a refresh while Delete of "cat" asks.
    let r = browser(
        "dashboard_connections_refresh.mjs",
        json!({"id": id, "added": "bob"}),
    );
    assert_eq!(strings(&r["before"]), ["ann", "cat", "dan"], "{r:#}");
    assert_eq!(
        strings(&r["with_added"]),
        ["ann", "bob", "cat", "dan"],
        "{r:#}"
    );
    // A connection whose refreshes fail shows the error, how many failed in a row and when the
    // next try comes, and that its access token expired.
    let added = text(&r["added_text"]);
    assert!(
        added.contains("last refresh failed: the token endpoint failed (HTTP 500)")
            && added.contains("(3 in a row; next try ")
            && added.contains("access token expired"),
        "{r:#}"
    );
    let healthy = text(&r["healthy_text"]);
    assert!(
        !healthy.contains("refresh failed") && !healthy.contains("expired"),
        "{r:#}"
    );
    // The question stayed on "cat", and confirming it deleted "cat".
    assert_eq!(strings(&r["asking"]), ["cat"], "{r:#}");
    assert_eq!(strings(&r["first_deletes"]), ["cat"], "{r:#}");
    assert_eq!(
        strings(&r["after_first_delete"]),
        ["ann", "bob", "dan"],
        "{r:#}"
    );
    // The user typed in the editor while "ann" was being deleted: the focus stayed there, and
    // no other Delete was pressed.
    assert_eq!(r["focus_in_editor"], true, "{r:#}");
    assert_eq!(strings(&r["deletes"]), ["cat", "ann"], "{r:#}");
    assert_eq!(strings(&r["after_second_delete"]), ["bob", "dan"], "{r:#}");
    let conns = api(
        dev,
        "GET",
        &format!("/api/workflows/{id}/connections"),
        None,
    )
    .json();
    let left: Vec<&str> = conns["connections"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| text(&c["user_id"]))
        .collect();
    assert_eq!(left, ["dan"], "{conns}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn direction_controls_in_data_are_shown_written_out() {
    let dev = dev();
    let mut def = endpoint_example();
    def["name"] = json!("Pay \u{202e}exe.sllabddo\u{202c} ok");
    let id = create_deployed(dev, &def);
    let reply = send(
        "POST",
        &dev.url(&format!("/hooks/{id}?source=website")),
        &[("content-type", "application/json")],
        Some("{\"email\": \"a@b.c\", \"note\": \"x \u{202e}evil\u{202c} y\"}".as_bytes()),
    );
    assert_eq!(reply.status, 202, "{}", reply.text);
    let run = wait_run(dev, text(&reply.json()["run_id"]), 60);
    assert_eq!(
        run["input"]["request"]["body"]["note"],
        "x \u{202e}evil\u{202c} y"
    );
    let r = browser(
        "dashboard_direction.mjs",
        json!({"id": id, "run": run["id"]}),
    );
    let shown = "Pay \\u202eexe.sllabddo\\u202c ok";
    assert_eq!(r["list_name"], shown, "{r:#}");
    assert_eq!(r["title_name"], shown, "{r:#}");
    assert!(text(&r["document_title"]).starts_with(shown), "{r:#}");
    assert_eq!(r["editor_marks"], 2, "{r:#}");
    assert!(
        text(&r["run_input"]).contains("x \\u202eevil\\u202c y"),
        "{r:#}"
    );
    assert_eq!(r["page_text_has_controls"], false, "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn hostile_workflow_name_is_shown_as_text_and_no_script_runs() {
    let dev = dev();
    let mut def = endpoint_example();
    def["name"] = json!(HOSTILE);
    let id = create(dev, &def);
    // Beside it, a deployed endpoint with a finished run and a deployed hourly schedule.
    let with_run = create_deployed(dev, &endpoint_example());
    let reply = send(
        "POST",
        &dev.url(&format!("/hooks/{with_run}?source=website")),
        &[("content-type", "application/json")],
        Some(br#"{"email": "listed@example.com"}"#),
    );
    assert_eq!(reply.status, 202, "{}", reply.text);
    let run = wait_run(dev, text(&reply.json()["run_id"]), 60);
    let schedule = create_deployed(
        dev,
        &json!({"name": "Hourly", "trigger": {"type": "schedule",
                "schedule": {"kind": "minutes", "every": 60}, "timezone": "UTC"},
                "steps": [{"type": "log", "name": "n", "message": "x"}]}),
    );
    let r = browser(
        "dashboard_hostile.mjs",
        json!({"id": id, "with_run": with_run, "schedule": schedule}),
    );
    // The list: last run status and time, next fire, the text filter.
    let last = text(&r["with_run_last_run"]);
    assert!(last.contains("succeeded"), "{last}");
    assert_eq!(r["with_run_last_run_at"], run["created_at"], "{r:#}");
    assert_eq!(r["hostile_last_run"], "never");
    let next = text(&r["schedule_next_fire"]);
    assert!(next.starts_with("in "), "{next}");
    // When that read fails, the cell says so in words.
    assert_eq!(
        r["schedule_next_fire_failed"],
        "Not loaded: Not configured (the store is not bound)"
    );
    assert_eq!(r["filtered_rows"], json!([id]));
    let succeeded = r["succeeded_rows"].as_array().expect("rows");
    assert!(succeeded.contains(&json!(with_run)), "{r:#}");
    assert!(
        !succeeded.contains(&json!(id)) && !succeeded.contains(&json!(schedule)),
        "{r:#}"
    );
    assert_eq!(r["list_name"], HOSTILE);
    assert_eq!(r["title_name"], HOSTILE);
    assert_eq!(r["img_elements"], 0);
    assert_eq!(r["unlabelled"], json!([]), "{r:#}");
    assert_eq!(r["pwned"], false);
    assert_eq!(r["inline_script_ran"], false);
    let csp = text(&r["csp"]);
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    // The only violation is the inline script this test tried to add.
    let violations: Vec<&str> = r["csp_violations"]
        .as_array()
        .expect("list")
        .iter()
        .map(text)
        .collect();
    assert_eq!(violations, ["script-src-elem inline"], "{r:#}");
    // 390 px wide: nothing wider than the screen; dark mode applied.
    assert_eq!(r["narrow_scroll_width"], 390, "{r:#}");
    assert_eq!(r["narrow_workflow_scroll_width"], 390, "{r:#}");
    assert_eq!(r["dark_background"], "rgb(13, 17, 23)");
}

#[test]
fn leaving_a_workflow_with_unsaved_edits_asks_first() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_unsaved_leave.mjs", json!({"id": id}));
    assert_eq!(r["unload_asks_while_dirty"], true, "{r:#}");
    // "Runs" was held: the bar asked, with the focus on it, and the route stayed.
    let bar = text(&r["bar_text"]);
    assert!(
        bar.contains("Unsaved changes") && bar.contains("Discard") && bar.contains("Stay"),
        "{r:#}"
    );
    assert_eq!(r["bar_has_focus"], true, "{r:#}");
    let here = format!("#/w/{id}");
    assert_eq!(r["hash_while_asking"], here, "{r:#}");
    assert_eq!(r["hash_after_stay"], here, "{r:#}");
    assert_eq!(r["edit_kept_after_stay"], true, "{r:#}");
    // After Stay, Back still leaves the page (it asks, and Stay keeps it).
    assert_eq!(r["back_after_stay_asks"], true, "{r:#}");
    assert_eq!(r["hash_after_back_stay"], here, "{r:#}");
    // Sign out asked the same way; Stay kept the session and the edit.
    assert_eq!(r["signed_in_after_stay"], true, "{r:#}");
    assert_eq!(r["edit_kept_after_signout_stay"], true, "{r:#}");
    // Discard went on; nothing was stored, and nothing asks any more.
    assert_eq!(r["hash_after_discard"], format!("#/w/{id}/runs"), "{r:#}");
    assert_eq!(r["unload_asks_after_discard"], false, "{r:#}");
    assert_eq!(r["stored_name"], "Lead created", "{r:#}");
    assert_eq!(r["edit_after_return"], false, "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn back_with_unsaved_edits_asks_and_stay_keeps_the_history() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_unsaved_back.mjs", json!({"id": id}));
    // Back asked; Stay kept the workflow, and the next Back asked again (it did not leave the
    // dashboard); Discard went back to the list, and Forward to the workflow.
    assert_eq!(r["hash_after_stay"], format!("#/w/{id}"), "{r:#}");
    assert_eq!(r["asked_again"], true, "{r:#}");
    assert_eq!(r["back_on_list"], true, "{r:#}");
    assert_eq!(r["url_after_back"], r["list_url"], "{r:#}");
    assert_eq!(r["forward_to_workflow"], true, "{r:#}");
    assert_eq!(r["hash_after_forward"], format!("#/w/{id}"), "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn text_typed_during_a_save_stays_unsaved() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_save_race.mjs", json!({"id": id}));
    assert!(text(&r["note"]).contains("Unsaved changes"), "{r:#}");
    assert_eq!(r["save_button"], "Save draft", "{r:#}");
    assert_eq!(r["editor_has_late_edit"], true, "{r:#}");
    // The draft is what was sent.
    assert_eq!(r["stored_name"], "Sent with the save", "{r:#}");
    // A refused save keeps the editor's text for "Restore my edit", the late edit with it.
    let refused = &r["refused"];
    assert_eq!(refused["editor_shows_theirs"], true, "{r:#}");
    assert_eq!(refused["restored_late_edit"], true, "{r:#}");
    assert_eq!(refused["stored_name"], "Saved in another tab", "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn a_write_done_whose_answer_or_reread_was_lost_says_so_and_makes_nothing_twice() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_lost_answers.mjs", json!({"id": id}));
    // A save answered "test URL not updated" was stored: the page counts it saved, and saving
    // again (as the answer asks) is no conflict with itself.
    let after_503 = &r["after_503"];
    assert_eq!(after_503["stored_name"], "Saved, copy not handed", "{r:#}");
    assert!(!text(&after_503["note"]).contains("Unsaved"), "{r:#}");
    assert_eq!(after_503["saved_again"], true, "{r:#}");
    assert_eq!(after_503["stale_notice"], 0, "{r:#}");
    // The deploy was done, its re-read failed: the page says both, not "not deployed".
    let deploy = &r["deploy"];
    assert!(deploy["failed_reads"].as_u64() >= Some(1), "{r:#}");
    assert!(
        text(&deploy["note"]).contains("Deployed version 1."),
        "{r:#}"
    );
    assert!(
        text(&deploy["problem"]).contains("Deployed, but the page could not be refreshed"),
        "{r:#}"
    );
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    assert_eq!(wf["deployed_version"], 1, "{wf}");
    // The replay's answer was lost after the server made it; pressed again, the same key
    // answered with the same run: one replay, and the page shows it.
    assert!(
        text(&r["replay_problem"]).contains("could not be reached"),
        "{r:#}"
    );
    let keys = r["replay_keys"].as_array().expect("replay_keys");
    assert_eq!(keys.len(), 2, "{r:#}");
    assert!(text(&keys[0]).starts_with("dashboard-"), "{r:#}");
    assert_eq!(keys[0], keys[1], "{r:#}");
    let answers = r["replay_answers"].as_array().expect("replay_answers");
    assert_eq!(answers[0]["status"], 202, "{r:#}");
    assert_eq!(answers[1]["status"], 202, "{r:#}");
    assert_eq!(answers[1]["replayed"], "true", "{r:#}");
    assert_eq!(answers[0]["run_id"], answers[1]["run_id"], "{r:#}");
    assert_eq!(r["replay_page"], answers[0]["run_id"], "{r:#}");
    let all = runs(dev, &id);
    assert_eq!(all.len(), 2, "the run and one replay: {all:?}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn a_save_deploy_or_delete_over_a_draft_saved_elsewhere_changes_nothing_and_says_so() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_saved_elsewhere.mjs", json!({"id": id}));
    let save = &r["save"];
    assert!(
        text(&save["notice"]).contains("changed since your unsaved edit"),
        "{r:#}"
    );
    assert_eq!(save["editor_shows_theirs"], true, "{r:#}");
    assert_eq!(save["stored_name"], "Saved in another tab", "{r:#}");
    assert_eq!(save["after_restore_stored"], "Mine from the page", "{r:#}");
    let deploy = &r["deploy"];
    assert!(
        text(&deploy["problem"]).contains("Not deployed: the draft was changed elsewhere"),
        "{r:#}"
    );
    assert_eq!(deploy["editor_shows_theirs"], true, "{r:#}");
    assert_eq!(deploy["status"], "draft", "{r:#}");
    assert_eq!(deploy["deployed_version"], Value::Null, "{r:#}");
    assert_eq!(deploy["then_status"], "deployed", "{r:#}");
    assert_eq!(deploy["then_name"], "Saved again elsewhere", "{r:#}");
    let dirty = &r["dirty_deploy"];
    assert!(
        text(&dirty["problem"]).contains("Not deployed: the draft was changed elsewhere"),
        "{r:#}"
    );
    assert_eq!(dirty["deployed_version"], 1, "{r:#}");
    assert_eq!(dirty["deployed_name"], "Saved again elsewhere", "{r:#}");
    let delete = &r["delete"];
    assert!(
        text(&delete["warning"]).starts_with("It is deployed: its triggers stop"),
        "{r:#}"
    );
    assert!(
        text(&delete["problem"]).contains("Not deleted: the workflow was changed elsewhere"),
        "{r:#}"
    );
    assert_eq!(delete["editor_shows_theirs"], true, "{r:#}");
    assert_eq!(delete["stored_name"], "Saved before the delete", "{r:#}");
    assert_eq!(delete["then_status"], 404, "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn unsaved_edits_come_back_after_signing_in_again() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_signed_out_edit.mjs", json!({"id": id}));
    assert!(
        text(&r["signed_out_message"]).contains("Signed out"),
        "{r:#}"
    );
    assert_eq!(r["hash"], format!("#/w/{id}"), "{r:#}");
    assert_eq!(r["editor_kept_edit"], true, "{r:#}");
    let note = text(&r["note"]);
    assert!(
        note.contains("restored") && note.contains("Unsaved changes"),
        "{r:#}"
    );
    assert_eq!(r["stored_name"], "Lead created", "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn unsaved_edits_over_a_draft_saved_elsewhere_are_restored_only_when_asked() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_unsaved_stale.mjs", json!({"id": id}));
    for pass in ["restore", "discard"] {
        let p = &r[pass];
        assert!(
            text(&p["notice"]).contains("changed since your unsaved edit"),
            "{r:#}"
        );
        assert_eq!(p["notice_role"], "alert", "{r:#}");
        assert_eq!(p["editor_shows_theirs"], true, "{r:#}");
        assert_eq!(p["editor_shows_mine"], false, "{r:#}");
        assert!(!text(&p["note"]).contains("Unsaved changes"), "{r:#}");
        assert_eq!(p["after_notice"].as_u64().unwrap_or(0), 0, "{r:#}");
    }
    let restore = &r["restore"];
    assert_eq!(restore["after_mine"], true, "{r:#}");
    assert_eq!(restore["after_theirs"], false, "{r:#}");
    assert!(
        text(&restore["after_note"]).contains("Unsaved changes"),
        "{r:#}"
    );
    assert_eq!(restore["stored_name"], "Saved elsewhere", "{r:#}");
    let discard = &r["discard"];
    assert_eq!(discard["after_mine"], false, "{r:#}");
    assert_eq!(discard["after_theirs"], true, "{r:#}");
    assert!(
        !text(&discard["after_note"]).contains("Unsaved changes"),
        "{r:#}"
    );
    assert_eq!(discard["kept_in_tab"], Value::Null, "{r:#}");
    assert_eq!(discard["notice_after_reload"], 0, "{r:#}");
    assert_eq!(discard["stored_name"], "Saved elsewhere again", "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn focus_stays_on_a_control_when_the_one_it_was_on_goes() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_focus.mjs", json!({"id": id}));
    assert_eq!(r["before_cancel"], "Cancel", "{r:#}");
    assert_eq!(r["after_cancel"], "Delete", "{r:#}");
    assert_eq!(r["after_escape"], "Delete", "{r:#}");
    assert_eq!(r["after_dismiss"], "Detect schema", "{r:#}");
    assert_eq!(r["after_apply"], "Detect schema", "{r:#}");
    assert_eq!(r["after_route_change"], "#main", "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn a_malformed_escape_in_the_route_shows_a_problem() {
    let r = browser("dashboard_bad_hash.mjs", json!({}));
    for k in ["after_hash_change", "after_reload"] {
        assert!(
            text(&r[k]).contains("This run could not be loaded"),
            "{r:#}"
        );
    }
    assert_eq!(
        text(&r["unknown_route"]),
        "No such pageNothing is at #/nonsense/route. See the workflows.",
        "{r:#}"
    );
    assert_eq!(r["unknown_route_title"], "No such page · Tripline", "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

/// A run or a workflow that is not there is read once, not every second; a workflow page whose
/// first read failed reads it again and shows it.
#[test]
fn what_is_gone_is_not_polled_and_a_failed_first_read_is_tried_again() {
    let dev = dev();
    let deleted = create_deployed(dev, &endpoint_example());
    let run_id = send_lead(dev, &deleted, "gone@example.com");
    let r = api(dev, "DELETE", &format!("/api/workflows/{deleted}"), None);
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        api(dev, "GET", &format!("/api/runs/{run_id}"), None).status,
        404
    );
    let mut def = endpoint_example();
    def["name"] = json!("Read again");
    let id = create(dev, &def);
    let r = browser(
        "dashboard_gone.mjs",
        json!({"run_id": run_id, "deleted": deleted, "id": id, "name": "Read again"}),
    );
    assert_eq!(r["run_reads"], 1, "{r:#}");
    assert_eq!(r["list_reads"], 1, "{r:#}");
    // The deleted workflow is said once (its runs' 404 says the same).
    let problems = strings(&r["list_problems"]);
    assert_eq!(problems.len(), 1, "{r:#}");
    assert!(
        problems[0].starts_with("The workflow could not be loaded"),
        "{r:#}"
    );
    assert_eq!(r["recovered_after"], 1, "{r:#}");
}

#[test]
fn a_failed_undeploy_shows_its_own_errors_only() {
    let dev = dev();
    let id = create_deployed(dev, &endpoint_example());
    let r = browser("dashboard_action_errors.mjs", json!({"id": id}));
    let saved = strings(&r["save_errors"]);
    assert!(
        saved.iter().any(|e| e.contains("steps[0].message")),
        "{r:#}"
    );
    let listed = strings(&r["undeploy_errors"]);
    assert_eq!(listed.len(), 1, "{r:#}");
    assert!(
        listed[0].contains("trigger") && listed[0].contains("the one error of the undeploy"),
        "{r:#}"
    );
    assert!(
        text(&r["undeploy_problem"]).contains("Answered by the test."),
        "{r:#}"
    );
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn a_late_answer_for_a_page_left_does_not_set_the_title() {
    let dev = dev();
    let mut def = endpoint_example();
    def["name"] = json!("Title A");
    let a = create(dev, &def);
    def["name"] = json!("Title B");
    let b = create(dev, &def);
    def["name"] = json!("Title B renamed");
    let b_renamed = serde_json::to_string_pretty(&def).expect("text");
    let r = browser(
        "dashboard_titles.mjs",
        json!({"a": a, "b": b, "b_name": "Title B", "b_renamed": b_renamed}),
    );
    assert_eq!(r["workflow_page_title"], "Title B · Tripline", "{r:#}");
    assert_eq!(r["list_title"], "Workflows · Tripline", "{r:#}");
    assert_eq!(r["renamed_title"], "Title B renamed · Tripline", "{r:#}");
    assert_eq!(r["focus_after_save"], "Save", "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn a_draft_keeps_its_large_numbers_through_a_save_and_a_key_written_twice_is_refused() {
    let dev = dev();
    // A Discord-style id: past 2^53, which JavaScript numbers hold exactly.
    const NUMBER: u64 = 1_234_567_890_123_456_789;
    let mut def = endpoint_example();
    def["trigger"]["request"]["body"]
        .as_array_mut()
        .expect("body fields")
        .push(json!({ "name": "guild_id", "type": "integer", "equals": NUMBER }));
    let id = create(dev, &def);
    def["name"] = json!("Lead renamed");
    let edited = serde_json::to_string_pretty(&def).expect("text");
    assert!(edited.contains(&NUMBER.to_string()));
    let r = browser(
        "dashboard_exact_numbers.mjs",
        json!({ "id": id, "number": NUMBER.to_string(), "edited": edited }),
    );
    assert_eq!(r["shown_number"], true, "{r:#}");
    let problem = text(&r["problem"]);
    assert!(problem.contains("writes a key twice"), "{r:#}");
    assert!(!text(&r["note"]).contains("Draft saved."), "{r:#}");
    let stored = api(dev, "GET", &format!("/api/workflows/{id}"), None);
    assert_eq!(stored.status, 200, "{}", stored.text);
    let draft = &stored.json()["draft"];
    assert_eq!(draft["name"], "Lead renamed", "{draft:#}");
    assert_eq!(
        draft["trigger"]["request"]["body"][2]["equals"].as_u64(),
        Some(NUMBER),
        "{draft:#}"
    );
}

/// A run's input, a step's output and a test request's body keep a number past 2^53 on the
/// page as stored (JSON.parse alone shows 1234567890123456789 as …800).
#[test]
fn a_run_and_a_test_request_show_their_large_numbers_as_stored() {
    let dev = dev();
    const NUMBER: &str = "1234567890123456789";
    let id = create_deployed(
        dev,
        &json!({"name": "Exact numbers", "trigger": {"type": "endpoint"},
                "steps": [{"type": "response", "name": "reply", "status": 200,
                           "json": {"echo": "{{request.body}}"}}]}),
    );
    let body = format!(r#"{{"guild_id": {NUMBER}}}"#);
    let r = send(
        "POST",
        &dev.url(&format!("/hooks/{id}")),
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains(NUMBER), "{}", r.text);
    let runs = api(dev, "GET", &format!("/api/workflows/{id}/runs"), None);
    let run_id = text(&runs.json()["runs"][0]["id"]).to_string();
    let run = wait_run(dev, &run_id, 30);
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let wf = api(dev, "GET", &format!("/api/workflows/{id}"), None).json();
    let test_url = text(&wf["urls"]["test"]).to_string();
    let r = send(
        "POST",
        &test_url,
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    assert!(r.status < 300, "{} {}", r.status, r.text);
    let r = browser(
        "dashboard_exact_run.mjs",
        json!({ "id": id, "run_id": run_id }),
    );
    let run_texts = strings(&r["run_texts"]);
    // The step's output (the reply echoing the body) and the run's input.
    let exact = run_texts.iter().filter(|t| t.contains(NUMBER)).count();
    assert!(exact >= 2, "{r:#}");
    assert!(
        !run_texts.iter().any(|t| t.contains("1234567890123456800")),
        "{r:#}"
    );
    let shelf_texts = strings(&r["shelf_texts"]);
    assert!(shelf_texts[0].contains(NUMBER), "{r:#}");
}

/// `r[key]["contrast"]`, failing when the scenario found no such element.
fn contrast(r: &Value, key: &str) -> f64 {
    r[key]["contrast"]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} not measured: {r:#}"))
}

#[test]
fn the_editor_in_dark_mode_draws_its_tooltips_and_gutter_dark_and_readable() {
    let dev = dev();
    let id = create(dev, &endpoint_example());
    let r = browser("dashboard_dark_editor.mjs", json!({ "id": id }));
    // WCAG AA for text: 4.5:1 against the background it is drawn on.
    for key in [
        "lint_tooltip",
        "line_number",
        "editor_text",
        "completion_selected",
        "completion_info",
        "completion_other",
    ] {
        assert!(contrast(&r, key) >= 4.5, "{key}: {r:#}");
    }
    // Dark backgrounds, like the page's: the tooltips and the gutter too.
    for key in [
        "lint_tooltip",
        "line_number",
        "completion_info",
        "completion_other",
    ] {
        let l = r[key]["background_luminance"].as_f64().expect("luminance");
        assert!(l < 0.1, "{key}: {r:#}");
    }
    assert!(
        strings(&r["completions"]).contains(&"shards".to_string()),
        "{r:#}"
    );
    // Selected text is readable on its selection, dark, and light once the page turned light.
    assert!(contrast(&r, "selection") >= 4.5, "{r:#}");
    assert!(
        r["selection"]["background_luminance"]
            .as_f64()
            .expect("luminance")
            < 0.1,
        "{r:#}"
    );
    assert!(
        r["selection_light"]["background_luminance"]
            .as_f64()
            .expect("luminance")
            > 0.5,
        "{r:#}"
    );
    // Light again, with the page open: a light gutter, still readable.
    let light = &r["line_number_light"];
    assert!(
        light["background_luminance"].as_f64().expect("luminance") > 0.8,
        "{r:#}"
    );
    assert!(contrast(&r, "line_number_light") >= 4.5, "{r:#}");
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn the_schema_check_marks_a_mistake_inside_a_trigger_or_a_step_where_it_is() {
    let dev = dev();
    let id = create(dev, &daily_schedule("Schema marks", "09:00", "UTC"));
    let r = browser("dashboard_schema_lint.mjs", json!({ "id": id }));
    // The mark on `line` whose text holds `text`, with a message holding each of `words`.
    let marked = |list: &str, line: &str, text_has: &str, words: &[&str]| {
        let want = r[format!("{list}_lines")][line].as_u64().expect("line");
        r[list].as_array().expect("marks").iter().any(|d| {
            d["line"].as_u64() == Some(want)
                && text(&d["text"]).contains(text_has)
                && strings(&d["messages"])
                    .iter()
                    .any(|m| words.iter().all(|w| m.contains(w)))
        })
    };
    // A misspelled field: at its name, named.
    assert!(
        marked(
            "misspelled",
            "timezon",
            "timezon",
            &["/trigger/timezon", "timezon"]
        ),
        "{r:#}"
    );
    assert!(
        marked(
            "misspelled",
            "mesage",
            "mesage",
            &["/steps/0/mesage", "mesage"]
        ),
        "{r:#}"
    );
    // An unknown type or kind: at it, with the ones there are.
    assert!(
        marked(
            "unknown",
            "sms",
            "sms",
            &["/steps/0/type", "sms", "http", "response", "log"]
        ),
        "{r:#}"
    );
    assert!(
        marked(
            "verify",
            "tolerence",
            "tolerence_seconds",
            &["/trigger/verify/tolerence_seconds"]
        ),
        "{r:#}"
    );
    assert!(
        marked(
            "scheme",
            "svix",
            "svix",
            &["/trigger/verify/scheme", "svix", "standard-webhooks"]
        ),
        "{r:#}"
    );
    assert!(
        marked(
            "unknown",
            "dayly",
            "dayly",
            &["/trigger/schedule/kind", "dayly", "daily"]
        ),
        "{r:#}"
    );
    // No mark is the whole trigger or step "matching no schema".
    for list in ["misspelled", "unknown"] {
        for d in r[list].as_array().expect("marks") {
            for m in strings(&d["messages"]) {
                assert!(!m.contains("oneof"), "{list}: {r:#}");
            }
        }
    }
    // Completion offers the fields of the trigger's and the step's own type.
    let trigger = strings(&r["trigger_completions"]);
    assert!(trigger.contains(&"timezone".to_string()), "{r:#}");
    for other in ["method", "authorize_url", "interval_seconds"] {
        assert!(!trigger.contains(&other.to_string()), "{other}: {r:#}");
    }
    let step = strings(&r["step_completions"]);
    assert!(step.contains(&"message".to_string()), "{r:#}");
    assert!(!step.contains(&"url".to_string()), "{r:#}");
    let types = strings(&r["type_completions"]);
    for kind in ["http", "log", "response"] {
        assert!(types.iter().any(|c| c.contains(kind)), "{kind}: {r:#}");
    }
    assert_eq!(r["csp_violations"], json!([]));
}

#[test]
fn a_run_page_shows_requests_cut_outputs_and_the_run_a_replay_replays() {
    let dev = dev();
    let server = Server::bind();
    let upstream = server.base();
    // More than a step output keeps (32 KiB): stored cut, with its start.
    let big = json!({"data": "x".repeat(40_000)});
    server.serve(move |req| {
        if req.url.starts_with("/big") {
            Reply::json(200, &big)
        } else {
            Reply::json(200, json!({"ok": true}))
        }
    });
    let id = create_deployed(
        dev,
        &json!({"name": "Run details", "trigger": {"type": "endpoint"},
        "steps": [
            {"type": "http", "name": "fetch_ok", "method": "GET",
             "url": format!("{upstream}/ok?from=dashboard"),
             "headers": {"x-test": "seen"}, "retries": 0},
            {"type": "http", "name": "fetch_big", "method": "GET",
             "url": format!("{upstream}/big"), "retries": 0}
        ]}),
    );
    let r = send("POST", &dev.url(&format!("/hooks/{id}")), &[], None);
    assert_eq!(r.status, 202, "{}", r.text);
    let original = text(&r.json()["run_id"]).to_string();
    let done = wait_run(dev, &original, 60);
    assert_eq!(done["status"], "succeeded", "{done}");
    let r = api(dev, "POST", &format!("/api/runs/{original}/replay"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    let replay = text(&r.json()["run_id"]).to_string();
    let done = wait_run(dev, &replay, 60);
    assert_eq!(done["status"], "succeeded", "{done}");
    let size = done["steps"][1]["output"]["size"]
        .as_u64()
        .expect("cut output");
    let r = browser(
        "dashboard_run_details.mjs",
        json!({"run": replay, "original": original}),
    );
    // A relative time moves on between refreshes.
    assert!(text(&r["created_first"]).contains("second"), "{r:#}");
    assert_ne!(r["created_first"], r["created_later"], "{r:#}");
    // What it replays, a link to it.
    assert_eq!(r["replay_of"], format!("Replay of {original}"), "{r:#}");
    assert_eq!(r["replay_of_href"], format!("#/runs/{original}"), "{r:#}");
    assert_eq!(r["opened"], format!("#/runs/{original}"), "{r:#}");
    // The request: method and URL on a line, headers folded.
    assert_eq!(
        r["ok_request_line"],
        format!("GET {upstream}/ok?from=dashboard"),
        "{r:#}"
    );
    assert_eq!(r["ok_request_folded"], true, "{r:#}");
    assert!(
        strings(&r["ok_request_texts"])
            .iter()
            .any(|t| t.contains("x-test") && t.contains("seen")),
        "{r:#}"
    );
    // Summaries name their step.
    let ok = strings(&r["ok_summaries"]);
    assert!(ok.contains(&"Output of fetch_ok".to_string()), "{r:#}");
    assert!(
        ok.contains(&"Headers and body sent by fetch_ok".to_string()),
        "{r:#}"
    );
    assert!(
        strings(&r["big_summaries"]).contains(&"Output of fetch_big".to_string()),
        "{r:#}"
    );
    // The cut output: its size and its start as text, not escaped JSON.
    assert_eq!(
        r["big_cut"],
        format!("Output cut to fit: {size} bytes; its start:"),
        "{r:#}"
    );
    let start = &strings(&r["big_texts"])[0];
    assert!(start.contains("xxxxxxxx"), "{r:#}");
    assert!(!start.contains("\\\""), "{r:#}");
    assert!(!start.contains("\"truncated\""), "{r:#}");
    // Every box of JSON: a region with a name.
    let boxes = r["boxes"].as_array().expect("boxes");
    assert!(boxes.len() >= 4, "{r:#}");
    for b in boxes {
        assert_eq!(b["role"], "region", "{r:#}");
        assert!(!text(&b["label"]).is_empty(), "{r:#}");
    }
    assert_eq!(r["csp_violations"], json!([]));
}
