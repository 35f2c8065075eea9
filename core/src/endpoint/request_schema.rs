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
//! Semantics (also where the product spec was silent):
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
/// Longest field, parameter or header name, in bytes.
pub const MAX_NAME_LEN: usize = 256;
/// Most values in one `enum`.
pub const MAX_ENUM_VALUES: usize = 500;
/// Most errors listed for one request (one more entry says that there were more).
pub const MAX_ERRORS: usize = 100;

/// How many `enum` values a message lists before eliding the rest.
const ENUM_VALUES_IN_MESSAGE: usize = 20;
/// How many characters of a received string a message quotes.
const QUOTED_CHARS: usize = 60;

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
        let mut sink = Sink::default();
        for p in &self.query {
            validate_query_param(p, query, &mut sink);
        }
        for h in &self.headers {
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
    } else if name.len() > MAX_NAME_LEN {
        errors.push(
            loc,
            format!(
                "is {} bytes long; at most {MAX_NAME_LEN} are allowed",
                name.len()
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
                format!("`{n}` is not a valid header name: use letters, digits and `-` (e.g. `x-api-key`)"),
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
            Value::String(s) => bool::from(s.as_bytes().ct_eq(expected.as_bytes())),
            _ => false,
        };
        if !ok {
            sink.report(&location, || "must equal the configured value".into());
        }
    };
    match value {
        None | Some(Value::Null) => {
            if h.required {
                sink.report(&location, || "is required".into());
            }
        }
        Some(Value::Array(values)) if values.is_empty() => {
            if h.required {
                sink.report(&location, || "is required".into());
            }
        }
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
    if c.required {
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
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Num::Float)
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
            (Typed::Str(s), Value::String(e)) if secret => s.as_bytes().ct_eq(e.as_bytes()).into(),
            (Typed::Json(Value::String(s)), Value::String(e)) if secret => {
                s.as_bytes().ct_eq(e.as_bytes()).into()
            }
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
        if c.required {
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
            sink.report(location, || "must equal the configured value".into());
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> RequestSchema {
        let mut errors = Errors::new();
        let s = RequestSchema::parse(&v, "trigger.request", &mut errors);
        assert!(errors.is_empty(), "unexpected errors: {errors:?}");
        s.expect("schema")
    }

    fn parse_errors(v: Value) -> Vec<(String, String)> {
        let mut errors = Errors::new();
        let s = RequestSchema::parse(&v, "trigger.request", &mut errors);
        assert!(s.is_none(), "expected parse to fail");
        errors
            .0
            .into_iter()
            .map(|e| (e.location, e.message))
            .collect()
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn check(
        s: &RequestSchema,
        q: Value,
        h: Value,
        body: Value,
        form: bool,
    ) -> Vec<(String, String)> {
        s.validate(&obj(q), &obj(h), &body, form)
            .0
            .into_iter()
            .map(|e| (e.location, e.message))
            .collect()
    }

    fn body_errors(s: &RequestSchema, body: Value) -> Vec<(String, String)> {
        check(s, json!({}), json!({}), body, false)
    }

    fn e(loc: &str, msg: &str) -> (String, String) {
        (loc.to_string(), msg.to_string())
    }

    fn spec_example() -> RequestSchema {
        schema(json!({
            "query":   [{ "name": "source", "required": true, "type": "string", "enum": ["a","b"] },
                        { "name": "page", "type": "integer" }],
            "headers": [{ "name": "x-api-key", "equals": "s3cret" }, { "name": "X-Tenant", "required": true }],
            "body":    [{ "name": "email", "type": "string", "required": true },
                        { "name": "address.city", "type": "string" },
                        { "name": "items[].sku", "type": "string", "required": true, "enum": ["A","B"] }]
        }))
    }

    // ---- parsing ----------------------------------------------------------------------------

    #[test]
    fn parses_the_spec_example() {
        let s = spec_example();
        assert_eq!(s.query.len(), 2);
        assert_eq!(s.query[0].name(), "source");
        assert_eq!(
            s.query[0].constraints(),
            &Constraints {
                field_type: FieldType::String,
                required: true,
                equals: None,
                one_of: vec![json!("a"), json!("b")],
            }
        );
        assert_eq!(s.query[1].constraints().field_type, FieldType::Integer);
        assert!(!s.query[1].constraints().required);
        assert_eq!(s.headers[0].lower_name(), "x-api-key");
        assert_eq!(s.headers[0].equals(), Some("s3cret"));
        assert!(!s.headers[0].required());
        assert_eq!(s.headers[1].name(), "X-Tenant");
        assert_eq!(s.headers[1].lower_name(), "x-tenant");
        assert!(s.headers[1].required());
        assert_eq!(
            s.body[1].segments(),
            &[
                PathSegment::Key("address".into()),
                PathSegment::Key("city".into())
            ]
        );
        assert_eq!(
            s.body[2].segments(),
            &[
                PathSegment::Key("items".into()),
                PathSegment::Each,
                PathSegment::Key("sku".into())
            ]
        );
        assert_eq!(s.body[2].last_each, Some(1));
        assert!(!s.is_empty());
    }

    #[test]
    fn everything_is_optional() {
        let s = schema(json!({}));
        assert!(s.is_empty());
        assert_eq!(s, RequestSchema::default());
        let s = schema(json!({"query": null, "headers": [], "body": []}));
        assert!(s.is_empty());
        // Defaults: query params are strings, body fields any, nothing required.
        let s = schema(json!({"query": [{"name": "q"}], "body": [{"name": "b"}]}));
        assert_eq!(
            s.query[0].constraints(),
            &Constraints::typed(FieldType::String, false)
        );
        assert_eq!(
            s.body[0].constraints(),
            &Constraints::typed(FieldType::Any, false)
        );
    }

    #[test]
    fn rejects_a_non_object() {
        assert_eq!(
            parse_errors(json!([1])),
            [e("trigger.request", "must be an object, got array")]
        );
        assert_eq!(
            parse_errors(json!({"query": {"name": "x"}})),
            [e("trigger.request.query", "must be an array, got object")]
        );
        assert_eq!(
            parse_errors(json!({"body": ["email"]})),
            [e(
                "trigger.request.body[0]",
                "must be an object, got string"
            )]
        );
    }

    #[test]
    fn rejects_unknown_fields_by_name() {
        let errs = parse_errors(json!({
            "querry": [],
            "query": [{"name": "a", "requried": true}],
            "headers": [{"name": "x-a", "type": "string"}],
            "body": [{"name": "b", "typ": "string"}]
        }));
        let locs: Vec<_> = errs.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            locs,
            [
                "trigger.request.query[0].requried",
                "trigger.request.headers[0].type",
                "trigger.request.body[0].typ",
                "trigger.request.querry"
            ]
        );
        assert_eq!(
            errs[1].1,
            "unknown field `type`; expected one of: name, required, equals"
        );
        assert!(errs[2]
            .1
            .starts_with("unknown field `typ`; expected one of: name, required, type"));
        assert!(errs[3].1.contains("query, headers, body"));
    }

    #[test]
    fn unknown_type_lists_the_allowed_ones() {
        let errs = parse_errors(json!({"body": [
            {"name": "a"}, {"name": "b", "type": "string"}, {"name": "c", "type": "strnig"}
        ]}));
        assert_eq!(
            errs,
            [e(
                "trigger.request.body[2].type",
                "unknown type `strnig`; expected one of: string, number, integer, boolean, object, array, null, any"
            )]
        );
        let errs = parse_errors(json!({"query": [{"name": "a", "type": "object"}]}));
        assert_eq!(
            errs,
            [e(
                "trigger.request.query[0].type",
                "unknown type `object`; expected one of: string, integer, number, boolean"
            )]
        );
        let errs = parse_errors(json!({"body": [{"name": "a", "type": 5}]}));
        assert_eq!(
            errs,
            [e(
                "trigger.request.body[0].type",
                "must be a string, got integer"
            )]
        );
    }

    #[test]
    fn rejects_bad_field_paths() {
        for bad in [
            "a..b",
            ".a",
            "a.",
            "items[0].sku",
            "a]",
            "[].x",
            "a[]b",
            "a[",
            "a.[]",
            "[]",
        ] {
            let errs = parse_errors(json!({"body": [{"name": bad}]}));
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].0, "trigger.request.body[0].name", "{bad}");
            assert!(
                errs[0]
                    .1
                    .starts_with(&format!("`{bad}` is not a valid field path")),
                "{bad}: {}",
                errs[0].1
            );
        }
        let errs = parse_errors(json!({"body": [{"name": ""}]}));
        assert_eq!(
            errs,
            [e("trigger.request.body[0].name", "must not be empty")]
        );
        let deep = vec!["a"; MAX_PATH_SEGMENTS + 1].join(".");
        let errs = parse_errors(json!({"body": [{"name": deep}]}));
        assert!(
            errs[0].1.contains("nested 33 levels deep; at most 32"),
            "{errs:?}"
        );
        let long = "a".repeat(MAX_NAME_LEN + 1);
        let errs = parse_errors(json!({"query": [{"name": long}]}));
        assert_eq!(
            errs,
            [e(
                "trigger.request.query[0].name",
                "is 257 bytes long; at most 256 are allowed"
            )]
        );
    }

    #[test]
    fn accepts_good_field_paths() {
        let s = schema(json!({"body": [
            {"name": "a"}, {"name": "a b"}, {"name": "tags[]"}, {"name": "m[][]"},
            {"name": "orders[].lines[].qty"}, {"name": "x.y.z"}, {"name": "ünï.cödé"}
        ]}));
        use PathSegment::{Each, Key};
        assert_eq!(s.body[3].segments(), &[Key("m".into()), Each, Each]);
        assert_eq!(
            s.body[4].segments(),
            &[
                Key("orders".into()),
                Each,
                Key("lines".into()),
                Each,
                Key("qty".into())
            ]
        );
        assert_eq!(s.body[4].last_each, Some(3));
        assert_eq!(s.body[5].last_each, None);
        assert_eq!(path_text(s.body[4].segments()), "orders[].lines[].qty");
    }

    #[test]
    fn enum_and_equals_values_must_match_the_type() {
        let errs = parse_errors(json!({
            "query": [{"name": "n", "enum": ["1", 2]},
                      {"name": "p", "type": "integer", "enum": [1, 2.5], "equals": "1"}],
            "body": [{"name": "a", "type": "string", "enum": ["A", 1, null]},
                     {"name": "b", "type": "boolean", "equals": "true"},
                     {"name": "c", "enum": []},
                     {"name": "d", "enum": "A"},
                     {"name": "e", "type": "integer", "enum": [1, 2.0, 3]}]
        }));
        assert_eq!(
            errs,
            [
                e(
                    "trigger.request.query[0].enum[1]",
                    "must be a string like the field's type, got integer (set `type` for other kinds of value)"
                ),
                e(
                    "trigger.request.query[1].equals",
                    "must be an integer like the field's type, got string"
                ),
                e(
                    "trigger.request.query[1].enum[1]",
                    "must be an integer like the field's type, got number"
                ),
                e(
                    "trigger.request.body[0].enum[1]",
                    "must be a string like the field's type, got integer"
                ),
                e(
                    "trigger.request.body[0].enum[2]",
                    "must be a string like the field's type, got null"
                ),
                e(
                    "trigger.request.body[1].equals",
                    "must be a boolean like the field's type, got string"
                ),
                e("trigger.request.body[2].enum", "must list at least one allowed value"),
                e(
                    "trigger.request.body[3].enum",
                    "must be an array of allowed values, got string"
                ),
            ]
        );
    }

    #[test]
    fn rejects_duplicates() {
        let errs = parse_errors(json!({
            "query": [{"name": "a"}, {"name": "A"}, {"name": "a"}],
            "headers": [{"name": "X-Key"}, {"name": "x-key"}],
            "body": [{"name": "items[].sku"}, {"name": "email"}, {"name": "items[].sku"}]
        }));
        assert_eq!(
            errs,
            [
                e(
                    "trigger.request.query[2].name",
                    "duplicate query parameter `a` (first at trigger.request.query[0])"
                ),
                e(
                    "trigger.request.headers[1].name",
                    "duplicate header `x-key` (first at trigger.request.headers[0]; header names are case-insensitive)"
                ),
                e(
                    "trigger.request.body[2].name",
                    "duplicate body field `items[].sku` (first at trigger.request.body[0])"
                ),
            ]
        );
    }

    #[test]
    fn rejects_contradicting_paths() {
        let errs = parse_errors(json!({"body": [
            {"name": "address", "type": "string"},
            {"name": "address.city"},
            {"name": "a.x"},
            {"name": "a[].y"},
            {"name": "items", "type": "object"},
            {"name": "items[].sku"}
        ]}));
        assert_eq!(
            errs,
            [
                e(
                    "trigger.request.body[1].name",
                    "`address.city` treats `address` as an object, but `address` is declared with type string"
                ),
                e(
                    "trigger.request.body[3].name",
                    "`a[].y` treats `a` as an array, but `a.x` treats it as an object"
                ),
                e(
                    "trigger.request.body[5].name",
                    "`items[].sku` treats `items` as an array, but `items` is declared with type object"
                ),
            ]
        );
        // Matching declarations are fine.
        schema(json!({"body": [
            {"name": "address", "type": "object", "required": true},
            {"name": "address.city"},
            {"name": "items", "type": "array"},
            {"name": "items[].sku"},
            {"name": "meta", "type": "any"},
            {"name": "meta.x"}
        ]}));
    }

    #[test]
    fn header_rules_are_checked() {
        let errs = parse_errors(json!({"headers": [
            {"name": "x api"}, {"equals": "x"}, {"name": "x-a", "equals": 5}, {"name": "x-b", "required": "yes"}
        ]}));
        assert_eq!(
            errs,
            [
                e(
                    "trigger.request.headers[0].name",
                    "`x api` is not a valid header name: use letters, digits and `-` (e.g. `x-api-key`)"
                ),
                e("trigger.request.headers[1].name", "is required"),
                e("trigger.request.headers[2].equals", "must be a string, got integer"),
                e("trigger.request.headers[3].required", "must be a boolean, got string"),
            ]
        );
    }

    #[test]
    fn limits_the_number_of_entries() {
        let many: Vec<_> = (0..=MAX_FIELDS)
            .map(|i| json!({"name": format!("f{i}")}))
            .collect();
        let errs = parse_errors(json!({"body": many}));
        assert_eq!(
            errs,
            [e(
                "trigger.request.body",
                "has 201 entries; at most 200 are allowed"
            )]
        );
    }

    #[test]
    fn round_trips_through_json() {
        let s = schema(json!({
            "query": [{"name": "source", "required": true, "enum": ["a", "b"]},
                      {"name": "page", "type": "integer", "equals": 3}],
            "headers": [{"name": "X-Api-Key", "equals": "s3cret", "required": true}, {"name": "x-b"}],
            "body": [{"name": "email", "type": "string", "required": true},
                     {"name": "meta", "type": "any", "equals": {"a": [1, 2]}},
                     {"name": "items[].sku", "type": "string", "enum": ["A", "B"], "required": true},
                     {"name": "n", "type": "null"}]
        }));
        let j = s.to_json();
        assert_eq!(
            j,
            json!({
                "query": [{"name": "source", "type": "string", "required": true, "enum": ["a", "b"]},
                          {"name": "page", "type": "integer", "equals": 3}],
                "headers": [{"name": "X-Api-Key", "required": true, "equals": "s3cret"}, {"name": "x-b"}],
                "body": [{"name": "email", "type": "string", "required": true},
                         {"name": "meta", "type": "any", "equals": {"a": [1, 2]}},
                         {"name": "items[].sku", "type": "string", "required": true, "enum": ["A", "B"]},
                         {"name": "n", "type": "null"}]
            })
        );
        assert_eq!(schema(j), s);
        assert_eq!(
            schema(RequestSchema::default().to_json()),
            RequestSchema::default()
        );
    }

    // ---- validating: query ------------------------------------------------------------------

    #[test]
    fn valid_request_passes() {
        let s = spec_example();
        let errs = check(
            &s,
            json!({"source": "a", "page": "2"}),
            json!({"x-api-key": "s3cret", "x-tenant": "t1"}),
            json!({"email": "a@b.c", "address": {"city": "Oslo"}, "items": [{"sku": "A"}, {"sku": "B"}]}),
            false,
        );
        assert_eq!(errs, []);
        // Optional things may be missing entirely.
        let errs = check(
            &s,
            json!({"source": "b"}),
            json!({"x-tenant": "t1"}),
            json!({"email": "a@b.c"}),
            false,
        );
        assert_eq!(errs, []);
    }

    #[test]
    fn reports_every_violation_with_its_location() {
        let s = spec_example();
        let errs = check(
            &s,
            json!({"source": "c", "page": "abc"}),
            json!({"x-api-key": "wrong"}),
            json!({"address": {"city": 5}, "items": [{"sku": "A"}, {}, {"sku": "Z"}]}),
            false,
        );
        assert_eq!(
            errs,
            [
                e("query.source", "must be one of: a, b (got string \"c\")"),
                e("query.page", "must be an integer, got string \"abc\""),
                e("header.x-api-key", "must equal the configured value"),
                e("header.x-tenant", "is required"),
                e("body.email", "is required"),
                e("body.address.city", "must be a string, got integer 5"),
                e("body.items[1].sku", "is required"),
                e(
                    "body.items[2].sku",
                    "must be one of: A, B (got string \"Z\")"
                ),
            ]
        );
        assert!(!errs.iter().any(|(_, m)| m.contains("s3cret")));
    }

    #[test]
    fn query_values_are_parsed_by_type() {
        let s = schema(json!({"query": [
            {"name": "i", "type": "integer", "enum": [1, 2]},
            {"name": "n", "type": "number"},
            {"name": "b", "type": "boolean", "equals": true},
            {"name": "s", "required": true}
        ]}));
        let q = |v: Value| check(&s, v, json!({}), Value::Null, false);
        assert_eq!(
            q(json!({"i": "2", "n": "-1.5e3", "b": "true", "s": ""})),
            []
        );
        assert_eq!(q(json!({"i": "2.0", "n": "7", "s": "x"})), []);
        assert_eq!(
            q(json!({"i": "3", "n": "NaN", "b": "yes"})),
            [
                e("query.i", "must be one of: 1, 2 (got string \"3\")"),
                e("query.n", "must be a number, got string \"NaN\""),
                e("query.b", "must be a boolean, got string \"yes\""),
                e("query.s", "is required"),
            ]
        );
        assert_eq!(
            q(json!({"n": "inf", "b": "false", "i": "1.5", "s": []})),
            [
                e("query.i", "must be an integer, got string \"1.5\""),
                e("query.n", "must be a number, got string \"inf\""),
                e("query.b", "must equal the configured value"),
                e("query.s", "is required"),
            ]
        );
    }

    #[test]
    fn repeated_query_keys_check_each_value() {
        let s = schema(
            json!({"query": [{"name": "tag", "enum": ["a", "b"]}, {"name": "n", "type": "integer"}]}),
        );
        let errs = check(
            &s,
            json!({"tag": ["a", "x", "b", "y"], "n": ["1", "2"]}),
            json!({}),
            Value::Null,
            false,
        );
        assert_eq!(
            errs,
            [
                e("query.tag", "must be one of: a, b (got string \"x\")"),
                e("query.tag", "must be one of: a, b (got string \"y\")"),
            ]
        );
    }

    #[test]
    fn query_equals_is_not_echoed() {
        let s =
            schema(json!({"query": [{"name": "token", "equals": "hunter2", "required": true}]}));
        let errs = check(
            &s,
            json!({"token": "hunter"}),
            json!({}),
            Value::Null,
            false,
        );
        assert_eq!(errs, [e("query.token", "must equal the configured value")]);
        assert_eq!(
            check(
                &s,
                json!({"token": "hunter2"}),
                json!({}),
                Value::Null,
                false
            ),
            []
        );
    }

    // ---- validating: headers ----------------------------------------------------------------

    #[test]
    fn header_names_compare_case_insensitively() {
        let s = schema(
            json!({"headers": [{"name": "X-Tenant", "required": true}, {"name": "X-API-Key", "equals": "s3cret"}]}),
        );
        let h = |v: Value| check(&s, json!({}), v, Value::Null, false);
        assert_eq!(h(json!({"x-tenant": "t", "x-api-key": "s3cret"})), []);
        // Incoming names not lowercased (defensive) still match.
        assert_eq!(h(json!({"X-TENANT": "t", "X-Api-Key": "s3cret"})), []);
        assert_eq!(
            h(json!({"x-api-key": "S3CRET"})),
            [
                e("header.x-tenant", "is required"),
                e("header.x-api-key", "must equal the configured value"),
            ]
        );
        // Header values compare exactly (case-sensitive), every repeated value must match.
        assert_eq!(
            h(json!({"x-tenant": "t", "x-api-key": ["s3cret", "nope"]})),
            [e("header.x-api-key", "must equal the configured value")]
        );
        assert_eq!(
            h(json!({"x-tenant": null, "x-api-key": 5})),
            [
                e("header.x-tenant", "is required"),
                e("header.x-api-key", "must equal the configured value"),
            ]
        );
    }

    // ---- validating: body -------------------------------------------------------------------

    #[test]
    fn missing_intermediate_object_reports_the_leaf_once() {
        let s = schema(json!({"body": [
            {"name": "address.geo.lat", "type": "number", "required": true},
            {"name": "address.geo.lng", "type": "number"},
            {"name": "address.zip", "type": "string", "required": true}
        ]}));
        assert_eq!(
            body_errors(&s, json!({})),
            [
                e("body.address.geo.lat", "is required"),
                e("body.address.zip", "is required"),
            ]
        );
        assert_eq!(
            body_errors(&s, json!({"address": null})),
            [
                e("body.address.geo.lat", "is required"),
                e("body.address.zip", "is required"),
            ]
        );
        assert_eq!(
            body_errors(&s, json!({"address": {"zip": "1", "geo": {}}})),
            [e("body.address.geo.lat", "is required")]
        );
        assert_eq!(
            body_errors(
                &s,
                json!({"address": {"zip": "1", "geo": {"lat": 1, "lng": "x"}}})
            ),
            [e(
                "body.address.geo.lng",
                "must be a number, got string \"x\""
            )]
        );
    }

    #[test]
    fn wrong_kind_of_intermediate_is_reported_once_at_its_path() {
        let s = schema(json!({"body": [
            {"name": "address", "type": "object"},
            {"name": "address.city", "required": true},
            {"name": "address.zip"},
            {"name": "items[].sku"},
            {"name": "items[].qty"}
        ]}));
        assert_eq!(
            body_errors(&s, json!({"address": [1], "items": {"sku": "A"}})),
            [
                e("body.address", "must be an object, got array"),
                e("body.items", "must be an array, got object"),
            ]
        );
        assert_eq!(
            body_errors(
                &s,
                json!({"address": {"city": 1}, "items": [{"sku": 1}, "x", [2]]})
            ),
            [
                e("body.items[1]", "must be an object, got string \"x\""),
                e("body.items[2]", "must be an object, got array"),
            ]
        );
    }

    #[test]
    fn required_under_arrays_applies_to_every_element() {
        let s = schema(json!({"body": [
            {"name": "orders[].id", "type": "integer", "required": true},
            {"name": "orders[].lines[].qty", "type": "integer", "required": true},
            {"name": "orders[].lines[].note.text", "type": "string", "required": true}
        ]}));
        // No array, or an empty one: nothing to check.
        assert_eq!(body_errors(&s, json!({})), []);
        assert_eq!(body_errors(&s, json!({"orders": []})), []);
        assert_eq!(body_errors(&s, json!({"orders": null})), []);
        let body = json!({"orders": [
            {"id": 1, "lines": [{"qty": 1, "note": {"text": "x"}}]},
            {"id": "2", "lines": [{"qty": 1.5, "note": {}}, {"note": null}, null]},
            {},
            null
        ]});
        assert_eq!(
            body_errors(&s, body),
            [
                e("body.orders[1].id", "must be an integer, got string \"2\""),
                e("body.orders[2].id", "is required"),
                e("body.orders[3].id", "is required"),
                e(
                    "body.orders[1].lines[0].qty",
                    "must be an integer, got number 1.5"
                ),
                e("body.orders[1].lines[1].qty", "is required"),
                e("body.orders[1].lines[2].qty", "is required"),
                e("body.orders[1].lines[0].note.text", "is required"),
                e("body.orders[1].lines[1].note.text", "is required"),
                e("body.orders[1].lines[2].note.text", "is required"),
            ]
        );
    }

    #[test]
    fn array_leaves_and_nested_arrays() {
        let s = schema(json!({"body": [
            {"name": "tags[]", "type": "string", "required": true},
            {"name": "matrix[][]", "type": "integer", "enum": [0, 1]}
        ]}));
        assert_eq!(
            body_errors(
                &s,
                json!({"tags": ["a", 1, null], "matrix": [[0, 1], [2], 3, [1.0]]})
            ),
            [
                e("body.tags[1]", "must be a string, got integer 1"),
                e("body.tags[2]", "is required, got null"),
                e("body.matrix[1][0]", "must be one of: 0, 1 (got integer 2)"),
                e("body.matrix[2]", "must be an array, got integer 3"),
            ]
        );
    }

    #[test]
    fn null_counts_as_absent_except_for_null_and_any() {
        let s = schema(json!({"body": [
            {"name": "a", "type": "string"},
            {"name": "b", "type": "string", "required": true},
            {"name": "c", "type": "null", "required": true},
            {"name": "d", "type": "any", "required": true},
            {"name": "e", "type": "null"}
        ]}));
        assert_eq!(
            body_errors(
                &s,
                json!({"a": null, "b": null, "c": null, "d": null, "e": 1})
            ),
            [
                e("body.b", "is required, got null"),
                e("body.e", "must be null, got integer 1"),
            ]
        );
        assert_eq!(
            body_errors(&s, json!({"b": "x"})),
            [e("body.c", "is required"), e("body.d", "is required")]
        );
    }

    #[test]
    fn every_type_is_checked() {
        let s = schema(json!({"body": [
            {"name": "s", "type": "string"}, {"name": "n", "type": "number"},
            {"name": "i", "type": "integer"}, {"name": "b", "type": "boolean"},
            {"name": "o", "type": "object"}, {"name": "a", "type": "array"},
            {"name": "z", "type": "null"}, {"name": "y", "type": "any"}
        ]}));
        let good = json!({"s": "x", "n": 1.5, "i": 3.0, "b": false, "o": {}, "a": [], "z": null, "y": [1]});
        assert_eq!(body_errors(&s, good), []);
        let bad =
            json!({"s": 1, "n": "1", "i": 1.5, "b": "true", "o": [], "a": {}, "z": false, "y": {}});
        assert_eq!(
            body_errors(&s, bad),
            [
                e("body.s", "must be a string, got integer 1"),
                e("body.n", "must be a number, got string \"1\""),
                e("body.i", "must be an integer, got number 1.5"),
                e("body.b", "must be a boolean, got string \"true\""),
                e("body.o", "must be an object, got array"),
                e("body.a", "must be an array, got object"),
                e("body.z", "must be null, got boolean false"),
            ]
        );
        let big = json!({"i": u64::MAX, "n": -5});
        assert_eq!(body_errors(&s, big), []);
    }

    #[test]
    fn form_bodies_parse_typed_strings() {
        let s = schema(json!({"body": [
            {"name": "age", "type": "integer", "required": true, "enum": [18, 21]},
            {"name": "price", "type": "number"},
            {"name": "agree", "type": "boolean", "equals": true},
            {"name": "name", "type": "string"},
            {"name": "ids[]", "type": "integer"}
        ]}));
        let body =
            json!({"age": "21", "price": "9.99", "agree": "true", "name": "42", "ids": ["1", "2"]});
        assert_eq!(check(&s, json!({}), json!({}), body.clone(), true), []);
        // The same strings in a JSON body are strings, not numbers.
        assert_eq!(
            check(&s, json!({}), json!({}), body, false),
            [
                e("body.age", "must be an integer, got string \"21\""),
                e("body.price", "must be a number, got string \"9.99\""),
                e("body.agree", "must be a boolean, got string \"true\""),
                e("body.ids[0]", "must be an integer, got string \"1\""),
                e("body.ids[1]", "must be an integer, got string \"2\""),
            ]
        );
        let bad = json!({"age": "20", "price": "cheap", "agree": "on", "ids": ["x"]});
        assert_eq!(
            check(&s, json!({}), json!({}), bad, true),
            [
                e("body.age", "must be one of: 18, 21 (got string \"20\")"),
                e("body.price", "must be a number, got string \"cheap\""),
                e("body.agree", "must be a boolean, got string \"on\""),
                e("body.ids[0]", "must be an integer, got string \"x\""),
            ]
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        let s = schema(json!({"body": [
            {"name": "n", "type": "number", "enum": [1, 2.5]},
            {"name": "i", "type": "integer", "equals": 3},
            {"name": "o", "type": "any", "equals": {"a": [1, {"b": 2}]}}
        ]}));
        assert_eq!(
            body_errors(&s, json!({"n": 1.0, "i": 3.0, "o": {"a": [1.0, {"b": 2}]}})),
            []
        );
        assert_eq!(
            body_errors(
                &s,
                json!({"n": 2, "i": 4, "o": {"a": [1, {"b": 2}], "c": 1}})
            ),
            [
                e("body.n", "must be one of: 1, 2.5 (got integer 2)"),
                e("body.i", "must equal the configured value"),
                e("body.o", "must equal the configured value"),
            ]
        );
    }

    #[test]
    fn body_equals_is_not_echoed() {
        let s =
            schema(json!({"body": [{"name": "token", "type": "string", "equals": "verify-me"}]}));
        let errs = body_errors(&s, json!({"token": "guess"}));
        assert_eq!(errs, [e("body.token", "must equal the configured value")]);
        assert_eq!(body_errors(&s, json!({"token": "verify-me"})), []);
        let any = schema(json!({"body": [{"name": "t", "equals": "verify-me"}]}));
        assert_eq!(body_errors(&any, json!({"t": "verify-me"})), []);
        assert_eq!(
            body_errors(&any, json!({"t": "verify-m"})),
            [e("body.t", "must equal the configured value")]
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_has_no_fields() {
        let s = schema(json!({"body": [
            {"name": "email", "required": true}, {"name": "note"}, {"name": "items[].sku", "required": true}
        ]}));
        assert_eq!(
            body_errors(&s, json!([{"email": "x"}])),
            [e(
                "body.email",
                "is required (the body is an array, not a JSON object)"
            )]
        );
        assert_eq!(
            body_errors(&s, json!("text")),
            [e(
                "body.email",
                "is required (the body is a string, not a JSON object)"
            )]
        );
        assert_eq!(
            body_errors(&s, Value::Null),
            [e("body.email", "is required")]
        );
        let optional = schema(json!({"body": [{"name": "note"}]}));
        assert_eq!(body_errors(&optional, json!(12)), []);
    }

    #[test]
    fn long_strings_are_cut_in_messages() {
        let s = schema(json!({"body": [{"name": "n", "type": "integer"}]}));
        let long = "é".repeat(100);
        let errs = body_errors(&s, json!({ "n": long }));
        assert_eq!(
            errs[0].1,
            format!(
                "must be an integer, got string \"{}\"…",
                "é".repeat(QUOTED_CHARS)
            )
        );
    }

    #[test]
    fn long_enums_are_cut_in_messages() {
        let values: Vec<_> = (0..25).collect();
        let s = schema(json!({"body": [{"name": "n", "type": "integer", "enum": values}]}));
        let errs = body_errors(&s, json!({"n": 99}));
        assert_eq!(
            errs[0].1,
            "must be one of: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, … (5 more) (got integer 99)"
        );
    }

    #[test]
    fn huge_inputs_list_a_bounded_number_of_errors() {
        let s = schema(json!({"body": [{"name": "items[].sku", "required": true}]}));
        let items: Vec<Value> = (0..100_000).map(|_| json!({})).collect();
        let errs = body_errors(&s, json!({ "items": items }));
        assert_eq!(errs.len(), MAX_ERRORS + 1);
        assert_eq!(errs[0], e("body.items[0].sku", "is required"));
        assert_eq!(errs[99], e("body.items[99].sku", "is required"));
        assert_eq!(
            errs[100],
            e(
                "body.items[100].sku",
                "and more problems from here on that are not listed (at most 100 are shown)"
            )
        );
    }

    #[test]
    fn deep_bodies_do_not_matter() {
        let s = schema(json!({"body": [{"name": "a.a.a", "required": true}, {"name": "x[][]"}]}));
        let mut deep = json!(1);
        for _ in 0..100 {
            deep = json!({ "a": deep });
        }
        assert_eq!(body_errors(&s, deep), []);
        let mut deep = json!([1]);
        for _ in 0..100 {
            deep = json!([deep]);
        }
        assert_eq!(
            body_errors(&s, json!({"a": {"a": {"a": 1}}, "x": deep })),
            []
        );
    }

    #[test]
    fn body_location_never_panics_on_short_index_lists() {
        let segs = [PathSegment::Key("a".into()), PathSegment::Each];
        assert_eq!(body_location(&segs, 2, None), "body.a[]");
        assert_eq!(body_location(&segs, 9, None), "body.a[]");
    }

    // ---- property: random schemas against random requests --------------------------------

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                (-1e6f64..1e6).prop_map(|f| json!(f)),
                prop_oneof![
                    Just("A".to_string()),
                    Just("1".to_string()),
                    Just("true".to_string()),
                    "[a-zé ]{0,6}"
                ]
                .prop_map(Value::String),
            ];
            leaf.prop_recursive(5, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec(
                        (
                            prop_oneof![Just("a"), Just("b"), Just("items"), Just("x")],
                            inner
                        ),
                        0..5
                    )
                    .prop_map(|kv| Value::Object(
                        kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                    )),
                ]
            })
        }

        fn path() -> impl Strategy<Value = String> {
            prop::collection::vec(
                (
                    prop_oneof![Just("a"), Just("b"), Just("items"), Just("x")],
                    0..3usize,
                ),
                1..5,
            )
            .prop_map(|parts| {
                parts
                    .into_iter()
                    .map(|(k, n)| format!("{k}{}", "[]".repeat(n)))
                    .collect::<Vec<_>>()
                    .join(".")
            })
        }

        fn type_name_strategy() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "string", "number", "integer", "boolean", "object", "array", "null", "any",
            ])
        }

        fn field() -> impl Strategy<Value = Value> {
            (
                path(),
                type_name_strategy(),
                any::<bool>(),
                prop::option::of(prop::collection::vec(json_value(), 1..4)),
                prop::option::of(json_value()),
            )
                .prop_map(|(name, ty, required, one_of, equals)| {
                    let mut m = Map::new();
                    m.insert("name".into(), json!(name));
                    m.insert("type".into(), json!(ty));
                    m.insert("required".into(), json!(required));
                    let ft = FieldType::from_name(ty).unwrap_or(FieldType::Any);
                    if let Some(v) = one_of {
                        let v: Vec<_> = v.into_iter().filter(|x| ft.admits(x)).collect();
                        if !v.is_empty() {
                            m.insert("enum".into(), Value::Array(v));
                        }
                    }
                    if let Some(e) = equals.filter(|x| ft.admits(x) && !x.is_null()) {
                        m.insert("equals".into(), e);
                    }
                    Value::Object(m)
                })
        }

        fn definition() -> impl Strategy<Value = Value> {
            (
                prop::collection::vec(field(), 0..6),
                prop::collection::vec(
                    (
                        prop_oneof![Just("a"), Just("b")],
                        prop::sample::select(vec!["string", "integer", "number", "boolean"]),
                        any::<bool>(),
                    ),
                    0..3,
                ),
                prop::collection::vec(
                    (
                        prop_oneof![Just("X-A"), Just("x-b")],
                        any::<bool>(),
                        prop::option::of("[a-c]{1,2}"),
                    ),
                    0..3,
                ),
            )
                .prop_map(|(body, query, headers)| {
                    let query: Vec<_> = query
                        .into_iter()
                        .map(|(n, t, r)| json!({"name": n, "type": t, "required": r}))
                        .collect();
                    let headers: Vec<_> = headers
                        .into_iter()
                        .map(|(n, r, eq)| match eq {
                            Some(eq) => json!({"name": n, "required": r, "equals": eq}),
                            None => json!({"name": n, "required": r}),
                        })
                        .collect();
                    json!({"query": query, "headers": headers, "body": body})
                })
        }

        fn string_map() -> impl Strategy<Value = Map<String, Value>> {
            prop::collection::vec(
                (
                    prop_oneof![Just("a"), Just("b"), Just("x-a"), Just("x-b")],
                    prop_oneof![
                        "[a-c0-9.]{0,3}".prop_map(Value::String),
                        prop::collection::vec("[a-c0-9]{0,2}", 0..3)
                            .prop_map(|v| Value::Array(v.into_iter().map(Value::String).collect())),
                    ],
                ),
                0..4,
            )
            .prop_map(|kv| kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        }

        proptest! {
            #[test]
            fn random_requests_never_panic_and_are_located(
                def in definition(),
                query in string_map(),
                headers in string_map(),
                body in json_value(),
                form in any::<bool>(),
            ) {
                let mut errors = Errors::new();
                // Random paths may duplicate or contradict each other: then parsing fails, with located errors.
                match RequestSchema::parse(&def, "trigger.request", &mut errors) {
                    None => prop_assert!(errors.0.iter().all(|e| e.location.starts_with("trigger.request"))),
                    Some(s) => {
                        prop_assert!(errors.is_empty());
                        prop_assert_eq!(&RequestSchema::parse(&s.to_json(), "r", &mut Errors::new()), &Some(s.clone()));
                        let errs = s.validate(&query, &headers, &body, form);
                        prop_assert!(errs.len() <= MAX_ERRORS + 1);
                        for e in &errs.0 {
                            prop_assert!(
                                e.location.starts_with("query.") || e.location.starts_with("header.") || e.location.starts_with("body."),
                                "bad location {:?}", e.location
                            );
                            prop_assert!(!e.message.is_empty());
                        }
                    }
                }
            }
        }
    }
}
