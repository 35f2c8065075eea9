//! The `log` step: writes a message into the run record.
//!
//! ```json
//! { "type": "log", "message": "new lead {{request.body.email}}" }
//! ```
//!
//! The message only ever goes to the run record, so `prepare` returns it with the secret values
//! it used already replaced by `[redacted]`.

use serde_json::Value;

use super::Scope;
use crate::kernel::problem::Errors;
use crate::kernel::reader::ObjectReader;
use crate::kernel::redact::scrub_secrets;
use crate::template::{render_string, TemplateError};

/// A parsed `log` step.
#[derive(Debug, Clone, PartialEq)]
pub struct LogStep {
    pub name: String,
    /// A string template.
    pub message: String,
}

impl LogStep {
    /// Reads the fields of a `log` step from `r` (`type` and `name` are already read).
    pub fn parse(
        name: String,
        r: &mut ObjectReader<'_>,
        scope: &Scope<'_>,
        errors: &mut Errors,
    ) -> Option<LogStep> {
        let message = r.req_str("message", errors)?;
        scope.validate(&Value::String(message.clone()), &r.loc("message"), errors);
        Some(LogStep { name, message })
    }

    /// The message with its templates filled in and the secrets it used redacted. Values that are
    /// not strings are written as compact JSON.
    pub fn prepare(
        &self,
        context: &Value,
        secrets: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, TemplateError> {
        let mut used = Vec::new();
        let message = render_string(&self.message, context, secrets, &mut used)
            .map_err(|e| e.under("message"))?;
        Ok(scrub_secrets(&message, &used))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_and_scrubs() {
        let step = LogStep {
            name: "log_0".to_string(),
            message: "{{request.body}} key={{secrets.KEY}} tok={{oauth.access_token}}".to_string(),
        };
        let ctx = json!({"request": {"body": {"a": 1}}, "oauth": {"access_token": "ya29.abcdef"}});
        let secrets = |n: &str| (n == "KEY").then(|| "sk_123456".to_string());
        assert_eq!(
            step.prepare(&ctx, &secrets),
            Ok(r#"{"a":1} key=[redacted] tok=[redacted]"#.to_string())
        );
        let e = step.prepare(&json!({}), &secrets).unwrap_err();
        assert_eq!(e.location, "message");
    }

    /// A whole object in a message is written as JSON: a credential in it is hidden as JSON
    /// writes it (escaped), and a number under a credential's name too.
    #[test]
    fn credentials_in_an_object_written_as_json_are_hidden() {
        let step = LogStep {
            name: "dbg".to_string(),
            message: "got {{steps.fetch.body}}".to_string(),
        };
        let ctx = json!({"steps": {"fetch": {"body": {
            "private_key": "-----BEGIN KEY-----\nMIIEabc\n-----END KEY-----\n",
            "client_secret": 12345678,
            "user": "ann"
        }}}});
        let message = step.prepare(&ctx, &|_| None).unwrap();
        assert!(!message.contains("MIIEabc"), "{message}");
        assert!(!message.contains("12345678"), "{message}");
        assert!(message.contains(r#""user":"ann""#), "{message}");
        // A count under a name that only contains `token` is no credential, as in the record.
        let step = LogStep {
            name: "usage".to_string(),
            message: "used {{steps.llm.body.usage.total_tokens}} of {{steps.llm.body}}".to_string(),
        };
        let ctx = json!({"steps": {"llm": {"body": {"usage": {"total_tokens": 1234},
                                                    "max_tokens": 4096}}}});
        assert_eq!(
            step.prepare(&ctx, &|_| None).unwrap(),
            r#"used 1234 of {"usage":{"total_tokens":1234},"max_tokens":4096}"#
        );
        // Inside a value under a credential name, every number is hidden, as the record hides
        // the whole value.
        let step = LogStep {
            name: "login".to_string(),
            message: "{{steps.login.body}} {{steps.login.body.secret.codes[0]}}".to_string(),
        };
        let ctx = json!({"steps": {"login": {"body": {"password": {"pin": 13579246},
                                                      "secret": {"codes": [24681357]}}}}});
        let message = step.prepare(&ctx, &|_| None).unwrap();
        assert!(!message.contains("13579246"), "{message}");
        assert!(!message.contains("24681357"), "{message}");
        // A step's name is no key of its output: `get_token`'s numbers are kept as its record
        // keeps them.
        let step = LogStep {
            name: "expiry".to_string(),
            message: "{{steps.get_token.body.expires_in}} {{steps.get_token.body}}".to_string(),
        };
        let ctx = json!({"steps": {"get_token": {"body": {"expires_in": 3600, "limit": 5000}}}});
        assert_eq!(
            step.prepare(&ctx, &|_| None).unwrap(),
            r#"3600 {"expires_in":3600,"limit":5000}"#
        );
    }
}
