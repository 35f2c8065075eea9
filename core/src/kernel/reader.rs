//! Reads a JSON object field by field, collecting every error with its location and
//! rejecting unknown fields by name (typos must not pass silently).

use serde_json::{Map, Value};

use crate::kernel::problem::{index, join, Errors};

/// The JSON type name used in messages: `string`, `number`, `integer`, `boolean`, `object`, `array`, `null`.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A view over one JSON object at `location`. Call the typed getters for every known field,
/// then `finish()` to report unknown ones.
pub struct ObjectReader<'a> {
    map: Option<&'a Map<String, Value>>,
    location: String,
    known: Vec<&'static str>,
}

impl<'a> ObjectReader<'a> {
    /// Starts reading `value`; pushes an error and reads nothing if it is not an object.
    pub fn new(value: &'a Value, location: &str, errors: &mut Errors) -> Self {
        let map = match value {
            Value::Object(m) => Some(m),
            other => {
                errors.push(
                    location_or_root(location),
                    format!("must be an object, got {}", type_name(other)),
                );
                None
            }
        };
        ObjectReader {
            map,
            location: location.to_string(),
            known: Vec::new(),
        }
    }

    /// Whether the value was an object at all.
    pub fn is_object(&self) -> bool {
        self.map.is_some()
    }

    /// The location of a field of this object.
    pub fn loc(&self, key: &str) -> String {
        join(&self.location, key)
    }

    /// The raw value of a field (marks it known). `None` when absent or `null`.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        match self.map?.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// A field that must be present (not null); pushes "is required" otherwise.
    pub fn required(&mut self, key: &'static str, errors: &mut Errors) -> Option<&'a Value> {
        let v = self.raw(key);
        if v.is_none() && self.map.is_some() {
            errors.push(self.loc(key), "is required");
        }
        v
    }

    pub fn opt_str(&mut self, key: &'static str, errors: &mut Errors) -> Option<String> {
        let v = self.raw(key)?;
        as_str(v, &self.loc(key), errors)
    }

    pub fn req_str(&mut self, key: &'static str, errors: &mut Errors) -> Option<String> {
        let v = self.required(key, errors)?;
        as_str(v, &self.loc(key), errors)
    }

    pub fn opt_bool(&mut self, key: &'static str, errors: &mut Errors) -> Option<bool> {
        let v = self.raw(key)?;
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                errors.push(
                    self.loc(key),
                    format!("must be a boolean, got {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An optional integer within `min..=max` (inclusive).
    pub fn opt_int(
        &mut self,
        key: &'static str,
        min: i64,
        max: i64,
        errors: &mut Errors,
    ) -> Option<i64> {
        let v = self.raw(key)?;
        as_int(v, &self.loc(key), min, max, errors)
    }

    /// A required integer within `min..=max` (inclusive).
    pub fn req_int(
        &mut self,
        key: &'static str,
        min: i64,
        max: i64,
        errors: &mut Errors,
    ) -> Option<i64> {
        let v = self.required(key, errors)?;
        as_int(v, &self.loc(key), min, max, errors)
    }

    /// An optional array of strings, each with its index: an element that is no string is
    /// reported and left out, so that checks of the others name them by their own index.
    pub fn opt_str_list(
        &mut self,
        key: &'static str,
        errors: &mut Errors,
    ) -> Option<Vec<(usize, String)>> {
        let v = self.raw(key)?;
        let loc = self.loc(key);
        match v {
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = as_str(item, &index(&loc, i), errors) {
                        out.push((i, s));
                    }
                }
                Some(out)
            }
            other => {
                errors.push(
                    loc,
                    format!("must be an array of strings, got {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An optional array; returns each element with its location.
    pub fn opt_array(
        &mut self,
        key: &'static str,
        errors: &mut Errors,
    ) -> Option<Vec<(String, &'a Value)>> {
        let v = self.raw(key)?;
        let loc = self.loc(key);
        match v {
            Value::Array(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| (index(&loc, i), item))
                    .collect(),
            ),
            other => {
                errors.push(loc, format!("must be an array, got {}", type_name(other)));
                None
            }
        }
    }

    /// Reports every field that no getter asked for, by name.
    pub fn finish(self, errors: &mut Errors) {
        let Some(map) = self.map else { return };
        for key in map.keys() {
            if !self.known.iter().any(|k| k == key) {
                let guess = super::spelling::closest(key, &self.known)
                    .map(|k| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                errors.push(
                    join(&self.location, key),
                    format!(
                        "unknown field `{key}`{guess}; expected one of: {}",
                        self.known.join(", ")
                    ),
                );
            }
        }
    }
}

fn location_or_root(location: &str) -> String {
    if location.is_empty() {
        "$".to_string()
    } else {
        location.to_string()
    }
}

/// The value as a string, or an error at `loc`.
pub fn as_str(v: &Value, loc: &str, errors: &mut Errors) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        other => {
            errors.push(loc, format!("must be a string, got {}", type_name(other)));
            None
        }
    }
}

/// The value as an integer in `min..=max`, or an error at `loc`.
pub fn as_int(v: &Value, loc: &str, min: i64, max: i64, errors: &mut Errors) -> Option<i64> {
    // JSON has one number type: `6.0` is the integer 6 (as JSON Schema's `integer` says).
    let whole = v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    });
    match whole {
        Some(n) if (min..=max).contains(&n) => Some(n),
        Some(n) => {
            errors.push(loc, format!("must be between {min} and {max}, got {n}"));
            None
        }
        // A whole number too large to hold (`1e16`, `9223372036854775808`) is out of range, not
        // "not an integer".
        None if v.as_u64().is_some() || v.as_f64().is_some_and(|f| f.fract() == 0.0) => {
            errors.push(loc, format!("must be between {min} and {max}, got {v}"));
            None
        }
        None => {
            errors.push(loc, format!("must be an integer, got {}", type_name(v)));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_error_and_unknown_fields() {
        let v = json!({"name": 5, "every": 0, "typo": true});
        let mut errors = Errors::new();
        let mut r = ObjectReader::new(&v, "trigger", &mut errors);
        assert_eq!(r.req_str("name", &mut errors), None);
        assert_eq!(r.req_int("every", 1, 10, &mut errors), None);
        assert_eq!(r.req_str("at", &mut errors), None);
        r.finish(&mut errors);
        let locs: Vec<_> = errors.0.iter().map(|e| e.location.as_str()).collect();
        assert_eq!(
            locs,
            [
                "trigger.name",
                "trigger.every",
                "trigger.at",
                "trigger.typo"
            ]
        );
        assert!(errors.0[3].message.contains("unknown field `typo`"));
    }

    #[test]
    fn whole_floats_are_integers() {
        let mut errors = Errors::new();
        assert_eq!(as_int(&json!(6.0), "n", 0, 10, &mut errors), Some(6));
        assert_eq!(as_int(&json!(6.5), "n", 0, 10, &mut errors), None);
        assert_eq!(as_int(&json!(60.0), "n", 0, 10, &mut errors), None);
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn whole_numbers_too_large_to_hold_are_out_of_range() {
        let mut errors = Errors::new();
        let huge: Value = serde_json::from_str("9223372036854775808").unwrap();
        assert_eq!(as_int(&huge, "shards", 1, 64, &mut errors), None);
        assert_eq!(as_int(&json!(1e16), "shards", 1, 64, &mut errors), None);
        assert_eq!(as_int(&json!(-1e300), "shards", 1, 64, &mut errors), None);
        let messages: Vec<&str> = errors.0.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "must be between 1 and 64, got 9223372036854775808",
                "must be between 1 and 64, got 1e+16",
                "must be between 1 and 64, got -1e+300",
            ]
        );
    }

    #[test]
    fn non_object_is_one_error() {
        let mut errors = Errors::new();
        let v = json!([1]);
        let r = ObjectReader::new(&v, "", &mut errors);
        assert!(!r.is_object());
        assert_eq!(errors.0[0].location, "$");
    }
}
