//! The OpenAPI 3.0 document of the JSON API, served at `/api/openapi.json`.
//!
//! Written by hand (a JSON value) rather than derived with utoipa: the API is small,
//! the document stays readable next to the handlers, and the build needs no extra proc
//! macros. `tests/web_api.rs` walks its state-changing operations (each must refuse a
//! request without a session or CSRF token), and `tests/web_fuzz.rs` (schemathesis)
//! checks the answers against it.

use serde_json::{Value, json};

pub(super) fn ok(schema: Value) -> Value {
    json!({ "description": "OK", "content": { "application/json": { "schema": schema } } })
}

pub(super) fn op(summary: &str, responses: Value) -> Value {
    let mut r = responses;
    r["default"] = json!({ "$ref": "#/components/responses/Error" });
    json!({ "summary": summary, "responses": r })
}

pub(super) fn op_body(summary: &str, body: Value, responses: Value) -> Value {
    let mut o = op(summary, responses);
    o["requestBody"] =
        json!({ "required": true, "content": { "application/json": { "schema": body } } });
    o
}

pub(super) fn with_params(mut o: Value, params: Value) -> Value {
    o["parameters"] = params;
    o
}

pub(super) fn obj(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required })
}

pub(super) fn path_id() -> Value {
    json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "format": "int64" } }])
}

/// The document.
pub fn openapi_document() -> Value {
    let mut doc = core_document();
    for more in [
        super::messages::openapi_paths(),
        super::timeline::openapi_paths(),
        super::prompts::openapi_paths(),
        super::system::openapi_paths(),
        super::forms::openapi_paths(),
        super::backup::openapi_paths(),
    ] {
        if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    doc
}

fn core_document() -> Value {
    let s = |t: &str| json!({ "type": t });
    let ns = |t: &str| json!({ "type": t, "nullable": true });
    let session = obj(
        json!({ "account": s("string"), "role": { "type": "string", "enum": ["admin", "viewer"] }, "csrf": s("string") }),
        &["account", "role", "csrf"],
    );
    let config_body = obj(json!({ "toml": s("string") }), &["toml"]);
    let applied = obj(json!({ "version": s("integer") }), &["version"]);
    let cdr_params = json!([
        { "name": "from", "in": "query", "schema": { "type": "string" }, "description": "started at or after (RFC 3339)" },
        { "name": "to", "in": "query", "schema": { "type": "string" }, "description": "started before (RFC 3339)" },
        { "name": "routing_number", "in": "query", "schema": { "type": "string" } },
        { "name": "caller", "in": "query", "schema": { "type": "string" } },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "format": "int64" } }
    ]);
    let no_content = json!({ "204": { "description": "done" } });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Switchboard local API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every endpoint but /healthz needs a session cookie (POST /api/login or /api/setup); every state-changing request also needs the session's CSRF token in the X-CSRF-Token header (GET /api/session gives it). Viewers only read."
        },
        "components": {
            "securitySchemes": {
                "session": { "type": "apiKey", "in": "cookie", "name": "sb_session" },
                "csrf": { "type": "apiKey", "in": "header", "name": "X-CSRF-Token" }
            },
            "schemas": {
                "Error": obj(json!({
                    "error": s("string"),
                    "problems": { "type": "array", "items": obj(json!({
                        "line": ns("integer"), "column": ns("integer"), "key": s("string"), "message": s("string")
                    }), &["key", "message"]) }
                }), &["error", "problems"])
            },
            "responses": {
                "Error": { "description": "refused, with the reason (and located configuration problems)",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        },
        "security": [{ "session": [], "csrf": [] }],
        "paths": {
            "/api/openapi.json": { "get": op("This document", json!({ "200": ok(s("object")) })) },
            "/api/session": { "get": op("Who is signed in, and the CSRF token", json!({ "200": ok(session.clone()) })) },
            "/api/setup": { "post": public_op_body("First start: setup token and the first admin password",
                obj(json!({ "token": s("string"), "name": s("string"), "password": s("string") }), &["token", "name", "password"]),
                json!({ "200": ok(session.clone()) })) },
            "/api/login": { "post": public_op_body("Log in (sets the session cookie)",
                obj(json!({ "name": s("string"), "password": s("string") }), &["name", "password"]),
                json!({ "200": ok(session.clone()) })) },
            "/api/logout": { "post": op("Log out (ends the session)", no_content.clone()) },
            "/api/status": { "get": op("Ports, modem, calls in progress (snapshot)", json!({ "200": ok(obj(json!({
                "version": s("string"), "site": s("string"), "board": s("string"), "started_at": s("string"),
                "engine_running": s("boolean"), "calls_total": s("integer"), "cdrs_stored": s("integer"),
                "config_version": ns("integer"), "ports": { "type": "array", "items": s("object") },
                "modem": { "type": "object", "nullable": true }, "calls": { "type": "array", "items": s("object") },
                "queued": s("integer"), "generation": s("integer")
            }), &["version", "board", "engine_running", "ports", "calls"])) })) },
            "/api/oncall": { "get": op("Who is on call now, per schedule and per policy level", json!({ "200": ok(obj(json!({
                "at": s("string"), "schedules": s("array"), "policies": s("array") }), &["at", "schedules", "policies"])) })) },
            "/api/events": { "get": op("Live call events (server-sent events, `event: call`)", json!({ "200": {
                "description": "an event stream", "content": { "text/event-stream": { "schema": s("string") } } } })) },
            "/api/cdrs": { "get": with_params(op("Call detail records, newest first (CSV: /api/cdrs/export)", json!({ "200": ok(json!({ "type": "array", "items": obj(json!({
                "id": s("integer"), "call_id": s("integer"), "started_at": s("string"), "routing_number": s("string"),
                "end_reason": s("string"), "attempts": s("array") }), &["id", "call_id", "started_at", "end_reason"]) })) })), cdr_params) },
            "/api/config": {
                "get": op("The configuration in force (TOML) and its version", json!({ "200": ok(obj(json!({ "version": ns("integer"), "toml": s("string") }), &["version", "toml"])) })),
                "post": op_body("Validate, apply (new calls) and save as a new version; 422 with located problems, nothing saved", config_body.clone(), json!({ "200": ok(applied.clone()) }))
            },
            "/api/config/check": { "post": op_body("Validate only (the same rules as check-config)", config_body, json!({ "200": ok(obj(json!({ "ok": s("boolean"), "problems": s("array") }), &["ok"])) })) },
            "/api/config/versions": { "get": op("Saved versions, newest first", json!({ "200": ok(json!({ "type": "array", "items": obj(json!({
                "id": s("integer"), "created_at": s("string"), "account": s("string"), "source": s("string") }), &["id", "created_at", "account", "source"]) })) })) },
            "/api/config/versions/{id}": { "get": with_params(op("A version with its diff against the previous one", json!({ "200": ok(obj(json!({
                "id": s("integer"), "toml": s("string"), "diff": s("string"), "previous": ns("integer") }), &["id", "toml", "diff"])) })), path_id()) },
            "/api/config/versions/{id}/rollback": { "post": with_params(op("Apply an old version again (saved as a new version)", json!({ "200": ok(applied) })), path_id()) },
            "/api/audit": { "get": with_params(op("Audit log, newest first", json!({ "200": ok(json!({ "type": "array", "items": obj(json!({
                "id": s("integer"), "at": s("string"), "account": s("string"), "address": s("string"), "action": s("string"), "detail": s("string") }),
                &["id", "at", "account", "address", "action", "detail"]) })) })),
                json!([{ "name": "limit", "in": "query", "schema": { "type": "integer", "format": "int64" } }])) },
            "/api/accounts": {
                "get": op("Web accounts", json!({ "200": ok(json!({ "type": "array", "items": obj(json!({ "name": s("string"), "role": s("string"), "created_at": s("string") }), &["name", "role"]) })) })),
                "post": op_body("Create an account (admin or viewer) or set its password",
                    obj(json!({ "name": s("string"), "password": s("string"), "role": { "type": "string", "enum": ["admin", "viewer"] } }), &["name", "password", "role"]),
                    json!({ "201": ok(obj(json!({ "name": s("string"), "role": s("string"), "created_at": s("string") }), &["name", "role"])) }))
            },
            "/api/accounts/{name}": { "delete": with_params(op("Delete an account", no_content.clone()),
                json!([{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }])) },
            "/api/calls/{id}/hangup": { "post": with_params(op("Hang up a call in progress (the caller hears goodbye)", no_content), path_id()) },
            "/api/sim/call": { "post": op_body("Simulated board only: a test caller rings in",
                obj(json!({ "port": s("string"), "caller_id": ns("string"), "keys": s("string"), "hangup_after_seconds": { "type": "integer", "minimum": 0 } }), &["port", "hangup_after_seconds"]),
                json!({ "202": { "description": "the caller will ring in" } })) }
        }
    })
}

/// An operation anyone may call (no session yet): setup and login.
fn public_op_body(summary: &str, body: Value, responses: Value) -> Value {
    let mut o = op_body(summary, body, responses);
    o["security"] = json!([]);
    o
}
