//! The request schema of an endpoint (webhook) trigger: which query parameters, headers and body
//! fields a request must carry, and the check of one incoming request against it.
//!
//! Definition format (the trigger's `"request"` object; every list optional):
//!
//! ```json
//! { "query":   [{ "name": "source", "required": true, "type": "string", "enum": ["a", "b"] }],
//!   "headers": [{ "name": "x-api-key", "equals": "s3cret" }],
//!   "body":    [{ "name": "items[].sku", "type": "string", "required": true }] }
//! ```
//!
//! Semantics:
//! - A body field name is a path: dots reach into objects, `[]` after a name means "every element
//!   of this array" (`items[].sku`, `orders[].lines[].qty`, `matrix[][]`). The body itself must be
//!   an object, so a path always starts with a key.
//! - `null` counts as absent, except for fields of type `null` or `any`: an optional field may be
//!   null, a required one may not ("is required, got null").
//! - A missing (or null) intermediate object makes a required leaf missing, reported once at the
//!   leaf's path. A missing array has no elements, so rules under its `[]` hold vacuously (declare
//!   the array itself `required` to demand it). An intermediate that is present but of the wrong
//!   kind (`"address": 5` for `address.city`) is reported once, at the intermediate's path.
//! - Integers: a JSON number with no fractional part (`3`, `3.0`) is an integer. Numbers compare
//!   by value in `enum`/`equals` (`3` equals `3.0`).
//! - Query values and form bodies are strings: `integer`, `number` and `boolean` accept strings
//!   that parse as such (`"42"`, `"-1.5e3"`, `"true"`/`"false"`; not `"NaN"`/`"inf"`).
//! - `equals` values are never echoed in messages (they are often shared secrets, in headers,
//!   query strings or bodies) and are compared in constant time; `enum` values are listed.
//! - `equals` makes a field required, whatever `required` says: a rule like
//!   `{"name": "x-api-key", "equals": "…"}` is a gate, so a request without the field fails it,
//!   with the same message as a wrong value ("must equal the configured value"), at the field's
//!   location. Under an array's `[]` it applies to each element that exists, as `required` does.
//! - At most [`MAX_ERRORS`] errors are listed per request, followed by one entry saying more were
//!   found: a 1 MiB body of empty array elements must not build a 30 MB error list.
//!
//! Validation is the hot path of every webhook: paths are split once at parse time, lookups are
//! map gets, and nothing is allocated unless an error is reported.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use subtle::ConstantTimeEq;

use crate::kernel::problem::{index, join, Errors};
use crate::kernel::reader::{as_str, type_name, ObjectReader};

/// Most entries in each of `query`, `headers` and `body`.
pub const MAX_FIELDS: usize = 200;
/// Most segments (keys and `[]`s) in one body field path.
pub const MAX_PATH_SEGMENTS: usize = 32;
/// Longest field, parameter or header name, in characters.
pub const MAX_NAME_LEN: usize = 256;
/// Most values in one `enum`.
pub const MAX_ENUM_VALUES: usize = 500;
/// Most errors listed for one request (one more entry says that there were more).
pub const MAX_ERRORS: usize = 100;

/// How many `enum` values a message lists before eliding the rest.
const ENUM_VALUES_IN_MESSAGE: usize = 20;
/// How many characters of a received string a message quotes.
const QUOTED_CHARS: usize = 60;
/// The error of a field with `equals` that is absent or has another value: the same for both,
/// and never the expected value.
const NOT_EQUAL: &str = "must equal the configured value";

/// The type of a body field or query parameter (`string number integer boolean object array null any`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    String,
    Number,
    Integer,
    Boolean,
    Object,
    Array,
    Null,
    Any,
}

impl FieldType {
    /// Every type a body field may have, in the order messages list them.
    pub const ALL: [FieldType; 8] = [
        FieldType::String,
        FieldType::Number,
        FieldType::Integer,
        FieldType::Boolean,
        FieldType::Object,
        FieldType::Array,
        FieldType::Null,
        FieldType::Any,
    ];
    /// The types a query parameter may have (its raw value is always a string).
    pub const QUERY: [FieldType; 4] = [
        FieldType::String,
        FieldType::Integer,
        FieldType::Number,
        FieldType::Boolean,
    ];

    /// The name used in definitions: `string`, `integer`, ….
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::Object => "object",
            FieldType::Array => "array",
            FieldType::Null => "null",
            FieldType::Any => "any",
        }
    }

    /// The type with this definition name.
    pub fn from_name(name: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// For messages: "must be an integer".
    fn with_article(self) -> &'static str {
        match self {
            FieldType::String => "a string",
            FieldType::Number => "a number",
            FieldType::Integer => "an integer",
            FieldType::Boolean => "a boolean",
            FieldType::Object => "an object",
            FieldType::Array => "an array",
            FieldType::Null => "null",
            FieldType::Any => "any value",
        }
    }

    /// Whether a JSON value (as written in a definition or a JSON body) has this type.
    fn admits(self, v: &Value) -> bool {
        match self {
            FieldType::String => v.is_string(),
            FieldType::Number => v.is_number(),
            FieldType::Integer => matches!(v, Value::Number(n) if is_integral(n)),
            FieldType::Boolean => v.is_boolean(),
            FieldType::Object => v.is_object(),
            FieldType::Array => v.is_array(),
            FieldType::Null => v.is_null(),
            FieldType::Any => true,
        }
    }
}

/// What a value must satisfy: its type, whether it must be present, and optionally one exact
/// value (`equals`) or a set of allowed values (`enum`, empty when not set).
#[derive(Debug, Clone, PartialEq)]
pub struct Constraints {
    pub field_type: FieldType,
    pub required: bool,
    /// Must equal this value (never echoed in messages: it may be a secret).
    pub equals: Option<Value>,
    /// Must be one of these values; empty means any value of the type.
    pub one_of: Vec<Value>,
}

impl Constraints {
    /// A plain typed rule with no `equals`/`enum`.
    pub fn typed(field_type: FieldType, required: bool) -> Constraints {
        Constraints {
            field_type,
            required,
            equals: None,
            one_of: Vec::new(),
        }
    }
}

/// One declared query parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryParam {
    name: String,
    constraints: Constraints,
}

impl QueryParam {
    /// A parameter rule (unchecked; [`RequestSchema::parse`] is the checked way in).
    pub fn new(name: &str, constraints: Constraints) -> QueryParam {
        QueryParam {
            name: name.to_string(),
            constraints,
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn constraints(&self) -> &Constraints {
        &self.constraints
    }
}

/// One declared header; the name matches case-insensitively.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderRule {
    /// As written in the definition (kept for writing it back).
    name: String,
    /// Lowercased, for matching and locations.
    lower: String,
    required: bool,
    equals: Option<String>,
}

impl HeaderRule {
    /// A header rule (unchecked; [`RequestSchema::parse`] is the checked way in).
    pub fn new(name: &str, required: bool, equals: Option<String>) -> HeaderRule {
        HeaderRule {
            name: name.to_string(),
            lower: name.to_ascii_lowercase(),
            required,
            equals,
        }
    }
    /// The name as written in the definition.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The lowercase name incoming headers are matched by.
    pub fn lower_name(&self) -> &str {
        &self.lower
    }
    pub fn required(&self) -> bool {
        self.required
    }
    pub fn equals(&self) -> Option<&str> {
        self.equals.as_deref()
    }
}

/// One step of a body field path: a key of an object, or every element of an array (`[]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Key(String),
    Each,
}

/// One declared body field, with its path split at parse time.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyField {
    name: String,
    segments: Vec<PathSegment>,
    /// Index of the last `[]` segment: a missing key before it makes the rule vacuous.
    last_each: Option<usize>,
    constraints: Constraints,
}

impl BodyField {
    /// A body field rule; `Err` with a message when `name` is not a valid path.
    pub fn new(name: &str, constraints: Constraints) -> Result<BodyField, String> {
        let segments = parse_path(name)?;
        let last_each = segments.iter().rposition(|s| *s == PathSegment::Each);
        Ok(BodyField {
            name: name.to_string(),
            segments,
            last_each,
            constraints,
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }
    pub fn constraints(&self) -> &Constraints {
        &self.constraints
    }
}

/// The request schema of an endpoint trigger.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestSchema {
    pub query: Vec<QueryParam>,
    pub headers: Vec<HeaderRule>,
    pub body: Vec<BodyField>,
}

impl RequestSchema {
    /// Hides the values of the query parameters and headers this schema gates with `equals`
    /// (`?key=…`, `x-api-key: …`: shared secrets, known from the definition anyway) in maps of
    /// a request's query and headers as stored. Header names are matched in lower case.
    pub fn hide_gates(&self, query: &mut Map<String, Value>, headers: &mut Map<String, Value>) {
        let hidden = || Value::String(crate::kernel::redact::REDACTED.to_string());
        for p in self.query.iter().filter(|p| p.constraints.equals.is_some()) {
            if let Some(v) = query.get_mut(&p.name) {
                *v = hidden();
            }
        }
        for h in self.headers.iter().filter(|h| h.equals.is_some()) {
            if let Some(v) = headers.get_mut(&h.lower) {
                *v = hidden();
            }
        }
    }

    /// What a request's query and headers (names in lower case) break of this schema's gates
    /// (`equals` on a query parameter or header: a shared secret, such as `x-api-key`).
    pub fn gate_errors(&self, query: &Map<String, Value>, headers: &Map<String, Value>) -> Errors {
        let mut sink = Sink::default();
        for p in self.query.iter().filter(|p| p.constraints.equals.is_some()) {
            validate_query_param(p, query, &mut sink);
        }
        for h in self.headers.iter().filter(|h| h.equals.is_some()) {
            validate_header(h, headers, &mut sink);
        }
        sink.finish()
    }

    /// Reads a definition's `request` object at `location` (e.g. `trigger.request`), reporting
    /// every problem; `None` when there was any.
    pub fn parse(value: &Value, location: &str, errors: &mut Errors) -> Option<RequestSchema> {
        let before = errors.len();
        let mut r = ObjectReader::new(value, location, errors);
        if !r.is_object() {
            return None;
        }
        let mut schema = RequestSchema::default();

        if let Some(items) = r.opt_array("query", errors) {
            check_count(items.len(), &r.loc("query"), errors);
            let mut seen: Vec<(String, String)> = Vec::new();
            for (loc, item) in items {
                let Some(p) = parse_query_param(item, &loc, errors) else {
                    continue;
                };
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == p.name) {
                    errors.push(
                        join(&loc, "name"),
                        format!("duplicate query parameter `{}` (first at {first})", p.name),
                    );
                }
                seen.push((p.name.clone(), loc));
                schema.query.push(p);
            }
        }

        if let Some(items) = r.opt_array("headers", errors) {
            check_count(items.len(), &r.loc("headers"), errors);
            let mut seen: Vec<(String, String)> = Vec::new();
            for (loc, item) in items {
                let Some(h) = parse_header(item, &loc, errors) else {
                    continue;
                };
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == h.lower) {
                    errors.push(
                        join(&loc, "name"),
                        format!(
                            "duplicate header `{}` (first at {first}; header names are case-insensitive)",
                            h.name
                        ),
                    );
                }
                seen.push((h.lower.clone(), loc));
                schema.headers.push(h);
            }
        }

        if let Some(items) = r.opt_array("body", errors) {
            check_count(items.len(), &r.loc("body"), errors);
            let mut locs = Vec::new();
            for (loc, item) in items {
                if let Some(f) = parse_body_field(item, &loc, errors) {
                    schema.body.push(f);
                    locs.push(loc);
                }
            }
            check_body_paths(&schema.body, &locs, errors);
        }

        r.finish(errors);
        (errors.len() == before).then_some(schema)
    }

    /// Whether nothing at all is declared (every request passes).
    pub fn is_empty(&self) -> bool {
        self.query.is_empty() && self.headers.is_empty() && self.body.is_empty()
    }

    /// Checks one request. `query` values are strings (arrays of strings for repeated keys);
    /// `headers` have lowercase names; `body_is_form` says the body came from an urlencoded or
    /// multipart form, so its values are strings that typed fields may parse. Returns every
    /// violation (up to [`MAX_ERRORS`]), located `query.…`, `header.…` or `body.…`.
    pub fn validate(
        &self,
        query: &Map<String, Value>,
        headers: &Map<String, Value>,
        body: &Value,
        body_is_form: bool,
    ) -> Errors {
        // Gates first: a request that fails one is told only that, so it learns nothing of
        // the rest of the schema, and its body is not checked.
        let gates = self.gate_errors(query, headers);
        if !gates.is_empty() {
            return gates;
        }
        let mut sink = Sink::default();
        let gate = |p: &&QueryParam| p.constraints.equals.is_some();
        for p in self.query.iter().filter(|p| !gate(p)) {
            validate_query_param(p, query, &mut sink);
        }
        for h in self.headers.iter().filter(|h| h.equals.is_none()) {
            validate_header(h, headers, &mut sink);
        }
        let root_kind = match body {
            Value::Object(_) | Value::Null => None,
            other => Some(type_name(other)),
        };
        let mut walk = Walk {
            form: body_is_form,
            root_kind,
            sink: &mut sink,
        };
        for f in &self.body {
            walk.field(f, 0, body, None);
        }
        sink.finish()
    }

    /// The definition JSON of this schema (what [`RequestSchema::parse`] reads back to an equal schema).
    pub fn to_json(&self) -> Value {
        let query = self
            .query
            .iter()
            .map(|p| constraints_json(&p.name, &p.constraints))
            .collect();
        let headers = self
            .headers
            .iter()
            .map(|h| {
                let mut m = Map::new();
                m.insert("name".into(), Value::String(h.name.clone()));
                if h.required {
                    m.insert("required".into(), Value::Bool(true));
                }
                if let Some(e) = &h.equals {
                    m.insert("equals".into(), Value::String(e.clone()));
                }
                Value::Object(m)
            })
            .collect();
        let body = self
            .body
            .iter()
            .map(|f| constraints_json(&f.name, &f.constraints))
            .collect();
        let mut m = Map::new();
        m.insert("query".into(), Value::Array(query));
        m.insert("headers".into(), Value::Array(headers));
        m.insert("body".into(), Value::Array(body));
        Value::Object(m)
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing the definition

fn check_count(n: usize, loc: &str, errors: &mut Errors) {
    if n > MAX_FIELDS {
        errors.push(
            loc,
            format!("has {n} entries; at most {MAX_FIELDS} are allowed"),
        );
    }
}

fn check_name_len(name: &str, loc: &str, errors: &mut Errors) -> bool {
    if name.is_empty() {
        errors.push(loc, "must not be empty");
        false
    } else if name.chars().count() > MAX_NAME_LEN {
        // Characters, as JSON Schema's `maxLength` counts them.
        errors.push(
            loc,
            format!(
                "is {} characters long; at most {MAX_NAME_LEN} are allowed",
                name.chars().count()
            ),
        );
        false
    } else {
        true
    }
}

fn parse_query_param(v: &Value, loc: &str, errors: &mut Errors) -> Option<QueryParam> {
    let before = errors.len();
    let mut r = ObjectReader::new(v, loc, errors);
    if !r.is_object() {
        return None;
    }
    let name = r.req_str("name", errors);
    if let Some(n) = &name {
        check_name_len(n, &r.loc("name"), errors);
    }
    let constraints = parse_constraints(&mut r, &FieldType::QUERY, FieldType::String, errors);
    r.finish(errors);
    let (name, constraints) = (name?, constraints?);
    (errors.len() == before).then(|| QueryParam::new(&name, constraints))
}

fn parse_header(v: &Value, loc: &str, errors: &mut Errors) -> Option<HeaderRule> {
    let before = errors.len();
    let mut r = ObjectReader::new(v, loc, errors);
    if !r.is_object() {
        return None;
    }
    let name = r.req_str("name", errors);
    if let Some(n) = &name {
        let nloc = r.loc("name");
        if check_name_len(n, &nloc, errors) && !n.bytes().all(is_token_byte) {
            errors.push(
                nloc,
                format!(
                    "`{n}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
                ),
            );
        }
    }
    let required = r.opt_bool("required", errors).unwrap_or(false);
    let equals = r.opt_str("equals", errors);
    r.finish(errors);
    let name = name?;
    (errors.len() == before).then(|| HeaderRule::new(&name, required, equals))
}

fn parse_body_field(v: &Value, loc: &str, errors: &mut Errors) -> Option<BodyField> {
    let before = errors.len();
    let mut r = ObjectReader::new(v, loc, errors);
    if !r.is_object() {
        return None;
    }
    let name = r.req_str("name", errors);
    let mut segments = None;
    if let Some(n) = &name {
        let nloc = r.loc("name");
        if check_name_len(n, &nloc, errors) {
            match parse_path(n) {
                Ok(s) => segments = Some(s),
                Err(msg) => errors.push(nloc, msg),
            }
        }
    }
    let constraints = parse_constraints(&mut r, &FieldType::ALL, FieldType::Any, errors);
    r.finish(errors);
    let (name, segments, constraints) = (name?, segments?, constraints?);
    if errors.len() != before {
        return None;
    }
    let last_each = segments.iter().rposition(|s| *s == PathSegment::Each);
    Some(BodyField {
        name,
        segments,
        last_each,
        constraints,
    })
}

/// Reads `required`, `type` (one of `allowed`, else `default`), `equals` and `enum`.
fn parse_constraints(
    r: &mut ObjectReader,
    allowed: &[FieldType],
    default: FieldType,
    errors: &mut Errors,
) -> Option<Constraints> {
    let before = errors.len();
    let required = r.opt_bool("required", errors).unwrap_or(false);
    let tloc = r.loc("type");
    let type_given = r.raw("type");
    let field_type = match type_given {
        None => Some(default),
        Some(t) => as_str(t, &tloc, errors).and_then(|t| {
            let found = FieldType::from_name(&t).filter(|ft| allowed.contains(ft));
            if found.is_none() {
                let names: Vec<_> = allowed.iter().map(|t| t.name()).collect();
                errors.push(
                    &tloc,
                    format!("unknown type `{t}`; expected one of: {}", names.join(", ")),
                );
            }
            found
        }),
    };
    // Without a known type the values cannot be checked against it; still check their shape.
    let check_type = field_type.unwrap_or(FieldType::Any);
    let type_hint = if type_given.is_none() && default == FieldType::String {
        " (set `type` for other kinds of value)"
    } else {
        ""
    };

    let eloc = r.loc("equals");
    let equals = r.raw("equals").cloned();
    if let Some(e) = &equals {
        if !check_type.admits(e) {
            errors.push(
                eloc,
                format!(
                    "must be {} like the field's type, got {}{type_hint}",
                    check_type.with_article(),
                    type_name(e)
                ),
            );
        }
    }

    let mut one_of = Vec::new();
    let nloc = r.loc("enum");
    match r.raw("enum") {
        None => {}
        Some(Value::Array(values)) => {
            if values.is_empty() {
                errors.push(&nloc, "must list at least one allowed value");
            } else if values.len() > MAX_ENUM_VALUES {
                errors.push(
                    &nloc,
                    format!(
                        "has {} values; at most {MAX_ENUM_VALUES} are allowed",
                        values.len()
                    ),
                );
            }
            for (i, v) in values.iter().enumerate() {
                if !check_type.admits(v) {
                    errors.push(
                        index(&nloc, i),
                        format!(
                            "must be {} like the field's type, got {}{type_hint}",
                            check_type.with_article(),
                            type_name(v)
                        ),
                    );
                }
            }
            one_of = values.clone();
        }
        Some(other) => errors.push(
            nloc,
            format!(
                "must be an array of allowed values, got {}",
                type_name(other)
            ),
        ),
    }

    let field_type = field_type?;
    (errors.len() == before).then_some(Constraints {
        field_type,
        required,
        equals,
        one_of,
    })
}

/// Splits a body field path: `items[].sku` → `items`, `[]`, `sku`.
fn parse_path(name: &str) -> Result<Vec<PathSegment>, String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    let mut segments = Vec::new();
    for part in name.split('.') {
        let key_end = part.find('[').unwrap_or(part.len());
        let (key, mut rest) = part.split_at(key_end);
        if key.is_empty() {
            return Err(format!(
                "`{name}` is not a valid field path: every part between dots needs a name \
                 (the body is an object; write e.g. `items[].sku` or `address.city`)"
            ));
        }
        if key.contains(']') {
            return Err(format!(
                "`{name}` is not a valid field path: `]` without `[` (only `[]`, meaning every element, is allowed)"
            ));
        }
        segments.push(PathSegment::Key(key.to_string()));
        while !rest.is_empty() {
            match rest.strip_prefix("[]") {
                Some(after) => {
                    segments.push(PathSegment::Each);
                    rest = after;
                }
                None => {
                    return Err(format!(
                    "`{name}` is not a valid field path: after a name only `[]` (every element of \
                         the array) may follow, then `.` and the next name, as in `items[].sku`"
                ))
                }
            }
        }
    }
    if segments.len() > MAX_PATH_SEGMENTS {
        return Err(format!(
            "`{name}` is nested {} levels deep; at most {MAX_PATH_SEGMENTS} are allowed",
            segments.len()
        ));
    }
    Ok(segments)
}

/// Rejects duplicate paths and paths that contradict each other: `address` declared as a string
/// alongside `address.city`, or `a.x` (object) alongside `a[].y` (array).
fn check_body_paths(fields: &[BodyField], locs: &[String], errors: &mut Errors) {
    let mut by_path: HashMap<&[PathSegment], usize> = HashMap::new();
    for (i, f) in fields.iter().enumerate() {
        match by_path.get(f.segments.as_slice()) {
            Some(&first) => errors.push(
                join(&locs[i], "name"),
                format!(
                    "duplicate body field `{}` (first at {})",
                    f.name,
                    locs.get(first).map(String::as_str).unwrap_or("?")
                ),
            ),
            None => {
                by_path.insert(&f.segments, i);
            }
        }
    }
    // Which kind of container each prefix is used as, and by which field first.
    let mut used_as: HashMap<&[PathSegment], (bool, usize)> = HashMap::new();
    for (i, f) in fields.iter().enumerate() {
        for pos in 1..f.segments.len() {
            let prefix = &f.segments[..pos];
            let as_array = f.segments[pos] == PathSegment::Each;
            let (needed, kind) = if as_array {
                (FieldType::Array, "an array")
            } else {
                (FieldType::Object, "an object")
            };
            if let Some(&j) = by_path.get(prefix) {
                let declared = fields[j].constraints.field_type;
                if declared != needed && declared != FieldType::Any {
                    errors.push(
                        join(&locs[i], "name"),
                        format!(
                            "`{}` treats `{}` as {kind}, but `{}` is declared with type {}",
                            f.name,
                            fields[j].name,
                            fields[j].name,
                            declared.name()
                        ),
                    );
                    break;
                }
            }
            match used_as.get(prefix) {
                Some(&(other_array, j)) if other_array != as_array => {
                    errors.push(
                        join(&locs[i], "name"),
                        format!(
                            "`{}` treats `{}` as {kind}, but `{}` treats it as {}",
                            f.name,
                            path_text(prefix),
                            fields[j].name,
                            if other_array { "an array" } else { "an object" }
                        ),
                    );
                    break;
                }
                Some(_) => {}
                None => {
                    used_as.insert(prefix, (as_array, i));
                }
            }
        }
    }
}

/// A path prefix written back as text: `orders[].lines`.
fn path_text(segments: &[PathSegment]) -> String {
    let mut s = String::new();
    for seg in segments {
        match seg {
            PathSegment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathSegment::Each => s.push_str("[]"),
        }
    }
    s
}

fn constraints_json(name: &str, c: &Constraints) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name.to_string()));
    m.insert("type".into(), Value::String(c.field_type.name().into()));
    if c.required {
        m.insert("required".into(), Value::Bool(true));
    }
    if let Some(e) = &c.equals {
        m.insert("equals".into(), e.clone());
    }
    if !c.one_of.is_empty() {
        m.insert("enum".into(), Value::Array(c.one_of.clone()));
    }
    Value::Object(m)
}

/// RFC 9110 token characters (what a header name is made of).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

// ---------------------------------------------------------------------------------------------
// Validating a request

/// Collects errors up to [`MAX_ERRORS`], dropping exact repeats; past the cap it only notes the
/// location of the first error it did not list, without formatting any other.
#[derive(Default)]
struct Sink {
    errors: Errors,
    first_unlisted: Option<String>,
}

impl Sink {
    fn report(&mut self, location: &dyn Fn() -> String, message: impl FnOnce() -> String) {
        if self.errors.len() >= MAX_ERRORS {
            if self.first_unlisted.is_none() {
                self.first_unlisted = Some(location());
            }
            return;
        }
        let location = location();
        let message = message();
        if !self
            .errors
            .0
            .iter()
            .any(|e| e.location == location && e.message == message)
        {
            self.errors.push(location, message);
        }
    }

    fn finish(mut self) -> Errors {
        if let Some(location) = self.first_unlisted.take() {
            self.errors.push(
                location,
                format!("and more problems from here on that are not listed (at most {MAX_ERRORS} are shown)"),
            );
        }
        self.errors
    }
}

fn validate_query_param(p: &QueryParam, query: &Map<String, Value>, sink: &mut Sink) {
    let location = || join("query", &p.name);
    match query.get(&p.name) {
        None | Some(Value::Null) => missing(&p.constraints, &location, "", sink),
        Some(Value::Array(values)) if values.is_empty() => {
            missing(&p.constraints, &location, "", sink)
        }
        Some(Value::Array(values)) => {
            for v in values {
                check_value(&p.constraints, v, true, &location, sink);
            }
        }
        Some(v) => check_value(&p.constraints, v, true, &location, sink),
    }
}

fn validate_header(h: &HeaderRule, headers: &Map<String, Value>, sink: &mut Sink) {
    let location = || join("header", &h.lower);
    let value = headers.get(&h.lower).or_else(|| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&h.lower))
            .map(|(_, v)| v)
    });
    let check = |v: &Value, sink: &mut Sink| {
        let Some(expected) = &h.equals else { return };
        let ok = match v {
            Value::String(s) => same_secret(s, expected),
            _ => false,
        };
        if !ok {
            sink.report(&location, || NOT_EQUAL.into());
        }
    };
    let absent = |sink: &mut Sink| {
        if h.equals.is_some() {
            // `equals` makes the header required, and its absence is told like a wrong value.
            sink.report(&location, || NOT_EQUAL.into());
        } else if h.required {
            sink.report(&location, || "is required".into());
        }
    };
    match value {
        None | Some(Value::Null) => absent(sink),
        Some(Value::Array(values)) if values.is_empty() => absent(sink),
        Some(Value::Array(values)) => {
            for v in values {
                check(v, sink);
            }
        }
        Some(v) => check(v, sink),
    }
}

/// The indices taken at each `[]` on the way down, innermost first (a stack-allocated list).
struct Indices<'p> {
    index: usize,
    parent: Option<&'p Indices<'p>>,
}

/// Walks the body for each field.
struct Walk<'s> {
    form: bool,
    /// The body's JSON type when it is neither an object nor null (then it has no fields).
    root_kind: Option<&'static str>,
    sink: &'s mut Sink,
}

impl Walk<'_> {
    /// Follows `field`'s path from segment `pos`, where the value is `cur`. Recursion happens
    /// only at `[]` segments, so its depth is bounded by the definition, never by the input.
    fn field(&mut self, field: &BodyField, mut pos: usize, mut cur: &Value, at: Option<&Indices>) {
        loop {
            let Some(segment) = field.segments.get(pos) else {
                let location = || body_location(&field.segments, field.segments.len(), at);
                check_value(&field.constraints, cur, self.form, &location, self.sink);
                return;
            };
            match segment {
                PathSegment::Key(key) => {
                    let next = match cur {
                        Value::Object(m) => m.get(key.as_str()),
                        Value::Null => None,
                        _ if pos == 0 => None, // a non-object body: reported via `root_kind`
                        other => {
                            let location = || body_location(&field.segments, pos, at);
                            self.sink.report(&location, || {
                                format!("must be an object, got {}", describe(other))
                            });
                            return;
                        }
                    };
                    match next {
                        None => return self.missing(field, pos, at),
                        Some(Value::Null) if pos + 1 < field.segments.len() => {
                            return self.missing(field, pos, at)
                        }
                        Some(v) => {
                            cur = v;
                            pos += 1;
                        }
                    }
                }
                PathSegment::Each => {
                    match cur {
                        Value::Array(items) => {
                            for (i, item) in items.iter().enumerate() {
                                let here = Indices {
                                    index: i,
                                    parent: at,
                                };
                                self.field(field, pos + 1, item, Some(&here));
                            }
                        }
                        Value::Null => {} // no array, no elements
                        other => {
                            let location = || body_location(&field.segments, pos, at);
                            self.sink.report(&location, || {
                                format!("must be an array, got {}", describe(other))
                            });
                        }
                    }
                    return;
                }
            }
        }
    }

    /// The key at `segments[pos]` is absent (or null on the way down).
    fn missing(&mut self, field: &BodyField, pos: usize, at: Option<&Indices>) {
        if field.last_each.is_some_and(|e| e >= pos) {
            return; // an array further down does not exist: no elements to check
        }
        let location = || body_location(&field.segments, field.segments.len(), at);
        let note = match (pos, self.root_kind) {
            (0, Some(kind)) => match kind {
                "array" => " (the body is an array, not a JSON object)",
                "string" => " (the body is a string, not a JSON object)",
                "boolean" => " (the body is a boolean, not a JSON object)",
                _ => " (the body is a number, not a JSON object)",
            },
            _ => "",
        };
        missing(&field.constraints, &location, note, self.sink);
    }
}

/// `body.items[2].sku` for the first `upto` segments, with the actual indices.
fn body_location(segments: &[PathSegment], upto: usize, at: Option<&Indices>) -> String {
    let mut indices = Vec::new();
    let mut cursor = at;
    while let Some(i) = cursor {
        indices.push(i.index);
        cursor = i.parent;
    }
    let mut indices = indices.into_iter().rev();
    let mut s = String::from("body");
    for seg in segments.iter().take(upto) {
        match seg {
            PathSegment::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            PathSegment::Each => match indices.next() {
                Some(i) => s.push_str(&format!("[{i}]")),
                None => s.push_str("[]"),
            },
        }
    }
    s
}

fn missing(c: &Constraints, location: &dyn Fn() -> String, note: &str, sink: &mut Sink) {
    if c.equals.is_some() {
        // `equals` makes the field required, and its absence is told like a wrong value.
        sink.report(location, || NOT_EQUAL.into());
    } else if c.required {
        sink.report(location, || format!("is required{note}"));
    }
}

/// A received value read as the field's type (strings parsed when `coerce`).
#[derive(Clone, Copy)]
enum Typed<'a> {
    Str(&'a str),
    Num(Num),
    Bool(bool),
    Json(&'a Value),
}

#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(n: &Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::Int(i128::from(i))
        } else if let Some(u) = n.as_u64() {
            Num::Int(i128::from(u))
        } else {
            Num::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
    fn same(self, other: Num) -> bool {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a == b,
            _ => self.as_f64() == other.as_f64(),
        }
    }
}

fn is_integral(n: &Number) -> bool {
    n.is_i64()
        || n.is_u64()
        || n.as_f64()
            .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

fn parse_number(s: &str) -> Option<Num> {
    crate::kernel::json_parse::decimal(s).map(Num::Float)
}

fn parse_integer(s: &str) -> Option<Num> {
    match s.parse::<i128>() {
        Ok(i) => Some(Num::Int(i)),
        Err(_) => parse_number(s).filter(|n| n.as_f64().fract() == 0.0),
    }
}

impl<'a> Typed<'a> {
    /// `v` read as `ty`, or `None` when it is not of that type.
    fn of(ty: FieldType, v: &'a Value, coerce: bool) -> Option<Typed<'a>> {
        match (ty, v) {
            (FieldType::String, Value::String(s)) => Some(Typed::Str(s)),
            (FieldType::Integer, Value::Number(n)) if is_integral(n) => {
                Some(Typed::Num(Num::of(n)))
            }
            (FieldType::Integer, Value::String(s)) if coerce => parse_integer(s).map(Typed::Num),
            (FieldType::Number, Value::Number(n)) => Some(Typed::Num(Num::of(n))),
            (FieldType::Number, Value::String(s)) if coerce => parse_number(s).map(Typed::Num),
            (FieldType::Boolean, Value::Bool(b)) => Some(Typed::Bool(*b)),
            (FieldType::Boolean, Value::String(s)) if coerce => match s.as_str() {
                "true" => Some(Typed::Bool(true)),
                "false" => Some(Typed::Bool(false)),
                _ => None,
            },
            (FieldType::Object, Value::Object(_))
            | (FieldType::Array, Value::Array(_))
            | (FieldType::Null, Value::Null)
            | (FieldType::Any, _) => Some(Typed::Json(v)),
            _ => None,
        }
    }

    /// Whether this equals a value from the definition; strings in constant time when `secret`.
    fn is(self, expected: &Value, secret: bool) -> bool {
        match (self, expected) {
            (Typed::Str(s), Value::String(e)) if secret => same_secret(s, e),
            (Typed::Json(Value::String(s)), Value::String(e)) if secret => same_secret(s, e),
            (Typed::Str(s), Value::String(e)) => s == e,
            (Typed::Num(n), Value::Number(e)) => n.same(Num::of(e)),
            (Typed::Bool(b), Value::Bool(e)) => b == *e,
            (Typed::Json(v), e) => json_eq(e, v),
            _ => false,
        }
    }
}

/// JSON equality with numbers compared by value. Recurses only where both sides are containers,
/// so the depth is bounded by the definition's value.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Num::of(x).same(Num::of(y)),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| json_eq(p, q)))
        }
        _ => a == b,
    }
}

/// Checks one present value against its constraints.
fn check_value(
    c: &Constraints,
    v: &Value,
    coerce: bool,
    location: &dyn Fn() -> String,
    sink: &mut Sink,
) {
    if v.is_null() && !matches!(c.field_type, FieldType::Null | FieldType::Any) {
        if c.equals.is_some() {
            sink.report(location, || NOT_EQUAL.into());
        } else if c.required {
            sink.report(location, || "is required, got null".into());
        }
        return;
    }
    let Some(typed) = Typed::of(c.field_type, v, coerce) else {
        sink.report(location, || {
            format!(
                "must be {}, got {}",
                c.field_type.with_article(),
                describe(v)
            )
        });
        return;
    };
    if let Some(expected) = &c.equals {
        if !typed.is(expected, true) {
            sink.report(location, || NOT_EQUAL.into());
        }
    }
    if !c.one_of.is_empty() && !c.one_of.iter().any(|e| typed.is(e, false)) {
        sink.report(location, || {
            format!(
                "must be one of: {} (got {})",
                list_values(&c.one_of),
                describe(v)
            )
        });
    }
}

/// `A, B, 3` — strings unquoted, the rest as JSON; long lists elided.
fn list_values(values: &[Value]) -> String {
    let mut s = String::new();
    for (i, v) in values.iter().take(ENUM_VALUES_IN_MESSAGE).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        match v {
            Value::String(t) => s.push_str(t),
            other => s.push_str(&other.to_string()),
        }
    }
    if values.len() > ENUM_VALUES_IN_MESSAGE {
        s.push_str(&format!(
            ", … ({} more)",
            values.len() - ENUM_VALUES_IN_MESSAGE
        ));
    }
    s
}

/// A received value for a message: `string "abc"`, `integer 5`, `boolean true`, `null`, `object`.
fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let cut = s.char_indices().nth(QUOTED_CHARS).map(|(i, _)| i);
            match cut {
                Some(i) => format!(
                    "string {}…",
                    Value::String(s.get(..i).unwrap_or_default().to_string())
                ),
                None => format!("string {}", Value::String(s.clone())),
            }
        }
        Value::Number(n) => format!("{} {n}", type_name(v)),
        Value::Bool(b) => format!("boolean {b}"),
        other => type_name(other).to_string(),
    }
}

/// Whether a sent value is the expected secret, in time that depends on neither: their SHA-256
/// digests are compared in constant time (comparing the texts would tell their lengths apart).
fn same_secret(sent: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(sent.as_bytes())
        .ct_eq(&Sha256::digest(expected.as_bytes()))
        .into()
}

#[cfg(test)]
mod tests;
