use super::*;
use serde_json::json;

fn headers(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn verified(scheme: Scheme, id: Option<&str>) -> Verified {
    Verified {
        scheme,
        message_id: id.map(str::to_string),
        timestamp: None,
        secret_index: 0,
    }
}

#[test]
fn dedup_key_precedence() {
    let h = headers(json!({"idempotency-key": " k1 ", "webhook-id": "msg_1"}));
    assert_eq!(
        dedup_key(&h, None, b"").unwrap().unwrap().key,
        "idempotency:k1"
    );
    let sw = verified(Scheme::StandardWebhooks, Some("msg_1"));
    assert_eq!(
        dedup_key(&h, Some(&sw), b"").unwrap(),
        Some(DedupKey {
            key: "webhook:msg_1".into(),
            location: "header.webhook-id".into()
        })
    );
    let svix = headers(json!({"svix-id": "msg_2"}));
    let sv = verified(Scheme::StandardWebhooks, Some("msg_2"));
    assert_eq!(
        dedup_key(&svix, Some(&sv), b"").unwrap().unwrap().location,
        "header.svix-id"
    );
    let st = verified(Scheme::Stripe, Some("evt_1"));
    assert_eq!(
        dedup_key(&h, Some(&st), b"").unwrap().unwrap().key,
        "webhook:evt_1"
    );
    // GitHub's delivery id is not signed: the signed bytes make the key, whatever the headers.
    let gh = verified(Scheme::Github, Some("d-1"));
    let key = dedup_key(&h, Some(&gh), b"{}").unwrap().unwrap().key;
    assert!(key.starts_with("signed:github:"), "{key}");
    assert_eq!(
        dedup_key(&Map::new(), Some(&gh), b"{}")
            .unwrap()
            .unwrap()
            .key,
        key
    );
    assert_eq!(dedup_key(&Map::new(), None, b"").unwrap(), None);
}

#[test]
fn idempotency_key_rules() {
    assert_eq!(check_idempotency_key(" a b "), Ok("a b"));
    assert!(check_idempotency_key("  ").is_err());
    assert!(check_idempotency_key(&"x".repeat(256)).is_err());
    assert!(check_idempotency_key(&"x".repeat(255)).is_ok());
    assert!(check_idempotency_key("é").is_err());
    let h = headers(json!({"idempotency-key": ""}));
    assert!(dedup_key(&h, None, b"").is_err());
}

#[test]
fn fingerprints_differ_by_part() {
    let a = fingerprint("POST", "/hooks/x?a=1", b"{}");
    assert_eq!(a.len(), 64);
    assert_eq!(a, fingerprint("POST", "/hooks/x?a=1", b"{}"));
    assert_ne!(a, fingerprint("PUT", "/hooks/x?a=1", b"{}"));
    assert_ne!(a, fingerprint("POST", "/hooks/x?a=2", b"{}"));
    assert_ne!(a, fingerprint("POST", "/hooks/x?a=1", b"{ }"));
    // The separators keep parts from running into each other.
    assert_ne!(
        fingerprint("POST", "/a", b"b"),
        fingerprint("POST", "/ab", b"")
    );
}

#[test]
fn a_message_fingerprint_follows_the_body_alone() {
    let a = message_fingerprint(b"{\"type\":\"paid\"}");
    assert_eq!(a.len(), 64);
    assert_eq!(a, message_fingerprint(b"{\"type\":\"paid\"}"));
    assert_ne!(a, message_fingerprint(b"{\"type\":\"refunded\"}"));
    assert_ne!(a, fingerprint("", "", b"{\"type\":\"paid\"}"));
}

#[test]
fn stored_replies() {
    let r = stored_reply(&json!({"status": 201, "headers": {"content-type": "application/json", "x-a": "1"}, "body": {"ok": true}})).unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(r.body.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(r.headers.len(), 2);
    let r = stored_reply(&json!({"status": 200, "headers": {"content-type": "text/plain; charset=utf-8"}, "body": "hi"})).unwrap();
    assert_eq!(r.body.as_deref(), Some("hi"));
    let r = stored_reply(
        &json!({"status": 200, "headers": {"content-type": "application/json"}, "body": "hi"}),
    )
    .unwrap();
    assert_eq!(r.body.as_deref(), Some("\"hi\""));
    // Kept as text although the type says JSON (the body did not parse): sent as it was.
    let r = stored_reply(
        &json!({"status": 200, "headers": {"content-type": "application/x-ndjson"},
        "body": "{\"a\":1}\n{\"b\":2}", "text": true}),
    )
    .unwrap();
    assert_eq!(r.body.as_deref(), Some("{\"a\":1}\n{\"b\":2}"));
    let r = stored_reply(&json!({"status": 204, "headers": {}, "body": null})).unwrap();
    assert_eq!(r.body, None);
    assert_eq!(stored_reply(&json!({"status": 99})), None);
    assert_eq!(stored_reply(&json!("x")), None);
    // Headers kept redacted are left out rather than sent as `[redacted]`.
    let r = stored_reply(
        &json!({"status": 200, "headers": {"set-cookie": "[redacted]",
        "location": "/next", "x-link": "https://app/x?t=[redacted]"}, "body": null}),
    )
    .unwrap();
    assert_eq!(r.headers, [("location".to_string(), "/next".to_string())]);
}

#[test]
fn failed_step_is_the_last_failure() {
    let steps = json!([{"name": "a", "status": "succeeded"}, {"name": "b", "status": "failed"}]);
    assert_eq!(failed_step(&steps.to_string()).as_deref(), Some("b"));
    assert_eq!(failed_step("[]"), None);
    assert_eq!(failed_step("nope"), None);
}

#[test]
fn secret_looking_values() {
    for s in [
        "Bearer abc",
        "basic dXNlcjpwdw==",
        "sk_live_0123456789",
        "ghp_0123456789abcdef",
        "xoxb-1234-5678-abcd",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature",
    ] {
        assert!(looks_like_secret(s), "{s}");
    }
    for s in ["application/json", "hello", "1.2.3", "sk_", "eyJ.x"] {
        assert!(!looks_like_secret(s), "{s}");
    }
    let m = redact_for_shelf(&headers(json!({
        "authorization": "x", "x-api-key": "k", "x-custom": "Bearer t", "x-list": ["a", "ghp_0123456789abcdef"],
        "content-type": "application/json", "x-count": "3"
    })));
    assert_eq!(
        Value::Object(m),
        json!({"authorization": REDACTED, "x-api-key": REDACTED, "x-custom": REDACTED, "x-list": REDACTED,
               "content-type": "application/json", "x-count": "3"})
    );
}

#[test]
fn pieces_rejoin_at_char_boundaries() {
    assert_eq!(split_pieces("", 3), [""]);
    assert_eq!(split_pieces("abcdefg", 3), ["abc", "def", "g"]);
    assert_eq!(split_pieces("abc", 3), ["abc"]);
    let text = "aé€😀".repeat(50);
    for max in 1..12 {
        let pieces = split_pieces(&text, max);
        assert_eq!(pieces.concat(), text, "{max}");
        assert!(pieces.iter().all(|p| !p.is_empty()));
        assert!(pieces.iter().all(|p| p.len() <= max.max(4)), "{max}");
    }
}

#[test]
fn a_request_body_moves_into_pieces_that_rejoin() {
    let body = json!({"pad": "é".repeat(PIECE_BYTES), "n": 1});
    let mut input = json!({"request": {"method": "POST", "body": body}});
    let pieces = body_into_pieces(&mut input).expect("a body");
    assert_eq!(pieces.len(), 3);
    assert!(pieces.iter().all(|p| p.len() <= PIECE_BYTES));
    assert_eq!(
        serde_json::from_str::<Value>(&pieces.concat()).unwrap(),
        body
    );
    assert_eq!(
        input,
        json!({"request": {"method": "POST", BODY_PIECES_KEY: 3}})
    );
    // No request body: nothing moves.
    let mut other = json!({"schedule": {"late": false}});
    assert_eq!(body_into_pieces(&mut other), None);
    assert_eq!(other, json!({"schedule": {"late": false}}));
}

#[test]
fn a_long_input_keeps_its_body_in_pieces_and_a_short_one_whole() {
    let small = json!({"request": {"body": {"n": 1}}}).to_string();
    assert_eq!(input_and_pieces(small.clone(), None), (small, vec![]));
    let body = json!({"pad": "x".repeat(INLINE_INPUT_MAX)});
    let input = json!({"request": {"method": "POST", "body": body}});
    // Parsed from its text, or given parsed.
    for value in [None, Some(input.clone())] {
        let (text, pieces) = input_and_pieces(input.to_string(), value);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"request": {"method": "POST", BODY_PIECES_KEY: 1}})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&pieces.concat()).unwrap(),
            body
        );
    }
    // Long without a request body: kept as it is.
    let other = json!({"event": "x".repeat(INLINE_INPUT_MAX)}).to_string();
    assert_eq!(input_and_pieces(other.clone(), None), (other, vec![]));
}

/// Text that JSON writes larger than base64 would (control characters take six bytes) is kept
/// as base64; ordinary text, quotes and line breaks included, stays text.
#[test]
fn raw_bodies_of_control_characters_are_kept_as_base64() {
    // Whole, or cut at the cap.
    for (cap, kept_bytes, cut) in [(100, 30, false), (9, 9, true)] {
        let (kept, encoding, was_cut) = raw_body_record(&[1u8; 30], cap);
        assert_eq!((encoding, was_cut), ("base64", cut));
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&kept)
                .unwrap(),
            vec![1u8; kept_bytes]
        );
    }
    for small in [r#"{"a":"b"}"#, r#""{\"k\":\"v\"}""#, "a\\b"] {
        assert_eq!(raw_body_record(small.as_bytes(), 100).1, "utf-8", "{small}");
    }
    let text = "line \"one\"\nline two\t\u{e9}\n".repeat(10);
    assert_eq!(
        raw_body_record(text.as_bytes(), 1000),
        (text.clone(), "utf-8", false)
    );
}

#[test]
fn raw_bodies() {
    assert_eq!(
        raw_body_record(b"hello", 10),
        ("hello".to_string(), "utf-8", false)
    );
    assert_eq!(
        raw_body_record(b"hello", 3),
        ("hel".to_string(), "utf-8", true)
    );
    assert_eq!(
        raw_body_record(&[0xff, 0x00, 0x01], 10),
        ("/wAB".to_string(), "base64", false)
    );
    // Cut inside a multi-byte character: still text, cut before it.
    let text = "aé".repeat(4);
    let (kept, enc, cut) = raw_body_record(text.as_bytes(), 5);
    assert_eq!((kept.as_str(), enc, cut), ("aéa", "utf-8", true));
    let (kept, enc, cut) = raw_body_record(&[0xff; 10], 4);
    assert_eq!((kept.as_str(), enc, cut), ("/////w==", "base64", true));
}

/// An exact replay of a signed request with a fresh `X-GitHub-Delivery` or `Idempotency-Key`
/// has the same key (github, hmac-sha256, slack); different signed bytes give another key.
#[test]
fn schemes_without_a_signed_id_dedup_on_the_signed_bytes() {
    for scheme in [
        Scheme::Github,
        Scheme::HmacSha256,
        Scheme::Slack,
        Scheme::Stripe,
    ] {
        // Only GitHub has an id beside its signature: its unsigned `X-GitHub-Delivery`.
        let delivery = |d: &str| (scheme == Scheme::Github).then(|| d.to_string());
        let mut v = verified(scheme, None);
        v.message_id = delivery("delivery-1");
        v.timestamp = Some(1_700_000_000);
        let first = headers(json!({"x-github-delivery": "delivery-1", "idempotency-key": "a"}));
        let replay = headers(json!({"x-github-delivery": "delivery-2", "idempotency-key": "b"}));
        let mut v2 = v.clone();
        v2.message_id = delivery("delivery-2");
        let k1 = dedup_key(&first, Some(&v), b"{\"n\":1}").unwrap().unwrap();
        let k2 = dedup_key(&replay, Some(&v2), b"{\"n\":1}")
            .unwrap()
            .unwrap();
        assert_eq!(
            k1, k2,
            "{scheme:?}: a replay with fresh headers is the same cause"
        );
        assert!(k1.key.starts_with(&format!("signed:{}:", scheme.as_str())));
        let other = dedup_key(&first, Some(&v), b"{\"n\":2}").unwrap().unwrap();
        assert_ne!(k1, other, "{scheme:?}");
        let none = dedup_key(&Map::new(), Some(&v), b"{\"n\":1}")
            .unwrap()
            .unwrap();
        assert_eq!(k1, none, "{scheme:?}: headers never change the key");
    }
    // Slack signs its timestamp: without an event id, a new timestamp is a new signed request.
    let mut a = verified(Scheme::Slack, None);
    a.timestamp = Some(1);
    let mut b = a.clone();
    b.timestamp = Some(2);
    assert_ne!(
        dedup_key(&Map::new(), Some(&a), b"x").unwrap(),
        dedup_key(&Map::new(), Some(&b), b"x").unwrap()
    );
}

/// A Slack Events API retry is signed again with a new timestamp (and carries
/// `X-Slack-Retry-Num`): its signed `event_id` is the key, so it is a repeat, not a new run.
#[test]
fn a_slack_event_retry_is_a_repeat() {
    let mut first = verified(Scheme::Slack, Some("Ev08MFMKH6"));
    first.timestamp = Some(1_700_000_000);
    let mut retry = first.clone();
    retry.timestamp = Some(1_700_000_060);
    let body = br#"{"event_id":"Ev08MFMKH6"}"#;
    let k1 = dedup_key(&Map::new(), Some(&first), body).unwrap();
    let retried = headers(json!({"x-slack-retry-num": "1", "idempotency-key": "other"}));
    let k2 = dedup_key(&retried, Some(&retry), body).unwrap();
    let expected = DedupKey {
        key: "webhook:Ev08MFMKH6".into(),
        location: "body.event_id".into(),
    };
    assert_eq!(
        (k1.as_ref(), k2.as_ref()),
        (Some(&expected), Some(&expected))
    );
}

/// A Stripe-signed body without a string `id` is keyed by its signed body, not by an unsigned
/// `Idempotency-Key`: a replay with a fresh key, or re-signed at another time, is a repeat.
#[test]
fn a_stripe_body_without_an_id_dedups_on_the_signed_body() {
    let mut v = verified(Scheme::Stripe, None);
    v.timestamp = Some(1_700_000_000);
    let mut later = v.clone();
    later.timestamp = Some(1_700_000_060);
    let k1 = dedup_key(&headers(json!({"idempotency-key": "a"})), Some(&v), b"[1]")
        .unwrap()
        .unwrap();
    let k2 = dedup_key(
        &headers(json!({"idempotency-key": "b"})),
        Some(&later),
        b"[1]",
    )
    .unwrap()
    .unwrap();
    assert_eq!(k1, k2);
    assert!(k1.key.starts_with("signed:stripe:"), "{}", k1.key);
    assert_eq!(k1.location, "header.stripe-signature");
    let other = dedup_key(&Map::new(), Some(&v), b"[2]").unwrap().unwrap();
    assert_ne!(k1, other);
}

/// A Response step's reply is sandboxed unless the step's own policy has a `sandbox` directive;
/// any other policy is kept and the sandbox added next to it.
#[test]
fn a_reply_is_sandboxed_unless_its_own_policy_sandboxes_it() {
    let added = |p: &str| format!("{p}, {REPLY_SANDBOX}");
    assert_eq!(reply_policy(None).as_deref(), Some(REPLY_SANDBOX));
    assert_eq!(reply_policy(Some("  ")).as_deref(), Some(REPLY_SANDBOX));
    assert_eq!(
        reply_policy(Some("frame-ancestors 'none'")),
        Some(added("frame-ancestors 'none'"))
    );
    assert_eq!(
        reply_policy(Some("default-src 'self'; img-src https://sandbox.example")),
        Some(added("default-src 'self'; img-src https://sandbox.example"))
    );
    assert_eq!(reply_policy(Some("sandbox")), None);
    assert_eq!(
        reply_policy(Some(
            "default-src 'none'; SANDBOX allow-same-origin allow-scripts"
        )),
        None
    );
    assert_eq!(
        reply_policy(Some("img-src 'self', sandbox allow-scripts")),
        None
    );
}
