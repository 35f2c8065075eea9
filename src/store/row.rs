//! Rows read column by column through a JSON value ([`Columns`]; serde's derived reading of a
//! row is a visitor per row type and per format, several KiB of the Worker for a row of a dozen
//! columns).

pub use tripline_core::kernel::columns::{read_with, Bad, Columns};

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
