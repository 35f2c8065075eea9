//! JSON text from other programs can hold a `\uD800`–`\uDFFF` escape without its pair: a
//! JavaScript string cut inside an emoji is serialized that way. `serde_json` refuses the whole
//! document for it; a polled page is made readable by writing each such escape as `\uFFFD` (the
//! replacement character), as a browser's `TextDecoder` shows an unpaired surrogate.

use std::borrow::Cow;

/// `json` with every unpaired surrogate escape written as `\uFFFD`; borrowed when it has none.
pub fn replace_lone_surrogates(json: &[u8]) -> Cow<'_, [u8]> {
    // Backslashes stand only inside strings in JSON, so escapes are found without parsing.
    let mut lone = Vec::new();
    let mut i = 0;
    while i < json.len() {
        if json[i] != b'\\' {
            i += 1;
            continue;
        }
        match escape_at(json, i) {
            Some(Escape::Pair) => i += 12,
            Some(Escape::Lone) => {
                lone.push(i);
                i += 6;
            }
            Some(Escape::Other(len)) => i += len,
            None => break,
        }
    }
    if lone.is_empty() {
        return Cow::Borrowed(json);
    }
    let mut out = Vec::with_capacity(json.len());
    let mut from = 0;
    for at in lone {
        out.extend_from_slice(&json[from..at]);
        out.extend_from_slice(b"\\ufffd");
        from = at + 6;
    }
    out.extend_from_slice(&json[from..]);
    Cow::Owned(out)
}

enum Escape {
    /// A high surrogate escape followed by a low one (12 bytes).
    Pair,
    /// A surrogate escape without its pair (6 bytes).
    Lone,
    /// Any other escape, of this many bytes.
    Other(usize),
}

/// The escape starting with the backslash at `i` (`None`: the text ends inside it).
fn escape_at(json: &[u8], i: usize) -> Option<Escape> {
    if *json.get(i + 1)? != b'u' {
        return Some(Escape::Other(2));
    }
    let Some(unit) = unit_at(json, i) else {
        return Some(Escape::Other(2));
    };
    Some(match unit {
        0xD800..=0xDBFF => match unit_at(json, i + 6) {
            Some(0xDC00..=0xDFFF) => Escape::Pair,
            _ => Escape::Lone,
        },
        0xDC00..=0xDFFF => Escape::Lone,
        _ => Escape::Other(6),
    })
}

/// The code unit of a `\uXXXX` escape at `i`, if one is there.
fn unit_at(json: &[u8], i: usize) -> Option<u16> {
    let escape = json.get(i..i + 6)?;
    if escape[0] != b'\\' || escape[1] != b'u' {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(&escape[2..]).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replaced(text: &str) -> String {
        String::from_utf8(replace_lone_surrogates(text.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn unpaired_surrogates_become_the_replacement_character() {
        let page = r#"[{"id": 1, "name": "cut \ud83d"}, {"id": 2, "name": "\udc00 low"}]"#;
        let fixed = replaced(page);
        assert_eq!(
            fixed,
            r#"[{"id": 1, "name": "cut \ufffd"}, {"id": 2, "name": "\ufffd low"}]"#
        );
        assert!(serde_json::from_str::<serde_json::Value>(page).is_err());
        let v: serde_json::Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(v[0]["name"], "cut \u{fffd}");
        // A high surrogate followed by something other than a low one, and one at the end.
        assert_eq!(replaced(r#""\ud800\u0041""#), r#""\ufffd\u0041""#);
        assert_eq!(replaced(r#""\uD800\uD800""#), r#""\ufffd\ufffd""#);
        assert_eq!(replaced(r#""\ud800"#), r#""\ufffd"#);
    }

    #[test]
    fn everything_else_is_left_as_it_is() {
        for text in [
            r#"{"emoji": "\ud83d\ude00", "upper": "\uD83D\uDE00"}"#,
            r#"{"text": "\\ud800 is written out", "other": "\n\t\"\u00e9"}"#,
            r#"{"half": "\u12"}"#,
            r#"["ends with a backslash \"#,
            "plain, no escapes at all: é ☃",
        ] {
            assert!(
                matches!(replace_lone_surrogates(text.as_bytes()), Cow::Borrowed(_)),
                "{text}"
            );
        }
    }
}
