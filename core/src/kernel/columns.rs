//! JSON objects read field by field through a JSON value: D1 rows, what an object keeps, the
//! messages between a Worker and its objects or the PostgreSQL Worker.
//!
//! serde's derived reading of a struct is a visitor per type and per format (several KiB of the
//! Worker for a struct of a dozen fields). These are read instead as a `serde_json::Value`, whose
//! reader every type shares, then each field is taken by name. What reads is what the derived
//! reading took: a field missing or `null` is `None` for an optional one and an error otherwise
//! (`null` in a field that must be set too); a field with a default (`#[serde(default)]` before)
//! may be missing, not `null`; text must be a string, integers integers in their type's range,
//! flags booleans; other fields are ignored unless [`Columns::finish`] is asked. The whole
//! object is read first, so every column of a row must read as JSON: a query read this way
//! names its columns and returns no BLOB.

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::{Map, Value};

/// An object's fields, taken one by one.
pub struct Columns(Map<String, Value>);

/// A field that did not read: its name, and what it should have held (empty: it is missing).
pub struct Bad(pub &'static str, pub &'static str);

impl Bad {
    /// As the reader's error (the message serde's derived reading gives for a missing field).
    pub fn into_error<E: Error>(self) -> E {
        match self {
            Bad(name, "") => E::missing_field(name),
            bad => E::custom(bad),
        }
    }
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bad(name, "") => write!(f, "missing field `{name}`"),
            Bad(name, expected) => write!(f, "invalid type in field `{name}`, expected {expected}"),
        }
    }
}

/// Reads a whole value with `from`, as a serde reading (for a type's `Deserialize`).
pub fn read_with<'de, D: Deserializer<'de>, T>(
    d: D,
    from: fn(Columns) -> Result<T, Bad>,
) -> Result<T, D::Error> {
    from(Columns::read(d)?).map_err(Bad::into_error)
}

impl Columns {
    /// Reads an object (a JS object, or JSON text).
    pub fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Columns, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(map) => Ok(Columns(map)),
            _ => Err(D::Error::custom("invalid type: expected an object")),
        }
    }

    /// The object held by the field `name`.
    pub fn of(value: Value, name: &'static str) -> Result<Columns, Bad> {
        match value {
            Value::Object(map) => Ok(Columns(map)),
            _ => Err(Bad(name, "an object")),
        }
    }

    /// The field's value, if the object has it.
    fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }

    /// Fails on a field not taken yet (for a type that refused unknown fields).
    pub fn finish(self) -> Result<(), Bad> {
        match self.0.is_empty() {
            true => Ok(()),
            false => Err(Bad("(other)", "no other field")),
        }
    }

    /// An optional text field.
    pub fn opt_text(&mut self, name: &'static str) -> Result<Option<String>, Bad> {
        match self.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Bad(name, "a string")),
        }
    }

    /// A text field.
    pub fn text(&mut self, name: &'static str) -> Result<String, Bad> {
        match self.take(name) {
            None => Err(Bad(name, "")),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(Bad(name, "a string")),
        }
    }

    /// A number field (any number).
    pub fn number(&mut self, name: &'static str) -> Result<f64, Bad> {
        match self.take(name) {
            None => Err(Bad(name, "")),
            Some(Value::Number(n)) => n.as_f64().ok_or(Bad(name, "f64")),
            Some(_) => Err(Bad(name, "f64")),
        }
    }

    /// An optional number field (any number).
    pub fn opt_number(&mut self, name: &'static str) -> Result<Option<f64>, Bad> {
        match self.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(Bad(name, "f64")),
        }
    }

    /// An optional integer field (in a row: a safe integer, one the JS reader gives as an
    /// integer).
    pub fn opt_int(&mut self, name: &'static str) -> Result<Option<i64>, Bad> {
        match self.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or(Bad(name, "i64")),
        }
    }

    /// An integer field.
    pub fn int(&mut self, name: &'static str) -> Result<i64, Bad> {
        match self.take(name) {
            None => Err(Bad(name, "")),
            Some(v) => v.as_i64().ok_or(Bad(name, "i64")),
        }
    }

    /// An integer field that is 0 when missing.
    pub fn int_or_zero(&mut self, name: &'static str) -> Result<i64, Bad> {
        match self.take(name) {
            None => Ok(0),
            Some(v) => v.as_i64().ok_or(Bad(name, "i64")),
        }
    }

    /// An unsigned integer field, of the type `N` (`u32`, `u64`).
    pub fn uint<N: TryFrom<u64>>(&mut self, name: &'static str) -> Result<N, Bad> {
        match self.take(name) {
            None => Err(Bad(name, "")),
            Some(v) => unsigned(v, name),
        }
    }

    /// An unsigned integer field that is 0 when missing.
    pub fn uint_or_zero<N: TryFrom<u64> + Default>(
        &mut self,
        name: &'static str,
    ) -> Result<N, Bad> {
        match self.take(name) {
            None => Ok(N::default()),
            Some(v) => unsigned(v, name),
        }
    }

    /// A boolean field.
    pub fn flag(&mut self, name: &'static str) -> Result<bool, Bad> {
        match self.take(name) {
            None => Err(Bad(name, "")),
            Some(v) => v.as_bool().ok_or(Bad(name, "a boolean")),
        }
    }

    /// A boolean field that is `false` when missing.
    pub fn flag_or_false(&mut self, name: &'static str) -> Result<bool, Bad> {
        match self.take(name) {
            None => Ok(false),
            Some(v) => v.as_bool().ok_or(Bad(name, "a boolean")),
        }
    }

    /// A field of any JSON value, `null` included.
    pub fn value(&mut self, name: &'static str) -> Result<Value, Bad> {
        self.take(name).ok_or(Bad(name, ""))
    }

    /// An optional field of any JSON value (`null` is none).
    pub fn opt_value(&mut self, name: &'static str) -> Option<Value> {
        self.take(name).filter(|v| !v.is_null())
    }

    /// An optional field read by `read`.
    pub fn opt<T>(
        &mut self,
        name: &'static str,
        read: impl FnOnce(Value) -> Result<T, Bad>,
    ) -> Result<Option<T>, Bad> {
        self.opt_value(name).map(read).transpose()
    }

    /// A field read by `read`.
    pub fn with<T>(
        &mut self,
        name: &'static str,
        read: impl FnOnce(Value) -> Result<T, Bad>,
    ) -> Result<T, Bad> {
        read(self.value(name)?)
    }

    /// An array field, each element read by `read`; `or_empty`: empty when missing.
    pub fn list<T>(
        &mut self,
        name: &'static str,
        or_empty: bool,
        read: impl FnMut(Value) -> Result<T, Bad>,
    ) -> Result<Vec<T>, Bad> {
        match self.take(name) {
            None if or_empty => Ok(Vec::new()),
            None => Err(Bad(name, "")),
            Some(Value::Array(items)) => items.into_iter().map(read).collect(),
            Some(_) => Err(Bad(name, "an array")),
        }
    }
}

/// A value as an unsigned integer of the type `N`.
fn unsigned<N: TryFrom<u64>>(v: Value, name: &'static str) -> Result<N, Bad> {
    v.as_u64()
        .and_then(|n| N::try_from(n).ok())
        .ok_or(Bad(name, "an unsigned integer"))
}

/// A JSON string as text (an array's element).
pub fn string(v: Value) -> Result<String, Bad> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(Bad("(element)", "a string")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug)]
    struct Sample {
        n: u32,
        flags: Vec<bool>,
        extra: Option<Value>,
    }

    fn sample(c: Columns) -> Result<Sample, Bad> {
        let mut c = c;
        let s = Sample {
            n: c.uint_or_zero("n")?,
            flags: c.list("flags", true, |v| {
                v.as_bool().ok_or(Bad("flags", "a boolean"))
            })?,
            extra: c.opt_value("extra"),
        };
        c.finish()?;
        Ok(s)
    }

    fn read(v: Value) -> Result<Sample, serde_json::Error> {
        read_with(v, sample)
    }

    #[test]
    fn defaults_ranges_and_unknown_fields_read_as_the_derived_reading_did() {
        let s = read(json!({})).unwrap();
        assert_eq!((s.n, s.flags.len(), s.extra), (0, 0, None));
        let s = read(json!({"n": 7, "flags": [true], "extra": null})).unwrap();
        assert_eq!((s.n, s.flags, s.extra), (7, vec![true], None));
        assert!(read(json!({"n": null})).is_err());
        assert!(read(json!({"n": -1})).is_err());
        assert!(read(json!({"n": 1.5})).is_err());
        assert!(read(json!({"n": 5_000_000_000_u64})).is_err());
        assert!(read(json!({"flags": null})).is_err());
        assert!(read(json!({"flags": [1]})).is_err());
        assert!(read(json!({"other": 1})).is_err());
        assert!(read(json!([1])).is_err());
    }
}
