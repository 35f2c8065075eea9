//! The Worker secrets and vars a definition reads: what must be set before its runs (its
//! signature checks, its sign-ins, its polls) can work.

use serde_json::Value;

use crate::template;

/// Calls `f` with (location, NAME, whether it is a webhook signing secret) for each place in
/// `definition` (as stored JSON) that names a Worker secret or var: the trigger's `*_env` fields
/// (a signing secret, an OAuth client secret, a PostgreSQL connection), then every
/// `{{secrets.NAME}}` where a template is rendered (a poll's HTTP source's URL and headers, the
/// steps), in order. A signing secret's `NAME_PREVIOUS` alone also serves (a rotation's old
/// secret).
pub fn each_secret_read(definition: &Value, f: &mut dyn FnMut(&str, &str, bool)) {
    let trigger = &definition["trigger"];
    let fields = [
        (
            "trigger.verify.secret_env",
            &trigger["verify"]["secret_env"],
        ),
        ("trigger.client_secret_env", &trigger["client_secret_env"]),
        (
            "trigger.source.connection_env",
            &trigger["source"]["connection_env"],
        ),
    ];
    for (i, (location, field)) in fields.into_iter().enumerate() {
        if let Some(name) = field.as_str() {
            f(location, name, i == 0);
        }
    }
    let templates = [
        ("trigger.source.url", &trigger["source"]["url"]),
        ("trigger.source.headers", &trigger["source"]["headers"]),
        ("steps", &definition["steps"]),
    ];
    for (part, value) in templates {
        template::each_secret_reference(value, part, &mut |location, name| {
            f(location, name, false)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(def: Value) -> Vec<(String, String, bool)> {
        let mut out = Vec::new();
        each_secret_read(&def, &mut |location, name, signing| {
            out.push((location.to_string(), name.to_string(), signing))
        });
        out
    }

    #[test]
    fn names_each_place_a_secret_is_read() {
        let def = json!({
            "name": "uses {{secrets.NOT_READ}}",
            "trigger": {"type": "endpoint",
                        "verify": {"scheme": "github", "secret_env": "HOOK_SECRET"},
                        "request": {"headers": [{"name": "x-key", "equals": "{{secrets.NOT_READ}}"}]}},
            "steps": [
                {"type": "http", "name": "call", "url": "https://x.test/{{secrets.PATH_KEY}}",
                 "headers": {"Authorization": "Bearer {{ secrets.API_TOKEN }} {{request.body.a}}"}},
                {"type": "log", "name": "n", "message": "\\{{secrets.ESCAPED}} {{secrets.API_TOKEN}}"},
                {"type": "log", "name": "bad", "message": "{{secrets.UNCLOSED"}
            ]
        });
        assert_eq!(
            read(def),
            [
                (
                    "trigger.verify.secret_env".into(),
                    "HOOK_SECRET".into(),
                    true
                ),
                ("steps[0].url".into(), "PATH_KEY".into(), false),
                (
                    "steps[0].headers.Authorization".into(),
                    "API_TOKEN".into(),
                    false
                ),
                ("steps[1].message".into(), "API_TOKEN".into(), false),
            ]
        );
    }

    #[test]
    fn reads_the_oauth_client_secret_and_a_poll_sources_secrets() {
        // `client_id` is no template: what it holds is sent as written.
        let oauth = json!({"trigger": {"type": "oauth", "client_secret_env": "GH_SECRET",
                                       "client_id": "{{secrets.NOT_A_TEMPLATE}}"}, "steps": []});
        assert_eq!(
            read(oauth),
            [(
                "trigger.client_secret_env".into(),
                "GH_SECRET".into(),
                false
            )]
        );
        let poll = json!({"trigger": {"type": "poll", "source": {"kind": "postgres", "connection_env": "PG_URL"}}});
        assert_eq!(
            read(poll),
            [(
                "trigger.source.connection_env".into(),
                "PG_URL".into(),
                false
            )]
        );
        let http = json!({"trigger": {"type": "poll", "source": {"kind": "http",
            "url": "https://api.test/items", "headers": {"x-key": "{{secrets.KEY}}"}}}});
        assert_eq!(
            read(http),
            [("trigger.source.headers.x-key".into(), "KEY".into(), false)]
        );
        assert_eq!(read(json!({"name": "none"})), []);
        assert_eq!(read(json!("not an object")), []);
    }
}
