//! Instants as they appear in the API: RFC 3339 in UTC with milliseconds.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

/// The last instant RFC 3339 can write (`9999-12-31T23:59:59.999Z`): answers stop there, so
/// that every instant they give can be sent back.
pub const LAST_WRITABLE_MS: i64 = 253_402_300_799_999;
/// The first such instant (`0000-01-01T00:00:00.000Z`).
pub const FIRST_WRITABLE_MS: i64 = -62_167_219_200_000;

/// Whether RFC 3339 can write `ms` in UTC (years 0000 to 9999): what an answer may give back.
pub fn writable(ms: i64) -> bool {
    (FIRST_WRITABLE_MS..=LAST_WRITABLE_MS).contains(&ms)
}

/// `2026-11-27T08:34:00.123Z` for an epoch-millisecond instant.
pub fn iso_millis(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The instant of an epoch-millisecond count.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}

/// Parses an RFC 3339 instant to epoch milliseconds.
pub fn parse_millis(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc).timestamp_millis())
}

/// An RFC 3339 instant given in a query string, also when the `+` of its offset was sent
/// unencoded and so arrived as a space (`2027-03-01T12:00:00 05:00`).
pub fn parse_query_instant(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok().or_else(|| {
        let i = s.len().checked_sub(6)?;
        let plus = s.is_char_boundary(i) && s.as_bytes()[i] == b' ';
        plus.then(|| DateTime::parse_from_rfc3339(&format!("{}+{}", &s[..i], &s[i + 1..])).ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_instant_may_have_lost_the_plus_of_its_offset() {
        let at = |s: &str| parse_query_instant(s).map(|d| d.to_rfc3339());
        assert_eq!(
            at("2027-03-01T12:00:00 05:00").as_deref(),
            Some("2027-03-01T12:00:00+05:00")
        );
        assert_eq!(
            at("2027-03-01T12:00:00-05:00").as_deref(),
            Some("2027-03-01T12:00:00-05:00")
        );
        assert_eq!(
            at("2027-03-01T12:00:00Z").as_deref(),
            Some("2027-03-01T12:00:00+00:00")
        );
        for bad in [
            "2027-03-01T12:00:00 0500",
            "2027-03-01 12:00",
            "tomorrow",
            "",
            " 05:00",
            "é05:00",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        let s = iso_millis(1_795_000_000_123);
        assert_eq!(parse_millis(&s), Some(1_795_000_000_123));
        assert_eq!(parse_millis("nope"), None);
    }
}
