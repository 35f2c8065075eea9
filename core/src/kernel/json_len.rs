//! The length of a value's compact JSON text, counted without writing it: a large value is
//! measured without a copy of its size.

use serde_json::Value;

/// Bytes of `value` written as compact JSON (`serde_json::to_string`), with nothing allocated
/// but a number's digits.
pub fn json_len(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => str_len(s),
        // Brackets and the commas between items.
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(json_len).sum::<usize>()
        }
        Value::Object(map) => {
            2 + map.len().saturating_sub(1)
                + map
                    .iter()
                    .map(|(k, v)| str_len(k) + 1 + json_len(v))
                    .sum::<usize>()
        }
    }
}

/// Bytes of `s` as a JSON string: quoted, with `"`, `\` and control characters escaped as
/// serde_json escapes them (`\n`, else `\u00XX`).
pub fn str_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::{json_len, str_len};
    use serde_json::json;

    #[test]
    fn counts_what_to_string_writes() {
        for v in [
            json!(null),
            json!({"a": [1, 2.5, "x\"y\n\u{e9}"], "b": {"c": true}, "\u{1f600}": ""}),
            json!("line\nbreak and \\ slash \u{1} \u{1f} \u{7f} \u{8}\u{c}\r\t"),
            json!([]),
            json!({}),
            json!([
                false,
                -1.5e300,
                18446744073709551615u64,
                -9223372036854775808i64,
                0.1
            ]),
        ] {
            assert_eq!(json_len(&v), v.to_string().len(), "{v}");
        }
        assert_eq!(str_len("k\"ey"), "\"k\\\"ey\"".len());
    }
}
