//! Rows read column by column through a JSON value.
//!
//! serde's derived reading of a struct is a visitor per row type and per format (several KiB
//! of the Worker for a row of a dozen columns). The large rows are read instead as a
//! `serde_json::Value`, whose reader every row shares, then each column is taken by name.
//! What reads is the same: a column missing or `null` is `None` for an optional one and an
//! error otherwise (`null` in a column that must be set too), text must be a string, integers
//! safe integers.

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::{Map, Value};

/// A row's columns, taken one by one.
pub struct Columns(Map<String, Value>);

/// A column that did not read: its name, and what it should have held (empty: it is missing).
pub struct Bad(pub &'static str, pub &'static str);

impl Bad {
    /// As the reader's error (the message serde's derived reading gives for a missing field).
    pub fn into_error<E: Error>(self) -> E {
        match self {
            Bad(name, "") => E::missing_field(name),
            Bad(name, expected) => E::custom(format_args!(
                "invalid type in field `{name}`, expected {expected}"
            )),
        }
    }
}

impl Columns {
    /// Reads a row (a JS object, or a JSON object in tests).
    pub fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Columns, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(map) => Ok(Columns(map)),
            _ => Err(D::Error::custom("invalid type: expected a row")),
        }
    }

    /// The column's value, if the row has it.
    fn take(&mut self, name: &str) -> Option<Value> {
        self.0.get_mut(name).map(Value::take)
    }

    /// An optional text column.
    pub fn opt_text(&mut self, name: &'static str) -> Result<Option<String>, Bad> {
        match self.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Bad(name, "a string")),
        }
    }

    /// A text column.
    pub fn text(&mut self, name: &'static str) -> Result<String, Bad> {
        match self.take(name) {
            None => Err(Bad(name, "")),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(Bad(name, "a string")),
        }
    }

    /// An optional number column (any number).
    pub fn opt_number(&mut self, name: &'static str) -> Result<Option<f64>, Bad> {
        match self.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(Bad(name, "f64")),
        }
    }

    /// An optional integer column (a safe integer: one the JS reader gives as an integer).
    pub fn opt_int(&mut self, name: &'static str) -> Result<Option<i64>, Bad> {
        match self.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or(Bad(name, "i64")),
        }
    }

    /// An integer column.
    pub fn int(&mut self, name: &'static str) -> Result<i64, Bad> {
        match self.take(name) {
            None => Err(Bad(name, "")),
            Some(v) => v.as_i64().ok_or(Bad(name, "i64")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::runs::{PriorRun, RunRow};
    use super::super::workflows::WorkflowStatus;
    use super::super::{connections::ConnectionRow, workflows::WorkflowRow};

    fn connection(expires_at: serde_json::Value) -> ConnectionRow {
        serde_json::from_value(json!({
            "workflow_id": "wf", "user_id": "u", "version": 2, "scopes": "[]",
            "token_type": "bearer", "access_token": "sealed", "refresh_token": null,
            "expires_at": expires_at, "status": "active", "refresh_lease_until": 0,
            "refresh_failures": 1, "created_at": "c", "updated_at": "u"
        }))
        .unwrap()
    }

    #[test]
    fn expiries_read_as_before() {
        assert_eq!(
            connection(json!(1_700_000_000_000_i64)).expires_at,
            Some(1_700_000_000_000)
        );
        assert_eq!(connection(json!(-5)).expires_at, Some(-5));
        assert_eq!(connection(json!(1.9)).expires_at, Some(1));
        assert_eq!(connection(json!(null)).expires_at, None);
        assert_eq!(
            connection(json!(9_007_199_254_740_992_u64)).expires_at,
            None
        );
        assert_eq!(connection(json!(1e300)).expires_at, None);
        let c = connection(json!(null));
        assert_eq!((c.version, c.refresh_failures), (2, 1));
        assert!(c.refresh_token.is_none() && c.userinfo.is_none());
        let text = json!({"workflow_id": "wf", "expires_at": "soon"});
        assert!(serde_json::from_value::<ConnectionRow>(text).is_err());
    }

    #[test]
    fn optional_columns_may_be_missing_or_null_and_others_not() {
        let mut row = json!({
            "id": "w", "name": "n", "trigger_type": "poll", "draft": "{}", "status": "deployed",
            "deployed_version": 3, "latest_version": 3, "deployed_at": null,
            "created_at": "c", "updated_at": "u"
        });
        let w: WorkflowRow = serde_json::from_value(row.clone()).unwrap();
        assert_eq!(w.key, None);
        assert_eq!(w.status, WorkflowStatus::Deployed);
        assert_eq!(w.trigger_type.as_str(), "poll");
        assert_eq!(w.deployed_version, Some(3));
        row["status"] = json!("gone");
        assert!(serde_json::from_value::<WorkflowRow>(row.clone()).is_err());
        row["status"] = json!("draft");
        row["latest_version"] = json!(null);
        assert!(serde_json::from_value::<WorkflowRow>(row.clone()).is_err());
        row["latest_version"] = json!(1.5);
        assert!(serde_json::from_value::<WorkflowRow>(row).is_err());

        let run = json!({
            "workflow_id": "w", "version": 1, "trigger": "endpoint", "dedup_key": "k",
            "status": "queued", "input": "{}", "steps": "[]", "attempts": 0, "lease_until": 0,
            "created_at": "c"
        });
        let e = serde_json::from_value::<RunRow>(run).unwrap_err();
        assert_eq!(e.to_string(), "missing field `id`");
    }

    #[test]
    fn a_prior_run_reads_back_as_written() {
        let prior = PriorRun {
            id: "r".into(),
            status: "failed".into(),
            fingerprint: Some("f".into()),
            response: None,
            steps: "[]".into(),
            error: Some("{}".into()),
        };
        let text = serde_json::to_string(&prior).unwrap();
        let back: PriorRun = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        let older = r#"{"id":"r","status":"queued","steps":"[]"}"#;
        let back: PriorRun = serde_json::from_str(older).unwrap();
        assert_eq!(
            (back.fingerprint, back.response, back.error),
            (None, None, None)
        );
    }
}
