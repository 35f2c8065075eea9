//! The JSON Schema of the definition format, derived with `schemars` from the types below.
//!
//! The parser ([`crate::definition::Definition::parse`]) reads definitions field by field so
//! that it can report every problem at once with its location; these types describe the same
//! format for other clients: editors (`"$schema"` in a workflow file), the dashboard, the OpenAPI
//! document. Their enums, ranges and limits are taken from the parser's own constants
//! (`METHODS`, `SCHEDULE_KINDS`, `MAX_STEPS`, …), and a test feeds every example and a set of
//! invalid definitions to both and checks that they agree.
//!
//! Cron expressions (each field's grammar and range, `cron_expression`) and the `response`
//! step's rules (only with an endpoint trigger, at most one: the `allOf` of the root) are stated
//! here too. What a JSON Schema cannot say, only the parser checks: template references
//! (`{{steps.x}}` must name an earlier step), unique step names, a request field named twice
//! (query, header or body) and body paths that contradict each other, URLs beyond their
//! shape, a header value written out past U+00FF, a control character in the workflow's name,
//! and an endpoint method listed twice (in any letter case).
//!
//! Only native tools build this (feature `schema`); the Worker serves the generated file.

#![allow(dead_code)] // The fields exist to be described, never read.

use std::collections::BTreeMap;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;

use crate::definition::{MAX_KEY_LEN, MAX_SHARDS, MIN_SHARDS};
use crate::endpoint::request_schema::{
    MAX_ENUM_VALUES, MAX_FIELDS, MAX_NAME_LEN, MAX_PATH_SEGMENTS,
};
use crate::endpoint::signature::MAX_TOLERANCE_SECONDS;
use crate::endpoint::{MAX_MAX_BODY_BYTES, MAX_RESPONSE_TIMEOUT_MS};
use crate::oauth::TOKEN_AUTH_METHODS;
use crate::poll::pages::MAX_MAX_PAGES;
use crate::poll::{
    MAX_BATCH_SIZE, MAX_INTERVAL_SECONDS, MAX_SETTLE_SECONDS, MAX_UNIQUE_CAPACITY,
    MIN_INTERVAL_SECONDS,
};
use crate::steps::http::{MAX_RETRIES, MAX_TIMEOUT_MS, MIN_TIMEOUT_MS};
use crate::steps::response::{MAX_STATUS, MIN_STATUS};
use crate::steps::{MAX_NAME_LEN as MAX_STEP_NAME_LEN, MAX_STEPS};

/// Where the Worker serves this schema.
pub const SCHEMA_PATH: &str = "/api/definition.schema.json";

/// A workflow: a trigger and the steps a run goes through.
#[derive(JsonSchema)]
#[schemars(
    title = "Tripline workflow definition",
    deny_unknown_fields,
    extend("$id" = "https://tripline.dev/api/definition.schema.json"),
    extend("allOf" = [
        {
            "$comment": "A response step is the HTTP reply: only endpoint workflows have one.",
            "if": {
                "properties": { "trigger": { "properties": { "type": { "const": "endpoint" } }, "required": ["type"] } },
                "required": ["trigger"]
            },
            "else": { "properties": { "steps": { "items": { "not": { "properties": { "type": { "const": "response" } }, "required": ["type"] } } } } }
        },
        url_roots_for("endpoint", "request"),
        url_roots_for("schedule", "schedule"),
        url_roots_for("oauth", "oauth"),
        url_roots_for("poll", "event"),
        {
            "$comment": "At most one response step.",
            "properties": { "steps": { "contains": { "properties": { "type": { "const": "response" } }, "required": ["type"] }, "minContains": 0, "maxContains": 1 } }
        }
    ])
)]
pub struct DefinitionSchema {
    /// The JSON Schema this file follows (for editors); ignored by Tripline.
    #[schemars(rename = "$schema")]
    schema: Option<String>,
    /// The stable key a workflows-as-code client finds this workflow by (default: the file name).
    #[schemars(length(min = 1, max = MAX_KEY_LEN), regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"))]
    key: Option<String>,
    /// A name for people, 1 to 200 characters, not only spaces.
    #[schemars(length(min = 1, max = 200), regex(pattern = r"\S"))]
    name: String,
    trigger: TriggerSchema,
    /// The steps, run in order.
    #[schemars(length(max = MAX_STEPS))]
    steps: Option<Vec<StepSchema>>,
    /// How many storage objects hold this workflow's runs (default 1): a busy workflow spreads
    /// its runs over several, chosen by a hash of each run's dedup key.
    #[schemars(range(min = MIN_SHARDS, max = MAX_SHARDS))]
    shards: Option<u8>,
}

/// What starts a run; `type` chooses the kind.
#[derive(JsonSchema)]
#[schemars(tag = "type")]
pub enum TriggerSchema {
    /// An HTTP request to the workflow's URL.
    #[schemars(rename = "endpoint")]
    Endpoint(EndpointSchema),
    /// A schedule, in a time zone.
    #[schemars(rename = "schedule")]
    Schedule(ScheduleTriggerSchema),
    /// An end user finishing an OAuth 2.0 sign-in.
    #[schemars(rename = "oauth")]
    OAuth(OAuthSchema),
    /// A new record in a polled source.
    #[schemars(rename = "poll")]
    Poll(PollSchema),
}

// ---------------------------------------------------------------------------------------------
// endpoint

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EndpointSchema {
    /// The accepted method or methods (any case; default POST).
    #[schemars(default, schema_with = "endpoint_methods")]
    method: Option<Value>,
    /// What a request must carry; anything undeclared passes.
    request: Option<RequestSchemaSchema>,
    /// Checks the sender's signature.
    verify: Option<VerifySchema>,
    /// How long a request waits for a `response` step, in milliseconds.
    #[schemars(range(min = 1, max = MAX_RESPONSE_TIMEOUT_MS))]
    response_timeout_ms: Option<u32>,
    /// The largest accepted body, in bytes.
    #[schemars(range(min = 1, max = MAX_MAX_BODY_BYTES))]
    max_body_bytes: Option<u32>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RequestSchemaSchema {
    #[schemars(length(max = MAX_FIELDS))]
    query: Option<Vec<QueryParamSchema>>,
    #[schemars(length(max = MAX_FIELDS))]
    headers: Option<Vec<HeaderRuleSchema>>,
    #[schemars(length(max = MAX_FIELDS))]
    body: Option<Vec<BodyFieldSchema>>,
}

/// A header (names ignore case).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HeaderRuleSchema {
    #[schemars(length(min = 1, max = MAX_NAME_LEN), regex(pattern = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"))]
    name: String,
    required: Option<bool>,
    equals: Option<String>,
}

/// A query parameter. Its `type` (default `string`) says what its text must parse as, and the
/// values of `equals` and `enum` have that type: one branch per type.
#[derive(JsonSchema)]
#[schemars(untagged)]
pub enum QueryParamSchema {
    String(QueryString),
    Integer(QueryInteger),
    Number(QueryNumber),
    Boolean(QueryBoolean),
}

/// A JSON body field; dotted names reach into objects, `[]` into every array element. Its
/// `type` (default `any`) is what the value must be, and the values of `equals` and `enum`
/// have that type: one branch per type.
#[derive(JsonSchema)]
#[schemars(untagged)]
pub enum BodyFieldSchema {
    Any(BodyAny),
    String(BodyString),
    Number(BodyNumber),
    Integer(BodyInteger),
    Boolean(BodyBoolean),
    Object(BodyObject),
    Array(BodyArray),
    Null(BodyNull),
}

/// A type name as a schema of its own: `{"const": NAME}`.
macro_rules! type_name {
    ($ty:ident, $name:literal) => {
        #[derive(JsonSchema)]
        pub enum $ty {
            #[schemars(rename = $name)]
            Name,
        }
    };
}

type_name!(StringName, "string");
type_name!(NumberName, "number");
type_name!(IntegerName, "integer");
type_name!(BooleanName, "boolean");
type_name!(ObjectName, "object");
type_name!(ArrayName, "array");
type_name!(NullName, "null");
type_name!(AnyName, "any");

/// An integer of any size (`3` and `3.0` alike), as JSON Schema's `integer`.
pub struct JsonInteger;

impl JsonSchema for JsonInteger {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JsonInteger".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer" })
    }
}

/// A field rule named by a `$name` schema, whose `type` is `$type_field` (an `Option` when it
/// may be left out) and whose `equals`/`enum` values are `$value`s.
macro_rules! typed_rule {
    ($rule:ident, $name:literal, $type_field:ty, $value:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(JsonSchema)]
        #[schemars(deny_unknown_fields)]
        pub struct $rule {
            #[schemars(schema_with = $name)]
            name: String,
            required: Option<bool>,
            r#type: $type_field,
            equals: Option<$value>,
            #[schemars(length(min = 1, max = MAX_ENUM_VALUES))]
            r#enum: Option<Vec<$value>>,
        }
    };
}

typed_rule!(
    QueryString,
    "field_name",
    Option<StringName>,
    String,
    "A text parameter (the default type)."
);
typed_rule!(
    QueryInteger,
    "field_name",
    IntegerName,
    JsonInteger,
    "A parameter whose text is an integer."
);
typed_rule!(
    QueryNumber,
    "field_name",
    NumberName,
    f64,
    "A parameter whose text is a number."
);
typed_rule!(
    QueryBoolean,
    "field_name",
    BooleanName,
    bool,
    "A parameter whose text is `true` or `false`."
);

typed_rule!(
    BodyAny,
    "body_path",
    Option<AnyName>,
    Value,
    "A field of any type (the default)."
);
typed_rule!(
    BodyString,
    "body_path",
    StringName,
    String,
    "A string field."
);
typed_rule!(BodyNumber, "body_path", NumberName, f64, "A number field.");
typed_rule!(
    BodyInteger,
    "body_path",
    IntegerName,
    JsonInteger,
    "An integer field."
);
typed_rule!(
    BodyBoolean,
    "body_path",
    BooleanName,
    bool,
    "A boolean field."
);
typed_rule!(BodyObject, "body_path", ObjectName, BTreeMap<String, Value>, "An object field.");
typed_rule!(
    BodyArray,
    "body_path",
    ArrayName,
    Vec<Value>,
    "An array field."
);
typed_rule!(
    BodyNull,
    "body_path",
    NullName,
    (),
    "A field that must be null (`equals`/`enum` can only say null)."
);

/// A signature check; `scheme` chooses how. Only schemes that sign a timestamp take
/// `tolerance_seconds`, and only `hmac-sha256` takes `header` (the others read a fixed one).
#[derive(JsonSchema)]
#[schemars(tag = "scheme")]
pub enum VerifySchema {
    #[schemars(rename = "standard-webhooks")]
    StandardWebhooks(TimestampedVerify),
    #[schemars(rename = "github")]
    Github(PlainVerify),
    #[schemars(rename = "stripe")]
    Stripe(TimestampedVerify),
    #[schemars(rename = "slack")]
    Slack(TimestampedVerify),
    #[schemars(rename = "hmac-sha256")]
    HmacSha256(HmacVerify),
}

/// A scheme that signs a timestamp.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TimestampedVerify {
    /// The Worker secret holding the signing secret.
    #[schemars(schema_with = "env_name")]
    secret_env: String,
    /// How old a signed timestamp may be, in seconds.
    #[schemars(range(min = 1, max = MAX_TOLERANCE_SECONDS))]
    tolerance_seconds: Option<i64>,
    /// Only `null`: the scheme reads its own header.
    header: Option<()>,
}

/// A scheme that signs the body only, in its own header.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PlainVerify {
    #[schemars(schema_with = "env_name")]
    secret_env: String,
    /// Only `null`: the scheme signs no timestamp.
    tolerance_seconds: Option<()>,
    /// Only `null`: the scheme reads its own header.
    header: Option<()>,
}

/// A hex HMAC-SHA256 of the body in a header of your choice.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HmacVerify {
    #[schemars(schema_with = "env_name")]
    secret_env: String,
    /// Only `null`: the scheme signs no timestamp.
    tolerance_seconds: Option<()>,
    /// The signature header (default `x-signature`).
    #[schemars(regex(pattern = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"))]
    header: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// schedule

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ScheduleTriggerSchema {
    schedule: ScheduleSchema,
    /// An IANA time zone (default `UTC`).
    timezone: Option<TimeZone>,
    /// What to do with slots missed while nothing ran (default `skip`).
    misfire: Option<MisfireSchema>,
}

#[derive(JsonSchema)]
pub enum MisfireSchema {
    #[schemars(rename = "skip")]
    Skip,
    #[schemars(rename = "run_once")]
    RunOnce,
}

/// When it fires; `kind` chooses how.
#[derive(JsonSchema)]
#[schemars(tag = "kind")]
pub enum ScheduleSchema {
    #[schemars(rename = "seconds")]
    Seconds(EverySeconds),
    #[schemars(rename = "minutes")]
    Minutes(EveryMinutes),
    #[schemars(rename = "hourly")]
    Hourly(Hourly),
    #[schemars(rename = "daily")]
    Daily(Daily),
    #[schemars(rename = "weekly")]
    Weekly(Weekly),
    #[schemars(rename = "cron")]
    Cron(Cron),
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EverySeconds {
    #[schemars(range(min = 1, max = 3600))]
    every: u32,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EveryMinutes {
    #[schemars(range(min = 1, max = 1440))]
    every: u32,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Hourly {
    #[schemars(range(max = 59))]
    minute: u32,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Daily {
    #[schemars(range(min = 1, max = 365))]
    every: Option<u32>,
    #[schemars(schema_with = "time_of_day")]
    at: String,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Weekly {
    /// A day name (`monday` or `mon`, any case) or a list of them.
    #[schemars(schema_with = "weekdays")]
    day: Value,
    #[schemars(schema_with = "time_of_day")]
    at: String,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Cron {
    /// Five fields: minute hour day-of-month month day-of-week, in local time (or a macro such
    /// as `@daily`).
    #[schemars(schema_with = "cron_expression")]
    expression: String,
}

// ---------------------------------------------------------------------------------------------
// oauth

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OAuthSchema {
    #[schemars(schema_with = "url")]
    authorize_url: String,
    #[schemars(schema_with = "url")]
    token_url: String,
    #[schemars(schema_with = "client_id")]
    client_id: String,
    /// The Worker secret holding the client secret.
    #[schemars(schema_with = "env_name")]
    client_secret_env: String,
    scopes: Option<Vec<Scope>>,
    /// Default true.
    pkce: Option<bool>,
    #[schemars(default, schema_with = "extra_authorize_params")]
    extra_authorize_params: Option<BTreeMap<String, String>>,
    #[schemars(schema_with = "url")]
    success_url: String,
    #[schemars(default, schema_with = "optional_url")]
    failure_url: Option<String>,
    #[schemars(default, schema_with = "optional_url")]
    userinfo_url: Option<String>,
    #[schemars(default, schema_with = "token_auth_methods")]
    token_auth_method: Option<String>,
}

/// A scope: non-empty, no whitespace as the parser sees it (Unicode White_Space, spelled out:
/// regex engines' `\s` differ, ECMAScript's misses U+0085).
#[derive(JsonSchema)]
#[schemars(transparent)]
pub struct Scope(
    #[schemars(regex(
        pattern = r"^[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    ))]
    String,
);

// ---------------------------------------------------------------------------------------------
// poll

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PollSchema {
    #[schemars(range(min = MIN_INTERVAL_SECONDS, max = MAX_INTERVAL_SECONDS))]
    interval_seconds: Option<u32>,
    /// Where a new poll starts: only records from now on (default) or everything there is.
    start: Option<PollStartSchema>,
    source: PollSourceSchema,
}

#[derive(JsonSchema)]
pub enum PollStartSchema {
    #[schemars(rename = "now")]
    Now,
    #[schemars(rename = "beginning")]
    Beginning,
}

/// The polled source; `kind` chooses it.
#[derive(JsonSchema)]
#[schemars(tag = "kind")]
pub enum PollSourceSchema {
    #[schemars(rename = "postgres")]
    Postgres(PostgresSourceSchema),
    #[schemars(rename = "http")]
    Http(HttpSourceSchema),
}

/// A PostgreSQL table; give `connection_env` or `hyperdrive`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, extend("oneOf" = [
    { "required": ["connection_env"], "properties": { "connection_env": { "type": "string" } } },
    { "required": ["hyperdrive"], "properties": { "hyperdrive": { "type": "string" } } }
]))]
pub struct PostgresSourceSchema {
    /// The Worker secret holding a postgres:// URL.
    #[schemars(default, schema_with = "optional_env_name")]
    connection_env: Option<String>,
    /// The name of a Hyperdrive binding.
    #[schemars(default, schema_with = "optional_env_name")]
    hyperdrive: Option<String>,
    /// `table` or `schema.table`.
    #[schemars(regex(
        pattern = r"^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$"
    ))]
    table: String,
    /// The column that orders new records.
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$"))]
    cursor: String,
    /// A unique column that orders rows sharing a cursor value: needed unless the cursor column
    /// alone is unique (the primary key, or a unique index on it alone). The cursor column
    /// itself declares the cursor's values unique (a view has no index to show it).
    #[schemars(default, schema_with = "optional_identifier")]
    tiebreak: Option<String>,
    #[schemars(default, schema_with = "identifiers")]
    columns: Option<Vec<String>>,
    #[schemars(range(min = 1, max = MAX_BATCH_SIZE))]
    batch_size: Option<u32>,
    /// Seconds a poll's view of the table must age (by the database's clock) before the rows
    /// it saw run: covers writers whose value is taken a little before their transaction id.
    #[schemars(range(min = 0, max = MAX_SETTLE_SECONDS))]
    settle_seconds: Option<u32>,
}

/// An HTTP JSON API.
#[derive(JsonSchema)]
#[schemars(
    deny_unknown_fields,
    extend(
        "$comment" = "`unique_capacity` sizes the set of remembered ids: only with `dedupe: unique` (the default). `{{cursor…}}` in the URL or a header: only with `dedupe: greatest` (a unique cursor keeps ids, not a greatest value).",
        "if" = { "properties": { "dedupe": { "const": "greatest" } }, "required": ["dedupe"] },
        "then" = { "properties": { "unique_capacity": { "type": "null" } } },
        "else" = {
            "properties": {
                "url": { "not": { "pattern": cursor_placeholder() } },
                "headers": { "additionalProperties": { "not": { "pattern": cursor_placeholder() } } }
            }
        }
    )
)]
pub struct HttpSourceSchema {
    #[schemars(schema_with = "poll_url")]
    url: String,
    #[schemars(default, schema_with = "header_map")]
    headers: Option<BTreeMap<String, String>>,
    /// JSON pointer to the array of items (default: the whole answer).
    #[schemars(default, schema_with = "pointer")]
    items: Option<String>,
    /// JSON pointer to an item's id (default `/id`).
    #[schemars(default, schema_with = "pointer")]
    id: Option<String>,
    dedupe: Option<DedupeSchema>,
    #[schemars(range(min = 1, max = MAX_UNIQUE_CAPACITY))]
    unique_capacity: Option<u32>,
    #[schemars(default, schema_with = "pointer")]
    greatest: Option<String>,
    pagination: Option<PaginationSchema>,
}

/// How pages are followed: `Link: <…>; rel="next"` headers by default, or a URL (`next_url`) or
/// a token (`cursor`, sent back as the query parameter `param`) in the body. `null` counts as
/// absent, so the rules between fields look at string values only.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, extend(
    "not" = {
        "required": ["next_url", "cursor"],
        "properties": { "next_url": { "type": "string" }, "cursor": { "type": "string" } }
    },
    "allOf" = [
        {
            "if": { "required": ["cursor"], "properties": { "cursor": { "type": "string" } } },
            "then": { "required": ["param"], "properties": { "param": { "type": "string" } } }
        },
        {
            "if": { "required": ["param"], "properties": { "param": { "type": "string" } } },
            "then": { "required": ["cursor"], "properties": { "cursor": { "type": "string" } } }
        }
    ]
))]
pub struct PaginationSchema {
    /// JSON pointer to the next page's URL in the body.
    #[schemars(default, schema_with = "inner_pointer")]
    next_url: Option<String>,
    /// JSON pointer to the next page's token in the body.
    #[schemars(default, schema_with = "inner_pointer")]
    cursor: Option<String>,
    /// The query parameter that sends the token back.
    #[schemars(default, schema_with = "query_param")]
    param: Option<String>,
    /// `newest_first`: stop at the first page with a seen item; `oldest_first` (default): read
    /// to the end.
    order: Option<OrderSchema>,
    /// Pages read per poll at most (default 10); positioning (`start: "now"`) reads past it.
    #[schemars(range(min = 1, max = MAX_MAX_PAGES))]
    max_pages: Option<u32>,
}

#[derive(JsonSchema)]
pub enum OrderSchema {
    #[schemars(rename = "newest_first")]
    NewestFirst,
    #[schemars(rename = "oldest_first")]
    OldestFirst,
}

#[derive(JsonSchema)]
pub enum DedupeSchema {
    #[schemars(rename = "unique")]
    Unique,
    #[schemars(rename = "greatest")]
    Greatest,
}

// ---------------------------------------------------------------------------------------------
// steps

/// One step; `type` chooses the kind.
#[derive(JsonSchema)]
#[schemars(tag = "type")]
pub enum StepSchema {
    /// Calls an HTTP API.
    #[schemars(rename = "http")]
    Http(HttpStepSchema),
    /// The HTTP reply of an endpoint workflow.
    #[schemars(rename = "response")]
    Response(ResponseStepSchema),
    /// Records a message in the run.
    #[schemars(rename = "log")]
    Log(LogStepSchema),
}

#[derive(JsonSchema)]
#[schemars(
    deny_unknown_fields,
    // `null` counts as absent: only two values conflict.
    extend("not" = {
        "required": ["json", "body"],
        "properties": { "json": { "not": { "type": "null" } }, "body": { "not": { "type": "null" } } }
    }),
    extend(
        "$comment" = "A GET or HEAD request has no body (the Fetch API refuses one).",
        "if" = { "properties": { "method": { "pattern": any_case(&["GET", "HEAD"]) } }, "required": ["method"] },
        "then" = { "properties": { "json": { "type": "null" }, "body": { "type": "null" } } }
    )
)]
pub struct HttpStepSchema {
    #[schemars(default, schema_with = "step_name")]
    name: Option<String>,
    /// Any case; default GET without a body, POST with one.
    #[schemars(default, schema_with = "step_methods")]
    method: Option<String>,
    /// An http(s) URL; may hold `{{templates}}`.
    #[schemars(schema_with = "step_url")]
    url: String,
    #[schemars(default, schema_with = "header_map")]
    headers: Option<BTreeMap<String, String>>,
    /// Parameter name → a string, number or boolean, or a list of those (repeated), or null
    /// (left out).
    #[schemars(default, schema_with = "query_values")]
    query: Option<BTreeMap<String, Value>>,
    /// A JSON body (templates inside keep their JSON type).
    json: Option<Value>,
    /// A text body.
    body: Option<String>,
    #[schemars(range(min = MIN_TIMEOUT_MS, max = MAX_TIMEOUT_MS))]
    timeout_ms: Option<u32>,
    #[schemars(range(max = MAX_RETRIES))]
    retries: Option<u32>,
    allow_error: Option<bool>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, extend("not" = {
    "required": ["json", "body"],
    "properties": { "json": { "not": { "type": "null" } }, "body": { "not": { "type": "null" } } }
}, "if" = {
    "required": ["status"],
    "properties": { "status": { "anyOf": [
        { "enum": [204, 205, 304] },
        { "type": "string", "pattern": "^\\s*\\+?0*(204|205|304)\\s*$" }
    ] } }
}, "then" = {
    "properties": { "json": { "type": "null" }, "body": { "type": "null" } }
}))]
/// A 204, 205 or 304 reply has no body.
pub struct ResponseStepSchema {
    #[schemars(default, schema_with = "step_name")]
    name: Option<String>,
    /// An HTTP status, or a template that renders to one (default 200).
    #[schemars(default, schema_with = "status")]
    status: Option<Value>,
    #[schemars(default, schema_with = "header_map")]
    headers: Option<BTreeMap<String, String>>,
    json: Option<Value>,
    body: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LogStepSchema {
    #[schemars(default, schema_with = "step_name")]
    name: Option<String>,
    message: String,
}

// ---------------------------------------------------------------------------------------------
// Schemas built from the parser's constants

/// `null` means "absent" to the parser, so every optional field also admits it.
fn nullable(mut schema: Schema) -> Schema {
    schema = json_schema!({ "anyOf": [schema, { "type": "null" }] });
    schema
}

fn enum_of(values: &[&str]) -> Schema {
    json_schema!({ "type": "string", "enum": values })
}

/// A case-insensitive pattern for one of `words`: `GET` → `[Gg][Ee][Tt]`.
fn any_case(words: &[&str]) -> String {
    let alts: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("^({})$", alts.join("|"))
}

fn endpoint_methods(_: &mut SchemaGenerator) -> Schema {
    let one = json_schema!({ "type": "string", "pattern": any_case(crate::endpoint::METHODS) });
    nullable(json_schema!({
        "anyOf": [one.clone(), { "type": "array", "items": one, "minItems": 1 }]
    }))
}

fn step_methods(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "string", "pattern": any_case(&crate::steps::http::METHODS) }))
}

/// A query parameter's or header's name: 1 to 256 characters.
fn field_name(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": 1, "maxLength": MAX_NAME_LEN })
}

/// A body field path: names between dots (no `.`, `[` or `]` in them), each followed by any
/// number of `[]`; at most `MAX_PATH_SEGMENTS` names and `[]`s in all.
fn body_path(_: &mut SchemaGenerator) -> Schema {
    let key = r"[^.\[\]]+";
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_NAME_LEN,
        "pattern": format!(r"^{key}(\[\]|\.{key}){{0,{}}}$", MAX_PATH_SEGMENTS - 1)
    })
}

fn token_auth_methods(_: &mut SchemaGenerator) -> Schema {
    nullable(enum_of(TOKEN_AUTH_METHODS))
}

const ENV_NAME_PATTERN: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";

fn env_name(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": ENV_NAME_PATTERN, "maxLength": 128 })
}

fn optional_env_name(g: &mut SchemaGenerator) -> Schema {
    nullable(env_name(g))
}

/// Header name → value: names are HTTP tokens (values: text, placeholders allowed in steps).
fn header_map(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({
        "type": "object",
        "propertyNames": { "pattern": r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$" },
        "additionalProperties": { "type": "string", "pattern": r"^[^\r\n\x00]*$" }
    }))
}

/// An IANA time zone name (or link), as the tz database spells it: `$defs/TimeZone`, which the
/// OpenAPI document also refers to (`GET /api/timezones?zone=`).
pub struct TimeZone;

impl JsonSchema for TimeZone {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TimeZone".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        enum_of(&names)
    }
}

fn time_of_day(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$" })
}

fn weekdays(_: &mut SchemaGenerator) -> Schema {
    let day = json_schema!({
        "type": "string",
        "pattern": format!(r"^\s*{}\s*$", any_case(&[
            "monday", "mon", "tuesday", "tue", "tues", "wednesday", "wed", "thursday", "thu",
            "thur", "thurs", "friday", "fri", "saturday", "sat", "sunday", "sun",
        ]).trim_start_matches('^').trim_end_matches('$'))
    });
    json_schema!({ "anyOf": [day.clone(), { "type": "array", "items": day, "minItems": 1 }] })
}

/// A cron expression: a macro, or five fields between whitespace as Rust sees it, each exactly
/// as the parser reads it (see `schedule::cron_pattern`).
fn cron_expression(_: &mut SchemaGenerator) -> Schema {
    let ws = TRIMMED.trim_end_matches('*');
    let macros = any_case(&[
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ]);
    let macros = macros.trim_start_matches('^').trim_end_matches('$');
    let schema = crate::schedule::cron_pattern::cron_expression_schema(ws, macros);
    Schema::try_from(schema).unwrap_or_default()
}

/// A placeholder over the poll cursor (`{{cursor.greatest}}`, `{{ cursor }}`, …) anywhere in a text.
fn cursor_placeholder() -> String {
    format!(r"\{{\{{{TRIMMED}cursor(?:[.\[]|{TRIMMED}\}}\}})")
}

/// A PostgreSQL identifier as the poll source writes it into SQL: `[A-Za-z_][A-Za-z0-9_$]*`,
/// at most 63 bytes.
const IDENTIFIER: &str = r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$";

fn optional_identifier(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "string", "pattern": IDENTIFIER }))
}

/// At least one column, each once (leave the list out for all of them).
fn identifiers(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": IDENTIFIER },
        "minItems": 1,
        "uniqueItems": true
    }))
}

/// Characters no URL may hold: whitespace (as Rust's `char::is_whitespace` sees it, which some
/// regex engines' `\s` misses) and control characters.
const NOT_IN_URLS: &str =
    r"\s\x00-\x1f\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// OAuth endpoints: `http://` or `https://` (lowercase), a host in ASCII (an international
/// name in its `xn--` form) without a user name or password, no whitespace or control
/// characters anywhere.
fn url_pattern() -> String {
    format!(r"^https?://[\x21\x22\x24-\x2e\x30-\x3e\x41-\x7e]+([/?#][^{NOT_IN_URLS}]*)?$")
}

fn url(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": url_pattern() })
}

fn optional_url(g: &mut SchemaGenerator) -> Schema {
    nullable(url(g))
}

/// What Rust's `str::trim` removes (Unicode White_Space), which a placeholder may have inside
/// its braces. Spelled out: regex engines' `\s` differ (Python's also takes `\x1c`–`\x1f`).
const TRIMMED: &str =
    r"[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*";

/// `{{secrets.NAME}}`: a Worker secret's name, never one of the platform's own (`ADMIN_TOKEN`,
/// `ADMIN_TOKEN_…`, `TRIPLINE_…`, any case; see `kernel::names`).
fn secret_ref() -> String {
    let admin = any_case(&["admin_token"]);
    let admin = admin.trim_start_matches("^(").trim_end_matches(")$");
    let tripline = any_case(&["tripline_"]);
    let tripline = tripline.trim_start_matches("^(").trim_end_matches(")$");
    format!(r"secrets\.(?!{admin}([^A-Za-z0-9]|$)|{tripline})[A-Za-z_][A-Za-z0-9_]{{0,127}}")
}

/// A key in a placeholder path that names no credential (see `kernel::redact::is_sensitive_key`:
/// `authorization`, `cookie`, … exactly, or containing `token`, `secret`, `password`, …).
fn safe_key() -> String {
    let exact = any_case(&crate::kernel::redact::EXACT_KEYS);
    let exact = exact.trim_start_matches('^').trim_end_matches('$');
    let mut contained = crate::kernel::redact::CONTAINED_KEYS.to_vec();
    contained.push("token");
    let contained = any_case(&contained);
    let contained = contained.trim_start_matches('^').trim_end_matches('$');
    format!(r"(?!{exact}([^A-Za-z0-9_-]|$))(?![A-Za-z0-9_-]*{contained})[A-Za-z0-9_-]+")
}

/// A `{{path}}` placeholder over one of `roots`: `secrets.NAME`, or a root, one of the fields
/// the engine puts under it (`request.body`, `run.id`, …), then keys and indexes. An index
/// has at most 9 digits (it must fit the Worker's 32-bit `usize`). With `credentials: false`
/// only placeholders that read no secret or token (the parser's `reads_credentials`).
fn template(roots: &[&str], credentials: bool) -> String {
    let key = if credentials {
        "[A-Za-z0-9_-]+".to_string()
    } else {
        safe_key()
    };
    let alternatives: Vec<String> = roots
        .iter()
        .filter(|root| credentials || **root != crate::template::SECRETS_ROOT)
        .map(|root| match *root {
            crate::template::SECRETS_ROOT => secret_ref(),
            root => {
                let fields: Vec<&str> = crate::template::root_fields(root)
                    .unwrap_or(&[])
                    .iter()
                    .copied()
                    .filter(|f| credentials || !crate::kernel::redact::is_sensitive_key(f))
                    .collect();
                format!(r"{root}\.({})(\.{key}|\[[0-9]{{1,9}}\])*", fields.join("|"))
            }
        })
        .collect();
    format!(
        r"\{{\{{{TRIMMED}({}){TRIMMED}\}}\}}",
        alternatives.join("|")
    )
}

/// The roots every trigger provides to URLs. The trigger's own root (`request`, `schedule`,
/// `oauth`, `event`) is added per trigger kind at the top of the schema; placeholders over an
/// earlier step's result (`steps.NAME…`) are valid for the server but only the parser can
/// tell which steps come earlier, so the schema leaves them out of URLs.
const COMMON_ROOTS: [&str; 3] = ["secrets", "workflow", "run"];

/// The pattern of an `http` step's URL whose placeholders may use `roots`: an http(s) URL (any
/// case) with a host and no control characters. Either its scheme and host are written
/// literally, followed by `/`, `?` or `#` before any placeholder, and then placeholders may read
/// anything; or placeholders may stand anywhere, also for the whole host, but read no secret
/// or token (a step that sends one must name its host literally).
pub fn step_url_pattern(roots: &[&str]) -> String {
    let plain = r"[^\x00-\x1f\x7f{]";
    let scheme = r"[Hh][Tt][Tt][Pp][Ss]?://";
    let any = template(roots, true);
    let host = format!(r"[^{NOT_IN_URLS}/?#{{@\\]+");
    let literal = format!(r"^{TRIMMED}{scheme}{host}([/?#]({any}|{plain})*)?$");
    let t = template(roots, false);
    let templated =
        format!(r"^{TRIMMED}({scheme}({t}|[^\s/?#{{\x00-\x1f\x7f])|{t})({t}|{plain})*$");
    format!("{literal}|{templated}")
}

/// `if trigger.type == kind then every http step's url may also use root`.
fn url_roots_for(kind: &str, root: &str) -> Value {
    serde_json::json!({
        "if": {
            "properties": { "trigger": { "properties": { "type": { "const": kind } }, "required": ["type"] } },
            "required": ["trigger"]
        },
        "then": { "properties": { "steps": { "items": {
            "if": { "properties": { "type": { "const": "http" } }, "required": ["type"] },
            "then": { "properties": { "url": {
                "pattern": step_url_pattern(&[&COMMON_ROOTS[..], &[root]].concat())
            } } }
        } } } }
    })
}

/// A polled HTTP source: lowercase scheme, a host, no whitespace or control characters;
/// placeholders may only read `secrets` and `cursor.greatest`.
fn poll_url(_: &mut SchemaGenerator) -> Schema {
    let secret = format!(r"\{{\{{({}|cursor\.greatest)\}}\}}", secret_ref());
    let plain = r"[^\s\x00-\x1f\x7f-\x9f{}]";
    json_schema!({
        "type": "string",
        "pattern": format!("^https?://({secret}|[^\\s\\x00-\\x1f\\x7f-\\x9f/?#{{}}])({secret}|{plain})*$")
    })
}

/// An `http` step's URL, over every root a trigger can provide; narrowed per trigger kind at
/// the top (see [`url_roots_for`]).
fn step_url(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": step_url_pattern(&[&COMMON_ROOTS[..], &["request", "schedule", "oauth", "event"]].concat())
    })
}

/// Not empty or only whitespace.
fn client_id(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": r"\S" })
}

fn extra_authorize_params(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({
        "type": "object",
        "additionalProperties": { "type": "string" },
        "propertyNames": { "minLength": 1, "not": { "enum": [
            "state", "code_challenge", "code_challenge_method", "redirect_uri", "client_id",
            "response_type", "response_mode", "scope"
        ] } }
    }))
}

fn pointer(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "string", "pattern": "^(/.*)?$" }))
}

/// A JSON pointer into the body (not the whole body).
fn inner_pointer(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "string", "pattern": "^/.*$" }))
}

fn query_param(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({ "type": "string", "pattern": r"^[A-Za-z0-9._~\[\]-]{1,100}$" }))
}

fn step_name(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({
        "type": "string",
        "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$",
        "maxLength": MAX_STEP_NAME_LEN
    }))
}

fn query_values(_: &mut SchemaGenerator) -> Schema {
    let scalar = json_schema!({ "type": ["string", "number", "boolean"] });
    nullable(json_schema!({
        "type": "object",
        "additionalProperties": {
            "anyOf": [scalar.clone(), { "type": "null" }, { "type": "array", "items": scalar }]
        }
    }))
}

fn status(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({
        "anyOf": [
            { "type": "integer", "minimum": MIN_STATUS, "maximum": MAX_STATUS },
            { "type": "string", "pattern": r"\{\{|^\s*\+?[2-5][0-9][0-9]\s*$" }
        ]
    }))
}

/// The schema, as a JSON value.
pub fn definition_schema() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12();
    let schema = settings
        .into_generator()
        .into_root_schema_for::<DefinitionSchema>();
    schema.to_value()
}

/// The schema as pretty JSON (what `GET /api/definition.schema.json` serves).
pub fn definition_schema_json() -> String {
    serde_json::to_string_pretty(&definition_schema()).unwrap_or_default() + "\n"
}
