use super::*;
use serde_json::json;

fn schema(v: Value) -> RequestSchema {
    let mut errors = Errors::new();
    let s = RequestSchema::parse(&v, "trigger.request", &mut errors);
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    s.expect("schema")
}

fn parse_errors(v: Value) -> Vec<(String, String)> {
    let mut errors = Errors::new();
    let s = RequestSchema::parse(&v, "trigger.request", &mut errors);
    assert!(s.is_none(), "expected parse to fail");
    errors
        .0
        .into_iter()
        .map(|e| (e.location, e.message))
        .collect()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn check(s: &RequestSchema, q: Value, h: Value, body: Value, form: bool) -> Vec<(String, String)> {
    s.validate(&obj(q), &obj(h), &body, form)
        .0
        .into_iter()
        .map(|e| (e.location, e.message))
        .collect()
}

fn body_errors(s: &RequestSchema, body: Value) -> Vec<(String, String)> {
    check(s, json!({}), json!({}), body, false)
}

fn e(loc: &str, msg: &str) -> (String, String) {
    (loc.to_string(), msg.to_string())
}

fn spec_example() -> RequestSchema {
    schema(json!({
        "query":   [{ "name": "source", "required": true, "type": "string", "enum": ["a","b"] },
                    { "name": "page", "type": "integer" }],
        "headers": [{ "name": "x-api-key", "equals": "s3cret" }, { "name": "X-Tenant", "required": true }],
        "body":    [{ "name": "email", "type": "string", "required": true },
                    { "name": "address.city", "type": "string" },
                    { "name": "items[].sku", "type": "string", "required": true, "enum": ["A","B"] }]
    }))
}

// ---- parsing ----------------------------------------------------------------------------

#[test]
fn parses_the_spec_example() {
    let s = spec_example();
    assert_eq!(s.query.len(), 2);
    assert_eq!(s.query[0].name(), "source");
    assert_eq!(
        s.query[0].constraints(),
        &Constraints {
            field_type: FieldType::String,
            required: true,
            equals: None,
            one_of: vec![json!("a"), json!("b")],
        }
    );
    assert_eq!(s.query[1].constraints().field_type, FieldType::Integer);
    assert!(!s.query[1].constraints().required);
    assert_eq!(s.headers[0].lower_name(), "x-api-key");
    assert_eq!(s.headers[0].equals(), Some("s3cret"));
    assert!(!s.headers[0].required());
    assert_eq!(s.headers[1].name(), "X-Tenant");
    assert_eq!(s.headers[1].lower_name(), "x-tenant");
    assert!(s.headers[1].required());
    assert_eq!(
        s.body[1].segments(),
        &[
            PathSegment::Key("address".into()),
            PathSegment::Key("city".into())
        ]
    );
    assert_eq!(
        s.body[2].segments(),
        &[
            PathSegment::Key("items".into()),
            PathSegment::Each,
            PathSegment::Key("sku".into())
        ]
    );
    assert_eq!(s.body[2].last_each, Some(1));
    assert!(!s.is_empty());
}

#[test]
fn everything_is_optional() {
    let s = schema(json!({}));
    assert!(s.is_empty());
    assert_eq!(s, RequestSchema::default());
    let s = schema(json!({"query": null, "headers": [], "body": []}));
    assert!(s.is_empty());
    // Defaults: query params are strings, body fields any, nothing required.
    let s = schema(json!({"query": [{"name": "q"}], "body": [{"name": "b"}]}));
    assert_eq!(
        s.query[0].constraints(),
        &Constraints::typed(FieldType::String, false)
    );
    assert_eq!(
        s.body[0].constraints(),
        &Constraints::typed(FieldType::Any, false)
    );
}

#[test]
fn rejects_a_non_object() {
    assert_eq!(
        parse_errors(json!([1])),
        [e("trigger.request", "must be an object, got array")]
    );
    assert_eq!(
        parse_errors(json!({"query": {"name": "x"}})),
        [e("trigger.request.query", "must be an array, got object")]
    );
    assert_eq!(
        parse_errors(json!({"body": ["email"]})),
        [e(
            "trigger.request.body[0]",
            "must be an object, got string"
        )]
    );
}

#[test]
fn rejects_unknown_fields_by_name() {
    let errs = parse_errors(json!({
        "querry": [],
        "query": [{"name": "a", "requried": true}],
        "headers": [{"name": "x-a", "type": "string"}],
        "body": [{"name": "b", "typ": "string"}]
    }));
    let locs: Vec<_> = errs.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        locs,
        [
            "trigger.request.query[0].requried",
            "trigger.request.headers[0].type",
            "trigger.request.body[0].typ",
            "trigger.request.querry"
        ]
    );
    assert_eq!(
        errs[1].1,
        "unknown field `type`; expected one of: name, required, equals"
    );
    assert!(errs[2].1.starts_with(
        "unknown field `typ` (did you mean `type`?); expected one of: name, required, type"
    ));
    assert!(errs[3].1.contains("query, headers, body"));
}

#[test]
fn unknown_type_lists_the_allowed_ones() {
    let errs = parse_errors(json!({"body": [
        {"name": "a"}, {"name": "b", "type": "string"}, {"name": "c", "type": "strnig"}
    ]}));
    assert_eq!(
        errs,
        [e(
            "trigger.request.body[2].type",
            "unknown type `strnig`; expected one of: string, number, integer, boolean, object, array, null, any"
        )]
    );
    let errs = parse_errors(json!({"query": [{"name": "a", "type": "object"}]}));
    assert_eq!(
        errs,
        [e(
            "trigger.request.query[0].type",
            "unknown type `object`; expected one of: string, integer, number, boolean"
        )]
    );
    let errs = parse_errors(json!({"body": [{"name": "a", "type": 5}]}));
    assert_eq!(
        errs,
        [e(
            "trigger.request.body[0].type",
            "must be a string, got integer"
        )]
    );
}

#[test]
fn rejects_bad_field_paths() {
    for bad in [
        "a..b",
        ".a",
        "a.",
        "items[0].sku",
        "a]",
        "[].x",
        "a[]b",
        "a[",
        "a.[]",
        "[]",
    ] {
        let errs = parse_errors(json!({"body": [{"name": bad}]}));
        assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
        assert_eq!(errs[0].0, "trigger.request.body[0].name", "{bad}");
        assert!(
            errs[0]
                .1
                .starts_with(&format!("`{bad}` is not a valid field path")),
            "{bad}: {}",
            errs[0].1
        );
    }
    let errs = parse_errors(json!({"body": [{"name": ""}]}));
    assert_eq!(
        errs,
        [e("trigger.request.body[0].name", "must not be empty")]
    );
    let deep = vec!["a"; MAX_PATH_SEGMENTS + 1].join(".");
    let errs = parse_errors(json!({"body": [{"name": deep}]}));
    assert!(
        errs[0].1.contains("nested 33 levels deep; at most 32"),
        "{errs:?}"
    );
    let long = "a".repeat(MAX_NAME_LEN + 1);
    let errs = parse_errors(json!({"query": [{"name": long}]}));
    assert_eq!(
        errs,
        [e(
            "trigger.request.query[0].name",
            "is 257 characters long; at most 256 are allowed"
        )]
    );
    // Characters, not bytes: 256 four-byte characters are a valid name.
    let wide = "\u{1F600}".repeat(MAX_NAME_LEN);
    schema(json!({"query": [{"name": wide}]}));
}

#[test]
fn accepts_good_field_paths() {
    let s = schema(json!({"body": [
        {"name": "a"}, {"name": "a b"}, {"name": "tags[]"}, {"name": "m[][]"},
        {"name": "orders[].lines[].qty"}, {"name": "x.y.z"}, {"name": "ünï.cödé"}
    ]}));
    use PathSegment::{Each, Key};
    assert_eq!(s.body[3].segments(), &[Key("m".into()), Each, Each]);
    assert_eq!(
        s.body[4].segments(),
        &[
            Key("orders".into()),
            Each,
            Key("lines".into()),
            Each,
            Key("qty".into())
        ]
    );
    assert_eq!(s.body[4].last_each, Some(3));
    assert_eq!(s.body[5].last_each, None);
    assert_eq!(path_text(s.body[4].segments()), "orders[].lines[].qty");
}

#[test]
fn enum_and_equals_values_must_match_the_type() {
    let errs = parse_errors(json!({
        "query": [{"name": "n", "enum": ["1", 2]},
                  {"name": "p", "type": "integer", "enum": [1, 2.5], "equals": "1"}],
        "body": [{"name": "a", "type": "string", "enum": ["A", 1, null]},
                 {"name": "b", "type": "boolean", "equals": "true"},
                 {"name": "c", "enum": []},
                 {"name": "d", "enum": "A"},
                 {"name": "e", "type": "integer", "enum": [1, 2.0, 3]}]
    }));
    assert_eq!(
        errs,
        [
            e(
                "trigger.request.query[0].enum[1]",
                "must be a string like the field's type, got integer (set `type` for other kinds of value)"
            ),
            e(
                "trigger.request.query[1].equals",
                "must be an integer like the field's type, got string"
            ),
            e(
                "trigger.request.query[1].enum[1]",
                "must be an integer like the field's type, got number"
            ),
            e(
                "trigger.request.body[0].enum[1]",
                "must be a string like the field's type, got integer"
            ),
            e(
                "trigger.request.body[0].enum[2]",
                "must be a string like the field's type, got null"
            ),
            e(
                "trigger.request.body[1].equals",
                "must be a boolean like the field's type, got string"
            ),
            e("trigger.request.body[2].enum", "must list at least one allowed value"),
            e(
                "trigger.request.body[3].enum",
                "must be an array of allowed values, got string"
            ),
        ]
    );
}

#[test]
fn rejects_duplicates() {
    let errs = parse_errors(json!({
        "query": [{"name": "a"}, {"name": "A"}, {"name": "a"}],
        "headers": [{"name": "X-Key"}, {"name": "x-key"}],
        "body": [{"name": "items[].sku"}, {"name": "email"}, {"name": "items[].sku"}]
    }));
    assert_eq!(
        errs,
        [
            e(
                "trigger.request.query[2].name",
                "duplicate query parameter `a` (first at trigger.request.query[0])"
            ),
            e(
                "trigger.request.headers[1].name",
                "duplicate header `x-key` (first at trigger.request.headers[0]; header names are case-insensitive)"
            ),
            e(
                "trigger.request.body[2].name",
                "duplicate body field `items[].sku` (first at trigger.request.body[0])"
            ),
        ]
    );
}

#[test]
fn rejects_contradicting_paths() {
    let errs = parse_errors(json!({"body": [
        {"name": "address", "type": "string"},
        {"name": "address.city"},
        {"name": "a.x"},
        {"name": "a[].y"},
        {"name": "items", "type": "object"},
        {"name": "items[].sku"}
    ]}));
    assert_eq!(
        errs,
        [
            e(
                "trigger.request.body[1].name",
                "`address.city` treats `address` as an object, but `address` is declared with type string"
            ),
            e(
                "trigger.request.body[3].name",
                "`a[].y` treats `a` as an array, but `a.x` treats it as an object"
            ),
            e(
                "trigger.request.body[5].name",
                "`items[].sku` treats `items` as an array, but `items` is declared with type object"
            ),
        ]
    );
    // Matching declarations are fine.
    schema(json!({"body": [
        {"name": "address", "type": "object", "required": true},
        {"name": "address.city"},
        {"name": "items", "type": "array"},
        {"name": "items[].sku"},
        {"name": "meta", "type": "any"},
        {"name": "meta.x"}
    ]}));
}

#[test]
fn header_rules_are_checked() {
    let errs = parse_errors(json!({"headers": [
        {"name": "x api"}, {"equals": "x"}, {"name": "x-a", "equals": 5}, {"name": "x-b", "required": "yes"}
    ]}));
    assert_eq!(
        errs,
        [
            e(
                "trigger.request.headers[0].name",
                "`x api` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
            ),
            e("trigger.request.headers[1].name", "is required"),
            e(
                "trigger.request.headers[2].equals",
                "must be a string, got integer"
            ),
            e(
                "trigger.request.headers[3].required",
                "must be a boolean, got string"
            ),
        ]
    );
}

#[test]
fn limits_the_number_of_entries() {
    let many: Vec<_> = (0..=MAX_FIELDS)
        .map(|i| json!({"name": format!("f{i}")}))
        .collect();
    let errs = parse_errors(json!({"body": many}));
    assert_eq!(
        errs,
        [e(
            "trigger.request.body",
            "has 201 entries; at most 200 are allowed"
        )]
    );
}

#[test]
fn round_trips_through_json() {
    let s = schema(json!({
        "query": [{"name": "source", "required": true, "enum": ["a", "b"]},
                  {"name": "page", "type": "integer", "equals": 3}],
        "headers": [{"name": "X-Api-Key", "equals": "s3cret", "required": true}, {"name": "x-b"}],
        "body": [{"name": "email", "type": "string", "required": true},
                 {"name": "meta", "type": "any", "equals": {"a": [1, 2]}},
                 {"name": "items[].sku", "type": "string", "enum": ["A", "B"], "required": true},
                 {"name": "n", "type": "null"}]
    }));
    let j = s.to_json();
    assert_eq!(
        j,
        json!({
            "query": [{"name": "source", "type": "string", "required": true, "enum": ["a", "b"]},
                      {"name": "page", "type": "integer", "equals": 3}],
            "headers": [{"name": "X-Api-Key", "required": true, "equals": "s3cret"}, {"name": "x-b"}],
            "body": [{"name": "email", "type": "string", "required": true},
                     {"name": "meta", "type": "any", "equals": {"a": [1, 2]}},
                     {"name": "items[].sku", "type": "string", "required": true, "enum": ["A", "B"]},
                     {"name": "n", "type": "null"}]
        })
    );
    assert_eq!(schema(j), s);
    assert_eq!(
        schema(RequestSchema::default().to_json()),
        RequestSchema::default()
    );
}

// ---- validating: query ------------------------------------------------------------------

#[test]
fn valid_request_passes() {
    let s = spec_example();
    let errs = check(
        &s,
        json!({"source": "a", "page": "2"}),
        json!({"x-api-key": "s3cret", "x-tenant": "t1"}),
        json!({"email": "a@b.c", "address": {"city": "Oslo"}, "items": [{"sku": "A"}, {"sku": "B"}]}),
        false,
    );
    assert_eq!(errs, []);
    // Optional things may be missing entirely (a header with `equals` is not optional).
    let errs = check(
        &s,
        json!({"source": "b"}),
        json!({"x-api-key": "s3cret", "x-tenant": "t1"}),
        json!({"email": "a@b.c"}),
        false,
    );
    assert_eq!(errs, []);
}

#[test]
fn reports_every_violation_with_its_location() {
    let s = spec_example();
    let body = json!({"address": {"city": 5}, "items": [{"sku": "A"}, {}, {"sku": "Z"}]});
    let errs = check(
        &s,
        json!({"source": "c", "page": "abc"}),
        json!({"x-api-key": "s3cret"}),
        body.clone(),
        false,
    );
    assert_eq!(
        errs,
        [
            e("query.source", "must be one of: a, b (got string \"c\")"),
            e("query.page", "must be an integer, got string \"abc\""),
            e("header.x-tenant", "is required"),
            e("body.email", "is required"),
            e("body.address.city", "must be a string, got integer 5"),
            e("body.items[1].sku", "is required"),
            e(
                "body.items[2].sku",
                "must be one of: A, B (got string \"Z\")"
            ),
        ]
    );
    assert!(!errs.iter().any(|(_, m)| m.contains("s3cret")));
    // A request that fails a gate (`equals`) is told only that: nothing else of the schema.
    let errs = check(
        &s,
        json!({"source": "c", "page": "abc"}),
        json!({"x-api-key": "wrong"}),
        body,
        false,
    );
    assert_eq!(
        errs,
        [e("header.x-api-key", "must equal the configured value")]
    );
}

#[test]
fn query_values_are_parsed_by_type() {
    let s = schema(json!({"query": [
        {"name": "i", "type": "integer", "enum": [1, 2]},
        {"name": "n", "type": "number"},
        {"name": "b", "type": "boolean", "equals": true},
        {"name": "s", "required": true}
    ]}));
    let q = |v: Value| check(&s, v, json!({}), Value::Null, false);
    assert_eq!(
        q(json!({"i": "2", "n": "-1.5e3", "b": "true", "s": ""})),
        []
    );
    assert_eq!(q(json!({"i": "2.0", "n": "7", "b": "true", "s": "x"})), []);
    assert_eq!(
        q(json!({"i": "3", "n": "NaN", "b": "true"})),
        [
            e("query.i", "must be one of: 1, 2 (got string \"3\")"),
            e("query.n", "must be a number, got string \"NaN\""),
            e("query.s", "is required"),
        ]
    );
    assert_eq!(
        q(json!({"n": "inf", "b": "true", "i": "1.5", "s": []})),
        [
            e("query.i", "must be an integer, got string \"1.5\""),
            e("query.n", "must be a number, got string \"inf\""),
            e("query.s", "is required"),
        ]
    );
    // `b` is a gate (`equals`): failing it is the only error told.
    assert_eq!(
        q(json!({"i": "3", "n": "NaN", "b": "yes"})),
        [e("query.b", "must be a boolean, got string \"yes\"")]
    );
    assert_eq!(
        q(json!({"n": "inf", "b": "false", "i": "1.5", "s": []})),
        [e("query.b", "must equal the configured value")]
    );
}

#[test]
fn repeated_query_keys_check_each_value() {
    let s = schema(
        json!({"query": [{"name": "tag", "enum": ["a", "b"]}, {"name": "n", "type": "integer"}]}),
    );
    let errs = check(
        &s,
        json!({"tag": ["a", "x", "b", "y"], "n": ["1", "2"]}),
        json!({}),
        Value::Null,
        false,
    );
    assert_eq!(
        errs,
        [
            e("query.tag", "must be one of: a, b (got string \"x\")"),
            e("query.tag", "must be one of: a, b (got string \"y\")"),
        ]
    );
}

#[test]
fn query_equals_is_not_echoed() {
    let s = schema(json!({"query": [{"name": "token", "equals": "hunter2", "required": true}]}));
    let errs = check(
        &s,
        json!({"token": "hunter"}),
        json!({}),
        Value::Null,
        false,
    );
    assert_eq!(errs, [e("query.token", "must equal the configured value")]);
    assert_eq!(
        check(
            &s,
            json!({"token": "hunter2"}),
            json!({}),
            Value::Null,
            false
        ),
        []
    );
}

#[test]
fn equals_makes_a_field_required() {
    // A rule with `equals` and no `required` is a gate: leaving the field out does not pass it,
    // and the answer is the one a wrong value gets (nothing tells "absent" from "wrong").
    let s = schema(json!({
        "query": [{"name": "token", "equals": "hunter2"}],
        "headers": [{"name": "X-Api-Key", "equals": "s3cret"}],
        "body": [{"name": "auth.key", "type": "string", "equals": "verify-me"},
                 {"name": "items[].kind", "equals": "a"}]
    }));
    let wrong = "must equal the configured value";
    // The gates of the query and headers first: the body is checked once they pass.
    let all = [e("query.token", wrong), e("header.x-api-key", wrong)];
    assert_eq!(check(&s, json!({}), json!({}), json!({}), false), all);
    // `null` and an empty list of values count as absent.
    assert_eq!(
        check(
            &s,
            json!({"token": []}),
            json!({"x-api-key": null}),
            json!({"auth": {"key": null}}),
            false
        ),
        all
    );
    assert_eq!(
        check(
            &s,
            json!({"token": "hunter2"}),
            json!({"x-api-key": "s3cret"}),
            json!({"auth": {"key": null}}),
            false
        ),
        [e("body.auth.key", wrong)]
    );
    // Under `[]` it holds for every element there is (no array, no elements).
    assert_eq!(
        check(
            &s,
            json!({"token": "hunter2"}),
            json!({"x-api-key": "s3cret"}),
            json!({"auth": {"key": "verify-me"}, "items": [{"kind": "a"}, {}]}),
            false
        ),
        [e("body.items[1].kind", wrong)]
    );
    assert_eq!(
        check(
            &s,
            json!({"token": "hunter2"}),
            json!({"x-api-key": "s3cret"}),
            json!({"auth": {"key": "verify-me"}}),
            false
        ),
        []
    );
}

// ---- validating: headers ----------------------------------------------------------------

#[test]
fn header_names_compare_case_insensitively() {
    let s = schema(
        json!({"headers": [{"name": "X-Tenant", "required": true}, {"name": "X-API-Key", "equals": "s3cret"}]}),
    );
    let h = |v: Value| check(&s, json!({}), v, Value::Null, false);
    assert_eq!(h(json!({"x-tenant": "t", "x-api-key": "s3cret"})), []);
    // Incoming names not lowercased (defensive) still match.
    assert_eq!(h(json!({"X-TENANT": "t", "X-Api-Key": "s3cret"})), []);
    // A gate that fails is the only error told.
    assert_eq!(
        h(json!({"x-api-key": "S3CRET"})),
        [e("header.x-api-key", "must equal the configured value")]
    );
    assert_eq!(
        h(json!({"x-api-key": "s3cret"})),
        [e("header.x-tenant", "is required")]
    );
    // Header values compare exactly (case-sensitive), every repeated value must match.
    assert_eq!(
        h(json!({"x-tenant": "t", "x-api-key": ["s3cret", "nope"]})),
        [e("header.x-api-key", "must equal the configured value")]
    );
    assert_eq!(
        h(json!({"x-tenant": null, "x-api-key": 5})),
        [e("header.x-api-key", "must equal the configured value")]
    );
}

// ---- validating: body -------------------------------------------------------------------

#[test]
fn missing_intermediate_object_reports_the_leaf_once() {
    let s = schema(json!({"body": [
        {"name": "address.geo.lat", "type": "number", "required": true},
        {"name": "address.geo.lng", "type": "number"},
        {"name": "address.zip", "type": "string", "required": true}
    ]}));
    assert_eq!(
        body_errors(&s, json!({})),
        [
            e("body.address.geo.lat", "is required"),
            e("body.address.zip", "is required"),
        ]
    );
    assert_eq!(
        body_errors(&s, json!({"address": null})),
        [
            e("body.address.geo.lat", "is required"),
            e("body.address.zip", "is required"),
        ]
    );
    assert_eq!(
        body_errors(&s, json!({"address": {"zip": "1", "geo": {}}})),
        [e("body.address.geo.lat", "is required")]
    );
    assert_eq!(
        body_errors(
            &s,
            json!({"address": {"zip": "1", "geo": {"lat": 1, "lng": "x"}}})
        ),
        [e(
            "body.address.geo.lng",
            "must be a number, got string \"x\""
        )]
    );
}

#[test]
fn wrong_kind_of_intermediate_is_reported_once_at_its_path() {
    let s = schema(json!({"body": [
        {"name": "address", "type": "object"},
        {"name": "address.city", "required": true},
        {"name": "address.zip"},
        {"name": "items[].sku"},
        {"name": "items[].qty"}
    ]}));
    assert_eq!(
        body_errors(&s, json!({"address": [1], "items": {"sku": "A"}})),
        [
            e("body.address", "must be an object, got array"),
            e("body.items", "must be an array, got object"),
        ]
    );
    assert_eq!(
        body_errors(
            &s,
            json!({"address": {"city": 1}, "items": [{"sku": 1}, "x", [2]]})
        ),
        [
            e("body.items[1]", "must be an object, got string \"x\""),
            e("body.items[2]", "must be an object, got array"),
        ]
    );
}

#[test]
fn required_under_arrays_applies_to_every_element() {
    let s = schema(json!({"body": [
        {"name": "orders[].id", "type": "integer", "required": true},
        {"name": "orders[].lines[].qty", "type": "integer", "required": true},
        {"name": "orders[].lines[].note.text", "type": "string", "required": true}
    ]}));
    // No array, or an empty one: nothing to check.
    assert_eq!(body_errors(&s, json!({})), []);
    assert_eq!(body_errors(&s, json!({"orders": []})), []);
    assert_eq!(body_errors(&s, json!({"orders": null})), []);
    let body = json!({"orders": [
        {"id": 1, "lines": [{"qty": 1, "note": {"text": "x"}}]},
        {"id": "2", "lines": [{"qty": 1.5, "note": {}}, {"note": null}, null]},
        {},
        null
    ]});
    assert_eq!(
        body_errors(&s, body),
        [
            e("body.orders[1].id", "must be an integer, got string \"2\""),
            e("body.orders[2].id", "is required"),
            e("body.orders[3].id", "is required"),
            e(
                "body.orders[1].lines[0].qty",
                "must be an integer, got number 1.5"
            ),
            e("body.orders[1].lines[1].qty", "is required"),
            e("body.orders[1].lines[2].qty", "is required"),
            e("body.orders[1].lines[0].note.text", "is required"),
            e("body.orders[1].lines[1].note.text", "is required"),
            e("body.orders[1].lines[2].note.text", "is required"),
        ]
    );
}

#[test]
fn array_leaves_and_nested_arrays() {
    let s = schema(json!({"body": [
        {"name": "tags[]", "type": "string", "required": true},
        {"name": "matrix[][]", "type": "integer", "enum": [0, 1]}
    ]}));
    assert_eq!(
        body_errors(
            &s,
            json!({"tags": ["a", 1, null], "matrix": [[0, 1], [2], 3, [1.0]]})
        ),
        [
            e("body.tags[1]", "must be a string, got integer 1"),
            e("body.tags[2]", "is required, got null"),
            e("body.matrix[1][0]", "must be one of: 0, 1 (got integer 2)"),
            e("body.matrix[2]", "must be an array, got integer 3"),
        ]
    );
}

#[test]
fn null_counts_as_absent_except_for_null_and_any() {
    let s = schema(json!({"body": [
        {"name": "a", "type": "string"},
        {"name": "b", "type": "string", "required": true},
        {"name": "c", "type": "null", "required": true},
        {"name": "d", "type": "any", "required": true},
        {"name": "e", "type": "null"}
    ]}));
    assert_eq!(
        body_errors(
            &s,
            json!({"a": null, "b": null, "c": null, "d": null, "e": 1})
        ),
        [
            e("body.b", "is required, got null"),
            e("body.e", "must be null, got integer 1"),
        ]
    );
    assert_eq!(
        body_errors(&s, json!({"b": "x"})),
        [e("body.c", "is required"), e("body.d", "is required")]
    );
}

#[test]
fn every_type_is_checked() {
    let s = schema(json!({"body": [
        {"name": "s", "type": "string"}, {"name": "n", "type": "number"},
        {"name": "i", "type": "integer"}, {"name": "b", "type": "boolean"},
        {"name": "o", "type": "object"}, {"name": "a", "type": "array"},
        {"name": "z", "type": "null"}, {"name": "y", "type": "any"}
    ]}));
    let good =
        json!({"s": "x", "n": 1.5, "i": 3.0, "b": false, "o": {}, "a": [], "z": null, "y": [1]});
    assert_eq!(body_errors(&s, good), []);
    let bad =
        json!({"s": 1, "n": "1", "i": 1.5, "b": "true", "o": [], "a": {}, "z": false, "y": {}});
    assert_eq!(
        body_errors(&s, bad),
        [
            e("body.s", "must be a string, got integer 1"),
            e("body.n", "must be a number, got string \"1\""),
            e("body.i", "must be an integer, got number 1.5"),
            e("body.b", "must be a boolean, got string \"true\""),
            e("body.o", "must be an object, got array"),
            e("body.a", "must be an array, got object"),
            e("body.z", "must be null, got boolean false"),
        ]
    );
    let big = json!({"i": u64::MAX, "n": -5});
    assert_eq!(body_errors(&s, big), []);
}

#[test]
fn form_bodies_parse_typed_strings() {
    let s = schema(json!({"body": [
        {"name": "age", "type": "integer", "required": true, "enum": [18, 21]},
        {"name": "price", "type": "number"},
        {"name": "agree", "type": "boolean", "equals": true},
        {"name": "name", "type": "string"},
        {"name": "ids[]", "type": "integer"}
    ]}));
    let body =
        json!({"age": "21", "price": "9.99", "agree": "true", "name": "42", "ids": ["1", "2"]});
    assert_eq!(check(&s, json!({}), json!({}), body.clone(), true), []);
    // The same strings in a JSON body are strings, not numbers.
    assert_eq!(
        check(&s, json!({}), json!({}), body, false),
        [
            e("body.age", "must be an integer, got string \"21\""),
            e("body.price", "must be a number, got string \"9.99\""),
            e("body.agree", "must be a boolean, got string \"true\""),
            e("body.ids[0]", "must be an integer, got string \"1\""),
            e("body.ids[1]", "must be an integer, got string \"2\""),
        ]
    );
    let bad = json!({"age": "20", "price": "cheap", "agree": "on", "ids": ["x"]});
    assert_eq!(
        check(&s, json!({}), json!({}), bad, true),
        [
            e("body.age", "must be one of: 18, 21 (got string \"20\")"),
            e("body.price", "must be a number, got string \"cheap\""),
            e("body.agree", "must be a boolean, got string \"on\""),
            e("body.ids[0]", "must be an integer, got string \"x\""),
        ]
    );
}

#[test]
fn numbers_compare_by_value() {
    let s = schema(json!({"body": [
        {"name": "n", "type": "number", "enum": [1, 2.5]},
        {"name": "i", "type": "integer", "equals": 3},
        {"name": "o", "type": "any", "equals": {"a": [1, {"b": 2}]}}
    ]}));
    assert_eq!(
        body_errors(&s, json!({"n": 1.0, "i": 3.0, "o": {"a": [1.0, {"b": 2}]}})),
        []
    );
    assert_eq!(
        body_errors(
            &s,
            json!({"n": 2, "i": 4, "o": {"a": [1, {"b": 2}], "c": 1}})
        ),
        [
            e("body.n", "must be one of: 1, 2.5 (got integer 2)"),
            e("body.i", "must equal the configured value"),
            e("body.o", "must equal the configured value"),
        ]
    );
}

#[test]
fn body_equals_is_not_echoed() {
    let s = schema(json!({"body": [{"name": "token", "type": "string", "equals": "verify-me"}]}));
    let errs = body_errors(&s, json!({"token": "guess"}));
    assert_eq!(errs, [e("body.token", "must equal the configured value")]);
    assert_eq!(body_errors(&s, json!({"token": "verify-me"})), []);
    let any = schema(json!({"body": [{"name": "t", "equals": "verify-me"}]}));
    assert_eq!(body_errors(&any, json!({"t": "verify-me"})), []);
    assert_eq!(
        body_errors(&any, json!({"t": "verify-m"})),
        [e("body.t", "must equal the configured value")]
    );
}

#[test]
fn a_body_that_is_not_an_object_has_no_fields() {
    let s = schema(json!({"body": [
        {"name": "email", "required": true}, {"name": "note"}, {"name": "items[].sku", "required": true}
    ]}));
    assert_eq!(
        body_errors(&s, json!([{"email": "x"}])),
        [e(
            "body.email",
            "is required (the body is an array, not a JSON object)"
        )]
    );
    assert_eq!(
        body_errors(&s, json!("text")),
        [e(
            "body.email",
            "is required (the body is a string, not a JSON object)"
        )]
    );
    assert_eq!(
        body_errors(&s, Value::Null),
        [e("body.email", "is required")]
    );
    let optional = schema(json!({"body": [{"name": "note"}]}));
    assert_eq!(body_errors(&optional, json!(12)), []);
}

#[test]
fn long_strings_are_cut_in_messages() {
    let s = schema(json!({"body": [{"name": "n", "type": "integer"}]}));
    let long = "é".repeat(100);
    let errs = body_errors(&s, json!({ "n": long }));
    assert_eq!(
        errs[0].1,
        format!(
            "must be an integer, got string \"{}\"…",
            "é".repeat(QUOTED_CHARS)
        )
    );
}

#[test]
fn long_enums_are_cut_in_messages() {
    let values: Vec<_> = (0..25).collect();
    let s = schema(json!({"body": [{"name": "n", "type": "integer", "enum": values}]}));
    let errs = body_errors(&s, json!({"n": 99}));
    assert_eq!(
        errs[0].1,
        "must be one of: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, … (5 more) (got integer 99)"
    );
}

#[test]
fn huge_inputs_list_a_bounded_number_of_errors() {
    let s = schema(json!({"body": [{"name": "items[].sku", "required": true}]}));
    let items: Vec<Value> = (0..100_000).map(|_| json!({})).collect();
    let errs = body_errors(&s, json!({ "items": items }));
    assert_eq!(errs.len(), MAX_ERRORS + 1);
    assert_eq!(errs[0], e("body.items[0].sku", "is required"));
    assert_eq!(errs[99], e("body.items[99].sku", "is required"));
    assert_eq!(
        errs[100],
        e(
            "body.items[100].sku",
            "and more problems from here on that are not listed (at most 100 are shown)"
        )
    );
}

#[test]
fn deep_bodies_do_not_matter() {
    let s = schema(json!({"body": [{"name": "a.a.a", "required": true}, {"name": "x[][]"}]}));
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!({ "a": deep });
    }
    assert_eq!(body_errors(&s, deep), []);
    let mut deep = json!([1]);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    assert_eq!(
        body_errors(&s, json!({"a": {"a": {"a": 1}}, "x": deep })),
        []
    );
}

#[test]
fn body_location_never_panics_on_short_index_lists() {
    let segs = [PathSegment::Key("a".into()), PathSegment::Each];
    assert_eq!(body_location(&segs, 2, None), "body.a[]");
    assert_eq!(body_location(&segs, 9, None), "body.a[]");
}

// ---- property: random schemas against random requests --------------------------------

mod props {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            prop_oneof![
                Just("A".to_string()),
                Just("1".to_string()),
                Just("true".to_string()),
                "[a-zé ]{0,6}"
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![Just("a"), Just("b"), Just("items"), Just("x")],
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

    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec(
            (
                prop_oneof![Just("a"), Just("b"), Just("items"), Just("x")],
                0..3usize,
            ),
            1..5,
        )
        .prop_map(|parts| {
            parts
                .into_iter()
                .map(|(k, n)| format!("{k}{}", "[]".repeat(n)))
                .collect::<Vec<_>>()
                .join(".")
        })
    }

    fn type_name_strategy() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "string", "number", "integer", "boolean", "object", "array", "null", "any",
        ])
    }

    fn field() -> impl Strategy<Value = Value> {
        (
            path(),
            type_name_strategy(),
            any::<bool>(),
            prop::option::of(prop::collection::vec(json_value(), 1..4)),
            prop::option::of(json_value()),
        )
            .prop_map(|(name, ty, required, one_of, equals)| {
                let mut m = Map::new();
                m.insert("name".into(), json!(name));
                m.insert("type".into(), json!(ty));
                m.insert("required".into(), json!(required));
                let ft = FieldType::from_name(ty).unwrap_or(FieldType::Any);
                if let Some(v) = one_of {
                    let v: Vec<_> = v.into_iter().filter(|x| ft.admits(x)).collect();
                    if !v.is_empty() {
                        m.insert("enum".into(), Value::Array(v));
                    }
                }
                if let Some(e) = equals.filter(|x| ft.admits(x) && !x.is_null()) {
                    m.insert("equals".into(), e);
                }
                Value::Object(m)
            })
    }

    fn definition() -> impl Strategy<Value = Value> {
        (
            prop::collection::vec(field(), 0..6),
            prop::collection::vec(
                (
                    prop_oneof![Just("a"), Just("b")],
                    prop::sample::select(vec!["string", "integer", "number", "boolean"]),
                    any::<bool>(),
                ),
                0..3,
            ),
            prop::collection::vec(
                (
                    prop_oneof![Just("X-A"), Just("x-b")],
                    any::<bool>(),
                    prop::option::of("[a-c]{1,2}"),
                ),
                0..3,
            ),
        )
            .prop_map(|(body, query, headers)| {
                let query: Vec<_> = query
                    .into_iter()
                    .map(|(n, t, r)| json!({"name": n, "type": t, "required": r}))
                    .collect();
                let headers: Vec<_> = headers
                    .into_iter()
                    .map(|(n, r, eq)| match eq {
                        Some(eq) => json!({"name": n, "required": r, "equals": eq}),
                        None => json!({"name": n, "required": r}),
                    })
                    .collect();
                json!({"query": query, "headers": headers, "body": body})
            })
    }

    fn string_map() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::vec(
            (
                prop_oneof![Just("a"), Just("b"), Just("x-a"), Just("x-b")],
                prop_oneof![
                    "[a-c0-9.]{0,3}".prop_map(Value::String),
                    prop::collection::vec("[a-c0-9]{0,2}", 0..3)
                        .prop_map(|v| Value::Array(v.into_iter().map(Value::String).collect())),
                ],
            ),
            0..4,
        )
        .prop_map(|kv| kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    proptest! {
        #[test]
        fn random_requests_never_panic_and_are_located(
            def in definition(),
            query in string_map(),
            headers in string_map(),
            body in json_value(),
            form in any::<bool>(),
        ) {
            let mut errors = Errors::new();
            // Random paths may duplicate or contradict each other: then parsing fails, with located errors.
            match RequestSchema::parse(&def, "trigger.request", &mut errors) {
                None => prop_assert!(errors.0.iter().all(|e| e.location.starts_with("trigger.request"))),
                Some(s) => {
                    prop_assert!(errors.is_empty());
                    prop_assert_eq!(&RequestSchema::parse(&s.to_json(), "r", &mut Errors::new()), &Some(s.clone()));
                    let errs = s.validate(&query, &headers, &body, form);
                    prop_assert!(errs.len() <= MAX_ERRORS + 1);
                    for e in &errs.0 {
                        prop_assert!(
                            e.location.starts_with("query.") || e.location.starts_with("header.") || e.location.starts_with("body."),
                            "bad location {:?}", e.location
                        );
                        prop_assert!(!e.message.is_empty());
                    }
                }
            }
        }
    }
}
