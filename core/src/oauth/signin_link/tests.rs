use super::*;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: i64 = 1_767_225_600;

fn ok(wf: &str, user: &str, expires: i64, sig: &str) -> Result<(), LinkError> {
    verify(KEY, wf, user, Some(&expires.to_string()), Some(sig), NOW)
}

/// Only a link signed for this workflow, this user and a near expiry passes; an anonymous
/// `?user_id=` and every altered part are refused, located at the parameter.
#[test]
fn a_link_is_bound_to_workflow_user_and_expiry() {
    let exp = NOW + 600;
    let sig = sign(KEY, "wf_a", "42", exp);
    assert_eq!(sig.len(), 64);
    assert_eq!(ok("wf_a", "42", exp, &sig), Ok(()));
    // Another user, workflow or expiry: refused.
    assert_eq!(
        ok("wf_a", "43", exp, &sig).unwrap_err().location,
        "query.signature"
    );
    assert_eq!(
        ok("wf_b", "42", exp, &sig).unwrap_err().location,
        "query.signature"
    );
    assert_eq!(
        ok("wf_a", "42", exp + 1, &sig).unwrap_err().location,
        "query.signature"
    );
    // Another key.
    let other = sign(b"another-key-another-key-another!!", "wf_a", "42", exp);
    assert_eq!(
        ok("wf_a", "42", exp, &other).unwrap_err().location,
        "query.signature"
    );
    // Anonymous: no signature, no expiry.
    let e = verify(KEY, "wf_a", "42", None, None, NOW).unwrap_err();
    assert_eq!(e.location, "query.signature");
    let e = verify(KEY, "wf_a", "42", None, Some(&sig), NOW).unwrap_err();
    assert_eq!(e.location, "query.expires");
    // Expired, or too far ahead.
    let old = NOW - 1;
    assert!(ok("wf_a", "42", old, &sign(KEY, "wf_a", "42", old))
        .unwrap_err()
        .message
        .contains("expired"));
    let far = NOW + MAX_LINK_LIFETIME_SECONDS + 1;
    assert_eq!(
        ok("wf_a", "42", far, &sign(KEY, "wf_a", "42", far))
            .unwrap_err()
            .location,
        "query.expires"
    );
    // Malformed.
    assert!(verify(KEY, "wf_a", "42", Some("-5"), Some(&sig), NOW).is_err());
    assert!(verify(KEY, "wf_a", "42", Some(&exp.to_string()), Some("zz"), NOW).is_err());
}

/// The documented recipe: hex HMAC-SHA256 of `{workflow_id}.{user_id}.{expires}`.
#[test]
fn the_signature_is_the_documented_hmac() {
    // printf '%s' 'wf_x.u-1.1767226200' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(KEY).unwrap();
    m.update(b"wf_x.u-1.1767226200");
    let expected = crate::kernel::hex::encode(&m.finalize().into_bytes());
    assert_eq!(sign(KEY, "wf_x", "u-1", 1_767_226_200), expected);
    assert!(key_problem("short").is_some());
    assert!(key_problem(std::str::from_utf8(KEY).unwrap()).is_none());
}
