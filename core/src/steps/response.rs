//! The `response` step: the reply to the HTTP request that started an endpoint run (instead of
//! the default `202 {"run_id": …}`).
//!
//! ```json
//! { "type": "response", "status": 200, "headers": { "x-run": "{{run.id}}" },
//!   "json": { "ok": true, "id": "{{steps.notify.body.id}}" } }
//! ```
//!
//! - `status` is an integer from 200 to 599 (default 200) or a template that renders to one
//!   (`"{{steps.call.status}}"`, to pass an upstream status through). 1xx codes are refused: a
//!   Worker cannot answer with them (the `Response` constructor throws). 204, 205 and 304 cannot
//!   have a body.
//! - `json` (rendered, sent as `application/json`) or `body` (a string, sent as
//!   `text/plain; charset=utf-8`), unless `headers` sets `content-type`.

use serde_json::Value;

use super::fields::{header, read_body, read_headers, render_headers, Body};
use super::Scope;
use crate::endpoint::runtime::{declares_sandbox, sandbox_directives, REPLY_SANDBOX};
use crate::kernel::problem::Errors;
use crate::kernel::reader::{type_name, ObjectReader};
use crate::template::{is_templated, render_tracked, TemplateError};

pub const DEFAULT_STATUS: u16 = 200;
pub const MIN_STATUS: u16 = 200;
pub const MAX_STATUS: u16 = 599;
/// Statuses whose responses have no body.
pub const NULL_BODY_STATUSES: [u16; 3] = [204, 205, 304];

/// The response status: fixed, or a template filled in when the step runs.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusTemplate {
    Fixed(u16),
    Template(String),
}

/// A parsed `response` step.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseStep {
    pub name: String,
    pub status: StatusTemplate,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// A reply ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedResponse {
    pub status: u16,
    /// In the order written; `content-type` added when there is a body and none was set.
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The `content-type` header's value, when there is one.
    pub content_type: Option<String>,
    /// Sensitive values that went into the reply (see `template::RenderOutput`).
    pub secrets_used: Vec<String>,
}

impl ResponseStep {
    /// Reads the fields of a `response` step from `r` (`type` and `name` are already read).
    pub fn parse(
        name: String,
        r: &mut ObjectReader<'_>,
        scope: &Scope<'_>,
        errors: &mut Errors,
    ) -> Option<ResponseStep> {
        let status_loc = r.loc("status");
        let status = match r.raw("status") {
            None => Some(StatusTemplate::Fixed(DEFAULT_STATUS)),
            Some(Value::String(s)) if is_templated(s) => {
                scope.validate(&Value::String(s.clone()), &status_loc, errors);
                Some(StatusTemplate::Template(s.clone()))
            }
            Some(v) => match status_from(v) {
                Ok(code) => Some(StatusTemplate::Fixed(code)),
                Err(message) => {
                    errors.push(&status_loc, message);
                    None
                }
            },
        };
        let headers = read_headers(r, scope, errors);
        let body = read_body(r, scope, errors);
        if let (Some(StatusTemplate::Fixed(code)), false) = (&status, body.is_none()) {
            if NULL_BODY_STATUSES.contains(code) {
                let field = if matches!(body, Body::Json(_)) {
                    "json"
                } else {
                    "body"
                };
                errors.push(
                    r.loc(field),
                    format!("a {code} response cannot have a body; remove `{field}` or use another status"),
                );
            }
        }
        Some(ResponseStep {
            name,
            status: status?,
            headers,
            body,
        })
    }

    /// Fills in every template: the reply to send. Errors are located by field (`status`,
    /// `headers.x-run`, `json.id`).
    pub fn prepare(
        &self,
        context: &Value,
        secrets: &dyn Fn(&str) -> Option<String>,
    ) -> Result<PreparedResponse, TemplateError> {
        let mut used = Vec::new();
        let status = match &self.status {
            StatusTemplate::Fixed(code) => *code,
            StatusTemplate::Template(t) => {
                let out = render_tracked(&Value::String(t.clone()), context, secrets)
                    .map_err(|e| e.under("status"))?;
                // The message quotes what the status became: never a secret it read.
                status_from(&out.value).map_err(|message| TemplateError {
                    location: "status".to_string(),
                    path: None,
                    message: crate::kernel::redact::scrub_secrets(
                        &format!("once filled in, {message}"),
                        &out.secrets_used,
                    ),
                })?
            }
        };
        let mut headers = render_headers(&self.headers, context, secrets, &mut used)?;
        self.keep_reply_sandbox(&mut headers);
        let body = match self.body.render(context, secrets, &mut used)? {
            Some(_) if NULL_BODY_STATUSES.contains(&status) => {
                return Err(TemplateError {
                    location: "status".to_string(),
                    path: None,
                    message: format!("a {status} response cannot have a body"),
                })
            }
            Some((text, content_type)) => {
                if header(&headers, "content-type").is_none() {
                    headers.push(("content-type".to_string(), content_type.to_string()));
                }
                Some(text)
            }
            None => None,
        };
        let content_type = header(&headers, "content-type").map(str::to_string);
        Ok(PreparedResponse {
            status,
            headers,
            body,
            content_type,
            secrets_used: used,
        })
    }
}

impl ResponseStep {
    /// A reply chooses its own sandbox (`runtime::reply_policy`) only with a `sandbox`
    /// directive its definition writes: when a template filled in one more (from a request's
    /// query, say), the reply's sandbox goes next to them, as a policy of its own, which the
    /// browser enforces as well. (Of two `sandbox` directives in one policy the browser keeps
    /// the first, which may be the filled-in one.)
    fn keep_reply_sandbox(&self, headers: &mut [(String, String)]) {
        let csp = |name: &str| name.eq_ignore_ascii_case("content-security-policy");
        let written: usize = self
            .headers
            .iter()
            .filter(|(name, _)| csp(name))
            .map(|(_, template)| sandbox_directives(template))
            .sum();
        let sent: usize = headers
            .iter()
            .filter(|(name, _)| csp(name))
            .map(|(_, value)| sandbox_directives(value))
            .sum();
        if sent <= written {
            return;
        }
        for (_, value) in headers.iter_mut().filter(|(name, _)| csp(name)) {
            if declares_sandbox(value) {
                *value = format!("{value}, {REPLY_SANDBOX}");
            }
        }
    }
}

/// A status code from an integer or a string of digits, in `200..=599`.
fn status_from(v: &Value) -> Result<u16, String> {
    let n = match v {
        // A whole number written as `200.0` too, as every other integer field reads it.
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (i64::from(MIN_STATUS)..=i64::from(MAX_STATUS)).contains(&n) => {
            u16::try_from(n).map_err(|_| String::new())
        }
        Some(n) => Err(format!(
            "status must be between {MIN_STATUS} and {MAX_STATUS}, got {n}"
        )),
        None => Err(format!(
            "status must be an integer between {MIN_STATUS} and {MAX_STATUS} or a template, got {}",
            match v {
                Value::String(s) => format!("`{s}`"),
                other => type_name(other).to_string(),
            }
        )),
    }
}

#[cfg(test)]
mod tests;
