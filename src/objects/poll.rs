//! Poll triggers in the workflow's object. The object's alarm fires every `interval_seconds`;
//! each poll reads what is new since the cursor, sends the new records' runs to the workflow's
//! shard objects (one call per shard per batch, deduplicated there by the record's key), and
//! only then moves the cursor. The shards execute the runs with their own alarms, so slow steps
//! never hold the cursor back. A failing source (or a shard that cannot take the runs) creates
//! no runs, leaves the cursor alone, and backs off.
//! A poll that finds nothing new touches only the object's own storage (the deployed version,
//! the cursor and the status the API shows all live there): no D1 statement.
//!
//! State, in the object's SQLite storage (it survives undeploy/redeploy and restarts):
//! - `poll_state(key, value)`: `fingerprint` (which source the cursor belongs to), `cursor`
//!   (a PostgreSQL cursor, or an HTTP cursor's header), `generation` (bumped by a reset, so that
//!   a poll in flight does not write over it), `failures`, `armed_version`, `definition` (the
//!   armed version's definition, so an alarm never reads D1), `status` (what
//!   `GET /api/workflows/{id}` shows, [`PollStatus`]), `horizon` (a PostgreSQL source's
//!   transaction marks), `walk` (where an HTTP walk over pages stopped), `soon_at` (when a
//!   held-back poll last asked for a quick re-poll: at most one per interval).
//! - `poll_ids(seq, id)`: an HTTP cursor's remembered ids, one row each (the `unique` set can
//!   hold 100 000 ids: more than one 128 KiB value).
//!
//! Polls of one workflow never overlap: a poll holds an in-memory lock for the workflow (one
//! object instance per workflow exists at a time, so memory is the right place: a lock in
//! storage would outlive a crashed instance). Whoever holds the lock re-arms the alarm when
//! done; an alarm or reconcile that finds it held leaves the alarm to the holder.

use super::Action;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;
use tripline_core::kernel::columns::{read_with, Bad, Columns};
use tripline_core::kernel::json_parse;

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Delay, Method, Request, Response, Result, SqlStorage, SqlStorageValue};

use super::runs::batch::{self, BatchRun};
use super::{Deployed, WorkflowObject, KEY_KIND};
use crate::platform::{now_ms, random_bytes};
use crate::sources::postgres::PgSession;
use crate::sources::{http as http_source, postgres, SourceError};
use crate::store;
use futures_util::future::join_all;
use tripline_core::definition::TriggerKind;
use tripline_core::definition::{Definition, Trigger};
use tripline_core::kernel::ids::{new_run_id, WorkflowId};
use tripline_core::kernel::shard::shard_for;
use tripline_core::kernel::time::iso_millis;
use tripline_core::poll::batch_budget::record_weight;
use tripline_core::poll::cursor::{
    asked_limit, lists_newest_first, sort_oldest_first, HttpCursor, NewRecord, PgCursor,
};
use tripline_core::poll::horizon::Waiting;
use tripline_core::poll::horizon::{Horizon, MAX_MARK_BYTES};
use tripline_core::poll::pages::{AfterPage, Order, Page, PageWalk, Pause, KEPT_PAGE_TRIES};
use tripline_core::poll::state::{
    batch_run_random, dedup_scope, horizon_fingerprint, http_summary, join_http, mark_gap,
    parse_reset, pg_summary, scoped_dedup_key, source_fingerprint, split_http, stored_record,
    StoredRecord, MAX_RECORD_INPUT_BYTES,
};
use tripline_core::poll::status::{PollReport, PollStatus};
use tripline_core::poll::{failed_poll_delay_seconds, PollSource, PollStart, PollTrigger};

/// How long one alarm keeps polling while batches come back full, and reading an HTTP source's
/// pages; then it keeps what it read and re-arms at once.
const LOOP_BUDGET_MS: i64 = 25_000;
/// The same with the dev fault `short-polls` (tests of a walk over slow pages).
const SHORT_LOOP_BUDGET_MS: i64 = 2_000;
/// How often a reset or a deploy checks whether the poll it waits for has ended.
const POLL_PRIORITY_WAIT: Duration = Duration::from_millis(20);
/// A reconcile leaves an alarm this late alone (alarms are normally milliseconds late).
const ALARM_GRACE_MS: i64 = 30_000;
/// An alarm that finds the poll lock taken fires again after this.
const BUSY_RETRY_MS: u64 = 5_000;
/// How long a reset or a deploy waits for a poll in progress to end.
const LOCK_WAIT_MS: i64 = 30_000;
/// When a poll could not even read its deployed version (D1 unavailable), try again after this.
const RETRY_MS: u64 = 30_000;
/// The JSON of the ids one statement appends to a `unique` cursor (a value may hold 2 MB).
const IDS_PER_STATEMENT_BYTES: usize = 256 * 1024;

const KEY_FINGERPRINT: &str = "fingerprint";
const KEY_CURSOR: &str = "cursor";
const KEY_GENERATION: &str = "generation";
const KEY_FAILURES: &str = "failures";
const KEY_ARMED_VERSION: &str = "armed_version";
/// The armed version's definition (`{"version", "deployed_at_ms", "definition"}`, the
/// definition as its JSON text).
const KEY_DEFINITION: &str = "definition";
/// What the API shows ([`PollStatus`], JSON).
const KEY_STATUS: &str = "status";
/// A PostgreSQL source's transaction marks (`tripline_core::poll::horizon`), with the fingerprint
/// of the source they were read from.
const KEY_HORIZON: &str = "horizon";
/// Where an HTTP source's walk over its pages stopped (`tripline_core::poll::pages::PageWalk`),
/// with the fingerprint of the source.
const KEY_WALK: &str = "walk";
/// When the last quick re-poll was asked for (ms): at most one per interval.
const KEY_SOON_AT: &str = "soon_at";
/// The column each source's record keys were first read from (`{fingerprint: column}`): see
/// [`key_scope`].
const KEY_KEY_COLUMN: &str = "key_column";
/// The `shards` of earlier armed versions whose runs may still be kept
/// (`shards:until_ms,…`): a record read again (a batch that failed after some shards took
/// their runs, a reset to the beginning) is looked up in the shard it had under each, so that
/// a redeploy changing `shards` never runs it twice.
const KEY_EARLIER_SHARDS: &str = "earlier_shards";
/// The shortest quick re-poll, and what is added to `settle_seconds` (the Worker's and the
/// database's clocks need not agree to the millisecond).
const SOON_MIN_MS: u64 = 1_000;
const SOON_MARGIN_MS: u64 = 200;

// ---------------------------------------------------------------------------------------------
// In-memory state of this isolate: which workflows are polling.

thread_local! {
    static POLLING: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
    /// Workflows whose deploy waits for the poll lock.
    static DEPLOY_WAITING: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
    static LAST_RUN_MS: Cell<i64> = const { Cell::new(0) };
    /// Parsed definitions by (workflow id, version): a version never changes, so an alarm
    /// parses its definition once per isolate.
    static DEFINITIONS: RefCell<HashMap<(String, i64), Rc<Definition>>> =
        RefCell::new(HashMap::new());
}

/// Held while a workflow polls (or positions its cursor); released on drop.
pub(super) struct PollLock(String);

impl PollLock {
    /// Takes the lock unless a poll of the workflow is in progress. No await between the check
    /// and the take, so two tasks of the object cannot both get it.
    fn try_take(workflow_id: &str) -> Option<PollLock> {
        POLLING.with(|p| {
            p.borrow_mut()
                .insert(workflow_id.to_string())
                .then(|| PollLock(workflow_id.to_string()))
        })
    }
    fn held(workflow_id: &str) -> bool {
        POLLING.with(|p| p.borrow().contains(workflow_id))
    }
    /// Whether a deploy waits for the lock: it goes first, and arms the alarm itself.
    fn wanted(workflow_id: &str) -> bool {
        DEPLOY_WAITING.with(|w| w.borrow().contains(workflow_id))
    }
}

/// Marks a deploy waiting for the poll lock while it lives.
struct DeployWaiting(String);

impl DeployWaiting {
    fn new(workflow_id: &str) -> DeployWaiting {
        DEPLOY_WAITING.with(|w| w.borrow_mut().insert(workflow_id.to_string()));
        DeployWaiting(workflow_id.to_string())
    }
}

impl Drop for DeployWaiting {
    fn drop(&mut self) {
        DEPLOY_WAITING.with(|w| w.borrow_mut().remove(&self.0));
    }
}

impl Drop for PollLock {
    fn drop(&mut self) {
        POLLING.with(|p| p.borrow_mut().remove(&self.0));
    }
}

/// A creation time for a batch of runs, strictly after the previous batch's (so run ids, which
/// start with it, sort batches in order).
fn batch_time() -> i64 {
    LAST_RUN_MS.with(|last| {
        let t = now_ms().max(last.get() + 1);
        last.set(t);
        t
    })
}

// ---------------------------------------------------------------------------------------------
// The object's storage.

struct PollStore {
    sql: SqlStorage,
}

use super::ValueRow;

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

impl PollStore {
    fn open(obj: &WorkflowObject) -> Result<PollStore> {
        let sql = obj.state().storage().sql();
        sql.exec(
            "CREATE TABLE IF NOT EXISTS poll_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            None,
        )?;
        sql.exec(
            "CREATE TABLE IF NOT EXISTS poll_ids (seq INTEGER PRIMARY KEY, id TEXT NOT NULL)",
            None,
        )?;
        Ok(PollStore { sql })
    }

    fn get(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .sql
            .exec(
                "SELECT value FROM poll_state WHERE key = ?",
                vec![SqlStorageValue::from(key)],
            )?
            .to_array::<ValueRow>()?
            .into_iter()
            .next()
            .map(|r| r.value))
    }

    fn put(&self, key: &str, value: &str) -> Result<()> {
        self.sql.exec(
            "INSERT INTO poll_state (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![SqlStorageValue::from(key), SqlStorageValue::from(value)],
        )?;
        Ok(())
    }

    fn int(&self, key: &str) -> Result<i64> {
        Ok(self
            .get(key)?
            .and_then(|v| v.parse().ok())
            .unwrap_or_default())
    }

    fn generation(&self) -> Result<i64> {
        self.int(KEY_GENERATION)
    }

    fn bump_generation(&self) -> Result<i64> {
        let g = self.generation()? + 1;
        self.put(KEY_GENERATION, &g.to_string())?;
        Ok(g)
    }

    /// The stored cursor text, if it belongs to `fingerprint`.
    fn cursor_for(&self, fingerprint: &str) -> Result<Option<String>> {
        if self.get(KEY_FINGERPRINT)?.as_deref() != Some(fingerprint) {
            return Ok(None);
        }
        self.get(KEY_CURSOR)
    }

    fn ids(&self) -> Result<Vec<String>> {
        Ok(self
            .sql
            .exec("SELECT id FROM poll_ids ORDER BY seq", None)?
            .to_array::<IdRow>()?
            .into_iter()
            .map(|r| r.id)
            .collect())
    }

    fn clear_ids(&self) -> Result<()> {
        self.sql.exec("DELETE FROM poll_ids", None)?;
        Ok(())
    }

    /// Appends `ids` in order, in statements of at most [`IDS_PER_STATEMENT_BYTES`] of JSON:
    /// a `unique_capacity` of long ids is far more than one value may hold.
    fn append_ids(&self, ids: &[String]) -> Result<()> {
        let mut rest = ids;
        while !rest.is_empty() {
            let mut bytes = 2;
            let n = rest
                .iter()
                .position(|id| {
                    bytes += id.len() + 8;
                    bytes > IDS_PER_STATEMENT_BYTES
                })
                .unwrap_or(rest.len())
                .max(1);
            let list = serde_json::to_string(&rest[..n]).unwrap_or_else(|_| "[]".into());
            self.sql.exec(
                "INSERT INTO poll_ids (id) SELECT value FROM json_each(?) ORDER BY key",
                vec![SqlStorageValue::from(list)],
            )?;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// Keeps only the newest `capacity` ids.
    fn trim_ids(&self, capacity: usize) -> Result<()> {
        self.sql.exec(
            "DELETE FROM poll_ids WHERE seq <= (SELECT MAX(seq) FROM poll_ids) - ?",
            vec![SqlStorageValue::from(capacity as i64)],
        )?;
        Ok(())
    }

    /// The shard counts of earlier versions whose runs may still be kept at `now_ms`, other
    /// than `current`.
    fn earlier_shards(&self, now_ms: i64, current: u8) -> Result<Vec<u8>> {
        let mut out: Vec<u8> = Vec::new();
        for e in self.earlier_shard_entries()? {
            if e.until_ms > now_ms && e.shards != current && !out.contains(&e.shards) {
                out.push(e.shards);
            }
        }
        Ok(out)
    }

    fn earlier_shard_entries(&self) -> Result<Vec<EarlierShards>> {
        Ok(self
            .get(KEY_EARLIER_SHARDS)?
            .unwrap_or_default()
            .split(',')
            .filter_map(|e| {
                let (shards, until) = e.split_once(':')?;
                Some(EarlierShards {
                    shards: shards.parse().ok()?,
                    until_ms: until.parse().ok()?,
                })
            })
            .collect())
    }

    /// The armed version's definition as stored at its deploy, if any.
    fn stored_definition(&self) -> Result<Option<StoredDefinition>> {
        Ok(self
            .get(KEY_DEFINITION)?
            .and_then(|t| json_parse::from_str::<StoredDefinition>(&t).ok()))
    }

    /// Runs made under an earlier version's `before` shards may be kept until `until_ms`;
    /// nothing to note when the version armed now (`after`) has as many.
    fn note_shards_change(&self, before: u8, after: u8, now_ms: i64, until_ms: i64) -> Result<()> {
        if before == after {
            return Ok(());
        }
        let mut entries: Vec<EarlierShards> = self
            .earlier_shard_entries()?
            .into_iter()
            .filter(|e| e.until_ms > now_ms && e.shards != before)
            .collect();
        entries.push(EarlierShards {
            shards: before,
            until_ms,
        });
        let text: Vec<String> = entries
            .iter()
            .map(|e| format!("{}:{}", e.shards, e.until_ms))
            .collect();
        self.put(KEY_EARLIER_SHARDS, &text.join(","))
    }

    fn status(&self) -> Result<PollStatus> {
        Ok(self
            .get(KEY_STATUS)?
            .and_then(|t| json_parse::from_str(&t).ok())
            .unwrap_or_default())
    }

    fn put_status(&self, status: &PollStatus) -> Result<()> {
        self.put(KEY_STATUS, &status.to_json().to_string())
    }
}

/// One entry of [`KEY_EARLIER_SHARDS`].
struct EarlierShards {
    shards: u8,
    until_ms: i64,
}

struct StoredDefinition {
    version: i64,
    deployed_at_ms: i64,
    definition: String,
}

/// Read field by field (see [`Columns`]).
impl<'de> Deserialize<'de> for StoredDefinition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(StoredDefinition {
                version: c.int("version")?,
                deployed_at_ms: c.int("deployed_at_ms")?,
                definition: c.text("definition")?,
            })
        })
    }
}

/// Keeps the deployed version in the object (read once from D1, at deploy).
async fn remember_deployed(
    obj: &WorkflowObject,
    store: &PollStore,
    deployed: &Deployed,
) -> Result<()> {
    let db = store::db(obj.env())?;
    let Some(definition) =
        store::runs::version_definition(&db, &deployed.workflow_id, deployed.version).await?
    else {
        return Ok(());
    };
    // The runs of the versions D1 lists as replaced within the retention period
    // (`remember_live` has just stored them) may be kept a retention period from now.
    let now = now_ms();
    let until =
        now + super::runs::limits::retention_ms(obj.env()) + super::runs::EARLIER_SHARDS_SLACK_MS;
    let shards = super::runs::shards_of(&deployed.definition);
    let live = obj
        .state()
        .storage()
        .get::<String>(super::KEY_LIVE)
        .await?
        .and_then(|t| json_parse::from_str::<Value>(&t).ok())
        .unwrap_or_default();
    for earlier in super::runs::parse_earlier_shards(live["earlier_shards"].as_str(), shards) {
        store.note_shards_change(earlier, shards, now, until)?;
    }
    let stored = json!({
        "version": deployed.version,
        "deployed_at_ms": deployed.deployed_at_ms,
        "definition": definition,
    });
    store.put(KEY_DEFINITION, &stored.to_string())?;
    cache_definition(
        (deployed.workflow_id.clone(), deployed.version),
        deployed.definition.clone(),
    );
    Ok(())
}

/// Keeps a parsed definition for its isolate, dropping the workflow's earlier versions (a
/// workflow polls one version at a time; redeploys would otherwise pile them up).
fn cache_definition(key: (String, i64), definition: Rc<Definition>) {
    DEFINITIONS.with(|d| {
        let mut d = d.borrow_mut();
        d.retain(|(workflow, _), _| workflow != &key.0);
        d.insert(key, definition);
    });
}

/// A `greatest` cursor stored before cursors named the pointer their mark was read at gets the
/// one of the version it was read under (the definition still stored), so that a deploy that
/// moves the pointer starts over (see `HttpCursor::resume`).
fn name_the_mark_pointer(store: &PollStore) -> Result<()> {
    let Some(previous) = store
        .stored_definition()?
        .and_then(|s| json_parse::from_str::<Value>(&s.definition).ok())
        .and_then(|v| Definition::parse_stored(&v).ok())
    else {
        return Ok(());
    };
    let Trigger::Poll(trigger) = &previous.trigger else {
        return Ok(());
    };
    let PollSource::Http(source) = &trigger.source else {
        return Ok(());
    };
    let Some(mut header) = store
        .cursor_for(&source_fingerprint(&trigger.source))?
        .and_then(|t| json_parse::from_str::<Value>(&t).ok())
    else {
        return Ok(());
    };
    if header["mode"] != "greatest" || header.get("by").is_some() {
        return Ok(());
    }
    header["by"] = json!(source.order_pointer());
    store.put(KEY_CURSOR, &header.to_string())
}

/// The deployed version the poll is armed for, from the object's storage (parsed once per
/// isolate). An object armed before it kept the definition reads it from D1 once.
async fn armed_deployed(
    obj: &WorkflowObject,
    store: &PollStore,
    workflow_id: &str,
) -> Result<Option<Deployed>> {
    let Some(version) = store
        .get(KEY_ARMED_VERSION)?
        .and_then(|v| v.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    let key = (workflow_id.to_string(), version);
    let cached = DEFINITIONS.with(|d| d.borrow().get(&key).cloned());
    let stored = store.stored_definition()?.filter(|s| s.version == version);
    let Some(stored) = stored else {
        let deployed = obj.deployed(workflow_id).await?;
        if let Some(d) = &deployed {
            remember_deployed(obj, store, d).await?;
        }
        return Ok(deployed);
    };
    let definition = match cached {
        Some(d) => d,
        None => {
            let parsed = json_parse::from_str::<Value>(&stored.definition)
                .ok()
                .and_then(|v| Definition::parse_stored(&v).ok())
                .map(Rc::new);
            // An error, not "not deployed": the poll is tried again later rather than disarmed
            // for good (a release rolled back to may not read what a later one stored).
            let Some(parsed) = parsed else {
                return Err(worker::Error::RustError(format!(
                    "the stored definition of version {version} does not parse in this release"
                )));
            };
            cache_definition(key, parsed.clone());
            parsed
        }
    };
    Ok(Some(Deployed {
        workflow_id: workflow_id.to_string(),
        version,
        definition,
        deployed_at_ms: stored.deployed_at_ms,
    }))
}

/// What the API shows of the poll (`null` when the object never polled for this workflow).
pub fn status(obj: &WorkflowObject) -> Result<Value> {
    #[derive(Deserialize)]
    struct N {
        n: i64,
    }
    let sql = obj.state().storage().sql();
    let tables = sql
        .exec(
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'poll_state'",
            None,
        )?
        .to_array::<N>()?;
    if tables.first().is_none_or(|t| t.n == 0) {
        return Ok(Value::Null);
    }
    Ok(PollStore::open(obj)?.status()?.to_json())
}

/// A loaded HTTP cursor and whether it is a first poll (nothing stored for this source).
struct LoadedHttp {
    cursor: HttpCursor,
    first: bool,
    /// The ids must be rewritten rather than appended (new cursor, or another mode).
    rewrite: bool,
}

fn load_pg(store: &PollStore, fingerprint: &str) -> Result<Option<PgCursor>> {
    Ok(store
        .cursor_for(fingerprint)?
        .and_then(|t| json_parse::from_str::<PgCursor>(&t).ok()))
}

/// The value stored under `key` for the source `fingerprint`, read by `read` (none for another
/// source, or unreadable).
fn load_fingerprinted<T>(
    store: &PollStore,
    key: &str,
    fingerprint: &str,
    read: fn(Columns) -> std::result::Result<T, Bad>,
) -> Result<Option<T>> {
    Ok(store
        .get(key)?
        .and_then(|text| fingerprinted(&text, fingerprint, read)))
}

/// A value stored as `{"fingerprint", "value"}` (or `marks`, `walk` for `value`) if it is of
/// the source `fingerprint` and reads.
fn fingerprinted<T>(
    text: &str,
    fingerprint: &str,
    read: fn(Columns) -> std::result::Result<T, Bad>,
) -> Option<T> {
    let mut c = Columns::of(json_parse::from_str::<Value>(text).ok()?, "").ok()?;
    if c.text("fingerprint").ok()? != fingerprint {
        return None;
    }
    let value = ["value", "marks", "walk"]
        .into_iter()
        .find_map(|name| c.opt_value(name))?;
    read(Columns::of(value, "").ok()?).ok()
}

fn load_horizon(store: &PollStore, fingerprint: &str) -> Result<Horizon> {
    // Marks kept before their bytes were bounded, too large to go with a read: none (the rows
    // they covered wait until a later poll proves them again).
    if store
        .get(KEY_HORIZON)?
        .is_some_and(|t| t.len() > 2 * MAX_MARK_BYTES)
    {
        return Ok(Horizon::default());
    }
    Ok(
        load_fingerprinted(store, KEY_HORIZON, fingerprint, Horizon::from_columns)?
            .unwrap_or_default(),
    )
}

fn save_horizon(store: &PollStore, fingerprint: &str, horizon: &Horizon) -> Result<()> {
    store.put(
        KEY_HORIZON,
        &json!({"fingerprint": fingerprint, "marks": horizon}).to_string(),
    )
}

fn load_http(
    store: &PollStore,
    fingerprint: &str,
    source: &tripline_core::poll::HttpSource,
) -> Result<LoadedHttp> {
    let stored = match store.cursor_for(fingerprint)? {
        Some(header) => match json_parse::from_str::<Value>(&header) {
            Ok(h) => join_http(&h, store.ids()?),
            Err(_) => None,
        },
        None => None,
    };
    // No cursor for this source, or one of the other dedupe mode: a first poll.
    let (cursor, fresh) = HttpCursor::resume(stored, source);
    Ok(LoadedHttp {
        cursor,
        first: fresh,
        rewrite: fresh,
    })
}

/// The page walk a poll stopped in (page bound reached), if it belongs to `fingerprint`.
fn load_walk(store: &PollStore, fingerprint: &str) -> Result<Option<PageWalk>> {
    load_fingerprinted(store, KEY_WALK, fingerprint, PageWalk::from_columns)
}

/// Most bytes of ids a walk keeps between polls (stored as one value, which the platform caps
/// at 2 MB).
const WALK_MAX_BYTES: usize = 1_800_000;

/// Stores the walk unless a reset happened since `generation` was read.
fn save_walk(
    store: &PollStore,
    generation: i64,
    fingerprint: &str,
    walk: &PageWalk,
) -> Result<bool> {
    if store.generation()? != generation {
        return Ok(false);
    }
    store.put(
        KEY_WALK,
        &json!({"fingerprint": fingerprint, "walk": walk}).to_string(),
    )?;
    Ok(true)
}

fn clear_walk(store: &PollStore) -> Result<()> {
    store
        .sql
        .exec(
            "DELETE FROM poll_state WHERE key = ?",
            vec![SqlStorageValue::from(KEY_WALK)],
        )
        .map(|_| ())
}

/// Stores a PostgreSQL cursor unless a reset happened since `generation` was read.
fn save_pg(
    store: &PollStore,
    generation: i64,
    fingerprint: &str,
    cursor: &PgCursor,
) -> Result<bool> {
    if store.generation()? != generation {
        return Ok(false);
    }
    store.put(KEY_FINGERPRINT, fingerprint)?;
    store.put(
        KEY_CURSOR,
        &serde_json::to_string(cursor).unwrap_or_default(),
    )?;
    Ok(true)
}

/// Stores an HTTP cursor after `taken` were advanced over, unless a reset happened since
/// `generation` was read. `unique` cursors append the taken ids and trim; others rewrite.
fn save_http(
    store: &PollStore,
    generation: i64,
    fingerprint: &str,
    cursor: &HttpCursor,
    rewrite: bool,
    taken: &[String],
) -> Result<bool> {
    if store.generation()? != generation {
        return Ok(false);
    }
    let (header, ids) = split_http(cursor);
    store.put(KEY_FINGERPRINT, fingerprint)?;
    store.put(KEY_CURSOR, &header.to_string())?;
    match cursor {
        HttpCursor::Unique(recent) if !rewrite => {
            store.append_ids(taken)?;
            store.trim_ids(recent.capacity())?;
        }
        // Nothing taken: the ids kept are the cursor's (an idle poll of a mark shared by
        // thousands of items writes none of them again).
        HttpCursor::Greatest { .. } if !rewrite && taken.is_empty() => {}
        _ => {
            store.clear_ids()?;
            store.append_ids(&ids)?;
        }
    }
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// One poll.

/// What one poll did.
enum Polled {
    /// First poll with `start: now`: the cursor now points at the end of the source.
    Positioned { summary: Value },
    /// New records were taken (possibly none). `full`: the batch limit (rows or bytes) was
    /// reached.
    Taken {
        created: usize,
        full: bool,
        summary: Option<Value>,
    },
}

/// What a poll tells besides its runs: the transaction holding rows back, a gap it could not rule
/// out, and whether to poll again soon (a new mark, `settle_seconds` after the one that saw the
/// rows, is all a held-back poll needs to move on).
#[derive(Default)]
struct PollNotes {
    waiting: Option<Waiting>,
    gap: Option<Value>,
    /// Poll again after this many ms (rather than the interval), at most once per interval.
    soon_ms: Option<u64>,
    /// The poll read an HTTP walk to its end (a `max_pages` gap before it is caught up).
    walk_ended: bool,
    /// Runs created by the polls of this wake-up.
    created: usize,
    /// The cursor to show (`None`: unchanged).
    summary: Option<Value>,
}

struct PollCtx<'a> {
    obj: &'a WorkflowObject,
    workflow_id: &'a str,
    version: i64,
    /// How many shard objects the deployed version spreads its runs over.
    shards: u8,
    trigger: &'a PollTrigger,
    store: &'a PollStore,
    fingerprint: String,
    /// The scope of the source's dedup keys ([`key_scope`]).
    key_scope: String,
    notes: RefCell<PollNotes>,
    /// When this alarm (or deploy) began polling: its time budget counts from here.
    started: i64,
    budget_ms: i64,
    /// Outbound calls this alarm (or deploy) made: source reads and pages, calls to shards.
    calls: Cell<u64>,
    /// At most this many (`POLL_WAKE_CALLS`; see [`wake_calls`]).
    call_budget: u64,
}

impl PollCtx<'_> {
    /// Whether this poll has polled for its time or made its calls, or a deploy waits for it:
    /// it stops before its next batch or page and goes on at once after (a new invocation).
    fn out_of_time(&self) -> bool {
        now_ms() - self.started >= self.budget_ms
            || self.calls.get() + self.batch_calls() > self.call_budget
            || PollLock::wanted(self.workflow_id)
    }

    /// The most calls one more batch or page makes: its read, and then one call per shard
    /// its runs go to.
    fn batch_calls(&self) -> u64 {
        1 + u64::from(self.shards)
    }

    fn count_calls(&self, n: usize) {
        self.calls.set(self.calls.get().saturating_add(n as u64));
    }

    /// Notes the calls of this wake for the dev counters (`Action::DevPollCalls`).
    fn note_wake(&self) {
        if crate::objects::runs::dev::enabled(self.obj.env()) {
            WAKE_CALLS.with(|w| {
                let mut w = w.borrow_mut();
                let seen = w.entry(self.workflow_id.to_string()).or_default();
                seen.wakes += 1;
                seen.wake_calls_max = seen.wake_calls_max.max(self.calls.get());
            });
        }
    }
}

/// Dev counters of a workflow's poll wakes in this isolate.
#[derive(Default, Clone, Copy, serde::Serialize)]
pub struct WakeCalls {
    wakes: u64,
    wake_calls_max: u64,
}

thread_local! {
    static WAKE_CALLS: RefCell<HashMap<String, WakeCalls>> = RefCell::new(HashMap::new());
}

/// The dev counters of `workflow_id`'s poll wakes (zeros before any).
pub fn wake_calls_seen(workflow_id: &str) -> WakeCalls {
    WAKE_CALLS.with(|w| w.borrow().get(workflow_id).copied().unwrap_or_default())
}

/// `POLL_WAKE_CALLS` (default 5 000, at least 1): most outbound calls one poll alarm (or
/// deploy) makes: reads of the source (a PostgreSQL batch, an HTTP page) and calls to the shard
/// objects its runs go to. The platform counts an invocation's subrequests (10 000 on Workers
/// Paid): a fast source drained in batches over many shards could reach that count within the
/// alarm's 25 s, failing every later call. Past this many, less the calls of one more batch,
/// the poll keeps what it read and re-arms at once (every poll reads at least one batch or
/// page, whatever this is). Half the platform's count: room for redirects and lookups in the
/// shards of an earlier `shards`, which are counted but not reserved.
fn wake_calls(env: &worker::Env) -> u64 {
    super::runs::limits::env_number(env, "POLL_WAKE_CALLS").map_or(5_000, |n| n.max(1.0) as u64)
}

/// The scope of the source's dedup keys (`poll::state::dedup_scope`): the first poll of a
/// source notes the column its keys are read from (a PostgreSQL tiebreak, else the cursor; an
/// HTTP source's id pointer is part of its fingerprint).
fn key_scope(store: &PollStore, fingerprint: &str, source: &PollSource) -> Result<String> {
    let PollSource::Postgres(s) = source else {
        return Ok(fingerprint.to_string());
    };
    let column = s.tiebreak.as_deref().unwrap_or(&s.cursor);
    // Every source this object polled keeps its entry: a redeploy back onto an earlier table
    // finds the column its runs were keyed by.
    let mut firsts = store
        .get(KEY_KEY_COLUMN)?
        .and_then(|t| json_parse::from_str::<Value>(&t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let first = match firsts[fingerprint].as_str() {
        Some(first) => first.to_string(),
        None => {
            firsts[fingerprint] = json!(column);
            store.put(KEY_KEY_COLUMN, &firsts.to_string())?;
            column.to_string()
        }
    };
    Ok(dedup_scope(fingerprint, &first, column))
}

/// How long one alarm (or deploy) polls before it re-arms at once.
fn loop_budget_ms(env: &worker::Env) -> i64 {
    match crate::platform::dev_fault::listed(env, "short-polls") {
        true => SHORT_LOOP_BUDGET_MS,
        false => LOOP_BUDGET_MS,
    }
}

fn storage_err(e: worker::Error) -> SourceError {
    SourceError(format!("the poll's own storage failed: {e}"))
}

/// Creates one run per record in the workflow's shard objects (one call per shard, all at
/// once), returning how many were created (records seen before are left out by their dedup
/// key). After a `gap`, the first (oldest) run's input says so (`event.gap`). Fails unless
/// every shard took its runs: the caller then leaves the cursor where it was.
async fn record_runs(
    ctx: &PollCtx<'_>,
    records: &[&NewRecord],
    gap: Option<&Value>,
) -> std::result::Result<usize, SourceError> {
    if records.is_empty() {
        return Ok(0);
    }
    // After a redeploy changed `shards`, a record read again may have its run in the shard its
    // key had before: it is left out.
    let held = held_in_earlier_shards(ctx, records).await?;
    let records: Vec<&NewRecord> = records
        .iter()
        .copied()
        .filter(|r| !held.contains(&scoped_dedup_key(&ctx.key_scope, &r.dedup_key)))
        .collect();
    if records.is_empty() {
        return Ok(0);
    }
    let workflow = WorkflowId::parse(ctx.workflow_id)
        .ok_or_else(|| SourceError(format!("not a workflow id: {}", ctx.workflow_id)))?;
    let now = batch_time();
    let created_at = iso_millis(now);
    // A record that cannot be run (unreadable, or too large to store) is recorded as a failed
    // run saying why: it never blocks the poll. Keys are scoped to the source, so another
    // source's ids never collide.
    let mut stored: Vec<StoredRecord> = records
        .iter()
        .map(|r| stored_record(r, MAX_RECORD_INPUT_BYTES))
        .collect();
    if let (Some(gap), Some(first)) = (gap, stored.first_mut()) {
        mark_gap(first, gap);
    }
    let mut by_shard: BTreeMap<u8, Vec<BatchRun>> = BTreeMap::new();
    for (i, (record, stored)) in records.iter().zip(stored).enumerate() {
        let dedup_key = scoped_dedup_key(&ctx.key_scope, &record.dedup_key);
        let shard = shard_for(&dedup_key, ctx.shards);
        let random = random_bytes::<7>().map_err(|e| SourceError(e.to_string()))?;
        // Ids start with the batch's time, then the record's place in it: cursor order.
        let id = new_run_id(
            now as u64,
            &batch_run_random(i as u32, random),
            &workflow,
            shard,
        );
        let (input, error) = match stored {
            StoredRecord::Run(input) => (input, None),
            StoredRecord::Failed { input, error } => (input, Some(error)),
        };
        by_shard.entry(shard).or_default().push(BatchRun {
            id,
            workflow_id: ctx.workflow_id.to_string(),
            version: ctx.version,
            trigger: TriggerKind::Poll.as_str().to_string(),
            dedup_key,
            input,
            created_at: created_at.clone(),
            error,
            moved: None,
        });
    }
    // Undeployed or deleted while the source was read: no run is created.
    let kv = ctx.obj.kv().map_err(storage_err)?;
    if ctx.obj.kind_now(kv).map_err(storage_err)? != Some(TriggerKind::Poll) {
        return Err(SourceError(
            "the workflow was undeployed during the poll; no run was created".into(),
        ));
    }
    let env = ctx.obj.env();
    ctx.count_calls(by_shard.len());
    let answers = join_all(
        by_shard
            .into_iter()
            .map(|(shard, runs)| batch::create(env, ctx.workflow_id, shard, runs)),
    )
    .await;
    let mut created = 0;
    for answer in answers {
        match answer {
            Ok(answer) => created += answer.created.len(),
            Err(e) => return Err(SourceError(format!("recording the runs failed: {e}"))),
        }
    }
    Ok(created)
}

/// The scoped dedup keys of `records` that a shard holds under an earlier `shards` of the
/// workflow (one call per such shard, one after the other); none unless a redeploy changed
/// `shards` within the retention period.
async fn held_in_earlier_shards(
    ctx: &PollCtx<'_>,
    records: &[&NewRecord],
) -> std::result::Result<HashSet<String>, SourceError> {
    let earlier = ctx
        .store
        .earlier_shards(now_ms(), ctx.shards)
        .map_err(storage_err)?;
    if earlier.is_empty() {
        return Ok(HashSet::new());
    }
    let mut ask: Vec<(u8, Vec<String>)> = Vec::new();
    for r in records {
        let key = scoped_dedup_key(&ctx.key_scope, &r.dedup_key);
        for shard in super::runs::earlier_shards(&key, ctx.shards, &earlier) {
            match ask.iter_mut().find(|(s, _)| *s == shard) {
                Some((_, keys)) => keys.push(key.clone()),
                None => ask.push((shard, vec![key.clone()])),
            }
        }
    }
    // One shard after the other: this happens only within the retention period after a
    // change of `shards`, and is no hot path.
    let mut held = HashSet::new();
    ctx.count_calls(ask.len());
    for (shard, keys) in &ask {
        let found = batch::held(ctx.obj.env(), ctx.workflow_id, *shard, keys)
            .await
            .map_err(|e| {
                SourceError(format!(
                    "looking the records up in the shards of an earlier `shards` failed: {e}"
                ))
            })?;
        held.extend(found);
    }
    Ok(held)
}

/// One poll of a PostgreSQL source (one batch).
async fn poll_pg(
    ctx: &PollCtx<'_>,
    source: &tripline_core::poll::PgSource,
    session: &mut Option<PgSession>,
    force_now: bool,
) -> std::result::Result<Polled, SourceError> {
    let store = ctx.store;
    let generation = store.generation().map_err(storage_err)?;
    if session.is_none() {
        *session = Some(postgres::connect(ctx.obj.env(), source).await?);
    }
    let Some(pg) = session.as_mut() else {
        return Err(SourceError("no connection".into()));
    };
    let stored = if force_now {
        None
    } else {
        load_pg(store, &ctx.fingerprint).map_err(storage_err)?
    };
    let cursor = match (&stored, ctx.trigger.start, force_now) {
        (Some(c), _, _) => c.clone(),
        (None, PollStart::Now, _) | (None, _, true) => {
            ctx.count_calls(1);
            let latest = pg.latest(source).await?;
            save_pg(store, generation, &ctx.fingerprint, &latest).map_err(storage_err)?;
            return Ok(Polled::Positioned {
                summary: pg_summary(&latest),
            });
        }
        (None, PollStart::Beginning, false) => PgCursor::Beginning,
    };
    // The marks belong to the connection too (another cluster's transaction ids are not theirs).
    let marks_of = horizon_fingerprint(&ctx.fingerprint, &ctx.trigger.source);
    let mut horizon = load_horizon(store, &marks_of).map_err(storage_err)?;
    ctx.count_calls(1);
    let (rows, cut) = pg
        .settled_batch(source, &cursor, &mut horizon, now_ms())
        .await?;
    save_horizon(store, &marks_of, &horizon).map_err(storage_err)?;
    {
        let mut notes = ctx.notes.borrow_mut();
        notes.waiting = horizon.waiting().cloned();
        // Rows seen but not final yet: a poll `settle_seconds` later may confirm them.
        notes.soon_ms = horizon
            .held_back()
            .then(|| (u64::from(source.settle_seconds) * 1000 + SOON_MARGIN_MS).max(SOON_MIN_MS));
    }
    if rows.is_empty() {
        if stored.is_none() {
            save_pg(store, generation, &ctx.fingerprint, &cursor).map_err(storage_err)?;
        }
        return Ok(Polled::Taken {
            created: 0,
            full: false,
            summary: stored.is_none().then(|| pg_summary(&cursor)),
        });
    }
    // Rows left behind the batch's end (its size or its bytes): poll again at once.
    let full = cut || rows.len() >= source.batch_size as usize;
    let records: Vec<&NewRecord> = rows.iter().map(|r| &r.new).collect();
    let created = record_runs(ctx, &records, None).await?;
    let last = &rows[rows.len() - 1].position;
    save_pg(store, generation, &ctx.fingerprint, last).map_err(storage_err)?;
    Ok(Polled::Taken {
        created,
        full,
        summary: Some(pg_summary(last)),
    })
}

/// One poll of an HTTP source: a walk over its pages, at most `max_pages` of them, from where
/// the previous poll stopped (a [`PageWalk`] kept in the object) or from the first page. Runs
/// are created for the new records of every page read (oldest first); the cursor moves over
/// the records of the walk only when the walk reaches its end (see `tripline_core::poll::pages`).
async fn poll_http(
    ctx: &PollCtx<'_>,
    source: &tripline_core::poll::HttpSource,
    force_now: bool,
) -> std::result::Result<Polled, SourceError> {
    let store = ctx.store;
    let generation = store.generation().map_err(storage_err)?;
    let loaded = if force_now {
        LoadedHttp {
            cursor: HttpCursor::for_source(source),
            first: true,
            rewrite: true,
        }
    } else {
        load_http(store, &ctx.fingerprint, source).map_err(storage_err)?
    };
    let mut cursor = loaded.cursor;
    let positioning = loaded.first && (force_now || ctx.trigger.start == PollStart::Now);
    let mut walk = if loaded.first {
        PageWalk::new(positioning)
    } else {
        load_walk(store, &ctx.fingerprint)
            .map_err(storage_err)?
            .unwrap_or_default()
    };
    let pagination = &source.pagination;
    let env = ctx.obj.env();
    let mut pages = 0u32;
    let mut items_read = 0usize;
    // New records, kept for their runs (none while positioning), their JSON size and count.
    let mut new: Vec<NewRecord> = Vec::new();
    let mut held_bytes = 0usize;
    let mut new_count = 0usize;
    // Whether the last page read listed its items newest first and may have been cut: the
    // walk's first page (a page reached by a link is part of a list read to its end), with as
    // many items as its URL asked for (`limit=`), or any number when the URL names no limit
    // (the API's own page size may have cut it).
    let mut last_cut_newest_first = false;
    // A source whose URL or headers send a credential follows redirects only within its origin.
    let carries_secret = source.carries_credentials();
    // A page after this poll's first that cannot be read: the walk pauses before it, the pages
    // read before it start their runs, and the next poll reads on from it. Not for a reset to
    // `now`: it either positions the cursor or leaves it as it was.
    let mut failed: Option<SourceError> = None;
    macro_rules! or_pause {
        ($read:expr, $shown:expr, $request:expr) => {
            match $read {
                Ok(v) => v,
                Err(e) if pages > 0 && !force_now => {
                    let SourceError(e) = SourceError::from(e);
                    // Named once: a failed request's error names its page already.
                    let page = match e.contains($shown.as_str()) {
                        true => String::new(),
                        false => format!("reading {}: ", $shown),
                    };
                    // The template may hold a credential as written (`?api_key=…`): scrubbed
                    // as the request's own errors are.
                    failed = Some(SourceError($request.scrub(&format!(
                        "{e} ({page}the runs of the pages before it were started; the next \
                         poll reads on from this page)"
                    ))));
                    break Err(Pause::MaxPages);
                }
                Err(e) => return Err(e.into()),
            }
        };
    }
    let end = loop {
        let request = source.page_request(walk.next.as_ref(), cursor.mark(), |n| {
            http_source::secret(env, n)
        })?;
        // Errors name the URL template (the URL itself may hold a secret) and the page; a
        // credential written into the template (`?api_key=…`) redacted.
        let template = tripline_core::kernel::redact::redact_url(&source.url, &[]);
        let shown = match walk.pages {
            0 => template,
            n => format!("{template} (page {})", n + 1),
        };
        ctx.count_calls(1);
        let fetched = http_source::fetch(&request, &shown, carries_secret).await;
        if pages == 0 && walk.next.is_some() {
            // The page kept from an earlier poll: refusals in a row give it up (the walk starts
            // again from the first page), and so do answers without the list (an API that says
            // `200 {"ok": false, "error": "invalid_cursor"}` of an expired page token); a read,
            // or any other failure, starts the count again.
            let before = walk.kept_page_failures;
            let given_up = match &fetched {
                Err(e) => http_source::is_refusal(e),
                Ok(page) => source.items_of(&page.body).is_err(),
            };
            let restarted = match given_up {
                true => walk.kept_page_failed(),
                false => {
                    walk.kept_page_failures = 0;
                    false
                }
            };
            if restarted || walk.kept_page_failures != before {
                save_walk(store, generation, &ctx.fingerprint, &walk).map_err(storage_err)?;
            }
            if restarted {
                let e = match &fetched {
                    Err(SourceError(e)) => e.clone(),
                    Ok(page) => match source.items_of(&page.body) {
                        Err(e) => request.scrub(&format!("reading {shown}: {e}")),
                        Ok(_) => String::new(),
                    },
                };
                return Err(SourceError(format!(
                    "{e} (the page kept from an earlier poll failed {KEPT_PAGE_TRIES} polls in \
                     a row: the next poll reads the list again from its first page)"
                )));
            }
        }
        let page = or_pause!(fetched, shown, request);
        let items = or_pause!(source.items_of(&page.body), shown, request);
        let next = or_pause!(
            source.next_request(&request.url, page.link.as_deref(), &page.body),
            shown,
            request
        );
        walk.first_page(&request.url);
        pages += 1;
        items_read += items.len();
        let may_be_cut = match asked_limit(&request.url) {
            None => true,
            Some(limit) => limit.is_some_and(|n| items.len() >= n),
        };
        last_cut_newest_first = walk.pages == 0
            && may_be_cut
            && source
                .greatest_pointer()
                .is_some_and(|p| lists_newest_first(items, p));
        // A page that does not read after another one did pauses the walk there: the runs of
        // the pages before it are started, not held back until the page reads.
        let (fresh, seen) = match cursor.select_page(items, &source.id, source.greatest_pointer()) {
            Err(e) if pages == 1 => return Err(e.into()),
            selected => or_pause!(selected, shown, request),
        };
        let fresh = walk.not_taken(fresh);
        let read = Page {
            items: items.len(),
            seen,
            next,
        };
        let after = walk.after_page(pagination.order, read, &fresh);
        if walk.positioning && pagination.order == tripline_core::poll::pages::Order::OldestFirst {
            if let Some(capacity) = cursor.overflowed_from_now(walk.taken.len()) {
                return Err(SourceError(format!(
                    "starting from now, this oldest-first list holds more than \
                     `unique_capacity` ({capacity}) items: the oldest would be forgotten and \
                     later taken for new records. Raise `trigger.source.unique_capacity` above \
                     the list's length, or use `dedupe: \"greatest\"`"
                )));
            }
        }
        cursor.compact_taken(&mut walk.taken);
        new_count += fresh.len();
        if !walk.positioning {
            let mut fresh = fresh;
            request.scrub_records(&mut fresh);
            // Weighed as a batch of PostgreSQL rows is: many small values count what they
            // take once parsed.
            held_bytes += fresh
                .iter()
                .map(|r| serde_json::to_string(&r.record).map_or(0, |t| record_weight(&t)))
                .sum::<usize>();
            new.extend(fresh);
        }
        match after {
            AfterPage::Next(_) => {
                match pagination.pause_after(
                    pages,
                    walk.pages_at_once,
                    held_bytes,
                    walk.positioning,
                    ctx.out_of_time(),
                ) {
                    None => continue,
                    Some(pause) => break Err(pause),
                }
            }
            AfterPage::End {
                reached_seen,
                boundary_all_new,
            } => break Ok((reached_seen, boundary_all_new)),
        }
    };
    // Oldest first: by the ordering value when there is one, else a newest-first list reversed.
    if source.greatest_pointer().is_some() {
        sort_oldest_first(&mut new);
    } else if pagination.order == Order::NewestFirst {
        new.reverse();
    }
    // A gap can only be told against something seen before; an API asked for what is after
    // the cursor (`{{cursor.greatest}}`) and read to its end has shown everything new, unless
    // it listed newest first as many items as it was asked for: a capped answer (a `limit`
    // without a next page) then left out the oldest new items.
    let compared = !walk.positioning && !cursor.is_empty();
    let asked_only_for_new = source.is_incremental() && cursor.mark().is_some();
    let capped_newest_first = asked_only_for_new && last_cut_newest_first;
    let gap = match end {
        // Paused to go on at once, or at a page that failed: no gap to report.
        Err(Pause::AtOnce) => None,
        _ if failed.is_some() => None,
        Err(Pause::MaxPages) => Some(json!({
            "at": iso_millis(now_ms()),
            "kind": "max_pages",
            "pages": pages,
            "items": items_read,
            "new": new_count,
            "reason": format!(
                "the poll read {} pages (max_pages) without reaching the end of the list; \
                 the next poll goes on from there", pagination.max_pages),
            "caught_up_at": null,
        })),
        // Nothing proves that no item came and went between two polls when the page where old
        // items meet new ones holds only new items (unless the API was asked for what is after
        // the cursor, and was read to its end).
        Ok((false, true)) if compared && (!asked_only_for_new || capped_newest_first) => {
            Some(json!({
                "at": iso_millis(now_ms()),
                "kind": "all_new",
                "pages": pages,
                "items": items_read,
                "new": new_count,
                "reason": match capped_newest_first {
                    true => "asked for what is new, the source listed it newest first without \
                             reaching the last item seen, and as many items as the URL's limit \
                             (or the URL names none): the oldest new items may have been left \
                             out; ask it for oldest first, follow its pages, put a limit in the \
                             URL, or filter inclusively (`gte`) so that a whole answer shows the \
                             last item seen",
                    false => "every item where the list meets what was seen before was new, so \
                              items in between may have been missed; poll more often or ask the \
                              source for more items per page",
                },
                "caught_up_at": null,
            }))
        }
        _ => None,
    };
    let created = if walk.positioning {
        0
    } else {
        let records: Vec<&NewRecord> = new.iter().collect();
        record_runs(ctx, &records, gap.as_ref()).await?
    };
    {
        let mut notes = ctx.notes.borrow_mut();
        notes.walk_ended = end.is_ok();
        if let Some(g) = gap {
            notes.gap = Some(g);
        }
    }
    if let Err(pause) = end {
        walk.paused(pause, pages);
        let kept = serde_json::to_string(&walk.taken).map_or(0, |t| t.len());
        if kept > WALK_MAX_BYTES {
            return Err(SourceError(format!(
                "this walk over the list took more ids ({} records, {kept} bytes) than can be \
                 kept between polls ({WALK_MAX_BYTES} bytes): lower `unique_capacity`",
                walk.taken.len()
            )));
        }
        // Go on from here next poll. The cursor stays; a first poll stores it, so that the next
        // poll is not a first poll again.
        if save_walk(store, generation, &ctx.fingerprint, &walk).map_err(storage_err)?
            && loaded.rewrite
        {
            save_http(store, generation, &ctx.fingerprint, &cursor, true, &[])
                .map_err(storage_err)?;
        }
        if let Some(e) = failed {
            // The runs started count in the status though the poll failed.
            ctx.notes.borrow_mut().created += created;
            return Err(e);
        }
    } else {
        let keys: Vec<String> = walk.taken.iter().map(|t| t.key.clone()).collect();
        cursor.advance_over(
            walk.taken
                .iter()
                .map(|t| (t.key.as_str(), t.greatest.as_ref())),
        );
        if save_http(
            store,
            generation,
            &ctx.fingerprint,
            &cursor,
            loaded.rewrite,
            &keys,
        )
        .map_err(storage_err)?
        {
            clear_walk(store).map_err(storage_err)?;
        }
    }
    // A positioning walk that paused goes on at once, in this deploy's loop while it can.
    if walk.positioning && loaded.first && end != Err(Pause::AtOnce) {
        return Ok(Polled::Positioned {
            summary: http_summary(&cursor),
        });
    }
    Ok(Polled::Taken {
        created,
        // Paused to go on at once (its bytes, or a long positioning walk).
        full: end == Err(Pause::AtOnce),
        summary: Some(http_summary(&cursor)),
    })
}

async fn poll_once(
    ctx: &PollCtx<'_>,
    session: &mut Option<PgSession>,
    force_now: bool,
) -> std::result::Result<Polled, SourceError> {
    match &ctx.trigger.source {
        PollSource::Postgres(s) => poll_pg(ctx, s, session, force_now).await,
        PollSource::Http(s) => poll_http(ctx, s, force_now).await,
    }
}

/// Polls (again at once while batches come back full, within a time budget), then records the
/// outcome in D1 and arms the next alarm. The caller holds the poll lock.
async fn poll_and_rearm(
    obj: &WorkflowObject,
    deployed: &Deployed,
    trigger: &PollTrigger,
    store: &PollStore,
) -> Result<()> {
    let fingerprint = source_fingerprint(&trigger.source);
    let ctx = PollCtx {
        obj,
        workflow_id: &deployed.workflow_id,
        version: deployed.version,
        shards: super::runs::shards_of(&deployed.definition),
        trigger,
        store,
        key_scope: key_scope(store, &fingerprint, &trigger.source)?,
        fingerprint,
        notes: RefCell::new(PollNotes::default()),
        started: now_ms(),
        budget_ms: loop_budget_ms(obj.env()),
        calls: Cell::new(0),
        call_budget: wake_calls(obj.env()),
    };
    let mut session: Option<PgSession> = None;
    let mut created = 0usize;
    let mut summary: Option<Value> = None;
    let outcome = loop {
        match poll_once(&ctx, &mut session, false).await {
            Ok(Polled::Positioned { summary: s }) => {
                summary = Some(s);
                break Ok(false);
            }
            Ok(Polled::Taken {
                created: n,
                full,
                summary: s,
            }) => {
                created += n;
                if s.is_some() {
                    summary = s;
                }
                // A deploy waiting for this poll gets the lock after this batch.
                if full && !ctx.out_of_time() {
                    continue;
                }
                break Ok(full);
            }
            Err(e) => break Err(e),
        }
    };
    drop(session);
    ctx.note_wake();
    let noted = ctx.notes.into_inner();
    let notes = PollNotes {
        created: created + noted.created,
        summary,
        ..noted
    };
    finish_poll(obj, deployed, trigger, store, outcome, notes).await
}

/// Records a poll's outcome (the status, in the object) and arms the next alarm:
/// at once after a full batch, after the interval after a success, backed off after a failure.
async fn finish_poll(
    obj: &WorkflowObject,
    deployed: &Deployed,
    trigger: &PollTrigger,
    store: &PollStore,
    outcome: std::result::Result<bool, SourceError>,
    notes: PollNotes,
) -> Result<()> {
    let PollNotes {
        created, summary, ..
    } = notes;
    let interval = trigger.interval_seconds;
    let failures = u32::try_from(store.int(KEY_FAILURES)?).unwrap_or(0);
    let interval_ms = u64::from(interval) * 1000;
    // A held-back poll polls again soon, but at most once per interval: under constant writes
    // every poll is held back, and polling every `settle_seconds` would not take rows faster.
    let soon = match notes.soon_ms {
        Some(ms) if ms < interval_ms => {
            let last = store.int(KEY_SOON_AT)?;
            (now_ms() - last >= interval_ms as i64).then_some(ms)
        }
        _ => None,
    };
    // Another version was deployed while this poll ran (and its deploy could not wait for it):
    // the next poll, of that version, is due at once rather than on this version's schedule.
    let redeployed = store
        .get(KEY_ARMED_VERSION)?
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|v| v != deployed.version);
    let (delay_ms, failures, error) = match &outcome {
        Ok(true) => (0, 0, None),
        Ok(false) => match soon {
            Some(ms) => {
                store.put(KEY_SOON_AT, &now_ms().to_string())?;
                (ms, 0, None)
            }
            None => (interval_ms, 0, None),
        },
        Err(e) => {
            let f = failures.saturating_add(1);
            (
                u64::from(failed_poll_delay_seconds(
                    interval,
                    f,
                    http_source::asked_wait_seconds(e),
                )) * 1000,
                f,
                Some(e.0.clone()),
            )
        }
    };
    let delay_ms = if redeployed { 0 } else { delay_ms };
    if let Some(e) = &error {
        worker::console_log!("poll {}: {e}", deployed.workflow_id);
    }
    store.put(KEY_FAILURES, &failures.to_string())?;
    let now = now_ms();
    let next_at = now + delay_ms as i64;
    // Undeployed meanwhile: leave the alarm off.
    let still_armed = obj
        .state()
        .storage()
        .get::<String>(KEY_KIND)
        .await?
        .as_deref()
        == Some(TriggerKind::Poll.as_str());
    if still_armed {
        obj.state()
            .storage()
            .set_alarm(Duration::from_millis(delay_ms).max(super::AT_ONCE))
            .await?;
    }
    let waiting = notes.waiting.as_ref().map(|w| {
        json!({
            "transaction": w.xid.to_string(),
            "since": iso_millis(w.since_ms),
            "seconds": (now - w.since_ms).max(0) / 1000,
        })
    });
    let mut status = store.status()?;
    status.apply(PollReport {
        at: iso_millis(now),
        error,
        consecutive_failures: failures,
        next_poll_at: iso_millis(next_at),
        runs_created: created,
        cursor: summary,
        waiting,
        gap: notes.gap,
        walk_ended: notes.walk_ended,
    });
    store.put_status(&status)
}

fn poll_trigger(deployed: &Deployed) -> Option<&PollTrigger> {
    match &deployed.definition.trigger {
        Trigger::Poll(t) => Some(t),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Entry points (see `objects/mod.rs`).

/// Arms the poll. On deploy (`reconcile == false`) a `start: now` source without a cursor is
/// read at once so that every record from this moment on starts a run; otherwise the first poll
/// is due at once. A reconcile only re-arms an alarm that is missing or overdue.
pub async fn arm(obj: &WorkflowObject, deployed: &Deployed, reconcile: bool) -> Result<()> {
    let Some(trigger) = poll_trigger(deployed) else {
        return Ok(());
    };
    let store = PollStore::open(obj)?;
    let now = now_ms();
    let armed = store
        .get(KEY_ARMED_VERSION)?
        .and_then(|v| v.parse::<i64>().ok());
    let wf = &deployed.workflow_id;
    if reconcile && armed == Some(deployed.version) {
        if PollLock::held(wf) {
            // A poll is running; it re-arms when done.
            return Ok(());
        }
        return match obj.state().storage().get_alarm().await? {
            Some(at) if at >= now - ALARM_GRACE_MS => Ok(()),
            _ => obj.state().storage().set_alarm(super::AT_ONCE).await,
        };
    }
    name_the_mark_pointer(&store)?;
    remember_deployed(obj, &store, deployed).await?;
    store.put(KEY_ARMED_VERSION, &deployed.version.to_string())?;
    // A poll (of the previous version) may be running: the deploy waits for it to end rather
    // than overlap it, so that a `start: now` source is still read before the deploy answers.
    let Some(_lock) = wait_for_lock(wf).await else {
        // Still running: when it ends it sees the new version armed and polls again at once.
        return Ok(());
    };
    let fingerprint = source_fingerprint(&trigger.source);
    // A cursor this source's next poll would not resume (another dedupe mode, or a mark read at
    // another `greatest` pointer) is none.
    let has_cursor = match &trigger.source {
        PollSource::Http(s) => !load_http(&store, &fingerprint, s)?.first,
        PollSource::Postgres(_) => store.cursor_for(&fingerprint)?.is_some(),
    };
    if trigger.start == PollStart::Now && !has_cursor {
        // Record where the source is now, before the deploy answers.
        return poll_and_rearm(obj, deployed, trigger, &store).await;
    }
    obj.state().storage().set_alarm(super::AT_ONCE).await
}

/// Whether the poll's alarm is lost: none is set, or it is long overdue, while no poll runs
/// (a poll re-arms when it ends).
pub(super) async fn alarm_lost(obj: &WorkflowObject, workflow_id: &str) -> Result<bool> {
    if PollLock::held(workflow_id) {
        return Ok(false);
    }
    Ok(match obj.state().storage().get_alarm().await? {
        Some(at) => at < now_ms() - ALARM_GRACE_MS,
        None => true,
    })
}

/// The alarm fired: poll, create runs, re-arm. An undeploy disarms the object, so the alarm
/// takes the armed version from the object's storage.
pub async fn on_alarm(obj: &WorkflowObject) -> Result<()> {
    let Some(wf) = obj.workflow_id().await else {
        return Ok(());
    };
    let store = PollStore::open(obj)?;
    let deployed = match armed_deployed(obj, &store, &wf).await {
        Ok(Some(d)) => d,
        Ok(None) => return obj.disarm().await,
        Err(e) => {
            let error = format!("reading the deployed version failed: {e}");
            worker::console_error!("poll {wf}: {error}");
            retry_if_still_a_poll(obj, RETRY_MS).await?;
            // Shown where the API shows a poll's errors; the cursor and the backoff stay.
            let now = now_ms();
            let mut status = store.status()?;
            let failures = status.consecutive_failures.saturating_add(1);
            status.apply(PollReport {
                at: iso_millis(now),
                error: Some(error),
                consecutive_failures: failures,
                next_poll_at: iso_millis(now + RETRY_MS as i64),
                runs_created: 0,
                cursor: None,
                waiting: None,
                gap: None,
                walk_ended: false,
            });
            return store.put_status(&status);
        }
    };
    let Some(trigger) = poll_trigger(&deployed) else {
        return Ok(());
    };
    // A deploy waiting for the poll that just ended goes first: it positions or arms the new
    // version itself (this alarm, set by that poll to poll the new version at once, would
    // otherwise take the lock from it and read the source a second time).
    let lock = match PollLock::wanted(&wf) {
        true => None,
        false => PollLock::try_take(&wf),
    };
    let Some(_lock) = lock else {
        // A poll re-arms when it ends (replacing this); a reset does not, hence the retry.
        return retry_if_still_a_poll(obj, BUSY_RETRY_MS).await;
    };
    if let Err(e) = poll_and_rearm(obj, &deployed, trigger, &store).await {
        // Storage trouble: try again later rather than let the alarm die.
        worker::console_error!("poll {wf}: {e}");
        retry_if_still_a_poll(obj, RETRY_MS).await?;
    }
    Ok(())
}

/// Sets the alarm `delay_ms` from now to try again, unless a deploy has meanwhile made the
/// object another trigger's (a schedule's next slot is its alarm) or undeployed it.
async fn retry_if_still_a_poll(obj: &WorkflowObject, delay_ms: u64) -> Result<()> {
    let storage = obj.state().storage();
    if storage.get::<String>(KEY_KIND).await?.as_deref() == Some(TriggerKind::Poll.as_str()) {
        storage.set_alarm(Duration::from_millis(delay_ms)).await?;
    }
    Ok(())
}

/// The poll-specific action: [`Action::PollReset`] (body `{"start": …}`).
pub async fn handle(obj: &WorkflowObject, action: Action, mut req: Request) -> Result<Response> {
    if req.method() != Method::Post {
        return Response::error("use POST", 405);
    }
    match action {
        Action::PollReset => {
            let body: Value = req.json().await.unwrap_or(Value::Null);
            let start = match parse_reset(&body) {
                Ok(s) => s,
                Err(errors) => {
                    return Response::from_json(&json!({ "errors": errors }))
                        .map(|r| r.with_status(400))
                }
            };
            reset(obj, start).await
        }
        _ => Response::error("not a poll action", 404),
    }
}

/// Takes the poll lock, waiting up to [`LOCK_WAIT_MS`] for a poll in progress to end.
pub(super) async fn wait_for_lock(workflow_id: &str) -> Option<PollLock> {
    let mut lock = PollLock::try_take(workflow_id);
    let _waiting = lock.is_none().then(|| DeployWaiting::new(workflow_id));
    let deadline = now_ms() + LOCK_WAIT_MS;
    while lock.is_none() && now_ms() < deadline {
        Delay::from(POLL_PRIORITY_WAIT).await;
        lock = PollLock::try_take(workflow_id);
    }
    lock
}

/// Resets the cursor: to the source's current end (`now`, read at once) or to the beginning.
/// Answers `{"start", "cursor"}`, or 502 with `{"error"}` when the source cannot be read (the
/// cursor is then left as it was), or 409 when the workflow is not a deployed poll or the
/// Worker lacks a secret or binding the source names (`{"error", "location"}`).
async fn reset(obj: &WorkflowObject, start: PollStart) -> Result<Response> {
    let Some(wf) = obj.workflow_id().await else {
        return Response::from_json(&json!({"error": "the workflow is not deployed"}))
            .map(|r| r.with_status(409));
    };
    let Some(deployed) = obj.deployed(&wf).await? else {
        return Response::from_json(&json!({"error": "the workflow is not deployed"}))
            .map(|r| r.with_status(409));
    };
    let Some(trigger) = poll_trigger(&deployed) else {
        return Response::from_json(&json!({"error": "the deployed trigger is not a poll"}))
            .map(|r| r.with_status(409));
    };
    // Reading the source needs the secrets and bindings it names: one the Worker lacks is a
    // configuration to fix (409, naming the field), not an unreachable upstream (502).
    if start == PollStart::Now {
        let env = obj.env();
        // A Hyperdrive binding is the PostgreSQL Worker's (this one has none): that Worker
        // names a missing one itself.
        let missing = trigger.source.missing_configuration(
            |name| crate::platform::env_string(env, name).is_some(),
            |_| true,
        );
        if let Some(m) = missing {
            return Response::from_json(&json!({ "error": m.message, "location": m.location }))
                .map(|r| r.with_status(409));
        }
    }
    // Wait for a poll in progress to end, so that the reset does not overlap it.
    let lock = wait_for_lock(&wf).await;
    if lock.is_none() {
        return Response::from_json(&json!({
            "error": "a poll of this workflow is in progress; try again in a minute"
        }))
        .map(|r| r.with_status(409));
    }
    let store = PollStore::open(obj)?;
    let fingerprint = source_fingerprint(&trigger.source);
    // Whether the poll should go on at once (a positioning walk longer than the reset's loop).
    let mut go_on = false;
    let summary = match start {
        PollStart::Beginning => {
            // A new walk over an HTTP source's pages. (The transaction marks stay: what they
            // proved of the table holds whatever the cursor.) A reset to `now` replaces the
            // walk only once it has read the source: a failed one leaves it as it was.
            clear_walk(&store)?;
            let generation = store.bump_generation()?;
            match &trigger.source {
                PollSource::Postgres(_) => {
                    save_pg(&store, generation, &fingerprint, &PgCursor::Beginning)?;
                    pg_summary(&PgCursor::Beginning)
                }
                PollSource::Http(s) => {
                    let empty = HttpCursor::for_source(s);
                    save_http(&store, generation, &fingerprint, &empty, true, &[])?;
                    http_summary(&empty)
                }
            }
        }
        PollStart::Now => {
            // A fresh generation: should a poll still write its cursor, it would not win.
            store.bump_generation()?;
            let ctx = PollCtx {
                obj,
                workflow_id: &wf,
                version: deployed.version,
                shards: super::runs::shards_of(&deployed.definition),
                trigger,
                store: &store,
                fingerprint: fingerprint.clone(),
                key_scope: key_scope(&store, &fingerprint, &trigger.source)?,
                notes: RefCell::new(PollNotes::default()),
                started: now_ms(),
                budget_ms: loop_budget_ms(obj.env()),
                calls: Cell::new(0),
                call_budget: wake_calls(obj.env()),
            };
            let mut session = None;
            // A positioning walk that pauses (100 pages) goes on at once, as at deploy.
            let mut force_now = true;
            let polled = loop {
                match poll_once(&ctx, &mut session, force_now).await {
                    // A deploy waiting for the lock goes first; the poll goes on after it.
                    Ok(Polled::Taken { full: true, .. }) if !ctx.out_of_time() => {
                        force_now = false;
                    }
                    Ok(Polled::Taken { full, summary, .. }) => {
                        go_on = full;
                        break Ok(summary.unwrap_or(Value::Null));
                    }
                    Ok(Polled::Positioned { summary }) => break Ok(summary),
                    // The first pass leaves the cursor as it was when it fails; a later one
                    // fails after the cursor was replaced: the poll goes on positioning, and
                    // the error shows in its status then.
                    Err(e) if force_now => break Err(e),
                    Err(_) => {
                        go_on = true;
                        break Ok(Value::Null);
                    }
                }
            };
            ctx.note_wake();
            match polled {
                Ok(summary) => summary,
                Err(e) => {
                    return Response::from_json(&json!({ "error": e.0 }))
                        .map(|r| r.with_status(502))
                }
            }
        }
    };
    let mut status = store.status()?;
    status.cursor = Some(summary.clone());
    // A poll that was failing goes on at once (a reset is how a fixed source is tried again,
    // rather than at the next try, an hour away after an answer of 401): its first success
    // clears the failures.
    let at_once = start == PollStart::Beginning || go_on || status.consecutive_failures > 0;
    if at_once {
        status.next_poll_at = Some(iso_millis(now_ms()));
    }
    store.put_status(&status)?;
    drop(lock);
    if at_once {
        obj.state().storage().set_alarm(super::AT_ONCE).await?;
    }
    Response::from_json(&json!({
        "start": match start { PollStart::Now => "now", PollStart::Beginning => "beginning" },
        "cursor": summary,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprinted_value_reads_only_for_its_source() {
        let walk = PageWalk {
            pages: 2,
            ..PageWalk::default()
        };
        let text = json!({"fingerprint": "f", "walk": walk}).to_string();
        assert_eq!(
            fingerprinted(&text, "f", PageWalk::from_columns),
            Some(walk)
        );
        assert_eq!(fingerprinted(&text, "g", PageWalk::from_columns), None);
        let marks = json!({"fingerprint": "f", "marks": {"marks": []}}).to_string();
        assert_eq!(
            fingerprinted(&marks, "f", Horizon::from_columns),
            Some(Horizon::default())
        );
        let unreadable = json!({"fingerprint": "f", "value": {"pages": -1}}).to_string();
        assert_eq!(
            fingerprinted(&unreadable, "f", PageWalk::from_columns),
            None
        );
        assert_eq!(fingerprinted("[]", "f", PageWalk::from_columns), None);
    }
}
