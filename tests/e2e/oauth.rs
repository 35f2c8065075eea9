//! OAuth trigger, end to end: the real Worker under `wrangler dev` against a real OAuth 2.0
//! authorization server on loopback (tests/e2e/harness/oauth_provider.rs), driven over HTTP as a
//! browser would, and once by headless Chromium.

use std::collections::HashMap;
use std::process::Command;
use std::sync::OnceLock;

use crate::harness::oauth_provider::{
    Provider, RefreshTokens, TokenFailure, CLIENT_SECRET, PASSWORD, UNTYPED_ACCESS_TOKEN,
};
use crate::harness::*;
use oauth2::url::{form_urlencoded, Url};
use serde_json::{json, Value};
use tripline_core::kernel::crypto;

const SECRET_ENV: &str = "TEST_OAUTH_CLIENT_SECRET";

/// The Worker shared by the tests that only talk HTTP. Tests that read D1 directly
/// (`Dev::d1`, a second process on the same SQLite file) get their own instance and read it
/// only while the Worker is idle, so the two never contend for the database lock.
fn dev() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| {
        Dev::start(
            "oauth",
            &[(SECRET_ENV, CLIENT_SECRET), ("RUN_LEASE_SECONDS", "3")],
        )
    })
}

fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .expect("absolute URL")
        .query_pairs()
        .into_owned()
        .collect()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn definition(provider: &Provider, name: &str, trigger: Value, steps: Value) -> Value {
    let mut t = provider.trigger(SECRET_ENV, &["read", "profile"]);
    for (k, v) in trigger.as_object().expect("object") {
        if v.is_null() {
            t.as_object_mut().unwrap().remove(k);
        } else {
            t[k] = v.clone();
        }
    }
    json!({ "name": name, "trigger": t, "steps": steps })
}

fn log_steps() -> Value {
    json!([{ "type": "log", "name": "hello", "message": "connected {{oauth.user_id}}" }])
}

/// A signed Sign-in link for `user_id`: asserts the 302 and returns the provider URL.
fn signin(dev: &Dev, wf: &str, user_id: &str) -> String {
    let r = send("GET", &dev.url(&signin_path(wf, user_id)), &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.header("location").expect("location").to_string()
}

/// What a person does on the provider's page: loads it, fills it in, submits.
/// Returns where the provider sends the browser (the Worker's callback, normally).
fn provider_login(
    provider: &Provider,
    authorize_url: &str,
    username: &str,
    decision: &str,
) -> String {
    assert!(
        authorize_url.starts_with(&format!("{}/authorize?", provider.base)),
        "{authorize_url}"
    );
    let page = send("GET", authorize_url, &[], None);
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("<form"), "{}", page.text);
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query(authorize_url) {
        form.append_pair(&k, &v);
    }
    form.append_pair("username", username)
        .append_pair("password", PASSWORD)
        .append_pair("decision", decision);
    let body = form.finish();
    let r = send(
        "POST",
        &format!("{}/authorize", provider.base),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 302, "{}", r.text);
    r.header("location").expect("location").to_string()
}

/// A whole sign-in up to the provider's redirect back; returns the callback URL.
fn authorize(dev: &Dev, provider: &Provider, wf: &str, user_id: &str, username: &str) -> String {
    let to_provider = signin(dev, wf, user_id);
    let callback = provider_login(provider, &to_provider, username, "allow");
    assert!(
        callback.starts_with(&dev.url(&format!("/oauth/{wf}/callback?"))),
        "{callback}"
    );
    callback
}

fn connections(dev: &Dev, wf: &str) -> Vec<Value> {
    let r = api(
        dev,
        "GET",
        &format!("/api/workflows/{wf}/connections"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["connections"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A Cron pass once every connection's token is due: as if half its lifetime, at most the
/// 10-minute refresh window, had passed since it was stored. (Tokens expiring later than
/// 10 minutes from now are still not due.)
fn cron_pass(dev: &Dev) {
    dev.d1_write("UPDATE oauth_connections SET refresh_at = 0 WHERE refresh_at IS NOT NULL");
    dev.fire_cron();
}

/// A failed sign-in's answer: a 302 to the provider app's `failure_url`; its query.
fn failure_query(r: &Resp, provider: &Provider) -> HashMap<String, String> {
    assert_eq!(r.status, 302, "{}", r.text);
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with(&format!("{}/app/failed?", provider.base)),
        "{loc}"
    );
    query(loc)
}

fn d1_count(dev: &Dev, sql: &str) -> i64 {
    dev.d1(sql)[0]["n"].as_i64().expect("count")
}

fn key() -> crypto::SealKey {
    crypto::parse_key(Some(ENCRYPTION_KEY)).expect("test key")
}

/// Asserts a problem+json answer with `status` and an error located at `location`.
fn assert_problem(r: &Resp, status: u16, location: Option<&str>, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    if let Some(l) = location {
        assert_eq!(r.locations(), [l], "{}", r.text);
    }
    assert!(
        r.text.to_lowercase().contains(&needle.to_lowercase()),
        "wanted `{needle}` in {}",
        r.text
    );
}

fn own_dev(name: &str) -> Dev {
    Dev::start(
        name,
        &[(SECRET_ENV, CLIENT_SECRET), ("RUN_LEASE_SECONDS", "3")],
    )
}

#[test]
fn full_flow_over_http_stores_an_encrypted_connection_and_runs_once() {
    let dev = &own_dev("oauth-flow");
    let provider = Provider::start(&dev.base, 3600);
    let def = definition(
        &provider,
        "Connected",
        json!({}),
        json!([
            { "type": "log", "name": "hello",
              "message": "user={{oauth.user_id}} scopes={{oauth.scopes}} sub={{oauth.userinfo.sub}} expires={{oauth.expires_at}} token={{oauth.access_token}}" },
            { "type": "http", "name": "me", "method": "GET", "url": format!("{}/userinfo", provider.base),
              "headers": { "authorization": "Bearer {{oauth.access_token}}" }, "retries": 0 }
        ]),
    );
    let wf = create_deployed(dev, &def);
    let got = api(dev, "GET", &format!("/api/workflows/{wf}"), None).json();
    assert_eq!(
        got["urls"]["signin"],
        dev.url(&format!("/oauth/{wf}/signin"))
    );
    assert_eq!(
        got["urls"]["redirect"],
        dev.url(&format!("/oauth/{wf}/callback"))
    );

    // Sign-in URL → the provider, with state and an S256 challenge.
    let to_provider = signin(dev, &wf, "user 42@acme");
    let q = query(&to_provider);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], crate::harness::oauth_provider::CLIENT_ID);
    assert_eq!(q["redirect_uri"], dev.url(&format!("/oauth/{wf}/callback")));
    assert_eq!(q["scope"], "read profile");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() >= 22, "state must carry ≥ 128 bits");
    // The state is stored hashed, with the verifier encrypted.
    let pending = dev.d1(&format!(
        "SELECT * FROM oauth_states WHERE workflow_id = '{wf}'"
    ));
    assert_eq!(pending.len(), 1);
    assert_ne!(pending[0]["state_hash"], q["state"]);
    assert!(pending[0]["verifier"].as_str().unwrap().starts_with("v1."));
    assert_eq!(pending[0]["user_id"], "user 42@acme");

    // The provider's login page → back to the Redirect URL → success_url.
    let callback = provider_login(&provider, &to_provider, "alice", "allow");
    let cb = send("GET", &callback, &[], None);
    assert_eq!(cb.status, 302, "{}", cb.text);
    assert_eq!(
        cb.header("location"),
        Some(format!("{}/app/done", provider.base).as_str())
    );

    // PKCE: the provider saw an S256 challenge and the verifier matched it.
    let checks = provider.pkce_checks();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].method, "S256");
    assert_eq!(checks[0].challenge, q["code_challenge"]);
    assert!(checks[0].matched && checks[0].verifier.is_some());
    let token_requests = provider.token_requests();
    assert_eq!(token_requests.len(), 1);
    assert_eq!(token_requests[0].grant_type, "authorization_code");
    assert_eq!(token_requests[0].client_auth, "client_secret_basic");
    assert_eq!(token_requests[0].error, None);
    let issued = provider.issued_tokens();
    let (access, refresh) = (&issued[0], &issued[1]);
    // The run finishes before D1 is read directly (see `dev`).
    let runs_now = runs(dev, &wf);
    assert_eq!(runs_now.len(), 1);
    let run = wait_run(dev, runs_now[0]["id"].as_str().unwrap(), 60);

    // The connection: tokens only as AES-GCM envelopes that open with the key.
    assert_eq!(
        d1_count(
            dev,
            &format!("SELECT COUNT(*) AS n FROM oauth_states WHERE workflow_id = '{wf}'")
        ),
        0,
        "the state is consumed"
    );
    let rows = dev.d1(&format!(
        "SELECT * FROM oauth_connections WHERE workflow_id = '{wf}'"
    ));
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let row_text = row.to_string();
    for t in &issued {
        assert!(
            !row_text.contains(t.as_str()),
            "a token is readable in D1: {row_text}"
        );
    }
    let sealed_access = row["access_token"].as_str().unwrap();
    assert!(sealed_access.starts_with("v1."));
    assert_eq!(
        crypto::open(
            &key(),
            &format!("conn:access:{wf}:user 42@acme"),
            sealed_access
        )
        .unwrap(),
        *access
    );
    assert_eq!(
        crypto::open(
            &key(),
            &format!("conn:refresh:{wf}:user 42@acme"),
            row["refresh_token"].as_str().unwrap()
        )
        .unwrap(),
        *refresh
    );
    assert_eq!(row["status"], "active");

    // The API lists it without tokens.
    let listed = api(
        dev,
        "GET",
        &format!("/api/workflows/{wf}/connections"),
        None,
    );
    assert_eq!(listed.status, 200);
    for t in &issued {
        assert!(!listed.text.contains(t.as_str()));
    }
    assert!(!listed.text.contains("v1."));
    let c = &listed.json()["connections"][0];
    assert_eq!(c["user_id"], "user 42@acme");
    assert_eq!(c["status"], "active");
    assert_eq!(c["scopes"], json!(["read", "profile"]));
    assert_eq!(c["has_refresh_token"], true);
    assert_eq!(c["userinfo"]["sub"], "alice");
    // A credential in the provider's answer is hidden, as in the run's input.
    assert_eq!(c["userinfo"]["session_token"], "[redacted]");
    assert!(!listed.text.contains("st-alice-"), "{}", listed.text);
    assert_eq!(c["needs_reauth"], Value::Null);
    assert!(c["expires_at"].as_str().unwrap().ends_with('Z'));

    // One run, with the right variables; the token is redacted in the record but the
    // steps used the real one (the provider's userinfo accepted it).
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["trigger"], "oauth");
    let input = &run["input"]["oauth"];
    assert_eq!(input["user_id"], "user 42@acme");
    assert_eq!(input["access_token"], "[redacted]");
    assert_eq!(input["scopes"], json!(["read", "profile"]));
    assert_eq!(input["userinfo"]["email"], "alice@example.test");
    assert_eq!(input["userinfo"]["session_token"], "[redacted]");
    let message = run["steps"][0]["output"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("user=user 42@acme scopes=[\"read\",\"profile\"] sub=alice expires=20"),
        "{message}"
    );
    assert!(message.ends_with("token=[redacted]"), "{message}");
    assert_eq!(run["steps"][1]["status"], "succeeded", "{run}");
    assert_eq!(run["steps"][1]["output"]["status"], 200);
    assert_eq!(run["steps"][1]["output"]["body"]["sub"], "alice");
    let run_text = run.to_string();
    for t in &issued {
        assert!(
            !run_text.contains(t.as_str()),
            "the run record holds a token: {run_text}"
        );
    }

    // A replayed (double-submitted) callback: no second run, no second exchange.
    let again = send("GET", &callback, &[], None);
    assert_problem(&again, 400, Some("query.state"), "already used");
    assert_eq!(runs(dev, &wf).len(), 1);
    assert_eq!(provider.token_requests().len(), 1);

    // Removing the connection.
    let user_path = format!(
        "/api/workflows/{wf}/connections/{}",
        enc("user 42@acme").replace('+', "%20")
    );
    let del = api(dev, "DELETE", &user_path, None);
    assert_eq!(del.status, 204, "{}", del.text);
    assert!(connections(dev, &wf).is_empty());
    let del = api(dev, "DELETE", &user_path, None);
    assert_problem(&del, 404, None, "no connection");
    // A user id that is not percent-encoded UTF-8: a 400 at the path (listed in openapi.json).
    let del = api(
        dev,
        "DELETE",
        &format!("/api/workflows/{wf}/connections/%FF"),
        None,
    );
    assert_problem(&del, 400, Some("path.user_id"), "percent-encoded");
}

/// A sign-in's run carries its access token sealed in its shard object: executing it makes no
/// D1 statement, its `http` step still sends the real token (the provider's userinfo endpoint
/// only answers 200 to a valid one) and the stored run shows it redacted, also where an
/// upstream echoed it and a later step wrote the echo. A replay carries no
/// token and reads the connection's current one; so does a run whose token is already due
/// for refresh.
#[test]
fn a_sign_in_run_executes_with_its_carried_token_and_no_d1_statement() {
    let dev = dev();
    let provider = Provider::start(&dev.base, 3600);
    let echo = crate::harness::upstream::Upstream::start();
    let steps = json!([
        { "type": "log", "name": "hello", "message": "token={{oauth.access_token}}" },
        { "type": "http", "name": "me", "method": "GET", "url": format!("{}/userinfo", provider.base),
          "headers": { "authorization": "Bearer {{oauth.access_token}}" }, "retries": 0 },
        // An API that echoes what it got, written whole by a step that never read the token.
        { "type": "http", "name": "landing", "url": echo.url("/echo?t={{oauth.access_token}}"), "retries": 0 },
        { "type": "log", "name": "copy", "message": "got {{steps.landing.body}}" },
        { "type": "http", "name": "forward", "method": "POST", "url": echo.url("/echo"),
          "json": { "seen": "{{steps.landing.body.path}}" }, "retries": 0 }
    ]);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Carried", json!({}), steps.clone()),
    );
    let callback = authorize(dev, &provider, &wf, "carol", "carol");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    let listed = runs(dev, &wf);
    assert_eq!(listed.len(), 1);
    let run = wait_run(dev, listed[0]["id"].as_str().unwrap(), 60);
    let issued = provider.issued_tokens();
    let assert_used_a_real_token = |run: &Value| {
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["input"]["oauth"]["access_token"], "[redacted]");
        assert_eq!(run["steps"][0]["output"]["message"], "token=[redacted]");
        let me = &run["steps"][1];
        assert_eq!(me["output"]["status"], 200, "{run}");
        assert_eq!(me["output"]["body"]["sub"], "carol", "{run}");
        assert_eq!(me["request"]["headers"]["authorization"], "[redacted]");
        let copy = run["steps"][3]["output"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(copy.contains("t=[redacted]"), "{run}");
        // What a later step sent, holding the echo, is recorded without it too.
        let sent = &run["steps"][4]["request"]["body"]["seen"];
        assert_eq!(sent, "/echo?t=[redacted]", "{run}");
        let text = run.to_string();
        for t in &provider.issued_tokens() {
            assert!(
                !text.contains(t.as_str()),
                "the run record holds a token: {text}"
            );
        }
    };
    assert_used_a_real_token(&run);
    let counts = d1_statements(dev, &wf);
    assert_eq!(counts.get("execute"), None, "{counts:?}");
    assert_eq!(counts.get("ingest"), None, "{counts:?}");
    assert!(counts.get("oauth").is_some_and(|n| *n > 0), "{counts:?}");
    // The token the step sent is the one the sign-in got (no refresh happened).
    assert_eq!(issued.len(), 2, "{issued:?}");
    assert_eq!(provider.token_requests().len(), 1);

    // A replay (maybe much later) carries no token: it reads the connection's current one.
    let r = api(
        dev,
        "POST",
        &format!("/api/runs/{}/replay", run["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let replay = wait_run(dev, r.json()["run_id"].as_str().unwrap(), 60);
    assert_eq!(replay["trigger"], "replay");
    assert_used_a_real_token(&replay);
    assert!(
        d1_statements(dev, &wf)
            .get("execute")
            .is_some_and(|n| *n > 0),
        "the replay read the connection"
    );

    // A token living 2 minutes is inside the refresh window at once: its run reads the
    // connection too (which the Cron pass may already have refreshed).
    let short = Provider::start(&dev.base, 120);
    let wf = create_deployed(
        dev,
        &definition(
            &short,
            "Short-lived",
            json!({}),
            json!([
                { "type": "http", "name": "me", "method": "GET", "url": format!("{}/userinfo", short.base),
                  "headers": { "authorization": "Bearer {{oauth.access_token}}" }, "retries": 0 }
            ]),
        ),
    );
    let callback = authorize(dev, &short, &wf, "dave", "dave");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    let listed = runs(dev, &wf);
    assert_eq!(listed.len(), 1);
    let run = wait_run(dev, listed[0]["id"].as_str().unwrap(), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["steps"][0]["output"]["body"]["sub"], "dave", "{run}");
    assert!(
        d1_statements(dev, &wf)
            .get("execute")
            .is_some_and(|n| *n > 0),
        "a token due for refresh is read from the connection"
    );
}

#[test]
fn the_example_definition_validates_and_shows_its_urls() {
    let dev = dev();
    let def: Value = serde_json::from_str(include_str!("../../examples/oauth.json")).unwrap();
    let r = api(dev, "POST", "/api/workflows", Some(&def));
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.json()["urls"]["redirect"],
        dev.url(&format!("/oauth/{id}/callback"))
    );
    let mut bad = def.clone();
    bad["trigger"]["token_auth_method"] = json!("none");
    bad["trigger"]["success_url"] = json!("/relative");
    let r = api(dev, "POST", "/api/workflows", Some(&bad));
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.locations(),
        ["trigger.success_url", "trigger.token_auth_method"]
    );
    // A URL the OAuth client's parser refuses is refused when the definition is saved (it
    // would otherwise fail every sign-in).
    let mut bad = def.clone();
    bad["trigger"]["authorize_url"] = json!("https://auth.example.com:99999/authorize");
    bad["trigger"]["token_url"] = json!("https://[::1/token");
    let r = api(dev, "POST", "/api/workflows", Some(&bad));
    assert_problem(&r, 400, None, "invalid port number");
    assert_eq!(
        r.locations(),
        ["trigger.authorize_url", "trigger.token_url"],
        "{}",
        r.text
    );
}

/// A provider that says its tokens never expire with a huge `expires_in` (2^53 - 1 seconds):
/// the connection has no expiry, and it stays readable.
#[test]
fn a_token_that_never_expires_is_stored_without_expiry() {
    // Its own instance: it writes to D1 from outside the Worker (see `Dev::d1_write`).
    let dev = &own_dev("oauth-no-expiry");
    let provider = Provider::start(&dev.base, (1 << 53) - 1);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Never expires", json!({}), log_steps()),
    );
    let callback = authorize(dev, &provider, &wf, "u1", "kim");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    let c = &connections(dev, &wf)[0];
    assert_eq!(c["expires_at"], Value::Null, "{c}");
    assert_eq!(c["status"], "active", "{c}");
    let run = wait_run(dev, runs(dev, &wf)[0]["id"].as_str().unwrap(), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["input"]["oauth"]["expires_at"], Value::Null, "{run}");
    // A row an earlier version stored with such an expiry (past 2^53 ms) reads as none too.
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET expires_at = 10000001700000000 WHERE workflow_id = '{wf}'"
    ));
    let stored = dev.d1(&format!(
        "SELECT expires_at FROM oauth_connections WHERE workflow_id = '{wf}'"
    ));
    assert_eq!(
        stored[0]["expires_at"],
        json!(10000001700000000i64),
        "{stored:?}"
    );
    let c = &connections(dev, &wf)[0];
    assert_eq!(c["expires_at"], Value::Null, "{c}");
    assert_eq!(c["status"], "active", "{c}");
}

#[test]
fn headless_chromium_signs_in_and_lands_on_success_url() {
    let dev = dev();
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Browser", json!({}), log_steps()),
    );
    let signin_url = dev.url(&signin_path(&wf, "browser-user"));
    let success = format!("{}/app/done", provider.base);
    let out = Command::new("node")
        .arg(root().join("tests/e2e/browser/oauth_signin.mjs"))
        .args([&signin_url, &success, "carol", PASSWORD])
        .current_dir(root())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser sign-in failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).expect("JSON line");
    assert_eq!(result["login_page_title"], "Sign in to Test Provider");
    assert_eq!(result["url"], success);
    assert_eq!(result["heading"], "Connected");
    assert_eq!(provider.app_hits(), ["/app/done"]);
    assert_eq!(provider.pkce_checks().len(), 1);
    assert!(provider.pkce_checks()[0].matched);

    let c = connections(dev, &wf);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["user_id"], "browser-user");
    assert_eq!(c[0]["userinfo"]["sub"], "carol");
    let r = runs(dev, &wf);
    assert_eq!(r.len(), 1);
    let run = wait_run(dev, r[0]["id"].as_str().unwrap(), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        run["steps"][0]["output"]["message"],
        "connected browser-user"
    );
}

#[test]
fn bad_callbacks_start_no_run_and_store_no_connection() {
    let dev = dev();
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Strict", json!({}), log_steps()),
    );
    let other = create_deployed(dev, &definition(&provider, "Other", json!({}), log_steps()));
    let no_failure_url = create_deployed(
        dev,
        &definition(
            &provider,
            "No failure URL",
            json!({ "failure_url": null }),
            log_steps(),
        ),
    );
    let cb = |wf: &str, qs: &str| {
        send(
            "GET",
            &dev.url(&format!("/oauth/{wf}/callback{qs}")),
            &[],
            None,
        )
    };

    // Sign-in URL input checks.
    let r = send("GET", &dev.url(&format!("/oauth/{wf}/signin")), &[], None);
    assert_problem(&r, 400, Some("query.user_id"), "required");
    let r = send(
        "GET",
        &dev.url(&format!(
            "/oauth/{wf}/signin?user_id=u&redirect={}",
            enc("https://evil.example/x")
        )),
        &[],
        None,
    );
    assert_problem(&r, 400, Some("query.redirect"), "same origin");
    // Ids no deployed workflow has (anyone can send them) are answered by the workflow's
    // object, which keeps the live version: no D1 statement, on either URL.
    let unknown = tripline_core::kernel::ids::new_workflow_id(&[7; 15]);
    let draft = create(dev, &definition(&provider, "Draft", json!({}), log_steps()));
    for id in [unknown.as_str(), draft.as_str()] {
        for url in [
            format!("/oauth/{id}/signin?user_id=u"),
            format!("/oauth/{id}/callback?state=s&code=c"),
        ] {
            let r = send("GET", &dev.url(&url), &[], None);
            assert_problem(
                &r,
                404,
                None,
                &format!("no deployed workflow with id {id}: deploy it before sending end users"),
            );
            assert_eq!(d1_statements_of(dev, id, "oauth"), 0, "{url}");
        }
    }
    assert_eq!(d1_statements(dev, &unknown), Default::default());
    let undeployed = create_deployed(
        dev,
        &definition(&provider, "Undeployed", json!({}), log_steps()),
    );
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{undeployed}/undeploy"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send("GET", &dev.url(&signin_path(&undeployed, "u")), &[], None);
    assert_problem(
        &r,
        404,
        None,
        &format!("workflow {undeployed} is not deployed: deploy it"),
    );
    let unset = create_deployed(
        dev,
        &definition(
            &provider,
            "No secret",
            json!({ "client_secret_env": "NOT_SET_ANYWHERE" }),
            log_steps(),
        ),
    );
    let r = send("GET", &dev.url(&signin_path(&unset, "u")), &[], None);
    assert_problem(
        &r,
        503,
        None,
        "`wrangler secret put NOT_SET_ANYWHERE` (locally: a NOT_SET_ANYWHERE=… line in \
         .dev.vars, then restart `wrangler dev`)",
    );
    // A one-time `?link=` is checked after the secret (so a missing secret does not use it
    // up): whoever holds any such value is told only that the secret is not set.
    let link = format!("/oauth/{unset}/signin?link={}", "A".repeat(43));
    let r = send("GET", &dev.url(&link), &[], None);
    assert_problem(
        &r,
        503,
        None,
        "OAuth client secret is not set on the Worker",
    );
    assert!(!r.text.contains("NOT_SET_ANYWHERE"), "{}", r.text);
    let r = send(
        "GET",
        &dev.url(&format!("/oauth/{unset}/signin?link=short")),
        &[],
        None,
    );
    assert_problem(&r, 401, Some("query.link"), "not a Sign-in link token");
    // Nor is a callback, which anyone can send with a state-shaped value.
    let r = cb(&unset, &format!("?code=x&state={}", "A".repeat(43)));
    assert_problem(
        &r,
        503,
        None,
        "OAuth client secret is not set on the Worker; the Worker's log says what to set",
    );
    assert!(!r.text.contains("NOT_SET_ANYWHERE"), "{}", r.text);

    // Missing, malformed and tampered states.
    assert_problem(&cb(&wf, "?code=x"), 400, Some("query.state"), "required");
    assert_problem(
        &cb(&wf, "?code=x&state=short"),
        400,
        Some("query.state"),
        "not a state",
    );
    let callback = authorize(dev, &provider, &wf, "u1", "dave");
    let q = query(&callback);
    let state = &q["state"];
    let mut tampered: Vec<char> = state.chars().collect();
    tampered[10] = if tampered[10] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let r = cb(&wf, &format!("?code={}&state={tampered}", q["code"]));
    assert_problem(&r, 400, Some("query.state"), "unknown");

    // Another workflow's state is refused there, and still works where it belongs.
    let r = cb(&other, &format!("?code={}&state={state}", q["code"]));
    assert_problem(&r, 400, Some("query.state"), "another workflow");
    // From another browser (without the Sign-in URL's cookie) it is refused too, and kept for
    // the browser that started it.
    let r = send_without_cookies("GET", &callback, &[], None);
    assert_problem(&r, 403, Some("header.cookie"), "another browser");
    let ok = send("GET", &callback, &[], None);
    assert_eq!(ok.status, 302, "{}", ok.text);
    assert_eq!(runs(dev, &wf).len(), 1);
    assert_eq!(runs(dev, &other).len(), 0);
    api(
        dev,
        "DELETE",
        &format!("/api/workflows/{wf}/connections/u1"),
        None,
    );
    let runs_before = runs(dev, &wf).len();

    // Missing code: the state is consumed, nothing else happens.
    let callback = authorize(dev, &provider, &wf, "u2", "erin");
    let state = query(&callback)["state"].clone();
    assert_problem(
        &cb(&wf, &format!("?state={state}")),
        400,
        Some("query.code"),
        "required",
    );
    let r = cb(&wf, &format!("?state={state}&code=late"));
    assert_problem(&r, 400, Some("query.state"), "already used");

    // Two simultaneous submissions of one callback: exactly one wins.
    let callback = authorize(dev, &provider, &wf, "racer", "kim");
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let url = callback.clone();
            std::thread::spawn(move || send("GET", &url, &[], None).status)
        })
        .collect();
    let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, [302, 400]);
    assert_eq!(runs(dev, &wf).len(), runs_before + 1);
    assert_eq!(
        provider.pkce_checks().iter().filter(|c| c.matched).count(),
        2
    );
    api(
        dev,
        "DELETE",
        &format!("/api/workflows/{wf}/connections/racer"),
        None,
    );
    let runs_before = runs_before + 1;

    // A `redirect` on success_url's origin replaces success_url for that sign-in (Unicode in it
    // goes out percent-encoded; a control character is refused before anything is stored).
    let r = send(
        "GET",
        &dev.url(&format!(
            "{}&redirect={}",
            signin_path(&wf, "u7"),
            enc(&format!("{}/app/a\u{0}b", provider.base))
        )),
        &[],
        None,
    );
    assert_problem(&r, 400, Some("query.redirect"), "control characters");
    let after = format!("{}/app/after/\u{20ac}?tab=2", provider.base);
    let r = send(
        "GET",
        &dev.url(&format!(
            "{}&redirect={}",
            signin_path(&wf, "u7"),
            enc(&after)
        )),
        &[],
        None,
    );
    assert_eq!(r.status, 302, "{}", r.text);
    let back = provider_login(&provider, r.header("location").unwrap(), "lee", "allow");
    let r = send("GET", &back, &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some(format!("{}/app/after/%E2%82%AC?tab=2", provider.base).as_str())
    );
    assert_eq!(runs(dev, &wf).len(), runs_before + 1);
    api(
        dev,
        "DELETE",
        &format!("/api/workflows/{wf}/connections/u7"),
        None,
    );
    let runs_before = runs_before + 1;

    // The provider's error (the user clicked Deny) → failure_url with the error.
    let to_provider = signin(dev, &wf, "u3");
    let back = provider_login(&provider, &to_provider, "frank", "deny");
    let fq = failure_query(&send("GET", &back, &[], None), &provider);
    assert_eq!(fq["error"], "access_denied");
    assert_eq!(fq["error_description"], "The user denied access");
    assert_eq!(fq["user_id"], "u3");
    // … and without a failure_url, a problem.
    let to_provider = signin(dev, &no_failure_url, "u4");
    let back = provider_login(&provider, &to_provider, "gina", "deny");
    assert_problem(
        &send("GET", &back, &[], None),
        400,
        Some("query.error"),
        "access_denied",
    );

    // The token endpoint answering 500, then garbage.
    for (failure, needle) in [
        (TokenFailure::Status500, "500"),
        (TokenFailure::Garbage, "content-type"),
    ] {
        let callback = authorize(dev, &provider, &wf, "u5", "hank");
        provider.fail_token_endpoint(Some(failure));
        let r = send("GET", &callback, &[], None);
        provider.fail_token_endpoint(None);
        assert_eq!(r.status, 302, "{}", r.text);
        let fq = query(r.header("location").unwrap());
        assert_eq!(fq["error"], "token_exchange_failed");
        assert!(
            fq["error_description"].to_lowercase().contains(needle),
            "{fq:?}"
        );
        let callback = authorize(dev, &provider, &no_failure_url, "u6", "ivy");
        provider.fail_token_endpoint(Some(failure));
        let r = send("GET", &callback, &[], None);
        provider.fail_token_endpoint(None);
        assert_problem(&r, 502, None, "token_exchange_failed");
    }

    // A 2xx answer that is not a valid token response is never quoted: it may hold tokens.
    let callback = authorize(dev, &provider, &wf, "u7", "jill");
    provider.fail_token_endpoint(Some(TokenFailure::UntypedTokens));
    let r = send("GET", &callback, &[], None);
    provider.fail_token_endpoint(None);
    assert_eq!(r.status, 302, "{}", r.text);
    let location = r.header("location").unwrap().to_string();
    let fq = query(&location);
    assert_eq!(fq["error"], "token_exchange_failed");
    assert!(
        !location.contains(UNTYPED_ACCESS_TOKEN) && !r.text.contains(UNTYPED_ACCESS_TOKEN),
        "the token was quoted: {location}"
    );

    // None of that made a run or a connection.
    assert_eq!(runs(dev, &wf).len(), runs_before);
    assert_eq!(runs(dev, &no_failure_url).len(), 0);
    assert_eq!(runs(dev, &other).len(), 0);
    for id in [&wf, &other, &no_failure_url] {
        assert!(connections(dev, id).is_empty());
    }
}

#[test]
fn refresh_by_cron_rotates_tokens_and_a_revoked_grant_needs_reauth() {
    let dev = &own_dev("oauth-refresh");
    // Access tokens live 2 minutes: inside the 10-minute window, due after one.
    let provider = Provider::start(&dev.base, 120);
    let def = definition(
        &provider,
        "Refresh",
        json!({ "token_auth_method": "client_secret_post" }),
        log_steps(),
    );
    let wf = create_deployed(dev, &def);
    for (user, username) in [("a", "alice"), ("b", "bob")] {
        let callback = authorize(dev, &provider, &wf, user, username);
        assert_eq!(send("GET", &callback, &[], None).status, 302);
    }
    for r in runs(dev, &wf) {
        assert_eq!(
            wait_run(dev, r["id"].as_str().unwrap(), 60)["status"],
            "succeeded"
        );
    }
    let sealed = |user: &str| {
        dev.d1(&format!(
            "SELECT access_token, refresh_token, expires_at FROM oauth_connections WHERE workflow_id = '{wf}' AND user_id = '{user}'"
        ))[0]
            .clone()
    };
    let first = sealed("a");
    let conn = |user: &str| {
        connections(dev, &wf)
            .into_iter()
            .find(|c| c["user_id"] == user)
            .expect("connection")
    };
    assert_eq!(conn("a")["refreshed_at"], Value::Null);

    cron_pass(dev);
    let refreshes = |p: &Provider| {
        p.token_requests()
            .iter()
            .filter(|r| r.grant_type == "refresh_token" && r.error.is_none())
            .count()
    };
    assert_eq!(refreshes(&provider), 2, "{:?}", provider.token_requests());
    assert!(provider
        .token_requests()
        .iter()
        .all(|r| r.client_auth == "client_secret_post"));
    let second = sealed("a");
    assert_ne!(first["access_token"], second["access_token"]);
    assert_ne!(
        first["refresh_token"], second["refresh_token"],
        "the rotated refresh token is stored"
    );
    let issued = provider.issued_tokens();
    let now_access = crypto::open(
        &key(),
        &format!("conn:access:{wf}:a"),
        second["access_token"].as_str().unwrap(),
    )
    .unwrap();
    assert!(
        issued[4..].contains(&now_access),
        "a refreshed access token is stored"
    );
    assert!(conn("a")["refreshed_at"].is_string());
    assert_eq!(conn("a")["status"], "active");

    // Bob revokes the app at the provider; Alice's rotated token keeps working.
    provider.revoke_user("bob");
    cron_pass(dev);
    assert_eq!(refreshes(&provider), 3, "{:?}", provider.token_requests());
    let b = conn("b");
    assert_eq!(b["status"], "needs_reauth", "{b}");
    assert!(b["needs_reauth"]["at"].as_str().unwrap().ends_with('Z'));
    assert!(
        b["needs_reauth"]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{b}"
    );
    assert_eq!(conn("a")["status"], "active");

    // A connection that needs re-auth is not tried again; a failing token endpoint leaves
    // the connection active with the error recorded.
    provider.fail_token_endpoint(Some(TokenFailure::Status500));
    cron_pass(dev);
    provider.fail_token_endpoint(None);
    let failed: Vec<_> = provider
        .token_requests()
        .into_iter()
        .filter(|r| r.error.as_deref() == Some("http_500"))
        .collect();
    assert_eq!(failed.len(), 1, "only a is tried");
    let a = conn("a");
    assert_eq!(a["status"], "active");
    assert!(
        a["last_refresh_error"].as_str().unwrap().contains("500"),
        "{a}"
    );

    // Signing in again clears needs_reauth.
    let callback = authorize(dev, &provider, &wf, "b", "bob");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    let b = conn("b");
    assert_eq!(b["status"], "active");
    assert_eq!(b["needs_reauth"], Value::Null);
}

#[test]
fn expired_state_is_rejected() {
    let dev = Dev::start(
        "oauth-ttl",
        &[
            (SECRET_ENV, CLIENT_SECRET),
            ("OAUTH_STATE_TTL_SECONDS", "1"),
        ],
    );
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        &dev,
        &definition(&provider, "Short TTL", json!({}), log_steps()),
    );
    let callback = authorize(&dev, &provider, &wf, "slow-user", "jane");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // A Cron pass in between keeps the expired state: its late callback is told so.
    dev.fire_cron();
    let r = send("GET", &callback, &[], None);
    assert_problem(&r, 400, Some("query.state"), "expired");
    assert!(provider.token_requests().is_empty(), "no code exchange");
    assert!(runs(&dev, &wf).is_empty());
    assert!(connections(&dev, &wf).is_empty());
    // The Cron pass deletes states that were never used an hour after they expired.
    let _ = signin(&dev, &wf, "never-finished");
    let states = || d1_count(&dev, "SELECT COUNT(*) AS n FROM oauth_states");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    dev.fire_cron();
    assert_eq!(states(), 1);
    dev.d1_write("UPDATE oauth_states SET expires_at = expires_at - 3600000");
    dev.fire_cron();
    assert_eq!(states(), 0);
}

#[test]
fn missing_encryption_key_is_a_503_that_says_how_to_set_it() {
    let dev = Dev::start(
        "oauth-nokey",
        &[(SECRET_ENV, CLIENT_SECRET), ("TRIPLINE_ENCRYPTION_KEY", "")],
    );
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        &dev,
        &definition(&provider, "No key", json!({}), log_steps()),
    );
    let r = send("GET", &dev.url(&signin_path(&wf, "u")), &[], None);
    assert_problem(&r, 503, None, "wrangler secret put TRIPLINE_ENCRYPTION_KEY");
    assert!(provider.authorize_requests().is_empty());
}

/// A callback that meets a missing encryption key answers 503 without using up its state: once
/// the key is set again, the same callback finishes the sign-in. (The state was used up before
/// the 503, and the end user had to start again.)
#[test]
fn a_callback_without_the_encryption_key_keeps_its_state_for_when_it_is_set() {
    callback_waits_for_a_missing_secret("oauth-key-dropped", "TRIPLINE_ENCRYPTION_KEY", None);
}

/// The same for the client secret the deployed version names.
#[test]
fn a_callback_without_the_client_secret_keeps_its_state_for_when_it_is_set() {
    callback_waits_for_a_missing_secret("oauth-secret-dropped", SECRET_ENV, Some(CLIENT_SECRET));
}

/// A sign-in up to the provider's redirect back; then the Worker restarted without `name` (its
/// callback answers 503 and keeps the state), then with it again (`restore`: the value the
/// instance had, `None`: the harness's own), and the same callback finishes the sign-in.
fn callback_waits_for_a_missing_secret(instance: &str, name: &str, restore: Option<&str>) {
    let mut dev = own_dev(instance);
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        &dev,
        &definition(&provider, "Secret dropped", json!({}), log_steps()),
    );
    // The browser's sign-in up to the provider's redirect back, its cookie kept by hand: the
    // restarted Worker listens on another port.
    let r = send("GET", &dev.url(&signin_path(&wf, "u-key")), &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
    let cookie = r
        .header("set-cookie")
        .expect("the sign-in's cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let callback = provider_login(&provider, r.header("location").unwrap(), "alice", "allow");
    let path = callback
        .strip_prefix(&dev.base)
        .expect("the Worker's callback")
        .to_string();

    dev.kill();
    dev.set_var(name, Some(""));
    dev.spawn();
    let r = send("GET", &dev.url(&path), &[("cookie", &cookie)], None);
    // Whoever sends a callback is told what is missing, not its name: the Worker's log has it.
    assert_problem(&r, 503, None, "the Worker's log says what to set");
    assert!(!r.text.contains(name), "{}", r.text);
    assert!(provider.token_requests().is_empty());
    let states = format!("SELECT COUNT(*) AS n FROM oauth_states WHERE workflow_id = '{wf}'");
    assert_eq!(d1_count(&dev, &states), 1);

    dev.kill();
    dev.set_var(name, restore);
    dev.spawn();
    let r = send("GET", &dev.url(&path), &[("cookie", &cookie)], None);
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some(format!("{}/app/done", provider.base).as_str())
    );
    assert_eq!(connections(&dev, &wf).len(), 1);
    assert_eq!(provider.token_requests().len(), 1);
    assert_eq!(d1_count(&dev, &states), 0);
}

/// The Sign-in URL only takes a link the app's backend signed for this workflow and user: an
/// anonymous `?user_id=`, a link for another user, workflow or time is a 401 and creates no
/// state. A user has at most one pending sign-in per workflow, and the Cron pass deletes every
/// expired state, however many.
#[test]
fn sign_in_needs_a_signed_link_and_pending_states_are_bounded() {
    let dev = &own_dev("oauth-links");
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(dev, &definition(&provider, "Links", json!({}), log_steps()));
    let other = create_deployed(dev, &definition(&provider, "Other", json!({}), log_steps()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    let anonymous = send(
        "GET",
        &dev.url(&format!("/oauth/{wf}/signin?user_id=victim")),
        &[],
        None,
    );
    assert_problem(&anonymous, 401, Some("query.signature"), "must sign");
    // Another user's link with the user_id swapped, another workflow's link, an expired link.
    let mine = signin_path(&wf, "attacker");
    let swapped = mine.replace("user_id=attacker", "user_id=victim");
    assert_problem(
        &send("GET", &dev.url(&swapped), &[], None),
        401,
        Some("query.signature"),
        "does not match",
    );
    let elsewhere = signin_path(&other, "victim").replace(&other, &wf);
    assert_problem(
        &send("GET", &dev.url(&elsewhere), &[], None),
        401,
        Some("query.signature"),
        "does not match",
    );
    assert_problem(
        &send(
            "GET",
            &dev.url(&signin_path_at(&wf, "victim", now - 5)),
            &[],
            None,
        ),
        401,
        Some("query.expires"),
        "expired",
    );
    assert!(
        provider.authorize_requests().is_empty(),
        "nobody was sent on"
    );
    assert_eq!(d1_count(dev, "SELECT COUNT(*) AS n FROM oauth_states"), 0);

    // Three sign-ins of one user: one pending state.
    for _ in 0..3 {
        let _ = signin(dev, &wf, "victim");
    }
    let _ = signin(dev, &other, "victim");
    assert_eq!(
        d1_count(
            dev,
            &format!("SELECT COUNT(*) AS n FROM oauth_states WHERE workflow_id = '{wf}'")
        ),
        1
    );
    // The latest link still completes the sign-in.
    let callback = authorize(dev, &provider, &wf, "victim", "vic");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    assert_eq!(connections(dev, &wf).len(), 1);

    // 700 expired states: one Cron pass deletes them all.
    dev.d1(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700)
         INSERT INTO oauth_states (state_hash, workflow_id, version, user_id, redirect_uri, expires_at, created_at)
         SELECT 'old' || i, '{wf}', 1, 'u' || i, 'x', 1, '2026-01-01T00:00:00Z' FROM n"
    ));
    dev.fire_cron();
    assert_eq!(
        d1_count(
            dev,
            "SELECT COUNT(*) AS n FROM oauth_states WHERE expires_at < 1000"
        ),
        0
    );
}

/// A one-time Sign-in link from the management API works once, for the user it was issued for.
#[test]
fn one_time_links_from_the_api_work_once() {
    let dev = dev();
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        dev,
        &definition(&provider, "One-time", json!({}), log_steps()),
    );
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{wf}/signin-links"),
        Some(&json!({"user_id": "link-user", "ttl_seconds": 300})),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let link = r.json()["url"].as_str().unwrap().to_string();
    assert!(
        link.starts_with(&dev.url(&format!("/oauth/{wf}/signin?link="))),
        "{link}"
    );
    assert_eq!(r.json()["user_id"], "link-user");

    let first = send("GET", &link, &[], None);
    assert_eq!(first.status, 302, "{}", first.text);
    let back = provider_login(&provider, first.header("location").unwrap(), "lou", "allow");
    assert_eq!(send("GET", &back, &[], None).status, 302);
    let conns = connections(dev, &wf);
    assert!(
        conns.iter().any(|c| c["user_id"] == "link-user"),
        "{conns:?}"
    );
    // Used: refused, located at the link.
    assert_problem(
        &send("GET", &link, &[], None),
        401,
        Some("query.link"),
        "already used",
    );
    // Bad requests for a link.
    let r = api(
        dev,
        "POST",
        &format!("/api/workflows/{wf}/signin-links"),
        Some(&json!({"ttl_seconds": 99999})),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    let mut locs = r.locations();
    locs.sort();
    assert_eq!(locs, ["body.ttl_seconds", "body.user_id"], "{}", r.text);
    // A dot segment is no user id: URL parsers remove it from the connection's path, so
    // `DELETE …/connections/%2E%2E` would reach `DELETE /api/workflows/{id}/`.
    for dots in [".", ".."] {
        let r = api(
            dev,
            "POST",
            &format!("/api/workflows/{wf}/signin-links"),
            Some(&json!({ "user_id": dots })),
        );
        assert_problem(&r, 400, Some("body.user_id"), "`.` or `..`");
    }
    // A workflow whose Sign-in URL answers 404 gets no link: 409, saying why.
    let refused = |wf: &str, why: &str| {
        let r = api(
            dev,
            "POST",
            &format!("/api/workflows/{wf}/signin-links"),
            Some(&json!({"user_id": "u"})),
        );
        assert_eq!(r.status, 409, "{}", r.text);
        assert!(
            r.json()["detail"].as_str().unwrap().contains(why),
            "{}",
            r.text
        );
    };
    // A draft never deployed has no Sign-in URL yet.
    let draft = create(
        dev,
        &definition(&provider, "Not deployed", json!({}), log_steps()),
    );
    refused(&draft, "is not deployed");
    let hook = create(
        dev,
        &json!({"name": "h", "trigger": {"type": "endpoint"}, "steps": []}),
    );
    refused(&hook, "no Sign-in links");
}

/// A sign-in that finishes while its workflow is deleted keeps no connection (it would outlive
/// the workflow, unlisted, its refresh token refreshed for ever) and starts no run: the end
/// user lands on the failure URL, told why.
#[test]
fn a_sign_in_finishing_while_its_workflow_is_deleted_keeps_nothing() {
    let dev = dev();
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Deleted meanwhile", json!({}), log_steps()),
    );
    let back = authorize(dev, &provider, &wf, "late-user", "lee");
    // The code's exchange takes 3 s; the workflow is deleted meanwhile.
    provider.delay_token_endpoint(3_000);
    let callback = std::thread::spawn(move || send("GET", &back, &[], None));
    std::thread::sleep(std::time::Duration::from_millis(1_000));
    let r = api(dev, "DELETE", &format!("/api/workflows/{wf}"), None);
    assert!(r.status / 100 == 2, "{}", r.text);
    let answer = callback.join().unwrap();
    let q = failure_query(&answer, &provider);
    assert_eq!(q["error"], "workflow_not_deployed", "{q:?}");
    assert_eq!(q["user_id"], "late-user", "{q:?}");
    assert_eq!(
        d1_count(
            dev,
            &format!("SELECT count(*) AS n FROM oauth_connections WHERE workflow_id = '{wf}'")
        ),
        0
    );
    assert_eq!(
        provider
            .token_requests()
            .iter()
            .filter(|t| t.grant_type == "authorization_code")
            .count(),
        1
    );
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A connection whose refreshes keep failing (a 500) waits longer after each failure (1 minute,
/// then 2, …), so it is not due in between and healthy connections are refreshed on every
/// pass; a `200 OK` carrying GitHub's `bad_refresh_token` error is a refusal: `needs_reauth`.
#[test]
fn failing_refreshes_back_off_and_a_200_error_response_needs_reauth() {
    let dev = &own_dev("oauth-backoff");
    let provider = Provider::start(&dev.base, 120);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Backoff", json!({}), log_steps()),
    );
    for user in ["alice", "carol", "dave"] {
        let callback = authorize(dev, &provider, &wf, user, user);
        assert_eq!(send("GET", &callback, &[], None).status, 302);
    }
    for r in runs(dev, &wf) {
        wait_run(dev, r["id"].as_str().unwrap(), 60);
    }
    provider.fail_refresh_for("carol", Some(TokenFailure::Status500));
    provider.fail_refresh_for("dave", Some(TokenFailure::BadRefreshToken200));
    let tries = |user: &str, ok: bool| {
        provider
            .token_requests()
            .iter()
            .filter(|r| {
                r.grant_type == "refresh_token" && r.username == user && r.error.is_none() == ok
            })
            .count()
    };
    let conn = |user: &str| {
        connections(dev, &wf)
            .into_iter()
            .find(|c| c["user_id"] == user)
            .expect("connection")
    };
    let backoff = |user: &str| {
        let row = &dev.d1(&format!(
            "SELECT refresh_failures, refresh_lease_until FROM oauth_connections
             WHERE workflow_id = '{wf}' AND user_id = '{user}'"
        ))[0];
        (
            row["refresh_failures"].as_i64().unwrap(),
            row["refresh_lease_until"].as_i64().unwrap() - epoch_ms(),
        )
    };

    cron_pass(dev);
    assert_eq!(tries("alice", true), 1, "{:?}", provider.token_requests());
    assert_eq!(tries("carol", false), 1);
    assert_eq!(tries("dave", false), 1);
    let d = conn("dave");
    assert_eq!(d["status"], "needs_reauth", "{d}");
    let reason = d["needs_reauth"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("`bad_refresh_token` (HTTP 200): The refresh token passed is incorrect"),
        "{reason}"
    );
    let c = conn("carol");
    assert_eq!(c["status"], "active");
    assert!(
        c["last_refresh_error"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{c}"
    );
    let (failures, next) = backoff("carol");
    assert_eq!(failures, 1);
    assert!(
        (30_000..=51_000).contains(&next),
        "next attempt in {next} ms"
    );
    // The API shows the count and when the next attempt comes.
    assert_eq!(c["refresh_failures"], 1, "{c}");
    let next_at = tripline_core::kernel::time::parse_millis(
        c["next_refresh_attempt_at"].as_str().expect("next attempt"),
    )
    .unwrap();
    assert!((next_at - epoch_ms() - next).abs() < 5_000, "{c}");
    let a = conn("alice");
    assert_eq!(a["refresh_failures"], 0, "{a}");
    assert_eq!(a["next_refresh_attempt_at"], Value::Null, "{a}");
    assert_eq!(conn("dave")["next_refresh_attempt_at"], Value::Null);

    // Carol's first wait is over (as if a minute had passed): she is tried again and now
    // waits 2 minutes (both waits end 10 s early, so that the pass that comes then takes her);
    // Alice, due again, is refreshed on every pass.
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET refresh_lease_until = 0 WHERE workflow_id = '{wf}' AND user_id = 'carol'"
    ));
    cron_pass(dev);
    assert_eq!(tries("carol", false), 2);
    let (failures, next) = backoff("carol");
    assert_eq!(failures, 2);
    assert!(
        (90_000..=111_000).contains(&next),
        "next attempt in {next} ms"
    );
    assert_eq!(tries("alice", true), 2);
    // Within her wait Carol is not due; Alice still is; Dave is never tried again.
    cron_pass(dev);
    assert_eq!(tries("carol", false), 2);
    assert_eq!(tries("alice", true), 3);
    assert_eq!(tries("dave", false), 1);

    // Once the provider works again, a refresh clears the failures.
    provider.fail_refresh_for("carol", None);
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET refresh_lease_until = 0 WHERE workflow_id = '{wf}' AND user_id = 'carol'"
    ));
    cron_pass(dev);
    assert_eq!(tries("carol", true), 1);
    assert_eq!(backoff("carol").0, 0);
    assert_eq!(conn("carol")["last_refresh_error"], Value::Null);
}

/// A provider that returns a refresh token only at the first consent (Google) leaves the
/// earlier one in place when the user signs in again (with the lease of a refresh of it under
/// way), and it keeps refreshing; a connection that never got one needs re-auth once its
/// access token has expired.
#[test]
fn signing_in_again_without_a_refresh_token_keeps_the_earlier_one() {
    let dev = &own_dev("oauth-keep-refresh");
    let provider = Provider::start(&dev.base, 120);
    provider.grant_refresh_tokens(RefreshTokens::FirstConsentOnly);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Keep refresh", json!({}), log_steps()),
    );
    let conn = |wf: &str, user: &str| {
        connections(dev, wf)
            .into_iter()
            .find(|c| c["user_id"] == user)
            .expect("connection")
    };
    let sign_in = || {
        let callback = authorize(dev, &provider, &wf, "u1", "erin");
        assert_eq!(send("GET", &callback, &[], None).status, 302);
        for r in runs(dev, &wf) {
            wait_run(dev, r["id"].as_str().unwrap(), 60);
        }
    };
    let lease = || {
        d1_count(
            dev,
            &format!(
                "SELECT refresh_lease_until AS n FROM oauth_connections
                 WHERE workflow_id = '{wf}' AND user_id = 'u1'"
            ),
        )
    };
    let set_lease = |until: i64| {
        dev.d1_write(&format!(
            "UPDATE oauth_connections SET refresh_lease_until = {until}
             WHERE workflow_id = '{wf}' AND user_id = 'u1'"
        ))
    };
    sign_in();
    // A refresh of Erin's token is under way (it holds the lease) when she signs in again: the
    // sign-in keeps that refresh token and leaves the lease, so the refresh can still save the
    // refresh token the provider rotates it into.
    let running = epoch_ms() + 30_000;
    set_lease(running);
    sign_in();
    assert_eq!(lease(), running);
    // The lease of a failing connection is its backoff: a sign-in cuts it to a lease's length.
    set_lease(epoch_ms() + 3_600_000);
    sign_in();
    let left = lease() - epoch_ms();
    assert!((30_000..=60_256).contains(&left), "{left} ms left");
    set_lease(0);
    let issued_refresh = provider
        .issued_tokens()
        .iter()
        .filter(|t| t.starts_with("rt_"))
        .count();
    assert_eq!(issued_refresh, 1, "the second sign-in got no refresh token");
    let c = conn(&wf, "u1");
    assert_eq!(c["has_refresh_token"], true, "{c}");
    assert_eq!(c["status"], "active");

    // A provider that grants no refresh token at all, with 1-second access tokens.
    let short = Provider::start(&dev.base, 1);
    short.grant_refresh_tokens(RefreshTokens::Never);
    let wf2 = create_deployed(
        dev,
        &definition(&short, "No refresh", json!({}), log_steps()),
    );
    let callback = authorize(dev, &short, &wf2, "u2", "frank");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    assert_eq!(conn(&wf2, "u2")["has_refresh_token"], false);
    for r in runs(dev, &wf).into_iter().chain(runs(dev, &wf2)) {
        wait_run(dev, r["id"].as_str().unwrap(), 60);
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));

    cron_pass(dev);
    let refreshed: Vec<_> = provider
        .token_requests()
        .into_iter()
        .filter(|r| r.grant_type == "refresh_token")
        .collect();
    assert_eq!(refreshed.len(), 1, "{refreshed:?}");
    assert_eq!(refreshed[0].error, None, "the kept refresh token works");
    let c = conn(&wf, "u1");
    assert_eq!(c["status"], "active");
    assert!(c["refreshed_at"].is_string(), "{c}");
    let c = conn(&wf2, "u2");
    assert_eq!(c["status"], "needs_reauth", "{c}");
    assert!(
        c["needs_reauth"]["reason"]
            .as_str()
            .unwrap()
            .contains("no refresh token"),
        "{c}"
    );
    assert!(short
        .token_requests()
        .iter()
        .all(|r| r.grant_type != "refresh_token"));
    // Signing in again makes it active (until that token expires in turn).
    let callback = authorize(dev, &short, &wf2, "u2", "frank");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    assert_eq!(conn(&wf2, "u2")["status"], "active");

    // User u1 signs in again as another account at the provider (Grace, who consented before,
    // as user u3): no refresh token comes, and Erin's is not kept, or the next refresh would
    // turn the connection back into Erin's account.
    let callback = authorize(dev, &provider, &wf, "u3", "grace");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    let callback = authorize(dev, &provider, &wf, "u1", "grace");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    let c = conn(&wf, "u1");
    assert_eq!(c["userinfo"]["sub"], "grace", "{c}");
    assert_eq!(c["has_refresh_token"], false, "{c}");
    assert_eq!(conn(&wf, "u3")["has_refresh_token"], true);
}

/// A sign-in that gets no refresh token keeps none of an earlier connection that the provider
/// refused (`needs_reauth`), or whose version no longer validates (its provider is unknown);
/// such a sign-in still succeeds, and a connection of such a version is never refreshed.
#[test]
fn a_refused_or_unreadable_earlier_refresh_token_is_not_kept() {
    let dev = &own_dev("oauth-keep-unreadable");
    let provider = Provider::start(&dev.base, 120);
    provider.grant_refresh_tokens(RefreshTokens::FirstConsentOnly);
    let wf = create_deployed(dev, &definition(&provider, "V1", json!({}), log_steps()));
    let sign_in = |user: &str, username: &str| {
        let callback = authorize(dev, &provider, &wf, user, username);
        let r = send("GET", &callback, &[], None);
        assert_eq!(r.status, 302, "{}", r.text);
        for r in runs(dev, &wf) {
            wait_run(dev, r["id"].as_str().unwrap(), 60);
        }
    };
    let conn = |user: &str| {
        connections(dev, &wf)
            .into_iter()
            .find(|c| c["user_id"] == user)
            .expect("connection")
    };
    sign_in("u1", "hana");
    sign_in("u3", "jill");
    redeploy(
        dev,
        &wf,
        &definition(&provider, "V2", json!({}), log_steps()),
    );
    sign_in("u2", "ivan");
    // Version 1 as a release that validates more strictly reads it; Ivan's refresh token was
    // refused by the provider.
    dev.d1_write(&format!(
        "UPDATE workflow_versions SET definition = '{{\"name\": \"V1\"}}'
         WHERE workflow_id = '{wf}' AND version = 1"
    ));
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET status = 'needs_reauth', needs_reauth_reason = 'refused',
           needs_reauth_at = '2026-01-01T00:00:00.000Z' WHERE workflow_id = '{wf}' AND user_id = 'u2'"
    ));
    for user in ["u1", "u2", "u3"] {
        assert_eq!(conn(user)["has_refresh_token"], true, "{user}");
    }

    sign_in("u1", "hana");
    sign_in("u2", "ivan");
    for user in ["u1", "u2"] {
        let c = conn(user);
        assert_eq!(c["version"], 2, "{c}");
        assert_eq!(c["status"], "active", "{c}");
        assert_eq!(c["has_refresh_token"], false, "{c}");
    }
    // Jill's connection was made with version 1: its refresh token is sent nowhere.
    cron_pass(dev);
    let at_provider: Vec<_> = provider
        .token_requests()
        .into_iter()
        .filter(|r| r.grant_type == "refresh_token")
        .collect();
    assert!(at_provider.is_empty(), "{at_provider:?}");
    let c = conn("u3");
    assert_eq!(c["status"], "active", "{c}");
    assert!(
        c["last_refresh_error"]
            .as_str()
            .unwrap_or_default()
            .contains("version 1, which this connection was made with, cannot be read"),
        "{c}"
    );
}

/// A token is due 10 minutes before it expires, or halfway through its lifetime when that is
/// later (at least 90 s before it expires): a 4-minute token is refreshed after 2 minutes, not
/// on every Cron pass; a one-hour token 10 minutes before its end; a row stored before
/// `refresh_at` existed by the 10-minute rule.
#[test]
fn a_short_lived_token_is_refreshed_halfway_through_its_life_not_on_every_pass() {
    let dev = &own_dev("oauth-refresh-at");
    let short = Provider::start(&dev.base, 240);
    let long = Provider::start(&dev.base, 3600);
    let wf_short = create_deployed(dev, &definition(&short, "Short", json!({}), log_steps()));
    let wf_long = create_deployed(dev, &definition(&long, "Long", json!({}), log_steps()));
    for (p, wf) in [(&short, &wf_short), (&long, &wf_long)] {
        let callback = authorize(dev, p, wf, "u1", "kim");
        assert_eq!(send("GET", &callback, &[], None).status, 302);
    }
    let times = |wf: &str| {
        let row = dev.d1(&format!(
            "SELECT expires_at, refresh_at FROM oauth_connections WHERE workflow_id = '{wf}'"
        ))[0]
            .clone();
        (
            row["expires_at"].as_i64().expect("expires_at"),
            row["refresh_at"].as_i64().expect("refresh_at"),
        )
    };
    let (expires, refresh_at) = times(&wf_short);
    assert_eq!(expires - refresh_at, 120_000);
    let (long_expires, long_refresh_at) = times(&wf_long);
    assert_eq!(long_expires - long_refresh_at, 600_000);
    let refreshes = |p: &Provider| {
        p.token_requests()
            .iter()
            .filter(|r| r.grant_type == "refresh_token" && r.error.is_none())
            .count()
    };

    // Within its first half, the short token is not refreshed (it expires within 10 minutes:
    // by that rule alone it would be, on every pass).
    dev.fire_cron();
    assert_eq!(refreshes(&short), 0, "{:?}", short.token_requests());
    // Once its half has passed (made so in D1: two minutes are long to wait), it is, and the
    // new token is due halfway through its own life.
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET refresh_at = refresh_at - 120000 WHERE workflow_id = '{wf_short}'"
    ));
    dev.fire_cron();
    assert_eq!(refreshes(&short), 1, "{:?}", short.token_requests());
    let (new_expires, new_refresh_at) = times(&wf_short);
    assert!(new_expires >= expires, "{new_expires} >= {expires}");
    assert_eq!(new_expires - new_refresh_at, 120_000);
    assert_eq!(refreshes(&long), 0, "{:?}", long.token_requests());

    // A row written before `refresh_at` existed: due 10 minutes before its expiry, so the
    // 4-minute token is due at once and the one-hour token is not.
    dev.d1_write("UPDATE oauth_connections SET refresh_at = NULL");
    dev.fire_cron();
    assert_eq!(refreshes(&short), 2, "{:?}", short.token_requests());
    assert_eq!(refreshes(&long), 0, "{:?}", long.token_requests());
    let (_, stored_again) = times(&wf_short);
    assert!(
        stored_again >= new_refresh_at,
        "the refresh stores refresh_at again"
    );

    // A refresh answered without `expires_in` keeps the earlier token's lifetime (4 minutes,
    // so due halfway again), rather than leave a token that seems never to expire and is
    // never refreshed again.
    short.refresh_without_expires_in(true);
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET refresh_at = refresh_at - 120000 WHERE workflow_id = '{wf_short}'"
    ));
    dev.fire_cron();
    assert_eq!(refreshes(&short), 3, "{:?}", short.token_requests());
    let row = dev.d1(&format!(
        "SELECT expires_at, refresh_at, refreshed_at FROM oauth_connections WHERE workflow_id = '{wf_short}'"
    ))[0]
        .clone();
    let (expires, refresh_at) = times(&wf_short);
    let refreshed =
        tripline_core::kernel::time::parse_millis(row["refreshed_at"].as_str().unwrap()).unwrap();
    // The lifetime is measured from when the earlier token's refresh began, before its answer.
    let lifetime = expires - refreshed;
    assert!((240_000..250_000).contains(&lifetime), "{row}");
    assert!(
        (120_000..125_000).contains(&(expires - refresh_at)),
        "{row}"
    );
}

/// One Cron pass takes batch after batch while connections are due (here batches of 2, for 5
/// due connections): none waits for the next pass. A token that lives a minute, due again as
/// soon as it is refreshed, is refreshed once per pass, not over and over.
#[test]
fn one_cron_pass_refreshes_every_due_connection_batch_after_batch() {
    let dev = &Dev::start(
        "oauth-refresh-batches",
        &[(SECRET_ENV, CLIENT_SECRET), ("OAUTH_REFRESH_BATCH", "2")],
    );
    let provider = Provider::start(&dev.base, 240);
    let minute = Provider::start(&dev.base, 60);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Batches", json!({}), log_steps()),
    );
    let wf_minute = create_deployed(dev, &definition(&minute, "Minute", json!({}), log_steps()));
    for i in 0..5 {
        let callback = authorize(dev, &provider, &wf, &format!("u{i}"), &format!("user{i}"));
        assert_eq!(send("GET", &callback, &[], None).status, 302);
    }
    let callback = authorize(dev, &minute, &wf_minute, "m1", "mia");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    let refreshes = |p: &Provider| {
        p.token_requests()
            .iter()
            .filter(|r| r.grant_type == "refresh_token" && r.error.is_none())
            .count()
    };
    cron_pass(dev);
    assert_eq!(refreshes(&provider), 5, "{:?}", provider.token_requests());
    assert_eq!(refreshes(&minute), 1, "{:?}", minute.token_requests());
    for c in connections(dev, &wf) {
        assert!(c["refreshed_at"].is_string(), "{c}");
    }
    // The next pass: the minute-long token is due again, the others are not.
    dev.fire_cron();
    assert_eq!(refreshes(&provider), 5, "{:?}", provider.token_requests());
    assert_eq!(refreshes(&minute), 2, "{:?}", minute.token_requests());
}

/// A Cron pass reads a workflow's OAuth configuration once, however many of its connections
/// it refreshes: a pass over five due connections makes as many D1 reads as a pass over one.
#[test]
fn a_cron_pass_reads_a_workflow_s_configuration_once_for_all_its_connections() {
    let dev = &own_dev("oauth-refresh-reads");
    let provider = Provider::start(&dev.base, 240);
    let wf = create_deployed(dev, &definition(&provider, "Reads", json!({}), log_steps()));
    for i in 0..5 {
        let callback = authorize(dev, &provider, &wf, &format!("u{i}"), &format!("user{i}"));
        assert_eq!(send("GET", &callback, &[], None).status, 302);
    }
    // The Cron pass's reads (statements that are not writes) so far, of every workflow.
    let cron_reads = || {
        let count =
            |m: std::collections::BTreeMap<String, u64>| m.get("cron").copied().unwrap_or(0);
        count(d1_statements(dev, "")) - count(d1_writes(dev, ""))
    };
    let refreshes = || {
        provider
            .token_requests()
            .iter()
            .filter(|r| r.grant_type == "refresh_token" && r.error.is_none())
            .count()
    };
    let before = cron_reads();
    cron_pass(dev);
    assert_eq!(refreshes(), 5, "{:?}", provider.token_requests());
    let five = cron_reads() - before;
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET refresh_at = 0 WHERE workflow_id = '{wf}' AND user_id = 'u0'"
    ));
    let before = cron_reads();
    dev.fire_cron();
    assert_eq!(refreshes(), 6, "{:?}", provider.token_requests());
    let one = cron_reads() - before;
    assert!(
        one > 0,
        "a pass reads the due connections and the configuration"
    );
    assert_eq!(five, one, "reads of a pass over 5 connections, and over 1");
}

/// A sign-in whose version a later release can no longer read ends with a clear answer, not a
/// 500: the deployed version's `failure_url` with `error=signin_outdated`, or without one a 409
/// at `query.state`; no connection and no run. A sign-in started again goes through.
#[test]
fn a_signin_whose_version_can_no_longer_be_read_is_sent_to_start_again() {
    let dev = &own_dev("oauth-signin-outdated");
    let provider = Provider::start(&dev.base, 120);
    let with_failure_url = create_deployed(
        dev,
        &definition(&provider, "Outdated", json!({}), log_steps()),
    );
    let without = create_deployed(
        dev,
        &definition(
            &provider,
            "Outdated bare",
            json!({ "failure_url": null }),
            log_steps(),
        ),
    );
    // Version 2 keeps each workflow's failure_url, or its lack of one.
    let overrides = |wf: &String| {
        if *wf == without {
            json!({ "failure_url": null })
        } else {
            json!({})
        }
    };
    for wf in [&with_failure_url, &without] {
        let callback = authorize(dev, &provider, wf, "u1", "hana");
        // Version 2 is deployed while the end user is at the provider, and version 1 is read
        // as a release that validates more strictly reads it.
        redeploy(
            dev,
            wf,
            &definition(&provider, "V2", overrides(wf), log_steps()),
        );
        dev.d1_write(&format!(
            "UPDATE workflow_versions SET definition = '{{\"name\": \"V1\"}}'
             WHERE workflow_id = '{wf}' AND version = 1"
        ));
        let r = send("GET", &callback, &[], None);
        if *wf == with_failure_url {
            let fq = failure_query(&r, &provider);
            assert_eq!(fq["error"], "signin_outdated");
            assert_eq!(fq["user_id"], "u1");
            assert!(fq["error_description"].contains("version 1"), "{fq:?}");
        } else {
            assert_problem(
                &r,
                409,
                Some("query.state"),
                "start again at the Sign-in URL",
            );
        }
        assert!(connections(dev, wf).is_empty(), "{wf}");
        assert!(runs(dev, wf).is_empty(), "{wf}");
        // The state was consumed: the same callback again is unknown.
        assert_problem(
            &send("GET", &callback, &[], None),
            400,
            Some("query.state"),
            "already used",
        );
        // Started again, on version 2, the sign-in goes through.
        let callback = authorize(dev, &provider, wf, "u1", "hana");
        let r = send("GET", &callback, &[], None);
        assert_eq!(r.status, 302, "{}", r.text);
        assert!(
            r.header("location").unwrap().contains("/app/done"),
            "{}",
            r.text
        );
        let c = connections(dev, wf);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0]["version"], 2, "{c:?}");
        assert_eq!(runs(dev, wf).len(), 1, "{wf}");
    }
}

/// Redeploying a workflow onto another provider: its connections keep refreshing at the
/// provider that issued their refresh tokens, and a sign-in at the new provider that gets no
/// refresh token does not keep the old provider's.
#[test]
fn a_redeploy_onto_another_provider_never_receives_earlier_refresh_tokens() {
    let dev = &own_dev("oauth-switch");
    let old = Provider::start(&dev.base, 120);
    let new = Provider::start(&dev.base, 120);
    new.grant_refresh_tokens(RefreshTokens::Never);
    let wf = create_deployed(dev, &definition(&old, "Switch", json!({}), log_steps()));
    let callback = authorize(dev, &old, &wf, "u1", "gina");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    redeploy(
        dev,
        &wf,
        &definition(&new, "Switch", json!({}), log_steps()),
    );
    for r in runs(dev, &wf) {
        wait_run(dev, r["id"].as_str().unwrap(), 60);
    }

    cron_pass(dev);
    assert!(
        new.token_requests().is_empty(),
        "{:?}",
        new.token_requests()
    );
    let at_old: Vec<_> = old
        .token_requests()
        .into_iter()
        .filter(|r| r.grant_type == "refresh_token")
        .collect();
    assert_eq!(at_old.len(), 1, "{at_old:?}");
    assert_eq!(at_old[0].error, None);
    let c = &connections(dev, &wf)[0];
    assert_eq!(c["status"], "active", "{c}");

    // Gina signs in again, now at the new provider, which grants no refresh token: the old
    // provider's is not kept for it.
    let callback = authorize(dev, &new, &wf, "u1", "gina");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    let c = &connections(dev, &wf)[0];
    assert_eq!(c["version"], 2);
    assert_eq!(c["has_refresh_token"], false, "{c}");
    cron_pass(dev);
    assert!(new
        .token_requests()
        .iter()
        .all(|r| r.grant_type != "refresh_token"));
}

/// A token endpoint whose error description quotes what it was sent: the refresh token, the
/// code, the PKCE verifier and the client secret are scrubbed from what is stored (the
/// connection's reason), logged and passed to `failure_url`.
#[test]
fn a_provider_error_quoting_the_grant_is_stored_and_passed_on_scrubbed() {
    let dev = &own_dev("oauth-quoting-errors");
    let provider = Provider::start(&dev.base, 120);
    let def = definition(
        &provider,
        "Quoting errors",
        json!({ "token_auth_method": "client_secret_post" }),
        log_steps(),
    );
    let wf = create_deployed(dev, &def);
    let callback = authorize(dev, &provider, &wf, "u1", "kira");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    for r in runs(dev, &wf) {
        wait_run(dev, r["id"].as_str().unwrap(), 60);
    }
    let refresh_token = provider
        .issued_tokens()
        .into_iter()
        .find(|t| t.starts_with("rt_"))
        .expect("a refresh token");

    // The refresh is refused with a description quoting the refresh token and the secret.
    provider.fail_refresh_for("kira", Some(TokenFailure::QuotesRequest));
    cron_pass(dev);
    let c = connections(dev, &wf).remove(0);
    assert_eq!(c["status"], "needs_reauth", "{c}");
    let reason = c["needs_reauth"]["reason"].as_str().unwrap();
    // The refresh token and the client secret, each quoted back.
    assert!(
        reason.ends_with("Invalid grant: [redacted] [redacted]"),
        "{reason}"
    );
    let stored = c.to_string();
    assert!(!stored.contains(&refresh_token), "{stored}");
    assert!(!stored.contains(CLIENT_SECRET), "{stored}");

    // A code exchange refused so: the failure_url gets neither the code nor the verifier.
    provider.fail_token_endpoint(Some(TokenFailure::QuotesRequest));
    let callback = authorize(dev, &provider, &wf, "u2", "lena");
    let code = query(&callback)["code"].clone();
    let r = send("GET", &callback, &[], None);
    let q = failure_query(&r, &provider);
    assert_eq!(q["error"], "token_exchange_failed");
    let description = &q["error_description"];
    // The code, the PKCE verifier and the client secret.
    assert!(
        description.ends_with("Invalid grant: [redacted] [redacted] [redacted]"),
        "{description}"
    );
    let logs = dev.logs();
    for sent in [refresh_token, code] {
        assert!(!description.contains(&sent), "{description}");
        assert!(!logs.contains(&sent), "`{sent}` is in the Worker's log");
    }
}

/// A refresh token sealed under another key, as after a change of `TRIPLINE_ENCRYPTION_KEY`.
fn seal_under_another_key(dev: &Dev, wf: &str, user: &str) {
    let other = crypto::parse_key(Some("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")).unwrap();
    let envelope = crypto::seal(
        &other,
        [7; 12],
        &format!("conn:refresh:{wf}:{user}"),
        "rt_sealed_under_the_old_key",
    );
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET refresh_token = '{envelope}'
         WHERE workflow_id = '{wf}' AND user_id = '{user}'"
    ));
}

/// After a change of `TRIPLINE_ENCRYPTION_KEY` a connection's refresh token cannot be read:
/// a sign-in that gets no new one does not keep it, and the Cron pass says why on a connection
/// holding one, without calling the provider, and tries again with its backoff: once the key
/// is back, the refresh succeeds.
#[test]
fn an_unreadable_refresh_token_is_never_kept_and_is_tried_again() {
    let dev = &own_dev("oauth-unreadable-refresh");
    let provider = Provider::start(&dev.base, 120);
    provider.grant_refresh_tokens(RefreshTokens::FirstConsentOnly);
    let wf = create_deployed(dev, &definition(&provider, "Key", json!({}), log_steps()));
    let sign_in = |user: &str, username: &str| {
        let callback = authorize(dev, &provider, &wf, user, username);
        assert_eq!(send("GET", &callback, &[], None).status, 302);
        for r in runs(dev, &wf) {
            wait_run(dev, r["id"].as_str().unwrap(), 60);
        }
    };
    let conn = |user: &str| {
        connections(dev, &wf)
            .into_iter()
            .find(|c| c["user_id"] == user)
            .expect("connection")
    };
    sign_in("u1", "mona");
    sign_in("u2", "nina");
    let nina_sealed = dev.d1(&format!(
        "SELECT refresh_token FROM oauth_connections WHERE workflow_id = '{wf}' AND user_id = 'u2'"
    ))[0]["refresh_token"]
        .as_str()
        .expect("a sealed refresh token")
        .to_string();
    seal_under_another_key(dev, &wf, "u1");
    seal_under_another_key(dev, &wf, "u2");

    // Mona signs in again and gets no refresh token: the unreadable one is dropped.
    sign_in("u1", "mona");
    let c = conn("u1");
    assert_eq!(c["has_refresh_token"], false, "{c}");
    assert_eq!(c["status"], "active", "{c}");

    // Nina's connection cannot refresh: it says why and waits for its retry (a key put back
    // would read it again), and the provider is not called.
    cron_pass(dev);
    let c = conn("u2");
    assert_eq!(c["status"], "active", "{c}");
    let reason = c["last_refresh_error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the refresh token cannot be read")
            && reason.contains("TRIPLINE_ENCRYPTION_KEY")
            && reason.contains("sign in again"),
        "{c}"
    );
    assert!(provider
        .token_requests()
        .iter()
        .all(|r| r.grant_type != "refresh_token"));

    // The key put back (the token reads again): its next try refreshes it.
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET refresh_token = '{nina_sealed}', refresh_lease_until = 0
         WHERE workflow_id = '{wf}' AND user_id = 'u2'"
    ));
    cron_pass(dev);
    let c = conn("u2");
    assert_eq!(c["status"], "active", "{c}");
    assert_eq!(c["last_refresh_error"], Value::Null, "{c}");
    assert!(provider
        .token_requests()
        .iter()
        .any(|r| r.grant_type == "refresh_token"));
}

/// A deployed workflow named `name` whose end user `u1` (`username` at the provider) signed in,
/// and the id of the run that sign-in started, finished.
fn signed_in_run(dev: &Dev, provider: &Provider, name: &str, username: &str) -> (String, String) {
    let wf = create_deployed(dev, &definition(provider, name, json!({}), log_steps()));
    let callback = authorize(dev, provider, &wf, "u1", username);
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    let run = runs(dev, &wf).remove(0);
    let run = wait_run(dev, run["id"].as_str().unwrap(), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    let run_id = run["id"].as_str().unwrap().to_string();
    (wf, run_id)
}

/// Replays run `run_id` (its replay reads the connection) and waits for the replay to end.
fn replay_of(dev: &Dev, run_id: &str) -> Value {
    let r = api(dev, "POST", &format!("/api/runs/{run_id}/replay"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    wait_run(dev, r.json()["run_id"].as_str().unwrap(), 60)
}

/// A run that reads a `needs_reauth` connection (a replay, say) fails before any step, saying
/// that the end user must sign in again and why, instead of sending the dead token.
#[test]
fn a_run_on_a_connection_that_needs_reauth_fails_before_any_step() {
    let dev = &own_dev("oauth-run-needs-reauth");
    let provider = Provider::start(&dev.base, 3600);
    let (wf, run_id) = signed_in_run(dev, &provider, "Needs reauth", "olga");
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET status = 'needs_reauth',
           needs_reauth_at = '2026-01-02T03:04:05.000Z', needs_reauth_reason = 'the grant was revoked'
         WHERE workflow_id = '{wf}' AND user_id = 'u1'"
    ));
    let replay = replay_of(dev, &run_id);
    assert_eq!(replay["status"], "failed", "{replay}");
    assert_eq!(
        replay["error"]["message"],
        "the OAuth connection of user `u1` needs a new sign-in (since \
         2026-01-02T03:04:05.000Z): the grant was revoked",
        "{replay}"
    );
    assert!(
        replay["steps"].as_array().is_none_or(Vec::is_empty),
        "{replay}"
    );
}

/// A run that reads a connection whose access token expired while its refreshes fail (a
/// provider's outage, a missing client secret) fails before any step, quoting the refresh's
/// error, instead of sending the dead token.
#[test]
fn a_run_on_an_expired_token_whose_refresh_fails_says_so_before_any_step() {
    let dev = &own_dev("oauth-run-expired-failing");
    let provider = Provider::start(&dev.base, 3600);
    let (wf, run_id) = signed_in_run(dev, &provider, "Expired", "pia");
    // Expired, but no refresh has failed: the token is sent (the provider decides).
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET expires_at = 1000 WHERE workflow_id = '{wf}' AND user_id = 'u1'"
    ));
    let sent = replay_of(dev, &run_id);
    assert_eq!(sent["status"], "succeeded", "{sent}");
    dev.d1_write(&format!(
        "UPDATE oauth_connections SET last_refresh_error = 'the token endpoint answered HTTP 500'
         WHERE workflow_id = '{wf}' AND user_id = 'u1'"
    ));
    let failed = replay_of(dev, &run_id);
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(
        failed["error"]["message"],
        "the access token of user `u1` expired at 1970-01-01T00:00:01.000Z and refreshing it \
         fails (the token endpoint answered HTTP 500); the refresh is tried again with the backoff",
        "{failed}"
    );
    assert!(
        failed["steps"].as_array().is_none_or(Vec::is_empty),
        "{failed}"
    );
}

/// When storing a sign-in's connection, or a refresh's new tokens, fails once (a passing
/// database error), the save is tried again: the sign-in lands on its success URL with its
/// connection stored, the refresh token a rotating provider replaced the old one with is kept,
/// and the next refresh works.
#[test]
fn a_failed_save_of_a_rotated_refresh_token_is_tried_again() {
    let dev = &Dev::start(
        "oauth-refresh-save-retry",
        &[
            (SECRET_ENV, CLIENT_SECRET),
            ("RUN_LEASE_SECONDS", "3"),
            ("TRIPLINE_DEV_FAULTS", "refresh-save-once,signin-save-once"),
        ],
    );
    let provider = Provider::start(&dev.base, 120);
    let wf = create_deployed(dev, &definition(&provider, "Retry", json!({}), log_steps()));
    let callback = authorize(dev, &provider, &wf, "u1", "petra");
    let r = send("GET", &callback, &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
    let to = r.header("location").unwrap_or_default();
    assert!(
        to.starts_with(&format!("{}/app/done", provider.base)),
        "{to}"
    );
    assert_eq!(connections(dev, &wf).len(), 1);
    for r in runs(dev, &wf) {
        wait_run(dev, r["id"].as_str().unwrap(), 60);
    }
    for pass in 1..=2 {
        cron_pass(dev);
        let c = connections(dev, &wf).remove(0);
        assert_eq!(c["status"], "active", "pass {pass}: {c}");
        assert!(c["refreshed_at"].is_string(), "pass {pass}: {c}");
        assert_eq!(c["last_refresh_error"], Value::Null, "pass {pass}: {c}");
    }
    let refreshes: Vec<_> = provider
        .token_requests()
        .into_iter()
        .filter(|r| r.grant_type == "refresh_token")
        .collect();
    assert_eq!(refreshes.len(), 2, "{refreshes:?}");
    assert!(refreshes.iter().all(|r| r.error.is_none()), "{refreshes:?}");
}

/// A run whose read of the end user's connection fails (a passing database error) is tried
/// again, not failed for good: the replay of a sign-in run reads the connection, meets the
/// fault once, and is executed again with the real token.
#[test]
fn a_failed_read_of_the_connection_is_tried_again() {
    let dev = &Dev::start(
        "oauth-connection-read-retry",
        &[
            (SECRET_ENV, CLIENT_SECRET),
            ("RUN_LEASE_SECONDS", "3"),
            ("TRIPLINE_DEV_FAULTS", "connection-read-once"),
        ],
    );
    let provider = Provider::start(&dev.base, 3600);
    let (_, run_id) = signed_in_run(dev, &provider, "Read retry", "rosa");
    let replay = replay_of(dev, &run_id);
    assert_eq!(replay["status"], "succeeded", "{replay}");
    assert_eq!(replay["error"], Value::Null, "{replay}");
    assert_eq!(
        replay["steps"][0]["output"]["message"], "connected u1",
        "{replay}"
    );
    // The fault was met once (the log line may reach the file after the run's answer).
    eventually(10, "the fault in the log", || {
        dev.logs().contains("injected fault connection-read-once")
    });
    let logs = dev.logs();
    assert_eq!(
        logs.matches("injected fault connection-read-once").count(),
        1,
        "{logs}"
    );
}

/// A run outlives the token it started with: before a step whose worst case ends too close to
/// the token's expiry, the run takes the connection's current token (refreshed by the Cron
/// pass meanwhile) instead of sending one that may expire during the step.
#[test]
fn a_step_that_could_outlast_the_token_is_sent_with_the_connection_s_current_one() {
    let dev = &own_dev("oauth-token-mid-run");
    let upstream = crate::harness::upstream::Upstream::start();
    // Tokens live 100 s: the first step (20 s at worst) fits, the second (50 s) may not.
    let provider = Provider::start(&dev.base, 100);
    let steps = json!([
        { "type": "http", "name": "first", "method": "GET", "url": upstream.url("/slow/15000"),
          "headers": { "authorization": "Bearer {{oauth.access_token}}" },
          "timeout_ms": 20000, "retries": 0 },
        { "type": "http", "name": "second", "method": "GET", "url": upstream.url("/echo/second"),
          "headers": { "authorization": "Bearer {{oauth.access_token}}" },
          "timeout_ms": 50000, "retries": 0 }
    ]);
    let wf = create_deployed(dev, &definition(&provider, "Mid-run", json!({}), steps));
    let callback = authorize(dev, &provider, &wf, "u1", "uma");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    // While the first step waits (15 s), the Cron pass refreshes the connection's token.
    eventually(10, "the first step is sent", || {
        !upstream.received("/slow").is_empty()
    });
    cron_pass(dev);
    let run = runs(dev, &wf).remove(0);
    let run = wait_run(dev, run["id"].as_str().unwrap(), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    let refreshes = provider
        .token_requests()
        .iter()
        .filter(|r| r.grant_type == "refresh_token" && r.error.is_none())
        .count();
    assert_eq!(refreshes, 1);
    let sent = |path: &str| upstream.received(path)[0].headers["authorization"].clone();
    let issued = provider.issued_tokens();
    let first = sent("/slow");
    let second = sent("/echo/second");
    assert_ne!(first, second);
    let newest = issued.iter().rev().find(|t| t.starts_with("at_")).unwrap();
    assert_eq!(second, format!("Bearer {newest}"), "{issued:?}");
}

/// A passing failure of the userinfo endpoint (a 503) is tried once more, so that a sign-in
/// does not fail on one bad answer; a second failure sends the end user to `failure_url`, and
/// starts no run (the connection it keeps is tested below).
#[test]
fn a_passing_userinfo_failure_is_tried_once_more() {
    let dev = &own_dev("oauth-userinfo-retry");
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Userinfo retry", json!({}), log_steps()),
    );
    provider.fail_userinfo(1);
    let callback = authorize(dev, &provider, &wf, "u1", "sam");
    let r = send("GET", &callback, &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
    assert!(
        r.header("location")
            .unwrap()
            .starts_with(&format!("{}/app/done", provider.base)),
        "{:?}",
        r.header("location")
    );
    assert_eq!(provider.userinfo_calls(), 2);
    let c = connections(dev, &wf).remove(0);
    assert_eq!(c["userinfo"]["sub"], "sam", "{c}");
    assert_eq!(c["has_refresh_token"], true, "{c}");

    provider.fail_userinfo(2);
    let callback = authorize(dev, &provider, &wf, "u2", "tia");
    let q = failure_query(&send("GET", &callback, &[], None), &provider);
    assert_eq!(q["error"], "userinfo_failed", "{q:?}");
    assert!(q["error_description"].contains("503"), "{q:?}");
    assert_eq!(provider.userinfo_calls(), 4);
    assert_eq!(runs(dev, &wf).len(), 1, "the failed sign-in started no run");
}

/// A sign-in whose userinfo call fails twice keeps the refresh token of the end user's first
/// consent in their connection (without userinfo, no run): with a provider that sends one only
/// at the first consent, the next sign-in gets none and keeps that one, after the provider said
/// it belongs to the same account; another account's sign-in keeps nothing, and a failed
/// sign-in of a user whose connection holds a refresh token changes nothing.
#[test]
fn a_failed_userinfo_call_keeps_the_first_consent() {
    let dev = &own_dev("oauth-userinfo-keeps-consent");
    // Access tokens of two minutes: due for the Cron pass's refresh at once.
    let provider = Provider::start(&dev.base, 120);
    provider.grant_refresh_tokens(RefreshTokens::FirstConsentOnly);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Keep consent", json!({}), log_steps()),
    );
    let conn = |user: &str| {
        connections(dev, &wf)
            .into_iter()
            .find(|c| c["user_id"] == user)
    };
    let refresh_tokens = || {
        provider
            .issued_tokens()
            .iter()
            .filter(|t| t.starts_with("rt_"))
            .count()
    };

    provider.fail_userinfo(2);
    let callback = authorize(dev, &provider, &wf, "u1", "uma");
    let q = failure_query(&send("GET", &callback, &[], None), &provider);
    assert_eq!(q["error"], "userinfo_failed", "{q:?}");
    assert!(q["error_description"].contains("consent is kept"), "{q:?}");
    let c = conn("u1").expect("the connection is kept");
    assert_eq!(c["status"], "active", "{c}");
    assert_eq!(c["has_refresh_token"], true, "{c}");
    assert_eq!(c["userinfo"], Value::Null, "{c}");
    assert!(runs(dev, &wf).is_empty(), "a failed sign-in starts no run");
    assert_eq!(refresh_tokens(), 1);

    // Signing in again: no refresh token comes; the kept one is asked about (its access token
    // names Uma at the userinfo endpoint) and stays.
    let calls = provider.userinfo_calls();
    let callback = authorize(dev, &provider, &wf, "u1", "uma");
    let r = send("GET", &callback, &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
    assert!(
        r.header("location")
            .unwrap()
            .starts_with(&format!("{}/app/done", provider.base)),
        "{:?}",
        r.header("location")
    );
    assert_eq!(
        refresh_tokens(),
        1,
        "the second sign-in got no refresh token"
    );
    assert_eq!(
        provider.userinfo_calls(),
        calls + 2,
        "the sign-in's and the kept one's"
    );
    let c = conn("u1").unwrap();
    assert_eq!(c["userinfo"]["sub"], "uma", "{c}");
    assert_eq!(c["has_refresh_token"], true, "{c}");
    assert_eq!(runs(dev, &wf).len(), 1);
    // The kept refresh token works.
    for r in runs(dev, &wf) {
        wait_run(dev, r["id"].as_str().unwrap(), 60);
    }
    cron_pass(dev);
    let refreshed: Vec<_> = provider
        .token_requests()
        .into_iter()
        .filter(|r| r.grant_type == "refresh_token")
        .collect();
    assert_eq!(refreshed.len(), 1, "{refreshed:?}");
    assert_eq!(refreshed[0].error, None, "{refreshed:?}");

    // Another user's failed first sign-in is kept; signing in again as another account at the
    // provider (Uma, who consented before) keeps nothing of it: the kept token is Vic's.
    provider.fail_userinfo(2);
    let callback = authorize(dev, &provider, &wf, "u2", "vic");
    let q = failure_query(&send("GET", &callback, &[], None), &provider);
    assert_eq!(q["error"], "userinfo_failed", "{q:?}");
    assert_eq!(conn("u2").unwrap()["has_refresh_token"], true);
    let calls = provider.userinfo_calls();
    let callback = authorize(dev, &provider, &wf, "u2", "uma");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    assert_eq!(
        provider.userinfo_calls(),
        calls + 2,
        "Vic's token was asked about"
    );
    let c = conn("u2").unwrap();
    assert_eq!(c["userinfo"]["sub"], "uma", "{c}");
    assert_eq!(c["has_refresh_token"], false, "{c}");

    // A failed sign-in of a user whose connection holds a refresh token leaves it as it was.
    let before = conn("u1").unwrap();
    provider.fail_userinfo(2);
    let callback = authorize(dev, &provider, &wf, "u1", "wes");
    let q = failure_query(&send("GET", &callback, &[], None), &provider);
    assert_eq!(q["error"], "userinfo_failed", "{q:?}");
    assert!(!q["error_description"].contains("kept"), "{q:?}");
    let after = conn("u1").unwrap();
    assert_eq!(after["userinfo"]["sub"], "uma", "{after}");
    assert_eq!(after["updated_at"], before["updated_at"], "{after}");
}

/// After a redeploy onto another provider, a connection of the earlier one is never asked
/// about with the new provider's userinfo endpoint (its access token stays with its provider),
/// its refresh token is not kept, and it does not hold back the new provider's consent when
/// that sign-in's userinfo call fails.
#[test]
fn a_kept_consent_of_another_provider_is_neither_asked_about_nor_kept() {
    let dev = &own_dev("oauth-userinfo-other-provider");
    let first = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        dev,
        &definition(&first, "First provider", json!({}), log_steps()),
    );
    let conn = |user: &str| {
        connections(dev, &wf)
            .into_iter()
            .find(|c| c["user_id"] == user)
            .expect("connection")
    };
    let callback = authorize(dev, &first, &wf, "u1", "uma");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    first.fail_userinfo(2);
    let callback = authorize(dev, &first, &wf, "u2", "vic");
    let q = failure_query(&send("GET", &callback, &[], None), &first);
    assert!(q["error_description"].contains("consent is kept"), "{q:?}");
    assert_eq!(conn("u2")["userinfo"], Value::Null);

    let second = Provider::start(&dev.base, 3600);
    second.grant_refresh_tokens(RefreshTokens::Never);
    redeploy(
        dev,
        &wf,
        &definition(&second, "Second provider", json!({}), log_steps()),
    );
    let first_calls = first.userinfo_calls();
    let callback = authorize(dev, &second, &wf, "u2", "vic");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    assert_eq!(first.userinfo_calls(), first_calls);
    assert_eq!(second.userinfo_calls(), 1, "the sign-in's own call only");
    let c = conn("u2");
    assert_eq!(c["version"], 2, "{c}");
    assert_eq!(c["has_refresh_token"], false, "{c}");

    // Uma's connection holds the first provider's refresh token: a failed sign-in at the
    // second keeps its consent all the same.
    second.grant_refresh_tokens(RefreshTokens::Always);
    second.fail_userinfo(2);
    let callback = authorize(dev, &second, &wf, "u1", "uma");
    let q = failure_query(&send("GET", &callback, &[], None), &second);
    assert!(q["error_description"].contains("consent is kept"), "{q:?}");
    let c = conn("u1");
    assert_eq!(c["version"], 2, "{c}");
    assert_eq!(c["userinfo"], Value::Null, "{c}");
    assert_eq!(c["has_refresh_token"], true, "{c}");
}

/// A provider that sends `expires_in` as a numeric string (`"120"`, as Azure AD v1 and ADFS
/// do) and `scope` as a list (as Twitch does): the sign-in succeeds with the token's expiry
/// and scopes, and the token is refreshed.
#[test]
fn expires_in_sent_as_a_numeric_string_and_scope_as_a_list_are_read() {
    let dev = &own_dev("oauth-expires-in-text");
    let provider = Provider::start(&dev.base, 120);
    provider.send_expires_in_as_text(true);
    provider.send_scope_as_list(true);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Text expiry", json!({}), log_steps()),
    );
    let callback = authorize(dev, &provider, &wf, "u1", "quinn");
    let r = send("GET", &callback, &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
    let landed = r.header("location").unwrap();
    assert!(
        landed.starts_with(&format!("{}/app/done", provider.base)),
        "{landed}"
    );
    let run = wait_run(dev, runs(dev, &wf)[0]["id"].as_str().unwrap(), 60);
    assert_eq!(run["status"], "succeeded", "{run}");
    let c = connections(dev, &wf).remove(0);
    assert!(c["expires_at"].is_string(), "{c}");
    assert_eq!(
        c["scopes"],
        json!(["read", "profile", "granted-extra"]),
        "{c}"
    );
    let left = d1_count(
        dev,
        &format!("SELECT expires_at AS n FROM oauth_connections WHERE workflow_id = '{wf}'"),
    ) - epoch_ms();
    assert!((60_000..=120_000).contains(&left), "{left} ms left: {c}");

    cron_pass(dev);
    let c = connections(dev, &wf).remove(0);
    assert!(c["refreshed_at"].is_string(), "{c}");
    assert_eq!(c["last_refresh_error"], Value::Null, "{c}");
}

/// Signs `rory` in, then runs two Cron passes: each refreshes the connection without an error
/// (the second with the refresh token the first one stored), and the provider saw two good
/// refreshes.
fn signs_in_and_refreshes_twice(dev: &Dev, provider: &Provider, wf: &str) {
    let callback = authorize(dev, provider, wf, "u1", "rory");
    assert_eq!(send("GET", &callback, &[], None).status, 302);
    let mut refreshed = Vec::new();
    for _ in 0..2 {
        cron_pass(dev);
        let c = connections(dev, wf).remove(0);
        assert_eq!(c["last_refresh_error"], Value::Null, "{c}");
        assert_eq!(c["status"], "active", "{c}");
        assert!(c["refreshed_at"].is_string(), "{c}");
        refreshed.push(c["refreshed_at"].clone());
    }
    assert_ne!(refreshed[0], refreshed[1], "refreshed twice");
    let refreshes: Vec<_> = provider
        .token_requests()
        .into_iter()
        .filter(|t| t.grant_type == "refresh_token")
        .collect();
    assert_eq!(refreshes.len(), 2, "{refreshes:?}");
    assert!(refreshes.iter().all(|t| t.error.is_none()), "{refreshes:?}");
}

/// A provider whose refresh answers have no `token_type` and come as `text/html` (Duende
/// IdentityServer leaves `token_type` out of refresh answers; some providers mislabel JSON):
/// each refresh is read, and the refresh token it rotates is kept, so the next refresh works.
/// (Such an answer failed to parse: the rotated refresh token was lost, and the next refresh,
/// with the spent one, made the connection `needs_reauth`.)
#[test]
fn a_refresh_answer_without_token_type_sent_as_html_is_read_and_its_rotated_token_kept() {
    let dev = &own_dev("oauth-untyped-refresh");
    let provider = Provider::start(&dev.base, 120);
    provider.refresh_untyped_as_html(true);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Untyped refresh", json!({}), log_steps()),
    );
    signs_in_and_refreshes_twice(dev, &provider, &wf);
}

/// A provider whose token answers have `expires_in` with a fraction (`120.0`) and `token_type:
/// null`: the sign-in finishes with its lifetime read, and each refresh is read and the refresh
/// token it rotates kept, so the next refresh works. (Such answers failed every sign-in, and a
/// refresh lost its rotated token.)
#[test]
fn a_fractional_expires_in_and_a_null_token_type_are_read() {
    let dev = &own_dev("oauth-fractional-expiry");
    let provider = Provider::start(&dev.base, 120);
    provider.send_fractional_expiry_and_null_type(true);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Fractional expiry", json!({}), log_steps()),
    );
    signs_in_and_refreshes_twice(dev, &provider, &wf);
    let c = connections(dev, &wf).remove(0);
    assert!(c["expires_at"].is_string(), "{c}");
}

/// A refresh answered `201 Created` with its tokens is a success like a `200`: the refresh
/// token it rotates is kept, so the next refresh works. (The `oauth2` crate reads every status
/// but 200 as an error: the rotated token was lost, and the next refresh, with the spent one,
/// ended the connection.)
#[test]
fn a_refresh_answered_201_is_read_and_its_rotated_token_kept() {
    let dev = &own_dev("oauth-refresh-201");
    let provider = Provider::start(&dev.base, 120);
    provider.refresh_with_status(Some(201));
    let wf = create_deployed(
        dev,
        &definition(&provider, "Refresh 201", json!({}), log_steps()),
    );
    signs_in_and_refreshes_twice(dev, &provider, &wf);
}

/// A sign-in whose run cannot be started (here its shard never answers: fault `oauth-run`)
/// keeps the connection and sends the end user to `failure_url` with `run_not_started`, after
/// asking twice; without a `failure_url`, a 503 problem. (The end user got a raw 503 saying
/// to send the request again, which the spent state then refused.)
#[test]
fn a_sign_in_whose_run_cannot_start_keeps_the_connection_and_says_so() {
    let dev = &Dev::start(
        "oauth-run-fails",
        &[
            (SECRET_ENV, CLIENT_SECRET),
            ("TRIPLINE_DEV_FAULTS", "oauth-run"),
        ],
    );
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Run fails", json!({}), log_steps()),
    );
    let callback = authorize(dev, &provider, &wf, "u1", "sam");
    let q = failure_query(&send("GET", &callback, &[], None), &provider);
    assert_eq!(q["error"], "run_not_started", "{q:?}");
    assert!(
        q["error_description"].contains("the connection is stored"),
        "{q:?}"
    );
    assert_eq!(q["user_id"], "u1");
    let c = connections(dev, &wf);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["status"], "active", "{c:?}");
    assert!(runs(dev, &wf).is_empty());
    eventually(30, "the failure logged", || {
        dev.logs().contains("the sign-in's run did not start")
    });
    let no_failure_url = create_deployed(
        dev,
        &definition(
            &provider,
            "Run fails, no failure_url",
            json!({"failure_url": null}),
            log_steps(),
        ),
    );
    let callback = authorize(dev, &provider, &no_failure_url, "u2", "tess");
    let r = send("GET", &callback, &[], None);
    assert_problem(&r, 503, None, "run_not_started");
    assert_eq!(connections(dev, &no_failure_url).len(), 1);
}

/// The headers every `/oauth/` answer carries, redirects and problems alike.
fn assert_hardened(r: &Resp) {
    assert_eq!(
        r.header("cache-control"),
        Some("no-store"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
}

#[test]
fn a_spent_sign_in_removes_its_cookie_and_takes_no_head() {
    let dev = dev();
    let provider = Provider::start(&dev.base, 3600);
    let wf = create_deployed(
        dev,
        &definition(&provider, "Cookie", json!({}), log_steps()),
    );
    let states = || {
        d1_count(
            dev,
            &format!("SELECT COUNT(*) AS n FROM oauth_states WHERE workflow_id = '{wf}'"),
        )
    };

    // A HEAD (a link scanner's) neither starts a sign-in nor finishes one.
    let path = signin_path(&wf, "u-head");
    let r = send_without_cookies("HEAD", &dev.url(&path), &[], None);
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.header("allow"), Some("GET"));
    assert_hardened(&r);
    assert_eq!(states(), 0);

    // A query value that is not UTF-8 once decoded is refused, not read changed.
    let r = send(
        "GET",
        &dev.url(&format!(
            "{path}&redirect={}/app/done%FF",
            enc(&provider.base)
        )),
        &[],
        None,
    );
    assert_problem(&r, 400, Some("query.redirect"), "not valid UTF-8");
    assert_hardened(&r);
    assert_eq!(states(), 0);

    // The Sign-in URL's redirect sets the sign-in's cookie.
    let r = send("GET", &dev.url(&path), &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
    assert_hardened(&r);
    let set = r
        .header("set-cookie")
        .expect("the sign-in's cookie")
        .to_string();
    let name = set.split('=').next().unwrap().to_string();
    assert!(name.starts_with("tripline_signin_"), "{set}");
    let to_provider = r.header("location").unwrap().to_string();
    assert_eq!(states(), 1);
    let callback = provider_login(&provider, &to_provider, "alice", "allow");
    let r = send_without_cookies("HEAD", &callback, &[("cookie", &set)], None);
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(states(), 1, "a HEAD of the callback spends nothing");

    // An empty `error` beside the code is no refusal; the answer removes the cookie.
    let r = send("GET", &format!("{callback}&error="), &[], None);
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some(format!("{}/app/done", provider.base).as_str())
    );
    assert_hardened(&r);
    assert_eq!(
        r.header("set-cookie"),
        Some(format!("{name}=; Path=/oauth/; Max-Age=0; HttpOnly; SameSite=Lax").as_str())
    );
    assert_eq!(states(), 0);
    assert_eq!(connections(dev, &wf).len(), 1);

    // A problem under /oauth/ is hardened too, and one before any state is taken removes no
    // cookie.
    let r = send("GET", &dev.url(&format!("/oauth/{wf}/callback")), &[], None);
    assert_problem(&r, 400, Some("query.state"), "required");
    assert_hardened(&r);
    assert_eq!(r.header("set-cookie"), None);

    // An empty `error` alone is a refusal the app can name.
    let to_provider = signin(dev, &wf, "u-empty");
    let callback = provider_login(&provider, &to_provider, "bob", "allow");
    let state = query(&callback)["state"].clone();
    let r = send(
        "GET",
        &dev.url(&format!(
            "/oauth/{wf}/callback?state={}&error=",
            enc(&state)
        )),
        &[],
        None,
    );
    let q = failure_query(&r, &provider);
    assert_eq!(q["error"], "unknown_error");
    assert_eq!(q["user_id"], "u-empty");
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(connections(dev, &wf).len(), 1);
}
