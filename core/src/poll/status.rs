//! A poll trigger's health as `GET /api/workflows/{id}` shows it (`poll`): kept in the
//! workflow's object next to its cursor and updated after each poll, so that a poll writes
//! nothing outside the object.

use serde::Deserialize;

use crate::kernel::columns::read_with;
use serde_json::{json, Value};

/// The stored status (stored as [`PollStatus::to_json`] gives it, read back field by field).
/// Cursor, `waiting` and `last_gap` are JSON values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollStatus {
    pub last_poll_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_poll_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_poll_at: Option<String>,
    /// Runs started by this poll trigger, in total.
    pub runs_created: u64,
    pub cursor: Option<Value>,
    pub waiting: Option<Value>,
    pub last_gap: Option<Value>,
}

/// Read field by field (see [`Columns`]); the counts are 0 when missing.
impl<'de> Deserialize<'de> for PollStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read_with(d, |mut c| {
            Ok(PollStatus {
                last_poll_at: c.opt_text("last_poll_at")?,
                last_success_at: c.opt_text("last_success_at")?,
                last_poll_error: c.opt_text("last_poll_error")?,
                consecutive_failures: c.uint_or_zero("consecutive_failures")?,
                next_poll_at: c.opt_text("next_poll_at")?,
                runs_created: c.uint_or_zero("runs_created")?,
                cursor: c.opt_value("cursor"),
                waiting: c.opt_value("waiting"),
                last_gap: c.opt_value("last_gap"),
            })
        })
    }
}

/// What one poll (or a series of batches polled in one go) reports.
#[derive(Debug, Clone, Default)]
pub struct PollReport {
    /// When the poll ended (RFC 3339).
    pub at: String,
    /// `None` = success.
    pub error: Option<String>,
    pub consecutive_failures: u32,
    pub next_poll_at: String,
    pub runs_created: usize,
    /// `None` = unchanged.
    pub cursor: Option<Value>,
    /// The transaction holding rows back; on a success `None` clears it, a failed poll keeps
    /// what was shown.
    pub waiting: Option<Value>,
    /// A gap this poll could not rule out; `None` = the last one stays shown.
    pub gap: Option<Value>,
    /// An HTTP poll that read its walk over the pages to the end: a `max_pages` gap shown
    /// before it is caught up now (`last_gap.caught_up_at`).
    pub walk_ended: bool,
}

impl PollStatus {
    /// The status after `report`.
    pub fn apply(&mut self, report: PollReport) {
        let ok = report.error.is_none();
        self.last_poll_at = Some(report.at.clone());
        if ok {
            self.last_success_at = Some(report.at);
            self.waiting = report.waiting;
        }
        self.last_poll_error = report.error;
        self.consecutive_failures = report.consecutive_failures;
        self.next_poll_at = Some(report.next_poll_at);
        self.runs_created = self.runs_created.saturating_add(report.runs_created as u64);
        if report.cursor.is_some() {
            self.cursor = report.cursor;
        }
        if report.gap.is_some() {
            self.last_gap = report.gap;
        } else if ok && report.walk_ended {
            // The pages a `max_pages` gap left for later have now been read: it is caught up.
            // An `all_new` gap never is (what came and went between two polls is unknown).
            if let Some(gap) = self.last_gap.as_mut().and_then(Value::as_object_mut) {
                if gap.get("kind").and_then(Value::as_str) == Some("max_pages")
                    && gap.get("caught_up_at").is_none_or(Value::is_null)
                {
                    gap.insert(
                        "caught_up_at".into(),
                        Value::String(self.last_poll_at.clone().unwrap_or_default()),
                    );
                }
            }
        }
    }

    /// The API shape (`poll` in a workflow resource); the default is what a poll workflow
    /// shows before its first poll.
    pub fn to_json(&self) -> Value {
        json!({
            "last_poll_at": self.last_poll_at,
            "last_success_at": self.last_success_at,
            "last_poll_error": self.last_poll_error,
            "consecutive_failures": self.consecutive_failures,
            "next_poll_at": self.next_poll_at,
            "runs_created": self.runs_created,
            "cursor": self.cursor,
            "waiting": self.waiting,
            "last_gap": self.last_gap,
        })
    }
}

#[cfg(test)]
mod tests;
