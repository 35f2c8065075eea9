//! The README's five-minute tour, step by step, so the documentation cannot rot.

use crate::harness::*;
use serde_json::{json, Value};

#[test]
fn the_readme_tour_works() {
    let dev = shared();
    let def: Value = serde_json::from_str(include_str!("../../examples/endpoint.json")).unwrap();
    let id = create(dev, &def);

    let deployed = api(dev, "POST", &format!("/api/workflows/{id}/deploy"), None);
    assert_eq!(deployed.status, 200);
    assert_eq!(deployed.json()["deployed_version"], 1);

    let bad = send(
        "POST",
        &dev.url(&format!("/hooks/{id}")),
        &[("content-type", "application/json")],
        Some(br#"{"address": {"city": 7}}"#),
    );
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.header("content-type"), Some("application/problem+json"));
    let mut locs = bad.locations();
    locs.sort();
    assert_eq!(locs, ["body.address.city", "body.email", "query.source"]);

    let good = |key: &str| {
        send(
            "POST",
            &dev.url(&format!("/hooks/{id}?source=website")),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", key),
            ],
            Some(br#"{"email": "ada@example.com"}"#),
        )
    };
    let first = good("lead-42");
    assert_eq!(first.status, 202, "{}", first.text);
    let run_id = first.json()["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        first.header("location"),
        Some(format!("/api/runs/{run_id}").as_str())
    );
    let again = good("lead-42");
    assert_eq!(again.status, 202);
    assert_eq!(again.json()["run_id"], run_id.as_str());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));

    let run = wait_run(dev, &run_id, 60);
    assert_eq!(run["status"], "succeeded");
    assert_eq!(
        run["steps"][0]["output"],
        json!({"message": "New lead ada@example.com from website"})
    );
    let listed = runs(dev, &id);
    assert_eq!(
        listed.len(),
        1,
        "the repeated request created no second run"
    );
    assert_eq!(listed[0]["id"], run_id.as_str());

    // OAuth: an unsigned Sign-in link is refused; a link signed with TRIPLINE_SIGNIN_KEY passes
    // (here it then stops at the unset GITHUB_CLIENT_SECRET, before anyone leaves).
    let oauth: Value = serde_json::from_str(include_str!("../../examples/oauth.json")).unwrap();
    let o = create(dev, &oauth);
    let deployed = api(dev, "POST", &format!("/api/workflows/{o}/deploy"), None);
    assert_eq!(deployed.status, 200, "{}", deployed.text);
    let anonymous = send(
        "GET",
        &dev.url(&format!("/oauth/{o}/signin?user_id=42")),
        &[],
        None,
    );
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let signed = send("GET", &dev.url(&signin_path(&o, "42")), &[], None);
    assert_ne!(signed.status, 401, "{}", signed.text);
    assert!(
        signed.status == 302 || signed.text.contains("GITHUB_CLIENT_SECRET"),
        "{}",
        signed.text
    );
}
