//! Where a polled source was read up to, and which records are new since then. The runtime keeps
//! the cursor in the workflow's Durable Object (serde), and advances it only AFTER the runs for
//! the taken records are committed: a crash in between re-reads them, and the runs' dedup keys
//! stop a second run.
//!
//! - PostgreSQL: [`PgCursor`], the `(cursor, tiebreak)` text of the last row taken.
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
//! `unique`. An item without a usable id (or ordering value) fails the whole poll with an error
//! naming the item's index and the pointer: skipping it silently would lose records, and a wrong
//! pointer would skip everything.

use std::cmp::Ordering;
use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::kernel::reader::type_name;
use crate::poll::{Dedupe, HttpSource, PollError, DEFAULT_UNIQUE_CAPACITY};

/// Where a PostgreSQL source was read up to. Stored as
/// `{"position":"beginning"}` or `{"position":"at","cursor":"42","tiebreak":null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "position", rename_all = "snake_case")]
pub enum PgCursor {
    /// Nothing read yet: the next poll reads from the first row.
    Beginning,
    /// Just after the row with this cursor (and tiebreak) value, as PostgreSQL prints it (`::text`).
    At {
        cursor: String,
        tiebreak: Option<String>,
    },
}

impl PgCursor {
    /// The cursor from the row of `latest_sql` (`start: now`): no row (empty table) → `Beginning`.
    pub fn from_latest(cursor: Option<String>, tiebreak: Option<String>) -> PgCursor {
        match cursor {
            None => PgCursor::Beginning,
            Some(cursor) => PgCursor::At { cursor, tiebreak },
        }
    }
}

/// The run dedup key of a PostgreSQL row: the tiebreak value when there is one (it is the unique
/// column), else the cursor value.
pub fn dedup_key(cursor_value: &str, tiebreak_value: Option<&str>) -> String {
    tiebreak_value.unwrap_or(cursor_value).to_string()
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
    },
}

impl HttpCursor {
    /// A fresh cursor for `source` (nothing seen yet).
    pub fn for_source(source: &HttpSource) -> HttpCursor {
        match source.dedupe {
            Dedupe::Unique { capacity } => HttpCursor::Unique(RecentIds::new(capacity)),
            Dedupe::Greatest => HttpCursor::Greatest {
                mark: None,
                at_mark: RecentIds::new(AT_MARK_CAPACITY),
            },
        }
    }

    /// The stored cursor made to fit `source`, and whether this is a first poll. A stored cursor
    /// of the same mode is kept (with the current `unique_capacity`); none, or one of the other
    /// mode (the definition changed), gives a fresh cursor and `true`: with `start: "now"` the
    /// runtime then only `advance`s over what it sees and starts no run.
    pub fn resume(stored: Option<HttpCursor>, source: &HttpSource) -> (HttpCursor, bool) {
        match (stored, source.dedupe) {
            (Some(HttpCursor::Unique(mut ids)), Dedupe::Unique { capacity }) => {
                ids.set_capacity(capacity);
                (HttpCursor::Unique(ids), false)
            }
            (Some(c @ HttpCursor::Greatest { .. }), Dedupe::Greatest) => (c, false),
            _ => (HttpCursor::for_source(source), true),
        }
    }

    /// The items not taken before, oldest first (see the module docs for order and comparison),
    /// each once. `id_ptr` points to the id in an item; `greatest_ptr` to its ordering value
    /// (for a `greatest` cursor it defaults to `id_ptr`). Every item must have an id (a non-empty
    /// string or a number) and, when there is an ordering pointer, a string or number there.
    pub fn select_new(
        &self,
        items: &[Value],
        id_ptr: &str,
        greatest_ptr: Option<&str>,
    ) -> Result<Vec<NewRecord>, PollError> {
        let order_ptr = match self {
            HttpCursor::Greatest { .. } => Some(greatest_ptr.unwrap_or(id_ptr)),
            HttpCursor::Unique(_) => greatest_ptr,
        };
        let mut seen = HashSet::new();
        let mut picked: Vec<(Option<SortKey>, NewRecord)> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let key = id_text(item, id_ptr, index)?;
            let value = match order_ptr {
                Some(p) => Some(order_value(item, p, index)?),
                None => None,
            };
            let is_new = match self {
                HttpCursor::Unique(ids) => !ids.contains(&key),
                HttpCursor::Greatest { mark, at_mark } => match (mark, value) {
                    (None, _) | (_, None) => true,
                    (Some(m), Some(v)) => match compare_values(v, m) {
                        Ordering::Greater => true,
                        Ordering::Equal => !at_mark.contains(&key),
                        Ordering::Less => false,
                    },
                },
            };
            if is_new && seen.insert(key.clone()) {
                picked.push((
                    value.map(SortKey::of),
                    NewRecord {
                        dedup_key: key,
                        record: item.clone(),
                        greatest: value.cloned(),
                    },
                ));
            }
        }
        if order_ptr.is_some() {
            picked.sort_by(|a, b| a.0.cmp(&b.0)); // stable: ties keep the API's order
        }
        Ok(picked.into_iter().map(|(_, r)| r).collect())
    }

    /// Records `taken` (returned by `select_new`, all or an oldest-first prefix) as seen. Call it
    /// only after their runs are committed.
    pub fn advance(&mut self, taken: &[NewRecord]) {
        match self {
            HttpCursor::Unique(ids) => {
                for r in taken {
                    ids.insert(r.dedup_key.clone());
                }
            }
            HttpCursor::Greatest { mark, at_mark } => {
                for r in taken {
                    let Some(v) = &r.greatest else { continue };
                    match mark.as_ref().map(|m| compare_values(v, m)) {
                        None | Some(Ordering::Greater) => {
                            *mark = Some(v.clone());
                            at_mark.clear();
                            at_mark.insert(r.dedup_key.clone());
                        }
                        Some(Ordering::Equal) => at_mark.insert(r.dedup_key.clone()),
                        Some(Ordering::Less) => {}
                    }
                }
            }
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
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(bad(format!(
            "the id must be a string or a number, got {}",
            type_name(other)
        ))),
    }
}

/// The ordering value of an item: a string or a number.
fn order_value<'a>(item: &'a Value, pointer: &str, index: usize) -> Result<&'a Value, PollError> {
    let bad = |problem: String| PollError::BadItem {
        index,
        pointer: pointer.to_string(),
        problem,
    };
    match item.pointer(pointer) {
        None | Some(Value::Null) => Err(bad("has no value to order by there".to_string())),
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
        let approx: f64 = s.parse().ok()?;
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
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc2822(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::problem::Errors;
    use crate::poll::PollSource;
    use crate::poll::PollTrigger;
    use serde_json::json;

    fn source(extra: Value) -> HttpSource {
        let mut s = json!({"kind": "http", "url": "https://api.example.com/items"});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        let mut errors = Errors::new();
        match PollTrigger::parse(
            &json!({"type": "poll", "source": s}),
            "trigger",
            &mut errors,
        ) {
            Some(PollTrigger {
                source: PollSource::Http(s),
                ..
            }) => s,
            other => panic!("{other:?} {errors:?}"),
        }
    }

    fn keys(records: &[NewRecord]) -> Vec<&str> {
        records.iter().map(|r| r.dedup_key.as_str()).collect()
    }

    #[test]
    fn pg_cursor_round_trips_through_json() {
        let at = PgCursor::At {
            cursor: "2024-05-01 10:00:00+00".into(),
            tiebreak: Some("7".into()),
        };
        let text = serde_json::to_string(&at).unwrap();
        assert_eq!(
            text,
            r#"{"position":"at","cursor":"2024-05-01 10:00:00+00","tiebreak":"7"}"#
        );
        assert_eq!(serde_json::from_str::<PgCursor>(&text).unwrap(), at);
        let b = serde_json::to_string(&PgCursor::Beginning).unwrap();
        assert_eq!(b, r#"{"position":"beginning"}"#);
        assert_eq!(
            serde_json::from_str::<PgCursor>(&b).unwrap(),
            PgCursor::Beginning
        );
        assert_eq!(
            serde_json::from_str::<PgCursor>(r#"{"position":"at","cursor":"5","tiebreak":null}"#)
                .unwrap(),
            PgCursor::At {
                cursor: "5".into(),
                tiebreak: None
            }
        );
        assert_eq!(PgCursor::from_latest(None, None), PgCursor::Beginning);
        assert_eq!(
            PgCursor::from_latest(Some("9".into()), None),
            PgCursor::At {
                cursor: "9".into(),
                tiebreak: None
            }
        );
    }

    #[test]
    fn pg_dedup_key_prefers_tiebreak() {
        assert_eq!(dedup_key("2024-05-01 10:00:00+00", Some("17")), "17");
        assert_eq!(dedup_key("42", None), "42");
    }

    #[test]
    fn recent_ids_evict_oldest() {
        let mut r = RecentIds::new(3);
        for id in ["a", "b", "c", "b", "d"] {
            r.insert(id.to_string());
        }
        assert_eq!(r.iter().collect::<Vec<_>>(), ["b", "c", "d"]);
        assert!(!r.contains("a"));
        assert!(r.contains("d"));
        r.set_capacity(1);
        assert_eq!(r.iter().collect::<Vec<_>>(), ["d"]);
        assert_eq!(r.len(), 1);
        assert_eq!(RecentIds::new(0).capacity(), 1);
    }

    #[test]
    fn recent_ids_round_trip_and_cap_on_load() {
        let mut r = RecentIds::new(2);
        r.insert("x".into());
        r.insert("y".into());
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"capacity":2,"ids":["x","y"]}"#);
        assert_eq!(serde_json::from_str::<RecentIds>(&text).unwrap(), r);
        let loaded: RecentIds =
            serde_json::from_str(r#"{"capacity":2,"ids":["a","b","a","c"]}"#).unwrap();
        assert_eq!(loaded.iter().collect::<Vec<_>>(), ["b", "c"]);
        assert!(!loaded.contains("a"));
    }

    #[test]
    fn unique_selects_unseen_ids_in_api_order() {
        let src = source(json!({"items": "/data", "unique_capacity": 3}));
        let (mut cur, first) = HttpCursor::resume(None, &src);
        assert!(first);
        let body = json!({"data": [{"id": 1}, {"id": "b"}, {"id": 1}, {"id": 3}]});
        let new = src.select_new(&cur, &body).unwrap();
        assert_eq!(keys(&new), ["1", "b", "3"]);
        assert_eq!(new[1].record, json!({"id": "b"}));
        cur.advance(&new);
        assert!(src.select_new(&cur, &body).unwrap().is_empty());

        let body = json!({"data": [{"id": 4}, {"id": 3}, {"id": "b"}]});
        let new = src.select_new(&cur, &body).unwrap();
        assert_eq!(keys(&new), ["4"]);
        cur.advance(&new);
        // Capacity 3: "1" was evicted, so it is new again if the API shows it.
        let new = src
            .select_new(&cur, &json!({"data": [{"id": 1}, {"id": 4}]}))
            .unwrap();
        assert_eq!(keys(&new), ["1"]);
    }

    #[test]
    fn unique_with_order_pointer_yields_oldest_first() {
        let src = source(json!({"greatest": "/created"}));
        let cur = HttpCursor::for_source(&src);
        let body = json!([
            {"id": "c", "created": "2024-05-03T00:00:00Z"},
            {"id": "b", "created": "2024-05-02T00:00:00Z"},
            {"id": "a", "created": "2024-05-01T00:00:00Z"}
        ]);
        assert_eq!(keys(&src.select_new(&cur, &body).unwrap()), ["a", "b", "c"]);
    }

    #[test]
    fn unique_cursor_round_trips_through_json() {
        let src = source(json!({"unique_capacity": 5}));
        let mut cur = HttpCursor::for_source(&src);
        let new = cur
            .select_new(&[json!({"id": 1}), json!({"id": "two"})], "/id", None)
            .unwrap();
        cur.advance(&new);
        let text = serde_json::to_string(&cur).unwrap();
        assert_eq!(text, r#"{"mode":"unique","capacity":5,"ids":["1","two"]}"#);
        assert_eq!(serde_json::from_str::<HttpCursor>(&text).unwrap(), cur);
    }

    #[test]
    fn greatest_with_numbers() {
        let src = source(json!({"dedupe": "greatest"}));
        let (mut cur, _) = HttpCursor::resume(None, &src);
        let new = src
            .select_new(&cur, &json!([{"id": 9}, {"id": 10}, {"id": 2}]))
            .unwrap();
        assert_eq!(keys(&new), ["2", "9", "10"]);
        cur.advance(&new);
        assert_eq!(
            cur,
            HttpCursor::Greatest {
                mark: Some(json!(10)),
                at_mark: {
                    let mut r = RecentIds::new(AT_MARK_CAPACITY);
                    r.insert("10".into());
                    r
                }
            }
        );
        // Numeric comparison, not text: 9 < 10 < "11" < 100; string ids of digits count as numbers.
        let new = src
            .select_new(
                &cur,
                &json!([{"id": 100}, {"id": 9}, {"id": 10}, {"id": "11"}]),
            )
            .unwrap();
        assert_eq!(keys(&new), ["11", "100"]);
        cur.advance(&new);
        let text = serde_json::to_string(&cur).unwrap();
        assert_eq!(
            text,
            r#"{"mode":"greatest","mark":100,"at_mark":{"capacity":10000,"ids":["100"]}}"#
        );
        assert_eq!(serde_json::from_str::<HttpCursor>(&text).unwrap(), cur);
    }

    #[test]
    fn greatest_with_timestamps_newest_first_and_ties() {
        let src =
            source(json!({"items": "/events", "dedupe": "greatest", "greatest": "/updated_at"}));
        let (mut cur, _) = HttpCursor::resume(None, &src);
        // Newest first, mixed offsets: compared as instants, yielded oldest first.
        let body = json!({"events": [
            {"id": "e3", "updated_at": "2024-05-01T12:00:00+02:00"},
            {"id": "e2", "updated_at": "2024-05-01T09:30:00Z"},
            {"id": "e1", "updated_at": "2024-05-01T11:00:00+03:00"}
        ]});
        let new = src.select_new(&cur, &body).unwrap();
        assert_eq!(keys(&new), ["e1", "e2", "e3"]);
        cur.advance(&new);
        // Another record at exactly the mark (written differently) is new; the one taken is not.
        let body = json!({"events": [
            {"id": "e4", "updated_at": "2024-05-01T10:00:00Z"},
            {"id": "e3", "updated_at": "2024-05-01T10:00:00.000Z"},
            {"id": "e0", "updated_at": "2024-05-01T08:00:00Z"}
        ]});
        let new = src.select_new(&cur, &body).unwrap();
        assert_eq!(keys(&new), ["e4"]);
        cur.advance(&new);
        let HttpCursor::Greatest { mark, at_mark } = &cur else {
            panic!()
        };
        assert_eq!(mark, &Some(json!("2024-05-01T12:00:00+02:00")));
        assert_eq!(at_mark.iter().collect::<Vec<_>>(), ["e3", "e4"]);
        // A later record moves the mark and forgets the ties.
        let new = src
            .select_new(
                &cur,
                &json!({"events": [{"id": "e5", "updated_at": "2024-05-01 10:00:01+00"}]}),
            )
            .unwrap();
        assert_eq!(keys(&new), ["e5"]);
        cur.advance(&new);
        let HttpCursor::Greatest { at_mark, .. } = &cur else {
            panic!()
        };
        assert_eq!(at_mark.iter().collect::<Vec<_>>(), ["e5"]);
    }

    #[test]
    fn greatest_advances_only_over_what_was_taken() {
        let src = source(json!({"dedupe": "greatest"}));
        let mut cur = HttpCursor::for_source(&src);
        let new = src
            .select_new(&cur, &json!([{"id": 3}, {"id": 1}, {"id": 2}]))
            .unwrap();
        cur.advance(&new[..2]); // only 1 and 2 committed
        assert_eq!(
            keys(
                &src.select_new(&cur, &json!([{"id": 3}, {"id": 2}]))
                    .unwrap()
            ),
            ["3"]
        );
    }

    #[test]
    fn items_without_id_fail_with_index_and_pointer() {
        let src = source(json!({"id": "/meta/id"}));
        let cur = HttpCursor::for_source(&src);
        let err = src
            .select_new(&cur, &json!([{"meta": {"id": 1}}, {"meta": {}}]))
            .unwrap_err();
        assert_eq!(
            err,
            PollError::BadItem {
                index: 1,
                pointer: "/meta/id".into(),
                problem: "has no id there".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "item [1] at pointer \"/meta/id\": has no id there"
        );
        let err = src
            .select_new(&cur, &json!([{"meta": {"id": {"x": 1}}}]))
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("must be a string or a number, got object"));
        let err = src
            .select_new(&cur, &json!([{"meta": {"id": ""}}]))
            .unwrap_err();
        assert!(err.to_string().contains("empty string"));
        let g = source(json!({"dedupe": "greatest", "greatest": "/ts"}));
        let err = g
            .select_new(&HttpCursor::for_source(&g), &json!([{"id": 1, "ts": true}]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "item [0] at pointer \"/ts\": the value to order by must be a string or a number, got boolean"
        );
    }

    #[test]
    fn scalar_items_are_their_own_id() {
        let src = source(json!({"id": ""}));
        let cur = HttpCursor::for_source(&src);
        let new = src.select_new(&cur, &json!(["a", 2, "a"])).unwrap();
        assert_eq!(keys(&new), ["a", "2"]);
    }

    #[test]
    fn start_now_records_without_running() {
        let src = source(json!({}));
        let body = json!([{"id": 1}, {"id": 2}]);
        let (mut cur, first) = HttpCursor::resume(None, &src);
        assert!(first);
        let seen = src.select_new(&cur, &body).unwrap();
        cur.advance(&seen); // start: now → no runs for these
        let stored: HttpCursor =
            serde_json::from_str(&serde_json::to_string(&cur).unwrap()).unwrap();
        let (cur, first) = HttpCursor::resume(Some(stored), &src);
        assert!(!first);
        let new = src
            .select_new(&cur, &json!([{"id": 3}, {"id": 2}, {"id": 1}]))
            .unwrap();
        assert_eq!(keys(&new), ["3"]);
    }

    #[test]
    fn resume_adapts_to_a_changed_definition() {
        let unique = source(json!({"unique_capacity": 2}));
        let greatest = source(json!({"dedupe": "greatest"}));
        let mut ids = RecentIds::new(10);
        for id in ["a", "b", "c"] {
            ids.insert(id.into());
        }
        let (cur, first) = HttpCursor::resume(Some(HttpCursor::Unique(ids.clone())), &unique);
        assert!(!first);
        let HttpCursor::Unique(r) = &cur else {
            panic!()
        };
        assert_eq!(r.iter().collect::<Vec<_>>(), ["b", "c"]);
        let (cur, first) = HttpCursor::resume(Some(HttpCursor::Unique(ids)), &greatest);
        assert!(first);
        assert_eq!(cur, HttpCursor::for_source(&greatest));
    }

    #[test]
    fn compares_values() {
        use Ordering::*;
        let cmp = |a: Value, b: Value| compare_values(&a, &b);
        assert_eq!(cmp(json!(9), json!(10)), Less);
        assert_eq!(cmp(json!(1.5), json!(1)), Greater);
        assert_eq!(cmp(json!("9"), json!(10)), Less);
        assert_eq!(cmp(json!("-3"), json!("-20")), Greater);
        assert_eq!(cmp(json!("007"), json!(7)), Equal);
        // Beyond f64 precision, integers still compare exactly.
        assert_eq!(
            cmp(json!(9007199254740993u64), json!(9007199254740992u64)),
            Greater
        );
        assert_eq!(
            cmp(
                json!("123456789012345678901234567891"),
                json!("123456789012345678901234567890")
            ),
            Greater
        );
        assert_eq!(
            cmp(
                json!("2024-05-01T10:00:00+02:00"),
                json!("2024-05-01T09:00:00Z")
            ),
            Less
        );
        assert_eq!(
            cmp(json!("2024-05-02"), json!("2024-05-01T23:59:59Z")),
            Greater
        );
        assert_eq!(
            cmp(
                json!("2024-05-01 10:00:00.5+00"),
                json!("2024-05-01T10:00:00Z")
            ),
            Greater
        );
        // Otherwise as text.
        assert_eq!(cmp(json!("b"), json!("a")), Greater);
        assert_eq!(cmp(json!("abc"), json!(5)), Greater);
        assert_eq!(
            cmp(json!("2024-05-01T10:00:00Z"), json!(1714557600)),
            Greater
        );
    }

    #[test]
    fn parses_instants() {
        let want = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for s in [
            "2024-05-01T10:00:00Z",
            "2024-05-01t10:00:00z",
            "2024-05-01T12:00:00+02:00",
            "2024-05-01 10:00:00+00",
            "2024-05-01 12:00:00+0200",
            "2024-05-01T10:00:00",
            "2024-05-01 10:00:00.000",
            "2024-05-01T10:00",
            "Wed, 01 May 2024 10:00:00 +0000",
        ] {
            assert_eq!(parse_instant(s), Some(want), "{s}");
        }
        assert_eq!(
            parse_instant("2024-05-01"),
            Some(want - chrono::Duration::hours(10))
        );
        for s in ["yesterday", "2024-13-01", "10:00", "1714557600", ""] {
            assert_eq!(parse_instant(s), None, "{s}");
        }
    }

    #[test]
    fn mixed_kinds_sort_without_panicking() {
        let src = source(json!({"greatest": "/k"}));
        let cur = HttpCursor::for_source(&src);
        let items: Vec<Value> = (0..40)
            .map(|i| match i % 4 {
                0 => json!({"id": i, "k": i}),
                1 => json!({"id": i, "k": format!("2024-05-{:02}", i % 28 + 1)}),
                2 => json!({"id": i, "k": format!("w{i}")}),
                _ => json!({"id": i, "k": i as f64 / 3.0}),
            })
            .collect();
        let new = cur.select_new(&items, "/id", Some("/k")).unwrap();
        assert_eq!(new.len(), 40);
        // Numbers, then times, then text.
        assert_eq!(new[0].record["k"], json!(0));
        assert_eq!(new[39].record["k"], json!("w6")); // text order
    }
}
