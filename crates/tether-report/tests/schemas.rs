//! The committed JSON Schemas under `schemas/` (outputs and query inputs) match the Rust types.
//! Regenerate with `UPDATE_SCHEMAS=1 cargo test -p tether-report --test schemas`.

use std::path::PathBuf;

#[test]
fn committed_schemas_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (id, schema) in tether_report::all_schemas()
        .into_iter()
        .chain(tether_report::query::all_query_schemas())
    {
        let path = dir.join(format!("{}.json", tether_report::file_stem(id)));
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale schemas (run UPDATE_SCHEMAS=1 cargo test -p tether-report --test schemas): {stale:?}"
    );
}
