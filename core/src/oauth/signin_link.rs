//! Signed sign-in links: proof, minted by the app's backend, that the end user at the Sign-in
//! URL is the app's user `user_id`. Without it anyone could attach their own provider account to
//! another user's id (or knock out that user's connection).
//!
//! The link is the Sign-in URL with three query parameters:
//!
//! ```text
//! /oauth/{workflow_id}/signin?user_id=42&expires=1767225600&signature=<64 hex digits>
//! ```
//!
//! `signature` is the lower-case hex HMAC-SHA256, keyed with the Worker secret
//! `TRIPLINE_SIGNIN_KEY` (its UTF-8 bytes), of the text `{workflow_id}.{user_id}.{expires}`
//! (`expires`: Unix seconds, at most [`MAX_LINK_LIFETIME_SECONDS`] ahead). Any language mints it
//! in a few lines (docs/oauth.md shows curl/openssl, JavaScript and Python).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The Worker secret that signs sign-in links.
pub const SIGNIN_KEY_ENV: &str = "TRIPLINE_SIGNIN_KEY";
/// Shortest accepted `TRIPLINE_SIGNIN_KEY`, in bytes.
pub const MIN_SIGNIN_KEY_BYTES: usize = 32;
/// Longest a link may be valid for: one hour.
pub const MAX_LINK_LIFETIME_SECONDS: i64 = 3_600;

/// Why a sign-in link is refused: the query parameter at fault (`query.…`) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError {
    pub location: &'static str,
    pub message: String,
}

fn refuse(location: &'static str, message: impl Into<String>) -> LinkError {
    LinkError {
        location,
        message: message.into(),
    }
}

/// The signature of a link: hex HMAC-SHA256 of `{workflow_id}.{user_id}.{expires}`.
pub fn sign(key: &[u8], workflow_id: &str, user_id: &str, expires: i64) -> String {
    crate::kernel::hex::encode(&mac(key, workflow_id, user_id, expires))
}

fn mac(key: &[u8], workflow_id: &str, user_id: &str, expires: i64) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(format!("{workflow_id}.{user_id}.{expires}").as_bytes());
    m.finalize().into_bytes().into()
}

/// Checks a link's `expires` and `signature` for `(workflow_id, user_id)` at `now` (Unix
/// seconds). Every failure is the sender's (a 401 located at the parameter).
pub fn verify(
    key: &[u8],
    workflow_id: &str,
    user_id: &str,
    expires: Option<&str>,
    signature: Option<&str>,
    now: i64,
) -> Result<(), LinkError> {
    let how = "the app's backend must sign each Sign-in link (see the OAuth documentation)";
    let Some(signature) = signature else {
        return Err(refuse(
            "query.signature",
            format!("is required: a Sign-in URL with only `user_id` is refused; {how}"),
        ));
    };
    let Some(expires_text) = expires else {
        return Err(refuse(
            "query.expires",
            format!("is required (Unix seconds, signed with the link); {how}"),
        ));
    };
    let expires: i64 = expires_text
        .parse()
        .ok()
        .filter(|_| !expires_text.is_empty() && expires_text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| refuse("query.expires", "must be a Unix time in seconds"))?;
    let given = crate::kernel::hex::decode(signature)
        .filter(|b| b.len() == 32)
        .ok_or_else(|| refuse("query.signature", "must be 64 hex digits (HMAC-SHA256)"))?;
    let expected = mac(key, workflow_id, user_id, expires);
    if !bool::from(expected.ct_eq(&given[..])) {
        return Err(refuse(
            "query.signature",
            format!("does not match this workflow, user_id and expires; {how}"),
        ));
    }
    if expires <= now {
        return Err(refuse(
            "query.expires",
            format!(
                "the link expired {} seconds ago; ask the app for a new one",
                now - expires
            ),
        ));
    }
    if expires - now > MAX_LINK_LIFETIME_SECONDS {
        return Err(refuse(
            "query.expires",
            format!(
                "is {} seconds ahead; a link may be valid for at most {MAX_LINK_LIFETIME_SECONDS}",
                expires - now
            ),
        ));
    }
    Ok(())
}

/// Why a `TRIPLINE_SIGNIN_KEY` value cannot be used, if it cannot.
pub fn key_problem(key: &str) -> Option<String> {
    (key.len() < MIN_SIGNIN_KEY_BYTES).then(|| {
        format!(
            "{SIGNIN_KEY_ENV} is {} bytes; it must be at least {MIN_SIGNIN_KEY_BYTES} (e.g. \
             `openssl rand -hex 32`)",
            key.len()
        )
    })
}

#[cfg(test)]
mod tests;
