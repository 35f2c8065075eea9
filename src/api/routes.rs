//! The route table: every URL Tripline serves. The router matches against it and the
//! OpenAPI document is checked against it, so the two cannot drift apart.

/// What a request is asking for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Healthz,
    OpenApi,
    DefinitionSchema,
    ListWorkflows,
    CreateWorkflow,
    GetWorkflow,
    ReplaceWorkflow,
    DeleteWorkflow,
    Deploy,
    Undeploy,
    ListRuns,
    GetRun,
    ReplayRun,
    EndpointTrigger,
    OAuthSignin,
    OAuthCallback,
    CreateSigninLink,
    ListConnections,
    DeleteConnection,
    EndpointTest,
    ListTestRequests,
    DetectSchema,
    SchedulePreview,
    TimeZones,
    PollReset,
}

/// One route: a method (`*` = any), a path pattern with `{param}` segments, and whether the
/// management token is required.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub op: Op,
    pub admin: bool,
}

const fn r(method: &'static str, path: &'static str, op: Op, admin: bool) -> Route {
    Route {
        method,
        path,
        op,
        admin,
    }
}

/// Every route, in matching order.
pub const ROUTES: &[Route] = &[
    r("GET", "/healthz", Op::Healthz, false),
    r("GET", "/api/openapi.json", Op::OpenApi, true),
    // Public: editors fetch it for a workflow file's "$schema" without a token.
    r(
        "GET",
        "/api/definition.schema.json",
        Op::DefinitionSchema,
        false,
    ),
    r("GET", "/api/workflows", Op::ListWorkflows, true),
    r("POST", "/api/workflows", Op::CreateWorkflow, true),
    r("GET", "/api/workflows/{id}", Op::GetWorkflow, true),
    r("PUT", "/api/workflows/{id}", Op::ReplaceWorkflow, true),
    r("DELETE", "/api/workflows/{id}", Op::DeleteWorkflow, true),
    r("POST", "/api/workflows/{id}/deploy", Op::Deploy, true),
    r("POST", "/api/workflows/{id}/undeploy", Op::Undeploy, true),
    r("GET", "/api/workflows/{id}/runs", Op::ListRuns, true),
    r("GET", "/api/runs/{run_id}", Op::GetRun, true),
    r("POST", "/api/runs/{run_id}/replay", Op::ReplayRun, true),
    r(
        "POST",
        "/api/workflows/{id}/poll/reset",
        Op::PollReset,
        true,
    ),
    r("*", "/hooks/{id}", Op::EndpointTrigger, false),
    r("GET", "/oauth/{id}/signin", Op::OAuthSignin, false),
    r("GET", "/oauth/{id}/callback", Op::OAuthCallback, false),
    r(
        "POST",
        "/api/workflows/{id}/signin-links",
        Op::CreateSigninLink,
        true,
    ),
    r(
        "GET",
        "/api/workflows/{id}/connections",
        Op::ListConnections,
        true,
    ),
    r(
        "DELETE",
        "/api/workflows/{id}/connections/{user_id}",
        Op::DeleteConnection,
        true,
    ),
    r(
        "GET",
        "/api/workflows/{id}/test-requests",
        Op::ListTestRequests,
        true,
    ),
    r(
        "POST",
        "/api/workflows/{id}/detect-schema",
        Op::DetectSchema,
        true,
    ),
    r("*", "/hooks/{id}/test", Op::EndpointTest, false),
    r(
        "GET",
        "/api/workflows/{id}/schedule/preview",
        Op::SchedulePreview,
        true,
    ),
    r("GET", "/api/timezones", Op::TimeZones, true),
];

/// What a `*` route answers (and what the OpenAPI document lists for it); `HEAD` as `GET`.
pub const ANY_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The result of matching a request against [`ROUTES`].
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch<'a> {
    Found {
        route: Route,
        params: Vec<&'a str>,
    },
    /// The path exists but not for this method; `allow` lists the methods that do.
    MethodNotAllowed {
        allow: Vec<&'static str>,
    },
    NotFound,
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.method == other.method && self.path == other.path
    }
}
impl Eq for Route {}

/// Matches `path` segment by segment; `{name}` captures one non-empty segment.
fn path_params<'a>(pattern: &str, path: &'a str) -> Option<Vec<&'a str>> {
    let mut params = Vec::new();
    let mut pat = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (pat.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(g)) if p.starts_with('{') => {
                if g.is_empty() {
                    return None;
                }
                params.push(g);
            }
            (Some(p), Some(g)) if p == g => {}
            _ => return None,
        }
    }
}

/// Finds the route for `method` and `path` (`HEAD` is served by `GET` routes). A trailing
/// slash is ignored, except on a `DELETE` of the management API: URL parsers remove a `..`
/// segment, so a delete of `…/connections/..` arrives as `DELETE /api/workflows/{id}/`, which
/// must not delete the workflow. (A live URL takes a `DELETE` like any other request.)
pub fn match_route<'a>(method: &str, path: &'a str) -> RouteMatch<'a> {
    let exact = method == "DELETE" && path.starts_with("/api/");
    let path = if path.len() > 1 && !exact {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    let mut allow: Vec<&'static str> = Vec::new();
    for route in ROUTES {
        if let Some(params) = path_params(route.path, path) {
            let any = route.method == "*";
            // A live URL answers other methods itself, with the methods its workflow takes.
            let live_url = route.op == Op::EndpointTrigger;
            // A sign-in's GETs spend a link or a state and start a run: a HEAD (a link
            // scanner's, an unfurler's) must not do that unseen.
            let head_as_get = !matches!(route.op, Op::OAuthSignin | Op::OAuthCallback);
            let method_fits = (any
                && (ANY_METHODS.contains(&method) || method == "HEAD" || live_url))
                || route.method == method
                || (method == "HEAD" && route.method == "GET" && head_as_get);
            if method_fits {
                return RouteMatch::Found {
                    route: *route,
                    params,
                };
            }
            let methods: &[&'static str] = if any {
                &ANY_METHODS
            } else {
                std::slice::from_ref(&route.method)
            };
            // A route that serves `HEAD` (as a `GET`) lists it too.
            let head = (any || route.method == "GET") && head_as_get;
            for m in methods.iter().chain(head.then_some(&"HEAD")) {
                if !allow.contains(m) {
                    allow.push(m);
                }
            }
        }
    }
    if allow.is_empty() {
        RouteMatch::NotFound
    } else {
        RouteMatch::MethodNotAllowed { allow }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_takes_no_head() {
        for path in ["/oauth/wf_1/signin", "/oauth/wf_1/callback"] {
            assert_eq!(
                match_route("HEAD", path),
                RouteMatch::MethodNotAllowed { allow: vec!["GET"] }
            );
        }
        assert!(matches!(
            match_route("HEAD", "/api/workflows/wf_1/runs"),
            RouteMatch::Found { .. }
        ));
    }

    #[test]
    fn matches_params_and_methods() {
        match match_route("GET", "/api/workflows/wf_1/runs") {
            RouteMatch::Found { route, params } => {
                assert_eq!(route.op, Op::ListRuns);
                assert_eq!(params, ["wf_1"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            match_route("PATCH", "/api/workflows/wf_1"),
            RouteMatch::MethodNotAllowed {
                allow: vec!["GET", "HEAD", "PUT", "DELETE"]
            }
        );
        assert_eq!(match_route("GET", "/api/nope"), RouteMatch::NotFound);
        // A trailing slash is ignored, but never on a delete.
        assert!(matches!(
            match_route("GET", "/api/workflows/wf_1/"),
            RouteMatch::Found { route, .. } if route.op == Op::GetWorkflow
        ));
        assert_eq!(
            match_route("DELETE", "/api/workflows/wf_1/"),
            RouteMatch::NotFound
        );
        assert!(matches!(
            match_route("DELETE", "/hooks/wf_1/"),
            RouteMatch::Found { .. }
        ));
        // A method no route lists is 405, also where any method is served.
        assert_eq!(
            match_route("QUERY", "/healthz"),
            RouteMatch::MethodNotAllowed {
                allow: vec!["GET", "HEAD"]
            }
        );
        // A live URL answers every method itself: its 405 lists what its workflow takes.
        for method in ["QUERY", "OPTIONS"] {
            assert!(matches!(
                match_route(method, "/hooks/wf_1"),
                RouteMatch::Found { route, .. } if route.op == Op::EndpointTrigger
            ));
        }
        assert_eq!(
            match_route("QUERY", "/hooks/wf_1/test"),
            RouteMatch::MethodNotAllowed {
                allow: [&ANY_METHODS[..], &["HEAD"]].concat()
            }
        );
        assert!(matches!(
            match_route("PATCH", "/hooks/wf_1"),
            RouteMatch::Found { .. }
        ));
        assert_eq!(
            match_route("GET", "/api/workflows//runs"),
            RouteMatch::NotFound
        );
        assert!(matches!(
            match_route("GET", "/api/workflows/"),
            RouteMatch::Found { .. }
        ));
    }

    #[test]
    fn openapi_lists_exactly_the_routes() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).expect("openapi.json parses");
        let paths = doc["paths"].as_object().expect("paths");
        let mut documented = Vec::new();
        for (path, item) in paths {
            for method in item.as_object().expect("path item").keys() {
                if ["get", "post", "put", "delete", "patch", "head", "options"]
                    .contains(&method.as_str())
                {
                    documented.push(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
        documented.sort();
        let mut served: Vec<String> = ROUTES
            .iter()
            .flat_map(|r| {
                let methods: Vec<&str> = if r.method == "*" {
                    ANY_METHODS.to_vec()
                } else {
                    vec![r.method]
                };
                methods.into_iter().map(move |m| format!("{m} {}", r.path))
            })
            .collect();
        served.sort();
        served.dedup();
        assert_eq!(documented, served);
    }

    /// The headers the API sends (`ApiError`'s `allow`, `retry-after` and `www-authenticate`,
    /// the draft tag after deploy, the run's `location` and `idempotent-replayed`) are in the
    /// document, for clients generated from it.
    #[test]
    fn openapi_documents_the_headers_the_api_sends() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).expect("openapi.json parses");
        let headers = |response: &serde_json::Value| -> Vec<String> {
            let response = match response["$ref"].as_str() {
                Some(r) => &doc["components"]["responses"][r.rsplit('/').next().unwrap()],
                None => response,
            };
            response["headers"]
                .as_object()
                .map(|h| h.keys().cloned().collect())
                .unwrap_or_default()
        };
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                for (status, wants) in [
                    ("405", "Allow"),
                    ("503", "Retry-After"),
                    ("401", "WWW-Authenticate"),
                ] {
                    let Some(response) = op["responses"].get(status) else {
                        continue;
                    };
                    // The public pages' 401s (a sign-in link) send no challenge.
                    if status == "401" && path.starts_with("/oauth/") {
                        continue;
                    }
                    assert!(
                        headers(response).iter().any(|h| h == wants),
                        "{method} {path} {status} lacks {wants}"
                    );
                }
            }
        }
        let op = |path: &str, method: &str, status: &str| {
            headers(&doc["paths"][path][method]["responses"][status])
        };
        for path in ["/api/workflows/{id}/deploy", "/api/workflows/{id}/undeploy"] {
            assert!(
                op(path, "post", "200").contains(&"ETag".to_string()),
                "{path}"
            );
        }
        assert!(op("/api/workflows", "post", "201").contains(&"Location".to_string()));
        for (path, method) in [
            ("/hooks/{id}", "post"),
            ("/api/runs/{run_id}/replay", "post"),
        ] {
            let sent = op(path, method, "202");
            assert!(
                sent.contains(&"Location".to_string())
                    && sent.contains(&"Idempotent-Replayed".to_string()),
                "{method} {path}: {sent:?}"
            );
        }
    }

    #[test]
    fn openapi_refers_to_the_served_definition_schema() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).expect("openapi.json parses");
        let path = "/api/definition.schema.json";
        assert_eq!(doc["components"]["schemas"]["Definition"]["$ref"], path);
        assert!(ROUTES
            .iter()
            .any(|r| r.path == path && r.method == "GET" && !r.admin));
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("definition.schema.json"))
                .expect("definition.schema.json parses");
        assert_eq!(schema["title"], "Tripline workflow definition");
    }
}
