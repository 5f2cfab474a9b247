//! The JavaScript half of the binding (`glue.js`): evaluated once per Node environment when the
//! addon loads, kept in the environment's instance data, and reached from Rust by name.

use napi::bindgen_prelude::{Function, JsObjectValue, Object, ObjectRef, Unknown};
use napi::{Env, Result};

/// What `glue.js` evaluates to: `{ classes, tetherError, argumentError, watchAbort }`.
struct Glue {
    object: ObjectRef<false>,
}

/// Evaluate `glue.js`, keep it for this environment and export its error classes.
pub(crate) fn install(env: &Env, exports: &mut Object) -> Result<()> {
    let glue: Object = env.run_script(include_str!("glue.js"))?;
    let classes: Object = glue.get_named_property("classes")?;
    for name in Object::keys(&classes)? {
        let class: Unknown = classes.get_named_property(&name)?;
        exports.set_named_property(&name, class)?;
    }
    let object = glue.create_ref::<false>()?;
    env.set_instance_data(Glue { object }, (), |_| {})
}

/// The glue object of this environment.
pub(crate) fn object(env: &Env) -> Result<Object<'_>> {
    let glue = env
        .get_instance_data::<Glue>()?
        .ok_or_else(|| napi::Error::from_reason("tether: the addon was not initialised"))?;
    glue.object.get_value(env)
}

/// A function of the glue object.
pub(crate) fn function<'env, Args, Ret>(
    env: &'env Env,
    name: &str,
) -> Result<Function<'env, Args, Ret>>
where
    Args: napi::bindgen_prelude::JsValuesTupleIntoVec,
    Ret: napi::bindgen_prelude::FromNapiValue,
{
    object(env)?.get_named_property(name)
}
