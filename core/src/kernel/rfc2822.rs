//! RFC 2822 date-times (`Tue, 1 Jul 2003 10:52:37 +0200`): HTTP's dates (`Retry-After`) and
//! many APIs' time stamps. Read exactly as chrono's `DateTime::parse_from_rfc2822` reads them (a
//! differential test checks it), without carrying chrono's general format parser into the Worker
//! for this one form.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone};

/// Parses an RFC 2822 date-time: an optional day name and comma, the day, the month's short name,
/// the year (two digits: 1950–2049; three: from 1900), `HH:MM[:SS]`, and a zone (`±HHMM`, `GMT`,
/// `UT`, `Z`, the North American names, or a military letter read as `+0000`), then comments in
/// parentheses. Names in any case; whitespace between the parts. `None` for anything else, a date
/// that does not exist, or a day name that does not match the date.
pub fn parse_rfc2822(s: &str) -> Option<DateTime<FixedOffset>> {
    let mut s = s.trim_start();
    let mut weekday = None;
    if let Some(day) = named(s, &WEEKDAYS) {
        s = s[3..].strip_prefix(',')?;
        weekday = Some(day);
    }
    let (day, rest) = digits(s.trim_start(), 1, 2)?;
    s = space(rest)?;
    let month = named(s, &MONTHS)? + 1;
    s = space(&s[3..])?;
    let (year, rest) = digits(s, 2, usize::MAX)?;
    let year = match (s.len() - rest.len(), year) {
        (2, 0..=49) => year + 2000,
        (2, _) | (3, _) => year + 1900,
        _ => year,
    };
    let (hour, rest) = digits(space(rest)?, 2, 2)?;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let (minute, mut rest) = digits(rest, 2, 2)?;
    let mut second = 0;
    if let Some(after) = rest.trim_start().strip_prefix(':') {
        (second, rest) = digits(after, 2, 2)?;
    }
    let (offset, mut rest) = zone(space(rest)?)?;
    while let Some(after) = comment(rest) {
        rest = after;
    }
    if !rest.is_empty() || !(0..=23).contains(&hour) || !(0..=59).contains(&minute) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        month as u32,
        u32::try_from(day).ok().filter(|d| (1..=31).contains(d))?,
    )?;
    if weekday.is_some_and(|w| w != date.weekday().num_days_from_monday() as usize) {
        return None;
    }
    // A leap second (`:60`) is the last instant of second 59, as chrono reads it.
    let time = match second {
        60 => NaiveTime::from_hms_nano_opt(hour as u32, minute as u32, 59, 1_000_000_000),
        0..=59 => NaiveTime::from_hms_opt(hour as u32, minute as u32, second as u32),
        _ => None,
    }?;
    FixedOffset::east_opt(offset)?
        .from_local_datetime(&date.and_time(time))
        .single()
}

const WEEKDAYS: [&[u8; 3]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];
const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// The index in `names` of the three letters `s` starts with, in any case.
fn named(s: &str, names: &[&[u8; 3]]) -> Option<usize> {
    let b = s.as_bytes().get(..3)?;
    let lower = [b[0] | 32, b[1] | 32, b[2] | 32];
    names.iter().position(|n| **n == lower)
}

/// At least `min` and at most `max` ASCII digits at the start of `s`, and what follows them.
fn digits(s: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let len = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if len < min {
        return None;
    }
    let mut n: i64 = 0;
    for b in s[..len].bytes() {
        n = n.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some((n, &s[len..]))
}

/// What follows one or more whitespace characters at the start of `s`.
fn space(s: &str) -> Option<&str> {
    let rest = s.trim_start();
    (rest.len() < s.len()).then_some(rest)
}

/// A zone's offset east of UTC in seconds, and what follows it.
fn zone(s: &str) -> Option<(i32, &str)> {
    let letters = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    if letters > 0 {
        let name = s[..letters].to_ascii_lowercase();
        let hours = match name.as_str() {
            "gmt" | "ut" | "z" => 0,
            "edt" => -4,
            "est" | "cdt" => -5,
            "cst" | "mdt" => -6,
            "mst" | "pdt" => -7,
            "pst" => -8,
            // A military zone letter (not `j`): RFC 2822 asks to read it as -0000.
            one if one.len() == 1 && one != "j" => 0,
            _ => return None,
        };
        return Some((hours * 3600, &s[letters..]));
    }
    let negative = match s.as_bytes().first()? {
        b'+' => false,
        b'-' => true,
        _ => return None,
    };
    let b = s.as_bytes().get(1..5)?;
    if !b.iter().all(u8::is_ascii_digit) || b[2] > b'5' {
        return None;
    }
    let n = |i: usize| i32::from(b[i] - b'0');
    let seconds = (n(0) * 10 + n(1)) * 3600 + (n(2) * 10 + n(3)) * 60;
    Some((if negative { -seconds } else { seconds }, &s[5..]))
}

/// What follows a comment in parentheses (nested ones and `\`-escapes inside) after optional
/// whitespace at the start of `s`; `None` when there is none.
fn comment(s: &str) -> Option<&str> {
    let s = s.trim_start().strip_prefix('(')?;
    let mut depth = 1usize;
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate() {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'(') => depth += 1,
            (false, b')') if depth == 1 => return Some(&s[i + 1..]),
            (false, b')') => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
