//! Lower-case hexadecimal, as signatures, digests and percent-encoding use it.

/// `bytes` as lower-case hex (`[0xab, 0x01]` → `"ab01"`).
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The value of one hex digit, either case.
pub fn digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Bytes from hex text (either case); `None` when the length is odd or a digit is not hex.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_reads_digits() {
        assert_eq!(encode(&[0xab, 0x01, 0xff]), "ab01ff");
        assert_eq!(encode(&[]), "");
        assert_eq!(digit(b'7'), Some(7));
        assert_eq!(digit(b'c'), Some(12));
        assert_eq!(digit(b'C'), Some(12));
        assert_eq!(digit(b'g'), None);
    }
}
