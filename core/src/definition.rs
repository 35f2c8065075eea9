//! A workflow definition: a name, a trigger and an ordered list of steps, parsed into typed
//! structs and validated as a whole so that every error is reported at once with its location.

use serde_json::Value;

use crate::endpoint::EndpointTrigger;
use crate::kernel::problem::Errors;
use crate::kernel::reader::ObjectReader;
pub use crate::kernel::trigger_kind::TriggerKind;
use crate::oauth::OAuthTrigger;
use crate::poll::PollTrigger;
use crate::schedule::ScheduleTrigger;
use crate::steps::{parse_steps, Step};
use crate::template::roots_for_trigger;

/// A parsed trigger.
#[derive(Debug, Clone)]
pub enum Trigger {
    Endpoint(Box<EndpointTrigger>),
    Schedule(Box<ScheduleTrigger>),
    OAuth(Box<OAuthTrigger>),
    Poll(Box<PollTrigger>),
}

impl Trigger {
    /// Which of the four kinds this is.
    pub fn kind(&self) -> TriggerKind {
        match self {
            Trigger::Endpoint(_) => TriggerKind::Endpoint,
            Trigger::Schedule(_) => TriggerKind::Schedule,
            Trigger::OAuth(_) => TriggerKind::OAuth,
            Trigger::Poll(_) => TriggerKind::Poll,
        }
    }

    /// Parses `trigger` by its `type`; `Err(kind)` carries the kind even when the rest is
    /// invalid so that step templates can still be checked against the right roots.
    fn parse(
        value: &Value,
        location: &str,
        errors: &mut Errors,
    ) -> (Option<TriggerKind>, Option<Trigger>) {
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
                    format!(
                        "is required; one of: {}",
                        TriggerKind::ALL.map(TriggerKind::as_str).join(", ")
                    ),
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
                Some(TriggerKind::Endpoint),
                EndpointTrigger::parse(value, location, errors)
                    .map(|t| Trigger::Endpoint(Box::new(t))),
            ),
            "schedule" => (
                Some(TriggerKind::Schedule),
                ScheduleTrigger::parse(value, location, errors)
                    .map(|t| Trigger::Schedule(Box::new(t))),
            ),
            "oauth" => (
                Some(TriggerKind::OAuth),
                OAuthTrigger::parse(value, location, errors).map(|t| Trigger::OAuth(Box::new(t))),
            ),
            "poll" => (
                Some(TriggerKind::Poll),
                PollTrigger::parse(value, location, errors).map(|t| Trigger::Poll(Box::new(t))),
            ),
            other => {
                errors.push(
                    type_loc,
                    format!(
                        "unknown trigger type `{other}`; one of: {}",
                        TriggerKind::ALL.map(TriggerKind::as_str).join(", ")
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
        let roots = roots_for_trigger(kind);
        let steps = match r.raw("steps") {
            Some(v) => parse_steps(v, "steps", &roots, &mut errors),
            None => Vec::new(),
        };
        if kind.is_some() && kind != Some(TriggerKind::Endpoint) {
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
mod tests;
