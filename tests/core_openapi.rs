#![cfg(not(target_arch = "wasm32"))]
//! The OpenAPI document (`src/core/rest/openapi.json`) against the router it
//! describes: the same paths and methods as the route table, every status a
//! route answers documented for that route, every `$ref` resolving, the
//! schemas the contract names, and the rule that an empty query parameter is
//! absent written on every query parameter. (The JS tests validate the
//! document with a standard OpenAPI validator and every response the route
//! tests receive against its schemas.)

use std::collections::{BTreeMap, BTreeSet};

use execman::core::rest::{handle, Body, RestRequest, OPENAPI, OPENAPI_PRETTY, ROUTES};
use execman::core::{Manager, NewExecution, Options, Status};
use serde_json::{json, Value};

#[path = "core_support/mod.rs"]
mod support;
use support::manager_at;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc() -> Value {
    serde_json::from_str(OPENAPI).expect("the served document is JSON")
}

/// `(path, method)` → the operation object.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (key, op) in item.as_object().unwrap() {
            if METHODS.contains(&key.as_str()) {
                out.insert((path.clone(), key.to_uppercase()), op.clone());
            }
        }
    }
    out
}

#[test]
fn the_served_document_is_the_written_one_without_whitespace() {
    let pretty: Value = serde_json::from_str(OPENAPI_PRETTY).unwrap();
    assert_eq!(doc(), pretty);
    assert!(OPENAPI.len() < OPENAPI_PRETTY.len());
    assert!(!OPENAPI.contains('\n'));
    // Whitespace inside strings is kept.
    assert!(OPENAPI.contains("An empty value"));
}

#[test]
fn it_is_openapi_3_1_of_this_version() {
    let doc = doc();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn its_paths_and_methods_are_the_route_table() {
    let documented: BTreeSet<(String, String)> = operations(&doc()).into_keys().collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|r| r.methods().map(|m| (r.path.to_owned(), m.to_owned())))
        .collect();
    assert_eq!(documented, routed);
}

#[test]
fn every_ref_resolves_and_the_contracts_schemas_are_there() {
    let doc = doc();
    fn walk(v: &Value, doc: &Value, seen: &mut usize) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let pointer = r.strip_prefix('#').expect("a local $ref");
                    assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
                    *seen += 1;
                }
                map.values().for_each(|v| walk(v, doc, seen));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, doc, seen)),
            _ => {}
        }
    }
    let mut seen = 0;
    walk(&doc, &doc, &mut seen);
    assert!(seen > 30, "{seen} refs");
    for name in ["Execution", "Progress", "Page", "Counts", "Error", "Status"] {
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    let statuses: Vec<&str> = doc["components"]["schemas"]["Status"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 5);
    for s in statuses {
        assert!(Status::parse(s).is_some(), "{s}");
    }
}

#[test]
fn every_query_parameter_says_an_empty_value_is_absent() {
    let doc = doc();
    let mut count = 0;
    for ((path, method), op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["in"] == "query" {
                count += 1;
                let what = format!("{method} {path} ?{}", p["name"]);
                assert_eq!(p["allowEmptyValue"], true, "{what}");
                let text = p["description"].as_str().unwrap();
                assert!(
                    text.contains("empty value") && text.contains("absent"),
                    "{what}"
                );
            }
        }
    }
    assert!(count >= 10, "{count} query parameters");
    let info = doc["info"]["description"].as_str().unwrap();
    assert!(info.contains("An empty query parameter"), "{info}");
}

#[test]
fn every_operation_is_named_once_has_its_id_and_a_default_error() {
    let doc = doc();
    let mut names = BTreeSet::new();
    for ((path, method), op) in operations(&doc) {
        let name = op["operationId"].as_str().unwrap().to_owned();
        assert!(names.insert(name.clone()), "{name} twice");
        assert_eq!(
            op["responses"]["default"]["$ref"], "#/components/responses/Error",
            "{method} {path}"
        );
        if path.contains("{id}") {
            let item = &doc["paths"][&path];
            let ids: Vec<&Value> = item["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path" && p["name"] == "id")
                .collect();
            assert_eq!(ids.len(), 1, "{path}");
            assert_eq!(ids[0]["required"], true);
        }
    }
}

/// A manager holding one execution in each situation the id-routes meet.
fn populated() -> Manager {
    let (mut m, _clock) = manager_at(Options::default(), 1000.0);
    m.register("t", None).unwrap();
    let track = |m: &mut Manager, id: &str| {
        m.track(NewExecution {
            id: Some(id.into()),
            target_id: "remote".into(),
            ..NewExecution::default()
        })
        .unwrap();
    };
    for id in ["pending", "running", "reported", "done"] {
        track(&mut m, id);
    }
    for id in ["running", "reported", "done"] {
        m.start(id).unwrap();
    }
    m.report_progress("reported", 1.0, Some(2.0), None).unwrap();
    m.complete("done", None).unwrap();
    m.create(NewExecution {
        id: Some("handled".into()),
        target_id: "t".into(),
        ..NewExecution::default()
    })
    .unwrap();
    m
}

#[test]
fn every_status_a_route_answers_is_documented_for_it() {
    let doc = doc();
    let ops = operations(&doc);
    let bodies = [
        Body::Absent,
        Body::Json(Value::Null),
        Body::Json(json!({})),
        Body::Json(json!([])),
        Body::Json(json!({ "targetId": "t" })),
        Body::Json(json!({ "targetId": "t", "id": "pending" })),
        Body::Json(json!({ "targetId": "nope" })),
        Body::Json(json!({ "targetId": "x", "tracked": true })),
        Body::Json(json!({ "targetId": "x", "tracked": 1 })),
        Body::Json(json!({ "current": 1, "total": 2 })),
        Body::Json(json!({ "current": -1 })),
        Body::Json(json!({ "result": [1] })),
        Body::Json(json!({ "error": "e" })),
        Body::Json(json!({ "error": { "code": 1 } })),
        Body::Json(json!({ "reason": "r" })),
        Body::Json(json!({ "reason": 1 })),
        Body::from_text("{"),
    ];
    let queries = [
        "",
        "throttle_ms=5",
        "throttle_ms=x",
        "page=2&status=running",
        "page_size=0",
    ];
    let mut seen: BTreeMap<(String, String), BTreeSet<u16>> = BTreeMap::new();
    for info in ROUTES {
        for method in info.methods() {
            let op = &ops[&(info.path.to_owned(), method.to_owned())];
            for id in [
                "pending", "running", "reported", "done", "handled", "nope", "a%2Fb",
            ] {
                for body in &bodies {
                    for query in queries {
                        let mut m = populated();
                        let path = format!("{}?{query}", info.path.replace("{id}", id));
                        let r = handle(
                            &mut m,
                            &RestRequest::new(method, &path).with_body(body.clone()),
                        );
                        assert!(
                            op["responses"].get(r.status.to_string()).is_some(),
                            "{method} {path} with {body:?} answered {} ({:?}), which the document does not list",
                            r.status,
                            r.body
                        );
                        seen.entry((info.path.to_owned(), method.to_owned()))
                            .or_default()
                            .insert(r.status);
                    }
                }
            }
        }
    }
    // And the sweep reached every documented status but the Node server's (the default) and a
    // stream's 200, which the router leaves to a host that can stream (it answers 501).
    for ((path, method), op) in &ops {
        let streamed = op["responses"]["200"]["content"]["text/event-stream"].is_object();
        let documented: BTreeSet<u16> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter_map(|k| k.parse().ok())
            .filter(|&s| !(streamed && s == 200))
            .collect();
        assert_eq!(
            seen.get(&(path.clone(), method.clone())),
            Some(&documented),
            "{method} {path}: answered vs documented"
        );
    }
}
