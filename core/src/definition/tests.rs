use super::*;
use serde_json::json;

fn locations(v: Value) -> Vec<String> {
    match Definition::parse(&v) {
        Ok(_) => vec![],
        Err(e) => e.0.into_iter().map(|e| e.location).collect(),
    }
}

/// The problems of saving `v`, as `location: message`.
fn problems(v: Value) -> Vec<String> {
    match Definition::parse(&v) {
        Ok(_) => vec![],
        Err(e) => {
            e.0.into_iter()
                .map(|e| format!("{}: {}", e.location, e.message))
                .collect()
        }
    }
}

/// No field that names a trigger's secret may name a key Tripline holds (`ADMIN_TOKEN`, the
/// encryption and sign-in keys): each is refused where it is written.
#[test]
fn no_secret_field_may_name_the_platform_s_own() {
    let oauth = |name: &str| {
        json!({"name": "o", "trigger": {"type": "oauth", "authorize_url": "https://p.example/a",
               "token_url": "https://p.example/t", "client_id": "c", "client_secret_env": name,
               "success_url": "https://app.example/done"}, "steps": []})
    };
    let endpoint = |name: &str| {
        json!({"name": "e", "trigger": {"type": "endpoint",
               "verify": {"scheme": "github", "secret_env": name}}, "steps": []})
    };
    let pg = |name: &str| {
        json!({"name": "p", "trigger": {"type": "poll", "interval_seconds": 60,
               "source": {"kind": "postgres", "connection_env": name, "table": "public.t",
                          "cursor": "id"}}, "steps": []})
    };
    for name in [
        "ADMIN_TOKEN",
        "TRIPLINE_ENCRYPTION_KEY",
        "TRIPLINE_SIGNIN_KEY_PREVIOUS",
    ] {
        assert_eq!(
            locations(oauth(name)),
            ["trigger.client_secret_env"],
            "{name}"
        );
        assert_eq!(
            locations(endpoint(name)),
            ["trigger.verify.secret_env"],
            "{name}"
        );
        assert_eq!(
            locations(pg(name)),
            ["trigger.source.connection_env"],
            "{name}"
        );
    }
    assert_eq!(locations(oauth("PROVIDER_SECRET")), Vec::<String>::new());
    assert_eq!(locations(endpoint("GITHUB_SECRET")), Vec::<String>::new());
    assert_eq!(locations(pg("PG_URL")), Vec::<String>::new());
    // A secret of one's own may still be named `TRIPLINE_…` here.
    assert_eq!(locations(pg("TRIPLINE_PG_URL")), Vec::<String>::new());
}

#[test]
fn the_design_example_parses() {
    let v = json!({
      "name": "Lead created",
      "trigger": { "type": "endpoint", "method": "POST",
        "request": {
          "query":   [{ "name": "source", "required": true }],
          "headers": [{ "name": "x-api-key", "equals": "s3cret" }],
          "body":    [{ "name": "email", "type": "string", "required": true },
                      { "name": "address.city", "type": "string" }] } },
      "steps": [
        { "type": "http", "name": "notify", "method": "POST", "url": "https://example.com/hook",
          "json": { "email": "{{request.body.email}}" } },
        { "type": "response", "status": 200, "json": { "ok": true, "id": "{{steps.notify.body.id}}" } }
      ]
    });
    let d = Definition::parse(&v).unwrap();
    assert_eq!(d.name, "Lead created");
    assert_eq!(d.trigger.kind(), TriggerKind::Endpoint);
    assert_eq!(d.steps.len(), 2);
}

#[test]
fn invalid_definitions_name_their_locations() {
    let cases: Vec<(Value, &str)> = vec![
        (json!([]), "$"),
        (json!({"trigger": {"type": "endpoint"}}), "name"),
        (json!({"name": "x"}), "trigger"),
        (
            json!({"name": "x", "trigger": {"type": "webhook"}}),
            "trigger.type",
        ),
        (json!({"name": "x", "trigger": {}}), "trigger.type"),
        (
            json!({"name": "x", "trigger": {"type": "endpoint"}, "stepz": []}),
            "stepz",
        ),
        (
            json!({"name": "x", "trigger": {"type": "endpoint", "method": "FETCH"}}),
            "trigger.method",
        ),
        (json!({"name": "", "trigger": {"type": "endpoint"}}), "name"),
        (
            json!({"name": "x", "trigger": {"type": "endpoint"}, "steps": [{"type": "log", "name": "a", "message": "{{nope.x}}"}]}),
            "steps[0].message",
        ),
        (
            json!({"name": "x", "trigger": {"type": "poll", "source": {"kind": "postgres", "connection_env": "PG", "table": "users; drop", "cursor": "id"}}}),
            "trigger.source.table",
        ),
        (
            json!({"name": "x", "trigger": {"type": "poll", "source": {"kind": "postgres", "connection_env": "PG", "table": "t", "cursor": "id"}},
                "steps": [{"type": "log", "name": "a", "message": "{{request.body}}"}]}),
            "steps[0].message",
        ),
        (
            json!({"name": "x", "trigger": {"type": "poll", "source": {"kind": "http", "url": "https://a.example", "items": "/x"}},
                "steps": [{"type": "response", "status": 200}]}),
            "steps[0].type",
        ),
        (
            json!({"name": "x", "trigger": {"type": "oauth", "authorize_url": "https://a/x", "token_url": "https://a/t", "client_id": "c", "client_secret_env": "S"}}),
            "trigger.success_url",
        ),
    ];
    for (v, loc) in cases {
        let locs = locations(v.clone());
        assert!(
            locs.iter().any(|l| l == loc),
            "{v} → {locs:?}, wanted {loc}"
        );
    }
}

/// Every file in examples/ is a valid definition (the README and tests use them).
#[test]
fn examples_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let v: Value = serde_json::from_str(&text).expect("JSON");
        if let Err(e) = Definition::parse(&v) {
            panic!("{}: {:?}", path.display(), e);
        }
        n += 1;
    }
    assert!(n >= 4, "only {n} examples");
}

#[test]
fn key_and_schema_reference_are_accepted_and_keys_checked() {
    let base = json!({"name": "x", "trigger": {"type": "schedule", "schedule": {"kind": "seconds", "every": 5}}, "steps": []});
    let mut v = base.clone();
    v["$schema"] = json!("https://tripline.example/api/definition.schema.json");
    v["key"] = json!("nightly-report_2");
    let d = Definition::parse(&v).unwrap();
    assert_eq!(d.key.as_deref(), Some("nightly-report_2"));
    assert_eq!(Definition::parse(&base).unwrap().key, None);
    for bad in ["", "Upper", "-lead", "a b", "ä", &"a".repeat(65)] {
        let mut v = base.clone();
        v["key"] = json!(bad);
        assert_eq!(locations(v), ["key"], "{bad}");
    }
    let mut v = base.clone();
    v["key"] = json!(7);
    assert_eq!(locations(v), ["key"]);
    assert!(is_workflow_key(&"a".repeat(64)));
}

#[test]
fn shards_default_to_one_and_are_checked() {
    let base = json!({"name": "x", "trigger": {"type": "schedule", "schedule": {"kind": "seconds", "every": 5}}, "steps": []});
    assert_eq!(Definition::parse(&base).unwrap().shards(), 1);
    for (n, expected) in [
        (json!(1), 1),
        (json!(4), 4),
        (json!(64), 64),
        (json!(16.0), 16),
        (json!(null), 1),
    ] {
        let mut v = base.clone();
        v["shards"] = n.clone();
        assert_eq!(Definition::parse(&v).unwrap().shards(), expected, "{n}");
    }
    for bad in [
        json!(0),
        json!(65),
        json!(-1),
        json!(2.5),
        json!("4"),
        json!(true),
        json!([4]),
        json!(1e20),
    ] {
        let mut v = base.clone();
        v["shards"] = bad.clone();
        assert_eq!(locations(v), ["shards"], "{bad}");
    }
    let mut v = base.clone();
    v["shards"] = json!(0);
    let message = |v: &Value| Definition::parse(v).unwrap_err().0[0].message.clone();
    assert_eq!(message(&v), "must be between 1 and 64, got 0");
    v["shards"] = json!(65);
    assert_eq!(message(&v), "must be between 1 and 64, got 65");
    v["shards"] = json!("4");
    assert_eq!(message(&v), "must be an integer, got string");
}

/// An unknown top-level field lists each field the format has once.
#[test]
fn an_unknown_field_lists_the_known_ones_once() {
    let def = json!({"name": "n", "trigger": {"type": "endpoint"}, "steps": [], "stepz": []});
    let errors = Definition::parse(&def).unwrap_err();
    assert_eq!(errors.0.len(), 1, "{errors:?}");
    assert_eq!(errors.0[0].location, "stepz");
    assert_eq!(
        errors.0[0].message,
        "unknown field `stepz` (did you mean `steps`?); expected one of: $schema, key, name, shards, trigger, steps"
    );
}

/// A step that does not parse hides no problem of another: each is named by its own index.
#[test]
fn a_broken_step_hides_no_problem_of_another() {
    let schedule = |steps: Value| json!({"name": "s", "trigger": {"type": "schedule", "schedule": {"kind": "seconds", "every": 5}}, "steps": steps});
    assert_eq!(
        locations(schedule(json!([
            {"type": "log", "message": "{{steps.nope.x}}"},
            {"type": "http", "url": "https://u:p@a.example/"},
            {"type": "http", "url": "http://[::1"},
            {"type": "response", "status": 200},
        ]))),
        [
            "steps[0].message",
            "steps[3].type",
            "steps[1].url",
            "steps[2].url"
        ]
    );
}

/// A trigger of no known type is one problem: its steps' templates are not also refused for
/// using the root of the trigger meant.
#[test]
fn an_unknown_trigger_gives_its_steps_no_follow_on_problem() {
    for path in [
        "request.body",
        "schedule.late",
        "oauth.user_id",
        "event.record",
    ] {
        let v = json!({"name": "b", "trigger": {"type": "endpointx"},
                       "steps": [{"type": "log", "message": format!("{{{{{path}}}}}")}]});
        assert_eq!(locations(v), ["trigger.type"], "{path}");
    }
    let v =
        json!({"name": "b", "steps": [{"type": "log", "message": "{{request.body}} {{nope}}"}]});
    assert_eq!(locations(v), ["trigger", "steps[0].message"]);
}

/// In a list of strings, an element that is no string leaves the others named by their own
/// index.
#[test]
fn a_list_element_that_is_no_string_leaves_the_others_their_index() {
    let oauth = json!({"name": "o", "trigger": {"type": "oauth", "authorize_url": "https://p.example/a",
           "token_url": "https://p.example/t", "client_id": "c", "client_secret_env": "P_SECRET",
           "success_url": "https://app.example/done", "scopes": [5, "read", "a b"]}, "steps": []});
    assert_eq!(locations(oauth), ["trigger.scopes[0]", "trigger.scopes[2]"]);
    let pg = json!({"name": "p", "trigger": {"type": "poll", "interval_seconds": 60,
           "source": {"kind": "postgres", "connection_env": "PG_URL", "table": "public.t",
                      "cursor": "id", "columns": [1, "a b", "ok", "ok"]}}, "steps": []});
    assert_eq!(
        locations(pg),
        [
            "trigger.source.columns[0]",
            "trigger.source.columns[1]",
            "trigger.source.columns[3]"
        ]
    );
}

/// The save rules read what is written: another problem in the same step or trigger hides none
/// of theirs.
#[test]
fn save_rules_are_checked_beside_other_problems_of_the_same_part() {
    let schedule = |steps: Value| json!({"name": "s", "trigger": {"type": "schedule", "schedule": {"kind": "seconds", "every": 5}}, "steps": steps});
    assert_eq!(
        locations(schedule(json!([
            {"type": "http", "name": "a", "url": "https://a.example.com:99999/x", "retries": 11},
            {"type": "http", "name": "b", "url": "https://u:pw@b.example/", "method": "FETCH"},
            {"type": "response", "status": 99},
        ]))),
        [
            "steps[0].retries",
            "steps[1].method",
            "steps[2].status",
            "steps[2].type",
            "steps[0].url",
            "steps[1].url"
        ]
    );
    // A URL with a problem of its own is said once.
    assert_eq!(
        locations(schedule(json!([{"type": "http", "url": ""}]))),
        ["steps[0].url"]
    );
    let oauth = |more: Value| {
        let mut t = json!({"type": "oauth", "authorize_url": "https://p.example/a",
            "token_url": "https://p.example/t", "client_id": "c", "client_secret_env": "P_SECRET",
            "success_url": "https://app.example/done"});
        for (k, v) in more.as_object().unwrap() {
            t[k] = v.clone();
        }
        json!({"name": "o", "trigger": t, "steps": []})
    };
    assert_eq!(
        locations(oauth(json!({"client_id": "", "scopes": [1]}))),
        ["trigger.scopes[0]", "trigger.client_id"]
    );
    assert_eq!(
        locations(oauth(
            json!({"pkce": "yes", "success_url": "https://u:pw@app.example/done"})
        )),
        ["trigger.pkce", "trigger.success_url"]
    );
}

/// A name of spaces is said to be blank, a long one how long it is.
#[test]
fn a_blank_or_long_name_is_said_so() {
    let with = |name: &str| {
        let v = json!({"name": name, "trigger": {"type": "endpoint"}, "steps": []});
        match Definition::parse(&v) {
            Err(e) => e.0.into_iter().map(|e| e.message).collect::<Vec<_>>(),
            Ok(_) => vec![],
        }
    };
    assert_eq!(with("   "), ["must not be empty or only spaces"]);
    assert_eq!(with(""), ["must not be empty or only spaces"]);
    assert_eq!(
        with(&"é".repeat(201)),
        ["must be at most 200 characters, got 201"]
    );
    assert!(with(&"é".repeat(200)).is_empty());
}

/// A literal header value past U+00FF fails every run: refused when saved, at the header
/// (one that a template fills in is checked when it runs).
#[test]
fn a_literal_header_past_latin1_is_refused_at_save() {
    let def = |headers: Value| {
        json!({"name": "h", "trigger": {"type": "endpoint"}, "steps": [
            {"type": "http", "url": "https://a.example/", "headers": headers},
            {"type": "response", "headers": headers}
        ]})
    };
    assert_eq!(
        locations(def(json!({"x-name": "caf\u{e9} \u{20ac}"}))),
        ["steps[0].headers.x-name", "steps[1].headers.x-name"]
    );
    assert!(locations(def(json!({"x-name": "caf\u{e9}"}))).is_empty());
    assert!(locations(def(json!({"x-name": "\u{20ac}{{request.body.a}}"}))).is_empty());
    // A definition stored before the rule still reads.
    assert!(Definition::parse_stored(&def(json!({"x-name": "\u{20ac}"}))).is_ok());
}

/// A name with a control character (a NUL, a line break, a tab) is refused when saved, saying
/// which and at which character; one stored before the rule still reads.
#[test]
fn a_name_with_a_control_character_is_refused_at_save() {
    let def = |name: &str| json!({"name": name, "trigger": {"type": "endpoint"}, "steps": []});
    let with = |name: &str| problems(def(name));
    assert_eq!(
        with("a\u{0}b"),
        ["name: must not contain control characters (U+0000 at character 2)"]
    );
    assert_eq!(
        with("Caf\u{e9}\tdaily\n"),
        ["name: must not contain control characters (U+0009 at character 5)"]
    );
    assert_eq!(
        with("x\u{85}\u{1b}"),
        ["name: must not contain control characters (U+0085 at character 2)"]
    );
    assert!(with("Lead \u{2014} cr\u{e9}\u{e9} \u{2713}").is_empty());
    let stored = Definition::parse_stored(&def("a\u{0}b")).unwrap();
    assert_eq!(stored.name, "a\u{0}b");
}

/// An endpoint trigger lists each method once, in any letter case: a repeat is refused when
/// saved, at the repeat; one stored before the rule still reads, each method once.
#[test]
fn an_endpoint_method_listed_twice_is_refused_at_save() {
    let def = |method: Value| json!({"name": "e", "trigger": {"type": "endpoint", "method": method}, "steps": []});
    let problems = |method: Value| problems(def(method));
    assert_eq!(
        problems(json!(["POST", "POST"])),
        ["trigger.method[1]: repeats `POST`, listed already at trigger.method[0]"]
    );
    assert_eq!(
        problems(json!(["get", "PUT", "Get", "put"])),
        [
            "trigger.method[2]: repeats `GET`, listed already at trigger.method[0]",
            "trigger.method[3]: repeats `PUT`, listed already at trigger.method[1]"
        ]
    );
    // An unknown method is said to be unknown, at each place, and nothing more.
    assert_eq!(
        locations(def(json!(["FETCH", "fetch"]))),
        ["trigger.method[0]", "trigger.method[1]"]
    );
    assert!(problems(json!(["GET", "POST"])).is_empty());
    assert!(problems(json!("post")).is_empty());
    let stored = Definition::parse_stored(&def(json!(["POST", "post"]))).unwrap();
    assert_eq!(stored.endpoint().unwrap().methods, ["POST"]);
}

/// `"steps": null` is no steps, as `null` is for every optional field.
#[test]
fn null_steps_are_no_steps() {
    let d =
        Definition::parse(&json!({"name": "n", "trigger": {"type": "endpoint"}, "steps": null}))
            .unwrap();
    assert!(d.steps.is_empty());
}

/// A poll's HTTP source URL is held to a step URL's save rules: user information (never sent)
/// and a URL that does not parse (every poll would fail) are refused at `trigger.source.url`;
/// a stored one still reads.
#[test]
fn a_poll_source_url_is_refused_for_user_information_or_a_bad_port() {
    let poll = |url: &str| {
        json!({"name": "p", "trigger": {"type": "poll", "interval_seconds": 60,
               "source": {"kind": "http", "url": url}}, "steps": []})
    };
    let user = problems(poll("http://apiuser:S3cret@api.example/items"));
    assert_eq!(user.len(), 1, "{user:?}");
    assert!(
        user[0].starts_with("trigger.source.url: user information in a URL"),
        "{user:?}"
    );
    let port = problems(poll("https://api.example:99999/items"));
    assert_eq!(port.len(), 1, "{port:?}");
    assert!(
        port[0].starts_with("trigger.source.url: is not a valid URL:"),
        "{port:?}"
    );
    // Templated or ordinary URLs pass; a URL with a problem of its own is said once.
    assert!(problems(poll("https://api.example/items?page=1")).is_empty());
    assert!(problems(poll("https://{{secrets.API_HOST}}/items")).is_empty());
    assert_eq!(locations(poll("ftp://a:b@x")), ["trigger.source.url"]);
    assert!(Definition::parse_stored(&poll("http://u:p@api.example/x")).is_ok());
}

/// An `authorize_url` whose own query sets a parameter Tripline sets (`state`, `redirect_uri`,
/// …) is refused when saved: a provider reading the first of two would take the written one.
#[test]
fn an_authorize_url_may_not_set_what_tripline_sets() {
    let oauth = |url: &str| {
        json!({"name": "o", "trigger": {"type": "oauth", "authorize_url": url,
               "token_url": "https://p.example/t", "client_id": "c", "client_secret_env": "P_SECRET",
               "success_url": "https://app.example/done"}, "steps": []})
    };
    assert_eq!(
        problems(oauth(
            "https://p.example/a?prompt=consent&redirect_uri=https://evil.example/cb"
        )),
        [
            "trigger.authorize_url: its query sets `redirect_uri`, which Tripline sets: remove it \
          (scopes go in `scopes`)"
        ]
    );
    assert_eq!(
        locations(oauth("https://p.example/a?state=fixed")),
        ["trigger.authorize_url"]
    );
    assert!(problems(oauth("https://p.example/a?prompt=consent&audience=api")).is_empty());
    // A `scope` written there is the one sent while `scopes` is empty; `response_mode` is not
    // one Tripline sends.
    assert!(problems(oauth(
        "https://p.example/a?scope=openid%20email&response_mode=query"
    ))
    .is_empty());
    let mut with_scopes = oauth("https://p.example/a?scope=openid");
    with_scopes["trigger"]["scopes"] = json!(["email"]);
    assert_eq!(locations(with_scopes), ["trigger.authorize_url"]);
    assert!(Definition::parse_stored(&oauth("https://p.example/a?state=fixed")).is_ok());
}

#[test]
fn a_definition_knows_each_secret_it_reads_once() {
    let def = Definition::parse(&json!({
        "name": "secrets",
        "trigger": {"type": "endpoint", "verify": {"scheme": "github", "secret_env": "HOOK_SECRET"}},
        "steps": [
            {"type": "http", "url": "https://api.example.com/{{secrets.API_KEY}}",
             "headers": {"x-api-key": "{{secrets.API_KEY}}", "x-other": "{{ secrets.OTHER }}"}},
            {"type": "log", "message": "{{secrets.API_KEY}} and {{request.body.x}}"}
        ]
    }))
    .unwrap();
    assert_eq!(def.secrets_read, ["HOOK_SECRET", "API_KEY", "OTHER"]);
}
