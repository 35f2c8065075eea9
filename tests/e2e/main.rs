//! End-to-end tests: one binary, a module per trigger, the harness as a fixture module. Every
//! module starts its own real `wrangler dev` (workerd with local D1 and Durable Objects) on a free
//! port with a fresh state directory, plus whatever real services it needs (PostgreSQL, an OAuth
//! 2.0 server, an upstream HTTP server), and drives it over HTTP.
//!
//! `scripts/test` runs the modules one after another (`cargo test --test e2e -- MODULE::`), so
//! only one `wrangler dev` is busy at a time on a small machine.

mod harness;

mod api;
mod cli;
mod dashboard;
mod dev_stats;
mod endpoint;
mod engine;
mod oauth;
mod poll;
mod scale;
mod schedule;
mod tour;
