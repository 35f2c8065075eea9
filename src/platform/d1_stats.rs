//! A D1 statement counter for local mode (`TRIPLINE_DEV_STATS=1`, never in production): every
//! statement sent to D1 is counted under the invocation kind and the workflow it was made for,
//! so tests can prove that a path makes none (`GET /__dev/stats`, README "Tests").
//!
//! Attribution follows the future, not a shared "current request" slot: each entry point runs
//! its work inside [`scope`], which marks that future's polls with its tag. Statements are sent
//! synchronously inside a poll, so interleaved requests in one isolate are never confused.
//! Work handed to `wait_until`/`spawn_local` keeps its tag through [`inherit`] or [`rescope`].
//! The counting itself is JavaScript (`d1_stats.js`): a proxy around the D1 binding.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wasm_bindgen::prelude::*;
use worker::{D1Database, Env};

#[wasm_bindgen(module = "/src/platform/d1_stats.js")]
extern "C" {
    #[wasm_bindgen(js_name = countStatements)]
    fn count_statements(db: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = swapTag)]
    fn swap_tag(tag: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = currentTag)]
    fn current_tag() -> JsValue;
    fn retag(kind: &str) -> JsValue;
    /// `{kind: count}` as JSON, of one workflow (`""`: of all), statements or only writes.
    pub fn snapshot(workflow: &str, writes: bool) -> String;
}

/// The Worker var that turns counting on.
pub const VAR: &str = "TRIPLINE_DEV_STATS";

/// What an invocation is: the kinds statements are counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request to a workflow's live URL.
    Ingest,
    /// A request to a workflow's test URL.
    TestIngest,
    /// An OAuth sign-in or callback.
    OAuth,
    /// The management API (and the object work it asks for: deploy, reset).
    Api,
    /// The Cron Trigger (and the object work it asks for).
    Cron,
    /// A schedule alarm.
    Fire,
    /// A poll alarm.
    Poll,
    /// Executing a run.
    Execute,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ingest => "ingest",
            Kind::TestIngest => "test_ingest",
            Kind::OAuth => "oauth",
            Kind::Api => "api",
            Kind::Cron => "cron",
            Kind::Fire => "fire",
            Kind::Poll => "poll",
            Kind::Execute => "execute",
        }
    }
}

thread_local! {
    static ENABLED: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether counting is on in this isolate (read from `env` once).
pub fn enabled(env: &Env) -> bool {
    ENABLED.with(|e| match e.get() {
        Some(on) => on,
        None => {
            let on = crate::platform::env_string(env, VAR).as_deref() == Some("1");
            e.set(Some(on));
            on
        }
    })
}

fn on() -> bool {
    ENABLED.with(|e| e.get()) == Some(true)
}

/// The D1 binding, counting its statements when counting is on.
pub fn counted(env: &Env, db: D1Database) -> D1Database {
    if !enabled(env) {
        return db;
    }
    count_statements(db.as_ref()).unchecked_into()
}

/// Runs `fut` with its statements counted under `kind` and `workflow` (an entry point; it has
/// called [`enabled`] first).
pub fn scope<F: Future>(kind: Kind, workflow: Option<&str>, fut: F) -> Scoped<F> {
    let tag = on().then(|| JsValue::from(format!("{}\n{}", kind.as_str(), workflow.unwrap_or(""))));
    Scoped {
        tag,
        inner: Box::pin(fut),
    }
}

/// Runs `fut` as `kind` for the workflow of the enclosing scope (e.g. a run's execution).
pub fn rescope<F: Future>(kind: Kind, fut: F) -> Scoped<F> {
    Scoped {
        tag: on().then(|| retag(kind.as_str())),
        inner: Box::pin(fut),
    }
}

/// Keeps the enclosing scope's tag for work that outlives it (`wait_until`, `spawn_local`).
pub fn inherit<F: Future>(fut: F) -> Scoped<F> {
    Scoped {
        tag: on().then(current_tag),
        inner: Box::pin(fut),
    }
}

/// A future whose polls count statements under its tag.
pub struct Scoped<F> {
    tag: Option<JsValue>,
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let Some(tag) = &this.tag else {
            return this.inner.as_mut().poll(cx);
        };
        let outer = swap_tag(tag);
        let out = this.inner.as_mut().poll(cx);
        swap_tag(&outer);
        out
    }
}
