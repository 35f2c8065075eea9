//! Parses JSON text with `serde_json`'s byte reader. The OAuth client reads token answers with
//! that reader, so reading text through it too keeps a single copy of the parser in the Worker
//! (`serde_json::from_str` would add a second one, for its text reader; docs/size.md). The result
//! is the same for any text.

/// `serde_json::from_str`, through the byte reader.
pub fn from_str<'a, T: serde::Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    serde_json::from_slice(text.as_bytes())
}

/// [`from_str`], only for a text within the parse budget ([`super::json_budget::check`]): a
/// larger one is not parsed at all (its values would take many times its size in memory), and
/// reads as not JSON.
pub fn within_budget<'a, T: serde::Deserialize<'a>>(text: &'a str) -> Option<T> {
    super::json_budget::check(text.as_bytes()).ok()?;
    from_str(text).ok()
}

/// `s` read as a decimal number as Rust reads one (`-12.5`, `+1e3`, `.5`, `5.`, `007`; no
/// spaces), by JSON's number reader: the Worker keeps one float reader (Rust's own would add
/// about 10 KiB of tables to it, docs/size.md), and a number written as text reads as the same
/// number written bare. `None` when it is not a finite number.
pub fn decimal(s: &str) -> Option<f64> {
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s.strip_prefix('+').unwrap_or(s)),
    };
    let (mantissa, exponent) = body.split_at(body.find(['e', 'E']).unwrap_or(body.len()));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if !digits(int)
        || !digits(frac)
        || int.len() + frac.len() == 0
        || exponent.contains(|c: char| c.is_ascii_whitespace())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let point = if frac.is_empty() { "" } else { "." };
    from_str(&format!("{sign}{int}{point}{frac}{exponent}")).ok()
}

#[cfg(test)]
mod tests {
    use super::{decimal, from_str};

    #[test]
    fn numbers_read_back_as_written() {
        // Shortest forms, which JSON writes: each reads back to the same number (a reader that
        // is only close would change stored definitions and run inputs in their last digit).
        for s in [
            "9.571162814602269e-296",
            "2.54458609934608e+252",
            "3.7052266664574674e-271",
            "0.30000000000000004",
            "37.77492912345679",
            "1.7976931348623157e+308",
            "5e-324",
        ] {
            let v: serde_json::Value = from_str(s).unwrap();
            assert_eq!(v.to_string(), s);
            assert_eq!(v.as_f64(), s.parse::<f64>().ok(), "{s}");
        }
    }

    #[test]
    fn decimals_read_as_rust_reads_them() {
        for s in [
            "0",
            "-0",
            "12.5",
            "-12.5",
            "+1e3",
            ".5",
            "5.",
            "007",
            "1.e5",
            "1E-5",
            "-.5",
            "3.25e+2",
            "123456789012345678901234567890",
            "0.1",
            "0e0",
            "1e-0",
            "00.00",
            "1e-400",
            "0e99999999999",
            "0.12345678901234567890123456789",
            "-0.0",
            "1E+2",
        ] {
            // By bits: `-0` is not `0`.
            let bits = |f: Option<f64>| f.map(f64::to_bits);
            assert_eq!(bits(decimal(s)), bits(s.parse::<f64>().ok()), "{s}");
        }
        for s in [
            "", "-", "+", ".", "+.", "1e+", "e5", "+-5", "--5", " 5", "5 ", "5e", "5e 1", "1_000",
            "0x10", "inf", "NaN", "1e400", "1.2.3", "١", "5e1\n", "5e1 ",
        ] {
            assert_eq!(decimal(s), None, "{s}");
        }
    }
}
