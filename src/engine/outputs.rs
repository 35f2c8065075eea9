//! The template context a run's steps read, with the raw outputs of its finished steps under
//! `steps`. Each new output is added in place (never a copy of the earlier ones per step), and
//! the length of their JSON is measured only when the executor saves them, each output once:
//! what a run keeps sealed for a resume is capped, and outputs already past the cap are not
//! written out and sealed only to be dropped.

use std::cell::RefCell;

use serde_json::{Map, Value};
use tripline_core::kernel::json_len::{json_len, str_len};

/// A run's template context and what is known of its outputs' size.
pub struct RunContext {
    /// The trigger's input, `workflow`, `run` and `steps` (the raw outputs by step name).
    ctx: Value,
    /// Each output's share of the outputs' JSON (`"name":value`), by step name, once measured.
    sizes: RefCell<Vec<(String, usize)>>,
}

impl RunContext {
    /// `context` with `outputs` (the outputs of steps finished in earlier attempts) as `steps`.
    pub fn new(mut context: Map<String, Value>, outputs: Map<String, Value>) -> Self {
        context.insert("steps".into(), Value::Object(outputs));
        RunContext {
            ctx: Value::Object(context),
            sizes: RefCell::default(),
        }
    }

    /// What templates read.
    pub fn value(&self) -> &Value {
        &self.ctx
    }

    /// An OAuth run's access token (as one secret value, or none): hidden from every step's
    /// record, also where an upstream echoed it to a step that never read it.
    pub fn access_token(&self) -> Vec<String> {
        let token = self.ctx["oauth"]["access_token"].as_str();
        token.map(str::to_string).into_iter().collect()
    }

    /// An OAuth run's `oauth` variables, to give later steps a fresher token.
    pub fn oauth_mut(&mut self) -> Option<&mut Value> {
        self.ctx.get_mut("oauth")
    }

    /// Records a finished step's raw output for the steps after it.
    pub fn add(&mut self, name: &str, output: Value) {
        if let Some(steps) = self.ctx["steps"].as_object_mut() {
            self.sizes.borrow_mut().retain(|(n, _)| n != name);
            steps.insert(name.to_string(), output);
        }
    }

    /// The raw outputs so far, for the executor to keep sealed.
    pub fn outputs(&self) -> RawOutputs<'_> {
        RawOutputs {
            map: self.ctx["steps"].as_object(),
            sizes: &self.sizes,
        }
    }
}

/// The raw outputs of a run's finished steps, and their JSON's length on demand.
#[derive(Clone, Copy)]
pub struct RawOutputs<'a> {
    map: Option<&'a Map<String, Value>>,
    sizes: &'a RefCell<Vec<(String, usize)>>,
}

impl<'a> RawOutputs<'a> {
    /// The outputs by step name (`None`: there are none).
    pub fn map(&self) -> Option<&'a Map<String, Value>> {
        self.map
    }

    /// The length of the outputs' compact JSON; only outputs not measured before are measured.
    pub fn json_bytes(&self) -> usize {
        let Some(map) = self.map else {
            return 0;
        };
        let mut sizes = self.sizes.borrow_mut();
        // The braces and the commas between entries.
        let mut total = 2 + map.len().saturating_sub(1);
        for (name, value) in map {
            total += match sizes.iter().find(|(n, _)| n == name) {
                Some((_, n)) => *n,
                None => {
                    let n = str_len(name) + 1 + json_len(value);
                    sizes.push((name.clone(), n));
                    n
                }
            };
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_outputs_length_is_their_json_as_they_grow() {
        let input = json!({"request": {"body": {"a": 1}}});
        let Value::Object(input) = input else {
            unreachable!()
        };
        let mut run = RunContext::new(input, Map::new());
        let json = |run: &RunContext| serde_json::to_string(run.outputs().map().unwrap()).unwrap();
        assert_eq!(run.outputs().json_bytes(), json(&run).len());
        run.add(
            "first",
            json!({"status": 200, "body": "x\"y\n".repeat(100)}),
        );
        assert_eq!(run.outputs().json_bytes(), json(&run).len());
        run.add("second", json!({"message": "é"}));
        run.add("a_third", json!([1, 2, 3]));
        assert_eq!(run.outputs().json_bytes(), json(&run).len());
        // A name added again is measured again.
        run.add("second", json!({"message": "longer than before"}));
        assert_eq!(run.outputs().json_bytes(), json(&run).len());
        assert_eq!(run.value()["steps"]["first"]["status"], 200);
        assert_eq!(run.value()["request"]["body"]["a"], 1);
    }
}
