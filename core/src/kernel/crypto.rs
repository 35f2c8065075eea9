//! Encryption at rest for OAuth tokens (and PKCE verifiers): AES-256-GCM under the
//! `TRIPLINE_ENCRYPTION_KEY` Worker secret, a fresh random 96-bit nonce per value.
//!
//! The stored form (an "envelope") is text, so it fits a D1 TEXT column:
//!
//! ```text
//! v1.<base64url(nonce, 12 bytes)>.<base64url(ciphertext ‖ 16-byte tag)>
//! ```
//!
//! Each value is sealed with associated data naming where it lives (for example
//! `conn:access:<workflow>:<user>`), so an envelope copied into another row or column does not
//! open there. The nonce is passed in (the runtime draws it from the platform's CSPRNG).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;

/// The envelope version prefix.
const PREFIX: &str = "v1";

/// A parsed encryption key (32 bytes).
#[derive(Clone)]
pub struct SealKey(Key<Aes256Gcm>);

impl SealKey {
    /// HMAC-SHA256 of `message` under this key, for the use `label` names (hex): a value only
    /// this deployment can make, and none made for another use.
    pub fn mac(&self, label: &str, message: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.0.as_slice())
            .expect("HMAC takes a key of any length");
        m.update(label.as_bytes());
        m.update(b"\0");
        m.update(message.as_bytes());
        crate::kernel::hex::encode(&m.finalize().into_bytes())
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Missing,
    Invalid(String),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Missing => write!(f, "TRIPLINE_ENCRYPTION_KEY is not set"),
            KeyError::Invalid(m) => write!(f, "TRIPLINE_ENCRYPTION_KEY {m}"),
        }
    }
}

/// Parses the key secret: base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
pub fn parse_key(secret: Option<&str>) -> Result<SealKey, KeyError> {
    let s = secret.map(str::trim).filter(|s| !s.is_empty());
    let s = s.ok_or(KeyError::Missing)?;
    let bytes = STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')))
        .map_err(|_| KeyError::Invalid("is not base64".into()))?;
    if bytes.len() != 32 {
        return Err(KeyError::Invalid(format!(
            "must decode to 32 bytes, got {}",
            bytes.len()
        )));
    }
    Ok(SealKey(*Key::<Aes256Gcm>::from_slice(&bytes)))
}

/// Encrypts `plaintext` bound to `aad`, with the given (random, never reused) nonce.
pub fn seal(key: &SealKey, nonce: [u8; 12], aad: &str, plaintext: &str) -> String {
    let cipher = Aes256Gcm::new(&key.0);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        // Encryption only fails for inputs beyond GCM's length limit (64 GiB).
        .unwrap_or_default();
    format!(
        "{PREFIX}.{}.{}",
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(ct)
    )
}

/// The length of [`seal`]'s envelope for a plaintext of `plaintext_len` bytes, known without
/// sealing: the prefix, the nonce and the ciphertext with its 16-byte tag, in unpadded base64.
pub fn sealed_len(plaintext_len: usize) -> usize {
    let b64 = |n: usize| (n * 4).div_ceil(3);
    PREFIX.len() + 1 + b64(12) + 1 + b64(plaintext_len + 16)
}

/// Decrypts an envelope made by [`seal`] with the same key and `aad`.
pub fn open(key: &SealKey, aad: &str, envelope: &str) -> Result<String, String> {
    let mut parts = envelope.split('.');
    let (Some(PREFIX), Some(nonce), Some(ct), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not an encrypted value of a known format".into());
    };
    let nonce = URL_SAFE_NO_PAD
        .decode(nonce)
        .ok()
        .filter(|n| n.len() == 12)
        .ok_or("the nonce is malformed")?;
    let ct = URL_SAFE_NO_PAD
        .decode(ct)
        .map_err(|_| "the ciphertext is malformed")?;
    let plain = Aes256Gcm::new(&key.0)
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ct,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| {
            "cannot decrypt: wrong TRIPLINE_ENCRYPTION_KEY, or the value was altered".to_string()
        })?;
    String::from_utf8(plain).map_err(|_| "the decrypted value is not text".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealKey {
        parse_key(Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")).unwrap()
    }

    #[test]
    fn round_trips_and_binds_aad() {
        let k = key();
        let env = seal(&k, [7; 12], "conn:access:wf:u", "ya29.token");
        assert!(env.starts_with("v1."));
        assert!(!env.contains("ya29"));
        assert_eq!(open(&k, "conn:access:wf:u", &env).unwrap(), "ya29.token");
        assert!(open(&k, "conn:access:wf:other", &env).is_err());
        let other = parse_key(Some(&STANDARD.encode([9u8; 32]))).unwrap();
        assert!(open(&other, "conn:access:wf:u", &env).is_err());
        // A different nonce gives a different envelope for the same value.
        assert_ne!(seal(&k, [8; 12], "a", "x"), seal(&k, [7; 12], "a", "x"));
    }

    #[test]
    fn the_envelope_length_is_known_before_sealing() {
        for n in [0, 1, 2, 3, 4, 5, 100, 1000, 65_537] {
            let text = "x".repeat(n);
            assert_eq!(
                seal(&key(), [3; 12], "a", &text).len(),
                sealed_len(n),
                "{n}"
            );
        }
    }

    #[test]
    fn tampering_is_detected() {
        let k = key();
        let env = seal(&k, [1; 12], "a", "secret");
        let mut bytes = env.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(open(&k, "a", &tampered).is_err());
        assert!(open(&k, "a", "v2.x.y").is_err());
        assert!(open(&k, "a", "garbage").is_err());
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(parse_key(None).unwrap_err(), KeyError::Missing);
        assert_eq!(parse_key(Some("  ")).unwrap_err(), KeyError::Missing);
        assert!(matches!(
            parse_key(Some("not base64!")),
            Err(KeyError::Invalid(_))
        ));
        assert!(matches!(
            parse_key(Some(&STANDARD.encode([1u8; 16]))),
            Err(KeyError::Invalid(m)) if m.contains("32 bytes, got 16")
        ));
        assert!(parse_key(Some(&URL_SAFE_NO_PAD.encode([0xfbu8; 32]))).is_ok());
    }
}
