//! The object's synchronous storage API: `ctx.storage.kv` of SQLite-backed objects (the same
//! entries as the promise-based `Storage` API, read and written without a promise) and
//! `setAlarm` called without awaiting its promise. The alarm path uses it so that a wake costs
//! no round trips through the event loop (each awaited storage call is a promise, two closures
//! and a microtask).

use js_sys::Reflect;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::{Error, Result, Storage};

#[wasm_bindgen]
extern "C" {
    /// `ctx.storage.kv`.
    type KvApi;
    #[wasm_bindgen(method, catch)]
    fn get(this: &KvApi, key: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn put(this: &KvApi, key: &str, value: &JsValue) -> std::result::Result<JsValue, JsValue>;

    /// `ctx.storage`, for `setAlarm(ms)`.
    type AlarmApi;
    #[wasm_bindgen(method, catch, js_name = setAlarm)]
    fn set_alarm(this: &AlarmApi, scheduled_ms: f64) -> std::result::Result<JsValue, JsValue>;
}

pub struct SyncKv {
    kv: KvApi,
    storage: AlarmApi,
}

impl SyncKv {
    pub fn new(storage: &Storage) -> Result<Self> {
        let kv = Reflect::get(storage.as_raw(), &JsValue::from_str("kv"))?;
        if kv.is_undefined() {
            return Err(Error::RustError(
                "this runtime has no synchronous storage.kv".into(),
            ));
        }
        Ok(Self {
            kv: kv.unchecked_into(),
            storage: JsValue::from(storage.as_raw()).unchecked_into(),
        })
    }

    /// The string stored under `key` (`None` when absent or not a string).
    pub fn get_string(&self, key: &str) -> Result<Option<String>> {
        Ok(self.kv.get(key)?.as_string())
    }

    pub fn put_string(&self, key: &str, value: &str) -> Result<()> {
        self.kv.put(key, &JsValue::from_str(value))?;
        Ok(())
    }

    pub fn put_number(&self, key: &str, value: f64) -> Result<()> {
        self.kv.put(key, &JsValue::from_f64(value))?;
        Ok(())
    }

    /// Sets the alarm at `at_ms` (epoch milliseconds). Its promise is not awaited: like a `put`,
    /// the write joins the event's storage transaction, which commits (and the output gate
    /// holds replies) whether or not anyone waits for it. Arguments it refuses throw here.
    pub fn set_alarm(&self, at_ms: i64) -> Result<()> {
        self.storage.set_alarm(at_ms as f64)?;
        Ok(())
    }
}
