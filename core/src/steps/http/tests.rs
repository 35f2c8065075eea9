use super::*;
use crate::steps::Step;
use serde_json::json;

fn parse_http(v: Value) -> (Option<HttpStep>, Errors) {
    let mut errors = Errors::new();
    let earlier = vec![crate::template::EarlierStep::new("a", Some("http"))];
    let scope = Scope {
        allowed_roots: &["request", "steps", "workflow", "run"],
        earlier_steps: &earlier,
    };
    let step = match Step::parse(&v, "steps[1]", 1, &scope, &mut errors) {
        Some(Step::Http(s)) => Some(s),
        _ => None,
    };
    (step, errors)
}

fn secrets(name: &str) -> Option<String> {
    (name == "TOKEN").then(|| "tok_secret_value".to_string())
}

fn context() -> Value {
    json!({
        "request": {"body": {"email": "a b@c.d", "tags": ["x", "y&z"], "n": 5, "none": null,
                             "host": "api.example.com"}},
        "steps": {"a": {"status": 200, "body": {"id": 7}}},
        "run": {"id": "run_1"}
    })
}

#[test]
fn defaults() {
    let (step, errors) = parse_http(json!({"type": "http", "url": "https://x.test/a"}));
    assert!(errors.is_empty(), "{errors:?}");
    let step = step.unwrap();
    assert_eq!(step.name, "http_1");
    assert_eq!(step.method, "GET");
    assert_eq!(step.timeout_ms, DEFAULT_TIMEOUT_MS);
    assert_eq!(step.retries, DEFAULT_RETRIES);
    assert!(!step.allow_error);

    let (step, _) = parse_http(json!({"type": "http", "url": "https://x.test", "json": {}}));
    assert_eq!(step.unwrap().method, "POST");
    let (step, _) = parse_http(
        json!({"type": "http", "url": "https://x.test", "method": "patch", "body": "x"}),
    );
    assert_eq!(step.unwrap().method, "PATCH");
}

#[test]
fn prepares_a_full_request() {
    let (step, errors) = parse_http(json!({
        "type": "http", "name": "call", "method": "POST",
        "url": "https://api.example.com/v1/items/{{steps.a.body.id}}?fixed=1#top",
        "headers": {"Authorization": "Bearer {{secrets.TOKEN}}", "X-Run": "{{run.id}}",
                    "X-Status": "{{steps.a.status}}"},
        "query": {"email": "{{request.body.email}}", "tag": "{{request.body.tags}}",
                  "n": 3, "flag": true, "gone": "{{request.body.none}}", "list": ["a", 1]},
        "json": {"id": "{{steps.a.body.id}}", "email": "{{request.body.email}}"},
        "timeout_ms": 5000, "retries": 0, "allow_error": true
    }));
    assert!(errors.is_empty(), "{errors:?}");
    let req = step.unwrap().prepare(&context(), &secrets, &[]).unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.url,
        "https://api.example.com/v1/items/7?fixed=1&email=a%20b%40c.d&tag=x&tag=y%26z&n=3&flag=true&list=a&list=1#top"
    );
    assert_eq!(
        req.headers,
        vec![
            (
                "Authorization".to_string(),
                "Bearer tok_secret_value".to_string()
            ),
            ("X-Run".to_string(), "run_1".to_string()),
            ("X-Status".to_string(), "200".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
        ]
    );
    assert_eq!(req.body.as_deref(), Some(r#"{"id":7,"email":"a b@c.d"}"#));
    assert_eq!(req.timeout_ms, 5000);
    assert_eq!(req.secrets_used, vec!["tok_secret_value"]);
    let record = req.to_record();
    assert_eq!(record["headers"]["Authorization"], json!("[redacted]"));
    assert_eq!(record["body"], json!({"id": 7, "email": "a b@c.d"}));
}

#[test]
fn text_body_and_explicit_content_type() {
    let (step, _) = parse_http(json!({
        "type": "http", "method": "PUT", "url": "https://x.test/",
        "headers": {"Content-Type": "text/csv"}, "body": "id\n{{steps.a.body.id}}"
    }));
    let req = step.unwrap().prepare(&context(), &secrets, &[]).unwrap();
    assert_eq!(req.body.as_deref(), Some("id\n7"));
    assert_eq!(
        req.headers,
        vec![("Content-Type".to_string(), "text/csv".to_string())]
    );
    let (step, _) = parse_http(json!({"type": "http", "url": "https://x.test/", "body": "hi"}));
    let req = step.unwrap().prepare(&context(), &secrets, &[]).unwrap();
    assert_eq!(
        header(&req.headers, "Content-Type"),
        Some("text/plain; charset=utf-8")
    );
}

#[test]
fn prepare_errors_are_located_by_field() {
    let (step, _) = parse_http(json!({"type": "http", "url": "{{request.body.email}}"}));
    let e = step
        .unwrap()
        .prepare(&context(), &secrets, &[])
        .unwrap_err();
    assert_eq!(e.location, "url");
    assert!(e.message.contains("http:// or https://"));

    let (step, _) = parse_http(json!({"type": "http", "url": "https://x.test",
        "json": {"items": [{"id": "{{steps.a.body.missing}}"}]}}));
    let e = step
        .unwrap()
        .prepare(&context(), &secrets, &[])
        .unwrap_err();
    assert_eq!(e.location, "json.items[0].id");
    assert!(e.message.contains("`steps.a.body` has no field `missing`"));

    let (step, _) = parse_http(json!({"type": "http", "url": "https://x.test",
        "headers": {"X-Key": "{{secrets.NOPE}}"}}));
    let e = step
        .unwrap()
        .prepare(&context(), &secrets, &[])
        .unwrap_err();
    assert_eq!(e.location, "headers.X-Key");

    let ctx = json!({"request": {"body": {"evil": "a\r\nX-Injected: 1"}}});
    let (step, _) = parse_http(json!({"type": "http", "url": "https://x.test",
        "headers": {"X-V": "{{request.body.evil}}"}}));
    let e = step.unwrap().prepare(&ctx, &secrets, &[]).unwrap_err();
    assert!(e.message.contains("line break"));
}

#[test]
fn query_helpers() {
    assert_eq!(percent_encode("a b/é~"), "a%20b%2F%C3%A9~");
    let pairs = vec![("q".to_string(), "1".to_string())];
    assert_eq!(append_query("https://x.test", &pairs), "https://x.test?q=1");
    assert_eq!(
        append_query("https://x.test/?", &pairs),
        "https://x.test/?q=1"
    );
    assert_eq!(
        append_query("https://x.test/?a=b", &pairs),
        "https://x.test/?a=b&q=1"
    );
    assert_eq!(
        append_query("https://x.test/#f", &pairs),
        "https://x.test/?q=1#f"
    );
    assert_eq!(append_query("https://x.test/#f", &[]), "https://x.test/#f");
}

#[test]
fn url_checks() {
    assert_eq!(literal_url_problem("https://x.test"), None);
    assert_eq!(literal_url_problem("HTTP://x.test"), None);
    assert!(literal_url_problem("ftp://x.test").is_some());
    assert!(literal_url_problem("https:///path").is_some());
    assert!(literal_url_problem("x.test/a").is_some());
    assert_eq!(literal_url_problem("{{steps.a.body.url}}"), None);
    assert_eq!(literal_url_problem("https://{{request.body.host}}"), None);
    assert_eq!(
        literal_url_problem("ftp://{{request.body.host}}"),
        Some("must be an http:// or https:// URL, not `ftp:`".to_string())
    );
    assert!(rendered_url_problem("https://ok.test/é").is_none());
    assert!(rendered_url_problem("https://ok.test/\n").is_some());
    assert!(rendered_url_problem("é").is_some());
}

/// A step that carries a secret or token must write its scheme and host literally: request
/// data can never choose where a credential goes. Checked at save, at the step's `url`.
#[test]
fn a_credential_carrying_step_has_a_literal_host() {
    let refused = [
        json!({"type": "http", "url": "{{request.body.url}}",
               "headers": {"authorization": "Bearer {{secrets.TOKEN}}"}}),
        json!({"type": "http", "url": "https://api.example.com{{request.query.p}}",
               "headers": {"authorization": "Bearer {{secrets.TOKEN}}"}}),
        json!({"type": "http", "url": "https://{{request.body.host}}/v1",
               "query": {"key": "{{secrets.TOKEN}}"}}),
        json!({"type": "http", "url": "https://{{request.body.user}}@api.example.com/v1",
               "json": {"token": "{{secrets.TOKEN}}"}}),
        json!({"type": "http", "url": "https://api.example.com:{{request.body.port}}/",
               "body": "{{secrets.TOKEN}}"}),
        // A credential written into the step itself: by its name, or by its look.
        json!({"type": "http", "url": "{{request.body.callback}}",
               "headers": {"authorization": "Bearer sk_live_0123456789abcdef"}}),
        json!({"type": "http", "url": "{{request.body.callback}}",
               "headers": {"x-api-key": "k-123"}}),
        json!({"type": "http", "url": "{{request.body.callback}}",
               "headers": {"x-forward": "Bearer abc.def"}}),
        json!({"type": "http", "url": "{{request.body.callback}}",
               "query": {"api_key": "k-123"}}),
        json!({"type": "http", "url": "{{request.body.callback}}",
               "query": {"k": ["a", "ghp_0123456789abcdef"]}}),
        json!({"type": "http", "url": "{{request.body.callback}}",
               "json": {"login": {"password": "hunter2"}}}),
        json!({"type": "http", "url": "{{request.body.callback}}",
               "json": {"list": ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"]}}),
        json!({"type": "http", "url": "{{request.body.callback}}",
               "body": "Basic dXNlcjpwYXNz"}),
    ];
    for def in refused {
        let (_, errors) = parse_http(def.clone());
        assert_eq!(errors.len(), 1, "{def}: {errors:?}");
        assert_eq!(errors.0[0].location, "steps[1].url", "{def}");
        assert!(
            errors.0[0].message.contains("literal scheme and host"),
            "{def}"
        );
    }
    // Numbers and flags under credential-like names are no credentials (`max_tokens`).
    let (step, errors) = parse_http(json!({"type": "http", "url": "{{request.body.callback}}",
                                           "json": {"max_tokens": 5, "password_set": true}}));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(step.unwrap().pinned_origin, None);
    // A literal host with templates after the first `/`, or no credential at all: fine.
    for def in [
        json!({"type": "http", "url": "https://api.example.com/v1/{{request.query.p}}",
               "headers": {"authorization": "Bearer {{secrets.TOKEN}}"}}),
        json!({"type": "http", "url": "{{request.body.url}}", "json": {"a": "{{request.body.email}}"}}),
        json!({"type": "http", "url": "{{request.body.url}}?page=2&sort=created#top"}),
        json!({"type": "http", "url": "{{request.body.base}}/users/@me?q=a b"}),
    ] {
        let (step, errors) = parse_http(def.clone());
        assert!(errors.is_empty(), "{def}: {errors:?}");
        let step = step.unwrap();
        assert_eq!(
            step.pinned_origin.is_some(),
            def["headers"].is_object(),
            "{def}"
        );
    }
    // A credential written into the URL's own text: refused when saved (a definition stored
    // before that rule still reads, unpinned).
    for url in [
        "{{request.body.callback}}?api_key=k-123",
        "{{request.body.callback}}?a=1&Access%5FToken=x",
        "{{request.body.callback}}?k=sk_live_0123456789abcdef",
        "{{request.body.base}}/hooks/xoxb-0123456789abcdef/send",
    ] {
        let def = json!({"name": "n", "trigger": {"type": "endpoint"},
                         "steps": [{"type": "http", "name": "a", "url": url}]});
        let errors = crate::definition::Definition::parse(&def).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{url}: {errors:?}");
        assert_eq!(errors.0[0].location, "steps[0].url", "{url}");
        assert!(
            errors.0[0].message.contains("literal scheme and host"),
            "{url}"
        );
        let stored = crate::definition::Definition::parse_stored(&def).expect(url);
        assert!(matches!(&stored.steps[0],
            crate::steps::Step::Http(h) if h.unpinned_url_credential && h.pinned_origin.is_none()));
    }
    // User information is never sent by fetch: refused at save with what to do instead,
    // literal host or not.
    for url in [
        "https://user:pass@{{request.body.host}}/v1",
        "https://user:pass@api.example.com/v1",
    ] {
        let def = json!({"name": "n", "trigger": {"type": "endpoint"},
                         "steps": [{"type": "http", "name": "a", "url": "https://ok.example/"},
                                   {"type": "http", "name": "b", "url": url}]});
        let errors = crate::definition::Definition::parse(&def).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{url}: {errors:?}");
        assert_eq!(errors.0[0].location, "steps[1].url", "{url}");
        assert!(
            errors.0[0].message.contains("`Authorization` header"),
            "{url}: {errors:?}"
        );
        assert!(
            crate::definition::Definition::parse_stored(&def).is_ok(),
            "{url}"
        );
    }
    // A URL written out that does not parse is refused at save (every run would fail); one
    // stored before the rule still reads. Templated URLs are checked once filled in, and a host
    // outside ASCII is the platform's to map.
    for (url, why) in [
        ("http://[::1", "invalid IPv6 address"),
        ("http://x.example:99999/", "invalid port number"),
        (" https://a b.example/ ", "(`https://a b.example/`)"),
        ("http://b%C3%BCcher.example:99999/", "invalid port number"),
        ("http://a%zz.example/", "(`http://a%zz.example/`)"),
    ] {
        let def = json!({"name": "n", "trigger": {"type": "endpoint"},
                         "steps": [{"type": "http", "name": "a", "url": url}]});
        let errors = crate::definition::Definition::parse(&def).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{url}: {errors:?}");
        assert_eq!(errors.0[0].location, "steps[0].url", "{url}");
        assert!(
            errors.0[0].message.starts_with("is not a valid URL: ")
                && errors.0[0].message.contains(why),
            "{url}: {errors:?}"
        );
        assert!(
            crate::definition::Definition::parse_stored(&def).is_ok(),
            "{url}"
        );
    }
    for url in [
        "http://[::1]:8080/x",
        "https://bücher.example/a",
        "https://xn--bcher-kva.example/a",
        "http://b%C3%BCcher.example/",
        "http://x.example:{{request.body.port}}/",
        "https://api.example.com/v1/items?q=a b",
    ] {
        let def = json!({"name": "n", "trigger": {"type": "endpoint"},
                         "steps": [{"type": "http", "name": "a", "url": url}]});
        assert!(
            crate::definition::Definition::parse(&def).is_ok(),
            "{url}: {:?}",
            crate::definition::Definition::parse(&def).err()
        );
    }
    // Not credentials: a fragment holding `@`, a path part that only starts like a key id.
    for url in [
        "{{request.body.base}}/x#a@b",
        "{{request.body.base}}/akiak-inventory-2024",
    ] {
        let def = json!({"name": "n", "trigger": {"type": "endpoint"},
                         "steps": [{"type": "http", "name": "a", "url": url}]});
        assert!(crate::definition::Definition::parse(&def).is_ok(), "{url}");
    }
    // A literal host with a credential in its URL's text is pinned to that host.
    let (step, errors) = parse_http(json!({"type": "http",
        "url": "https://api.example.com/v1?api_key=k-123&q={{request.body.q}}"}));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        step.unwrap().pinned_origin.as_deref(),
        Some("https://api.example.com")
    );
    // A token inside data read whole (an earlier step's body) pins the host too: to a literal
    // host, or the step fails rather than send it where request data says.
    let mut ctx = context();
    ctx["steps"]["a"]["body"] = json!({"id": 7, "access_token": "tok_from_login"});
    ctx["request"]["body"]["callback"] = json!("https://evil.example/x");
    let (step, errors) = parse_http(json!({"type": "http", "url": "{{request.body.callback}}",
                                           "json": {"r": "{{steps.a.body}}"}}));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(step.as_ref().unwrap().pinned_origin, None);
    let e = step.unwrap().prepare(&ctx, &secrets, &[]).unwrap_err();
    assert_eq!(e.location, "url");
    assert!(
        e.message.contains("secret or token found in the data"),
        "{e:?}"
    );
    let (step, _) = parse_http(json!({"type": "http", "url": "https://api.example.com/in",
                                      "json": {"r": "{{steps.a.body}}"}}));
    let req = step.unwrap().prepare(&ctx, &secrets, &[]).unwrap();
    assert_eq!(
        req.pinned_origin.as_deref(),
        Some("https://api.example.com")
    );
    // So does a value that looks like a credential under any name in an earlier step's
    // output (kept as it was returned).
    ctx["steps"]["a"]["body"] = json!({"jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
                                       "auth": "Bearer abc123"});
    for template in [
        json!({"r": "{{steps.a.body}}"}),
        json!({"r": "{{steps.a.body.auth}}"}),
    ] {
        let (step, _) = parse_http(json!({"type": "http", "url": "{{request.body.callback}}",
                                          "json": template}));
        let e = step.unwrap().prepare(&ctx, &secrets, &[]).unwrap_err();
        assert_eq!(e.location, "url", "{template}");
    }
    // Request data is stored with such values redacted; what is left is not held back.
    ctx["request"]["body"]["note"] = json!("Bearer-less text");
    let (step, _) = parse_http(json!({"type": "http", "url": "{{request.body.callback}}",
                                      "json": {"n": "{{request.body.note}}"}}));
    assert_eq!(
        step.unwrap()
            .prepare(&ctx, &secrets, &[])
            .unwrap()
            .pinned_origin,
        None
    );
    // A value already redacted in the stored input is no credential.
    ctx["steps"]["a"]["body"] = json!({"id": 7, "password": "[redacted]"});
    let (step, _) = parse_http(json!({"type": "http", "url": "{{request.body.callback}}",
                                      "json": {"r": "{{steps.a.body}}"}}));
    let req = step.unwrap().prepare(&ctx, &secrets, &[]).unwrap();
    assert_eq!(req.pinned_origin, None);
    // Even `p=@evil.example/` in a later part cannot move the host.
    let (step, _) = parse_http(json!({"type": "http",
        "url": "https://api.example.com/{{request.body.email}}",
        "headers": {"authorization": "Bearer {{secrets.TOKEN}}"}}));
    let req = step.unwrap().prepare(&context(), &secrets, &[]).unwrap();
    assert_eq!(
        req.pinned_origin.as_deref(),
        Some("https://api.example.com")
    );
    assert_eq!(
        literal_origin("https://API.example.com:8443/x").unwrap(),
        "https://api.example.com:8443"
    );
    assert!(literal_origin("https://a.example@evil.example/").is_err());
}

#[test]
fn a_filled_in_url_with_braces_in_a_value_still_calls_its_pinned_host() {
    // What a request puts in the URL is a value, never read as a template again.
    let mut ctx = context();
    for q in ["{{", "{{a b}}", "}}{{x", "{{request.body.host}}"] {
        ctx["request"]["body"]["q"] = json!(q);
        let (step, errors) = parse_http(json!({"type": "http",
            "url": "https://api.example.com/search?q={{request.body.q}}",
            "headers": {"authorization": "Bearer {{secrets.TOKEN}}"}}));
        assert!(errors.is_empty(), "{errors:?}");
        let req = step.unwrap().prepare(&ctx, &secrets, &[]).unwrap();
        assert_eq!(
            req.pinned_origin.as_deref(),
            Some("https://api.example.com"),
            "{q}"
        );
        // Written as data: `{{a b}}` is sent `{{a%20b}}`, as the URL parser would write it.
        let sent = crate::kernel::percent::encode_url_data(q, true);
        assert_eq!(req.url, format!("https://api.example.com/search?q={sent}"));
    }
    // A value after the literal host cannot move it, whatever it holds.
    ctx["request"]["body"]["q"] = json!("@evil.example/{{");
    let (step, errors) = parse_http(json!({"type": "http",
        "url": "https://api.example.com/{{request.body.q}}",
        "headers": {"authorization": "Bearer {{secrets.TOKEN}}"}}));
    assert!(errors.is_empty(), "{errors:?}");
    let req = step.unwrap().prepare(&ctx, &secrets, &[]).unwrap();
    assert_eq!(
        req.pinned_origin.as_deref(),
        Some("https://api.example.com")
    );
    assert!(
        req.url.starts_with("https://api.example.com/"),
        "{}",
        req.url
    );
}

#[test]
fn a_value_in_the_url_cannot_change_its_path_or_query() {
    let step = |url: &str| {
        let (step, errors) = parse_http(json!({"type": "http", "method": "POST", "url": url,
            "headers": {"authorization": "Bearer {{secrets.TOKEN}}"}}));
        assert!(errors.is_empty(), "{errors:?}");
        step.unwrap()
    };
    let with = |n: &str| {
        let mut ctx = context();
        ctx["request"]["body"]["n"] = json!(n);
        ctx
    };
    let path = step("https://api.example.com/repos/{{request.body.n}}/comments?scope=limited");
    // `?`, `#`, `%` and `\` are written as data; a `/` fills more segments.
    let req = path.prepare(&with("a?b#c%2e\\d"), &secrets, &[]).unwrap();
    assert_eq!(
        req.url,
        "https://api.example.com/repos/a%3Fb%23c%252e%5Cd/comments?scope=limited"
    );
    let req = path.prepare(&with("org/repo"), &secrets, &[]).unwrap();
    assert_eq!(
        req.url,
        "https://api.example.com/repos/org/repo/comments?scope=limited"
    );
    // A `.` or `..` segment would climb out of the path: refused before anything is sent.
    for n in ["..", "../../../user/repos#", "a/./b", "."] {
        let e = path.prepare(&with(n), &secrets, &[]).unwrap_err();
        assert_eq!(e.location, "url", "{n}");
        assert!(e.message.contains("`..` segment"), "{n}: {}", e.message);
    }
    // `..` inside a segment is a name like any other.
    assert!(path.prepare(&with("a..b"), &secrets, &[]).is_ok());
    // In the query, `&`, `+`, `#` and `%` are data too: no parameter is added.
    let query = step("https://api.example.com/search?q={{request.body.n}}&scope=limited");
    let req = query
        .prepare(&with("x&scope=all#+%"), &secrets, &[])
        .unwrap();
    assert_eq!(
        req.url,
        "https://api.example.com/search?q=x%26scope=all%23%2B%25&scope=limited"
    );
    // Secrets are written as the author chose; a URL that starts with a template takes its
    // values as they are.
    let (open, errors) = parse_http(json!({"type": "http",
        "url": "{{request.body.n}}/x?k={{request.body.n}}"}));
    assert!(errors.is_empty(), "{errors:?}");
    let req = open
        .unwrap()
        .prepare(&with("https://hooks.example.com/a?b=1"), &secrets, &[])
        .unwrap();
    assert_eq!(
        req.url,
        "https://hooks.example.com/a?b=1/x?k=https://hooks.example.com/a?b=1"
    );
    let raw = step("https://api.example.com/{{secrets.TOKEN}}?x=y");
    let req = raw.prepare(&context(), &secrets, &[]).unwrap();
    assert_eq!(req.url, "https://api.example.com/tok_secret_value?x=y");
}

#[test]
fn a_credential_read_into_the_url_is_scrubbed_in_the_form_sent() {
    let (step, errors) = parse_http(json!({"type": "http",
        "url": "https://api.example.com/x?t={{steps.a.body.token}}"}));
    assert!(errors.is_empty(), "{errors:?}");
    let mut ctx = context();
    ctx["steps"]["a"]["body"]["token"] = json!("ab+cd/ef==gh");
    let req = step.unwrap().prepare(&ctx, &secrets, &[]).unwrap();
    assert_eq!(req.url, "https://api.example.com/x?t=ab%2Bcd/ef==gh");
    assert!(req.secrets_used.iter().any(|s| s == "ab%2Bcd/ef==gh"));
    assert_eq!(
        redact_url(&req.url, &req.secrets_used),
        "https://api.example.com/x?t=[redacted]"
    );
}

#[test]
fn a_secret_an_earlier_answer_echoed_counts_as_one_the_request_sends() {
    let mut ctx = context();
    ctx["steps"]["a"]["body"]["msg"] = json!("invalid key tok_secret_value");
    ctx["request"]["body"]["host"] = json!("https://hooks.example.com/x");
    let hidden = vec!["tok_secret_value".to_string()];
    // Sent on to a host the request chose: refused before anything is sent.
    let (open, errors) = parse_http(json!({"type": "http", "method": "POST",
        "url": "{{request.body.host}}", "json": {"status": "{{steps.a.body.msg}}"}}));
    assert!(errors.is_empty(), "{errors:?}");
    let open = open.unwrap();
    let e = open.prepare(&ctx, &secrets, &hidden).unwrap_err();
    assert_eq!(e.location, "url");
    assert!(
        e.message.contains("literal scheme and host"),
        "{}",
        e.message
    );
    // Without the run's secrets to look for, the echo is not known.
    assert!(open.prepare(&ctx, &secrets, &[]).is_ok());
    // To a literal host: sent there only, and scrubbed from the record.
    let (pinned, errors) = parse_http(json!({"type": "http", "method": "POST",
        "url": "https://api.example.com/notes", "json": {"said": "{{steps.a.body.msg}}"}}));
    assert!(errors.is_empty(), "{errors:?}");
    let req = pinned.unwrap().prepare(&ctx, &secrets, &hidden).unwrap();
    assert_eq!(
        req.pinned_origin.as_deref(),
        Some("https://api.example.com")
    );
    let mut record = req.to_record();
    redact(&mut record, &req.secrets_used);
    assert!(!record.to_string().contains("tok_secret_value"), "{record}");
}

#[test]
fn a_url_s_shape_is_read_as_it_is_sent() {
    let step = |url: &str| {
        let (step, errors) = parse_http(json!({"type": "http", "method": "POST", "url": url,
            "headers": {"authorization": "Bearer {{secrets.TOKEN}}"}}));
        assert!(errors.is_empty(), "{errors:?}");
        step.unwrap()
    };
    let mut ctx = context();
    ctx["request"]["body"]["n"] = json!("../../admin?x=");
    // Sent trimmed, so read trimmed: a leading space does not make the values raw.
    let spaced = step(" https://api.example.com/repos/{{request.body.n}}/comments");
    let e = spaced.prepare(&ctx, &secrets, &[]).unwrap_err();
    assert!(e.message.contains("`..` segment"), "{}", e.message);
    // `;` is data too: `..;` is a parent segment to some servers, `;` a separator to some
    // query parsers.
    ctx["request"]["body"]["n"] = json!("..;x");
    let req = step("https://api.example.com/a/{{request.body.n}}?q={{request.body.n}}")
        .prepare(&ctx, &secrets, &[])
        .unwrap();
    assert_eq!(req.url, "https://api.example.com/a/..%3Bx?q=..%3Bx");
    // A secret that ends the path: a value after it is in the query.
    let ends_path = |name: &str| match name {
        "TOKEN" => Some("tok_secret_value".to_string()),
        "BASE" => Some("v1?key=k".to_string()),
        _ => None,
    };
    ctx["request"]["body"]["n"] = json!("a&admin=1");
    let req = step("https://api.example.com/{{secrets.BASE}}/{{request.body.n}}")
        .prepare(&ctx, &ends_path, &[])
        .unwrap();
    assert_eq!(req.url, "https://api.example.com/v1?key=k/a%26admin=1");
}
