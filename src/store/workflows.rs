//! The `workflows` and `workflow_versions` tables.

use serde::{Deserialize, Serialize};
use tripline_core::definition::TriggerKind;
use worker::{D1Database, Result};

use super::row::{read_with, Bad, Columns};
use super::{num, opt_text, text};

/// Whether a workflow's triggers are live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowStatus {
    /// Never deployed, or undeployed: nothing fires.
    Draft,
    /// A frozen version is live.
    Deployed,
}

/// One row of `workflows` (read column by column, see [`row`](super::row)).
#[derive(Debug, Clone)]
pub struct WorkflowRow {
    pub id: String,
    /// The stable key a workflows-as-code client finds it by (unique when set).
    pub key: Option<String>,
    pub name: String,
    /// The draft's trigger kind.
    pub trigger_type: TriggerKind,
    /// The deployed version's trigger kind (`None` while not deployed): the draft's may differ
    /// until the next deploy.
    pub live_kind: Option<TriggerKind>,
    pub draft: String,
    pub status: WorkflowStatus,
    pub deployed_version: Option<i64>,
    pub latest_version: i64,
    pub deployed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Deployed, and the draft is not the live version's definition: a deploy would change it.
    pub draft_changed: bool,
}

impl WorkflowRow {
    /// The deployed version's trigger kind, `None` while not deployed (a `live_kind` left by
    /// an earlier version's undeploy is not read).
    pub fn live(&self) -> Option<TriggerKind> {
        self.live_kind
            .filter(|_| self.status == WorkflowStatus::Deployed)
    }

    /// The kind whose URLs and status a workflow shows: the deployed version's, else the
    /// draft's.
    pub fn shown_kind(&self) -> TriggerKind {
        self.live().unwrap_or(self.trigger_type)
    }
}

impl<'de> Deserialize<'de> for WorkflowRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Self::from_columns(Columns::read(d)?).map_err(Bad::into_error)
    }
}

impl WorkflowRow {
    fn from_columns(mut c: Columns) -> std::result::Result<Self, Bad> {
        Ok(WorkflowRow {
            id: c.text("id")?,
            key: c.opt_text("key")?,
            name: c.text("name")?,
            trigger_type: TriggerKind::parse(&c.text("trigger_type")?)
                .ok_or(Bad("trigger_type", "a trigger kind"))?,
            live_kind: c
                .opt_text("live_kind")?
                .and_then(|k| TriggerKind::parse(&k)),
            draft: c.text("draft")?,
            status: match c.text("status")?.as_str() {
                "draft" => WorkflowStatus::Draft,
                "deployed" => WorkflowStatus::Deployed,
                _ => return Err(Bad("status", "`draft` or `deployed`")),
            },
            deployed_version: c.opt_int("deployed_version")?,
            latest_version: c.int("latest_version")?,
            deployed_at: c.opt_text("deployed_at")?,
            created_at: c.text("created_at")?,
            updated_at: c.text("updated_at")?,
            draft_changed: c.opt_int("draft_changed")?.is_some_and(|n| n != 0),
        })
    }
}

const COLUMNS: &str = "id, key, name, trigger_type, live_kind, draft, status, deployed_version, latest_version, deployed_at, created_at, updated_at, \
    (status = 'deployed' AND draft IS NOT (SELECT v.definition FROM workflow_versions v \
      WHERE v.workflow_id = workflows.id AND v.version = workflows.deployed_version)) AS draft_changed";

pub async fn insert(db: &D1Database, row: &WorkflowRow) -> Result<()> {
    db.prepare(
        "INSERT INTO workflows (id, name, trigger_type, draft, status, latest_version, created_at, updated_at, key) \
         VALUES (?1, ?2, ?3, ?4, 'draft', 0, ?5, ?5, ?6)",
    )
    .bind(&[
        text(&row.id),
        text(&row.name),
        text(row.trigger_type.as_str()),
        text(&row.draft),
        text(&row.created_at),
        opt_text(row.key.as_deref()),
    ])?
    .run()
    .await?;
    Ok(())
}

pub async fn get(db: &D1Database, id: &str) -> Result<Option<WorkflowRow>> {
    db.prepare(format!("SELECT {COLUMNS} FROM workflows WHERE id = ?1"))
        .bind(&[text(id)])?
        .first::<WorkflowRow>(None)
        .await
}

/// The workflow with this key (one unique-index lookup).
pub async fn get_by_key(db: &D1Database, key: &str) -> Result<Option<WorkflowRow>> {
    db.prepare(format!("SELECT {COLUMNS} FROM workflows WHERE key = ?1"))
        .bind(&[text(key)])?
        .first::<WorkflowRow>(None)
        .await
}

/// Most bytes of drafts one page of the list holds: the page ends after the row that passes
/// them (a draft may be 1 MB: a hundred of them, parsed, are far over an isolate's memory).
pub const LIST_MOST_DRAFT_BYTES: usize = 4 * 1024 * 1024;

/// Newest first, at most `limit`, ending early after the draft that passes
/// [`LIST_MOST_DRAFT_BYTES`]; `after` is the `created_at|id` of the last row of the previous
/// page.
pub async fn list(
    db: &D1Database,
    limit: u32,
    after: Option<(&str, &str)>,
) -> Result<Vec<WorkflowRow>> {
    let (filter, mut args) = match after {
        None => ("", vec![]),
        Some((created_at, id)) => (
            "WHERE (created_at, id) < (?2, ?3)",
            vec![text(created_at), text(id)],
        ),
    };
    args.insert(0, num(limit as i64));
    db.prepare(format!(
        "WITH page AS (SELECT {COLUMNS} FROM workflows {filter} \
         ORDER BY created_at DESC, id DESC LIMIT ?1) \
         SELECT * FROM (SELECT *, SUM(length(CAST(draft AS BLOB))) OVER (ORDER BY created_at DESC, id DESC) AS upto \
         FROM page) WHERE upto - length(CAST(draft AS BLOB)) < {LIST_MOST_DRAFT_BYTES} \
         ORDER BY created_at DESC, id DESC"
    ))
    .bind(&args)?
    .all()
    .await?
    .results::<WorkflowRow>()
}

/// A draft to store (see [`update_draft_if`]).
pub struct Draft<'a> {
    pub key: Option<&'a str>,
    pub name: &'a str,
    pub trigger_type: TriggerKind,
    pub text: &'a str,
}

/// Which stored draft a save may replace (see [`update_draft_if`]).
pub enum Over<'a> {
    /// Whatever is stored.
    Any,
    /// Only a row whose `updated_at` is still this one (nothing was written to it since).
    UpdatedAt(&'a str),
    /// Only a draft whose text is still this one.
    Draft(&'a str),
}

/// Replaces the draft, only over the one `over` names (an edit made from a draft read earlier
/// does not overwrite a save made meanwhile); `false` when there is no such workflow or its
/// draft is not that one. `updated_at` grows by at least a
/// millisecond whatever `now` is: the workflow's object keeps the copy with the newest
/// `updated_at`, so two saves stamped by clocks that disagree leave both with the last one.
/// (Whether a deploy would change anything, `draft_changed`, compares the draft itself with
/// the live version, not these times.)
pub async fn update_draft_if(
    db: &D1Database,
    id: &str,
    draft: &Draft<'_>,
    now: &str,
    over: Over<'_>,
) -> Result<bool> {
    let (if_updated_at, if_draft) = match over {
        Over::Any => (None, None),
        Over::UpdatedAt(at) => (Some(at), None),
        Over::Draft(text) => (None, Some(text)),
    };
    let res = db
        .prepare(
            "UPDATE workflows SET name = ?2, trigger_type = ?3, draft = ?4, key = ?6, \
               updated_at = max(?5, strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '+0.001 seconds')) \
             WHERE id = ?1 AND (?7 IS NULL OR updated_at = ?7) AND (?8 IS NULL OR draft = ?8)",
        )
        .bind(&[
            text(id),
            text(draft.name),
            text(draft.trigger_type.as_str()),
            text(draft.text),
            text(now),
            opt_text(draft.key),
            opt_text(if_updated_at),
            opt_text(if_draft),
        ])?
        .run()
        .await?;
    Ok(changes(&res) > 0)
}

/// Freezes the draft as the next version and makes it live, in one transaction with the
/// object's call to make (`arm_outbox::pending`). Only the draft that was validated, `draft`
/// (of kind `kind`), is frozen. Returns the new version number, or `None` when there is no
/// such workflow or its draft is no longer `draft` (saved again meanwhile).
pub async fn deploy(
    db: &D1Database,
    id: &str,
    draft: &str,
    kind: TriggerKind,
    now_ms: i64,
    now: &str,
) -> Result<Option<i64>> {
    let results = db
        .batch(vec![
            db.prepare(
                "INSERT INTO workflow_versions (workflow_id, version, definition, created_at) \
                 SELECT id, latest_version + 1, draft, ?2 FROM workflows WHERE id = ?1 AND draft = ?3",
            )
            .bind(&[text(id), text(now), text(draft)])?,
            db.prepare(
                "UPDATE workflows SET latest_version = latest_version + 1, \
                   deployed_version = latest_version + 1, status = 'deployed', deployed_at = ?2, \
                   live_kind = ?4 \
                 WHERE id = ?1 AND draft = ?3 RETURNING deployed_version",
            )
            .bind(&[text(id), text(now), text(draft), text(kind.as_str())])?,
            super::arm_outbox::pending(db, id, "deploy", Some(draft), now_ms, now)?,
        ])
        .await?;
    #[derive(Deserialize)]
    struct V {
        deployed_version: i64,
    }
    let version = results
        .get(1)
        .map(|r| r.results::<V>())
        .transpose()?
        .and_then(|v| v.into_iter().next())
        .map(|v| v.deployed_version);
    Ok(version)
}

/// Stops the live version, in one transaction with the object's call to make
/// (`arm_outbox::pending`); `false` when there is no such workflow. `updated_at` never goes
/// back (see [`update_draft_if`]).
pub async fn undeploy(db: &D1Database, id: &str, now_ms: i64, now: &str) -> Result<bool> {
    let results = db
        .batch(vec![
            db.prepare(
                "UPDATE workflows SET status = 'draft', deployed_version = NULL, deployed_at = NULL, \
                   live_kind = NULL, updated_at = max(?2, updated_at) \
                 WHERE id = ?1",
            )
            .bind(&[text(id), text(now)])?,
            super::arm_outbox::pending(db, id, "undeploy", None, now_ms, now)?,
        ])
        .await?;
    Ok(results.first().map(changes).unwrap_or(0) > 0)
}

/// Deletes the workflow, its versions and its runs, and records the object's last call (see
/// `arm_outbox::deleted_call`) in the same transaction.
pub async fn delete(db: &D1Database, id: &str, now_ms: i64, now: &str) -> Result<bool> {
    let results = db
        .batch(vec![
            db.prepare("DELETE FROM runs WHERE workflow_id = ?1")
                .bind(&[text(id)])?,
            db.prepare("DELETE FROM workflow_versions WHERE workflow_id = ?1")
                .bind(&[text(id)])?,
            db.prepare("DELETE FROM workflows WHERE id = ?1")
                .bind(&[text(id)])?,
            // Rows of the test shelf and counters from before they moved into the object.
            db.prepare("DELETE FROM test_requests WHERE workflow_id = ?1")
                .bind(&[text(id)])?,
            db.prepare("DELETE FROM endpoint_stats WHERE workflow_id = ?1")
                .bind(&[text(id)])?,
            // A deploy or undeploy call still to retry is replaced by the delete's last call.
            super::arm_outbox::deleted_call(db, id, now_ms, now)?,
        ])
        .await?;
    Ok(results.get(2).map(changes).unwrap_or(0) > 0)
}

/// What a trigger needs: the live definition of a deployed workflow, in one read.
#[derive(Debug, Clone)]
pub struct LiveVersion {
    pub status: String,
    pub version: Option<i64>,
    pub definition: Option<String>,
    /// JSON array: the `shards` of earlier versions that were live at or after the cutoff
    /// given to [`live_version`] (their runs may still exist), see `objects::runs::earlier_shards`.
    pub earlier_shards: Option<String>,
    /// The `shards` of the version deployed before it, when it was deployed at or after the
    /// `settling_since` given to [`live_version_since`] (none for a first version).
    pub previous_shards: Option<f64>,
}

/// Read column by column (see [`row`](super::row)).
impl<'de> Deserialize<'de> for LiveVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(LiveVersion {
                status: c.text("status")?,
                version: c.opt_int("version")?,
                definition: c.opt_text("definition")?,
                earlier_shards: c.opt_text("earlier_shards")?,
                previous_shards: c.opt_number("previous_shards")?,
            })
        })
    }
}

/// A version's shard count in SQL (`shards` absent: 1), an integer even when the definition
/// wrote it as `4.0` (which the definition accepts). The index `workflow_versions_shards`
/// (migration 0019) holds this expression: a change here needs a new index. (SQLite looks a
/// version up by its primary key rather than by that index unless told: `INDEXED BY`.)
const SHARDS_SQL: &str = "CAST(COALESCE(json_extract(p.definition, '$.shards'), 1) AS INTEGER)";

/// `None` when the workflow does not exist; `status` says whether it is deployed.
pub async fn live_version(db: &D1Database, id: &str) -> Result<Option<LiveVersion>> {
    // No version was replaced after "~" (it sorts after every ISO time).
    live_version_since(db, id, "~", "~").await
}

/// [`live_version`], and the shard counts of earlier versions replaced at or after
/// `runs_since` (ISO time: the oldest run retention keeps), whose runs may still exist; the
/// previous version's when the live one was deployed at or after `settling_since`.
pub async fn live_version_since(
    db: &D1Database,
    id: &str,
    runs_since: &str,
    settling_since: &str,
) -> Result<Option<LiveVersion>> {
    db.prepare(format!(
        "SELECT w.status AS status, w.deployed_version AS version, v.definition AS definition, \
           CASE WHEN w.deployed_at >= ?3 THEN (SELECT {SHARDS_SQL} FROM workflow_versions p \
             WHERE p.workflow_id = w.id AND p.version = w.deployed_version - 1) END \
             AS previous_shards, \
           (SELECT json_group_array(DISTINCT {SHARDS_SQL}) FROM workflow_versions p \
              JOIN workflow_versions n INDEXED BY workflow_versions_shards \
                ON n.workflow_id = p.workflow_id AND n.version = p.version + 1 \
             WHERE p.workflow_id = w.id AND n.created_at >= ?2) AS earlier_shards \
         FROM workflows w LEFT JOIN workflow_versions v \
           ON v.workflow_id = w.id AND v.version = w.deployed_version \
         WHERE w.id = ?1"
    ))
    .bind(&[text(id), text(runs_since), text(settling_since)])?
    .first::<LiveVersion>(None)
    .await
}

/// A workflow id with a number read beside it: one row shape for the statements that read such
/// pairs (each row shape read costs code of its own in the Worker).
struct IdNumber {
    workflow_id: String,
    number: Option<f64>,
}

/// Read column by column (see [`row`](super::row)).
impl<'de> Deserialize<'de> for IdNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(IdNumber {
                workflow_id: c.text("workflow_id")?,
                number: c.opt_number("number")?,
            })
        })
    }
}

/// Up to `limit` deployed schedule and as many poll workflows, each in id order from `from`
/// on, continued from the first id when fewer are after it: a sample whose cost does not grow
/// with the catalog (one index range of `workflows_by_live_kind` per part, one statement).
pub async fn timers_from(db: &D1Database, from: &str, limit: u32) -> Result<Vec<String>> {
    const KINDS: [TriggerKind; 2] = [TriggerKind::Schedule, TriggerKind::Poll];
    // Part `i` of kind `KINDS[i]`: its rows carry `i`.
    let part = |i: usize, cmp: &str| {
        format!(
            "SELECT * FROM (SELECT id AS workflow_id, {i} AS number FROM workflows \
             WHERE live_kind = '{}' AND status = 'deployed' AND id {cmp} ?1 \
             ORDER BY id LIMIT ?2)",
            KINDS[i].as_str()
        )
    };
    let sql = [part(0, ">="), part(0, "<"), part(1, ">="), part(1, "<")].join(" UNION ALL ");
    let rows = db
        .prepare(sql)
        .bind(&[text(from), num(i64::from(limit))])?
        .all()
        .await?
        .results::<IdNumber>()?;
    // The first `limit` rows of each kind, in the order of its parts.
    let mut taken = [0u32; KINDS.len()];
    Ok(rows
        .into_iter()
        .filter(|r| {
            let n = &mut taken[(r.number.unwrap_or(0.0) as usize).min(KINDS.len() - 1)];
            *n += 1;
            *n <= limit
        })
        .map(|r| r.workflow_id)
        .collect())
}

/// The most shards any version of the workflow spread its runs over (1 when none says).
pub async fn most_shards(db: &D1Database, id: &str) -> Result<u8> {
    #[derive(Deserialize)]
    struct Most {
        most: Option<f64>,
    }
    let most = db
        .prepare(format!(
            "SELECT MAX({SHARDS_SQL}) AS most FROM workflow_versions p WHERE p.workflow_id = ?1"
        ))
        .bind(&[text(id)])?
        .first::<Most>(None)
        .await?;
    Ok(most
        .and_then(|m| m.most)
        .map_or(1, |m| m.clamp(1.0, 64.0) as u8))
}

/// [`most_shards`] of each workflow in `ids` that has a version (one statement).
pub async fn most_shards_of(db: &D1Database, ids: &[&str]) -> Result<Vec<(String, u8)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(ids).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let rows = db
        .prepare(format!(
            "SELECT p.workflow_id AS workflow_id, MAX({SHARDS_SQL}) AS number FROM workflow_versions p \
             WHERE p.workflow_id IN (SELECT value FROM json_each(?1)) GROUP BY p.workflow_id"
        ))
        .bind(&[text(&list)])?
        .all()
        .await?
        .results::<IdNumber>()?;
    Ok(rows
        .into_iter()
        .map(|m| {
            let most = m.number.map_or(1, |m| m.clamp(1.0, 64.0) as u8);
            (m.workflow_id, most)
        })
        .collect())
}

/// The rows a statement changed.
pub fn changes(res: &worker::D1Result) -> usize {
    res.meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::SHARDS_SQL;

    /// SQLite reads an expression from an index only when the statement writes it as the index
    /// does.
    #[test]
    fn the_shards_index_holds_the_expression_the_statements_read() {
        let migration = include_str!("../../migrations/0019_workflow_versions_shards.sql");
        let indexed = SHARDS_SQL.replace("p.", "");
        let statement: String = migration
            .lines()
            .filter(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            statement.contains(&format!("(workflow_id, version, created_at, {indexed})")),
            "{statement}"
        );
    }
}
