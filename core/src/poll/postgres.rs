//! A PostgreSQL table as a polled source: its definition, the identifiers and column types it
//! accepts, and the read-only SQL a poll sends (values always bound, names always quoted).

use super::*;
use crate::poll::state::MAX_RECORD_INPUT_BYTES;

/// A PostgreSQL table read in cursor order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSource {
    pub connection: PgConnection,
    /// `None` = resolved by the connection's `search_path`.
    pub schema: Option<String>,
    pub table: String,
    /// Column whose value only grows for new rows (serial id, `created_at`, …).
    pub cursor: String,
    /// Unique column that orders rows sharing a cursor value (needed unless the cursor's values
    /// never repeat).
    pub tiebreak: Option<String>,
    /// The definition declares the cursor's values unique (its `tiebreak` is the cursor column
    /// itself): no unique index needs to show it, as none can for a view.
    pub cursor_unique: bool,
    /// Columns of the record; `None` = all (`*`). The cursor and tiebreak are always included.
    pub columns: Option<Vec<String>>,
    pub batch_size: u32,
    /// How old (by the database's clock) a poll's view of the table must be before the rows it
    /// saw are final (see [`crate::poll::horizon`]).
    pub settle_seconds: u32,
}

/// How the runtime reaches the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgConnection {
    /// Name of a Worker secret/variable holding a `postgres://` URL.
    Env(String),
    /// Name of a Hyperdrive binding.
    Hyperdrive(String),
}

pub(super) fn parse_pg(mut r: ObjectReader<'_>, errors: &mut Errors) -> Option<PgSource> {
    let before = errors.len();
    let env = r.opt_str("connection_env", errors);
    let hyperdrive = r.opt_str("hyperdrive", errors);
    let connection = match (env, hyperdrive) {
        (Some(name), None) => match crate::kernel::names::platform_secret_refusal(&name) {
            Some(refusal) => {
                errors.push(r.loc("connection_env"), refusal);
                None
            }
            None => check_env_name(&name, &r.loc("connection_env"), errors)
                .then_some(PgConnection::Env(name)),
        },
        (None, Some(name)) => check_env_name(&name, &r.loc("hyperdrive"), errors)
            .then_some(PgConnection::Hyperdrive(name)),
        (Some(_), Some(_)) => {
            errors.push(
                r.loc("hyperdrive"),
                "give either `connection_env` or `hyperdrive`, not both",
            );
            None
        }
        (None, None) => {
            errors.push(
                r.loc("connection_env"),
                "is required: the name of a Worker secret holding a postgres:// URL \
                 (or give `hyperdrive`: the name of a Hyperdrive binding)",
            );
            None
        }
    };

    let table_loc = r.loc("table");
    let relation = r
        .req_str("table", errors)
        .and_then(|t| parse_relation(&t, &table_loc, errors));
    let cursor_loc = r.loc("cursor");
    let cursor = r
        .req_str("cursor", errors)
        .filter(|c| check_identifier(c, &cursor_loc, errors));
    let tiebreak_loc = r.loc("tiebreak");
    // A tiebreak that is the cursor column itself orders nothing more: it declares the cursor's
    // values unique and is otherwise taken as absent (a JSON Schema cannot compare two fields,
    // so this is no error a client could be told of).
    let tiebreak = r
        .opt_str("tiebreak", errors)
        .filter(|t| check_identifier(t, &tiebreak_loc, errors));
    let cursor_unique = tiebreak.is_some() && tiebreak == cursor;
    let tiebreak = tiebreak.filter(|_| !cursor_unique);
    let columns_loc = r.loc("columns");
    let columns = r.opt_str_list("columns", errors);
    if let Some(cols) = &columns {
        if cols.is_empty() {
            errors.push(
                columns_loc.clone(),
                "must name at least one column (leave it out for all columns)",
            );
        }
        for (n, (i, c)) in cols.iter().enumerate() {
            let loc = format!("{columns_loc}[{i}]");
            if check_identifier(c, &loc, errors) && cols[..n].iter().any(|(_, d)| d == c) {
                errors.push(loc, format!("column \"{c}\" is listed twice"));
            }
        }
    }
    let batch_size = r
        .opt_int("batch_size", 1, i64::from(MAX_BATCH_SIZE), errors)
        .map_or(DEFAULT_BATCH_SIZE, |n| n as u32);
    let settle_seconds = r
        .opt_int("settle_seconds", 0, i64::from(MAX_SETTLE_SECONDS), errors)
        .map_or(DEFAULT_SETTLE_SECONDS, |n| n as u32);
    r.finish(errors);
    if errors.len() > before {
        return None;
    }
    let (schema, table) = relation?;
    Some(PgSource {
        connection: connection?,
        schema,
        table,
        cursor: cursor?,
        tiebreak,
        cursor_unique,
        columns: columns.map(|cols| cols.into_iter().map(|(_, c)| c).collect()),
        batch_size,
        settle_seconds,
    })
}

/// Checks a SQL identifier: `[A-Za-z_][A-Za-z0-9_$]*`, at most 63 bytes.
pub fn check_sql_identifier(name: &str) -> Result<(), String> {
    let hint = "use letters, digits, `_` and `$`, starting with a letter or `_`";
    let Some(first) = name.chars().next() else {
        return Err(format!("must not be empty; {hint}"));
    };
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '$'))
    {
        let shown = match bad {
            ' ' => "a space".to_string(),
            c if c.is_control() => format!("control character U+{:04X}", c as u32),
            c => format!("`{c}`"),
        };
        return Err(format!(
            "\"{name}\" is not a plain column/table name: it contains {shown}; {hint}"
        ));
    }
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(format!(
            "\"{name}\" must start with a letter or `_`; {hint}"
        ));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(format!(
            "\"{name}\" is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES}-byte limit for names"
        ));
    }
    Ok(())
}

fn check_identifier(name: &str, loc: &str, errors: &mut Errors) -> bool {
    match check_sql_identifier(name) {
        Ok(()) => true,
        Err(why) => {
            errors.push(loc, why);
            false
        }
    }
}

/// `"table"` or `"schema.table"` → (schema, table), each a valid identifier.
fn parse_relation(text: &str, loc: &str, errors: &mut Errors) -> Option<(Option<String>, String)> {
    let parts: Vec<&str> = text.split('.').collect();
    match parts.as_slice() {
        [table] => check_identifier(table, loc, errors).then(|| (None, table.to_string())),
        [schema, table] => {
            let ok_schema = check_identifier(schema, loc, errors);
            let ok_table = check_identifier(table, loc, errors);
            (ok_schema && ok_table).then(|| (Some(schema.to_string()), table.to_string()))
        }
        _ => {
            errors.push(loc, format!("\"{text}\" must be `table` or `schema.table`"));
            None
        }
    }
}

/// A column type name from the catalog, checked safe to write into SQL as a cast target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgType(String);

impl PgType {
    /// Validates a `format_type(...)` result (see [`validate_pg_type`]).
    pub fn parse(name: &str) -> Result<PgType, PollError> {
        validate_pg_type(name).map(|n| PgType(n.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Words PostgreSQL prints unquoted in multi-word built-in type names.
const TYPE_WORDS: &[&str] = &[
    "bit",
    "character",
    "day",
    "double",
    "hour",
    "interval",
    "minute",
    "month",
    "precision",
    "second",
    "time",
    "timestamp",
    "to",
    "varying",
    "with",
    "without",
    "year",
    "zone",
];

/// Accepts only type names as `format_type` prints them: names (plain, or double-quoted with
/// `""` escapes) joined by `.`, a modifier like `(10,2)` holding only digits and commas, `[]`
/// suffixes, and multi-word built-ins (`timestamp(3) with time zone`, `character varying(20)[]`).
/// Anything else (`;`, `'`, `--`, `/*`, stray words such as `int UNION SELECT 1`) is refused, so
/// the name cannot change the statement it is cast in.
pub fn validate_pg_type(name: &str) -> Result<&str, PollError> {
    let fail = |reason: &str| {
        Err(PollError::UnsafeType {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() || name.len() > MAX_TYPE_NAME_BYTES {
        return fail("must be 1 to 200 bytes");
    }
    let chars: Vec<char> = name.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut has_space = false;
    let mut i = 0;
    // What may come next: a name part (at the start, after `.` or a space) or a separator.
    let mut expect_name = true;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            if !expect_name {
                return fail("a quoted name must follow a space or `.`");
            }
            let mut j = i + 1;
            let mut len = 0;
            loop {
                match chars.get(j) {
                    None => return fail("unterminated quoted name"),
                    Some('"') if chars.get(j + 1) == Some(&'"') => {
                        j += 2;
                        len += 1;
                    }
                    Some('"') => break,
                    Some(ch) if ch.is_control() => return fail("control character"),
                    Some(_) => {
                        j += 1;
                        len += 1;
                    }
                }
            }
            if len == 0 {
                return fail("empty quoted name");
            }
            i = j + 1;
            expect_name = false;
        } else if c.is_ascii_alphabetic() || c == '_' {
            if !expect_name {
                return fail("unexpected name");
            }
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            words.push(
                chars[start..i]
                    .iter()
                    .collect::<String>()
                    .to_ascii_lowercase(),
            );
            expect_name = false;
        } else if expect_name {
            return fail("expected a name");
        } else if c == '.' {
            expect_name = true;
            i += 1;
        } else if c == ' ' {
            has_space = true;
            expect_name = true;
            i += 1;
        } else if c == '(' {
            let mut j = i + 1;
            let mut digits = 0;
            while let Some(&ch) = chars.get(j) {
                match ch {
                    '0'..='9' => digits += 1,
                    ',' if digits > 0 => digits = 0,
                    ')' if digits > 0 => break,
                    _ => return fail("a type modifier may only hold numbers, like (10,2)"),
                }
                j += 1;
            }
            if chars.get(j) != Some(&')') {
                return fail("unclosed `(`");
            }
            i = j + 1;
        } else if c == '[' {
            let mut j = i + 1;
            while chars.get(j).is_some_and(char::is_ascii_digit) {
                j += 1;
            }
            if chars.get(j) != Some(&']') {
                return fail("`[` must be closed by `]`");
            }
            i = j + 1;
        } else {
            return fail("only names, `.`, spaces, (digits) and [] may appear");
        }
    }
    if expect_name {
        return fail("ends without a name");
    }
    if has_space && !words.iter().all(|w| TYPE_WORDS.contains(&w.as_str())) {
        return fail("only built-in types may have unquoted words separated by spaces");
    }
    Ok(name)
}

/// The cursor and tiebreak column types, learned from the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgColumnTypes {
    pub cursor: PgType,
    pub tiebreak: Option<PgType>,
    /// The cursor's values never repeat: a primary key or unique index on the cursor column
    /// alone, or the definition says so.
    pub cursor_unique: bool,
}

/// Deepest nesting a record's JSON may have: serde_json reads at most 127 levels, and a run's
/// input holds the record two levels down (`{"event": {"record": …}}`).
pub const MAX_RECORD_DEPTH: usize = 125;

/// A volatile call added to every read of the table's rows: a caching pool (Hyperdrive caches
/// read queries unless they call a volatile function) must never answer them from its cache.
const NOT_CACHED: &str = "pg_catalog.clock_timestamp()";

/// `"name"` with inner quotes doubled (validated names have none; this is defence in depth).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl PgSource {
    /// The quoted relation: `"schema"."table"` or `"table"`.
    pub fn relation(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&self.table)),
            None => quote(&self.table),
        }
    }

    /// Columns whose types/existence the runtime checks: cursor, tiebreak, then listed columns.
    fn needed_columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![&self.cursor];
        out.extend(self.tiebreak.as_deref());
        for c in self.columns.iter().flatten() {
            if !out.contains(&c.as_str()) {
                out.push(c);
            }
        }
        out
    }

    /// Catalog query returning `(column name, type name, unique)` rows for the named columns:
    /// `unique` true when a valid unique index (or the primary key) without a predicate has
    /// that column as its only key, on a relation whose rows are its own; false when no unique
    /// index has it as a key at all (an index's `INCLUDE` columns are not keys); NULL when no
    /// index can tell: the column is one key of a unique index with others (a partitioned
    /// table's primary key must include its partition key, e.g. `(id, created_at)`), or the
    /// relation is a view or a table with inheritance children (which also reads theirs, which
    /// its index does not cover). A partitioned table's unique index covers every partition.
    /// `$1` = the quoted relation as text, `$2` = comma-separated column names (see
    /// [`Self::column_type_params`]). A missing table fails in PostgreSQL with its own message.
    pub fn column_type_sql() -> String {
        // The trailing volatile column keeps a caching pool (Hyperdrive) from answering it
        // from its cache: a dropped unique index or a changed type is seen at once.
        format!(
            "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
         CASE WHEN c.relkind = 'p' OR (c.relkind IN ('r', 'm') AND NOT c.relhassubclass) THEN \
         CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
         WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL \
         AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum) THEN true \
         WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
         WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL \
         AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])) THEN NULL ELSE false END END, \
         {NOT_CACHED} \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
         AND a.attname::text = ANY (pg_catalog.string_to_array($2::text, ','))"
        )
    }

    /// Parameters for [`Self::column_type_sql`].
    pub fn column_type_params(&self) -> Vec<String> {
        vec![self.relation(), self.needed_columns().join(",")]
    }

    /// Turns the rows of [`Self::column_type_sql`] into validated types; every named column must
    /// exist, and without a tiebreak the cursor's values must never repeat: rows sharing a value
    /// would share one run, and a batch ending among them would leave the rest behind the cursor.
    /// A tiebreak is a record's key, so on a table it must be a key of a unique index as well
    /// (unique on its own, or with other columns where the table allows no better, as a
    /// partitioned table's primary key).
    pub fn column_types(
        &self,
        rows: &[(String, String, Option<bool>)],
    ) -> Result<PgColumnTypes, PollError> {
        let find = |col: &str| -> Result<(&str, Option<bool>), PollError> {
            rows.iter()
                .find(|(n, _, _)| n == col)
                .map(|(_, t, unique)| (t.as_str(), *unique))
                .ok_or_else(|| PollError::MissingColumn {
                    column: col.to_string(),
                    relation: self.relation(),
                })
        };
        for col in self.needed_columns() {
            find(col)?;
        }
        let (cursor, unique) = find(&self.cursor)?;
        let not_unique = |column: &String| PollError::CursorNotUnique {
            column: column.clone(),
            relation: self.relation(),
            tiebreak: self.tiebreak.is_some(),
        };
        let types = PgColumnTypes {
            cursor: PgType::parse(cursor)?,
            tiebreak: match &self.tiebreak {
                Some(t) => match find(t)? {
                    (_, Some(false)) => return Err(not_unique(t)),
                    (ty, _) => Some(PgType::parse(ty)?),
                },
                None => None,
            },
            cursor_unique: unique == Some(true) || self.cursor_unique,
        };
        if self.tiebreak.is_none() && !types.cursor_unique {
            return Err(not_unique(&self.cursor));
        }
        Ok(types)
    }

    /// The select list of the inner query: `*`, or the listed columns plus cursor and tiebreak.
    fn select_list(&self) -> String {
        match &self.columns {
            None => "*".to_string(),
            Some(cols) => {
                let mut all: Vec<&str> = cols.iter().map(String::as_str).collect();
                for key in std::iter::once(self.cursor.as_str()).chain(self.tiebreak.as_deref()) {
                    if !all.contains(&key) {
                        all.push(key);
                    }
                }
                all.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
            }
        }
    }

    /// The position just after a row with these values (`Beginning` without a cursor value: an
    /// empty table), naming the tiebreak column its tiebreak value belongs to.
    pub fn position(&self, cursor: Option<String>, tiebreak: Option<String>) -> PgCursor {
        match cursor {
            None => PgCursor::Beginning,
            Some(cursor) => PgCursor::At {
                cursor,
                tiebreak_column: tiebreak.as_ref().and(self.tiebreak.clone()),
                tiebreak,
            },
        }
    }

    /// A position's tiebreak value, if it belongs to this source's tiebreak column. A position
    /// taken with another tiebreak, or none, or stored before positions named their column,
    /// keeps only its cursor value: its tiebreak value is never cast to another column's type.
    fn own_tiebreak<'a>(&self, position: &'a PgCursor) -> Option<&'a String> {
        match position {
            PgCursor::At {
                tiebreak: Some(value),
                tiebreak_column: Some(column),
                ..
            } if self.tiebreak.as_ref() == Some(column) => Some(value),
            _ => None,
        }
    }

    /// The read-only query for the next batch after `cursor`, oldest first, and its text
    /// parameters. Each row is `(record json, its bytes, cursor text, tiebreak text)` (the last
    /// only with a tiebreak; the record NULL when over what a run may hold); pass it to
    /// [`Self::read_row`]. Rows with a NULL cursor or tiebreak are
    /// excluded. Without a tiebreak the cursor is unique (see [`Self::column_types`]): rows after
    /// its value. With one, rows after `(cursor, tiebreak)`; a position whose tiebreak value is
    /// not of this tiebreak column (the definition's tiebreak was added or changed) keeps only
    /// its cursor value: with a unique cursor, rows after it (its one row was taken); otherwise
    /// the rows at that value are read again (`>=`), so none is skipped, and those that had a run
    /// under the old tiebreak get another one (their dedup keys, tiebreak values, are new).
    /// `up_to` (see [`crate::poll::horizon`]) stops the batch at a position: rows after it may
    /// still be joined by rows of transactions in progress, so they wait for a later poll (with
    /// the same care: a bound of another tiebreak on a cursor that repeats leaves out the rows
    /// at its value, until a later poll proves a bound of this one).
    pub fn select_sql(
        &self,
        cursor: &PgCursor,
        types: &PgColumnTypes,
        up_to: Option<&PgCursor>,
    ) -> (String, Vec<String>) {
        let c = quote(&self.cursor);
        let ct = types.cursor.as_str();
        let t = self.tiebreak.as_deref().map(quote);
        let tt = types.tiebreak.as_ref().map(|t| format!("::{}", t.as_str()));
        let tt = tt.as_deref().unwrap_or("");
        let (condition, params) = match (cursor, &t) {
            (PgCursor::Beginning, None) => (format!("{c} IS NOT NULL"), vec![]),
            (PgCursor::Beginning, Some(t)) => {
                (format!("{c} IS NOT NULL AND {t} IS NOT NULL"), vec![])
            }
            (PgCursor::At { cursor, .. }, None) => {
                (format!("{c} > $1::text::{ct}"), vec![cursor.clone()])
            }
            (at @ PgCursor::At { cursor, .. }, Some(t)) => match self.own_tiebreak(at) {
                Some(tv) => (
                    format!("({c}, {t}) > ($1::text::{ct}, $2::text{tt}) AND {t} IS NOT NULL"),
                    vec![cursor.clone(), tv.clone()],
                ),
                None => {
                    let op = if types.cursor_unique { ">" } else { ">=" };
                    (
                        format!("{c} {op} $1::text::{ct} AND {t} IS NOT NULL"),
                        vec![cursor.clone()],
                    )
                }
            },
        };
        let (condition, params) = match up_to {
            None | Some(PgCursor::Beginning) => (condition, params),
            Some(bound @ PgCursor::At { cursor, .. }) => {
                let mut params = params;
                let n = params.len() + 1;
                params.push(cursor.clone());
                let limit = match (&t, self.own_tiebreak(bound)) {
                    (Some(t), Some(tv)) => {
                        params.push(tv.clone());
                        format!("({c}, {t}) <= (${n}::text::{ct}, ${}::text{tt})", n + 1)
                    }
                    (Some(_), None) if !types.cursor_unique => format!("{c} < ${n}::text::{ct}"),
                    _ => format!("{c} <= ${n}::text::{ct}"),
                };
                (format!("{condition} AND {limit}"), params)
            }
        };
        let (inner_order, outer_cols, outer_order) = match &t {
            None => (c.clone(), format!("r.{c}::text"), format!("r.{c}")),
            Some(t) => (
                format!("{c}, {t}"),
                format!("r.{c}::text, r.{t}::text"),
                format!("r.{c}, r.{t}"),
            ),
        };
        // A record over what a run may hold is not sent, only its size: its run fails saying
        // so, and the cursor moves past it (`OFFSET 0` keeps the JSON from being built twice).
        // The trailing `clock_timestamp()` (volatile) keeps a caching pool such as Hyperdrive
        // from answering the read from its cache: it must see the snapshot's rows. The row is
        // `r.*`: a bare `r` would be a column of that name, if the table has one.
        let sql = format!(
            "SELECT CASE WHEN octet_length(j.t) <= {MAX_RECORD_INPUT_BYTES} THEN j.t END, \
             octet_length(j.t), {outer_cols}, {NOT_CACHED} FROM (SELECT {} FROM {} \
             WHERE {condition} ORDER BY {inner_order} LIMIT {}) r \
             CROSS JOIN LATERAL (SELECT row_to_json(r.*)::text AS t OFFSET 0) j ORDER BY {outer_order}",
            self.select_list(),
            self.relation(),
            self.batch_size,
        );
        (sql, params)
    }

    /// The transaction ids of the current snapshot, as text: `(xmin, next)` (see
    /// [`crate::poll::horizon`]). Any role may run it; PostgreSQL 13 or later.
    ///
    /// `next` is the next transaction id to be assigned, read after the snapshot was taken. It
    /// is not the snapshot's `xmax`, which is one past the newest transaction that has *ended*:
    /// a transaction still in progress can hold an id at or above `xmax`, and the snapshot then
    /// lists nothing in progress. `age(x)` is the distance from `x` to the next id (read once
    /// per transaction), so `xmax + age(xmax)` is the next id as a 64-bit number.
    /// The third column is the database's clock in ms since the epoch, as text (the marks'
    /// times); being volatile, it also keeps a caching pool (Hyperdrive) from answering.
    pub fn snapshot_sql() -> &'static str {
        "SELECT pg_catalog.pg_snapshot_xmin(s)::text, \
         (pg_catalog.pg_snapshot_xmax(s)::text::numeric \
          + greatest(pg_catalog.age(pg_catalog.pg_snapshot_xmax(s)::xid), 0))::text, \
         (extract(epoch FROM pg_catalog.clock_timestamp()) * 1000)::int8::text \
         FROM pg_catalog.pg_current_snapshot() AS s"
    }

    /// For `start: now`: the greatest `(cursor text, tiebreak text)` now in the table, as one row
    /// (none when no row has a cursor value; a last column is the clock, see [`NOT_CACHED`]).
    /// Store it with [`Self::position`].
    pub fn latest_sql(&self) -> String {
        let c = quote(&self.cursor);
        match self.tiebreak.as_deref().map(quote) {
            None => format!(
                "SELECT r.{c}::text, {NOT_CACHED} FROM {} r WHERE r.{c} IS NOT NULL \
                 ORDER BY r.{c} DESC LIMIT 1",
                self.relation()
            ),
            Some(t) => format!(
                "SELECT r.{c}::text, r.{t}::text, {NOT_CACHED} FROM {} r WHERE r.{c} IS NOT NULL \
                 AND r.{t} IS NOT NULL ORDER BY r.{c} DESC, r.{t} DESC LIMIT 1",
                self.relation()
            ),
        }
    }

    /// One row of [`Self::select_sql`] → the record to start a run with, and the cursor position
    /// just after it (store the last row's position once the runs are committed). A record no run
    /// can hold (nested deeper than [`MAX_RECORD_DEPTH`], or not JSON) is kept as unreadable: its
    /// run fails saying why, and the cursor still moves past it.
    pub fn read_row(
        &self,
        record_json: &str,
        cursor_text: Option<&str>,
        tiebreak_text: Option<&str>,
    ) -> Result<PgRecord, PollError> {
        let Some(cursor) = cursor_text else {
            return Err(PollError::BadRow {
                problem: format!("cursor column \"{}\" is NULL", self.cursor),
            });
        };
        let tiebreak = match (&self.tiebreak, tiebreak_text) {
            (None, _) => None,
            (Some(_), Some(t)) => Some(t.to_string()),
            (Some(name), None) => {
                return Err(PollError::BadRow {
                    problem: format!("tiebreak column \"{name}\" is NULL"),
                })
            }
        };
        let (record, unreadable) = match read_record(record_json) {
            Ok(record) => (record, None),
            Err(problem) => (Value::Null, Some(problem)),
        };
        Ok(PgRecord {
            new: NewRecord {
                dedup_key: dedup_key(cursor, tiebreak.as_deref()),
                record,
                greatest: None,
                unreadable,
                withheld: None,
            },
            position: self.position(Some(cursor.to_string()), tiebreak),
        })
    }
}

/// Why a record nested deeper than [`MAX_RECORD_DEPTH`] is not run.
pub const NESTED_TOO_DEEP: &str =
    "the record cannot be read: its JSON is nested more than 125 levels deep; it was not run";

/// Most values (array elements and object members) a record may hold, as many as a request
/// body: parsed, each takes tens of bytes (`[0,0,…]` of 796 KiB would be about 400 000 of them).
pub const MAX_RECORD_VALUES: usize = crate::kernel::json_budget::MAX_VALUES;

/// A record's JSON as a value, or why no run can hold it (the failed run's message).
fn read_record(text: &str) -> Result<Value, String> {
    use crate::kernel::json_budget::{check_with, OverBudget};
    match check_with(text.as_bytes(), MAX_RECORD_DEPTH, MAX_RECORD_VALUES) {
        Ok(_) => {}
        Err(OverBudget::TooDeep { .. }) => return Err(NESTED_TOO_DEEP.into()),
        Err(OverBudget::TooManyValues { .. }) => {
            return Err(format!(
                "the record cannot be read: it holds more than {MAX_RECORD_VALUES} values \
                 (array elements and object members); it was not run"
            ))
        }
    }
    // A `json` column keeps what it was given: a string cut inside an emoji (an unpaired
    // surrogate escape) reads as U+FFFD, as an HTTP source's page does.
    let text = crate::kernel::lone_surrogates::replace_lone_surrogates(text.as_bytes());
    serde_json::from_slice(&text).map_err(|e| {
        format!("the record cannot be read: its JSON does not parse ({e}); it was not run")
    })
}

/// A row read from PostgreSQL: what starts a run, and where the cursor goes after it.
#[derive(Debug, Clone, PartialEq)]
pub struct PgRecord {
    pub new: NewRecord,
    pub position: PgCursor,
}
