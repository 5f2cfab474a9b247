//! Large results handed to JavaScript as JSON: serialised in Rust (on the worker thread, for a
//! promise) and turned into objects by V8's `JSON.parse`, which builds thousands of small
//! objects several times faster than Node-API can, property by property.

use napi::bindgen_prelude::{Function, JsObjectValue, Object, ToNapiValue, TypeName, Unknown};
use napi::{sys, Env, JsValue, ValueType};

use crate::error::{Fail, Result};

/// A JSON document that becomes, in JavaScript, the value `JSON.parse` gives for it.
pub(crate) struct Json(String);

impl Json {
    /// Serialise `value`.
    pub(crate) fn of<T: serde::Serialize + ?Sized>(value: &T) -> Result<Json> {
        serde_json::to_string(value)
            .map(Json)
            .map_err(|e| Fail::Panic(format!("serialising a result: {e}")))
    }
}

impl TypeName for Json {
    fn type_name() -> &'static str {
        "Json"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for Json {
    unsafe fn to_napi_value(raw: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(raw);
        let json: Object = env.get_global()?.get_named_property("JSON")?;
        let parse: Function<String, Unknown> = json.get_named_property("parse")?;
        Ok(parse.call(val.0)?.raw())
    }
}
