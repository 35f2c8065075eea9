//! Step definitions: what each step of a workflow does, parsed and validated from its JSON.
//!
//! A step is an object with a `type` (`http`, `response`, `log`), an optional `name` and the
//! fields of its kind. Each kind lives in its own file with its parser and its `prepare`, which
//! fills in the templates from the run context. To add a kind: write its file (a struct with
//! `parse(name, reader, scope, errors)` and `prepare`), add a variant to [`Step`], an arm to
//! [`Step::parse`] and [`Step::kind`], and its name to [`STEP_TYPES`].
//!
//! Names: `name` is optional. A step without one is called `<type>_<index>` (`response_1` for
//! `steps[1]`), so it can still be referred to and its run record is labelled. Names must be
//! unique, match `[A-Za-z_][A-Za-z0-9_-]*` and be at most 64 characters.

pub mod fields;
pub mod http;
pub mod log;
pub mod response;
pub mod retry;

use serde_json::Value;

pub use fields::Body;
pub use http::{HttpStep, PreparedRequest};
pub use log::LogStep;
pub use response::{PreparedResponse, ResponseStep, StatusTemplate};

use crate::kernel::problem::{index, Errors};
use crate::kernel::reader::{type_name, ObjectReader};
use crate::template;

/// The step types, as written in `type`.
pub const STEP_TYPES: [&str; 3] = ["http", "response", "log"];

/// At most this many steps per workflow: each step's output is stored in the run row (see
/// `redact::OUTPUT_CAP_BYTES`), and a Worker invocation has a bounded number of subrequests.
pub const MAX_STEPS: usize = 25;

/// Longest step name.
pub const MAX_NAME_LEN: usize = 64;

/// What templates inside a step may refer to.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Context roots the trigger provides (see `template::roots_for_trigger`); `secrets` is always allowed.
    pub allowed_roots: &'a [&'a str],
    /// Names of the steps before this one.
    pub earlier_steps: &'a [String],
}

impl Scope<'_> {
    /// Validates every template inside `value` (see `template::validate`).
    pub fn validate(&self, value: &Value, location: &str, errors: &mut Errors) {
        template::validate(
            value,
            location,
            self.allowed_roots,
            self.earlier_steps,
            errors,
        );
    }
}

/// One step of a workflow.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Calls an HTTP API; its result is `steps.<name>.{status,headers,body}`.
    Http(HttpStep),
    /// Sets the reply to the request that started an endpoint run.
    Response(ResponseStep),
    /// Writes a message into the run record.
    Log(LogStep),
}

impl Step {
    /// Parses one step at `location` (`steps[2]`), the `index`-th of its list, reporting every
    /// problem. `None` when anything is wrong with it.
    pub fn parse(
        value: &Value,
        location: &str,
        index: usize,
        scope: &Scope<'_>,
        errors: &mut Errors,
    ) -> Option<Step> {
        let before = errors.len();
        let mut r = ObjectReader::new(value, location, errors);
        if !r.is_object() {
            return None;
        }
        let kind = r.req_str("type", errors);
        let name = match r.opt_str("name", errors) {
            Some(name) => {
                if !is_valid_step_name(&name) {
                    errors.push(r.loc("name"), name_rule(&name));
                }
                name
            }
            None => default_name(kind.as_deref(), index),
        };
        let step = match kind.as_deref() {
            Some("http") => HttpStep::parse(name, &mut r, scope, errors).map(Step::Http),
            Some("response") => {
                ResponseStep::parse(name, &mut r, scope, errors).map(Step::Response)
            }
            Some("log") => LogStep::parse(name, &mut r, scope, errors).map(Step::Log),
            Some(other) => {
                errors.push(
                    r.loc("type"),
                    format!(
                        "unknown step type `{other}`; expected one of: {}",
                        STEP_TYPES.join(", ")
                    ),
                );
                return None;
            }
            None => return None,
        };
        r.finish(errors);
        if errors.len() > before {
            None
        } else {
            step
        }
    }

    /// Whether running the step reaches outside the run (an HTTP call): the executor saves the
    /// progress and extends the lease before such a step. A `log` or `response` step only
    /// computes; redoing it after a crash changes nothing, so it costs no write of its own.
    pub fn reaches_out(&self) -> bool {
        matches!(self, Step::Http(_))
    }

    /// The step's name (explicit or default).
    pub fn name(&self) -> &str {
        match self {
            Step::Http(s) => &s.name,
            Step::Response(s) => &s.name,
            Step::Log(s) => &s.name,
        }
    }

    /// The step's type, as written in `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Http(_) => "http",
            Step::Response(_) => "response",
            Step::Log(_) => "log",
        }
    }
}

/// Parses a workflow's `steps` array at `location` (`"steps"`), reporting every problem: each
/// step's own (see [`Step::parse`]), duplicate names (at `steps[i].name`), more than one
/// `response` step, more than [`MAX_STEPS`] steps. Templates may use `allowed_roots` (plus
/// `secrets`) and the results of earlier steps. Returns the steps that are valid; the list is
/// only complete when no error was pushed.
pub fn parse_steps(
    value: &Value,
    location: &str,
    allowed_roots: &[&str],
    errors: &mut Errors,
) -> Vec<Step> {
    let Value::Array(items) = value else {
        errors.push(
            location,
            format!("must be an array of steps, got {}", type_name(value)),
        );
        return Vec::new();
    };
    if items.len() > MAX_STEPS {
        errors.push(
            location,
            format!("has {} steps; at most {MAX_STEPS} are allowed", items.len()),
        );
    }
    // Names first, so that a broken step still counts as "earlier" for the ones after it.
    let names: Vec<(String, bool)> = items
        .iter()
        .enumerate()
        .map(|(i, item)| match item.get("name") {
            Some(Value::String(name)) => (name.clone(), true),
            _ => (
                default_name(item.get("type").and_then(Value::as_str), i),
                false,
            ),
        })
        .collect();
    let mut steps = Vec::new();
    let mut first_response: Option<usize> = None;
    for (i, item) in items.iter().enumerate() {
        let loc = index(location, i);
        let (name, explicit) = &names[i];
        if let Some(first) = names[..i].iter().position(|(n, _)| n == name) {
            let (place, message) = match (explicit, names[first].1) {
                (true, true) => (
                    format!("{loc}.name"),
                    format!("duplicate step name `{name}`: {} already has it; names must be unique", index(location, first)),
                ),
                (true, false) => (
                    format!("{loc}.name"),
                    format!("duplicate step name `{name}`: it is the default name of {}, which has no `name`; choose another", index(location, first)),
                ),
                (false, _) => (
                    loc.clone(),
                    format!("this step's default name `{name}` is already taken by {}; give this step a `name`", index(location, first)),
                ),
            };
            errors.push(place, message);
        }
        if item.get("type").and_then(Value::as_str) == Some("response") {
            match first_response {
                Some(first) => errors.push(
                    format!("{loc}.type"),
                    format!(
                        "only one response step is allowed; {} is already one",
                        index(location, first)
                    ),
                ),
                None => first_response = Some(i),
            }
        }
        let earlier: Vec<String> = names[..i].iter().map(|(n, _)| n.clone()).collect();
        let scope = Scope {
            allowed_roots,
            earlier_steps: &earlier,
        };
        if let Some(step) = Step::parse(item, &loc, i, &scope, errors) {
            steps.push(step);
        }
    }
    steps
}

/// Whether `name` is a valid step name: `[A-Za-z_][A-Za-z0-9_-]*`, at most 64 characters.
pub fn is_valid_step_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= MAX_NAME_LEN
}

fn name_rule(name: &str) -> String {
    format!(
        "`{name}` is not a valid step name: start with a letter or `_`, then use letters, digits, `_` or `-` (at most {MAX_NAME_LEN} characters)"
    )
}

/// The name of a step without `name`: `<type>_<index>`, or `step_<index>` when the type is unknown.
pub fn default_name(kind: Option<&str>, index: usize) -> String {
    match kind {
        Some(k) if STEP_TYPES.contains(&k) => format!("{k}_{index}"),
        _ => format!("step_{index}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENDPOINT_ROOTS: [&str; 4] = ["request", "steps", "workflow", "run"];

    fn parse(v: Value) -> (Vec<Step>, Vec<(String, String)>) {
        let mut errors = Errors::new();
        let steps = parse_steps(&v, "steps", &ENDPOINT_ROOTS, &mut errors);
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
            (json!({"type": "http", "url": "ftp://x.test"}), "steps[0].url",
             "must be an http:// or https:// URL with a host, got `ftp://x.test`"),
            (json!({"type": "http", "url": "https://x.test", "method": "FETCH"}), "steps[0].method",
             "unknown method `FETCH`; expected one of: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"),
            (json!({"type": "http", "url": "https://x.test", "method": "GET", "json": {}}), "steps[0].method",
             "a GET request cannot have a body; use POST, PUT or PATCH, or remove `json`/`body`"),
            (json!({"type": "http", "url": "https://x.test", "json": {}, "body": "x"}), "steps[0].body",
             "use either `json` (a JSON value) or `body` (a string), not both"),
            (json!({"type": "http", "url": "https://x.test", "body": {"a": 1}}), "steps[0].body",
             "must be a string, got object; to send JSON, use `json` instead"),
            (json!({"type": "http", "url": "https://x.test", "timeout_ms": 60000}), "steps[0].timeout_ms",
             "must be between 100 and 55000, got 60000"),
            (json!({"type": "http", "url": "https://x.test", "retries": 11}), "steps[0].retries",
             "must be between 0 and 10, got 11"),
            (json!({"type": "http", "url": "https://x.test", "allow_error": "yes"}), "steps[0].allow_error",
             "must be a boolean, got string"),
            (json!({"type": "http", "url": "https://x.test", "headers": ["a"]}), "steps[0].headers",
             "must be an object of header names to values, got array"),
            (json!({"type": "http", "url": "https://x.test", "headers": {"X-N": 1}}), "steps[0].headers.X-N",
             "must be a string, got integer; write numbers as strings, e.g. \"1\""),
            (json!({"type": "http", "url": "https://x.test", "headers": {"bad name": "x"}}), "steps[0].headers.bad name",
             "`bad name` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"),
            (json!({"type": "http", "url": "https://x.test", "headers": {"A": "1", "a": "2"}}), "steps[0].headers.a",
             "header `a` is set twice (header names ignore case)"),
            (json!({"type": "http", "url": "https://x.test", "query": {"q": {"a": 1}}}), "steps[0].query.q",
             "must be a string, number, boolean or an array of those, got object"),
            (json!({"type": "http", "url": "https://x.test", "query": {"q": [[1]]}}), "steps[0].query.q[0]",
             "must be a string, number or boolean, got array"),
            (json!({"type": "log"}), "steps[0].message", "is required"),
            (json!({"type": "response", "status": 600}), "steps[0].status",
             "status must be between 200 and 599, got 600"),
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
}
