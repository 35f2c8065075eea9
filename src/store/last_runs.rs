//! The newest run of each of a page of workflows, for the workflow list: one statement, an
//! index seek per workflow (`runs_by_workflow`), whatever the number of runs.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{D1Database, Result};

use super::row::read_with;
use super::text;

#[derive(Debug, Clone)]
pub struct LastRun {
    pub workflow_id: String,
    pub id: String,
    pub status: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

/// Read column by column (see [`row`](super::row)).
impl<'de> Deserialize<'de> for LastRun {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(LastRun {
                workflow_id: c.text("workflow_id")?,
                id: c.text("id")?,
                status: c.text("status")?,
                created_at: c.text("created_at")?,
                finished_at: c.opt_text("finished_at")?,
            })
        })
    }
}

impl LastRun {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
        })
    }
}

/// The newest run of each workflow in `workflow_ids` that has one.
pub async fn for_workflows(db: &D1Database, workflow_ids: &[&str]) -> Result<Vec<LastRun>> {
    if workflow_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids =
        serde_json::to_string(workflow_ids).map_err(|e| worker::Error::RustError(e.to_string()))?;
    db.prepare(
        "SELECT r.workflow_id AS workflow_id, r.id AS id, r.status AS status, \
                r.created_at AS created_at, r.finished_at AS finished_at \
         FROM json_each(?1) AS w \
         JOIN runs r ON r.id = (SELECT id FROM runs WHERE workflow_id = w.value ORDER BY id DESC LIMIT 1)",
    )
    .bind(&[text(&ids)])?
    .all()
    .await?
    .results::<LastRun>()
}
