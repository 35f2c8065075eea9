//! A budget for parsing JSON from outside: before a body is turned into a `serde_json::Value`
//! (which can take 30 times the text's size — a 10 MiB array of small numbers is over 128 MB),
//! one pass over the bytes, without allocating, counts the values and the nesting depth.
//! Parsing only starts when both are within the budget.

use std::fmt;

/// Most nesting (arrays and objects inside each other) accepted.
pub const MAX_DEPTH: usize = 64;
/// Most values (array elements, object members, containers) accepted in one document.
pub const MAX_VALUES: usize = 200_000;

/// Most bytes a workflow definition may take as stored, counted as a JSON string: the form its
/// copies in the workflow's object take, where a value holds at most 2 MB. (A definition written
/// compactly can grow when stored: `1e15` is stored as `1000000000000000.0`.) The Worker refuses
/// a larger one (413); the CLI's `check` reports it before anything is sent.
pub const MAX_STORED_DEFINITION: usize = 1_000_000;

/// Why a definition whose JSON text is `text` is too large to keep (over
/// [`MAX_STORED_DEFINITION`] as stored: quoted, as the objects keep it), or `None`.
pub fn stored_definition_too_large(text: &str) -> Option<String> {
    let stored = serde_json::Value::String(text.to_string())
        .to_string()
        .len();
    (stored > MAX_STORED_DEFINITION).then(|| {
        format!(
            "the definition is {stored} bytes as stored (numbers written out in full, quotes \
             escaped); at most {MAX_STORED_DEFINITION} bytes are kept"
        )
    })
}

/// Why a document is over the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    /// Nested deeper than `limit` (at byte `at`).
    TooDeep { limit: usize, at: usize },
    /// More than `limit` values.
    TooManyValues { limit: usize },
}

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverBudget::TooDeep { limit, at } => write!(
                f,
                "the JSON is nested more than {limit} levels deep (at byte {at}); flatten it"
            ),
            OverBudget::TooManyValues { limit } => write!(
                f,
                "the JSON has more than {limit} values (array elements and object members); \
                 send fewer per request"
            ),
        }
    }
}

impl std::error::Error for OverBudget {}

/// Checks `bytes` against the default budget ([`MAX_DEPTH`], [`MAX_VALUES`]); the values
/// counted.
pub fn check(bytes: &[u8]) -> Result<usize, OverBudget> {
    check_with(bytes, MAX_DEPTH, MAX_VALUES)
}

/// Counts values and depth outside strings; malformed JSON is left for the parser to report.
/// The values counted: each array or object, and each `,` between its members.
pub fn check_with(bytes: &[u8], max_depth: usize, max_values: usize) -> Result<usize, OverBudget> {
    let mut depth = 0usize;
    let mut values = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (at, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                values += 1;
                if depth > max_depth {
                    return Err(OverBudget::TooDeep {
                        limit: max_depth,
                        at,
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => values += 1,
            _ => continue,
        }
        if values > max_values {
            return Err(OverBudget::TooManyValues { limit: max_values });
        }
    }
    Ok(values)
}

/// What [`check`] counts in the text of `value`. Parsed text that counted more wrote a key twice
/// in one object: the parser kept the last value only.
pub fn counted_in(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    let members = |n: usize| 1 + n.saturating_sub(1);
    match value {
        Value::Array(items) => members(items.len()) + items.iter().map(counted_in).sum::<usize>(),
        Value::Object(map) => members(map.len()) + map.values().map(counted_in).sum::<usize>(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_array_of_small_numbers_is_over_the_budget() {
        // 10 MiB of `1,` would be ~5 million values as serde_json::Value.
        let mut big = b"[".to_vec();
        big.extend(std::iter::repeat_n(&b"1,"[..], 300_000).flatten());
        big.extend_from_slice(b"1]");
        assert_eq!(
            check(&big),
            Err(OverBudget::TooManyValues { limit: MAX_VALUES })
        );
        let ok = format!("[{}1]", "1,".repeat(1000));
        assert_eq!(check(ok.as_bytes()), Ok(1001));
    }

    #[test]
    fn deep_nesting_is_over_the_budget_and_strings_do_not_count() {
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(matches!(
            check(deep.as_bytes()),
            Err(OverBudget::TooDeep { limit: 64, .. })
        ));
        let fine = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(check(fine.as_bytes()), Ok(64));
        // Brackets and commas inside strings (with escaped quotes) are text.
        let text = format!("{{\"a\": \"{}\\\" [,,,{{\"}}", "[,".repeat(300_000));
        assert_eq!(check(text.as_bytes()), Ok(1));
    }

    #[test]
    fn a_key_written_twice_counts_more_than_the_parsed_value() {
        let count = |text: &str| {
            let parsed: serde_json::Value = serde_json::from_str(text).unwrap();
            (check(text.as_bytes()).unwrap(), counted_in(&parsed))
        };
        for text in [
            r#"{"name": "a", "trigger": {"type": "endpoint"}, "steps": [1, [], {}, [2, 3]]}"#,
            r#"[]"#,
            r#"{}"#,
            r#""a, [b] {c}""#,
            r#"{"a": "x,y", "b": [{"c": 1}, {"c": 2}]}"#,
        ] {
            let (scanned, parsed) = count(text);
            assert_eq!(scanned, parsed, "{text}");
        }
        let (scanned, parsed) = count(r#"{"name": "a", "steps": [], "name": "b"}"#);
        assert!(scanned > parsed);
        let (scanned, parsed) = count(r#"{"trigger": {"type": "endpoint", "type": "schedule"}}"#);
        assert!(scanned > parsed);
    }
}
