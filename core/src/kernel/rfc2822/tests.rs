use super::*;
use chrono::{DateTime, FixedOffset};

/// What chrono's RFC 2822 reader makes of `s`: the instant, its fraction and the offset.
fn chrono_reads(s: &str) -> Option<(i64, u32, i32)> {
    DateTime::parse_from_rfc2822(s).ok().map(parts)
}

fn parts(t: DateTime<FixedOffset>) -> (i64, u32, i32) {
    (
        t.timestamp(),
        t.timestamp_subsec_nanos(),
        t.offset().local_minus_utc(),
    )
}

fn reads(s: &str) -> Option<(i64, u32, i32)> {
    parse_rfc2822(s).map(parts)
}

#[test]
fn reads_the_usual_forms() {
    // RFC 9110's IMF-fixdate, as `Retry-After` and `Date` send it.
    let t = parse_rfc2822("Sun, 06 Nov 1994 08:49:37 GMT").expect("an IMF-fixdate");
    assert_eq!(t.timestamp(), 784_111_777);
    assert_eq!(
        reads("Tue, 1 Jul 2003 10:52:37 +0200"),
        Some((1_057_049_557, 0, 7200))
    );
    assert_eq!(
        reads("1 jul 2003 10:52 -0130"),
        Some((1_057_062_120, 0, -5400))
    );
    // Two-digit years: up to 49 in this century, from 50 in the last; three digits from 1900.
    assert_eq!(reads("1 Jan 49 00:00 GMT"), reads("1 Jan 2049 00:00 GMT"));
    assert_eq!(reads("1 Jan 50 00:00 GMT"), reads("1 Jan 1950 00:00 GMT"));
    assert_eq!(reads("1 Jan 112 00:00 GMT"), reads("1 Jan 2012 00:00 GMT"));
    // Named zones, comments, a leap second.
    assert_eq!(reads("1 Jan 2020 00:00 EST").map(|p| p.2), Some(-5 * 3600));
    assert_eq!(
        reads("1 Jan 2020 00:00 +0000 (UTC) (a (nested) \\) one)"),
        reads("1 Jan 2020 00:00 GMT")
    );
    assert_eq!(
        reads("31 Dec 2016 23:59:60 GMT").map(|p| p.1),
        Some(1_000_000_000)
    );
}

#[test]
fn refuses_what_is_not_a_date() {
    for s in [
        "",
        "Mon, 06 Nov 1994 08:49:37 GMT", // it was a Sunday
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "31 Feb 2024 00:00 GMT",
        "1 Jan 2024 24:00 GMT",
        "1 Jan 2024 00:00 +2400",
        "1 Jan 2024 00:00 +0060",
        "1 Jan 2024 00:00 UTC",
        "1 Jan 2024 00:00 J",
        "1 Jan 2024 00:00 GMT ",
        "1 Jan 2024 00:00 GMT x",
        "1 January 2024 00:00 GMT",
        "2024-01-01T00:00:00Z",
        "1 Jan 99999999999999999999 00:00 GMT",
    ] {
        assert_eq!(reads(s), None, "{s:?}");
        assert_eq!(chrono_reads(s), None, "{s:?} (chrono)");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

    /// Near-dates built from the grammar's parts and their near misses read as chrono reads them.
    #[test]
    fn reads_as_chrono_does(
        s in concat!(
            "[ \t\u{3000}]{0,2}",
            "((Mon|tue|WED|Thu|Fri|Sat|Sun|Thursday|Xyz|Mon ),[ ]?)?",
            "([0-9]{1,3})[ ]{1,2}",
            "(Jan|feb|MAR|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|January|Foo|Jun,)[ \t]{0,2}",
            "(-?[0-9]{1,6}|99999999999999999999)[ ]{0,2}",
            "[0-9]{1,3}[ ]?:[ ]?[0-9]{1,3}([ ]?:[ ]?[0-9]{1,3})?[ ]{0,2}",
            "([+\\-\u{2212}][0-9]{2,5}|[+-][0-9]{2}:[0-9]{2}|GMT|gmt|UT|UTC|Z|z|EST|edt|CST|cdt|MST|mdt|PST|pdt|[a-zA-Z]|EET|é)",
            "([ ]?\\(([a-z ]|\\\\\\)|\\([a-z]\\))*\\)){0,2}",
            "[ x]?",
        )
    ) {
        proptest::prop_assert_eq!(reads(&s), chrono_reads(&s), "{:?}", s);
    }

    /// Any text reads as chrono reads it (nearly always as nothing), and never panics.
    #[test]
    fn any_text_reads_as_chrono_does(s in "\\PC{0,40}") {
        proptest::prop_assert_eq!(reads(&s), chrono_reads(&s), "{:?}", s);
    }
}

proptest::proptest! {
    /// Every date chrono writes in RFC 2822, with its day name, reads back as chrono reads it.
    #[test]
    fn reads_what_chrono_writes(
        secs in -62_135_596_800i64..253_402_300_799,
        offset_minutes in -1439i32..1440,
    ) {
        let zone = FixedOffset::east_opt(offset_minutes * 60).expect("an offset");
        let text = DateTime::from_timestamp(secs, 0).expect("an instant").with_timezone(&zone).to_rfc2822();
        proptest::prop_assert_eq!(reads(&text), Some((secs, 0, offset_minutes * 60)), "{}", text);
        proptest::prop_assert_eq!(reads(&text), chrono_reads(&text), "{}", text);
    }
}
