use super::*;

const CAP: usize = 400 * 1024;

fn record(name: &str, status: &str, pad: usize) -> Value {
    json!({
        "name": name, "type": "http", "status": status, "attempts": 1,
        "started_at": "2026-01-01T00:00:00.000Z", "finished_at": "2026-01-01T00:00:01.000Z",
        "request": {"method": "POST", "body": "r".repeat(pad)},
        "output": {"status": 200, "body": "o".repeat(pad)},
        "error": null,
    })
}

/// Parses what was stored: an array, under the cap, with the steps in order.
fn stored(text: &str, cap: usize) -> Vec<Value> {
    assert!(
        text.len() <= cap,
        "{} bytes over a cap of {cap}",
        text.len()
    );
    serde_json::from_str::<Vec<Value>>(text).expect("a JSON array of records")
}

#[test]
fn records_that_fit_are_kept_as_they_are() {
    let text = Value::Array(vec![record("a", "succeeded", 1000)]).to_string();
    assert_eq!(fit_step_records(&text, CAP), text);
}

#[test]
fn the_request_is_cut_to_a_share_first() {
    let text = Value::Array(vec![
        record("a", "succeeded", 300_000),
        record("b", "succeeded", 10),
    ])
    .to_string();
    let steps = stored(&fit_step_records(&text, CAP), CAP);
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["request"]["truncated"], true);
    assert!(steps[0]["request"]["size"].as_u64().unwrap() > 300_000);
    // That was enough: the output is kept whole.
    assert_eq!(
        steps[0]["output"]["body"].as_str().map(str::len),
        Some(300_000)
    );
    // A small one is left whole.
    assert_eq!(steps[1], record("b", "succeeded", 10));
}

/// Requests are cut before outputs: when cutting the requests is enough, every output (which a
/// resumed run may hand to later steps) is kept whole.
#[test]
fn a_large_request_is_cut_before_any_output() {
    let mut records: Vec<Value> = (0..8)
        .map(|i| record(&format!("s{i}"), "succeeded", 30_000))
        .collect();
    records[0]["request"]["body"] = json!("r".repeat(300_000));
    let text = Value::Array(records.clone()).to_string();
    assert!(text.len() > CAP);
    let steps = stored(&fit_step_records(&text, CAP), CAP);
    assert_eq!(steps.len(), 8);
    assert_eq!(steps[0]["request"]["truncated"], true);
    for (got, was) in steps.iter().zip(&records) {
        assert_eq!(got["output"], was["output"], "{}", got["name"]);
    }
}

/// Eleven records whose request and output each stay just under their share, so cutting those
/// alone leaves the whole over the cap (their other fields push it over): still an array of
/// eleven records with what a resume reads.
#[test]
fn records_whose_shares_alone_do_not_fit_stay_an_array_with_name_type_and_status() {
    let n = 11;
    let share = CAP / n / 2;
    let mut records: Vec<Value> = (0..n)
        .map(|i| {
            let mut r = record(&format!("step{i}"), "succeeded", 0);
            // Each value's JSON just under the share: cutting it to the share keeps it whole.
            r["request"] = json!("r".repeat(share - 10));
            r["output"] = json!("o".repeat(share - 10));
            r
        })
        .collect();
    records[n - 1]["status"] = json!("failed");
    records[n - 1]["error"] = json!("e".repeat(60_000));
    let text = Value::Array(records.clone()).to_string();
    // The first cut keeps every request and output whole, and the whole is still over the cap.
    let first = cut(&records, Fields::RequestAndOutput, share);
    assert!(first.len() > CAP);

    let steps = stored(&fit_step_records(&text, CAP), CAP);
    assert_eq!(steps.len(), n);
    for (i, (got, was)) in steps.iter().zip(&records).enumerate() {
        for field in KEPT_FIELDS {
            assert_eq!(got[field], was[field], "step {i}: {field}");
        }
    }
    assert_eq!(steps[n - 1]["error"]["truncated"], true);
    assert_eq!(steps[n - 1]["error"]["size"], 60_002);
}

#[test]
fn fields_not_kept_go_when_no_cut_fits_and_last_records_when_even_those_do_not() {
    let records: Vec<Value> = (0..25)
        .map(|i| {
            let mut r = record(&format!("step{i}"), "succeeded", 5_000);
            r["extra"] = json!({"a": "x".repeat(5_000), "b": [1, 2, 3]});
            r
        })
        .collect();
    let text = Value::Array(records.clone()).to_string();
    // Room for the kept fields of every record, not for a cut field.
    let cap = 25 * 200;
    let steps = stored(&fit_step_records(&text, cap), cap);
    assert_eq!(steps.len(), 25);
    for (got, was) in steps.iter().zip(&records) {
        assert_eq!(got["name"], was["name"]);
        assert_eq!(got["status"], "succeeded");
        assert_eq!(got["truncated"], true);
        assert!(got.get("request").is_none(), "{got}");
    }
    // Not even that: the first records that fit.
    let steps = stored(&fit_step_records(&text, 1_000), 1_000);
    assert!(!steps.is_empty() && steps.len() < 25, "{}", steps.len());
    assert_eq!(steps[0]["name"], "step0");
}

#[test]
fn every_cap_gives_an_array_under_it() {
    let records: Vec<Value> = (0..25)
        .map(|i| record(&format!("s{i}"), "succeeded", 40_000 + i * 997))
        .collect();
    let text = Value::Array(records).to_string();
    for cap in [600, 2_000, 10_000, 64 * 1024, 100_000, CAP, 900_000] {
        let steps = stored(&fit_step_records(&text, cap), cap);
        assert!(!steps.is_empty());
        assert_eq!(steps[0]["name"], "s0", "cap {cap}");
    }
}

#[test]
fn text_that_is_not_an_array_is_cut_whole() {
    let text = json!({"x": "y".repeat(10_000)}).to_string();
    let fitted: Value = serde_json::from_str(&fit_step_records(&text, 4_096)).unwrap();
    assert_eq!(fitted["truncated"], true);
    assert_eq!(fitted["size"], text.len());
}
