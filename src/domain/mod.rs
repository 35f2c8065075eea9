//! Pure Rust: definitions, schedules, request schemas, templating, cursors, signatures.
//! Nothing in here imports `worker`; time, randomness and I/O are passed in.

pub mod body;
pub mod crypto;
pub mod cursor;
pub mod definition;
pub mod endpoint;
pub mod hooks;
pub mod ids;
pub mod names;
pub mod oauth;
pub mod oauth_flow;
pub mod paging;
pub mod poll;
pub mod poll_state;
pub mod problem;
pub mod reader;
pub mod redact;
pub mod request_schema;
pub mod retry;
pub mod routes;
pub mod schedule;
pub mod schedule_catch_up;
pub mod schedule_cron;
pub mod schedule_preview;
pub mod schedule_properties;
pub mod schedule_timer;
pub mod schedule_wall_clock;
pub mod schedule_zone;
pub mod schema_detect;
pub mod signature;
pub mod steps;
pub mod template;
pub mod time;
