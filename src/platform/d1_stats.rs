//! A D1 statement counter for local mode (`TRIPLINE_DEV_STATS=1`, never in production): every
//! statement sent to D1 is counted under the invocation kind and the workflow it was made for,
//! so tests can prove that a path makes none (`GET /__dev/stats`, docs/engine.md).
//!
//! Attribution follows the future, not a shared "current request" slot: each entry point runs
//! its work inside [`scope`], which marks that future's polls with its tag. Statements are sent
//! synchronously inside a poll, so interleaved requests in one isolate are never confused.
//! Work handed to `wait_until`/`spawn_local` keeps its tag through [`inherit`].

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use wasm_bindgen::prelude::*;
use worker::{D1Database, Env};

#[wasm_bindgen(module = "/src/platform/d1_stats.js")]
extern "C" {
    #[wasm_bindgen(js_name = countStatements)]
    fn count_statements(db: &JsValue, count: &js_sys::Function) -> JsValue;
}

/// The Worker var that turns counting on.
pub const VAR: &str = "TRIPLINE_DEV_STATS";

/// What an invocation is: the kinds statements are counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// The tag statements are counted under.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Tag {
    kind: Kind,
    workflow: Option<String>,
}

/// (workflow, or `None` for all of them; kind) → (statements, writes).
type Counts = BTreeMap<(Option<String>, &'static str), (u64, u64)>;

thread_local! {
    static ENABLED: Cell<Option<bool>> = const { Cell::new(None) };
    static CURRENT: RefCell<Option<Rc<Tag>>> = const { RefCell::new(None) };
    static COUNTS: RefCell<Counts> = const { RefCell::new(BTreeMap::new()) };
    static COUNT: Closure<dyn Fn(f64, f64)> = Closure::new(|n: f64, writes: f64| record(n as u64, writes as u64));
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

/// The D1 binding, counting its statements when counting is on.
pub fn counted(env: &Env, db: D1Database) -> D1Database {
    if !enabled(env) {
        return db;
    }
    let proxy = COUNT.with(|c| count_statements(db.as_ref(), c.as_ref().unchecked_ref()));
    proxy.unchecked_into()
}

fn record(n: u64, writes: u64) {
    let tag = CURRENT.with(|c| c.borrow().clone());
    // A statement sent outside any scope is a gap to fix: it shows as `untagged`.
    let kind = tag.as_ref().map_or("untagged", |t| t.kind.as_str());
    let workflow = tag.as_ref().and_then(|t| t.workflow.clone());
    COUNTS.with(|c| {
        let mut c = c.borrow_mut();
        let mut add = |key| {
            let e: &mut (u64, u64) = c.entry(key).or_default();
            e.0 += n;
            e.1 += writes;
        };
        if workflow.is_some() {
            add((workflow, kind));
        }
        add((None, kind));
    });
}

/// The counts so far, `{kind: count}`: of every workflow or of one, statements or only writes
/// (statements other than a SELECT).
pub fn snapshot(workflow: Option<&str>, writes: bool) -> serde_json::Value {
    COUNTS.with(|c| {
        let map: serde_json::Map<String, serde_json::Value> = c
            .borrow()
            .iter()
            .filter(|((w, _), _)| w.as_deref() == workflow)
            .map(|((_, kind), (n, w))| (kind.to_string(), (if writes { *w } else { *n }).into()))
            .filter(|(_, n)| n != &serde_json::Value::from(0u64))
            .collect();
        map.into()
    })
}

/// Runs `fut` with its statements counted under `kind` and `workflow` (an entry point; it has
/// called [`enabled`] first).
pub fn scope<F: Future>(kind: Kind, workflow: Option<&str>, fut: F) -> Scoped<F> {
    let on = ENABLED.with(|e| e.get()) == Some(true);
    Scoped {
        tag: on.then(|| {
            Rc::new(Tag {
                kind,
                workflow: workflow.map(str::to_string),
            })
        }),
        inner: Box::pin(fut),
    }
}

/// Runs `fut` as `kind` for the workflow of the enclosing scope (e.g. a run's execution).
pub fn rescope<F: Future>(kind: Kind, fut: F) -> Scoped<F> {
    let workflow = CURRENT.with(|c| c.borrow().as_ref().and_then(|t| t.workflow.clone()));
    scope(kind, workflow.as_deref(), fut)
}

/// Keeps the enclosing scope's tag for work that outlives it (`wait_until`, `spawn_local`).
pub fn inherit<F: Future>(fut: F) -> Scoped<F> {
    Scoped {
        tag: CURRENT.with(|c| c.borrow().clone()),
        inner: Box::pin(fut),
    }
}

/// A future whose polls count statements under its tag.
pub struct Scoped<F> {
    tag: Option<Rc<Tag>>,
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if this.tag.is_none() {
            return this.inner.as_mut().poll(cx);
        }
        let outer = CURRENT.with(|c| c.replace(this.tag.clone()));
        let out = this.inner.as_mut().poll(cx);
        CURRENT.with(|c| *c.borrow_mut() = outer);
        out
    }
}
