//! Percent-encoding of URL components (RFC 3986): one encoder for query parameters built by
//! http steps, poll pages and cursor placeholders, and the CLI; and the one form decoder, for
//! form bodies and the query strings that must be read exactly.

/// Percent-encodes everything but the unreserved characters `A-Z a-z 0-9 - . _ ~` (UTF-8 bytes).
pub fn encode(s: &str) -> String {
    escape(s, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
    })
}

/// Percent-encodes every byte outside ASCII (UTF-8 bytes) and leaves the rest as it is: a URL
/// written with Unicode characters made one that a header can carry, as a browser sends it.
pub fn encode_non_ascii(s: &str) -> String {
    escape(s, |b| b.is_ascii())
}

/// `s` as a URL parser writes it when it stands in a URL's query (`in_query`) or path: only
/// controls, space, `"`, `<`, `>`, bytes outside ASCII and, in a query, `'`, in a path `` ` ``,
/// `{`, `}` are percent-encoded (the WHATWG URL standard's sets for http and https), so a
/// value rendered into a URL as written is sent in this form.
pub fn encode_as_url_parser(s: &str, in_query: bool) -> String {
    escape_in_url(s, in_query, b"")
}

/// Form decoding (WHATWG urlencoded): `+` is a space, `%XX` a byte, and a `%` not followed
/// by two hex digits stays literal.
pub fn decode_form(input: &[u8]) -> Vec<u8> {
    decode_with(input, true)
}

/// Percent-decoding of a URL component: `%XX` is a byte, everything else (`+`, a `%` not
/// followed by two hex digits) stays as it is.
pub fn decode(input: &[u8]) -> Vec<u8> {
    decode_with(input, false)
}

fn decode_with(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let hi = input.get(i + 1).and_then(|h| super::hex::digit(*h));
                let lo = input.get(i + 2).and_then(|l| super::hex::digit(*l));
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            other => out.push(other),
        }
        i += 1;
    }
    out
}

/// A query string's `name=value` pairs in order, decoded as a form is ([`decode_form`]).
/// `Err(name)`: the first pair whose name or value is not UTF-8 once decoded (its name as far
/// as it reads), which a lenient decoder would silently change (U+FFFD).
pub fn decode_query(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = String::from_utf8(decode_form(name.as_bytes()))
            .map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())?;
        let value = String::from_utf8(decode_form(value.as_bytes())).map_err(|_| name.clone())?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// `s` as data placed in a URL's path or query (`in_query`): what the URL parser encodes
/// ([`encode_as_url_parser`]), and also `%`, `?`, `#`, `\` and `;`, in a query `&` and `+` too,
/// so that the value cannot change the URL's shape (end its path, add a parameter; `..;` is a
/// parent segment to some servers, `;` a parameter separator to some query parsers).
pub fn encode_url_data(s: &str, in_query: bool) -> String {
    let also: &[u8] = if in_query { b"%?#\\;&+" } else { b"%?#\\;" };
    escape_in_url(s, in_query, also)
}

/// `s` encoded as the URL parser does in a query or a path, with the bytes of `also` too.
fn escape_in_url(s: &str, in_query: bool, also: &[u8]) -> String {
    let parser: &[u8] = if in_query { b"\"<>'" } else { b"\"<>`{}" };
    escape(s, |b| {
        b > b' ' && b < 0x7f && !parser.contains(&b) && !also.contains(&b)
    })
}

/// `s` with every byte that `keep` refuses written `%XX`.
fn escape(s: &str, keep: impl Fn(u8) -> bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0x0f) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{decode, decode_form, decode_query, encode, encode_non_ascii};

    #[test]
    fn decodes_escapes_to_the_last_byte_and_plus_only_in_a_form() {
        assert_eq!(decode(b"a+b%5F%4b"), b"a+b_K");
        assert_eq!(decode_form(b"a+b%5F%4b"), b"a b_K");
        assert_eq!(decode(b"%%4%G1%4"), b"%%4%G1%4");
        assert_eq!(decode(b"%C3%BC"), "\u{fc}".as_bytes());
    }

    #[test]
    fn a_query_decodes_as_a_form_and_refuses_what_is_not_utf8() {
        assert_eq!(
            decode_query("a=1+2&b=%C3%A9&&c&d=50%&e=x%3Dy").unwrap(),
            [
                ("a".into(), "1 2".into()),
                ("b".into(), "é".into()),
                ("c".into(), String::new()),
                ("d".into(), "50%".into()),
                ("e".into(), "x=y".into()),
            ]
        );
        assert_eq!(
            decode_query("ok=1&redirect=https://a/%FF"),
            Err("redirect".into())
        );
        assert_eq!(decode_query("x%FF=1"), Err("x\u{fffd}".into()));
    }

    #[test]
    fn encodes_as_a_url_parser_does_in_a_query_or_a_path() {
        use super::encode_as_url_parser;
        assert_eq!(
            encode_as_url_parser("q sec\\ret'\"`{é", true),
            "q%20sec\\ret%27%22`{%C3%A9"
        );
        assert_eq!(
            encode_as_url_parser("q sec\\ret'\"`{é", false),
            "q%20sec\\ret'%22%60%7B%C3%A9"
        );
        assert_eq!(
            encode_as_url_parser("plain-Token_1.~", true),
            "plain-Token_1.~"
        );
    }

    #[test]
    fn encodes_only_what_is_outside_ascii() {
        assert_eq!(
            encode_non_ascii("https://a.example/caf\u{e9}/\u{20ac}?q=a%20b&x=\u{1f600}#f"),
            "https://a.example/caf%C3%A9/%E2%82%AC?q=a%20b&x=%F0%9F%98%80#f"
        );
        assert_eq!(encode_non_ascii(""), "");
    }

    #[test]
    fn keeps_unreserved_and_encodes_the_rest_as_utf8() {
        assert_eq!(encode("a b/é~-._"), "a%20b%2F%C3%A9~-._");
        assert_eq!(encode(""), "");
    }
}
