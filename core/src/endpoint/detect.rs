//! Infers a request schema from one sample request (the latest on a workflow's test shelf), as a
//! starting point the user edits before deploying.
//!
//! Choices (a sample shows what was sent, not what may vary):
//! - Query parameters: every one seen, `type: string`, `required: true`.
//! - Headers: every one seen except hop-by-hop, infrastructure and browser ones (see
//!   [`is_incidental_header`]), lowercased, `required: true`, and never an `equals`: values
//!   are not copied, they may be secrets.
//! - Body (only when it is a JSON object): every key present with a non-null value is
//!   `required`, at every depth, but under an array only when present (non-null) in every element
//!   that is an object; nested objects become dotted names (`address.city`) with the object field
//!   itself declared too (`address`, type `object`); arrays are declared (`items`, type `array`)
//!   and their elements described with `[]`: keys of object elements merged across elements
//!   (`items[].sku`), uniform scalar elements as `tags[]`, nested arrays as `m[]`, `m[][]`.
//! - Types: `integer` for numbers written without a fraction or exponent, `number` otherwise (and
//!   when integers and numbers mix); `string`, `boolean`, `object`, `array`; any other mix of
//!   types is `any`. A value seen only as `null` becomes `any`, not required: one null says
//!   nothing about the type, and `null` would reject the first real value.
//! - Keys that cannot be written as a path (empty, or containing `.`, `[` or `]`) are skipped, and
//!   so is anything past the schema limits (fields, depth, name length), so the result always
//!   passes [`RequestSchema::parse`], also with the draft's gates kept ([`keep_gates`]).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::endpoint::request_schema::{
    BodyField, Constraints, FieldType, HeaderRule, QueryParam, RequestSchema, MAX_FIELDS,
    MAX_NAME_LEN, MAX_PATH_SEGMENTS,
};

/// The schema one sample request suggests (see the module docs for the rules).
pub fn detect(
    query: &Map<String, Value>,
    headers: &Map<String, Value>,
    body: &Value,
) -> RequestSchema {
    let query = query
        .keys()
        .filter(|k| !k.is_empty() && k.len() <= MAX_NAME_LEN)
        .take(MAX_FIELDS)
        .map(|k| QueryParam::new(k, Constraints::typed(FieldType::String, true)))
        .collect();

    let mut header_rules: Vec<HeaderRule> = Vec::new();
    for name in headers.keys() {
        let lower = name.to_ascii_lowercase();
        let valid = !lower.is_empty()
            && lower.len() <= MAX_NAME_LEN
            && lower.bytes().all(is_token_byte)
            && !is_incidental_header(&lower);
        if valid
            && header_rules.len() < MAX_FIELDS
            && !header_rules.iter().any(|h| h.lower_name() == lower)
        {
            header_rules.push(HeaderRule::new(&lower, true, None));
        }
    }

    let mut fields = Vec::new();
    if let Value::Object(map) = body {
        let mut root = ObjShape::default();
        root.absorb(map, 0);
        emit_object(&root, "", 0, true, &mut fields);
    }

    RequestSchema {
        query,
        headers: header_rules,
        body: fields,
    }
}

/// `detected` (a schema as [`RequestSchema::to_json`] writes it) with the gates of `current`
/// (the draft's request schema) kept: its query parameters and headers with `equals`.
/// Detection never copies a value, and a gate (a shared secret a request must carry) dropped by
/// applying a detected schema would accept any value after the next deploy. A rule of the same
/// name (a header's in any letter case) is replaced by the gate's rule as written, a gate on a
/// name the sample lacks is added as it was, and detected rules past the field limit make room
/// for them (names there are flat, so the result still parses).
pub fn keep_gates(detected: &mut Value, current: &Value) {
    for section in ["query", "headers"] {
        let Some(gates) = current[section].as_array() else {
            continue;
        };
        let Some(rules) = detected[section].as_array_mut() else {
            continue;
        };
        for gate in gates.iter().filter(|g| !g["equals"].is_null()) {
            let Some(name) = gate["name"].as_str() else {
                continue;
            };
            let same = |r: &&mut Value| {
                r["name"].as_str().is_some_and(|n| match section {
                    "headers" => n.eq_ignore_ascii_case(name),
                    _ => n == name,
                })
            };
            match rules.iter_mut().find(same) {
                Some(rule) => *rule = gate.clone(),
                None => rules.push(gate.clone()),
            }
        }
        // Room for the gates within the limit: detected rules go, from the last.
        while rules.len() > MAX_FIELDS {
            match rules.iter().rposition(|r| r["equals"].is_null()) {
                Some(i) => {
                    rules.remove(i);
                }
                None => break,
            }
        }
    }
}

/// Headers that say how the request travelled rather than what it means: hop-by-hop headers,
/// proxy/CDN/tracing additions and what every browser or HTTP client sends on its own.
pub fn is_incidental_header(lower_name: &str) -> bool {
    const EXACT: &[&str] = &[
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "via",
        "forwarded",
        "x-real-ip",
        "true-client-ip",
        "cdn-loop",
        "accept",
        "accept-encoding",
        "accept-language",
        "user-agent",
        "cache-control",
        "pragma",
        "cookie",
        "origin",
        "referer",
        "dnt",
        "priority",
        "upgrade-insecure-requests",
        "if-none-match",
        "if-modified-since",
        "traceparent",
        "tracestate",
        "baggage",
        "x-request-id",
        "x-amzn-trace-id",
        "x-cloud-trace-context",
    ];
    const PREFIXES: &[&str] = &["cf-", "x-forwarded-", "sec-fetch-", "sec-ch-", "x-b3-"];
    EXACT.contains(&lower_name) || PREFIXES.iter().any(|p| lower_name.starts_with(p))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// What the values seen at one place have in common.
#[derive(Default)]
struct Shape {
    /// How many `null`s were seen here.
    nulls: usize,
    kind: Kind,
}

#[derive(Default)]
enum Kind {
    /// Nothing but nulls (or nothing) seen yet.
    #[default]
    Unknown,
    Boolean,
    Integer,
    Number,
    String,
    Object(ObjShape),
    /// The merged shape of every element of every array seen here.
    Array(Box<Shape>),
    Mixed,
}

/// The keys of the objects seen at one place, in first-seen order.
#[derive(Default)]
struct ObjShape {
    /// How many objects were merged.
    seen: usize,
    keys: Vec<KeyShape>,
    by_name: HashMap<String, usize>,
}

struct KeyShape {
    name: String,
    /// In how many of the objects the key had a non-null value.
    present: usize,
    shape: Shape,
}

impl ObjShape {
    /// Merges one more object found at path depth `depth` (its keys are at `depth + 1`).
    fn absorb(&mut self, map: &Map<String, Value>, depth: usize) {
        self.seen += 1;
        if depth >= MAX_PATH_SEGMENTS {
            return;
        }
        for (k, v) in map {
            let i = match self.by_name.get(k) {
                Some(&i) => i,
                None => {
                    self.keys.push(KeyShape {
                        name: k.clone(),
                        present: 0,
                        shape: Shape::default(),
                    });
                    self.by_name.insert(k.clone(), self.keys.len() - 1);
                    self.keys.len() - 1
                }
            };
            if let Some(key) = self.keys.get_mut(i) {
                if !v.is_null() {
                    key.present += 1;
                }
                key.shape.absorb(v, depth + 1);
            }
        }
    }
}

impl Shape {
    /// Merges one more value found at path depth `depth`. Recursion stops at the path limit.
    fn absorb(&mut self, v: &Value, depth: usize) {
        if v.is_null() {
            self.nulls += 1;
            return;
        }
        if matches!(self.kind, Kind::Unknown) {
            self.kind = match v {
                Value::Bool(_) => Kind::Boolean,
                Value::Number(n) if n.is_i64() || n.is_u64() => Kind::Integer,
                Value::Number(_) => Kind::Number,
                Value::String(_) => Kind::String,
                Value::Object(_) => Kind::Object(ObjShape::default()),
                Value::Array(_) => Kind::Array(Box::default()),
                Value::Null => Kind::Unknown,
            };
        }
        match (&mut self.kind, v) {
            (Kind::Boolean, Value::Bool(_))
            | (Kind::String, Value::String(_))
            | (Kind::Number, Value::Number(_))
            | (Kind::Mixed, _) => {}
            (Kind::Integer, Value::Number(n)) => {
                if !(n.is_i64() || n.is_u64()) {
                    self.kind = Kind::Number;
                }
            }
            (Kind::Object(o), Value::Object(m)) => o.absorb(m, depth),
            (Kind::Array(elements), Value::Array(items)) => {
                if depth < MAX_PATH_SEGMENTS {
                    for item in items {
                        elements.absorb(item, depth + 1);
                    }
                }
            }
            _ => self.kind = Kind::Mixed,
        }
    }

    fn field_type(&self) -> FieldType {
        match self.kind {
            Kind::Unknown | Kind::Mixed => FieldType::Any,
            Kind::Boolean => FieldType::Boolean,
            Kind::Integer => FieldType::Integer,
            Kind::Number => FieldType::Number,
            Kind::String => FieldType::String,
            Kind::Object(_) => FieldType::Object,
            Kind::Array(_) => FieldType::Array,
        }
    }
}

/// Appends a field unless the limits say no; returns whether it was added.
fn push_field(name: &str, ty: FieldType, required: bool, out: &mut Vec<BodyField>) -> bool {
    if out.len() >= MAX_FIELDS || name.len() > MAX_NAME_LEN {
        return false;
    }
    match BodyField::new(name, Constraints::typed(ty, required)) {
        Ok(f) => {
            out.push(f);
            true
        }
        Err(_) => false,
    }
}

/// Declares the keys of an object at `prefix` (`""` for the body, `items[]` for elements) whose
/// path has `depth` segments; `always` says the object itself is always there, so present keys
/// can be required.
fn emit_object(o: &ObjShape, prefix: &str, depth: usize, always: bool, out: &mut Vec<BodyField>) {
    if depth >= MAX_PATH_SEGMENTS {
        return;
    }
    for key in &o.keys {
        if key.name.is_empty() || key.name.contains(['.', '[', ']']) {
            continue;
        }
        let path = if prefix.is_empty() {
            key.name.clone()
        } else {
            format!("{prefix}.{}", key.name)
        };
        let required = always && key.present == o.seen;
        if push_field(&path, key.shape.field_type(), required, out) {
            emit_children(&key.shape, &path, depth + 1, required, out);
        }
    }
}

/// Declares what is inside a value at `path` (with `depth` segments).
fn emit_children(shape: &Shape, path: &str, depth: usize, always: bool, out: &mut Vec<BodyField>) {
    match &shape.kind {
        Kind::Object(o) => emit_object(o, path, depth, always, out),
        Kind::Array(elements) => emit_elements(elements, path, depth, out),
        _ => {}
    }
}

/// Declares the elements of the arrays at `path`. A missing array has no elements, so whether
/// the array was always there does not matter; a null element does (its keys are then missing).
fn emit_elements(elements: &Shape, path: &str, depth: usize, out: &mut Vec<BodyField>) {
    if depth >= MAX_PATH_SEGMENTS {
        return;
    }
    let each = format!("{path}[]");
    match &elements.kind {
        Kind::Object(o) => emit_object(o, &each, depth + 1, elements.nulls == 0, out),
        Kind::Array(inner) => {
            if push_field(&each, FieldType::Array, false, out) {
                emit_elements(inner, &each, depth + 1, out);
            }
        }
        Kind::Boolean | Kind::Integer | Kind::Number | Kind::String => {
            push_field(&each, elements.field_type(), false, out);
        }
        Kind::Unknown | Kind::Mixed => {}
    }
}

#[cfg(test)]
mod tests;
