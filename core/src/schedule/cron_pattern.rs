//! The JSON Schema of a cron expression: exactly the texts `CronSchedule::parse` accepts, so an
//! editor or an API client can tell a valid expression from an invalid one without the parser.
//!
//! Built from the same field ranges and names as the parser: each field is a list (`,`; empty
//! items are skipped, at least one is not) of `*`, a value or a range `a-b` with `a <= b`, each
//! optionally with a step `/n` (1 to the field's maximum). A value is a decimal number in the
//! field's range (leading zeros allowed) or, in month and day-of-week, a name in any case. The
//! one rule across fields, "an expression that never fires", is a `not` pattern.

use serde_json::{json, Value};

use crate::schedule::cron::{Field, DAY_NAMES, FIELDS, MAX_DAYS, MONTH_NAMES};

/// `{"type": "string", "pattern": …, "not": {"pattern": …}}`; `ws` is a character class of the
/// whitespace Rust's `split_whitespace` splits at (without a quantifier), `macros` the macro
/// alternatives.
pub fn cron_expression_schema(ws: &str, macros: &str) -> Value {
    let fields: Vec<String> = FIELDS.iter().map(|&f| list(&element(f))).collect();
    let never = never_fires(ws);
    json!({
        "type": "string",
        "pattern": format!("^{ws}*(?:{macros}|{}){ws}*$", fields.join(&format!("{ws}+"))),
        "not": { "pattern": never },
    })
}

/// A list of `item`s: commas around and between them, at least one item.
fn list(item: &str) -> String {
    format!(",*(?:{item})(?:,+(?:{item}))*,*")
}

/// One list item of field `f`: `*`, a value or a range, with an optional step.
fn element(f: Field) -> String {
    let (min, max) = f.range();
    let ranges: Vec<String> = (min..=max)
        .map(|a| format!("(?:{})-(?:{})", value(f, a, a), value(f, a, max)))
        .collect();
    format!(
        r"(?:\*|{}|{})(?:/{})?",
        value(f, min, max),
        ranges.join("|"),
        number(min.max(1), max)
    )
}

/// A value of field `f` in `lo..=hi`, as a number or a name.
fn value(f: Field, lo: u32, hi: u32) -> String {
    let mut alternatives = vec![number(lo, hi)];
    alternatives.extend(
        names(f)
            .iter()
            .filter(|(_, v)| (lo..=hi).contains(v))
            .map(|(name, _)| any_case(name)),
    );
    alternatives.join("|")
}

/// The names field `f` takes, with their values.
fn names(f: Field) -> Vec<(&'static str, u32)> {
    let list: &[&'static str] = match f {
        Field::Month => &MONTH_NAMES,
        Field::DayOfWeek => &DAY_NAMES,
        _ => &[],
    };
    let first = if f == Field::Month { 1 } else { 0 };
    list.iter().zip(first..).map(|(n, v)| (*n, v)).collect()
}

fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()))
        .collect()
}

/// A decimal number in `lo..=hi` (at most 99), leading zeros allowed.
fn number(lo: u32, hi: u32) -> String {
    numbers(&(lo..=hi).collect::<Vec<_>>())
}

/// A decimal number in `set` (each at most 99), leading zeros allowed.
fn numbers(set: &[u32]) -> String {
    let mut alternatives: Vec<String> = Vec::new();
    let digit = |a: u32, b: u32| {
        if a == b {
            a.to_string()
        } else {
            format!("[{a}-{b}]")
        }
    };
    for tens in 0..=9u32 {
        let units: Vec<u32> = set
            .iter()
            .filter(|v| **v / 10 == tens)
            .map(|v| v % 10)
            .collect();
        // Runs of consecutive units.
        let mut i = 0;
        while i < units.len() {
            let mut j = i;
            while j + 1 < units.len() && units[j + 1] == units[j] + 1 {
                j += 1;
            }
            let run = digit(units[i], units[j]);
            alternatives.push(if tens == 0 {
                run
            } else {
                format!("{tens}{run}")
            });
            i = j + 1;
        }
    }
    format!("0*(?:{})", alternatives.join("|"))
}

/// The expressions the parser refuses because they never fire: day-of-week starts with `*`
/// (so days must match day-of-month and month together) and no chosen month has any chosen
/// day of the month. Exact for expressions whose fields are each valid.
fn never_fires(ws: &str) -> String {
    let word = format!("[^{}]+", ws.trim_start_matches('[').trim_end_matches(']'));
    let mut cases = Vec::new();
    // Every day of the month a month lacks is 30 or 31: day sets within {30, 31} or {31},
    // month sets whose longest month is shorter.
    for days in [&[30u32, 31][..], &[31][..]] {
        let longest_needed = days[0];
        let months: Vec<u32> = (1..=12u32)
            .filter(|&m| MAX_DAYS[m as usize - 1] < longest_needed)
            .collect();
        cases.push(format!(
            "{}{ws}+{}",
            list(&subset_element(Field::DayOfMonth, days)),
            list(&subset_element(Field::Month, &months))
        ));
    }
    format!(
        r"^{ws}*{word}{ws}+{word}{ws}+(?:{}){ws}+\*",
        cases.join("|")
    )
}

/// A list item of field `f` that selects only values in `set`.
fn subset_element(f: Field, set: &[u32]) -> String {
    let (min, max) = f.range();
    let within = |values: &mut dyn Iterator<Item = u32>| {
        for v in values {
            if !set.contains(&v) {
                return false;
            }
        }
        true
    };
    let steps = |from: u32, to: u32| -> Vec<u32> {
        (1..=max)
            .filter(|&s| within(&mut (from..=to).step_by(s as usize)))
            .collect()
    };
    let mut alternatives = Vec::new();
    let mut add = |head: String, bare: bool, steps: Vec<u32>| {
        let step = (!steps.is_empty()).then(|| format!("/{}", numbers(&steps)));
        match (bare, step) {
            (true, Some(step)) => alternatives.push(format!("{head}(?:{step})?")),
            (true, None) => alternatives.push(head),
            (false, Some(step)) => alternatives.push(format!("{head}{step}")),
            (false, None) => {}
        }
    };
    add(r"\*".into(), within(&mut (min..=max)), steps(min, max));
    for a in min..=max {
        add(
            format!("(?:{})", value(f, a, a)),
            set.contains(&a),
            steps(a, max),
        );
        for b in a..=max {
            add(
                format!("(?:{})-(?:{})", value(f, a, a), value(f, b, b)),
                within(&mut (a..=b)),
                steps(a, b),
            );
        }
    }
    alternatives.join("|")
}
