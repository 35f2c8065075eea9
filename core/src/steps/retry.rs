//! When and how long to wait before retrying an HTTP step.
//!
//! Choices:
//! - Retried statuses: 408 (request timeout), 429 (too many requests) and 5xx except 501 (not
//!   implemented) and 505 (HTTP version not supported), which fail the same way every time.
//!   Network errors and timeouts are retried by the engine too (not a status, so not here).
//! - Backoff: exponential, 500 ms × 2^(attempt − 1), capped at 30 s, with **equal jitter**: the
//!   delay is uniformly in [half, full] of that value. Full jitter could pick ~0 ms and hammer a
//!   struggling server; equal jitter still spreads clients apart.
//! - `Retry-After` (delta-seconds or an HTTP-date) is honoured as a minimum: the delay is the
//!   larger of it and the backoff, so a server is never retried earlier than it asked, nor faster
//!   than the backoff. It is capped at 60 s: one Worker invocation cannot usefully wait longer;
//!   use [`retry_after_ms`] to see the uncapped value and give up instead.

use crate::kernel::rfc2822::parse_rfc2822;

/// First retry waits about this long.
pub const BASE_DELAY_MS: u64 = 500;
/// The exponential part never exceeds this.
pub const MAX_BACKOFF_MS: u64 = 30_000;
/// A `Retry-After` longer than this is shortened to it.
pub const MAX_RETRY_AFTER_MS: u64 = 60_000;

/// The longest an `http` step may take in all, its attempts and the waits between them: a run
/// executes within one alarm of its shard object, which has 15 minutes of wall time, and a
/// step started before the executor stops claiming must end within them. A retry that could
/// end past it is not made.
pub const MAX_STEP_MS: u64 = 5 * 60_000;

/// The longest a step with this timeout and these retries can take: every attempt timing out,
/// every wait as long as a capped `Retry-After`, and never past [`MAX_STEP_MS`].
pub fn step_worst_case_ms(timeout_ms: u32, retries: u32) -> u64 {
    let attempts = u64::from(timeout_ms) * (u64::from(retries) + 1);
    let waits = u64::from(retries) * MAX_RETRY_AFTER_MS;
    (attempts + waits).min(MAX_STEP_MS)
}

/// Whether another attempt, after waiting `wait_ms`, can still end within [`MAX_STEP_MS`] of
/// the step's start (`elapsed_ms` ago) when it takes its whole `timeout_ms`.
pub fn retry_fits(elapsed_ms: u64, wait_ms: u64, timeout_ms: u32) -> bool {
    elapsed_ms
        .saturating_add(wait_ms)
        .saturating_add(u64::from(timeout_ms))
        <= MAX_STEP_MS
}

/// Whether a response with this status is worth retrying: 408, 429, and 5xx except 501 and 505.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || ((500..=599).contains(&status) && !matches!(status, 501 | 505))
}

/// How long to wait before the next attempt, in milliseconds.
///
/// - `attempt`: how many attempts have failed so far (1 after the first failure; 0 is read as 1).
/// - `jitter`: a random number in `0..1` from the caller (clamped; NaN counts as 0).
/// - `retry_after`: the response's `Retry-After` header, if any (ignored when unparseable).
/// - `now_unix`: the current time in seconds, to read an HTTP-date `Retry-After`.
pub fn backoff_ms(attempt: u32, jitter: f64, retry_after: Option<&str>, now_unix: i64) -> u64 {
    let exponent = attempt.saturating_sub(1).min(16);
    let full = BASE_DELAY_MS
        .saturating_mul(1u64 << exponent)
        .min(MAX_BACKOFF_MS);
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    let half = full / 2;
    // `full - half` ≤ 30 000, so the product is exact enough and cannot overflow.
    let backoff = half + ((full - half) as f64 * jitter).round() as u64;
    match retry_after.and_then(|h| retry_after_ms(h, now_unix)) {
        Some(server) => backoff.max(server.min(MAX_RETRY_AFTER_MS)),
        None => backoff,
    }
}

/// The delay a `Retry-After` header asks for, uncapped, in milliseconds: delta-seconds (`120`) or
/// an HTTP-date (IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, or the obsolete RFC 850 and asctime
/// forms). A date in the past means 0. `None` when the header is neither.
pub fn retry_after_ms(header: &str, now_unix: i64) -> Option<u64> {
    let header = header.trim();
    if !header.is_empty() && header.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 means "a very long time".
        let secs = header.parse::<u64>().unwrap_or(u64::MAX);
        return Some(secs.saturating_mul(1000));
    }
    let at = parse_http_date(header)?;
    let delta = at.saturating_sub(now_unix);
    Some(u64::try_from(delta).unwrap_or(0).saturating_mul(1000))
}

/// An HTTP-date (RFC 9110 §5.6.7) as Unix seconds.
/// The two obsolete forms are rewritten as the first and read by the same parser (no strftime
/// parser is carried for them).
fn parse_http_date(s: &str) -> Option<i64> {
    let imf = |t: &str| parse_rfc2822(t).map(|dt| dt.timestamp());
    if let Some(t) = imf(s) {
        return Some(t);
    }
    match s.split_whitespace().collect::<Vec<_>>().as_slice() {
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        [weekday, date, time, "GMT"] if weekday.ends_with(',') => {
            let [day, month, year] = date.split('-').collect::<Vec<_>>()[..] else {
                return None;
            };
            // A two-digit year: 70–99 are 1970–1999, the rest 2000–2069.
            let year = match year.parse::<i32>().ok().filter(|_| year.len() == 2)? {
                y if y >= 70 => 1900 + y,
                y => 2000 + y,
            };
            imf(&format!(
                "{}, {day} {month} {year} {time} GMT",
                weekday.get(..3)?
            ))
        }
        // asctime: Sun Nov  6 08:49:37 1994
        [weekday, month, day, time, year] => {
            imf(&format!("{weekday}, {day} {month} {year} {time} GMT"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
