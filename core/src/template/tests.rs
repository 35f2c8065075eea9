use super::*;
use serde_json::json;

fn context() -> Value {
    json!({
        "request": {
            "method": "POST",
            "headers": {"authorization": "Bearer tok_abcdef", "x-api-key": "k_123456"},
            "body": {"email": "a@b.c", "age": 42, "vip": true, "nothing": null,
                     "items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}],
                     "matrix": [[1, 2], [3, 4]], "obj": {"x": 1}}
        },
        "oauth": {"access_token": "ya29.secret-token", "scopes": ["a", "b"]},
        "steps": {"fetch": {"status": 200, "body": {"id": 7, "tags": ["x"]}}},
        "workflow": {"id": "wf_1", "version": 3},
        "run": {"id": "run_9"}
    })
}

fn no_secrets(_: &str) -> Option<String> {
    None
}

fn secrets(name: &str) -> Option<String> {
    (name == "API_KEY").then(|| "sk_live_abcdef".to_string())
}

fn r(t: Value) -> Result<Value, TemplateError> {
    render(&t, &context(), &secrets)
}

#[test]
fn exact_placeholder_keeps_type() {
    assert_eq!(r(json!("{{request.body.age}}")), Ok(json!(42)));
    assert_eq!(r(json!("{{ request.body.vip }}")), Ok(json!(true)));
    assert_eq!(r(json!("{{request.body.nothing}}")), Ok(Value::Null));
    assert_eq!(r(json!("{{request.body.obj}}")), Ok(json!({"x": 1})));
    assert_eq!(r(json!("{{steps.fetch.body.tags}}")), Ok(json!(["x"])));
    assert_eq!(r(json!("{{workflow.version}}")), Ok(json!(3)));
}

#[test]
fn placeholders_inside_text_are_stringified() {
    assert_eq!(
        r(json!("v{{workflow.version}} {{request.body.email}} {{request.body.obj}} {{request.body.nothing}} {{request.body.vip}}")),
        Ok(json!("v3 a@b.c {\"x\":1} null true"))
    );
    // whitespace outside the braces makes it text
    assert_eq!(r(json!(" {{workflow.version}}")), Ok(json!(" 3")));
}

#[test]
fn renders_recursively_but_not_keys() {
    assert_eq!(
        r(json!({"{{run.id}}": ["{{run.id}}", {"n": "{{steps.fetch.body.id}}"}, 5, null]})),
        Ok(json!({"{{run.id}}": ["run_9", {"n": 7}, 5, null]}))
    );
}

#[test]
fn indexes_in_both_notations_and_nested_arrays() {
    assert_eq!(r(json!("{{request.body.items.0.sku}}")), Ok(json!("A1")));
    assert_eq!(r(json!("{{request.body.items[1].sku}}")), Ok(json!("B2")));
    assert_eq!(r(json!("{{request.body.matrix[1][0]}}")), Ok(json!(3)));
    assert_eq!(r(json!("{{request.body.matrix.0.1}}")), Ok(json!(2)));
    assert_eq!(r(json!("{{ request.body.items[ 1 ].qty }}")), Ok(json!(1)));
}

#[test]
fn missing_paths_name_the_missing_part() {
    let e = r(json!({"a": ["x", "{{steps.fetch.body.name}}"]})).unwrap_err();
    assert_eq!(e.location, "a[1]");
    assert_eq!(e.path.as_deref(), Some("steps.fetch.body.name"));
    assert_eq!(
        e.message,
        "cannot resolve `steps.fetch.body.name`: `steps.fetch.body` has no field `name` (it has: id, tags)"
    );
    assert_eq!(e.to_string(), format!("a[1]: {}", e.message));

    let e = r(json!("{{request.body.items[5].sku}}")).unwrap_err();
    assert_eq!(
        e.message,
        "cannot resolve `request.body.items[5].sku`: `request.body.items` has 2 items, so there is no index 5"
    );
    let e = r(json!("{{request.body.items.first}}")).unwrap_err();
    assert!(
        e.message.contains("`request.body.items` is an array"),
        "{}",
        e.message
    );
    let e = r(json!("{{request.body.age.x}}")).unwrap_err();
    assert!(e
        .message
        .contains("`request.body.age` is an integer, so it has no `x`"));
    let e = r(json!("{{request.body.nothing.x}}")).unwrap_err();
    assert!(e.message.contains("`request.body.nothing` is null"));
    let e = r(json!("{{schedule.fired_at}}")).unwrap_err();
    assert!(e
        .message
        .contains("`schedule` is not available in this run"));
    let e = r(json!("{{request.body.matrix[0][9]}}")).unwrap_err();
    assert!(
        e.message.contains("`request.body.matrix[0]` has 2 items"),
        "{}",
        e.message
    );
}

#[test]
fn escaping_and_unclosed() {
    assert_eq!(
        r(json!("literal \\{{run.id}} and {{run.id}}")),
        Ok(json!("literal {{run.id}} and run_9"))
    );
    assert_eq!(r(json!("\\{{")), Ok(json!("{{")));
    assert_eq!(r(json!("a \\ b }} c")), Ok(json!("a \\ b }} c")));
    let e = r(json!({"x": "é {{run.id"})).unwrap_err();
    assert_eq!(e.location, "x");
    assert!(
        e.message.starts_with("unclosed `{{` at character 3"),
        "{}",
        e.message
    );
    assert!(r(json!("{{}}"))
        .unwrap_err()
        .message
        .contains("empty placeholder"));
    assert!(r(json!("{{a b}}"))
        .unwrap_err()
        .message
        .contains("unexpected ` `"));
    assert!(r(json!("{{a..b}}"))
        .unwrap_err()
        .message
        .contains("empty segment"));
    assert!(r(json!("{{a[x]}}"))
        .unwrap_err()
        .message
        .contains("must hold an index"));
    assert!(r(json!("{{a[1}}"))
        .unwrap_err()
        .message
        .contains("must hold an index"));
    // An index fits 32 bits everywhere: the Worker's `usize` is 32-bit, a native tool's is not,
    // and both must judge a definition alike.
    assert!(r(json!("{{a[4294967296]}}"))
        .unwrap_err()
        .message
        .contains("must hold an index"));
}

/// A secret is noted as written, as JSON writes it (a `json` body sent as text) and
/// percent-encoded (a query): a request record or an answer that echoes it in either form is
/// scrubbed.
#[test]
fn secrets_are_noted_in_every_form_a_request_carries_them() {
    let quoted = |name: &str| match name {
        "QUOTED" => Some("sk_\"quoted\"\nsecret".to_string()),
        _ => None,
    };
    let out = render_tracked(&json!("{{secrets.QUOTED}}"), &context(), &quoted).unwrap();
    assert_eq!(
        out.secrets_used,
        vec![
            "sk_\"quoted\"\nsecret",
            "sk_\\\"quoted\\\"\\nsecret",
            "sk_%22quoted%22%0Asecret"
        ]
    );
    // Each form is scrubbed from what is stored.
    let mut echoed = json!({"text": "{\"k\":\"sk_\\\"quoted\\\"\\nsecret\"}",
                            "path": "/x?q=sk_%22quoted%22%0Asecret"});
    crate::kernel::redact::redact(&mut echoed, &out.secrets_used);
    assert_eq!(
        echoed,
        json!({"text": "{\"k\":\"[redacted]\"}", "path": "/x?q=[redacted]"})
    );
    // Written into a URL as it is, a URL parser encodes only some characters: that form too.
    let spaced = |name: &str| match name {
        "PW" => Some("p@ss word secret".to_string()),
        _ => None,
    };
    let out = render_tracked(&json!("{{secrets.PW}}"), &context(), &spaced).unwrap();
    assert_eq!(
        out.secrets_used,
        vec![
            "p@ss word secret",
            "p%40ss%20word%20secret",
            "p@ss%20word%20secret"
        ]
    );
    let mut echoed = json!({"error": "no route /login/p@ss%20word%20secret"});
    crate::kernel::redact::redact(&mut echoed, &out.secrets_used);
    assert_eq!(echoed, json!({"error": "no route /login/[redacted]"}));
}

#[test]
fn a_value_too_short_to_scrub_is_no_credential_in_its_longer_forms() {
    let short = |name: &str| match name {
        "SHORT" => Some("a b".to_string()),
        _ => None,
    };
    let out = render_tracked(&json!("{{secrets.SHORT}}"), &context(), &short).unwrap();
    assert_eq!(out.secrets_used, vec!["a b"]);
    assert!(!crate::kernel::redact::carries_credentials(
        &out.secrets_used
    ));
}

#[test]
fn secrets_and_sensitive_values_are_tracked() {
    let out = render_tracked(
        &json!({"h": "Bearer {{secrets.API_KEY}}", "t": "{{oauth.access_token}}",
                "all": "{{request.headers}}", "e": "{{request.body.email}}"}),
        &context(),
        &secrets,
    )
    .unwrap();
    assert_eq!(out.value["h"], json!("Bearer sk_live_abcdef"));
    assert_eq!(
        out.secrets_used,
        vec![
            "sk_live_abcdef",
            "ya29.secret-token",
            "Bearer tok_abcdef",
            "Bearer%20tok_abcdef",
            "k_123456"
        ]
    );
    let e = render(&json!("{{secrets.MISSING}}"), &context(), &no_secrets).unwrap_err();
    assert_eq!(
        e.message,
        "secret `MISSING` is not set; add it with `wrangler secret put MISSING`"
    );
    let e = render(&json!("{{secrets.A.B}}"), &context(), &secrets).unwrap_err();
    assert!(e.message.contains("secrets are read as"));
}

#[test]
fn context_values_are_not_templated_again() {
    let ctx = json!({"request": {"body": {"x": "{{secrets.API_KEY}}"}}});
    assert_eq!(
        render(&json!("{{request.body.x}}!"), &ctx, &secrets),
        Ok(json!("{{secrets.API_KEY}}!"))
    );
}

#[test]
fn render_string_stringifies() {
    let mut used = Vec::new();
    let s = render_string("{{steps.fetch.status}}", &context(), &secrets, &mut used);
    assert_eq!(s, Ok("200".to_string()));
    let s = render_string("{{secrets.API_KEY}}", &context(), &secrets, &mut used);
    assert_eq!(s, Ok("sk_live_abcdef".to_string()));
    assert_eq!(used, vec!["sk_live_abcdef"]);
}

#[test]
fn lists_referenced_paths() {
    let t = json!({"a": "{{ request.body.email }} {{steps.x.body}}", "b": ["{{request.body.email}}", "\\{{no}}", "{{bad"]});
    assert_eq!(
        referenced_paths(&t),
        vec!["request.body.email", "steps.x.body"]
    );
    assert!(is_templated("https://{{x.y}}"));
    assert!(!is_templated("https://\\{{x.y}}"));
    assert_eq!(literal_prefix("https://{{x.y}}/a"), "https://");
    assert_eq!(literal_prefix("{{x.y}}/a"), "");
}

fn check(t: Value, earlier: &[&str]) -> Vec<(String, String)> {
    let earlier: Vec<EarlierStep> = earlier
        .iter()
        .map(|s| EarlierStep::new(s, Some("http")))
        .collect();
    let mut errors = Errors::new();
    validate(
        &t,
        "steps[1].json",
        &roots_for_trigger(Some(TriggerKind::Endpoint)),
        &earlier,
        &mut errors,
    );
    errors
        .0
        .into_iter()
        .map(|e| (e.location, e.message))
        .collect()
}

#[test]
fn validation_accepts_good_templates() {
    let t = json!({"email": "{{request.body.email}}", "id": "{{steps.a.body.items[0].id}}",
                   "k": "{{secrets.API_KEY}}", "all": "{{steps.a}}", "r": "{{run.id}} {{workflow.version}}"});
    assert_eq!(check(t, &["a"]), vec![]);
}

#[test]
fn validation_reports_each_problem_where_it_is() {
    let t = json!({
        "email": "{{reqest.body.email}}",
        "list": ["ok", "{{schedule.fired_at}}"],
        "later": "{{steps.b.body}}",
        "field": "{{steps.a.json.id}}",
        "typo": "{{request.bdy}}",
        "secret": "{{secrets.1BAD}}",
        "open": "{{request.body",
        "idx": "{{steps[0].body}}"
    });
    let errors = check(t, &["a"]);
    let locations: Vec<&str> = errors.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        locations,
        [
            "steps[1].json.email",
            "steps[1].json.list[1]",
            "steps[1].json.later",
            "steps[1].json.field",
            "steps[1].json.typo",
            "steps[1].json.secret",
            "steps[1].json.open",
            "steps[1].json.idx",
        ]
    );
    assert_eq!(
        errors[0].1,
        "`{{reqest.body.email}}`: unknown variable `reqest`; available here: request, steps, workflow, run, secrets"
    );
    assert!(errors[1]
        .1
        .contains("`schedule` is not available to this workflow's trigger"));
    assert_eq!(
        errors[2].1,
        "`{{steps.b.body}}`: `b` is not an earlier step; a step can only read the results of steps before it (earlier steps: a)"
    );
    assert!(errors[3]
        .1
        .contains("a step's result has status, headers, body; not `json`"));
    assert!(errors[4]
        .1
        .contains("`request` has method, path, query, headers, body; not `bdy`"));
    assert!(errors[5].1.contains("secrets are read as"));
    assert!(errors[6].1.starts_with("unclosed `{{`"));
    assert!(errors[7].1.contains("steps are read by name"));
}

#[test]
fn no_earlier_steps_message() {
    let errors = check(json!("{{steps.a.body}}"), &[]);
    assert!(errors[0].1.contains("there are none before this one"));
}

proptest::proptest! {
    #[test]
    fn rendering_and_validating_never_panic(s in "[{}\\\\a-z.\\[\\]0-9 é😀_-]{0,40}") {
        let t = Value::String(s);
        let _ = render(&t, &context(), &secrets);
        let _ = referenced_paths(&t);
        let mut errors = Errors::new();
        validate(&t, "x", &ALL_ROOTS, &[], &mut errors);
    }

    #[test]
    fn text_without_braces_renders_to_itself(s in "[^{\\\\]{0,40}") {
        proptest::prop_assert_eq!(render(&Value::String(s.clone()), &context(), &secrets), Ok(Value::String(s)));
    }
}

#[test]
fn non_object_context() {
    let e = render(&json!("{{run.id}}"), &Value::Null, &secrets).unwrap_err();
    assert_eq!(
        e.message,
        "cannot resolve `run.id`: the run context is null, so it has no `run`"
    );
}

#[test]
fn env_names() {
    assert!(is_env_name("API_KEY"));
    assert!(is_env_name("_x1"));
    assert!(!is_env_name("1X"));
    assert!(!is_env_name("A-B"));
    assert!(!is_env_name(""));
}

/// Every field of a schedule run's input can be read, and only those.
#[test]
fn schedule_fields_are_those_of_the_run_input() {
    let at = chrono::Utc::now();
    let input = crate::schedule::timer::run_input(at, at, true);
    let fields: Vec<&str> = input["schedule"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut known = root_fields("schedule").unwrap().to_vec();
    known.sort_unstable();
    let mut fields = fields;
    fields.sort_unstable();
    assert_eq!(fields, known);
    for (template, ok) in [("{{schedule.late}}", true), ("{{schedule.missed}}", false)] {
        let mut errors = Errors::new();
        validate(
            &json!(template),
            "steps[0].message",
            &["schedule"],
            &[],
            &mut errors,
        );
        assert_eq!(errors.0.is_empty(), ok, "{template}: {:?}", errors.0);
    }
}

#[test]
fn roots_per_trigger() {
    assert_eq!(
        roots_for_trigger(Some(TriggerKind::Poll)),
        ["event", "steps", "workflow", "run"]
    );
    assert_eq!(
        roots_for_trigger(None),
        ["request", "schedule", "oauth", "event", "steps", "workflow", "run"]
    );
}

/// `ADMIN_TOKEN`, `TRIPLINE_ENCRYPTION_KEY`, `TRIPLINE_SIGNIN_KEY` (any `TRIPLINE_*`) are never
/// readable: refused when the definition is saved (with the location) and when rendered.
#[test]
fn platform_secrets_are_never_readable() {
    let every = |_: &str| Some("the-platform-value".to_string());
    for name in [
        "ADMIN_TOKEN",
        "TRIPLINE_ENCRYPTION_KEY",
        "TRIPLINE_SIGNIN_KEY",
    ] {
        let t = json!({"authorization": format!("Bearer {{{{secrets.{name}}}}}")});
        let mut errors = Errors::new();
        validate(&t, "steps[0].headers", &["request"], &[], &mut errors);
        let list = errors.0;
        assert_eq!(list.len(), 1, "{name}: {list:?}");
        assert_eq!(list[0].location, "steps[0].headers.authorization");
        assert!(list[0].message.contains("never readable"), "{:?}", list[0]);
        let e = render(&t, &context(), &every).expect_err(name);
        assert!(e.message.contains("never readable"), "{e:?}");
        assert!(!e.message.contains("the-platform-value"));
    }
    // Other names stay readable.
    assert_eq!(
        render(&json!("{{secrets.API_KEY}}"), &context(), &secrets).unwrap(),
        json!("sk_live_abcdef")
    );
}

#[test]
fn a_step_named_after_a_credential_is_no_credential_path() {
    let ctx = json!({"steps": {"get_token": {"body": {"next_url": "https://x.example/2",
        "user": {"email": "ada@example.com"}, "access_token": "opaque-value-1"}}}});
    assert!(!reads_credentials(&json!(
        "{{steps.get_token.body.next_url}}"
    )));
    assert!(reads_credentials(&json!(
        "{{steps.get_token.body.access_token}}"
    )));
    assert!(reads_credentials(&json!(
        "{{steps.login.body.access_token}}"
    )));
    let out = render_tracked(
        &json!("user {{steps.get_token.body.user.email}}"),
        &ctx,
        &no_secrets,
    )
    .unwrap();
    assert!(out.secrets_used.is_empty(), "{:?}", out.secrets_used);
    let out = render_tracked(
        &json!("t {{steps.get_token.body.access_token}}"),
        &ctx,
        &no_secrets,
    )
    .unwrap();
    assert_eq!(out.secrets_used, ["opaque-value-1"]);
    // Read whole, a step's answer named after a credential still is one.
    assert!(reads_credentials(&json!("{{steps.get_token.body}}")));
    assert!(reads_credentials(&json!("{{steps.get_token}}")));
    let ctx = json!({"steps": {"get_token": {"body": "opaque-text-token"}}});
    let out = render_tracked(&json!("{{steps.get_token.body}}"), &ctx, &no_secrets).unwrap();
    assert_eq!(out.secrets_used, ["opaque-text-token"]);
}

#[test]
fn header_names_are_read_in_any_letter_case() {
    let ctx = json!({"request": {"headers": {"x-api-key": "k1"}, "body": {"Name": "n"}},
                     "steps": {"a": {"headers": {"content-type": "text/plain"}}}});
    let v = render(
        &json!("{{request.headers.X-Api-Key}} {{steps.a.headers.Content-Type}}"),
        &ctx,
        &no_secrets,
    );
    assert_eq!(v.unwrap(), json!("k1 text/plain"));
    // A Response step's headers keep the case they were written in; read in any case too.
    let ctx = json!({"steps": {"reply": {"headers": {"X-Run": "r1"}}}});
    let v = render(&json!("{{steps.reply.headers.x-run}}"), &ctx, &no_secrets);
    assert_eq!(v.unwrap(), json!("r1"));
    let ctx = json!({"request": {"headers": {"x-api-key": "k1"}, "body": {"Name": "n"}}});
    // Other maps keep their keys as written.
    assert!(render(&json!("{{request.body.name}}"), &ctx, &no_secrets).is_err());
}

/// A secret with a line break or spaces around it is also scrubbed as a trimmed URL or header
/// value holds it.
#[test]
fn a_secret_is_also_listed_trimmed() {
    let mut out = Vec::new();
    push_forms("abcd1234\n", &mut out);
    assert!(out.contains(&"abcd1234".to_string()), "{out:?}");
    let mut out = Vec::new();
    push_forms("  ab  ", &mut out);
    assert!(
        !out.contains(&"ab".to_string()),
        "too short to scrub: {out:?}"
    );
    let mut out = Vec::new();
    push_forms("abcd1234", &mut out);
    assert_eq!(out, ["abcd1234"]);
}

/// The escape an unclosed `{{` suggests is written as a JSON file needs it, and works there.
#[test]
fn the_suggested_escape_is_spelled_for_json() {
    let e = parse("a {{ b").unwrap_err();
    assert!(
        e.ends_with("(in JSON and in a double-quoted YAML string: `\\\\{{`)"),
        "{e}"
    );
    let written: Value = serde_json::from_str(r#""a \\{{ b""#).unwrap();
    assert_eq!(parse(written.as_str().unwrap()).map(|_| ()), Ok(()));
}
