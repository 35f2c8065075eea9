//! Validation errors: what went wrong, and where (a JSON-ish location like `trigger.schedule.at`).

use serde::Serialize;

/// One thing wrong with an input, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where: `trigger.schedule.at`, `steps[1].url`, `query.source`, `header.x-api-key`, `body.items[2].sku`.
    pub location: String,
    /// What a person can act on.
    pub message: String,
}

impl FieldError {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// Every error found in one input; validators push all of them instead of stopping at the first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn new() -> Self {
        Errors(Vec::new())
    }
    pub fn push(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(location, message));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn extend(&mut self, other: Errors) {
        self.0.extend(other.0);
    }
    /// `Ok(value)` when nothing was pushed, else all the errors.
    pub fn into_result<T>(self, value: T) -> Result<T, Errors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// Joins a parent location and a key: `join("trigger", "at") == "trigger.at"`, `join("", "name") == "name"`.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Location of an array element: `index("steps", 2) == "steps[2]"`.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}
