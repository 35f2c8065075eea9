//! The object's synchronous key-value API (`ctx.storage.kv` of SQLite-backed objects): the
//! same entries as the promise-based `Storage` API, read and written without a promise. The
//! alarm path uses it so that a wake costs no round trips through the event loop (each
//! awaited storage call is a promise, two closures and a microtask).

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use worker::{Error, Result, Storage};

pub struct SyncKv {
    kv: JsValue,
    get: Function,
    put: Function,
}

fn method(target: &JsValue, name: &str) -> Result<Function> {
    Reflect::get(target, &JsValue::from_str(name))?
        .dyn_into::<Function>()
        .map_err(|_| Error::RustError(format!("storage.kv.{name} is not a function")))
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
            get: method(&kv, "get")?,
            put: method(&kv, "put")?,
            kv,
        })
    }

    /// The string stored under `key` (`None` when absent or not a string).
    pub fn get_string(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .get
            .call1(&self.kv, &JsValue::from_str(key))?
            .as_string())
    }

    pub fn put_string(&self, key: &str, value: &str) -> Result<()> {
        self.put
            .call2(&self.kv, &JsValue::from_str(key), &JsValue::from_str(value))?;
        Ok(())
    }

    pub fn put_number(&self, key: &str, value: f64) -> Result<()> {
        self.put
            .call2(&self.kv, &JsValue::from_str(key), &JsValue::from_f64(value))?;
        Ok(())
    }
}
