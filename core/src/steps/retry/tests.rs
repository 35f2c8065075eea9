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
    // The obsolete forms: a two-digit year in this century, and what is not one of them.
    assert_eq!(
        retry_after_ms("Saturday, 01-Jan-00 00:00:10 GMT", 946_684_800),
        Some(10_000)
    );
    for bad in [
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06-Nov 08:49:37 GMT",
        "Sunday 06-Nov-94 08:49:37 GMT",
        "\u{e9}, 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37",
        "Mon Nov  6 08:49:37 1994",
    ] {
        assert_eq!(retry_after_ms(bad, now), None, "{bad}");
    }
}

/// The reading of the obsolete HTTP dates before they were rewritten as RFC 2822 (chrono's
/// strftime parser): the reference for the differential test below.
fn obsolete_date_with_strftime(s: &str) -> Option<i64> {
    use chrono::NaiveDateTime;
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%A, %d-%b-%y %H:%M:%S GMT") {
        return Some(dt.and_utc().timestamp());
    }
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    NaiveDateTime::parse_from_str(&collapsed, "%a %b %e %H:%M:%S %Y")
        .ok()
        .map(|dt| dt.and_utc().timestamp())
}

proptest::proptest! {
    /// RFC 850 and asctime dates read as chrono's strftime parser read them, for every date its
    /// two-digit years reach (1970–2069).
    #[test]
    fn obsolete_http_dates_read_as_with_chrono_s_strftime_parser(t in 0i64..3_155_760_000) {
        let dt = chrono::DateTime::from_timestamp(t, 0).unwrap();
        let rfc850 = dt.format("%A, %d-%b-%y %H:%M:%S GMT").to_string();
        let asctime = dt.format("%a %b %e %H:%M:%S %Y").to_string();
        for text in [rfc850, asctime] {
            proptest::prop_assert_eq!(parse_http_date(&text), Some(t), "{}", text);
            proptest::prop_assert_eq!(obsolete_date_with_strftime(&text), Some(t), "{}", text);
        }
    }
}

#[test]
fn a_step_takes_at_most_five_minutes_in_all() {
    // The defaults: 4 attempts of 10 s and 3 waits of at most 60 s.
    assert_eq!(step_worst_case_ms(10_000, 3), 220_000);
    assert_eq!(step_worst_case_ms(55_000, 0), 55_000);
    // The largest settings would take 20 minutes: capped.
    assert_eq!(step_worst_case_ms(55_000, 10), MAX_STEP_MS);
    assert!(retry_fits(0, 60_000, 55_000));
    assert!(retry_fits(MAX_STEP_MS - 65_000, 10_000, 55_000));
    assert!(!retry_fits(MAX_STEP_MS - 65_000, 10_001, 55_000));
    assert!(!retry_fits(u64::MAX, 1, 1));
}
