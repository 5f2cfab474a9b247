//! What the binding keeps per Node environment (the main thread, each worker), in its instance
//! data: the JavaScript half of the binding (`glue.js`, evaluated when the addon loads and
//! reached from Rust by name), and the waits in progress, which are cancelled when the
//! environment goes away (a worker terminated mid-wait) so that their threads end too.

use std::collections::HashMap;

use napi::bindgen_prelude::{Function, JsObjectValue, Object, ObjectRef, Unknown};
use napi::{Env, Result};

struct Instance {
    /// What `glue.js` evaluates to: `{ classes, tetherError, argumentError, watchAbort }`.
    glue: ObjectRef<false>,
    /// What cancels each wait in progress, by an id of this environment.
    waits: HashMap<u64, Box<dyn Fn()>>,
    next_wait: u64,
}

/// Evaluate `glue.js`, export its error classes and set up this environment's instance data.
pub(crate) fn install(env: &Env, exports: &mut Object) -> Result<()> {
    let glue: Object = env.run_script(include_str!("glue.js"))?;
    let classes: Object = glue.get_named_property("classes")?;
    for name in Object::keys(&classes)? {
        let class: Unknown = classes.get_named_property(&name)?;
        exports.set_named_property(&name, class)?;
    }
    let instance = Instance {
        glue: glue.create_ref::<false>()?,
        waits: HashMap::new(),
        next_wait: 0,
    };
    env.set_instance_data(instance, (), |ctx| {
        // The environment is going away: nobody can receive these waits' results.
        for cancel in ctx.value.waits.values() {
            cancel();
        }
    })
}

fn instance(env: &Env) -> Result<&'static mut Instance> {
    env.get_instance_data::<Instance>()?
        .ok_or_else(|| napi::Error::from_reason("tether: the addon was not initialised"))
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
    instance(env)?.glue.get_value(env)?.get_named_property(name)
}

/// Keep `cancel` until [`wait_ended`], to call it (and so cancel its wait) should the
/// environment go away.
pub(crate) fn wait_started(env: &Env, cancel: impl Fn() + 'static) -> Result<u64> {
    let i = instance(env)?;
    let id = i.next_wait;
    i.next_wait += 1;
    i.waits.insert(id, Box::new(cancel));
    Ok(id)
}

/// The wait `id` has ended.
pub(crate) fn wait_ended(env: &Env, id: u64) -> Result<()> {
    instance(env)?.waits.remove(&id);
    Ok(())
}
