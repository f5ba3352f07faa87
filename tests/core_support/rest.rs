//! The REST router's answers, as every test of it checks them.

use execman::core::rest::{Body, RestResponse};
use serde_json::Value;

/// The collection route.
pub const BASE: &str = "/api/v1/executions";

/// Asserts the status is in the table's set, 204 ⇔ no body, `Allow` ⇔ 405,
/// `Location` ⇔ 201, a stream ⇔ 501, the body is JSON, and an error status
/// carries `error.code` (one of that status's codes) and a non-empty
/// `error.message`. Returns the body (`Null` when there is none).
pub fn check_shape(r: &RestResponse) -> Value {
    assert!(
        [200, 201, 204, 400, 404, 405, 409, 501].contains(&r.status),
        "status {}",
        r.status
    );
    assert_eq!(r.status == 204, r.body.is_none(), "{r:?}");
    assert_eq!(r.status == 405, r.allow.is_some(), "{r:?}");
    assert_eq!(r.status == 201, r.location.is_some(), "{r:?}");
    assert_eq!(r.status == 501, r.stream.is_some(), "{r:?}");
    let Some(body) = &r.body else {
        return Value::Null;
    };
    // The router's reader: serde_json stops at 127 levels, and a body may nest 128.
    let Body::Json(v) = Body::from_text(body) else {
        panic!("response body is not JSON: {body}");
    };
    if r.status >= 400 {
        let code = v["error"]["code"].as_str().expect("error.code");
        let expected: &[&str] = match r.status {
            400 => &["INVALID_ARGUMENT"],
            404 => &["NOT_FOUND", "UNKNOWN_TARGET"],
            405 => &["METHOD_NOT_ALLOWED"],
            409 => &["ALREADY_EXISTS", "INVALID_TRANSITION"],
            501 => &["NOT_IMPLEMENTED"],
            _ => unreachable!(),
        };
        assert!(expected.contains(&code), "{} {code}", r.status);
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    v
}

/// Asserts an error answer's status and code; returns its message.
pub fn expect_error(answer: (u16, Value), status: u16, code: &str) -> String {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
    answer.1["error"]["message"].as_str().unwrap().to_owned()
}
