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

use chrono::{DateTime, NaiveDateTime};

/// First retry waits about this long.
pub const BASE_DELAY_MS: u64 = 500;
/// The exponential part never exceeds this.
pub const MAX_BACKOFF_MS: u64 = 30_000;
/// A `Retry-After` longer than this is shortened to it.
pub const MAX_RETRY_AFTER_MS: u64 = 60_000;

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
fn parse_http_date(s: &str) -> Option<i64> {
    if let Ok(dt) = DateTime::parse_from_rfc2822(s) {
        return Some(dt.timestamp());
    }
    // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%A, %d-%b-%y %H:%M:%S GMT") {
        return Some(dt.and_utc().timestamp());
    }
    // asctime: Sun Nov  6 08:49:37 1994
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    NaiveDateTime::parse_from_str(&collapsed, "%a %b %e %H:%M:%S %Y")
        .ok()
        .map(|dt| dt.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1994-11-06T08:49:37Z
    const DATE: i64 = 784_111_777;

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504, 520, 599] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 301, 400, 401, 404, 409, 422, 501, 505] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn exponential_with_equal_jitter() {
        assert_eq!(backoff_ms(1, 0.0, None, 0), 250);
        assert_eq!(backoff_ms(1, 1.0, None, 0), 500);
        assert_eq!(backoff_ms(0, 1.0, None, 0), 500);
        assert_eq!(backoff_ms(2, 1.0, None, 0), 1000);
        assert_eq!(backoff_ms(3, 0.5, None, 0), 1500);
        assert_eq!(backoff_ms(7, 1.0, None, 0), 30_000);
        assert_eq!(backoff_ms(7, 0.0, None, 0), 15_000);
        assert_eq!(backoff_ms(u32::MAX, 1.0, None, 0), 30_000);
        assert_eq!(backoff_ms(1, f64::NAN, None, 0), 250);
        assert_eq!(backoff_ms(1, -3.0, None, 0), 250);
        assert_eq!(backoff_ms(1, 7.0, None, 0), 500);
    }

    #[test]
    fn bounds_hold_for_every_attempt() {
        for attempt in 0..40 {
            for jitter in [0.0, 0.25, 0.5, 0.99, 1.0] {
                let d = backoff_ms(attempt, jitter, None, 0);
                let full = (BASE_DELAY_MS << attempt.saturating_sub(1).min(16)).min(MAX_BACKOFF_MS);
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d}");
                assert!(d <= MAX_BACKOFF_MS);
            }
        }
    }

    #[test]
    fn retry_after_delta_seconds() {
        assert_eq!(backoff_ms(1, 0.0, Some("5"), 0), 5_000);
        assert_eq!(backoff_ms(1, 0.0, Some(" 0 "), 0), 250); // never faster than the backoff
        assert_eq!(backoff_ms(1, 0.0, Some("3600"), 0), MAX_RETRY_AFTER_MS);
        assert_eq!(
            backoff_ms(1, 0.0, Some("99999999999999999999999"), 0),
            MAX_RETRY_AFTER_MS
        );
        assert_eq!(retry_after_ms("3600", 0), Some(3_600_000));
        assert_eq!(backoff_ms(1, 0.0, Some("-5"), 0), 250);
        assert_eq!(backoff_ms(1, 0.0, Some("soon"), 0), 250);
        assert_eq!(backoff_ms(1, 0.0, Some(""), 0), 250);
    }

    #[test]
    fn retry_after_http_dates() {
        let now = DATE - 10;
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(10_000)
        );
        assert_eq!(
            retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", now),
            Some(10_000)
        );
        assert_eq!(
            retry_after_ms("Sun Nov  6 08:49:37 1994", now),
            Some(10_000)
        );
        assert_eq!(
            backoff_ms(1, 0.0, Some("Sun, 06 Nov 1994 08:49:37 GMT"), now),
            10_000
        );
        // in the past: no extra wait
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", DATE + 100),
            Some(0)
        );
        assert_eq!(
            backoff_ms(2, 1.0, Some("Sun, 06 Nov 1994 08:49:37 GMT"), DATE + 100),
            1_000
        );
        // far future: capped
        assert_eq!(
            backoff_ms(1, 0.0, Some("Sun, 06 Nov 1994 08:49:37 GMT"), DATE - 86_400),
            60_000
        );
        assert_eq!(retry_after_ms("Mon, 99 Foo 1994", now), None);
    }
}
