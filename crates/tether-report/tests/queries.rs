//! The query documents of the C ABI: each example validates against its committed schema, reads
//! back as the same value, and turns into the library's options; malformed documents are
//! refused with messages that name what was wrong.

use std::path::PathBuf;

use serde_json::{json, Value};
use tether::ErrorKind;
use tether_report::query::{parse, GetQuery, PortsQuery, PsQuery, Query, WaitForQuery};

fn schema(id: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas")
        .join(format!("{}.json", tether_report::file_stem(id)));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `doc` is valid by its schema and by the parser, and reads back as itself.
fn round_trip<Q: Query + PartialEq + std::fmt::Debug>(doc: Value) -> Q {
    assert_eq!(doc["schema"], Q::SCHEMA);
    let validator = jsonschema::validator_for(&schema(Q::SCHEMA)).unwrap();
    assert!(validator.is_valid(&doc), "{doc} is invalid by its schema");
    let q: Q = parse(&doc.to_string()).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let mut again = serde_json::to_value(&q).unwrap();
    again
        .as_object_mut()
        .unwrap()
        .insert("schema".into(), Q::SCHEMA.into());
    assert_eq!(parse::<Q>(&again.to_string()).unwrap(), q);
    q
}

fn refused<Q: Query + std::fmt::Debug>(doc: &str, says: &str) {
    let e = parse::<Q>(doc).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{doc}");
    assert!(e.message().contains(says), "{doc}: {}", e.message());
}

#[test]
fn examples_validate_parse_and_convert() {
    let q: PsQuery = round_trip(json!({
        "schema": "tether.ps-query/v1",
        "fields": ["pid", "name", "rss"],
        "filter": {"name": {"substring": "sh"}, "states": ["S", "running"], "min_age_ms": 5,
                   "pids": [std::process::id()], "user": "root"},
        "cpu_sample_ms": 10
    }));
    let lib = q.to_query().unwrap();
    assert_eq!(lib.cpu_sample, Some(std::time::Duration::from_millis(10)));
    assert_eq!(lib.filter.pids, Some(vec![std::process::id()]));

    let q: GetQuery = round_trip(json!({"schema": "tether.get-query/v1", "target": "42"}));
    assert_eq!(q.to_query().unwrap().0.pid(), 42);

    let q: PortsQuery = round_trip(json!({
        "schema": "tether.ports-query/v1", "protos": ["tcp", "unix"], "port": 8080,
        "pids": ["42"], "all_states": true
    }));
    let (lib, targets) = q.to_query().unwrap();
    assert_eq!(
        (lib.port, lib.protos.len(), targets.len()),
        (Some(8080), 2, 1)
    );

    let q: WaitForQuery = round_trip(json!({
        "schema": "tether.wait-for-query/v1", "targets": [":8080", "file:/tmp/x"],
        "timeout_ms": 0, "interval_ms": 50, "any": true,
        "http": {"status": "200-299", "method": "head", "headers": ["X-A: 1"]},
        "file": {"non_empty": true, "stable_ms": 100}
    }));
    let (targets, labels, opts) = q.to_wait().unwrap();
    assert_eq!((targets.len(), labels[0].as_str()), (2, ":8080"));
    assert_eq!((opts.timeout, opts.http.method.as_str()), (None, "HEAD"));
}

#[test]
fn malformed_documents_are_refused_with_a_reason() {
    refused::<PsQuery>("{", "not valid JSON");
    refused::<PsQuery>("[1]", "expected a JSON object");
    refused::<PsQuery>("{}", "missing \"schema\"");
    refused::<PsQuery>(r#"{"schema": "tether.ps-query/v2"}"#, "wrong schema id");
    refused::<PsQuery>(r#"{"schema": 1}"#, "wrong schema id");
    refused::<PsQuery>(
        r#"{"schema": "tether.ps-query/v1", "feilds": []}"#,
        "unknown field `feilds`",
    );
    refused::<PsQuery>(
        r#"{"schema": "tether.ps-query/v1", "filter": {"pid": [1]}}"#,
        "unknown field `pid`",
    );
    refused::<GetQuery>(
        r#"{"schema": "tether.get-query/v1"}"#,
        "missing field `target`",
    );
    refused::<PortsQuery>(
        r#"{"schema": "tether.ports-query/v1", "port": 70000}"#,
        "70000",
    );
    refused::<WaitForQuery>(
        r#"{"schema": "tether.wait-for-query/v1", "targets": ":80"}"#,
        "invalid type",
    );
}

#[test]
fn values_out_of_range_are_refused_when_converted() {
    let ps = |filter: Value| {
        parse::<PsQuery>(&json!({"schema": "tether.ps-query/v1", "filter": filter}).to_string())
            .unwrap()
            .to_query()
            .unwrap_err()
    };
    assert!(ps(json!({"pids": [0]})).message().contains("PID 0"));
    assert!(ps(json!({"pgid": 4294967295u32}))
        .message()
        .contains("out of range"));
    assert!(ps(json!({"min_cpu_percent": -1.0}))
        .message()
        .contains("min_cpu_percent"));
    assert!(ps(json!({"uid": 0, "user": "root"}))
        .message()
        .contains("not both"));
    let wait = |doc: Value| {
        let mut doc = doc;
        doc["schema"] = "tether.wait-for-query/v1".into();
        parse::<WaitForQuery>(&doc.to_string())
            .unwrap()
            .to_wait()
            .unwrap_err()
    };
    assert!(wait(json!({"targets": []})).message().contains("no target"));
    assert!(wait(json!({"targets": ["file:/a\u{0}b"]}))
        .message()
        .contains("NUL"));
    assert!(wait(json!({"targets": [":1"], "timeout_ms": u64::MAX}))
        .message()
        .contains("out of range"));
    assert!(
        wait(json!({"targets": [":1"], "watch": "1", "watch_pidfile": "/x"}))
            .message()
            .contains("not both")
    );
}
