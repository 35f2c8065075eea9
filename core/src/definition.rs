//! A workflow definition: a name, a trigger and an ordered list of steps, parsed into typed
//! structs and validated as a whole so that every error is reported at once with its location.

use serde_json::Value;

use crate::endpoint::EndpointTrigger;
use crate::kernel::problem::Errors;
use crate::kernel::reader::ObjectReader;
use crate::oauth::OAuthTrigger;
use crate::poll::PollTrigger;
use crate::schedule::ScheduleTrigger;
use crate::steps::{parse_steps, Step};
use crate::template::roots_for_trigger;

/// The kinds of trigger, as written in `trigger.type`.
pub const TRIGGER_TYPES: &[&str] = &["endpoint", "schedule", "oauth", "poll"];

/// A parsed trigger.
#[derive(Debug, Clone)]
pub enum Trigger {
    Endpoint(Box<EndpointTrigger>),
    Schedule(Box<ScheduleTrigger>),
    OAuth(Box<OAuthTrigger>),
    Poll(Box<PollTrigger>),
}

impl Trigger {
    /// The `trigger.type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Endpoint(_) => "endpoint",
            Trigger::Schedule(_) => "schedule",
            Trigger::OAuth(_) => "oauth",
            Trigger::Poll(_) => "poll",
        }
    }

    /// Parses `trigger` by its `type`; `Err(kind)` carries the kind even when the rest is
    /// invalid so that step templates can still be checked against the right roots.
    fn parse(
        value: &Value,
        location: &str,
        errors: &mut Errors,
    ) -> (Option<&'static str>, Option<Trigger>) {
        let type_loc = format!("{location}.type");
        let kind = match value.get("type") {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                errors.push(type_loc, "must be a string");
                return (None, None);
            }
            None if value.is_object() => {
                errors.push(
                    type_loc,
                    format!("is required; one of: {}", TRIGGER_TYPES.join(", ")),
                );
                return (None, None);
            }
            None => {
                errors.push(location, "must be an object with a `type`");
                return (None, None);
            }
        };
        match kind {
            "endpoint" => (
                Some("endpoint"),
                EndpointTrigger::parse(value, location, errors)
                    .map(|t| Trigger::Endpoint(Box::new(t))),
            ),
            "schedule" => (
                Some("schedule"),
                ScheduleTrigger::parse(value, location, errors)
                    .map(|t| Trigger::Schedule(Box::new(t))),
            ),
            "oauth" => (
                Some("oauth"),
                OAuthTrigger::parse(value, location, errors).map(|t| Trigger::OAuth(Box::new(t))),
            ),
            "poll" => (
                Some("poll"),
                PollTrigger::parse(value, location, errors).map(|t| Trigger::Poll(Box::new(t))),
            ),
            other => {
                errors.push(
                    type_loc,
                    format!(
                        "unknown trigger type `{other}`; one of: {}",
                        TRIGGER_TYPES.join(", ")
                    ),
                );
                (None, None)
            }
        }
    }
}

/// A validated workflow definition.
#[derive(Debug, Clone)]
pub struct Definition {
    pub name: String,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
}

impl Definition {
    /// Parses and validates a definition; `Err` lists every problem with its location.
    pub fn parse(value: &Value) -> Result<Definition, Errors> {
        let mut errors = Errors::new();
        let mut r = ObjectReader::new(value, "", &mut errors);
        let name = r.req_str("name", &mut errors);
        if let Some(n) = &name {
            if n.trim().is_empty() || n.chars().count() > 200 {
                errors.push("name", "must be 1 to 200 characters");
            }
        }
        let (kind, trigger) = match r.required("trigger", &mut errors) {
            Some(t) => Trigger::parse(t, "trigger", &mut errors),
            None => (None, None),
        };
        let roots = roots_for_trigger(kind.unwrap_or(""));
        let steps = match r.raw("steps") {
            Some(v) => parse_steps(v, "steps", &roots, &mut errors),
            None => Vec::new(),
        };
        if kind.is_some() && kind != Some("endpoint") {
            for (i, s) in steps.iter().enumerate() {
                if s.kind() == "response" {
                    errors.push(
                        format!("steps[{i}].type"),
                        "a `response` step only makes sense with an endpoint trigger (it is the HTTP reply)",
                    );
                }
            }
        }
        r.finish(&mut errors);
        match (name, trigger) {
            (Some(name), Some(trigger)) if errors.is_empty() => Ok(Definition {
                name,
                trigger,
                steps,
            }),
            _ => Err(errors),
        }
    }

    /// The endpoint trigger, if this is an endpoint workflow.
    pub fn endpoint(&self) -> Option<&EndpointTrigger> {
        match &self.trigger {
            Trigger::Endpoint(t) => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn locations(v: Value) -> Vec<String> {
        match Definition::parse(&v) {
            Ok(_) => vec![],
            Err(e) => e.0.into_iter().map(|e| e.location).collect(),
        }
    }

    #[test]
    fn the_design_example_parses() {
        let v = json!({
          "name": "Lead created",
          "trigger": { "type": "endpoint", "method": "POST",
            "request": {
              "query":   [{ "name": "source", "required": true }],
              "headers": [{ "name": "x-api-key", "equals": "s3cret" }],
              "body":    [{ "name": "email", "type": "string", "required": true },
                          { "name": "address.city", "type": "string" }] } },
          "steps": [
            { "type": "http", "name": "notify", "method": "POST", "url": "https://example.com/hook",
              "json": { "email": "{{request.body.email}}" } },
            { "type": "response", "status": 200, "json": { "ok": true, "id": "{{steps.notify.body.id}}" } }
          ]
        });
        let d = Definition::parse(&v).unwrap();
        assert_eq!(d.name, "Lead created");
        assert_eq!(d.trigger.kind(), "endpoint");
        assert_eq!(d.steps.len(), 2);
    }

    #[test]
    fn invalid_definitions_name_their_locations() {
        let cases: Vec<(Value, &str)> = vec![
            (json!([]), "$"),
            (json!({"trigger": {"type": "endpoint"}}), "name"),
            (json!({"name": "x"}), "trigger"),
            (
                json!({"name": "x", "trigger": {"type": "webhook"}}),
                "trigger.type",
            ),
            (json!({"name": "x", "trigger": {}}), "trigger.type"),
            (
                json!({"name": "x", "trigger": {"type": "endpoint"}, "stepz": []}),
                "stepz",
            ),
            (
                json!({"name": "x", "trigger": {"type": "endpoint", "method": "FETCH"}}),
                "trigger.method",
            ),
            (json!({"name": "", "trigger": {"type": "endpoint"}}), "name"),
            (
                json!({"name": "x", "trigger": {"type": "endpoint"}, "steps": [{"type": "log", "name": "a", "message": "{{nope.x}}"}]}),
                "steps[0].message",
            ),
            (
                json!({"name": "x", "trigger": {"type": "poll", "source": {"kind": "postgres", "connection_env": "PG", "table": "users; drop", "cursor": "id"}}}),
                "trigger.source.table",
            ),
            (
                json!({"name": "x", "trigger": {"type": "poll", "source": {"kind": "postgres", "connection_env": "PG", "table": "t", "cursor": "id"}},
                    "steps": [{"type": "log", "name": "a", "message": "{{request.body}}"}]}),
                "steps[0].message",
            ),
            (
                json!({"name": "x", "trigger": {"type": "poll", "source": {"kind": "http", "url": "https://a.example", "items": "/x"}},
                    "steps": [{"type": "response", "status": 200}]}),
                "steps[0].type",
            ),
            (
                json!({"name": "x", "trigger": {"type": "oauth", "authorize_url": "https://a/x", "token_url": "https://a/t", "client_id": "c", "client_secret_env": "S"}}),
                "trigger.success_url",
            ),
        ];
        for (v, loc) in cases {
            let locs = locations(v.clone());
            assert!(
                locs.iter().any(|l| l == loc),
                "{v} → {locs:?}, wanted {loc}"
            );
        }
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// Every file in examples/ is a valid definition (the README and tests use them).
    #[test]
    fn examples_are_valid() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("examples/") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let v: Value = serde_json::from_str(&text).expect("JSON");
            if let Err(e) = Definition::parse(&v) {
                panic!("{}: {:?}", path.display(), e);
            }
            n += 1;
        }
        assert!(n >= 4, "only {n} examples");
    }
}
