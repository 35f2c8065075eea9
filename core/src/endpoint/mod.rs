//! The API Endpoint trigger: which methods the workflow's URL accepts, the request schema,
//! optional signature verification, and the limits of a synchronous reply.

pub mod body;
pub mod detect;
pub mod request_schema;
pub mod runtime;
pub mod signature;

use serde_json::Value;

use crate::endpoint::request_schema::RequestSchema;
use crate::endpoint::signature::VerifyConfig;
use crate::kernel::problem::{index, Errors};
use crate::kernel::reader::{as_str, type_name, ObjectReader};

/// Methods a workflow URL may accept.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Default and limits of `response_timeout_ms`.
pub const DEFAULT_RESPONSE_TIMEOUT_MS: u32 = 25_000;
pub const MAX_RESPONSE_TIMEOUT_MS: u32 = 55_000;
/// Default and limit of `max_body_bytes`.
pub const DEFAULT_MAX_BODY_BYTES: u32 = 1024 * 1024;
pub const MAX_MAX_BODY_BYTES: u32 = 10 * 1024 * 1024;

/// A parsed `{"type": "endpoint", …}` trigger.
#[derive(Debug, Clone)]
pub struct EndpointTrigger {
    /// Upper-case methods, e.g. `["POST"]`.
    pub methods: Vec<String>,
    pub request: RequestSchema,
    pub verify: Option<VerifyConfig>,
    pub response_timeout_ms: u32,
    pub max_body_bytes: u32,
}

impl EndpointTrigger {
    pub fn parse(value: &Value, location: &str, errors: &mut Errors) -> Option<EndpointTrigger> {
        let before = errors.len();
        let mut r = ObjectReader::new(value, location, errors);
        r.raw("type");
        let methods = match r.raw("method") {
            None => vec!["POST".to_string()],
            Some(Value::Array(items)) if !items.is_empty() => {
                let loc = r.loc("method");
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| method(m, &index(&loc, i), errors))
                    .collect()
            }
            Some(Value::Array(_)) => {
                errors.push(r.loc("method"), "must list at least one method");
                Vec::new()
            }
            Some(m) => method(m, &r.loc("method"), errors).into_iter().collect(),
        };
        let request = match r.raw("request") {
            None => Some(RequestSchema::default()),
            Some(v) => RequestSchema::parse(v, &r.loc("request"), errors),
        };
        let verify = r
            .raw("verify")
            .and_then(|v| VerifyConfig::parse(v, &r.loc("verify"), errors));
        let response_timeout_ms = r
            .opt_int(
                "response_timeout_ms",
                1,
                MAX_RESPONSE_TIMEOUT_MS as i64,
                errors,
            )
            .unwrap_or(DEFAULT_RESPONSE_TIMEOUT_MS as i64) as u32;
        let max_body_bytes = r
            .opt_int("max_body_bytes", 1, MAX_MAX_BODY_BYTES as i64, errors)
            .unwrap_or(DEFAULT_MAX_BODY_BYTES as i64) as u32;
        r.finish(errors);
        if errors.len() > before {
            return None;
        }
        let mut methods_dedup: Vec<String> = Vec::new();
        for m in methods {
            if !methods_dedup.contains(&m) {
                methods_dedup.push(m);
            }
        }
        Some(EndpointTrigger {
            methods: methods_dedup,
            request: request?,
            verify,
            response_timeout_ms,
            max_body_bytes,
        })
    }

    /// Whether the URL accepts `method` (`HEAD` is never a trigger).
    pub fn accepts(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }
}

fn method(v: &Value, loc: &str, errors: &mut Errors) -> Option<String> {
    if !v.is_string() {
        errors.push(
            loc,
            format!(
                "must be a method name or a list of them, got {}",
                type_name(v)
            ),
        );
        return None;
    }
    let m = as_str(v, loc, errors)?.to_ascii_uppercase();
    if METHODS.contains(&m.as_str()) {
        Some(m)
    } else {
        errors.push(
            loc,
            format!("unknown method `{m}`; one of: {}", METHODS.join(", ")),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<EndpointTrigger, Errors> {
        let mut e = Errors::new();
        let t = EndpointTrigger::parse(&v, "trigger", &mut e);
        match t {
            Some(t) if e.is_empty() => Ok(t),
            _ => Err(e),
        }
    }

    #[test]
    fn defaults() {
        let t = parse(json!({"type": "endpoint"})).unwrap();
        assert_eq!(t.methods, ["POST"]);
        assert_eq!(t.response_timeout_ms, 25_000);
        assert_eq!(t.max_body_bytes, 1_048_576);
        assert!(t.verify.is_none());
    }

    #[test]
    fn methods_list_and_errors() {
        let t = parse(json!({"type": "endpoint", "method": ["get", "POST", "post"]})).unwrap();
        assert_eq!(t.methods, ["GET", "POST"]);
        let e = parse(
            json!({"type": "endpoint", "method": ["GET", "FETCH"], "max_body_bytes": 0, "nope": 1}),
        )
        .unwrap_err();
        let locs: Vec<_> = e.0.iter().map(|e| e.location.as_str()).collect();
        assert_eq!(
            locs,
            [
                "trigger.method[1]",
                "trigger.max_body_bytes",
                "trigger.nope"
            ]
        );
    }

    #[test]
    fn nested_errors_are_located() {
        let e = parse(json!({"type": "endpoint",
            "request": {"body": [{"name": "x", "type": "strng"}]},
            "verify": {"scheme": "nope", "secret_env": "S"}}))
        .unwrap_err();
        let locs: Vec<_> = e.0.iter().map(|e| e.location.as_str()).collect();
        assert!(locs.contains(&"trigger.request.body[0].type"), "{locs:?}");
        assert!(locs.contains(&"trigger.verify.scheme"), "{locs:?}");
    }
}
