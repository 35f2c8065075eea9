use super::*;

fn secrets(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn sensitive_keys() {
    for key in [
        "Authorization",
        "COOKIE",
        "set-cookie",
        "Proxy-Authorization",
        "access_token",
        "refreshToken",
        "client_secret",
        "Password",
        "x-api-key",
        "api_key",
        "ApiKey",
        "token",
        "x-private-key-id",
        "db_credentials",
        "passwd",
    ] {
        assert!(is_sensitive_key(key), "{key} should be sensitive");
    }
    for key in [
        "email",
        "authorized",
        "cookies_accepted_at",
        "content-type",
        "id",
        "",
        "toke",
        "secre",
    ] {
        assert!(!is_sensitive_key(key), "{key} should not be sensitive");
    }
}

#[test]
fn short_substring_search_matches_str_contains() {
    for (h, n) in [
        ("", "a"),
        ("a", "a"),
        ("ab", "abc"),
        ("xtokeny", "token"),
        ("tokentoken", "token"),
        ("tokex", "token"),
        ("abc", "c"),
    ] {
        assert_eq!(contains_short(h, n), h.contains(n), "{h:?} {n:?}");
    }
}

#[test]
fn redacts_by_key_recursively() {
    let mut v = json!({
        "headers": {"Authorization": "Bearer abc", "Content-Type": "application/json",
                    "Set-Cookie": ["a=1", "b=2"]},
        "body": {"user": {"password": "hunter22", "name": "ann"},
                 "items": [{"api_key": "k1", "sku": "x"}],
                 "credentials": {"user": "u", "pass": "p"}},
        "usage": {"total_tokens": 42, "access_token": 12345},
        "flags": {"password_set": true, "secret": null, "api_key": 99}
    });
    redact(&mut v, &[]);
    assert_eq!(
        v,
        json!({
            "headers": {"Authorization": "[redacted]", "Content-Type": "application/json",
                        "Set-Cookie": "[redacted]"},
            "body": {"user": {"password": "[redacted]", "name": "ann"},
                     "items": [{"api_key": "[redacted]", "sku": "x"}],
                     "credentials": "[redacted]"},
            "usage": {"total_tokens": 42, "access_token": 12345},
            "flags": {"password_set": true, "secret": null, "api_key": "[redacted]"}
        })
    );
}

#[test]
fn scrubs_secret_values_in_any_string() {
    let mut v = json!({
        "url": "https://api.example.com/?key=sk_live_123456",
        "list": ["prefix sk_live_123456 suffix", "nothing here"],
        "short": "abc is too short to scrub",
        "n": 5
    });
    redact(&mut v, &secrets(&["sk_live_123456", "abc", ""]));
    assert_eq!(
        v,
        json!({
            "url": "https://api.example.com/?key=[redacted]",
            "list": ["prefix [redacted] suffix", "nothing here"],
            "short": "abc is too short to scrub",
            "n": 5
        })
    );
}

#[test]
fn longest_secret_wins_and_replacements_are_not_rescanned() {
    let s = scrub_secrets("x-abcdefgh-y", &secrets(&["abcd", "abcdefgh", "dact"]));
    assert_eq!(s, "x-[redacted]-y");
    let s = scrub_secrets("é😀secret😀é", &secrets(&["secret"]));
    assert_eq!(s, "é😀[redacted]😀é");
}

#[test]
fn redacts_urls() {
    assert_eq!(
        redact_url(
            "https://u:pw@api.example.com/v1?access_token=abc&page=2&api%5Fkey=z&api_ke%79=y#frag",
            &[]
        ),
        "https://u:[redacted]@api.example.com/v1?access_token=[redacted]&page=2&api%5Fkey=[redacted]&api_ke%79=[redacted]#frag"
    );
    assert_eq!(
        redact_url(
            "https://example.com/hooks/SECRETPATH",
            &secrets(&["SECRETPATH"])
        ),
        "https://example.com/hooks/[redacted]"
    );
    assert_eq!(redact_url("not a url %", &[]), "not a url %");
    // A secret in a query value is there percent-encoded, as `append_query` writes it.
    let url = crate::steps::http::append_query(
        "https://api.example.com/v1",
        &[("key".into(), "abc+def/ghi=".into())],
    );
    assert_eq!(url, "https://api.example.com/v1?key=abc%2Bdef%2Fghi%3D");
    assert_eq!(
        redact_url(&url, &secrets(&["abc+def/ghi="])),
        "https://api.example.com/v1?key=[redacted]"
    );
}

#[test]
fn truncate_keeps_small_values() {
    let v = json!({"a": [1, 2, 3]});
    assert_eq!(truncate_output(v.clone(), 1024), v);
    // exactly at the cap is kept
    let s = Value::String("x".repeat(8));
    assert_eq!(truncate_output(s.clone(), 10), s);
}

#[test]
fn truncate_replaces_large_values_at_char_boundaries() {
    // 3-byte characters: a cut at 128 bytes would fall inside one
    let text = "€".repeat(1000);
    let out = truncate_output(Value::String(text.clone()), 1024);
    assert_eq!(out["truncated"], json!(true));
    assert_eq!(out["size"], json!(3002));
    let preview = out["preview"].as_str().unwrap_or_default();
    assert_eq!(preview, "€".repeat(42)); // 126 bytes ≤ 1024 / 8
    assert!(serde_json::to_string(&out).unwrap_or_default().len() <= 1024);

    let big = json!({"rows": vec!["\u{0001}😀"; 5000]});
    let out = truncate_output(big, OUTPUT_CAP_BYTES);
    assert_eq!(out["truncated"], json!(true));
    let preview = out["preview"].as_str().unwrap_or_default();
    assert!(preview.starts_with("{\"rows\":[\""));
    assert!(preview.len() <= PREVIEW_MAX_BYTES);
    assert!(serde_json::to_string(&out).unwrap_or_default().len() <= OUTPUT_CAP_BYTES);
}

proptest::proptest! {
    #[test]
    fn truncated_output_fits_the_cap(s in "\\PC{0,3000}", cap in 512usize..4096) {
        let out = truncate_output(Value::String(s), cap);
        let len = serde_json::to_string(&out).unwrap_or_default().len();
        proptest::prop_assert!(len <= cap, "{} > {}", len, cap);
    }

    #[test]
    fn scrubbing_removes_every_secret(a in "\\PC{0,20}", b in "\\PC{0,20}", secret in "[0-9A-Z]{4,12}") {
        let s = format!("{a}{secret}{b}");
        let out = scrub_secrets(&s, std::slice::from_ref(&secret));
        proptest::prop_assert!(!out.contains(&secret));
    }
}

#[test]
fn prefix_never_splits_a_character() {
    let s = "a😀b";
    assert_eq!(prefix_at_char_boundary(s, 0), "");
    assert_eq!(prefix_at_char_boundary(s, 1), "a");
    assert_eq!(prefix_at_char_boundary(s, 2), "a");
    assert_eq!(prefix_at_char_boundary(s, 4), "a");
    assert_eq!(prefix_at_char_boundary(s, 5), "a😀");
    assert_eq!(prefix_at_char_boundary(s, 99), s);
}

#[test]
fn a_jwt_looks_like_a_secret_and_other_dotted_values_do_not() {
    assert!(looks_like_secret(
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    ));
    assert!(looks_like_secret(
        " eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln "
    ));
    assert!(!looks_like_secret("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0"));
    assert!(!looks_like_secret("abc.def.ghi"));
    assert!(!looks_like_secret("eyJ..x"));
    assert!(!looks_like_secret("1.2.3"));
}

#[test]
fn a_scheme_and_one_credential_look_like_a_secret_and_a_sentence_does_not() {
    for s in [
        "Bearer abc123",
        "basic dXNlcjpwYXNz",
        "Token t-1",
        "Digest username=\"a\", nonce=\"b\"",
    ] {
        assert!(looks_like_secret(s), "{s}");
    }
    for s in [
        "Token expired, please sign in",
        "Basic auth required",
        "Digest of today's news",
        "Bearer",
        "bearer  ",
    ] {
        assert!(!looks_like_secret(s), "{s}");
    }
    // A placeholder written with spaces is one credential.
    assert!(looks_like_secret("Bearer {{ steps.login.body.session }}"));
    // An AWS key id, not any word that starts like one.
    assert!(looks_like_secret("AKIAIOSFODNN7EXAMPLE"));
    assert!(!looks_like_secret("akiak-inventory-2024"));
    assert!(!looks_like_secret("AKIAIOSFODNN7EXAMPLE-and-more"));
}

#[test]
fn text_kept_as_sent_hides_what_json_would() {
    let secrets = vec!["p\"w-0123456789".to_string()];
    // Text that is not JSON: the secret as written and as JSON escapes it.
    let text = r#"pw=p"w-0123456789; k={"pw": "p\"w-0123456789"}"#;
    assert_eq!(
        redact_text(text, &secrets),
        r#"pw=[redacted]; k={"pw": "[redacted]"}"#
    );
    // Text that reads as JSON: redacted as JSON, by key too, and kept as that JSON's text.
    assert_eq!(
        redact_text(r#"{"password": "hunter2-hunter2", "ok": 1}"#, &[]),
        r#"{"password":"[redacted]","ok":1}"#
    );
    // Nothing to hide: the text as it was, spacing included.
    assert_eq!(redact_text(r#"{ "ok": 1 }"#, &secrets), r#"{ "ok": 1 }"#);
    assert_eq!(redact_text("null", &secrets), "null");
}

/// Many secrets (looked up sorted) are scrubbed as a few are (tried one by one): the longest
/// at each position, left to right, never inside a replacement, at character boundaries.
#[test]
fn many_secrets_scrub_as_a_few_do() {
    let mut secrets: Vec<String> = (0..40).map(|i| format!("Bearer t{i:04}")).collect();
    secrets.extend(
        [
            "abcd",
            "abcdef",
            "abcdxy",
            "ab",
            "zzzz",
            "é-secret",
            "xxxxyyyy",
        ]
        .map(String::from),
    );
    let text = "Bearer t0007 and abcdefg abcdxyz abcdq ab zzzzzzzzz é-secrets Bearer t9999 \
                Bearer t00390 xxxxyyyxxxxyyyy ééé";
    let many = scrub_secrets(text, &secrets);
    // The same result one secret at a time, as a short list is scrubbed.
    let mut expected = text.to_string();
    let mut pos = 0;
    let mut out = String::new();
    let mut sorted: Vec<&String> = secrets
        .iter()
        .filter(|s| s.len() >= MIN_SECRET_LEN)
        .collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    while pos < expected.len() {
        let rest = &expected[pos..];
        if let Some(s) = sorted.iter().find(|s| rest.starts_with(s.as_str())) {
            out.push_str(REDACTED);
            pos += s.len();
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            pos += c.len_utf8();
        }
    }
    expected = out;
    assert_eq!(many, expected);
    assert_eq!(
        many,
        "[redacted] and [redacted]g [redacted]z [redacted]q ab [redacted][redacted]z \
         [redacted]s Bearer t9999 [redacted]0 xxxxyyy[redacted] ééé"
    );
    assert_eq!(scrub_secrets("nothing here", &secrets), "nothing here");
}

/// A text with tens of thousands of look-alike secrets in it is scrubbed whole: each position
/// is looked up, not tried against every secret.
#[test]
fn tens_of_thousands_of_secrets_are_scrubbed() {
    let secrets: Vec<String> = (0..60_000).map(|i| format!("Bearer t{i:06}")).collect();
    let text = secrets.join(",");
    let scrubbed = scrub_secrets(&text, &secrets);
    assert_eq!(scrubbed, vec![REDACTED; 60_000].join(","));
}

/// An answer kept as text is redacted as what it reads as: JSON sent as `text/plain` by its
/// credential names and credential-looking values, a form-encoded token answer by its pairs'
/// names; other text only by the secrets the step used.
#[test]
fn an_answer_kept_as_text_is_redacted_as_what_it_reads_as() {
    let secrets = vec!["s3cr3t-value".to_string()];
    assert_eq!(
        redact_answer_text(r#"{"access_token":"gho_abc123","scope":"repo"}"#, &secrets),
        r#"{"access_token":"[redacted]","scope":"repo"}"#
    );
    assert_eq!(
        redact_answer_text(
            "access_token=gho_abc123&scope=repo&token_type=bearer",
            &secrets
        ),
        "access_token=[redacted]&scope=repo&token_type=[redacted]"
    );
    assert_eq!(
        redact_answer_text("a=1&b=s3cr3t-value", &secrets),
        "a=1&b=[redacted]"
    );
    assert_eq!(
        redact_answer_text("hello s3cr3t-value, scope=repo", &secrets),
        "hello [redacted], scope=repo"
    );
    // Nothing to hide: the text as it came.
    assert_eq!(redact_answer_text(r#"{"id": 1}"#, &secrets), r#"{"id": 1}"#);
    assert_eq!(redact_answer_text("ok=1&n=2", &secrets), "ok=1&n=2");
    assert_eq!(redact_answer_text("plain text", &secrets), "plain text");
}

/// A text over the parse budget is never parsed (millions of small values take many times their
/// text's size in memory): a JSON-looking answer is not shown, other text is scrubbed as text.
#[test]
fn a_text_over_the_parse_budget_is_not_parsed() {
    let secrets = vec!["s3cr3t-value".to_string()];
    let many = format!("[{}0]", "0,".repeat(250_000));
    assert_eq!(
        redact_answer_text(&many, &secrets),
        format!(
            "[not shown: {} bytes of JSON, more values or depth than a record reads]",
            many.len()
        )
    );
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(redact_answer_text(&deep, &secrets).starts_with("[not shown: 200 bytes"));
    // More than one document (NDJSON), or text that only starts like JSON: scrubbed as text.
    let ndjson = format!(
        "{{\"k\":\"s3cr3t-value\"}}\n{}",
        "{\"a\":[0,0,0]}\n".repeat(60_000)
    );
    assert!(redact_answer_text(&ndjson, &secrets).starts_with("{\"k\":\"[redacted]\"}\n{\"a\""));
    let log = format!("[INFO] s3cr3t-value{}", ",1".repeat(250_000));
    assert!(redact_answer_text(&log, &secrets).starts_with("[INFO] [redacted],1"));
    assert!(not_shown(&many).is_some());
    assert_eq!(not_shown(&ndjson), None);
    // Not JSON-looking: scrubbed as text, whatever its commas.
    let csv = format!("s3cr3t-value{}", ",1".repeat(250_000));
    let scrubbed = redact_answer_text(&csv, &secrets);
    assert!(
        scrubbed.starts_with("[redacted],1,1"),
        "{}",
        &scrubbed[..40]
    );
    // As a reply's or a page's text: its secrets scrubbed, never parsed.
    let with_secret = format!("[\"s3cr3t-value\",{}0]", "0,".repeat(250_000));
    assert!(redact_text(&with_secret, &secrets).starts_with("[\"[redacted]\",0,0"));
}

#[test]
fn only_values_that_can_be_keys_are_hidden_in_every_step() {
    for key in [
        "plainkey0123456789",
        "sk_live_0123456789",
        "a1b2c3d4",
        "https://hooks.example.com/services/T0/B0/x",
        "correct horse battery staple",
    ] {
        assert!(hidden_in_every_step(key), "{key}");
    }
    // Vars read with `{{secrets.NAME}}` that hold a word, a number or a short value.
    for var in [
        "production",
        "1000",
        "true",
        "eu-west",
        "12345678",
        "abc123",
        " a1b2 ",
    ] {
        assert!(!hidden_in_every_step(var), "{var}");
    }
}

#[test]
fn scrubbing_strings_keeps_what_sensitive_keys_hold() {
    let mut v = json!({"msg": "invalid key plainkey0123456789", "access_token": "at_1",
                       "plainkey0123456789": 1, "n": [ "x plainkey0123456789" ]});
    scrub_strings(&mut v, &["plainkey0123456789".to_string()]);
    assert_eq!(
        v,
        json!({"msg": "invalid key [redacted]", "access_token": "at_1",
               "plainkey0123456789": 1, "n": ["x [redacted]"]})
    );
}
