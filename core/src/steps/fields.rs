//! Fields several step kinds share: `headers` (an object of string templates) and a body given
//! either as `json` (any JSON template) or as `body` (a string template).

use serde_json::Value;

use super::Scope;
use crate::kernel::problem::{join, Errors};
use crate::kernel::reader::{type_name, ObjectReader};
use crate::template::{is_templated, render_string, render_tracked, TemplateError};

/// `Content-Type` sent with a `json` body unless the step sets one.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// `Content-Type` sent with a `body` string unless the step sets one.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// A step's body template.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    None,
    /// `json`: rendered, then sent as compact JSON.
    Json(Value),
    /// `body`: rendered to a string and sent as it is.
    Text(String),
}

impl Body {
    pub fn is_none(&self) -> bool {
        matches!(self, Body::None)
    }

    /// Renders the body: its text and the content type that goes with it, or `None` for no body.
    pub fn render(
        &self,
        context: &Value,
        secrets: &dyn Fn(&str) -> Option<String>,
        used: &mut Vec<String>,
    ) -> Result<Option<(String, &'static str)>, TemplateError> {
        match self {
            Body::None => Ok(None),
            Body::Json(template) => {
                let out =
                    render_tracked(template, context, secrets).map_err(|e| e.under("json"))?;
                merge(used, out.secrets_used);
                Ok(Some((out.value.to_string(), JSON_CONTENT_TYPE)))
            }
            Body::Text(template) => {
                let text =
                    render_string(template, context, secrets, used).map_err(|e| e.under("body"))?;
                Ok(Some((text, TEXT_CONTENT_TYPE)))
            }
        }
    }
}

/// Reads `json` and `body` (at most one of them), validating their templates.
pub fn read_body(r: &mut ObjectReader<'_>, scope: &Scope<'_>, errors: &mut Errors) -> Body {
    let json = r.raw("json");
    let body = r.raw("body");
    match (json, body) {
        (Some(_), Some(_)) => {
            errors.push(
                r.loc("body"),
                "use either `json` (a JSON value) or `body` (a string), not both",
            );
            Body::None
        }
        (Some(json), None) => {
            scope.validate(json, &r.loc("json"), errors);
            Body::Json(json.clone())
        }
        (None, Some(Value::String(text))) => {
            scope.validate(&Value::String(text.clone()), &r.loc("body"), errors);
            Body::Text(text.clone())
        }
        (None, Some(other)) => {
            errors.push(
                r.loc("body"),
                format!(
                    "must be a string, got {}; to send JSON, use `json` instead",
                    type_name(other)
                ),
            );
            Body::None
        }
        (None, None) => Body::None,
    }
}

/// Reads `headers`: an object whose keys are header names and whose values are string templates.
/// Names are HTTP tokens, unique regardless of case.
pub fn read_headers(
    r: &mut ObjectReader<'_>,
    scope: &Scope<'_>,
    errors: &mut Errors,
) -> Vec<(String, String)> {
    let Some(value) = r.raw("headers") else {
        return Vec::new();
    };
    let location = r.loc("headers");
    let Value::Object(map) = value else {
        errors.push(
            location,
            format!(
                "must be an object of header names to values, got {}",
                type_name(value)
            ),
        );
        return Vec::new();
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    // What the headers written without templates take; those with them are weighed once filled in.
    let mut literal = Weight::default();
    for (name, v) in map {
        let loc = join(&location, name);
        // A name refused still has its value checked: one problem hides no other.
        let named = if !is_token(name) {
            errors.push(
                &loc,
                format!("`{name}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"),
            );
            false
        } else if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            errors.push(
                &loc,
                format!("header `{name}` is set twice (header names ignore case)"),
            );
            false
        } else {
            true
        };
        match v {
            Value::String(s) => {
                // A line break or NUL would split the header: never sendable, so refused here
                // already (as the definition schema says), not only once rendered.
                if s.contains(['\r', '\n', '\0']) {
                    errors.push(&loc, "must not contain a line break or NUL");
                }
                scope.validate(v, &loc, errors);
                if !is_templated(s) && literal.add(name, s.trim()) {
                    errors.push(&loc, TOO_LARGE);
                }
                if named {
                    headers.push((name.clone(), s.clone()));
                }
            }
            other => errors.push(
                &loc,
                format!(
                    "must be a string, got {}; write numbers as strings, e.g. \"1\"",
                    type_name(other)
                ),
            ),
        }
    }
    headers
}

/// Renders header templates; a value that renders to a line break or NUL is refused (it would
/// split the header).
pub fn render_headers(
    headers: &[(String, String)],
    context: &Value,
    secrets: &dyn Fn(&str) -> Option<String>,
    used: &mut Vec<String>,
) -> Result<Vec<(String, String)>, TemplateError> {
    let mut out = Vec::with_capacity(headers.len());
    let mut weight = Weight::default();
    for (name, template) in headers {
        let location = join("headers", name);
        let value =
            render_string(template, context, secrets, used).map_err(|e| e.under(&location))?;
        if value.contains(['\r', '\n', '\0']) {
            return Err(TemplateError {
                location,
                path: None,
                message: format!(
                    "header `{name}` contains a line break or NUL after filling in its templates"
                ),
            });
        }
        // A header carries bytes: the platform refuses a character past U+00FF (it was left
        // out of a reply without a word).
        if let Some(c) = value.chars().find(|&c| c > '\u{ff}') {
            return Err(TemplateError {
                location,
                path: None,
                message: format!(
                    "header `{name}` contains `{c}` after filling in its templates; a header \
                     carries only characters up to U+00FF (put such text in the body, or \
                     percent-encode it)"
                ),
            });
        }
        let value = value.trim().to_string();
        if weight.add(name, &value) {
            return Err(TemplateError {
                location,
                path: None,
                message: format!("once its templates are filled in, {TOO_LARGE}"),
            });
        }
        out.push((name.clone(), value));
    }
    Ok(out)
}

/// Most bytes a step's headers take together, names and values: larger ones are not delivered
/// (a reply's break its connection; servers refuse a request's).
pub const MAX_HEADERS_BYTES: usize = 32 * 1024;

const TOO_LARGE: &str = "the headers come to more than 32768 bytes (names and values \
                         together), more than can be delivered";

/// Header bytes counted against [`MAX_HEADERS_BYTES`].
#[derive(Default)]
struct Weight(usize);

impl Weight {
    /// Counts a header; `true` the first time the total passes the limit.
    fn add(&mut self, name: &str, value: &str) -> bool {
        let before = self.0;
        self.0 += name.len() + value.len() + 4;
        before <= MAX_HEADERS_BYTES && self.0 > MAX_HEADERS_BYTES
    }
}

/// The value of header `name` (any case), if set.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Whether `s` is an HTTP token (RFC 9110 §5.6.2), as header names must be.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Adds the values of `new` to `used` (repeats are dropped when the list is used, see
/// `Renderer::note`).
pub fn merge(used: &mut Vec<String>, new: Vec<String>) {
    used.extend(new);
}
