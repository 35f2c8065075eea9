//! Where a polled source was read up to, and which records are new since then. The runtime keeps
//! the cursor in the workflow's Durable Object (serde), and advances it only AFTER the runs for
//! the taken records are committed: a crash in between re-reads them, and the runs' dedup keys
//! stop a second run.
//!
//! - PostgreSQL: [`PgCursor`], the `(cursor, tiebreak)` text of the last row taken, and the
//!   tiebreak column the tiebreak value belongs to.
//! - HTTP, `unique`: the last N ids taken ([`RecentIds`]); an id not among them is new. Keep N
//!   well above the number of items the API returns at once: an id evicted while the API still
//!   returns it would start a second run.
//! - HTTP, `greatest`: the greatest value taken (the high-water mark) and the ids taken at exactly
//!   that value, so records sharing a timestamp are neither lost nor repeated. Two values compare
//!   numerically when both are numbers (JSON numbers, or strings of decimal digits such as
//!   `"1234"`), as instants when both are times (RFC 3339, `2024-05-01 10:00:00+00`, a date,
//!   RFC 2822; no offset = UTC), and otherwise as their text (a number's JSON text).
//!
//! New HTTP items come oldest first: sorted by the `greatest` pointer when the source has one
//! (numbers, then times, then text; ties keep the API's order); otherwise in the API's order. An
//! API that lists newest first should therefore set `greatest` (e.g. `/created_at`) even with
//! `unique`. An item without a usable id (or ordering value) is not skipped silently: the
//! runtime records it as a failed run naming the item's index and the pointer.

use std::cmp::Ordering;
use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::kernel::columns::Bad;
use crate::kernel::reader::type_name;
use crate::kernel::rfc2822::parse_rfc2822;
use crate::poll::pages::Taken;
use crate::poll::{Dedupe, HttpSource, PollError, DEFAULT_UNIQUE_CAPACITY};

/// Where a PostgreSQL source was read up to. Stored as `{"position":"beginning"}`,
/// `{"position":"at","cursor":"42","tiebreak":null}` or
/// `{"position":"at","cursor":"2024-05-01 10:00:00+00","tiebreak":"7","tiebreak_column":"id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "position", rename_all = "snake_case")]
pub enum PgCursor {
    /// Nothing read yet: the next poll reads from the first row.
    Beginning,
    /// Just after the row with this cursor (and tiebreak) value, as PostgreSQL prints it (`::text`).
    At {
        cursor: String,
        tiebreak: Option<String>,
        /// The column `tiebreak` is a value of (`None` without one, and in positions stored
        /// before it was kept): a tiebreak value is only compared with its own column, as
        /// `PgSource::select_sql` says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tiebreak_column: Option<String>,
    },
}

/// Read through a JSON value: serde's derived reading of an internally tagged enum buffers its
/// fields in code of its own, several KiB in each Worker.
impl<'de> Deserialize<'de> for PgCursor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PgCursor::of(&Value::deserialize(d)?).ok_or_else(|| {
            serde::de::Error::custom(
                "a position is {\"position\": \"beginning\"} or {\"position\": \"at\", \"cursor\": \"…\", \"tiebreak\": …}",
            )
        })
    }
}

impl PgCursor {
    /// A position as stored, if `v` is one.
    pub fn of(v: &Value) -> Option<PgCursor> {
        // A text field: absent or null is none; any other kind is refused.
        let text = |k: &str| match v.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(()),
        };
        match v.get("position").and_then(Value::as_str) {
            Some("beginning") => Some(PgCursor::Beginning),
            Some("at") => match (text("cursor"), text("tiebreak"), text("tiebreak_column")) {
                (Ok(Some(cursor)), Ok(tiebreak), Ok(tiebreak_column)) => Some(PgCursor::At {
                    cursor,
                    tiebreak,
                    tiebreak_column,
                }),
                _ => None,
            },
            _ => None,
        }
    }

    /// The position held by the field `name` of a value read field by field.
    pub fn in_field(name: &'static str) -> impl Fn(Value) -> Result<PgCursor, Bad> {
        move |v| PgCursor::of(&v).ok_or(Bad(name, "a position"))
    }
}

/// The run dedup key of a PostgreSQL row: the tiebreak value when there is one (it is the unique
/// column), else the cursor value.
pub fn dedup_key(cursor_value: &str, tiebreak_value: Option<&str>) -> String {
    tiebreak_value.unwrap_or(cursor_value).to_string()
}

/// How many of a page's items were seen before (a new id repeated on the page is not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub before: usize,
    /// Of those, the ties at a `greatest` cursor's mark: the items listed after them may be
    /// ties not seen yet, so they do not end a newest-first walk.
    pub at_mark: usize,
}

/// A record that should start a run.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    /// The run's dedup key (the record's id as text; a string id without quotes).
    pub dedup_key: String,
    /// The record, available to steps as `event.record`.
    pub record: Value,
    /// The record's ordering value (HTTP sources with a `greatest` pointer); `advance` uses it.
    pub greatest: Option<Value>,
    /// Why the record could not be read (a PostgreSQL row whose JSON no run can hold), as its
    /// failed run's message: the run is recorded failed, so that the poll moves past it.
    pub unreadable: Option<String>,
    /// A PostgreSQL record too large to run, left out of the read: its JSON size in bytes.
    pub withheld: Option<u64>,
}

/// The ids of the records taken most recently, at most `capacity`, oldest evicted first.
/// Membership is O(1). Stored as `{"capacity":10000,"ids":["oldest",…,"newest"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RecentIdsData")]
pub struct RecentIds {
    capacity: usize,
    order: VecDeque<String>,
    members: HashSet<String>,
}

#[derive(Deserialize)]
struct RecentIdsData {
    capacity: usize,
    ids: Vec<String>,
}

impl From<RecentIdsData> for RecentIds {
    fn from(data: RecentIdsData) -> Self {
        let mut r = RecentIds::new(data.capacity);
        for id in data.ids {
            r.insert(id);
        }
        r
    }
}

impl Serialize for RecentIds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("RecentIds", 2)?;
        st.serialize_field("capacity", &self.capacity)?;
        st.serialize_field("ids", &self.order)?;
        st.end()
    }
}

impl RecentIds {
    /// An empty set holding at most `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        RecentIds {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            members: HashSet::new(),
        }
    }
    pub fn contains(&self, id: &str) -> bool {
        self.members.contains(id)
    }
    /// Adds `id` as the newest (no change if present), evicting the oldest beyond capacity.
    pub fn insert(&mut self, id: String) {
        if self.members.contains(&id) {
            return;
        }
        self.members.insert(id.clone());
        self.order.push_back(id);
        self.evict();
    }
    /// Changes the capacity (a redeploy may change `unique_capacity`), evicting as needed.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        self.evict();
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    pub fn len(&self) -> usize {
        self.order.len()
    }
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
    pub fn clear(&mut self) {
        self.order.clear();
        self.members.clear();
    }
    /// The ids, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }
    fn evict(&mut self) {
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.members.remove(&old);
            }
        }
    }
}

/// How many ids sharing the high-water mark a `greatest` cursor remembers.
const AT_MARK_CAPACITY: usize = DEFAULT_UNIQUE_CAPACITY;

/// Where an HTTP source was read up to. Stored as
/// `{"mode":"unique","capacity":10000,"ids":[…]}` or
/// `{"mode":"greatest","mark":"2024-05-01T10:00:00Z","at_mark":{"capacity":10000,"ids":["7"]}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum HttpCursor {
    Unique(RecentIds),
    Greatest {
        /// The greatest ordering value taken; `None` before any record was taken.
        mark: Option<Value>,
        /// Ids taken whose value equals `mark`.
        at_mark: RecentIds,
        /// The pointer the mark was read at (absent from cursors stored before it was kept):
        /// a mark read at another pointer means nothing for this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
}

impl HttpCursor {
    /// The `unique_capacity` that a first poll from `now` over an oldest-first list overflows
    /// by taking `taken` records: a `unique` cursor keeps only that many ids, and later polls,
    /// which read such a list from its start again, would take the records it forgot for new
    /// ones (no run of theirs exists to stop them).
    pub fn overflowed_from_now(&self, taken: usize) -> Option<usize> {
        match self {
            HttpCursor::Unique(ids) if taken > ids.capacity() => Some(ids.capacity()),
            _ => None,
        }
    }

    /// A fresh cursor for `source` (nothing seen yet).
    pub fn for_source(source: &HttpSource) -> HttpCursor {
        match source.dedupe {
            Dedupe::Unique { capacity } => HttpCursor::Unique(RecentIds::new(capacity)),
            Dedupe::Greatest => HttpCursor::Greatest {
                mark: None,
                at_mark: RecentIds::new(AT_MARK_CAPACITY),
                by: Some(source.order_pointer().to_string()),
            },
        }
    }

    /// The stored cursor made to fit `source`, and whether this is a first poll. A stored cursor
    /// of the same mode is kept (with the current `unique_capacity`); none, one of the other
    /// mode, or a mark read at another `greatest` pointer (the definition changed) gives a fresh
    /// cursor and `true`: with `start: "now"` the runtime then only `advance`s over what it sees
    /// and starts no run.
    pub fn resume(stored: Option<HttpCursor>, source: &HttpSource) -> (HttpCursor, bool) {
        let pointer = source.order_pointer();
        match (stored, source.dedupe) {
            (Some(HttpCursor::Unique(mut ids)), Dedupe::Unique { capacity }) => {
                ids.set_capacity(capacity);
                (HttpCursor::Unique(ids), false)
            }
            (Some(HttpCursor::Greatest { mark, at_mark, by }), Dedupe::Greatest)
                if by.as_deref().is_none_or(|b| b == pointer) =>
            {
                let by = Some(pointer.to_string());
                (HttpCursor::Greatest { mark, at_mark, by }, false)
            }
            _ => (HttpCursor::for_source(source), true),
        }
    }

    /// The items not taken before, oldest first (see the module docs for order and comparison),
    /// each once. `id_ptr` points to the id in an item; `greatest_ptr` to its ordering value
    /// (for a `greatest` cursor it defaults to `id_ptr`). An item has an id (a non-empty string
    /// or a number) and, when there is an ordering pointer, a string or number there; one that
    /// does not is returned `unreadable` (its run is a failed one), unless no item of the page
    /// is readable: that is an error.
    pub fn select_new(
        &self,
        items: &[Value],
        id_ptr: &str,
        greatest_ptr: Option<&str>,
    ) -> Result<Vec<NewRecord>, PollError> {
        self.select_page(items, id_ptr, greatest_ptr)
            .map(|(new, _)| new)
    }

    /// [`HttpCursor::select_new`], and how many items were seen before.
    pub fn select_page<'a>(
        &self,
        items: &'a [Value],
        id_ptr: &str,
        greatest_ptr: Option<&str>,
    ) -> Result<(Vec<NewRecord>, Seen), PollError> {
        let mut seen_before = Seen::default();
        // Only a `greatest` cursor keeps the value (its mark) and may send it back.
        let marks = matches!(self, HttpCursor::Greatest { .. });
        let order_ptr = match self {
            HttpCursor::Greatest { .. } => Some(greatest_ptr.unwrap_or(id_ptr)),
            HttpCursor::Unique(_) => greatest_ptr,
        };
        let read =
            |index: usize, item: &'a Value| -> Result<(String, Option<&'a Value>), PollError> {
                let key = id_text(item, id_ptr, index)?;
                let value = match order_ptr {
                    Some(p) => Some(order_value(item, p, index, marks)?),
                    None => None,
                };
                Ok((key, value))
            };
        // A page none of whose items can be read says the definition points at the wrong
        // place (or the API changed): the poll fails, naming the first. One bad item among
        // readable ones is a failed run that says why, and the poll moves on past it.
        if !items.is_empty()
            && items
                .iter()
                .enumerate()
                .all(|(i, item)| read(i, item).is_err())
        {
            read(0, &items[0])?;
        }
        let mut seen = HashSet::new();
        let mut picked: Vec<NewRecord> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let (key, value, unreadable) = match read(index, item) {
                Ok((key, value)) => (key, value, None),
                // Not keyed as its id: once the item reads (its ordering value filled in), it is
                // a new record under its id and runs (with a `greatest` cursor, if that value is
                // not below the mark by then).
                Err(e) => (
                    unreadable_key(item, id_text(item, id_ptr, index).ok().as_deref()),
                    None,
                    Some(e.to_string()),
                ),
            };
            let (is_new, tie) = match self {
                HttpCursor::Unique(ids) => (!ids.contains(&key), false),
                HttpCursor::Greatest { mark, at_mark, .. } => match (mark, value) {
                    (None, _) | (_, None) => (true, false),
                    (Some(m), Some(v)) => match compare_values(v, m) {
                        Ordering::Greater => (true, false),
                        Ordering::Equal => (!at_mark.contains(&key), true),
                        Ordering::Less => (false, false),
                    },
                },
            };
            if !is_new {
                seen_before.before += 1;
                seen_before.at_mark += usize::from(tie);
            }
            if is_new && seen.insert(key.clone()) {
                picked.push(NewRecord {
                    dedup_key: key,
                    record: item.clone(),
                    greatest: value.cloned(),
                    unreadable,
                    withheld: None,
                });
            }
        }
        if order_ptr.is_some() {
            // Unreadable records (no ordering value) first, then oldest first; ties keep the
            // API's order.
            sort_oldest_first(&mut picked);
        }
        Ok((picked, seen_before))
    }

    /// The greatest ordering value taken (a `greatest` cursor), for `{{cursor.greatest}}`.
    pub fn mark(&self) -> Option<&Value> {
        match self {
            HttpCursor::Greatest { mark, .. } => mark.as_ref(),
            HttpCursor::Unique(_) => None,
        }
    }

    /// Whether nothing was taken yet.
    pub fn is_empty(&self) -> bool {
        match self {
            HttpCursor::Unique(ids) => ids.is_empty(),
            HttpCursor::Greatest { mark, .. } => mark.is_none(),
        }
    }

    /// Records `taken` (returned by `select_new`, all or an oldest-first prefix) as seen. Call it
    /// only after their runs are committed.
    pub fn advance(&mut self, taken: &[NewRecord]) {
        self.advance_over(
            taken
                .iter()
                .map(|r| (r.dedup_key.as_str(), r.greatest.as_ref())),
        );
    }

    /// Keeps of a long walk's `taken` only what [`HttpCursor::advance_over`] would still use,
    /// so that the walk stays small enough to store: a `unique` cursor, the last `capacity`
    /// records (older ones would be evicted at once); a `greatest` one, past as many records as
    /// it remembers at its mark, the records at the greatest value. Advancing over the kept ones
    /// gives the same cursor. (A record the walk took and forgot that shows up again later in
    /// the walk is offered again, and its dedup key keeps it from running twice.)
    /// A `greatest` walk is kept whole while it is short (fewer re-offers) and small: long
    /// ids (URLs, resource names) reach what a walk may store in far fewer records.
    pub fn compact_taken(&self, taken: &mut Vec<Taken>) {
        let small = || {
            taken
                .iter()
                .map(|t| t.key.len() + t.greatest.as_ref().map_or(0, json_len) + 24)
                .sum::<usize>()
                <= TAKEN_KEPT_WHOLE_BYTES
        };
        let keep = match self {
            HttpCursor::Unique(ids) => ids.capacity(),
            HttpCursor::Greatest { .. } if taken.len() <= AT_MARK_CAPACITY && small() => return,
            HttpCursor::Greatest { .. } => {
                let top = taken
                    .iter()
                    .filter_map(|t| t.greatest.as_ref())
                    .max_by(|a, b| compare_values(a, b))
                    .cloned();
                match top {
                    Some(top) => taken.retain(|t| {
                        t.greatest
                            .as_ref()
                            .is_some_and(|v| compare_values(v, &top) == Ordering::Equal)
                    }),
                    None => taken.clear(),
                }
                AT_MARK_CAPACITY
            }
        };
        if taken.len() > keep {
            taken.drain(..taken.len() - keep);
        }
    }

    /// [`HttpCursor::advance`] over `(dedup key, ordering value)` pairs.
    pub fn advance_over<'a>(
        &mut self,
        taken: impl IntoIterator<Item = (&'a str, Option<&'a Value>)>,
    ) {
        match self {
            HttpCursor::Unique(ids) => {
                for (key, _) in taken {
                    ids.insert(key.to_string());
                }
            }
            HttpCursor::Greatest { mark, at_mark, .. } => {
                for (key, v) in taken {
                    let Some(v) = v else { continue };
                    match mark.as_ref().map(|m| compare_values(v, m)) {
                        None | Some(Ordering::Greater) => {
                            *mark = Some(v.clone());
                            at_mark.clear();
                            at_mark.insert(key.to_string());
                        }
                        Some(Ordering::Equal) => at_mark.insert(key.to_string()),
                        Some(Ordering::Less) => {}
                    }
                }
            }
        }
    }
}

/// Sorts records oldest first by their ordering value (stable: ties keep their order). Records
/// without one (an item that could not be read) come first; when none has one, the order is
/// kept.
pub fn sort_oldest_first(records: &mut [NewRecord]) {
    if records.iter().any(|r| r.greatest.is_some()) {
        records.sort_by_cached_key(|r| r.greatest.as_ref().map(SortKey::of));
    }
}

/// How many items a request asks for at most, by a query parameter APIs commonly name so
/// (`limit`, `per_page`, `page_size`, `pageSize`, `max_results`, `maxResults`, `count`,
/// `hitsPerPage`, `$top`, `top`, `size`, `pagelen`, `first`, `take`, `rows`): `None` without
/// one; `Some(None)` when its value is not a number (`limit=all`).
pub fn asked_limit(url: &str) -> Option<Option<usize>> {
    const NAMES: [&str; 15] = [
        "limit",
        "per_page",
        "page_size",
        "pageSize",
        "max_results",
        "maxResults",
        "count",
        "hitsPerPage",
        "$top",
        "top",
        "size",
        "pagelen",
        "first",
        "take",
        "rows",
    ];
    let url = url::Url::parse(url).ok()?;
    let limit = url
        .query_pairs()
        .find(|(k, _)| NAMES.contains(&k.as_ref()))
        .map(|(_, v)| v.parse().ok());
    limit
}

/// Whether a page lists its items newest first: its first item's ordering value (at
/// `pointer`) is greater than its last one's. Items without one tell nothing.
pub fn lists_newest_first(items: &[Value], pointer: &str) -> bool {
    match (items.first(), items.last()) {
        (Some(first), Some(last)) => match (first.pointer(pointer), last.pointer(pointer)) {
            (Some(a), Some(b)) if !a.is_null() && !b.is_null() => {
                compare_values(a, b) == Ordering::Greater
            }
            _ => false,
        },
        _ => false,
    }
}

/// The dedup key of an item that cannot be read: a digest of its id when it has one (an item
/// whose ordering value is missing: edited while it stays so, it makes no second run), else of
/// its JSON text (the same item read again makes no second run).
fn unreadable_key(item: &Value, id: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    match id {
        Some(id) => {
            let digest = Sha256::digest(id.as_bytes());
            format!(
                "unreadable:id:{}",
                crate::kernel::hex::encode(&digest[..16])
            )
        }
        None => {
            let digest = Sha256::digest(item.to_string().as_bytes());
            format!("unreadable:{}", crate::kernel::hex::encode(&digest[..16]))
        }
    }
}

/// The dedup key of an item: its id's text (a string without quotes, a number's JSON text).
fn id_text(item: &Value, pointer: &str, index: usize) -> Result<String, PollError> {
    let bad = |problem: String| PollError::BadItem {
        index,
        pointer: pointer.to_string(),
        problem,
    };
    match item.pointer(pointer) {
        None | Some(Value::Null) => Err(bad("has no id there".to_string())),
        Some(Value::String(s)) if s.is_empty() => Err(bad("the id is an empty string".to_string())),
        // A key is stored with its run and kept by the cursor: one too large for a row
        // would fail the batch's every insert.
        Some(Value::String(s)) if s.len() > MAX_ID_BYTES => Err(bad(format!(
            "the id is {} bytes long, more than {MAX_ID_BYTES}",
            s.len()
        ))),
        Some(Value::String(s)) => Ok(s.clone()),
        // A whole number past 2^53 read as a float lost digits: neighbours would share a key.
        Some(Value::Number(n)) if n.is_f64() && n.as_f64().is_some_and(inexact_whole) => {
            Err(bad(format!("the id {n} {INEXACT_ID}")))
        }
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(bad(format!(
            "the id must be a string or a number, got {}",
            type_name(other)
        ))),
    }
}

/// The most a `greatest` walk's taken records may take (about, as JSON) and still be kept
/// whole between polls (see [`HttpCursor::compact_taken`]); a walk may store 1.8 MB.
const TAKEN_KEPT_WHOLE_BYTES: usize = 512 * 1024;

/// The length of a small value's JSON text (a string's or a number's, as ordering values are).
fn json_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 2,
        other => other.to_string().len(),
    }
}

/// The longest id an item may have, in bytes (longer ones make a failed run).
pub const MAX_ID_BYTES: usize = 4096;

/// Why an id read as a float past 2^53 is refused (after the id itself).
const INEXACT_ID: &str = "is a whole number too large to read exactly (past 2^53 it loses \
    digits, and records would share it); point `id` at a field that gives it as a string";

/// Whether `n`, read as a float, is a whole number past 2^53 (one whose digits may be lost:
/// smaller whole numbers, and those read as 64-bit integers, are exact).
fn inexact_whole(n: f64) -> bool {
    n.fract() == 0.0 && n.abs() >= 9_007_199_254_740_992.0
}

/// The ordering value of an item: a string or a number.
fn order_value<'a>(
    item: &'a Value,
    pointer: &str,
    index: usize,
    marks: bool,
) -> Result<&'a Value, PollError> {
    let bad = |problem: String| PollError::BadItem {
        index,
        pointer: pointer.to_string(),
        problem,
    };
    match item.pointer(pointer) {
        None | Some(Value::Null) => Err(bad("has no value to order by there".to_string())),
        // A mark is kept by the cursor and sent back in the next poll's request
        // (`{{cursor.greatest}}`, where a header cannot carry a line break).
        Some(Value::String(s)) if marks && s.len() > MAX_ID_BYTES => Err(bad(format!(
            "the value to order by is {} bytes long, more than {MAX_ID_BYTES}",
            s.len()
        ))),
        Some(Value::String(s)) if marks && s.contains(['\r', '\n', '\0']) => Err(bad(
            "the value to order by holds a line break or a NUL, which it could not be sent \
             back with"
                .to_string(),
        )),
        Some(v @ (Value::String(_) | Value::Number(_))) => Ok(v),
        Some(other) => Err(bad(format!(
            "the value to order by must be a string or a number, got {}",
            type_name(other)
        ))),
    }
}

/// A number: its `f64` value, then (for integers that fit) its exact value, so that the order is
/// total and large integers that round to the same `f64` still compare correctly.
#[derive(Debug, Clone, Copy)]
struct Num {
    approx: f64,
    exact: Option<i128>,
}

impl Num {
    fn of_number(n: &serde_json::Number) -> Option<Num> {
        let exact = n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from));
        let approx = n.as_f64()?;
        Some(Num::new(approx, exact))
    }
    /// `-?digits(.digits)?` only; anything else is not a number here.
    fn of_str(s: &str) -> Option<Num> {
        let body = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || !frac.is_none_or(digits) {
            return None;
        }
        // As JSON reads the same number written bare: `"12.5"` and `12.5` are one value.
        let approx = crate::kernel::json_parse::decimal(s)?;
        let exact = if frac.is_none() { s.parse().ok() } else { None };
        Some(Num::new(approx, exact))
    }
    fn new(approx: f64, exact: Option<i128>) -> Num {
        // -0.0 and 0.0 are the same number.
        let approx = if approx == 0.0 { 0.0 } else { approx };
        Num { approx, exact }
    }
}

impl PartialEq for Num {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Num {}
impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        self.approx
            .total_cmp(&other.approx)
            .then(self.exact.cmp(&other.exact))
    }
}

/// An ordering value classified: numbers sort before times, times before text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Num(Num),
    Instant(DateTime<Utc>),
    Text(String),
}

impl SortKey {
    fn of(v: &Value) -> SortKey {
        match v {
            Value::Number(n) => match Num::of_number(n) {
                Some(num) => SortKey::Num(num),
                None => SortKey::Text(n.to_string()),
            },
            Value::String(s) => {
                if let Some(num) = Num::of_str(s) {
                    SortKey::Num(num)
                } else if let Some(t) = parse_instant(s) {
                    SortKey::Instant(t)
                } else {
                    SortKey::Text(s.clone())
                }
            }
            other => SortKey::Text(other.to_string()),
        }
    }
}

/// Compares two ordering values: numerically when both are numbers, as instants when both are
/// times, else by their text (a string's content, a number's JSON text).
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (SortKey::of(a), SortKey::of(b)) {
        (SortKey::Num(x), SortKey::Num(y)) => match (x.exact, y.exact) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => x.approx.total_cmp(&y.approx),
        },
        (SortKey::Instant(x), SortKey::Instant(y)) => x.cmp(&y),
        _ => text_of(a).cmp(&text_of(b)),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses a time: RFC 3339 (`T`, `t` or space between date and time), an ISO offset without
/// colon or minutes (`+0200`, `+00`, as PostgreSQL prints), no offset (UTC), a bare date
/// (midnight UTC), or RFC 2822.
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Some(t) = as_rfc3339(s).and_then(|r| DateTime::parse_from_rfc3339(&r).ok()) {
        return Some(t.with_timezone(&Utc));
    }
    parse_rfc2822(s).map(|t| t.with_timezone(&Utc))
}

/// The other ISO forms [`parse_instant`] reads, written as RFC 3339 (no strftime parser is
/// carried for them): a bare date (midnight UTC), `YYYY-MM-DDTHH:MM` (UTC), a time with seconds
/// (and a fraction) after `T` or a space with no offset (UTC) or an offset without colon or
/// minutes (`+0200`, `+00`, also after a space, as Ruby and PostgreSQL print). Months, days and
/// time fields may have one digit. `None` for anything else. A differential test checks these
/// read as chrono's strftime parser read them.
fn as_rfc3339(s: &str) -> Option<String> {
    if !s.is_ascii() {
        return None;
    }
    // One or two digits (four for the year), zero-padded.
    fn number(rest: &mut &str, max: usize) -> Option<String> {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > max {
            return None;
        }
        let (digits, tail) = rest.split_at(n);
        *rest = tail;
        Some(format!("{digits:0>2}"))
    }
    fn expect(rest: &mut &str, c: char) -> Option<()> {
        *rest = rest.strip_prefix(c)?;
        Some(())
    }
    let mut rest = s;
    let year = number(&mut rest, 4).filter(|y| y.len() == 4)?;
    expect(&mut rest, '-')?;
    let month = number(&mut rest, 2)?;
    expect(&mut rest, '-')?;
    let day = number(&mut rest, 2)?;
    let date = format!("{year}-{month}-{day}");
    if rest.is_empty() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let sep = rest.as_bytes()[0];
    if !matches!(sep, b'T' | b' ') {
        return None;
    }
    rest = &rest[1..];
    let hour = number(&mut rest, 2)?;
    expect(&mut rest, ':')?;
    let minute = number(&mut rest, 2)?;
    if rest.is_empty() {
        // Without seconds: only after `T`, and with no offset.
        return (sep == b'T').then(|| format!("{date}T{hour}:{minute}:00Z"));
    }
    expect(&mut rest, ':')?;
    let second = number(&mut rest, 2)?;
    let mut fraction = String::new();
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        fraction = format!(".{}", &r[..n]);
        rest = &r[n..];
    }
    let time = format!("{date}T{hour}:{minute}:{second}{fraction}");
    let offset = rest.trim_start();
    let offset = match offset {
        "" if rest.is_empty() => "Z".to_string(),
        "Z" | "z" => "Z".to_string(),
        _ => {
            let (sign, hm) = offset.split_at(offset.len().min(1));
            let digits = hm.bytes().filter(u8::is_ascii_digit).count();
            match (sign, hm.len(), digits) {
                ("+" | "-", 2, 2) => format!("{sign}{hm}:00"),
                ("+" | "-", 4, 4) => format!("{sign}{}:{}", &hm[..2], &hm[2..]),
                ("+" | "-", 5, 4) if hm.as_bytes()[2] == b':' => format!("{sign}{hm}"),
                _ => return None,
            }
        }
    };
    Some(time + &offset)
}

#[cfg(test)]
mod tests;
