//! The management API's bearer token, compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Env, Request};

use super::problem::ApiError;
use crate::platform::env_string;

/// The fewest characters `ADMIN_TOKEN` may have.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// Checks `Authorization: Bearer <ADMIN_TOKEN>`: 503 when the secret is not configured or
/// shorter than [`MIN_ADMIN_TOKEN_CHARS`],
/// 401 with `WWW-Authenticate` when missing or wrong.
pub fn require_admin(req: &Request, env: &Env) -> Result<(), ApiError> {
    let Some(expected) = env_string(env, "ADMIN_TOKEN") else {
        return Err(ApiError::new(
            503,
            "Admin token not configured",
            "set the ADMIN_TOKEN secret: `wrangler secret put ADMIN_TOKEN` (locally: put ADMIN_TOKEN=… in .dev.vars, then restart `wrangler dev`)",
        ));
    };
    // A short token can be guessed by trying: the API stays closed until it is replaced.
    let length = expected.chars().count();
    if length < MIN_ADMIN_TOKEN_CHARS {
        return Err(ApiError::new(
            503,
            "Admin token too short",
            format!(
                "ADMIN_TOKEN has {length} characters; use at least {MIN_ADMIN_TOKEN_CHARS}, such as \
                 the output of `openssl rand -base64 24`: `wrangler secret put ADMIN_TOKEN` \
                 (locally: in .dev.vars, then restart `wrangler dev`)"
            ),
        ));
    }
    let given = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    // The scheme's name is matched ignoring case (`BEARER x` is `Bearer x`), as HTTP says.
    let token = match given.trim_start().split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => "",
    };
    // Hash both sides so the comparison takes the same time whatever the lengths.
    let a = Sha256::digest(token.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    if !token.is_empty() && bool::from(a.ct_eq(&b)) {
        return Ok(());
    }
    let detail = if given.is_empty() {
        "send Authorization: Bearer <ADMIN_TOKEN>"
    } else {
        "the bearer token is not valid"
    };
    Err(ApiError::new(401, "Unauthorized", detail)
        .with_header("www-authenticate", "Bearer realm=\"tripline\""))
}
