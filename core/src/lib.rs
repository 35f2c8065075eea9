//! Tripline's pure core: workflow definitions, their triggers and steps, and every decision that
//! can be made without the platform. Nothing here depends on the Worker runtime (`worker`,
//! `wasm-bindgen`, `js-sys`, `tokio-postgres`): the clock, randomness and I/O are passed in, so
//! the same code is unit-tested natively and reused by other binaries.
//!
//! One folder per trigger, over a small shared [`kernel`]:
//!
//! | module | holds |
//! |---|---|
//! | [`definition`] | a workflow definition: name, trigger, steps, validated as a whole |
//! | [`template`] | `{{…}}` placeholders and the run context |
//! | [`steps`] | the step kinds (`http`, `log`, `response`) and retry timing |
//! | [`schedule`] | schedule triggers, their fire times and DST rules, the timer plan |
//! | [`poll`] | the event-based trigger: sources, cursors, the poll state |
//! | [`endpoint`] | the API Endpoint trigger: request schema, bodies, signatures, the ingest helpers |
//! | [`oauth`] | the OAuth trigger and the pure parts of its sign-in flow |

pub mod definition;
pub mod endpoint;
pub mod kernel;
pub mod oauth;
pub mod poll;
pub mod schedule;
#[cfg(feature = "schema")]
pub mod schema;
pub mod steps;
pub mod template;
