use super::*;
use proptest::prelude::*;
use serde_json::json;

fn ok(ct: Option<&str>, raw: &[u8]) -> ParsedBody {
    match parse_body(ct, raw) {
        Ok(p) => p,
        Err(e) => panic!("expected Ok for {ct:?}, got {e}"),
    }
}

fn err(ct: Option<&str>, raw: &[u8]) -> BodyError {
    match parse_body(ct, raw) {
        Ok(p) => panic!("expected an error for {ct:?}, got {p:?}"),
        Err(e) => e,
    }
}

// --- JSON -----------------------------------------------------------------------

#[test]
fn json_and_plus_json_with_parameters() {
    let p = ok(Some("application/json"), br#"{"email":"a@b.c","n":[1,2]}"#);
    assert_eq!(p.kind, BodyKind::Json);
    assert_eq!(p.value, json!({"email": "a@b.c", "n": [1, 2]}));

    let p = ok(
        Some("Application/Vnd.Api+JSON; charset=UTF-8"),
        br#"{"data":null}"#,
    );
    assert_eq!((p.kind, p.value), (BodyKind::Json, json!({"data": null})));

    let p = ok(Some("application/cloudevents+json"), b"[1]");
    assert_eq!(p.value, json!([1]));
}

#[test]
fn json_skips_byte_order_mark() {
    let p = ok(Some("application/json"), b"\xEF\xBB\xBF{\"a\":1}");
    assert_eq!(p.value, json!({"a": 1}));
}

#[test]
fn json_error_names_line_and_column() {
    let e = err(Some("application/json"), b"{\n  \"a\": 1,\n  \"b\": }");
    match &e {
        BodyError::InvalidJson { line, column, .. } => assert_eq!((*line, *column), (3, 8)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(e.location(), "body");
    assert!(!e.is_unsupported());
    assert_eq!(
        e.to_string(),
        "invalid JSON at line 3, column 8: expected value"
    );
}

#[test]
fn json_with_half_a_surrogate_pair_is_kept_with_a_replacement_character() {
    // A JavaScript string cut inside an emoji, with and without a Content-Type.
    for ct in [Some("application/json"), None] {
        let p = ok(
            ct,
            br#"{"text":"hi \ud83d","whole":"\ud83d\ude00","end":"\udE00 x"}"#,
        );
        assert_eq!(p.kind, BodyKind::Json, "{ct:?}");
        assert_eq!(
            p.value,
            json!({"text": "hi \u{FFFD}", "whole": "\u{1F600}", "end": "\u{FFFD} x"})
        );
    }
    // Positions of a later error are those of the text as sent.
    match err(Some("application/json"), b"{\"a\":\"\\ud83d\",\n \"b\": }") {
        BodyError::InvalidJson { line, column, .. } => assert_eq!((line, column), (2, 7)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn json_trailing_garbage_is_an_error() {
    let e = err(Some("application/json"), b"{} x");
    assert!(
        e.to_string()
            .starts_with("invalid JSON at line 1, column 4"),
        "{e}"
    );
}

#[test]
fn json_deeply_nested_is_an_error_not_a_stack_overflow() {
    let deep = "[".repeat(100_000);
    let e = err(Some("application/json"), deep.as_bytes());
    assert!(matches!(e, BodyError::OverBudget(_)), "{e:?}");
    assert_eq!(e.status(), 400);
}

#[test]
fn json_over_the_budget_without_a_content_type_is_refused_not_taken_as_text() {
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    let e = err(None, deep.as_bytes());
    assert!(matches!(e, BodyError::OverBudget(_)), "{e:?}");
    let many = format!("[{}1]", "1,".repeat(250_000));
    let e = err(None, format!("  \n{many}").as_bytes());
    assert!(matches!(e, BodyError::OverBudget(_)), "{e:?}");
    // Text that does not begin as JSON stays text, commas and all.
    let csv = "1,".repeat(250_000);
    let p = ok(None, csv.as_bytes());
    assert_eq!(p.kind, BodyKind::Text);
}

// --- urlencoded -----------------------------------------------------------------

#[test]
fn form_decodes_plus_percent_and_repeats() {
    let p = ok(
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        b"name=Ada+Lovelace&city=Z%C3%BCrich&tag=a&tag=b&tag=c&empty=&flag&&x%5B%5D=1",
    );
    assert_eq!(p.kind, BodyKind::Form);
    assert_eq!(
        p.value,
        json!({
            "name": "Ada Lovelace",
            "city": "Zürich",
            "tag": ["a", "b", "c"],
            "empty": "",
            "flag": "",
            "x[]": "1"
        })
    );
}

#[test]
fn form_keeps_bad_percent_sequences_literally() {
    let p = ok(
        Some("application/x-www-form-urlencoded"),
        b"a=100%&b=%zz&c=%4&d=a=b",
    );
    assert_eq!(
        p.value,
        json!({"a": "100%", "b": "%zz", "c": "%4", "d": "a=b"})
    );
}

#[test]
fn form_rejects_invalid_utf8() {
    let e = err(Some("application/x-www-form-urlencoded"), b"name=%FF%FE");
    assert_eq!(
        e.to_string(),
        "form field `name` has a value that is not valid UTF-8 after percent-decoding"
    );
    let e = err(Some("application/x-www-form-urlencoded"), b"ok=1&%C3=x");
    assert_eq!(
        e.to_string(),
        "form field #2 has a name that is not valid UTF-8 after percent-decoding"
    );
}

/// A form becomes one value per field: past the JSON budget's count it is a 413, not parsed.
#[test]
fn form_with_more_fields_than_the_budget_is_413() {
    let limit = crate::kernel::json_budget::MAX_VALUES;
    let ct = Some("application/x-www-form-urlencoded");
    let at_limit = "a=&".repeat(limit);
    assert!(parse_body(ct, at_limit.as_bytes()).is_ok());
    let e = err(ct, format!("{at_limit}b=1").as_bytes());
    assert_eq!(e.status(), 413);
    assert_eq!(e.location(), "body");
    assert_eq!(
        e.to_string(),
        format!(
            "the form has more than {limit} values (a field counts one, a file part 4); \
             send fewer per request"
        )
    );
    // Empty pairs (`&&`) are not fields.
    assert!(parse_body(ct, format!("{at_limit}&&&").as_bytes()).is_ok());
}

/// A multipart form is held to the same budget: a text field counts one value, a file part four
/// (its object and three members), so tiny file parts cannot build more values than JSON may.
#[test]
fn multipart_with_more_values_than_the_budget_is_413() {
    let limit = crate::kernel::json_budget::MAX_VALUES;
    let text = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n";
    let file = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n\r\n";
    let body = |texts: usize, files: usize| {
        format!("{}{}--XyZ--\r\n", text.repeat(texts), file.repeat(files))
    };
    let expected = format!(
        "the form has more than {limit} values (a field counts one, a file part 4); \
         send fewer per request"
    );
    assert!(parse_body(Some(MP), body(limit, 0).as_bytes()).is_ok());
    let e = err(Some(MP), body(limit + 1, 0).as_bytes());
    assert_eq!((e.status(), e.location()), (413, "body"));
    assert_eq!(e.to_string(), expected);
    // 50 000 file parts are 200 000 values: at the limit; one more text field is over it.
    let files = limit / 4;
    let ok = parse_body(Some(MP), body(0, files).as_bytes()).unwrap();
    assert_eq!(ok.value["f"].as_array().map(Vec::len), Some(files));
    assert_eq!(err(Some(MP), body(1, files).as_bytes()).status(), 413);
    let e = err(Some(MP), body(0, files + 1).as_bytes());
    assert_eq!((e.status(), e.to_string()), (413, expected));
}

// --- multipart ------------------------------------------------------------------

const MP: &str = "multipart/form-data; boundary=XyZ";

#[test]
fn multipart_text_fields_files_and_repeats() {
    let body = b"preamble to ignore\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"email\"\r\n\
\r\n\
ada@example.com\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"tag\"\r\n\
\r\n\
a\r\n\
--XyZ\r\n\
content-disposition: form-data; name=\"tag\"\r\n\
\r\n\
b\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"doc\"; filename=\"report.pdf\"\r\n\
Content-Type: application/pdf\r\n\
\r\n\
%PDF-\x00\xFF\xFE\r\n--Xy not a boundary\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"note\"\r\n\
\r\n\
line 1\r\nline 2\r\n\
--XyZ--\r\n\
epilogue";
    let p = ok(Some(MP), body);
    assert_eq!(p.kind, BodyKind::Multipart);
    assert_eq!(
        p.value,
        json!({
            "email": "ada@example.com",
            "tag": ["a", "b"],
            "doc": {"filename": "report.pdf", "content_type": "application/pdf", "size": 29},
            "note": "line 1\r\nline 2"
        })
    );
}

#[test]
fn multipart_quoted_boundary_and_lf_only_lines() {
    let ct = "multipart/form-data; charset=utf-8; boundary=\"----=_Part 7\"";
    let body = b"------=_Part 7\n\
Content-Disposition: form-data; name=a\n\
\n\
1\n\
------=_Part 7\n\
Content-Disposition: form-data; name=\"up\"; filename=\"C:\\dir\\x.txt\"\n\
\n\
hello\n\
------=_Part 7--";
    let p = ok(Some(ct), body);
    assert_eq!(
        p.value,
        json!({
            "a": "1",
            "up": {"filename": "C:\\dir\\x.txt", "content_type": "application/octet-stream", "size": 5}
        })
    );
}

#[test]
fn multipart_empty_values_and_extended_filename() {
    let body = b"--XyZ\r\n\
Content-Disposition: form-data; name=\"empty\"\r\n\
\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"nofile\"; filename=\"\"\r\n\
Content-Type: application/octet-stream\r\n\
\r\n\
\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"euro\"; filename=\"e.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\
Content-Type: text/plain\r\n\
\r\n\
1.08\r\n\
--XyZ--";
    let p = ok(Some(MP), body);
    assert_eq!(
        p.value,
        json!({
            "empty": "",
            "nofile": {"filename": "", "content_type": "application/octet-stream", "size": 0},
            "euro": {"filename": "€ rates.txt", "content_type": "text/plain", "size": 4}
        })
    );
}

#[test]
fn multipart_with_no_parts_is_an_empty_object() {
    let p = ok(Some(MP), b"--XyZ--\r\n");
    assert_eq!(p.value, json!({}));
}

#[test]
fn multipart_errors_are_specific() {
    let cases: [(&str, &[u8], &str); 8] = [
        (
            "multipart/form-data",
            b"--x\r\n\r\n--x--",
            "Content-Type multipart/form-data has no `boundary` parameter",
        ),
        (
            MP,
            b"no boundary anywhere",
            "the multipart body has no boundary line `--XyZ`",
        ),
        (
            MP,
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n",
            "part 1 is not followed by a boundary line; the body must end with `--XyZ--`",
        ),
        (
            MP,
            b"--XyZ",
            "the multipart body ends without the closing boundary `--XyZ--`",
        ),
        (
            MP,
            b"--XyZjunk\r\n",
            "boundary line `--XyZ` must be followed by a line break or `--`",
        ),
        (
            MP,
            b"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--",
            "part 1 has no Content-Disposition header; each part needs `Content-Disposition: form-data; name=\"…\"`",
        ),
        (
            MP,
            b"--XyZ\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n--XyZ--",
            "part 1 has no `name` in its Content-Disposition",
        ),
        (
            MP,
            b"--XyZ\r\nContent-Disposition: form-data; name=\"bin\"\r\n\r\n\xFF\r\n--XyZ--",
            "field `bin` (part 1) is not valid UTF-8 (first invalid byte at offset 0); send binary content as a file part with a filename",
        ),
    ];
    for (ct, body, message) in cases {
        let e = err(Some(ct), body);
        assert!(matches!(e, BodyError::InvalidMultipart { .. }), "{e:?}");
        assert_eq!(e.to_string(), message);
        assert_eq!(e.location(), "body");
    }
}

#[test]
fn multipart_rejects_overlong_boundary_and_bad_header_lines() {
    let long = format!("multipart/form-data; boundary={}", "b".repeat(71));
    let e = err(Some(&long), b"x");
    assert_eq!(
        e.to_string(),
        "the multipart boundary must be 1 to 70 characters, got 71"
    );
    let e = err(Some(MP), b"--XyZ\r\nattachment\r\n\r\nx\r\n--XyZ--");
    assert_eq!(
        e.to_string(),
        "part 1 has a header line without `:`: `attachment`"
    );
    let e = err(
        Some(MP),
        b"--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--XyZ--",
    );
    assert_eq!(
        e.to_string(),
        "part 1 has Content-Disposition `attachment`; expected `form-data`"
    );
}

// --- text, empty, sniffing, unsupported -------------------------------------------

#[test]
fn text_types_become_strings() {
    let p = ok(Some("text/plain; charset=utf-8"), "héllo\n".as_bytes());
    assert_eq!((p.kind, p.value), (BodyKind::Text, json!("héllo\n")));
    let p = ok(Some("text/csv"), b"a,b\n1,2");
    assert_eq!(p.value, json!("a,b\n1,2"));
    let e = err(Some("text/plain"), b"ok\xC3(");
    assert_eq!(
        e.to_string(),
        "is not valid UTF-8 (first invalid byte at offset 2): a text body is read as UTF-8, \
         whatever charset its Content-Type names"
    );
}

#[test]
fn empty_body_is_empty_whatever_the_type() {
    for ct in [
        None,
        Some("application/json"),
        Some("multipart/form-data"),
        Some("application/octet-stream"),
    ] {
        let p = ok(ct, b"");
        assert_eq!((p.kind, p.value), (BodyKind::Empty, Value::Null));
    }
}

#[test]
fn no_content_type_sniffs_json_then_text() {
    let p = ok(None, br#"{"a":true}"#);
    assert_eq!((p.kind, p.value), (BodyKind::Json, json!({"a": true})));
    let p = ok(Some("  "), b"plain words");
    assert_eq!((p.kind, p.value), (BodyKind::Text, json!("plain words")));
    let e = err(None, b"\x00\xFF\xFE");
    assert_eq!(e, BodyError::Unsupported { content_type: None });
    assert_eq!(e.location(), "header.content-type");
    assert!(e.to_string().contains("multipart/form-data"));
}

#[test]
fn other_types_are_unsupported_with_the_list() {
    for ct in [
        "application/octet-stream",
        "application/xml",
        "multipart/mixed; boundary=x",
        "image/png",
        "garbage",
        "/json",
        "application/",
        "application/json x",
    ] {
        let e = err(Some(ct), b"<x/>");
        assert!(e.is_unsupported(), "{ct}: {e:?}");
    }
    let e = err(Some("application/xml"), b"<x/>");
    assert_eq!(
        e.to_string(),
        "Content-Type `application/xml` is not supported; send one of: application/json, \
         application/*+json, application/x-www-form-urlencoded, multipart/form-data, text/*"
    );
}

#[test]
fn header_parameters_parse_quotes_and_escapes() {
    let (first, params) =
        split_header_value(r#"form-data; name="a\"b;c"; filename=x.txt ; FLAG; q="\\""#);
    assert_eq!(first, "form-data");
    assert_eq!(
        params,
        vec![
            ("name".to_string(), "a\"b;c".to_string()),
            ("filename".to_string(), "x.txt".to_string()),
            ("flag".to_string(), String::new()),
            ("q".to_string(), "\\".to_string()),
        ]
    );
    let (_, params) = split_header_value("a; b=\"unterminated");
    assert_eq!(params, vec![("b".to_string(), "unterminated".to_string())]);
}

#[test]
fn truncate_respects_char_boundaries() {
    assert_eq!(truncate("ééé", 2), "éé…");
    assert_eq!(truncate("ab", 5), "ab");
}

// --- never panic ----------------------------------------------------------------

const CONTENT_TYPES: [Option<&str>; 10] = [
    None,
    Some("application/json"),
    Some("application/ld+json"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=XyZ"),
    Some("multipart/form-data; boundary=\"a b\""),
    Some("multipart/form-data"),
    Some("text/plain"),
    Some("application/octet-stream"),
    Some("garbage;;;=\"\\"),
];

proptest! {
    #[test]
    fn never_panics_on_random_bytes(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
        for ct in CONTENT_TYPES {
            let _ = parse_body(ct, &raw);
        }
    }

    #[test]
    fn never_panics_on_random_content_types(ct in ".{0,80}", raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_body(Some(&ct), &raw);
    }

    #[test]
    fn never_panics_on_multipart_like_input(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just(b"--XyZ".to_vec()),
                Just(b"--XyZ--".to_vec()),
                Just(b"\r\n".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"Content-Disposition: form-data; name=\"f\"".to_vec()),
                Just(b"; filename=\"x\"".to_vec()),
                Just(b"Content-Type: text/plain".to_vec()),
                Just(b"\r\n\r\n".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..8),
            ],
            0..24,
        )
    ) {
        let raw = pieces.concat();
        let _ = parse_body(Some("multipart/form-data; boundary=XyZ"), &raw);
    }

    #[test]
    fn form_values_round_trip(values in proptest::collection::vec("[^\u{0}]{0,12}", 1..5)) {
        let raw: String = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("k{i}={}", encode_form(v)))
            .collect::<Vec<_>>()
            .join("&");
        let p = parse_body(Some("application/x-www-form-urlencoded"), raw.as_bytes()).unwrap();
        for (i, v) in values.iter().enumerate() {
            prop_assert_eq!(&p.value[format!("k{i}")], &json!(v));
        }
    }
}

proptest! {
    #[test]
    fn multipart_fields_round_trip(
        values in proptest::collection::vec("[a-zA-Z0-9 \r\n:;=\"é]{0,30}", 0..6),
        lf_only in any::<bool>(),
    ) {
        // With bare-LF line ends a value ending in CR is ambiguous (read as CRLF).
        let values: Vec<String> = values
            .into_iter()
            .map(|v| if lf_only && v.ends_with('\r') { v + "." } else { v })
            .collect();
        let nl = if lf_only { "\n" } else { "\r\n" };
        let mut raw = String::new();
        for (i, v) in values.iter().enumerate() {
            raw.push_str(&format!(
                "--XyZ{nl}Content-Disposition: form-data; name=\"f{i}\"{nl}{nl}{v}{nl}"
            ));
        }
        raw.push_str("--XyZ--");
        let p = parse_body(Some(MP), raw.as_bytes()).unwrap();
        prop_assert_eq!(p.value.as_object().map(|o| o.len()), Some(values.len()));
        for (i, v) in values.iter().enumerate() {
            prop_assert_eq!(&p.value[format!("f{i}")], &json!(v));
        }
    }
}

#[test]
fn multipart_part_without_anything_is_an_error() {
    let e = err(Some(MP), b"--XyZ\r\n--XyZ--");
    assert_eq!(
        e.to_string(),
        "part 1 is empty; each part needs `Content-Disposition: form-data; name=\"…\"`"
    );
}

/// Independent urlencoder for the round-trip property.
fn encode_form(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A JSON body over the parsing budget is refused before it is parsed: 413 for too many values,
/// 400 for nesting too deep, at `body`.
#[test]
fn json_bodies_are_parsed_within_a_budget() {
    let mut big = b"[".to_vec();
    big.extend(std::iter::repeat_n(&b"1,"[..], 250_000).flatten());
    big.extend_from_slice(b"1]");
    let e = parse_body(Some("application/json"), &big).unwrap_err();
    assert_eq!(e.status(), 413, "{e}");
    assert_eq!(e.location(), "body");
    assert!(e.to_string().contains("200000 values"), "{e}");
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let e = parse_body(Some("application/json"), deep.as_bytes()).unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    assert!(e.to_string().contains("nested"), "{e}");
}

#[test]
fn text_that_grows_past_the_bound_as_json_is_refused_before_a_run_is_built() {
    // 3 MiB of control characters: 18 MiB as JSON.
    let controls = vec![1u8; 3 * 1024 * 1024];
    for ct in [Some("text/plain"), None] {
        let e = parse_body(ct, &controls).unwrap_err();
        assert_eq!(e.status(), 413, "{ct:?}");
        assert_eq!(e.location(), "body");
        assert!(e.to_string().contains("written as JSON"), "{e}");
        assert!(matches!(e, BodyError::TooLargeAsJson { bytes } if bytes == 18 * 1024 * 1024 + 2));
    }
    // The same in a form value (%01 is one character).
    let form = format!("note={}", "%01".repeat(2_200_000));
    let e = parse_body(Some("application/x-www-form-urlencoded"), form.as_bytes()).unwrap_err();
    assert_eq!(e.status(), 413);
    // Counted as decoded: 1.6 million `%01` are 4.8 MB sent and 9.6 MB as JSON.
    let form = format!("note={}", "%01".repeat(1_600_000));
    assert!(parse_body(Some("application/x-www-form-urlencoded"), form.as_bytes()).is_ok());
    // Ten MiB of plain text, or of JSON with escapes already written out, pass.
    let plain = vec![b'a'; 10 * 1024 * 1024];
    assert!(parse_body(Some("text/plain"), &plain).is_ok());
    let json = format!("\"{}\"", "\\u0001".repeat(1_700_000));
    assert!(parse_body(Some("application/json"), json.as_bytes()).is_ok());
}

#[test]
fn a_compressed_body_is_refused_at_its_encoding() {
    let gz = [0x1f_u8, 0x8b, 8, 0];
    let e = refuse_encoded(Some("gzip"), &gz).unwrap_err();
    assert_eq!((e.status(), e.location()), (415, "header.content-encoding"));
    assert!(e.to_string().contains("`gzip` is not decoded"), "{e}");
    assert!(refuse_encoded(Some(" br "), b"{}").is_err());
    assert!(refuse_encoded(Some("identity, GZIP"), b"{}").is_err());
    // Nothing compressed: no header, `identity`, a charset put there by mistake, or no body.
    assert!(refuse_encoded(None, b"{}").is_ok());
    assert!(refuse_encoded(Some("Identity"), b"{}").is_ok());
    assert!(refuse_encoded(Some("UTF-8"), b"{}").is_ok());
    assert!(refuse_encoded(Some(""), b"{}").is_ok());
    assert!(refuse_encoded(Some("gzip"), b"").is_ok());
}
