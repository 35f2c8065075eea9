use super::*;
use serde_json::json;

fn at(line: usize, col: usize) -> Option<Pos> {
    Some(Pos { line, col })
}

const JSON: &str = r#"{
  "name": "Lead",
  "trigger": { "type": "endpoint",
    "verify": { "headers.x.y": "ü" } },
  "steps": [
    { "type": "log", "message": "hi" },
    {
      "type": "http", "url": "nope"
    }
  ]
}"#;

#[test]
fn json_positions_are_keys_and_elements() {
    let (v, p) = parse_json(JSON).unwrap();
    assert_eq!(v["steps"][1]["url"], "nope");
    assert_eq!(p.get(""), at(1, 1));
    assert_eq!(p.get("/name"), at(2, 3));
    assert_eq!(p.get("/trigger/type"), at(3, 16));
    assert_eq!(p.get("/steps/0"), at(6, 5));
    assert_eq!(p.get("/steps/1"), at(7, 5));
    assert_eq!(p.get("/steps/1/url"), at(8, 23));
    assert_eq!(p.get("/trigger/verify/headers.x.y"), at(4, 17));
}

#[test]
fn json_columns_count_characters_and_escaped_keys() {
    let (_, p) = parse_json("{\"ä\": \"ö\", \"a\\\"b\": 1, \"c/d\": 2}").unwrap();
    assert_eq!(p.get("/ä"), at(1, 2));
    assert_eq!(p.get("/a\"b"), at(1, 12));
    assert_eq!(p.get("/c~1d"), at(1, 23));
}

#[test]
fn json_syntax_errors_carry_their_line() {
    let e = parse_json("{\n  \"name\": \"x\",\n  oops\n}").unwrap_err();
    assert_eq!(e.pos.line, 3);
    assert!(e.message.contains("not valid JSON"), "{}", e.message);
}

const YAML: &str = "# a comment
name: Nightly
key: nightly
trigger:
  type: schedule
  schedule: { kind: daily, at: \"02:30\" }
  timezone: Europe/Berlin
steps:
  - type: log
    message: one
  - type: http
    url: 'https://example.com'
    retries: 2
    allow_error: true
    json: {ratio: 0.5, none: ~, n: -3, s: '7', list: [a, 1]}
";

#[test]
fn yaml_becomes_json_with_types() {
    let (v, _) = parse_yaml(YAML).unwrap();
    assert_eq!(
        v,
        json!({
            "name": "Nightly", "key": "nightly",
            "trigger": {"type": "schedule", "schedule": {"kind": "daily", "at": "02:30"}, "timezone": "Europe/Berlin"},
            "steps": [
                {"type": "log", "message": "one"},
                {"type": "http", "url": "https://example.com", "retries": 2, "allow_error": true,
                 "json": {"ratio": 0.5, "none": null, "n": -3, "s": "7", "list": ["a", 1]}}
            ]
        })
    );
}

#[test]
fn json_duplicate_members_are_errors_at_the_second() {
    let e = parse_json("{\"name\": \"a\",\n \"steps\": [],\n \"name\": \"b\"}").unwrap_err();
    assert_eq!(e.pos, Pos { line: 3, col: 2 });
    assert!(e.message.contains("`name` appears twice"), "{e:?}");
    // Nested, and spelled with an escape: still the same name.
    let e = parse_json("{\"trigger\": {\"type\": \"endpoint\", \"typ\\u0065\": \"poll\"}}")
        .unwrap_err();
    assert_eq!(e.pos, Pos { line: 1, col: 34 });
    assert_eq!(e.location.as_deref(), Some("trigger.type"));
    // The same name in two objects is fine.
    assert!(parse_json("[{\"a\": 1}, {\"a\": 2}]").is_ok());
    // Through `parse` for a .json file too.
    assert!(parse(Path::new("w.json"), "{\"a\": 1, \"a\": 1}").is_err());
}

#[test]
fn yaml_positions() {
    let (_, p) = parse_yaml(YAML).unwrap();
    assert_eq!(p.get("/name"), at(2, 1));
    assert_eq!(p.get("/trigger/schedule/at"), at(6, 28));
    assert_eq!(p.get("/steps/0"), at(9, 5));
    assert_eq!(p.get("/steps/1"), at(11, 5));
    assert_eq!(p.get("/steps/1/url"), at(12, 5));
}

#[test]
fn yaml_errors_and_duplicate_keys() {
    let e = parse_yaml("name: x\n  bad: [\n").unwrap_err();
    assert!(e.pos.line >= 2, "{e:?}");
    let e = parse_yaml("name: a\nsteps: []\nname: b\n").unwrap_err();
    assert_eq!(e.pos, Pos { line: 3, col: 1 });
    assert!(e.message.contains("twice"));
}

#[test]
fn yaml_files_hold_one_document() {
    for text in [
        "---\nname: a\n",
        "name: a\n...\n",
        "# comment\n---\nname: a\n...\n# end\n",
    ] {
        let (v, _) = parse_yaml(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        assert_eq!(v, json!({"name": "a"}), "{text:?}");
    }
    for (text, line) in [
        ("name: a\n---\nname: b\n", 2),
        ("---\nname: a\n---\n", 3),
        ("name: a\n---\nname: [\n", 2),
    ] {
        let e = parse_yaml(text).unwrap_err();
        assert_eq!(e.pos, Pos { line, col: 1 }, "{text:?}");
        assert!(e.message.contains("second YAML document"), "{e:?}");
    }
}

#[test]
fn yaml_anchors_are_copied() {
    let (v, _) = parse_yaml("a: &h {x: 1}\nb: *h\n").unwrap();
    assert_eq!(v["b"], json!({"x": 1}));
}

#[test]
fn locations_become_pointers() {
    let (v, _) = parse_json(JSON).unwrap();
    assert_eq!(location_to_pointer(&v, "$"), "");
    assert_eq!(location_to_pointer(&v, "steps[1].url"), "/steps/1/url");
    assert_eq!(location_to_pointer(&v, "steps[1]"), "/steps/1");
    // Missing fields point at the object they belong in.
    assert_eq!(location_to_pointer(&v, "steps[0].name"), "/steps/0");
    assert_eq!(location_to_pointer(&v, "trigger.request"), "/trigger");
    assert_eq!(location_to_pointer(&v, "steps[7].url"), "/steps");
    // Member names with dots are matched against the real keys.
    assert_eq!(
        location_to_pointer(&v, "trigger.verify.headers.x.y"),
        "/trigger/verify/headers.x.y"
    );
}

#[test]
fn locate_gives_line_and_column_for_both_formats() {
    let doc = parse(Path::new("w.json"), JSON).unwrap();
    assert_eq!(locate(&doc, "steps[1].url"), Pos { line: 8, col: 23 });
    let doc = parse(Path::new("w.yml"), YAML).unwrap();
    assert_eq!(locate(&doc, "steps[1].retries"), Pos { line: 13, col: 5 });
    assert_eq!(locate(&doc, "trigger.misfire"), Pos { line: 4, col: 1 });
}

/// The error for YAML that must be refused (without printing all of what was read if not).
fn refused(text: &str) -> SyntaxError {
    match parse_yaml(text) {
        Err(e) => e,
        Ok(_) => panic!("accepted: {:.60}…", text),
    }
}

#[test]
fn yaml_nested_deeper_than_the_server_allows_is_an_error_not_a_crash() {
    use tripline_core::kernel::json_budget::MAX_DEPTH;
    // The root mapping is one level: 63 lists inside it make the most the server takes.
    let most = format!(
        "a: {}1{}\n",
        "[".repeat(MAX_DEPTH - 1),
        "]".repeat(MAX_DEPTH - 1)
    );
    assert!(parse_yaml(&most).is_ok());
    let deep = format!("a: {}1{}\n", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    let e = refused(&deep);
    assert_eq!(
        e.pos,
        Pos {
            line: 1,
            col: 3 + MAX_DEPTH
        },
        "{e:?}"
    );
    assert!(e.message.contains("more than 64 levels"), "{e:?}");
    // A root of 200 000 nested block lists: an error at the 65th, not a stack overflow.
    let e = refused(&format!("{}x\n", "- ".repeat(200_000)));
    assert_eq!(e.pos, Pos { line: 1, col: 129 }, "{e:?}");
    assert!(e.message.contains("more than 64 levels"), "{e:?}");
    // An alias counts as deep as what it copies, where it is copied to.
    let anchored = format!("a: &a {}1{}\n", "[".repeat(40), "]".repeat(40));
    assert!(parse_yaml(&format!("{anchored}b: *a\n")).is_ok());
    let text = format!("{anchored}b: {}*a{}\n", "[".repeat(30), "]".repeat(30));
    let e = refused(&text);
    assert_eq!(e.pos, Pos { line: 2, col: 34 }, "{e:?}");
    assert!(e.message.contains("more than 64 levels"), "{e:?}");
}
#[test]
fn yaml_aliases_expand_only_within_the_value_budget() {
    // Each line holds ten copies of the one before: `f` alone would be over a million values.
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, name) in ["a", "b", "c", "d", "e"]
        .into_iter()
        .zip(["b", "c", "d", "e", "f"])
    {
        let copies = vec![format!("*{prev}"); 10].join(", ");
        text.push_str(&format!("{name}: &{name} [{copies}]\n"));
    }
    let e = refused(&text);
    // 123 457 values before `f`'s first alias, which adds 111 111.
    assert_eq!(e.pos, Pos { line: 6, col: 8 }, "{e:?}");
    assert!(e.message.contains("200000 values"), "{e:?}");
    // Up to `e` (123 456 values) is within the budget.
    let within: String = text.lines().take(5).map(|l| format!("{l}\n")).collect();
    let (v, _) = parse_yaml(&within).unwrap();
    assert_eq!(v["e"][9][9][9][9][9], "x");
    // Without aliases too: a list of more than 200 000 values is refused where it goes over.
    let long = format!("a: [{}]\n", "0, ".repeat(200_001));
    let e = refused(&long);
    assert!(e.message.contains("200000 values"), "{e:?}");
}
#[test]
fn yaml_core_schema_tags_are_honoured() {
    let text = "a: !!str 01234\nb: !!str true\nc: !!int '12'\nd: !!float 1\ne: !!bool \"false\"\n\
                f: !!null ''\ng: !!str\nh: !!str ~\ni: 18446744073709551615\nj: !!int 18446744073709551615\n\
                !!str k: !!map {x: !!seq [1]}\n";
    let (v, _) = parse_yaml(text).unwrap();
    assert_eq!(
        v,
        json!({
            "a": "01234", "b": "true", "c": 12, "d": 1.0, "e": false, "f": null, "g": "",
            "h": "~", "i": u64::MAX, "j": u64::MAX, "k": {"x": [1]}
        })
    );
    assert!(v["d"].is_f64());
    // Each at the value the tag is on.
    for (text, col, message) in [
        (
            "a: !!int twelve\n",
            10,
            "`twelve` is not an integer (tagged `!!int`)",
        ),
        ("a: !!int 1.5\n", 10, "`1.5` is not an integer"),
        ("a: !!float x1\n", 12, "`x1` is not a finite number"),
        ("a: !!float .inf\n", 12, "`.inf` is not a finite number"),
        ("a: !!bool yes\n", 11, "`yes` is not true or false"),
        ("a: !!null 0\n", 11, "`0` is not null"),
        (
            "a: !custom x\n",
            12,
            "tag `!custom` is not supported on a scalar",
        ),
        ("a: !!binary aGk=\n", 13, "tag `!!binary` is not supported"),
        (
            "a: !!set {x: ~}\n",
            10,
            "tag `!!set` is not supported on a mapping",
        ),
        (
            "a: !!map [1]\n",
            10,
            "tag `!!map` is not supported on a list",
        ),
        ("a: !!seq {x: 1}\n", 10, "tag `!!seq` is not supported"),
        (
            "!!int 1: x\n",
            7,
            "tag `!!int` is not taken on a mapping key",
        ),
    ] {
        let e = refused(text);
        assert_eq!(e.pos, Pos { line: 1, col }, "{text:?}: {e:?}");
        assert!(e.message.contains(message), "{text:?}: {e:?}");
    }
}

#[test]
fn a_byte_order_mark_is_no_content() {
    for (file, text) in [
        ("a.json", "\u{feff}{\"name\": \"A\"}"),
        ("a.yaml", "\u{feff}name: A\n"),
    ] {
        let doc = parse(Path::new(file), text).unwrap_or_else(|e| panic!("{file}: {e:?}"));
        assert_eq!(doc.value, json!({"name": "A"}), "{file}");
    }
}

/// Two YAML slips get a message that says what to write: a template without quotes (`{{`
/// opens a mapping) and a merge key.
#[test]
fn yaml_unquoted_templates_and_merge_keys_say_what_to_write() {
    let e = refused("steps:\n  - type: log\n    message: {{run.id}}\n");
    assert_eq!(e.pos, Pos { line: 3, col: 15 });
    assert_eq!(
        e.message,
        "`{{` starts a YAML mapping here: a template is text, so quote it (`message: \"{{…}}\"`)"
    );
    // A mapping as a key elsewhere keeps the general message.
    let e = refused("a: {x: 1, {y: 2}: 3}\n");
    assert!(
        e.message.contains("a mapping key must be a plain string"),
        "{e:?}"
    );
    let e = refused("h: &h {a: b}\nheaders:\n  <<: *h\n");
    assert_eq!(e.pos, Pos { line: 3, col: 3 });
    assert!(
        e.message
            .starts_with("merge keys (`<<: *name`) are not read"),
        "{e:?}"
    );
    // A quoted or tagged `<<` is an ordinary key.
    assert!(parse_yaml("headers:\n  \"<<\": x\n").is_ok());
    assert!(parse_yaml("headers:\n  !!str <<: x\n").is_ok());
    // In a list, at the top, under a key with `/`: written as it stands.
    let e = refused("tags:\n  - {{run.id}}\n");
    assert!(e.message.ends_with("(`- \"{{…}}\"`)"), "{e:?}");
    let e = refused("{{run.id}}\n");
    assert!(e.message.ends_with("(`\"{{…}}\"`)"), "{e:?}");
    let e = refused("a/b: {{run.id}}\n");
    assert!(e.message.ends_with("(`a/b: \"{{…}}\"`)"), "{e:?}");
}
