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

/// Most errors one input reports: the first ones, then a last entry saying more were found. An
/// input's errors can be as many as its size allows (a placeholder per few bytes, each located
/// by its path), and each is kept until the answer is written.
pub const MAX_ERRORS: usize = 200;

impl Errors {
    pub fn new() -> Self {
        Errors(Vec::new())
    }
    /// Whether a problem was reported at `location` already (a later rule then adds none).
    pub fn has(&self, location: &str) -> bool {
        self.0.iter().any(|e| e.location == location)
    }
    pub fn push(&mut self, location: impl Into<String>, message: impl Into<String>) {
        match self.0.len() {
            n if n < MAX_ERRORS => self.0.push(FieldError::new(location, message)),
            MAX_ERRORS => self.0.push(FieldError::new(
                location,
                format!("and more: only the first {MAX_ERRORS} errors are listed"),
            )),
            _ => {}
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn extend(&mut self, other: Errors) {
        for e in other.0 {
            self.push(e.location, e.message);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An input with thousands of errors reports the first ones and says there are more.
    #[test]
    fn errors_past_the_most_are_counted_as_more() {
        let mut errors = Errors::new();
        for i in 0..10_000 {
            errors.push(index("steps", i), "is wrong");
        }
        let mut more = Errors::new();
        more.push("name", "is wrong");
        errors.extend(more);
        assert_eq!(errors.len(), MAX_ERRORS + 1);
        assert_eq!(errors.0[MAX_ERRORS - 1].location, "steps[199]");
        assert_eq!(errors.0[MAX_ERRORS].location, "steps[200]");
        assert!(errors.0[MAX_ERRORS].message.starts_with("and more"));
    }
}
