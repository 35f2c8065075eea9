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
//!   passes [`RequestSchema::parse`].

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
mod tests {
    use super::*;
    use crate::kernel::problem::Errors;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn detect_json(q: Value, h: Value, body: Value) -> Value {
        let s = detect(&obj(q), &obj(h), &body);
        // Whatever is detected must be a valid definition that reads back equal.
        let j = s.to_json();
        let mut errors = Errors::new();
        let back = RequestSchema::parse(&j, "request", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(back.as_ref(), Some(&s));
        j
    }

    fn body_of(body: Value) -> Value {
        detect_json(json!({}), json!({}), body)["body"].clone()
    }

    #[test]
    fn query_params_are_required_strings() {
        let j = detect_json(
            json!({"source": "a", "page": "2", "tag": ["x", "y"]}),
            json!({}),
            Value::Null,
        );
        assert_eq!(
            j,
            json!({
                "query": [{"name": "source", "type": "string", "required": true},
                          {"name": "page", "type": "string", "required": true},
                          {"name": "tag", "type": "string", "required": true}],
                "headers": [],
                "body": []
            })
        );
    }

    #[test]
    fn headers_skip_infrastructure_and_never_copy_values() {
        let headers = json!({
            "host": "example.com", "content-length": "12", "connection": "keep-alive",
            "accept-encoding": "gzip", "user-agent": "curl/8", "cf-ray": "abc", "cf-connecting-ip": "1.2.3.4",
            "x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https", "x-real-ip": "1.2.3.4",
            "accept": "*/*", "cookie": "session=1", "traceparent": "00-…", "sec-fetch-mode": "cors",
            "content-type": "application/json", "x-api-key": "s3cret", "Authorization": "Bearer t",
            "X-GitHub-Event": "push", "bad header": "x"
        });
        let j = detect_json(json!({}), headers, Value::Null);
        assert_eq!(
            j["headers"],
            json!([{"name": "content-type", "required": true},
                   {"name": "x-api-key", "required": true},
                   {"name": "authorization", "required": true},
                   {"name": "x-github-event", "required": true}])
        );
        assert!(!j.to_string().contains("s3cret"));
        assert!(is_incidental_header("cf-ipcountry"));
        assert!(!is_incidental_header("x-hub-signature-256"));
    }

    #[test]
    fn scalars_are_typed() {
        assert_eq!(
            body_of(
                json!({"s": "x", "i": 3, "big": u64::MAX, "n": 1.5, "f": 2.0, "b": true, "z": null})
            ),
            json!([
                {"name": "s", "type": "string", "required": true},
                {"name": "i", "type": "integer", "required": true},
                {"name": "big", "type": "integer", "required": true},
                {"name": "n", "type": "number", "required": true},
                {"name": "f", "type": "number", "required": true},
                {"name": "b", "type": "boolean", "required": true},
                {"name": "z", "type": "any"}
            ])
        );
    }

    #[test]
    fn nested_objects_become_dotted_names() {
        assert_eq!(
            body_of(
                json!({"email": "a@b.c", "address": {"city": "Oslo", "geo": {"lat": 59.9, "note": null}}, "meta": {}})
            ),
            json!([
                {"name": "email", "type": "string", "required": true},
                {"name": "address", "type": "object", "required": true},
                {"name": "address.city", "type": "string", "required": true},
                {"name": "address.geo", "type": "object", "required": true},
                {"name": "address.geo.lat", "type": "number", "required": true},
                {"name": "address.geo.note", "type": "any"},
                {"name": "meta", "type": "object", "required": true}
            ])
        );
    }

    #[test]
    fn arrays_of_objects_merge_keys_across_elements() {
        let body = json!({"items": [
            {"sku": "A", "qty": 1, "price": 2, "opt": "x", "v": 1, "dims": {"w": 1}},
            {"sku": "B", "qty": 2, "price": 2.5, "v": "one", "dims": {"w": 2, "h": 3}},
            {"sku": "C", "qty": 3, "price": 3, "opt": null, "v": true, "dims": null}
        ]});
        assert_eq!(
            body_of(body),
            json!([
                {"name": "items", "type": "array", "required": true},
                {"name": "items[].sku", "type": "string", "required": true},
                {"name": "items[].qty", "type": "integer", "required": true},
                {"name": "items[].price", "type": "number", "required": true},
                {"name": "items[].opt", "type": "string"},
                {"name": "items[].v", "type": "any", "required": true},
                {"name": "items[].dims", "type": "object"},
                {"name": "items[].dims.w", "type": "integer"},
                {"name": "items[].dims.h", "type": "integer"}
            ])
        );
    }

    #[test]
    fn null_elements_make_keys_optional() {
        assert_eq!(
            body_of(json!({"items": [{"sku": "A"}, null]})),
            json!([
                {"name": "items", "type": "array", "required": true},
                {"name": "items[].sku", "type": "string"}
            ])
        );
    }

    #[test]
    fn arrays_of_scalars_arrays_and_mixtures() {
        assert_eq!(
            body_of(json!({
                "tags": ["a", "b"], "nums": [1, 2.5], "empty": [], "mixed": [1, "a"],
                "objs_and_scalars": [{"a": 1}, 2], "m": [[1, 2], [3]],
                "orders": [{"lines": [{"qty": 1}, {"qty": 2, "note": "x"}]}, {"lines": []}]
            })),
            json!([
                {"name": "tags", "type": "array", "required": true},
                {"name": "tags[]", "type": "string"},
                {"name": "nums", "type": "array", "required": true},
                {"name": "nums[]", "type": "number"},
                {"name": "empty", "type": "array", "required": true},
                {"name": "mixed", "type": "array", "required": true},
                {"name": "objs_and_scalars", "type": "array", "required": true},
                {"name": "m", "type": "array", "required": true},
                {"name": "m[]", "type": "array"},
                {"name": "m[][]", "type": "integer"},
                {"name": "orders", "type": "array", "required": true},
                {"name": "orders[].lines", "type": "array", "required": true},
                {"name": "orders[].lines[].qty", "type": "integer", "required": true},
                {"name": "orders[].lines[].note", "type": "string"}
            ])
        );
    }

    #[test]
    fn mixed_types_at_one_key_become_any() {
        assert_eq!(
            body_of(json!({"rows": [{"v": {"a": 1}}, {"v": [1]}, {"v": "s"}]})),
            json!([
                {"name": "rows", "type": "array", "required": true},
                {"name": "rows[].v", "type": "any", "required": true}
            ])
        );
    }

    #[test]
    fn keys_that_are_not_paths_are_skipped() {
        assert_eq!(
            body_of(json!({"a.b": 1, "": 2, "x[0]": 3, "ok": {"c]": 4, "d": 5}})),
            json!([
                {"name": "ok", "type": "object", "required": true},
                {"name": "ok.d", "type": "integer", "required": true}
            ])
        );
    }

    #[test]
    fn non_object_bodies_have_no_fields() {
        assert_eq!(body_of(json!([{"a": 1}])), json!([]));
        assert_eq!(body_of(json!("text")), json!([]));
        assert_eq!(body_of(Value::Null), json!([]));
    }

    #[test]
    fn limits_are_respected() {
        let mut deep = json!(1);
        for _ in 0..200 {
            deep = json!({ "a": deep });
        }
        let fields = body_of(deep);
        let fields = fields.as_array().expect("array");
        assert_eq!(fields.len(), MAX_PATH_SEGMENTS);
        assert_eq!(fields[31]["name"], json!(vec!["a"; 32].join(".")));
        assert_eq!(fields[31]["type"], json!("object"));

        let mut nested = json!([1]);
        for _ in 0..200 {
            nested = json!([nested]);
        }
        let fields = body_of(json!({ "m": nested }));
        assert_eq!(fields.as_array().map(Vec::len), Some(MAX_PATH_SEGMENTS));

        let wide: Map<String, Value> = (0..500).map(|i| (format!("k{i}"), json!(i))).collect();
        let fields = body_of(Value::Object(wide));
        assert_eq!(fields.as_array().map(Vec::len), Some(MAX_FIELDS));

        let long = "k".repeat(MAX_NAME_LEN + 1);
        assert_eq!(body_of(json!({ long: 1 })), json!([]));
    }

    #[test]
    fn the_sample_passes_its_own_schema() {
        let q = json!({"source": "a", "tag": ["x", "y"]});
        let h = json!({"x-api-key": "k", "host": "h", "content-type": "application/json"});
        let body = json!({"email": "a@b.c", "address": {"city": "Oslo"},
                          "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2.5, "x": null}, {"sku": "C"}],
                          "z": null});
        let s = detect(&obj(q.clone()), &obj(h.clone()), &body);
        assert_eq!(s.validate(&obj(q), &obj(h), &body, false), Errors::new());
        // And a request missing what was always there fails.
        let errs = s.validate(&Map::new(), &Map::new(), &json!({"items": [{}]}), false);
        let locs: Vec<_> = errs.0.iter().map(|e| e.location.as_str()).collect();
        assert_eq!(
            locs,
            [
                "query.source",
                "query.tag",
                "header.x-api-key",
                "header.content-type",
                "body.email",
                "body.address",
                "body.address.city",
                "body.items[0].sku"
            ]
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                any::<u64>().prop_map(|n| json!(n)),
                (-1e9f64..1e9).prop_map(|f| json!(f)),
                "[a-z0-9]{0,4}".prop_map(Value::String),
            ];
            leaf.prop_recursive(6, 96, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec(
                        (
                            prop_oneof![
                                Just("a"),
                                Just("b"),
                                Just("c.d"),
                                Just(""),
                                Just("e[]"),
                                Just("f")
                            ],
                            inner
                        ),
                        0..5
                    )
                    .prop_map(|kv| Value::Object(
                        kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                    )),
                ]
            })
        }

        proptest! {
            #[test]
            fn detected_schemas_are_valid_and_accept_their_sample(
                body in json_value(),
                q in prop::collection::btree_map("[a-z]{1,3}", "[a-z0-9]{0,3}", 0..4),
                h in prop::collection::btree_map("(x-|cf-)?[a-z]{1,3}", "[a-z0-9]{0,3}", 0..4),
            ) {
                let q: Map<String, Value> = q.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                let h: Map<String, Value> = h.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                let s = detect(&q, &h, &body);
                let mut errors = Errors::new();
                let back = RequestSchema::parse(&s.to_json(), "request", &mut errors);
                prop_assert!(errors.is_empty(), "{:?}", errors);
                prop_assert_eq!(back.as_ref(), Some(&s));
                prop_assert_eq!(s.validate(&q, &h, &body, false), Errors::new());
            }
        }
    }
}
