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
    /// The steps before this one (their names and result fields).
    pub earlier_steps: &'a [template::EarlierStep],
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
/// `secrets`) and the results of earlier steps. Returns the steps that are valid, each with
/// its index in `value`, so that later checks name a step by its own index; the list is only
/// complete when no error was pushed.
pub fn parse_steps(
    value: &Value,
    location: &str,
    allowed_roots: &[&str],
    errors: &mut Errors,
) -> Vec<(usize, Step)> {
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
        let earlier: Vec<template::EarlierStep> = names[..i]
            .iter()
            .zip(items)
            .map(|((n, _), item)| {
                template::EarlierStep::new(n, item.get("type").and_then(Value::as_str))
            })
            .collect();
        let scope = Scope {
            allowed_roots,
            earlier_steps: &earlier,
        };
        if let Some(step) = Step::parse(item, &loc, i, &scope, errors) {
            steps.push((i, step));
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
mod tests;
