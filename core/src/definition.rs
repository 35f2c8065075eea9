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
    /// The stable key a workflows-as-code client finds the workflow by (see [`is_workflow_key`]).
    pub key: Option<String>,
    pub name: String,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
    /// How many shard objects hold this workflow's runs ([`MIN_SHARDS`]..=[`MAX_SHARDS`]).
    shards: u8,
    /// The Worker secrets and vars it reads ([`secrets::each_secret_read`]), each once: a
    /// run hides their values from every step's record, wherever an upstream echoes them.
    pub secrets_read: Vec<String>,
}

impl Definition {
    /// Parses and validates a definition to save; `Err` lists every problem with its location.
    pub fn parse(value: &Value) -> Result<Definition, Errors> {
        Self::read(value, true)
    }

    /// Parses a definition saved earlier (a deployed version, a draft kept by an object): rules
    /// added for saving since do not stop a workflow that was accepted then.
    pub fn parse_stored(value: &Value) -> Result<Definition, Errors> {
        Self::read(value, false)
    }

    fn read(value: &Value, to_save: bool) -> Result<Definition, Errors> {
        let mut errors = Errors::new();
        let mut r = ObjectReader::new(value, "", &mut errors);
        // `$schema` points editors at the JSON Schema of this format; it means nothing here.
        r.opt_str("$schema", &mut errors);
        let key = r.opt_str("key", &mut errors);
        if let Some(k) = &key {
            if !is_workflow_key(k) {
                errors.push("key", key_rule(k));
            }
        }
        let name = r.req_str("name", &mut errors);
        if let Some(n) = &name {
            let count = n.chars().count();
            if n.trim().is_empty() {
                errors.push("name", "must not be empty or only spaces");
            } else if count > 200 {
                errors.push(
                    "name",
                    format!("must be at most 200 characters, got {count}"),
                );
            } else if let Some((i, c)) = n.chars().enumerate().find(|(_, c)| c.is_control()) {
                // A save rule: a name stored with one still reads.
                if to_save {
                    errors.push(
                        "name",
                        format!(
                            "must not contain control characters (U+{:04X} at character {})",
                            c as u32,
                            i + 1
                        ),
                    );
                }
            }
        }
        let shards = r
            .opt_int("shards", MIN_SHARDS as i64, MAX_SHARDS as i64, &mut errors)
            .map_or(DEFAULT_SHARDS, |n| n as u8);
        let trigger_given = r.required("trigger", &mut errors);
        let (kind, trigger) = match trigger_given {
            Some(t) => Trigger::parse(t, "trigger", &mut errors),
            None => (None, None),
        };
        let roots = roots_for_trigger(kind);
        let steps_given = r.raw("steps");
        let (indexes, steps): (Vec<usize>, Vec<Step>) = match steps_given {
            Some(v) => parse_steps(v, "steps", &roots, &mut errors)
                .into_iter()
                .unzip(),
            None => (Vec::new(), Vec::new()),
        };
        // The checks below read each step as written, by its own index, so that a problem in
        // one step, or in another field of the same step, hides none of theirs.
        let items = steps_given
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        fn type_of(item: &Value) -> Option<&str> {
            item.get("type").and_then(Value::as_str)
        }
        if kind.is_some() && kind != Some(TriggerKind::Endpoint) {
            for (i, item) in items.iter().enumerate() {
                if type_of(item) == Some("response") {
                    errors.push(
                        format!("steps[{i}].type"),
                        "a `response` step only makes sense with an endpoint trigger (it is the HTTP reply)",
                    );
                }
            }
        }
        if to_save {
            use crate::steps::http::{
                literal_url_unparsable, url_has_user_info, UNPINNED_URL_CREDENTIAL, URL_USER_INFO,
            };
            for (i, item) in items.iter().enumerate() {
                let at = format!("steps[{i}].url");
                let url = item.get("url").and_then(Value::as_str);
                let Some(url) = url.filter(|_| type_of(item) == Some("http")) else {
                    continue;
                };
                // A URL with a problem of its own (empty, a bad template) gets none here.
                if errors.has(&at) {
                    continue;
                }
                let parsed = indexes.iter().position(|&j| j == i).map(|k| &steps[k]);
                if url_has_user_info(url) {
                    errors.push(at, URL_USER_INFO);
                } else if let Some(problem) = literal_url_unparsable(url) {
                    errors.push(at, problem);
                } else if matches!(parsed, Some(Step::Http(h)) if h.unpinned_url_credential) {
                    errors.push(at, UNPINNED_URL_CREDENTIAL);
                }
            }
            // A poll's HTTP source URL as a step's: user information is never sent, and a URL
            // that does not parse fails every poll.
            if let (Some(TriggerKind::Poll), Some(t)) = (kind, trigger_given) {
                let (source, at) = (&t["source"], "trigger.source.url");
                let url = source["url"].as_str().filter(|_| source["kind"] == "http");
                if let Some(url) = url.filter(|_| !errors.has(at)) {
                    if url_has_user_info(url) {
                        errors.push(at, URL_USER_INFO);
                    } else if let Some(problem) = literal_url_unparsable(url) {
                        errors.push(at, problem);
                    }
                }
            }
            // A header carries bytes: a literal value past U+00FF would fail every run.
            for (i, item) in items.iter().enumerate() {
                if !matches!(type_of(item), Some("http" | "response")) {
                    continue;
                }
                let Some(headers) = item.get("headers").and_then(Value::as_object) else {
                    continue;
                };
                for (name, value) in headers {
                    let at = crate::kernel::problem::join(&format!("steps[{i}].headers"), name);
                    let Some(text) = value.as_str() else { continue };
                    let wide = text.chars().find(|&c| c > '\u{ff}');
                    let literal = !crate::template::is_templated(text);
                    if let (Some(c), true) = (wide, literal) {
                        if !errors.has(&at) {
                            errors.push(
                                at,
                                format!(
                                    "contains `{c}`: a header carries only characters up to \
                                     U+00FF (put such text in the body, or percent-encode it)"
                                ),
                            );
                        }
                    }
                }
            }
            // Each method once, in any letter case (a stored list is read with its repeats
            // dropped).
            if let (Some(TriggerKind::Endpoint), Some(t)) = (kind, trigger_given) {
                let methods = t.get("method").and_then(Value::as_array);
                let mut seen: Vec<(String, String)> = Vec::new();
                for (i, m) in methods.into_iter().flatten().enumerate() {
                    let at = crate::kernel::problem::index("trigger.method", i);
                    // An unknown method (or no string) is said to be so, and nothing more.
                    let Some(m) = m.as_str().filter(|_| !errors.has(&at)) else {
                        continue;
                    };
                    let m = m.to_ascii_uppercase();
                    match seen.iter().find(|(known, _)| *known == m) {
                        Some((_, first)) => {
                            let message = format!("repeats `{m}`, listed already at {first}");
                            errors.push(at, message);
                        }
                        None => seen.push((m, at)),
                    }
                }
            }
            if let (Some(TriggerKind::OAuth), Some(t)) = (kind, trigger_given) {
                crate::oauth::refuse_at_save(t, &mut errors);
            }
        }
        r.finish(&mut errors);
        let mut secrets_read: Vec<String> = Vec::new();
        secrets::each_secret_read(value, &mut |_, name, _| {
            if !secrets_read.iter().any(|n| n == name) {
                secrets_read.push(name.to_string());
            }
        });
        match (name, trigger) {
            (Some(name), Some(trigger)) if errors.is_empty() => Ok(Definition {
                key,
                name,
                trigger,
                steps,
                shards,
                secrets_read,
            }),
            _ => Err(errors),
        }
    }

    /// How many shard objects this workflow's runs are spread over (1 unless `shards` says).
    pub fn shards(&self) -> u8 {
        self.shards
    }

    /// The endpoint trigger, if this is an endpoint workflow.
    pub fn endpoint(&self) -> Option<&EndpointTrigger> {
        match &self.trigger {
            Trigger::Endpoint(t) => Some(t),
            _ => None,
        }
    }
}

/// Fewest, default and most shard objects of a workflow (`shards`): each holds the runs
/// whose dedup key hashes to it, so a busy workflow spreads its writes over several objects.
pub const MIN_SHARDS: u8 = 1;
pub const DEFAULT_SHARDS: u8 = 1;
pub const MAX_SHARDS: u8 = 64;

/// Longest workflow key.
pub const MAX_KEY_LEN: usize = 64;

/// Whether `key` is a valid workflow key: a lowercase letter or digit, then lowercase letters,
/// digits, `-` or `_`, at most [`MAX_KEY_LEN`] characters (it is usually a file name).
pub fn is_workflow_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && key.len() <= MAX_KEY_LEN
}

/// The message for an invalid key.
pub fn key_rule(key: &str) -> String {
    format!(
        "`{key}` is not a valid key: start with a lowercase letter or digit, then use lowercase letters, digits, `-` or `_` (at most {MAX_KEY_LEN} characters)"
    )
}

pub mod secrets;
#[cfg(test)]
mod tests;
