//! A transaction-safe high-water mark for PostgreSQL sources: the cursor never moves past a row
//! that a transaction still in progress could yet make visible below it.
//!
//! The problem: writer A takes serial id 41 and keeps its transaction open; writer B inserts 42
//! and commits. A poll that reads 42 and moves its cursor there never sees 41 once A commits.
//! Timestamp cursors have the same hole (a `now()` default is the transaction's start time).
//!
//! The rule. Every poll reads, in the same repeatable-read snapshot as its rows,
//! `pg_current_snapshot()`'s `xmin` (the oldest transaction still in progress; every older one
//! has ended), the next transaction id to be handed out (called `xmax` here; it is *not* the
//! snapshot's own `xmax`, which is one past the newest transaction that has ended, and which a
//! transaction still in progress can hold an id at or above, see
//! [`super::postgres::PgSource::snapshot_sql`]), and the greatest cursor position then visible. It keeps these as a short list of *marks*. A transaction in progress
//! now has an id `≥ xmin`; if an earlier poll's `xmax` was `≤ xmin`, that transaction got its
//! id after that earlier poll, so the values it wrote were taken after every value visible to
//! that poll. Rows up to the greatest position that poll saw are therefore final, whatever is
//! still in progress; rows after it wait for a later poll. When nothing is in progress
//! (`xmin == xmax`) every visible row is final.
//!
//! **Settling.** The rule above assumes a row's value is taken when its transaction already has
//! an id. It is not always so: a transaction gets its id at its first write, a `now()` default
//! is the time the transaction *began*, and `nextval()` runs before the row (and before any
//! `BEFORE` trigger). A transaction that begins, idles, then inserts writes a value older than
//! rows committed meanwhile, with an id handed out after polls that saw those rows. So a
//! poll's view only becomes final once it is `settle` old by the database's clock: rows up to
//! the greatest position mark A saw are final when a later mark B, read at least `settle`
//! after A, came before every transaction in progress now (`B.xmax <= xmin`; B may be this
//! poll's own view when nothing is in progress). Any writer that took a value `<=` A's greatest
//! took it before A was read; if it got its id within `settle` of that, the id is below
//! `B.xmax`, so it has ended and its row is visible now. What stays outside: a transaction
//! that waits longer than `settle` between taking its value (its start, for `now()`) and its
//! first write. The cost: rows run at least `settle` after a poll first saw them.
//!
//! Consequences, all visible in the poll status:
//! - rows seen by a poll run once a poll at least `settle` later confirms them (a held-back
//!   poll asks to poll again soon, at most once per interval, see `held_back`);
//! - under constant writes each poll takes rows up to what a poll about an interval earlier saw;
//! - a transaction that stays open holds back rows written after it began — in any table of
//!   any database of the server, as it holds back `VACUUM` — and once it has been open across
//!   two polls the status names its id and since when;
//! - nothing is lost: held-back rows are read by a later poll, and their runs' dedup keys stop
//!   a second run for rows read twice.
//!
//! What the rule needs: the cursor value is written by the inserting statement or its
//! transaction (a serial or identity default, `now()`, `clock_timestamp()`) on the database's
//! clock, not allocated by the application long before its insert; PostgreSQL 13 or later
//! (`pg_current_snapshot`), which any role may call.

use serde::{Deserialize, Serialize};

use crate::kernel::columns::{read_with, Bad, Columns};

use super::cursor::PgCursor;

/// Marks kept at most; dropping the oldest only makes the bound more cautious.
pub const MAX_MARKS: usize = 64;
/// Most bytes of positions the marks keep (long tiebreak texts): the marks go with every read,
/// whose request the PostgreSQL Worker takes up to 256 KiB.
pub const MAX_MARK_BYTES: usize = 64 * 1024;

/// The transaction ids of a snapshot (64-bit `xid8`, so they never wrap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxSnapshot {
    /// The oldest transaction still in progress (equal to `xmax` when none is).
    pub xmin: u64,
    /// The next transaction id to be assigned (not the snapshot's `xmax`: see above).
    pub xmax: u64,
}

impl TxSnapshot {
    /// From the first two columns of [`super::postgres::PgSource::snapshot_sql`].
    pub fn parse(xmin: &str, xmax: &str) -> Option<TxSnapshot> {
        let snapshot = TxSnapshot {
            xmin: xmin.trim().parse().ok()?,
            xmax: xmax.trim().parse().ok()?,
        };
        (snapshot.xmin <= snapshot.xmax).then_some(snapshot)
    }

    /// Whether some transaction was in progress.
    pub fn in_progress(&self) -> bool {
        self.xmin < self.xmax
    }
}

/// One earlier poll: the next transaction id then, the greatest position visible then, and when
/// (by the database's clock) it was first and last seen so.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Mark {
    xmax: u64,
    latest: PgCursor,
    /// First seen (ms since the epoch, database clock); 0 in marks stored before it was kept.
    at_ms: i64,
    /// Last seen with the same `xmax` and `latest` (0 when missing, as `at_ms`).
    seen_ms: i64,
}

/// The transaction that holds rows back, and since when this poller has seen it do so.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiting {
    pub xid: u64,
    pub since_ms: i64,
}

/// How far one poll may read.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// Every visible row is final.
    All,
    /// Only rows at or before this position (`Beginning`: none).
    UpTo(PgCursor),
}

/// What one poll read, in one snapshot, for the rule above.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub snapshot: TxSnapshot,
    /// The database's clock (`clock_timestamp()`), ms since the epoch.
    pub db_ms: i64,
    /// The greatest position visible.
    pub latest: PgCursor,
}

/// What a PostgreSQL poll keeps between polls for the rule above (in the workflow's object).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Horizon {
    marks: Vec<Mark>,
    waiting: Option<Waiting>,
    /// The greatest position proven final so far (a later proof never goes back before it).
    settled: Option<PgCursor>,
    /// The last poll saw rows it could not take yet (`false` when missing).
    held_back: bool,
}

/// Read field by field (see [`Columns`]).
impl<'de> Deserialize<'de> for Horizon {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read_with(d, Horizon::from_columns)
    }
}

impl Horizon {
    /// The marks as stored (the fields after `marks` may be missing).
    pub fn from_columns(mut c: Columns) -> Result<Horizon, Bad> {
        Ok(Horizon {
            marks: c.list("marks", false, |v| {
                let mut m = Columns::of(v, "marks")?;
                Ok(Mark {
                    xmax: m.uint("xmax")?,
                    latest: m.with("latest", PgCursor::in_field("latest"))?,
                    at_ms: m.int_or_zero("at_ms")?,
                    seen_ms: m.int_or_zero("seen_ms")?,
                })
            })?,
            waiting: c.opt("waiting", |v| {
                let mut w = Columns::of(v, "waiting")?;
                Ok(Waiting {
                    xid: w.uint("xid")?,
                    since_ms: w.int("since_ms")?,
                })
            })?,
            settled: c.opt("settled", PgCursor::in_field("settled"))?,
            held_back: c.flag_or_false("held_back")?,
        })
    }
}

impl Horizon {
    /// Records this poll's reading and answers how far its rows are final: rows seen by a mark
    /// that a mark at least `settle_ms` younger confirms (module docs). `now_ms` (the Worker's
    /// clock) dates a newly reported blocking transaction.
    pub fn settle(&mut self, reading: &Reading, settle_ms: i64, now_ms: i64) -> Bound {
        let snapshot = reading.snapshot;
        // Marks stored before their time was kept cannot be dated: dropped (more cautious).
        self.marks.retain(|m| m.at_ms > 0);
        let previous_xmax = self.marks.last().map(|m| m.xmax);
        match self.marks.last_mut() {
            Some(m) if m.xmax == snapshot.xmax && m.latest == reading.latest => {
                m.seen_ms = m.seen_ms.max(reading.db_ms);
            }
            _ => self.marks.push(Mark {
                xmax: snapshot.xmax,
                latest: reading.latest.clone(),
                at_ms: reading.db_ms,
                seen_ms: reading.db_ms,
            }),
        }
        // B: the newest mark read before every transaction now in progress (this poll's own
        // when none is); A: the newest mark read at least `settle` before B.
        let proof = self
            .marks
            .iter()
            .rposition(|m| m.xmax <= snapshot.xmin)
            .and_then(|b| {
                let before = self.marks[b].seen_ms.saturating_sub(settle_ms);
                self.marks[..=b].iter().rposition(|m| m.at_ms <= before)
            });
        if let Some(a) = proof {
            self.marks.drain(..a);
            self.settled = Some(self.marks[0].latest.clone());
        }
        let settled = self.settled.clone().unwrap_or(PgCursor::Beginning);
        self.held_back = settled != reading.latest;
        // A transaction holds rows back once it was in progress at the previous poll too.
        let blocking = self.held_back
            && snapshot.in_progress()
            && previous_xmax.is_some_and(|x| snapshot.xmin < x);
        self.waiting = if blocking {
            match self.waiting.take() {
                Some(w) if w.xid == snapshot.xmin => Some(w),
                _ => Some(Waiting {
                    xid: snapshot.xmin,
                    since_ms: now_ms,
                }),
            }
        } else {
            None
        };
        self.bound();
        if self.held_back {
            Bound::UpTo(settled)
        } else {
            Bound::All
        }
    }

    /// Keeps the marks within [`MAX_MARKS`] and [`MAX_MARK_BYTES`]: the first (the settled one)
    /// and the newest stay (dropping marks only makes the bound more cautious).
    fn bound(&mut self) {
        if self.marks.len() > MAX_MARKS {
            let extra = self.marks.len() - MAX_MARKS;
            self.marks.drain(1..1 + extra);
        }
        let bytes = |m: &Mark| match &m.latest {
            PgCursor::At {
                cursor, tiebreak, ..
            } => cursor.len() + tiebreak.as_ref().map_or(0, String::len),
            PgCursor::Beginning => 0,
        };
        while self.marks.len() > 2 && self.marks.iter().map(bytes).sum::<usize>() > MAX_MARK_BYTES {
            self.marks.remove(1);
        }
    }

    /// The transaction holding rows back after the last poll, if one is.
    pub fn waiting(&self) -> Option<&Waiting> {
        self.waiting.as_ref()
    }

    /// Whether the last poll saw rows it could not take yet (a poll soon may take them).
    pub fn held_back(&self) -> bool {
        self.held_back
    }
}

#[cfg(test)]
mod tests;
