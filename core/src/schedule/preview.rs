//! The next N fire times of a schedule, for people (`GET …/schedule/preview`): each in the
//! workflow's zone with its UTC offset, in UTC, and whether DST affected it.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::Serialize;

use crate::kernel::time::{writable, LAST_WRITABLE_MS};
use crate::schedule::zone::{local_time, offset_seconds};
use crate::schedule::ScheduleTrigger;

/// The most fire times one preview returns; larger counts are clamped to it.
pub const PREVIEW_MAX: usize = 1000;

/// One upcoming fire time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FireTime {
    /// RFC 3339 in the workflow's zone, e.g. `2027-03-28T03:00:00+02:00` (`+00:00`, never `Z`).
    pub at: String,
    /// The same instant in UTC, e.g. `2027-03-28T01:00:00Z`.
    pub utc: String,
    /// True when DST affected this fire: either its intended local time did not exist and it was
    /// moved to the end of the gap (`daily` at 02:30 on a spring-forward night → 03:00), or its
    /// UTC offset differs from the previous fire's (for the first fire: the offset at `after`),
    /// i.e. a DST change lies between them and the time since the previous fire is not the
    /// nominal spacing (wall-clock kinds) or the local clock reading jumped (interval kinds).
    pub dst_shifted: bool,
}

impl ScheduleTrigger {
    /// The first `count` (at most `PREVIEW_MAX`) fire times strictly after `after`.
    pub fn preview(
        &self,
        after: DateTime<Utc>,
        anchor: DateTime<Utc>,
        count: usize,
    ) -> Vec<FireTime> {
        let tz = self.timezone;
        let count = count.min(PREVIEW_MAX);
        let mut out = Vec::with_capacity(count);
        let mut cursor = after;
        let mut previous_offset = offset_seconds(tz, after);
        while out.len() < count {
            let Some(slot) = self.next_slot(cursor, anchor) else {
                break;
            };
            // Formatting needs the local time; stop at the edge of representable time, and past
            // the last year RFC 3339 can write (in UTC or in the zone).
            let Some(local) = tz
                .local(slot.at)
                .filter(|_| local_time(tz, slot.at).is_some())
                .filter(|local| {
                    (0..=9999).contains(&local.year())
                        && slot.at.timestamp_millis() <= LAST_WRITABLE_MS
                })
            else {
                break;
            };
            let offset = offset_seconds(tz, slot.at);
            out.push(FireTime {
                at: local.to_rfc3339_opts(SecondsFormat::Secs, false),
                utc: slot.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                dst_shifted: slot.moved_by_gap || offset != previous_offset,
            });
            previous_offset = offset;
            cursor = slot.at;
        }
        out
    }
}

/// The most fire times `GET …/schedule/preview` returns, and how many without `count`.
pub const API_PREVIEW_MAX: usize = 100;
pub const API_PREVIEW_DEFAULT: usize = 10;

/// A preview's parsed query: how many fire times, and after which instant (`None`: now).
pub type PreviewQuery = (usize, Option<DateTime<Utc>>);

/// The preview's query: `count` (1–100, default 10) and `after` (an RFC 3339 instant, default
/// now). `Err((location, message))` names the parameter at fault.
pub fn parse_preview_query(
    count: Option<&str>,
    after: Option<&str>,
) -> Result<PreviewQuery, (&'static str, String)> {
    let count = match count {
        None => API_PREVIEW_DEFAULT,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n) if (1..=API_PREVIEW_MAX as i64).contains(&n) => n as usize,
            _ => {
                return Err((
                    "query.count",
                    format!("must be a whole number from 1 to {API_PREVIEW_MAX}, got `{text}`"),
                ))
            }
        },
    };
    let after = match after {
        None => None,
        Some(text) => match crate::kernel::time::parse_query_instant(text.trim()) {
            Some(t) if !writable(t.timestamp_millis()) => {
                return Err((
                    "query.after",
                    format!("must be within the years 0000 to 9999 in UTC, got `{text}`"),
                ))
            }
            Some(t) => Some(t.with_timezone(&Utc)),
            None => {
                return Err((
                    "query.after",
                    format!(
                        "must be an RFC 3339 instant such as `2027-03-01T00:00:00Z`, got `{text}`"
                    ),
                ))
            }
        },
    };
    Ok((count, after))
}

#[cfg(test)]
mod tests;
