//! A transaction-safe high-water mark for PostgreSQL sources: the cursor never moves past a row
//! that a transaction still in progress could yet make visible below it.
//!
//! The problem: writer A takes serial id 41 and keeps its transaction open; writer B inserts 42
//! and commits. A poll that reads 42 and moves its cursor there never sees 41 once A commits.
//! Timestamp cursors have the same hole (a `now()` default is the transaction's start time).
//!
//! The rule. Every poll reads, in the same repeatable-read snapshot as its rows,
//! `pg_current_snapshot()`'s `xmin` (the oldest transaction still in progress; every older one
//! has ended) and `xmax` (the next transaction id to be handed out), and the greatest cursor
//! position then visible. It keeps these as a short list of *marks*. A transaction in progress
//! now has an id `≥ xmin`; if an earlier poll's `xmax` was `≤ xmin`, that transaction got its
//! id after that earlier poll, so the values it wrote were taken after every value visible to
//! that poll. Rows up to the greatest position that poll saw are therefore final, whatever is
//! still in progress; rows after it wait for a later poll. When nothing is in progress
//! (`xmin == xmax`) every visible row is final.
//!
//! Consequences, all visible in the poll status:
//! - a poll under constant writes takes rows up to what the previous poll saw (so a held-back
//!   poll polls again soon, to get the next mark quickly);
//! - a transaction that stays open holds back rows written after it began — in any table of the
//!   database, as it holds back `VACUUM` — and the status names its id and since when;
//! - nothing is lost: held-back rows are read by a later poll, and their runs' dedup keys stop
//!   a second run for rows read twice.
//!
//! What the rule needs: the cursor value is written by the inserting statement (a serial or
//! identity default, `now()`, `clock_timestamp()`), not allocated by the application long
//! before its insert; PostgreSQL 13 or later (`pg_current_snapshot`), which any role may call.

use serde::{Deserialize, Serialize};

use super::cursor::PgCursor;

/// Marks kept at most; dropping the oldest only makes the bound more cautious.
pub const MAX_MARKS: usize = 64;

/// The transaction ids of a snapshot (64-bit `xid8`, so they never wrap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxSnapshot {
    /// The oldest transaction still in progress (equal to `xmax` when none is).
    pub xmin: u64,
    /// The next transaction id to be assigned.
    pub xmax: u64,
}

impl TxSnapshot {
    /// From `pg_snapshot_xmin(…)::text` and `pg_snapshot_xmax(…)::text`.
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

/// One earlier poll: the next transaction id then, and the greatest position visible then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Mark {
    xmax: u64,
    latest: PgCursor,
}

/// The transaction that holds rows back, and since when this poller has seen it do so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// What a PostgreSQL poll keeps between polls for the rule above (in the workflow's object).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Horizon {
    marks: Vec<Mark>,
    #[serde(default)]
    waiting: Option<Waiting>,
}

impl Horizon {
    /// Records this poll's snapshot and the greatest position it sees (`latest`), and answers
    /// how far its rows are final. `now_ms` dates a newly seen blocking transaction.
    pub fn settle(&mut self, snapshot: TxSnapshot, latest: &PgCursor, now_ms: i64) -> Bound {
        let bound = if snapshot.in_progress() {
            // The newest earlier poll that came before every transaction now in progress.
            match self.marks.iter().rposition(|m| m.xmax <= snapshot.xmin) {
                Some(i) => {
                    self.marks.drain(..i);
                    Bound::UpTo(self.marks[0].latest.clone())
                }
                None => Bound::UpTo(PgCursor::Beginning),
            }
        } else {
            self.marks.clear();
            Bound::All
        };
        let held_back = match &bound {
            Bound::All => false,
            Bound::UpTo(b) => b != latest,
        };
        self.waiting = if held_back {
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
        if self.marks.last().map(|m| m.xmax) != Some(snapshot.xmax) {
            self.marks.push(Mark {
                xmax: snapshot.xmax,
                latest: latest.clone(),
            });
        }
        if self.marks.len() > MAX_MARKS {
            let extra = self.marks.len() - MAX_MARKS;
            self.marks.drain(..extra);
        }
        bound
    }

    /// The transaction holding rows back after the last poll, if one is.
    pub fn waiting(&self) -> Option<&Waiting> {
        self.waiting.as_ref()
    }
}

#[cfg(test)]
mod tests;
