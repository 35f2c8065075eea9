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

#[test]
fn applying_a_detected_schema_keeps_the_drafts_gates() {
    let mut detected = detect_json(
        json!({"page": "1", "token": "abc"}),
        json!({"X-Api-Key": "S", "x-event": "push"}),
        json!({"id": 1}),
    );
    let current = json!({
        "query": [{"name": "token", "type": "string", "equals": "abc"}],
        "headers": [
            {"name": "x-api-key", "equals": "S"},
            {"name": "x-other-gate", "equals": "T"},
            {"name": "x-event", "required": true}
        ],
        "body": []
    });
    keep_gates(&mut detected, &current);
    assert_eq!(
        detected["headers"],
        json!([
            {"name": "x-api-key", "equals": "S"},
            {"name": "x-event", "required": true},
            {"name": "x-other-gate", "equals": "T"}
        ])
    );
    assert_eq!(
        detected["query"][1],
        json!({"name": "token", "type": "string", "equals": "abc"})
    );
    assert_eq!(detected["query"][0]["name"], "page");
    // The result is still a schema the definition accepts.
    let mut errors = Errors::new();
    assert!(
        RequestSchema::parse(&detected, "request", &mut errors).is_some(),
        "{errors:?}"
    );

    // A sample with as many headers as the limit allows still makes room for the gates.
    let many: Map<String, Value> = (0..MAX_FIELDS)
        .map(|i| (format!("x-h{i:03}"), json!("v")))
        .collect();
    let mut detected = detect_json(json!({}), Value::Object(many), json!({}));
    keep_gates(&mut detected, &current);
    let headers = detected["headers"].as_array().unwrap();
    assert_eq!(headers.len(), MAX_FIELDS);
    assert_eq!(
        headers[MAX_FIELDS - 2],
        json!({"name": "x-api-key", "equals": "S"})
    );
    assert_eq!(
        headers[MAX_FIELDS - 1],
        json!({"name": "x-other-gate", "equals": "T"})
    );
    let mut errors = Errors::new();
    assert!(
        RequestSchema::parse(&detected, "request", &mut errors).is_some(),
        "{errors:?}"
    );
}
