//! The `runs` table of one shard object: every statement a run's life needs, synchronous (the
//! object's SQLite lives in the same thread), each write after a claim fenced by the claim's
//! attempt number.

use serde::Deserialize;
use serde_json::Value;
use tripline_core::kernel::columns::read_with;
use tripline_core::kernel::json_parse;
use worker::{Result, SqlStorage, SqlStorageValue as V};

use super::limits::ROW_VALUES_MAX;
use crate::store::runs::{PriorRun, RunRow};

const COLUMNS: &str = "id, workflow_id, version, trigger, dedup_key, status, input, steps, error, response, attempts, lease_until, created_at, started_at, finished_at";
/// What a listing reads of each run (its whole record is read by id, [`Table::get_many`]).
const SUMMARY_COLUMNS: &str = "id, status, created_at, finished_at, bytes";
const PRIOR_COLUMNS: &str = "id, status, fingerprint, response, steps, error";

/// A run to insert.
pub struct NewRow<'a> {
    pub id: &'a str,
    pub workflow_id: &'a str,
    pub version: i64,
    pub trigger: &'a str,
    pub dedup_key: &'a str,
    pub input: &'a str,
    pub fingerprint: Option<&'a str>,
    pub created_at: &'a str,
    /// Recorded `succeeded` at once (a workflow without steps has nothing to execute).
    pub finished: bool,
    /// A request body kept out of the row, in pieces (see `endpoint::runtime::BODY_PIECES_KEY`).
    pub pieces: &'a [String],
    /// Recorded as it ended: executed before its insert (see `handler::create`).
    pub ended: Option<&'a Ended<'a>>,
    /// The run's secrets, sealed (`sealed::seal_secrets`), kept until the run ends.
    pub secrets: Option<&'a str>,
    /// Stored already claimed (`running`, attempt 1) with this lease: the executor takes it
    /// from memory, not by a claim (see `RunsInstance::hand_over`).
    pub claimed_until: Option<i64>,
    /// When a run stored `queued` is due: the instant it was created. Claims take due runs in
    /// this order, with expired leases among them, so a run whose executor died is not passed
    /// by runs queued after its lease ran out.
    pub due_at: i64,
}

/// How a run executed before its insert ended.
pub struct Ended<'a> {
    /// `succeeded` or `failed`.
    pub status: &'a str,
    pub steps: &'a str,
    pub error: Option<&'a str>,
    /// The Response step's stored reply.
    pub response: Option<&'a str>,
    pub finished_at: &'a str,
}

/// A run taken for execution by this caller; later writes must name `attempts`.
pub struct Claimed {
    pub row: RunRow,
    /// Sealed raw step outputs of earlier attempts.
    pub private: Option<String>,
    /// The run's sealed secrets, if it was created with some.
    pub secrets: Option<String>,
    /// What it holds in memory: its stored size (the `bytes` column) and its sealed outputs.
    pub bytes: i64,
    /// Why its stored parts (body pieces, secrets) could not be read after the claim: it is
    /// not executed this time (and is given up once it has had its attempts), while the rest of
    /// the claim goes on.
    pub unreadable: Option<String>,
}

/// What one claim may take, by the runs' stored bytes (see [`Table::claim`]).
#[derive(Clone, Copy, Debug)]
pub struct ClaimBudget {
    /// Nothing executes: the first run is taken whatever its size.
    pub first: bool,
    /// Free execution slots, filled while their runs fit in `free_bytes`.
    pub free: usize,
    /// Bytes free for runs executing at once.
    pub free_bytes: i64,
    /// Most bytes of all the runs taken when the claim takes runs to hold for a later slot.
    pub held_bytes: i64,
}

/// The claim a write after it belongs to: the run, the claim's attempt number (which fences
/// the write) and the run's input size in bytes (with a body kept in pieces), for its `bytes`.
#[derive(Clone, Copy)]
pub struct Fence<'a> {
    pub id: &'a str,
    pub attempts: i64,
    pub input_bytes: usize,
}

pub struct Table<'a> {
    pub sql: &'a SqlStorage,
}

fn text(s: &str) -> V {
    V::String(s.to_string())
}

/// The listing query: newest first, optionally by trigger, status and below an id.
pub fn list_query(trigger: bool, status: bool, before: bool) -> String {
    let mut query = format!("SELECT {SUMMARY_COLUMNS} FROM runs WHERE 1");
    if trigger {
        query.push_str(" AND trigger = ?");
    }
    if status {
        query.push_str(" AND status = ?");
    }
    if before {
        query.push_str(" AND id < ?");
    }
    query.push_str(" ORDER BY id DESC LIMIT ?");
    query
}

// The queries whose work must not grow with the number of runs kept: each names its index
// (the planner would otherwise take `runs_status` and sort every finished run).
const NEXT_DUE: &str = "SELECT MIN(lease_until) AS due FROM runs INDEXED BY runs_open \
     WHERE status IN ('queued', 'running')";
/// A finished run is kept for the retention from its creation and from its end, whichever is
/// later (a run moved from D1 long after it was created is kept from when it ended). The runs
/// created before the cutoff that are still kept (they ended after it) are few: those, and the
/// first run created after it, say when the next one expires.
const OLDEST_FINISHED: &str = "SELECT MIN(at) AS at FROM (\
     SELECT MIN(COALESCE(finished_at, created_at)) AS at FROM runs INDEXED BY runs_finished \
     WHERE created_at < ? AND status IN ('succeeded', 'failed') UNION ALL \
     SELECT at FROM (SELECT created_at AS at FROM runs INDEXED BY runs_finished \
     WHERE created_at >= ? AND status IN ('succeeded', 'failed') ORDER BY created_at LIMIT 1))";
/// Takes the first due runs up to a count: the first one when nothing executes; then, for the
/// free slots, while the runs taken fit in the bytes free in flight; past those, while they add
/// up to at most the held-run bytes. A run's bytes are what a claim reads into memory: its
/// stored size and, for a run resumed, its sealed outputs. Each condition holds for a prefix of the candidates, so
/// the claim is a prefix too. The running count and sum follow the inner query's order (`ROWS
/// UNBOUNDED PRECEDING`, no window `ORDER BY`, which would sort again); any subset of these due
/// runs is a correct claim.
///
/// The candidates' `LIMIT` is a literal, [`CLAIM_MOST`], and the count asked for is a condition
/// on `n`: SQLite plans with a bound `LIMIT`'s value, so a statement with `LIMIT ?` is parsed
/// and planned again at every execution.
const CLAIM: &str =
    "UPDATE runs SET status = 'running', attempts = attempts + 1, lease_until = ?, \
               started_at = COALESCE(started_at, ?) \
             WHERE id IN (SELECT id FROM ( \
                 SELECT id, row_number() OVER w AS n, sum(bytes) OVER w AS total FROM ( \
                   SELECT id, lease_until, bytes + COALESCE(length(CAST(private AS BLOB)), 0) \
                     AS bytes FROM runs INDEXED BY runs_open \
                   WHERE status IN ('queued', 'running') AND lease_until <= ? \
                   ORDER BY lease_until, id LIMIT 30) \
                 WINDOW w AS (ROWS UNBOUNDED PRECEDING)) \
               WHERE n <= ? AND (n <= ? OR (n <= ? AND total <= ?) OR total <= ?)) \
             RETURNING id, workflow_id, version, input, steps, attempts, private, trigger, \
               bytes + COALESCE(length(CAST(private AS BLOB)), 0) AS bytes";
/// Most runs one claim takes: the literal `LIMIT` of [`CLAIM`].
pub const CLAIM_MOST: usize = 30;
const DELETE_OLDER: &str = "DELETE FROM runs WHERE id IN ( \
       SELECT id FROM runs INDEXED BY runs_finished \
       WHERE created_at < ? AND status IN ('succeeded', 'failed') \
         AND COALESCE(finished_at, created_at) < ? \
       ORDER BY created_at LIMIT ?) RETURNING id";

/// The run table's queries by name, for the dev-only query plans (`runs::dev::plans`).
pub fn planned_queries() -> Vec<(&'static str, String)> {
    vec![
        ("list", list_query(false, false, true)),
        ("list_by_status", list_query(false, true, true)),
        ("list_by_status_and_trigger", list_query(true, true, true)),
        ("claim", CLAIM.into()),
        ("next_due", NEXT_DUE.into()),
        ("oldest_finished", OLDEST_FINISHED.into()),
        ("delete_older", DELETE_OLDER.into()),
    ]
}

fn opt(s: Option<&str>) -> V {
    s.map_or(V::Null, text)
}

impl Table<'_> {
    fn rows<T: serde::de::DeserializeOwned>(&self, query: &str, args: Vec<V>) -> Result<Vec<T>> {
        self.sql.exec(query, args)?.to_array::<T>()
    }

    fn first<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        args: Vec<V>,
    ) -> Result<Option<T>> {
        Ok(self.rows::<T>(query, args)?.into_iter().next())
    }

    /// Inserts a run unless one with its dedup key exists: `None` when created, else the run
    /// already there.
    pub fn insert(&self, run: &NewRow<'_>) -> Result<Option<PriorRun>> {
        let (status, attempts, started, done) = match (run.finished, run.ended) {
            (true, _) => ("succeeded", 1, Some(run.created_at), Some(run.created_at)),
            (false, Some(e)) => (e.status, 1, Some(run.created_at), Some(e.finished_at)),
            (false, None) if run.claimed_until.is_some() => {
                ("running", 1, Some(run.created_at), None)
            }
            (false, None) => ("queued", 0, None, None),
        };
        let (steps, error, response) = run
            .ended
            .map_or(("[]", None, None), |e| (e.steps, e.error, e.response));
        let bytes = run.input.len()
            + run.pieces.iter().map(|p| p.len()).sum::<usize>()
            + run.ended.map_or(0, |_| steps.len())
            + error.map_or(0, str::len)
            + response.map_or(0, str::len);
        // Rows written (the row and its index entries): none when the dedup key was taken.
        let created = self
            .sql
            .exec(
                "INSERT INTO runs (id, workflow_id, version, trigger, dedup_key, status, input, fingerprint, \
                   attempts, created_at, started_at, finished_at, bytes, steps, error, response, \
                   lease_until) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT DO NOTHING",
                vec![
                    text(run.id),
                    text(run.workflow_id),
                    V::Integer(run.version),
                    text(run.trigger),
                    text(run.dedup_key),
                    text(status),
                    text(run.input),
                    opt(run.fingerprint),
                    V::Integer(attempts),
                    text(run.created_at),
                    opt(started),
                    opt(done),
                    V::Integer(bytes as i64),
                    text(steps),
                    opt(error),
                    opt(response),
                    V::Integer(match status {
                        "queued" => run.due_at,
                        _ => run.claimed_until.unwrap_or(0),
                    }),
                ],
            )?
            .rows_written()
            > 0;
        if created {
            self.insert_pieces(run.id, run.pieces)?;
            if let Some(sealed) = run.secrets {
                self.sql.exec(
                    "INSERT INTO run_secrets (run_id, sealed) VALUES (?, ?)",
                    vec![text(run.id), text(sealed)],
                )?;
            }
            return Ok(None);
        }
        self.prior_by_key(run.dedup_key)?.map(Some).ok_or_else(|| {
            worker::Error::RustError("run insert conflicted but no existing run was found".into())
        })
    }

    /// Stores the pieces of a new run's request body beside its row.
    pub fn insert_pieces(&self, id: &str, pieces: &[String]) -> Result<()> {
        for (seq, piece) in pieces.iter().enumerate() {
            self.sql.exec(
                "INSERT INTO run_pieces (run_id, seq, data) VALUES (?, ?, ?)",
                vec![text(id), V::Integer(seq as i64), text(piece)],
            )?;
        }
        Ok(())
    }

    /// The run made by `dedup_key`, if any.
    pub fn prior_by_key(&self, dedup_key: &str) -> Result<Option<PriorRun>> {
        self.first(
            &format!("SELECT {PRIOR_COLUMNS} FROM runs WHERE dedup_key = ?"),
            vec![text(dedup_key)],
        )
    }

    /// The parts of a run an idempotent repeat answers from.
    pub fn prior(&self, id: &str) -> Result<Option<PriorRun>> {
        self.first(
            &format!("SELECT {PRIOR_COLUMNS} FROM runs WHERE id = ?"),
            vec![text(id)],
        )
    }

    /// One whole run, its request body put back together.
    pub fn get(&self, id: &str) -> Result<Option<RunRow>> {
        let row = self.first::<RunRow>(
            &format!("SELECT {COLUMNS} FROM runs WHERE id = ?"),
            vec![text(id)],
        )?;
        row.map(|r| self.inflate(r)).transpose()
    }

    /// Newest first, `limit` runs with ids below `before`, optionally of one status and
    /// trigger: their summaries.
    pub fn list(
        &self,
        status: Option<&str>,
        trigger: Option<&str>,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Value>> {
        let query = list_query(trigger.is_some(), status.is_some(), before.is_some());
        let mut args: Vec<V> = [trigger, status, before]
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        args.push(V::Integer(i64::from(limit)));
        self.rows(&query, args)
    }

    /// The records of the runs in `ids` that this object holds (a body kept in pieces stays
    /// as stored, as in a listing).
    pub fn get_many(&self, ids: &[String]) -> Result<Vec<RunRow>> {
        let ids =
            serde_json::to_string(ids).map_err(|e| worker::Error::RustError(e.to_string()))?;
        self.rows(
            &format!(
                "SELECT {COLUMNS} FROM runs WHERE id IN (SELECT value FROM json_each(?)) \
                 ORDER BY id DESC"
            ),
            vec![text(&ids)],
        )
    }

    /// Takes up to `limit` (at most [`CLAIM_MOST`]) runs due, oldest first: queued ones, or
    /// ones whose executor's lease expired, within `budget` (their `bytes`: input and step
    /// records, and a resumed run's sealed outputs), so that the runs executing and those held in memory for a later slot stay
    /// small. Each one's attempt count goes up by one: that number fences every later write.
    /// One statement, read through `runs_open` (no sort of every queued run per claim), that
    /// returns only what execution reads: the claimed row's `dedup_key` and times are left
    /// empty.
    pub fn claim(
        &self,
        now_ms: i64,
        lease_until: i64,
        now_iso: &str,
        limit: usize,
        budget: ClaimBudget,
    ) -> Result<Vec<Claimed>> {
        struct Row {
            id: String,
            workflow_id: String,
            version: i64,
            input: String,
            steps: String,
            attempts: i64,
            private: Option<String>,
            trigger: String,
            bytes: i64,
        }
        impl<'de> Deserialize<'de> for Row {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                read_with(d, |mut c| {
                    Ok(Row {
                        id: c.text("id")?,
                        workflow_id: c.text("workflow_id")?,
                        version: c.int("version")?,
                        input: c.text("input")?,
                        steps: c.text("steps")?,
                        attempts: c.int("attempts")?,
                        private: c.opt_text("private")?,
                        trigger: c.text("trigger")?,
                        bytes: c.int("bytes")?,
                    })
                })
            }
        }
        let mut rows = self.rows::<Row>(
            CLAIM,
            vec![
                V::Integer(lease_until),
                text(now_iso),
                V::Integer(now_ms),
                V::Integer(limit as i64),
                V::Integer(budget.first as i64),
                V::Integer(budget.free as i64),
                V::Integer(budget.free_bytes),
                V::Integer(budget.held_bytes),
            ],
        )?;
        // At most `CLAIM_MOST` rows.
        tripline_core::kernel::small_sort::sort_small_by(&mut rows, |a, b| a.id < b.id);
        rows.into_iter()
            .map(|r| {
                // Only an OAuth run carries secrets (its sign-in's token).
                let secrets = match r.trigger.as_str() {
                    "oauth" => self.secrets(&r.id),
                    _ => Ok(None),
                };
                let mut row = RunRow {
                    id: r.id,
                    workflow_id: r.workflow_id,
                    version: r.version,
                    trigger: r.trigger,
                    dedup_key: String::new(),
                    status: "running".into(),
                    input: r.input,
                    steps: r.steps,
                    error: None,
                    response: None,
                    attempts: r.attempts,
                    lease_until,
                    created_at: String::new(),
                    started_at: None,
                    finished_at: None,
                    fingerprint: None,
                };
                // The claim is stored already: a run whose parts do not read is handed on
                // marked, never dropped with the others.
                let (secrets, unreadable) = match secrets {
                    Ok(secrets) => match self.inflate_in_place(&mut row) {
                        Ok(()) => (secrets, None),
                        Err(e) => (None, Some(e.to_string())),
                    },
                    Err(e) => (None, Some(e.to_string())),
                };
                Ok(Claimed {
                    row,
                    private: r.private,
                    secrets,
                    bytes: r.bytes,
                    unreadable,
                })
            })
            .collect()
    }

    /// A run's sealed secrets, if it was created with some.
    fn secrets(&self, id: &str) -> Result<Option<String>> {
        #[derive(Deserialize)]
        struct Secrets {
            sealed: String,
        }
        Ok(self
            .first::<Secrets>(
                "SELECT sealed FROM run_secrets WHERE run_id = ?",
                vec![text(id)],
            )?
            .map(|s| s.sealed))
    }

    /// Records progress of the claim `fence`; `false` when a newer claim owns the run.
    pub fn progress(
        &self,
        fence: Fence<'_>,
        steps: &str,
        lease_until: i64,
        response: Option<&str>,
        private: Option<&str>,
    ) -> Result<bool> {
        // The sealed outputs are dropped rather than the row left unsaveable when the row's
        // values together would pass `ROW_VALUES_MAX` (a resume then sees the stored outputs).
        let cursor = self.sql.exec(
            "UPDATE runs SET steps = ?, lease_until = ?, response = COALESCE(?, response), \
               private = CASE WHEN length(CAST(input AS BLOB)) + ? \
                   + COALESCE(?, length(CAST(response AS BLOB)), 0) \
                   + COALESCE(?, length(CAST(private AS BLOB)), 0) <= ? \
                 THEN COALESCE(?, private) END, \
               bytes = ? + length(CAST(COALESCE(?, response, '') AS BLOB)) \
             WHERE id = ? AND attempts = ? AND status = 'running'",
            vec![
                text(steps),
                V::Integer(lease_until),
                opt(response),
                V::Integer(steps.len() as i64),
                response.map_or(V::Null, |r| V::Integer(r.len() as i64)),
                private.map_or(V::Null, |p| V::Integer(p.len() as i64)),
                V::Integer(ROW_VALUES_MAX as i64),
                opt(private),
                V::Integer((fence.input_bytes + steps.len()) as i64),
                opt(response),
                text(fence.id),
                V::Integer(fence.attempts),
            ],
        )?;
        Ok(cursor.rows_written() > 0)
    }

    /// Hands the claim `fence` back: the run stopped for its wake's time or calls (see
    /// `RunWriter::stop_for_next_wake`), or was held by a wake that starts no more runs. It is
    /// queued again, due at `due`, and its attempt is not counted; queued, no write of this claim
    /// (fenced on `running`) passes any more. `false` when a newer claim owns the run.
    pub fn hand_back(&self, fence: Fence<'_>, due: i64) -> Result<bool> {
        let cursor = self.sql.exec(
            "UPDATE runs SET status = 'queued', attempts = attempts - 1, lease_until = ? \
             WHERE id = ? AND attempts = ? AND status = 'running'",
            vec![V::Integer(due), text(fence.id), V::Integer(fence.attempts)],
        )?;
        Ok(cursor.rows_written() > 0)
    }

    /// Renews the lease of a claimed run that has not started yet, fenced by its attempt
    /// number: `false` when a later claim took it.
    pub fn renew(&self, id: &str, attempts: i64, lease_until: i64) -> Result<bool> {
        let cursor = self.sql.exec(
            "UPDATE runs SET lease_until = ? WHERE id = ? AND attempts = ? AND status = 'running'",
            vec![V::Integer(lease_until), text(id), V::Integer(attempts)],
        )?;
        Ok(cursor.rows_written() > 0)
    }

    /// Ends the claim `fence` (`succeeded` or `failed`); the private outputs go (the
    /// secrets: [`Table::forget_secrets`]).
    pub fn finish(
        &self,
        fence: Fence<'_>,
        status: &str,
        steps: &str,
        error: Option<&str>,
        now_iso: &str,
    ) -> Result<bool> {
        let cursor = self.sql.exec(
            "UPDATE runs SET status = ?, steps = ?, error = ?, finished_at = ?, lease_until = 0, \
               private = NULL, \
               bytes = ? + length(CAST(COALESCE(response, '') AS BLOB)) \
             WHERE id = ? AND attempts = ? AND status = 'running'",
            vec![
                text(status),
                text(steps),
                opt(error),
                text(now_iso),
                V::Integer((fence.input_bytes + steps.len() + error.map_or(0, str::len)) as i64),
                text(fence.id),
                V::Integer(fence.attempts),
            ],
        )?;
        Ok(cursor.rows_written() > 0)
    }

    /// Deletes a run's sealed secrets (once it has ended).
    pub fn forget_secrets(&self, id: &str) -> Result<()> {
        self.sql
            .exec("DELETE FROM run_secrets WHERE run_id = ?", vec![text(id)])?;
        Ok(())
    }

    /// When the first stored open run is (or falls) due: a queued run from its creation, a
    /// claimed one when its lease runs out. The executor wakes then.
    pub fn next_due(&self) -> Result<Option<i64>> {
        #[derive(Deserialize)]
        struct Due {
            due: Option<f64>,
        }
        Ok(self
            .first::<Due>(NEXT_DUE, vec![])?
            .and_then(|d| d.due)
            .map(|d| d as i64))
    }

    /// From when the next finished run to expire is kept, given the retention cutoff
    /// `before_iso` (retention wakes a retention later): the earliest end of those created
    /// before it, or the creation of the first one created after it.
    pub fn oldest_finished(&self, before_iso: &str) -> Result<Option<String>> {
        #[derive(Deserialize)]
        struct At {
            at: Option<String>,
        }
        Ok(self
            .first::<At>(OLDEST_FINISHED, vec![text(before_iso), text(before_iso)])?
            .and_then(|a| a.at))
    }

    /// Deletes up to `limit` finished runs created and ended before `before_iso`; how many went.
    pub fn delete_older_than(&self, before_iso: &str, limit: u32) -> Result<usize> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let gone = self.rows::<Id>(
            DELETE_OLDER,
            vec![
                text(before_iso),
                text(before_iso),
                V::Integer(i64::from(limit)),
            ],
        )?;
        if !gone.is_empty() {
            let ids: Vec<&str> = gone.iter().map(|g| g.id.as_str()).collect();
            let ids = serde_json::to_string(&ids).unwrap_or_default();
            for table in ["run_pieces", "run_secrets"] {
                self.sql.exec(
                    &format!(
                        "DELETE FROM {table} WHERE run_id IN (SELECT value FROM json_each(?))"
                    ),
                    vec![text(&ids)],
                )?;
            }
        }
        Ok(gone.len())
    }

    /// Puts a request body kept in pieces back into a run's input.
    fn inflate(&self, mut row: RunRow) -> Result<RunRow> {
        self.inflate_in_place(&mut row)?;
        Ok(row)
    }

    /// [`Self::inflate`] on a row kept by the caller whatever the outcome.
    fn inflate_in_place(&self, row: &mut RunRow) -> Result<()> {
        use tripline_core::endpoint::runtime::BODY_PIECES_KEY;
        if !row.input.contains(BODY_PIECES_KEY) {
            return Ok(());
        }
        let Ok(mut input) = json_parse::from_str::<Value>(&row.input) else {
            return Ok(());
        };
        let Some(request) = input.get_mut("request").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        if !request.get(BODY_PIECES_KEY).is_some_and(Value::is_u64) {
            return Ok(());
        }
        #[derive(Deserialize)]
        struct Piece {
            data: String,
        }
        let body: String = self
            .rows::<Piece>(
                "SELECT data FROM run_pieces WHERE run_id = ? ORDER BY seq",
                vec![text(&row.id)],
            )?
            .into_iter()
            .map(|p| p.data)
            .collect();
        request.remove(BODY_PIECES_KEY);
        request.insert(
            "body".into(),
            json_parse::from_str(&body).unwrap_or(Value::Null),
        );
        row.input = input.to_string();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_limits_its_candidates_with_a_literal_that_matches_claim_most() {
        // A bound `LIMIT` would have SQLite parse and plan the claim again at every execution.
        assert!(!CLAIM.contains("LIMIT ?"));
        assert!(CLAIM.contains(&format!("LIMIT {CLAIM_MOST})")));
    }
}
