//! The OpenAPI document the Worker serves admits the ids and cursors the API hands out: its
//! patterns are checked here with a JSON Schema validator, as a client or fuzzer reads them.

use serde_json::Value;
use tripline_core::kernel::ids::WorkflowId;
use tripline_core::kernel::ids::{new_legacy_run_id, new_run_id, new_workflow_id, RunId};
use tripline_core::kernel::shard::{MAX_SHARDS, TIMER_SHARD};

fn document() -> Value {
    serde_json::from_str(include_str!("../../src/api/openapi.json")).expect("openapi.json parses")
}

/// The schema of every path parameter named `name`, with the path it belongs to.
fn path_parameters(doc: &Value, name: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let operations = item.as_object().expect("path item").values();
        let lists =
            std::iter::once(&item["parameters"]).chain(operations.map(|o| &o["parameters"]));
        for parameter in lists.filter_map(Value::as_array).flatten() {
            if parameter["name"] == name && parameter["in"] == "path" {
                out.push((path.clone(), parameter["schema"].clone()));
            }
        }
    }
    out
}

#[test]
fn run_id_parameters_admit_every_run_id_the_api_makes() {
    let doc = document();
    let parameters = path_parameters(&doc, "run_id");
    assert!(parameters.len() >= 2, "{parameters:?}");
    let now = chrono::Utc::now().timestamp_millis() as u64;
    let mut ids = vec![new_legacy_run_id(now, &[0xa5; 10])];
    for (i, seed) in [[0u8; 15], [0xff; 15], [0x5a; 15]].iter().enumerate() {
        let workflow = WorkflowId::parse(&new_workflow_id(seed)).unwrap();
        for shard in (0..MAX_SHARDS).chain([TIMER_SHARD]) {
            ids.push(new_run_id(now + i as u64, &[shard; 10], &workflow, shard));
        }
    }
    for (path, schema) in &parameters {
        assert!(
            schema["pattern"].is_string(),
            "{path}: run_id has no pattern"
        );
        let validator = jsonschema::validator_for(schema).expect("the parameter schema compiles");
        for id in &ids {
            assert!(RunId::parse(id).is_some(), "{id}");
            assert!(
                validator.is_valid(&Value::from(id.as_str())),
                "{path}: {id} is refused"
            );
        }
        for not_an_id in [
            "run_",
            "wf_000000000000000000000000",
            "run_0123456789abcdefghjkmnpqrs_",
        ] {
            assert!(
                !validator.is_valid(&Value::from(not_an_id)),
                "{path}: {not_an_id}"
            );
        }
    }
}
