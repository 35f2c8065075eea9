use super::*;
use crate::steps::fields::MAX_HEADERS_BYTES;
use crate::steps::Step;
use serde_json::json;

fn parse_response(v: Value) -> (Option<ResponseStep>, Errors) {
    let mut errors = Errors::new();
    let earlier = vec![crate::template::EarlierStep::new("call", Some("http"))];
    let scope = Scope {
        allowed_roots: &["request", "steps", "run"],
        earlier_steps: &earlier,
    };
    let step = match Step::parse(&v, "steps[1]", 1, &scope, &mut errors) {
        Some(Step::Response(s)) => Some(s),
        _ => None,
    };
    (step, errors)
}

fn no_secrets(_: &str) -> Option<String> {
    None
}

fn context() -> Value {
    json!({"steps": {"call": {"status": 201, "body": {"id": "x1"}}}, "run": {"id": "run_1"}})
}

#[test]
fn defaults_to_200_without_body() {
    let (step, errors) = parse_response(json!({"type": "response"}));
    assert!(errors.is_empty());
    let resp = step.unwrap().prepare(&context(), &no_secrets).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, None);
    assert_eq!(resp.content_type, None);
    assert!(resp.headers.is_empty());
}

#[test]
fn json_reply_with_templated_status() {
    let (step, errors) = parse_response(json!({
        "type": "response", "status": "{{steps.call.status}}",
        "headers": {"X-Run": "{{run.id}}"},
        "json": {"ok": true, "id": "{{steps.call.body.id}}"}
    }));
    assert!(errors.is_empty(), "{errors:?}");
    let resp = step.unwrap().prepare(&context(), &no_secrets).unwrap();
    assert_eq!(resp.status, 201);
    assert_eq!(resp.body.as_deref(), Some(r#"{"ok":true,"id":"x1"}"#));
    assert_eq!(resp.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        resp.headers,
        vec![
            ("X-Run".to_string(), "run_1".to_string()),
            ("content-type".to_string(), "application/json".to_string())
        ]
    );
}

#[test]
fn a_header_value_past_latin_1_fails_at_its_header_and_latin_1_passes() {
    let mut ctx = context();
    ctx["steps"]["call"]["body"]["id"] = json!("5 €");
    let (step, errors) = parse_response(json!({
        "type": "response", "headers": {"X-Label": "{{steps.call.body.id}}"}
    }));
    assert!(errors.is_empty(), "{errors:?}");
    let e = step.unwrap().prepare(&ctx, &no_secrets).unwrap_err();
    assert_eq!(e.location, "headers.X-Label");
    assert!(e.message.contains("`€`"), "{e:?}");
    ctx["steps"]["call"]["body"]["id"] = json!("café");
    let (step, _) = parse_response(json!({
        "type": "response", "headers": {"X-Label": "{{steps.call.body.id}}"}
    }));
    let resp = step.unwrap().prepare(&ctx, &no_secrets).unwrap();
    assert_eq!(
        resp.headers,
        vec![("X-Label".to_string(), "café".to_string())]
    );
}

#[test]
fn text_body_and_own_content_type() {
    let (step, _) = parse_response(json!({
        "type": "response", "status": 202, "headers": {"Content-Type": "text/html"},
        "body": "<p>{{run.id}}</p>"
    }));
    let resp = step.unwrap().prepare(&context(), &no_secrets).unwrap();
    assert_eq!(resp.status, 202);
    assert_eq!(resp.body.as_deref(), Some("<p>run_1</p>"));
    assert_eq!(resp.content_type.as_deref(), Some("text/html"));
}

#[test]
fn status_problems() {
    let (_, errors) = parse_response(json!({"type": "response", "status": 100}));
    assert_eq!(errors.0[0].location, "steps[1].status");
    assert_eq!(
        errors.0[0].message,
        "status must be between 200 and 599, got 100"
    );
    let (_, errors) = parse_response(json!({"type": "response", "status": "ok"}));
    assert!(errors.0[0].message.contains("got `ok`"));
    let (step, errors) = parse_response(json!({"type": "response", "status": "201"}));
    assert!(errors.is_empty());
    assert_eq!(step.unwrap().status, StatusTemplate::Fixed(201));
    let (_, errors) = parse_response(json!({"type": "response", "status": 204, "json": {}}));
    assert_eq!(errors.0[0].location, "steps[1].json");

    let ctx = json!({"steps": {"call": {"status": "nope"}}});
    let (step, _) = parse_response(json!({"type": "response", "status": "{{steps.call.status}}"}));
    let e = step.unwrap().prepare(&ctx, &no_secrets).unwrap_err();
    assert_eq!(e.location, "status");
    assert!(e.message.starts_with("once filled in, status must be"));
    // A status that read a credential never quotes it.
    let ctx = json!({"steps": {"call": {"body": {"token": "tok_9f8e7d6c"}}}});
    let (step, _) =
        parse_response(json!({"type": "response", "status": "{{steps.call.body.token}}"}));
    let e = step.unwrap().prepare(&ctx, &no_secrets).unwrap_err();
    assert!(!e.message.contains("tok_9f8e7d6c"), "{}", e.message);
    assert!(e.message.contains("[redacted]"), "{}", e.message);

    let ctx = json!({"steps": {"call": {"status": 304}}});
    let (step, _) =
        parse_response(json!({"type": "response", "status": "{{steps.call.status}}", "body": "x"}));
    let e = step.unwrap().prepare(&ctx, &no_secrets).unwrap_err();
    assert_eq!(e.message, "a 304 response cannot have a body");
}

/// A `sandbox` directive lifts the reply's sandbox only when the definition writes it: one a
/// template filled in from the request gets the sandbox added next to it.
#[test]
fn only_a_written_sandbox_replaces_the_replys() {
    use crate::endpoint::runtime::{reply_policy, REPLY_SANDBOX};
    let ctx =
        json!({"request": {"query": {"p": "https://a; sandbox allow-scripts allow-same-origin"}}});
    let (step, errors) = parse_response(json!({
        "type": "response",
        "headers": {"Content-Security-Policy": "frame-ancestors {{request.query.p}}"},
        "body": "hello"
    }));
    assert!(errors.is_empty(), "{errors:?}");
    let resp = step.unwrap().prepare(&ctx, &no_secrets).unwrap();
    let csp = resp.headers[0].1.clone();
    assert_eq!(
        csp,
        format!(
            "frame-ancestors https://a; sandbox allow-scripts allow-same-origin, {REPLY_SANDBOX}"
        )
    );
    // As sent: the browser enforces the reply's sandbox as a policy of its own.
    assert_eq!(reply_policy(Some(&csp)), None);

    let (step, _) = parse_response(json!({
        "type": "response",
        "headers": {"content-security-policy": "sandbox allow-scripts allow-same-origin; frame-ancestors {{request.query.p}}"},
        "body": "hello"
    }));
    let resp = step
        .unwrap()
        .prepare(&json!({"request": {"query": {"p": "'none'"}}}), &no_secrets)
        .unwrap();
    assert_eq!(
        resp.headers[0].1,
        "sandbox allow-scripts allow-same-origin; frame-ancestors 'none'"
    );

    // A written sandbox after a filled-in one: the browser keeps the first of a policy's two,
    // the request's, so the reply's sandbox goes next to them.
    let (step, _) = parse_response(json!({
        "type": "response",
        "headers": {"content-security-policy": "frame-ancestors {{request.query.p}}; sandbox allow-scripts"},
        "body": "hello"
    }));
    let resp = step.unwrap().prepare(&ctx, &no_secrets).unwrap();
    assert_eq!(
        resp.headers[0].1,
        format!(
            "frame-ancestors https://a; sandbox allow-scripts allow-same-origin; sandbox allow-scripts, {REPLY_SANDBOX}"
        )
    );
    // The same template filled in harmlessly keeps its own sandbox.
    let (step, _) = parse_response(json!({
        "type": "response",
        "headers": {"content-security-policy": "frame-ancestors {{request.query.p}}; sandbox allow-scripts"},
        "body": "hello"
    }));
    let resp = step
        .unwrap()
        .prepare(
            &json!({"request": {"query": {"p": "https://a"}}}),
            &no_secrets,
        )
        .unwrap();
    assert_eq!(
        resp.headers[0].1,
        "frame-ancestors https://a; sandbox allow-scripts"
    );
}

#[test]
fn headers_too_large_to_deliver_are_refused_where_they_pass_the_limit() {
    let big = "a".repeat(20_000);
    let (_, errors) = parse_response(json!({
        "type": "response", "headers": {"x-a": big, "x-t": "{{run.id}}", "x-b": big, "x-c": big}
    }));
    let at: Vec<&str> = errors.0.iter().map(|e| e.location.as_str()).collect();
    assert_eq!(at, ["steps[1].headers.x-b"], "{errors:?}");
    assert!(errors.0[0].message.contains("32768 bytes"), "{errors:?}");
    let mut ctx = context();
    ctx["steps"]["call"]["body"]["id"] = json!(big);
    let (step, errors) = parse_response(json!({
        "type": "response",
        "headers": {"x-a": "{{steps.call.body.id}}", "x-b": "{{steps.call.body.id}}"}
    }));
    assert!(errors.is_empty(), "{errors:?}");
    let e = step.unwrap().prepare(&ctx, &no_secrets).unwrap_err();
    assert_eq!(e.location, "headers.x-b");
    assert!(
        e.message.starts_with(
            "once its templates are filled in, the headers come to more than 32768 bytes"
        ),
        "{e:?}"
    );
    ctx["steps"]["call"]["body"]["id"] = json!("a".repeat(16_000));
    let (step, _) = parse_response(json!({
        "type": "response",
        "headers": {"x-a": "{{steps.call.body.id}}", "x-b": "{{steps.call.body.id}}"}
    }));
    assert_eq!(
        step.unwrap()
            .prepare(&ctx, &no_secrets)
            .unwrap()
            .headers
            .len(),
        2
    );
}

/// The limit counts each header's name, value and 4 bytes (`: ` and the line break): a set of
/// exactly 32 768 bytes is sent, one byte more is refused.
#[test]
fn headers_of_exactly_the_limit_pass() {
    let value = |n: usize| "v".repeat(n);
    let at_limit = MAX_HEADERS_BYTES - "x-a".len() - 4;
    let (_, errors) =
        parse_response(json!({"type": "response", "headers": {"x-a": value(at_limit)}}));
    assert!(errors.is_empty(), "{errors:?}");
    let (_, errors) =
        parse_response(json!({"type": "response", "headers": {"x-a": value(at_limit + 1)}}));
    assert_eq!(errors.0.len(), 1);
    assert!(
        errors.0[0].message.contains(&MAX_HEADERS_BYTES.to_string()),
        "{errors:?}"
    );
}
