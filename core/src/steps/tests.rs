use super::*;
use serde_json::json;

const ENDPOINT_ROOTS: [&str; 4] = ["request", "steps", "workflow", "run"];

fn parse(v: Value) -> (Vec<Step>, Vec<(String, String)>) {
    let mut errors = Errors::new();
    let steps = parse_steps(&v, "steps", &ENDPOINT_ROOTS, &mut errors)
        .into_iter()
        .map(|(_, step)| step)
        .collect();
    let errors = errors
        .0
        .into_iter()
        .map(|e| (e.location, e.message))
        .collect();
    (steps, errors)
}

/// The single error a list of steps produces: (location, message).
fn one_error(v: Value) -> (String, String) {
    let (_, errors) = parse(v);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap_or_default()
}

#[test]
fn parses_the_design_example() {
    let (steps, errors) = parse(json!([
        { "type": "http", "name": "notify", "method": "POST", "url": "https://example.com/hook",
          "json": { "email": "{{request.body.email}}" } },
        { "type": "response", "status": 200, "json": { "ok": true, "id": "{{steps.notify.body.id}}" } }
    ]));
    assert_eq!(errors, vec![]);
    let names: Vec<&str> = steps.iter().map(Step::name).collect();
    assert_eq!(names, ["notify", "response_1"]);
    let kinds: Vec<&str> = steps.iter().map(Step::kind).collect();
    assert_eq!(kinds, ["http", "response"]);
}

#[test]
fn parses_all_kinds() {
    let (steps, errors) = parse(json!([
        {"type": "log", "name": "start", "message": "run {{run.id}}"},
        {"type": "http", "name": "get-user", "url": "https://x.test/u/{{request.body.id}}",
         "headers": {"x-api-key": "{{secrets.USER_API_KEY}}"}},
        {"type": "log", "message": "got {{steps.get-user.body.name}}"},
    ]));
    assert_eq!(errors, vec![]);
    assert_eq!(steps.len(), 3);
    assert!(matches!(&steps[2], Step::Log(l) if l.name == "log_2"));
    // Only the HTTP call reaches outside the run (progress is saved before it).
    let reach: Vec<bool> = steps.iter().map(Step::reaches_out).collect();
    assert_eq!(reach, [false, true, false]);
}

#[test]
fn not_an_array() {
    assert_eq!(
        one_error(json!({"type": "log"})),
        (
            "steps".to_string(),
            "must be an array of steps, got object".to_string()
        )
    );
}

#[test]
fn step_not_an_object() {
    assert_eq!(
        one_error(json!(["log"])),
        (
            "steps[0]".to_string(),
            "must be an object, got string".to_string()
        )
    );
}

#[test]
fn missing_type() {
    assert_eq!(
        one_error(json!([{"name": "a", "message": "x"}])),
        ("steps[0].type".to_string(), "is required".to_string())
    );
}

#[test]
fn unknown_type_lists_the_allowed_ones() {
    assert_eq!(
        one_error(json!([{"type": "email", "to": "x"}])),
        (
            "steps[0].type".to_string(),
            "unknown step type `email`; expected one of: http, response, log".to_string()
        )
    );
}

#[test]
fn invalid_name() {
    let (loc, msg) = one_error(json!([{"type": "log", "name": "1st step", "message": "x"}]));
    assert_eq!(loc, "steps[0].name");
    assert!(
        msg.starts_with("`1st step` is not a valid step name"),
        "{msg}"
    );
    let (loc, _) = one_error(json!([{"type": "log", "name": 5, "message": "x"}]));
    assert_eq!(loc, "steps[0].name");
}

#[test]
fn duplicate_names() {
    let (loc, msg) = one_error(json!([
        {"type": "log", "name": "a", "message": "x"},
        {"type": "log", "name": "b", "message": "x"},
        {"type": "log", "name": "a", "message": "x"}
    ]));
    assert_eq!(loc, "steps[2].name");
    assert_eq!(
        msg,
        "duplicate step name `a`: steps[0] already has it; names must be unique"
    );
    let (loc, msg) = one_error(json!([
        {"type": "log", "message": "x"},
        {"type": "log", "name": "log_0", "message": "x"}
    ]));
    assert_eq!(loc, "steps[1].name");
    assert!(msg.contains("default name of steps[0]"));
}

#[test]
fn unknown_field_is_named() {
    let (loc, msg) = one_error(json!([
        {"type": "http", "url": "https://x.test", "timeout": 5}
    ]));
    assert_eq!(loc, "steps[0].timeout");
    assert!(
        msg.starts_with("unknown field `timeout`; expected one of: type, name, method, url"),
        "{msg}"
    );
    let (loc, _) = one_error(json!([{"type": "log", "message": "x", "retries": 1}]));
    assert_eq!(loc, "steps[0].retries");
}

#[test]
fn http_field_errors() {
    let cases = [
        (json!({"type": "http"}), "steps[0].url", "is required"),
        (
            json!({"type": "http", "url": "ftp://x.test"}),
            "steps[0].url",
            "must be an http:// or https:// URL with a host, got `ftp://x.test`",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "method": "FETCH"}),
            "steps[0].method",
            "unknown method `FETCH`; expected one of: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "method": "GET", "json": {}}),
            "steps[0].method",
            "a GET request cannot have a body; use POST, PUT or PATCH, or remove `json`/`body`",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "json": {}, "body": "x"}),
            "steps[0].body",
            "use either `json` (a JSON value) or `body` (a string), not both",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "body": {"a": 1}}),
            "steps[0].body",
            "must be a string, got object; to send JSON, use `json` instead",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "timeout_ms": 60000}),
            "steps[0].timeout_ms",
            "must be between 100 and 55000, got 60000",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "retries": 11}),
            "steps[0].retries",
            "must be between 0 and 10, got 11",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "allow_error": "yes"}),
            "steps[0].allow_error",
            "must be a boolean, got string",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "headers": ["a"]}),
            "steps[0].headers",
            "must be an object of header names to values, got array",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "headers": {"X-N": 1}}),
            "steps[0].headers.X-N",
            "must be a string, got integer; write numbers as strings, e.g. \"1\"",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "headers": {"bad name": "x"}}),
            "steps[0].headers.bad name",
            "`bad name` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "headers": {"A": "1", "a": "2"}}),
            "steps[0].headers.a",
            "header `a` is set twice (header names ignore case)",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "query": {"q": {"a": 1}}}),
            "steps[0].query.q",
            "must be a string, number, boolean or an array of those, got object",
        ),
        (
            json!({"type": "http", "url": "https://x.test", "query": {"q": [[1]]}}),
            "steps[0].query.q[0]",
            "must be a string, number or boolean, got array",
        ),
        (json!({"type": "log"}), "steps[0].message", "is required"),
        (
            json!({"type": "response", "status": 600}),
            "steps[0].status",
            "status must be between 200 and 599, got 600",
        ),
    ];
    for (step, location, message) in cases {
        assert_eq!(
            one_error(json!([step])),
            (location.to_string(), message.to_string()),
            "{step}"
        );
    }
}

#[test]
fn template_errors_point_at_the_field() {
    let (_, errors) = parse(json!([
        {"type": "http", "name": "first", "url": "https://x.test/{{steps.second.body.id}}",
         "json": {"email": "{{request.body.email}}", "when": "{{schedule.fired_at}}"}},
        {"type": "http", "name": "second", "url": "https://x.test",
         "json": {"items": ["{{steps.first.body}}", "{{steps.first.body"]},
         "headers": {"authorization": "Bearer {{secrets.bad-name}}"}},
        {"type": "log", "message": "{{steps.nope.status}}"}
    ]));
    let locations: Vec<&str> = errors.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        locations,
        [
            "steps[0].url",
            "steps[0].json.when",
            "steps[1].headers.authorization",
            "steps[1].json.items[1]",
            "steps[2].message"
        ]
    );
    assert!(errors[0].1.contains("`second` is not an earlier step"));
    assert!(errors[4].1.contains("earlier steps: first, second"));
}

#[test]
fn only_one_response_step() {
    let (loc, msg) = one_error(json!([
        {"type": "response"},
        {"type": "log", "message": "x"},
        {"type": "response", "name": "again"}
    ]));
    assert_eq!(loc, "steps[2].type");
    assert_eq!(
        msg,
        "only one response step is allowed; steps[0] is already one"
    );
}

#[test]
fn too_many_steps() {
    let many: Vec<Value> = (0..=MAX_STEPS)
        .map(|_| json!({"type": "log", "message": "x"}))
        .collect();
    assert_eq!(
        one_error(Value::Array(many)),
        (
            "steps".to_string(),
            "has 26 steps; at most 25 are allowed".to_string()
        )
    );
}

#[test]
fn every_error_of_a_step_is_reported() {
    let (steps, errors) = parse(json!([
        {"type": "http", "name": "-x", "url": 5, "retries": -1, "extra": 1},
        {"type": "log", "message": "ok"}
    ]));
    let locations: Vec<&str> = errors.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        locations,
        [
            "steps[0].name",
            "steps[0].url",
            "steps[0].retries",
            "steps[0].extra"
        ]
    );
    assert_eq!(steps.len(), 1);
}

#[test]
fn step_names() {
    assert!(is_valid_step_name("notify"));
    assert!(is_valid_step_name("_get-user_2"));
    assert!(!is_valid_step_name(""));
    assert!(!is_valid_step_name("a.b"));
    assert!(!is_valid_step_name(&"a".repeat(65)));
    assert_eq!(default_name(Some("http"), 3), "http_3");
    assert_eq!(default_name(Some("zzz"), 3), "step_3");
}

#[test]
fn a_log_steps_result_is_read_as_message_and_an_http_steps_as_status_headers_body() {
    let (steps, errors) = parse(json!([
        { "type": "log", "name": "note", "message": "lead {{request.body.email}}" },
        { "type": "http", "name": "call", "url": "https://example.com/hook",
          "json": { "said": "{{steps.note.message}}" } },
        { "type": "response", "status": 200,
          "json": { "said": "{{steps.note.message}}", "id": "{{steps.call.body.id}}" } }
    ]));
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(steps.len(), 3);

    let (loc, message) = one_error(json!([
        { "type": "log", "name": "note", "message": "hi" },
        { "type": "log", "name": "after", "message": "{{steps.note.body}}" }
    ]));
    assert_eq!(loc, "steps[1].message");
    assert_eq!(
        message,
        "`{{steps.note.body}}`: a `log` step's result has message; not `body`"
    );

    let (loc, message) = one_error(json!([
        { "type": "http", "name": "call", "url": "https://example.com/hook" },
        { "type": "log", "name": "after", "message": "{{steps.call.message}}" }
    ]));
    assert_eq!(loc, "steps[1].message");
    assert!(
        message.contains("a step's result has status, headers, body; not `message`"),
        "{message}"
    );
}

/// A header whose name is refused still has its value checked.
#[test]
fn a_refused_header_name_still_has_its_value_checked() {
    let (_, errors) = parse(json!([{"type": "http", "url": "https://x.test",
        "headers": {"bad name": "{{nope.a}}", "A": "1", "a": "{{nope.b}}\n"}}]));
    let at: Vec<&str> = errors.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        at,
        [
            "steps[0].headers.bad name",
            "steps[0].headers.bad name",
            "steps[0].headers.a",
            "steps[0].headers.a",
            "steps[0].headers.a"
        ],
        "{errors:#?}"
    );
    assert!(errors[1].1.contains("`nope`"), "{errors:#?}");
}
