//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every `/api/v1` route, for
//! client generators and API explorers. Written beside the router; a test reads the
//! router's routes and fails on one this document lacks.

use axum::Json;
use serde_json::{json, Value};

use super::api::Authorized;

/// `GET /api/v1/openapi.json`.
pub async fn openapi(_who: Authorized) -> Json<Value> {
    Json(document())
}

fn error(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(description: &str, schema: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}})
}

fn query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description,
           "schema": {"type": "string"}})
}

fn body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

/// One write on an incident: `POST /api/v1/incidents/{id}/WHAT` with `fields`.
fn change(summary: &str, fields: Value, required: &[&str]) -> Value {
    json!({"post": {
        "summary": summary, "tags": ["write"], "security": [{"token": ["write"]}],
        "parameters": [id_param()],
        "requestBody": body(json!({"type": "object", "properties": fields, "required": required})),
        "responses": {
            "200": ok("The incident after the change.", "Incident"),
            "400": error("A field is missing or wrong; the error names it."),
            "404": error("No such incident (or a private one, to a scoped token)."),
            "409": {"description": "Refused by the lifecycle (with the moves `allowed`) or closed.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refused"}}}}
        }
    }})
}

fn alerts(summary: &str, payload: Value) -> Value {
    json!({
        "summary": summary, "tags": ["alerts"], "security": [{"token": ["alerts"]}],
        "requestBody": body(payload),
        "responses": {
            "200": ok("The incident of the alert group, and whether this post opened it.", "AlertReceived"),
            "400": error("Not one of the accepted shapes; nothing stored."),
            "413": error("Over 1 MiB."),
            "503": error("The group kept changing under concurrent posts: send it again.")
        }
    })
}

/// The whole document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "pompier",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Incidents, statistics, game days, alerts in. Every route takes \
                `Authorization: Bearer` with POMPIER_API_TOKEN (every scope) or a token made \
                with `pompier tokens create NAME --scope …`: 401 unknown or revoked, 403 \
                without the scope the route needs."
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"},
                                "query_token": {"type": "apiKey", "in": "query", "name": "token"}},
            "schemas": schemas()
        },
        "paths": paths()
    })
}

fn schemas() -> Value {
    json!({
        "Error": {"type": "object", "properties": {"error": {"type": "string"}},
                  "required": ["error"]},
        "Refused": {"type": "object", "properties": {
            "error": {"type": "string"},
            "allowed": {"type": "array", "items": {"type": "string"}}}},
        "Incident": {"type": "object", "properties": {
            "id": {"type": "integer"}, "title": {"type": "string"},
            "severity": {"enum": ["SEV1", "SEV2", "SEV3", "SEV4"]},
            "status": {"enum": ["open", "investigating", "mitigated", "resolved", "postmortem", "closed"]},
            "channel_id": {"type": ["string", "null"]},
            "declared_by": {"type": "string", "description": "A Slack user id, `token:NAME`, `alerts:SOURCE` or `jira:NAME`."},
            "roles": {"type": "object", "additionalProperties": {"type": "string"}},
            "opened_at": {"type": "string", "format": "date-time"},
            "investigating_at": {"type": ["string", "null"], "format": "date-time"},
            "mitigated_at": {"type": ["string", "null"], "format": "date-time"},
            "resolved_at": {"type": ["string", "null"], "format": "date-time"},
            "postmortem_at": {"type": ["string", "null"], "format": "date-time"},
            "closed_at": {"type": ["string", "null"], "format": "date-time"},
            "postmortem_url": {"type": ["string", "null"]},
            "drill": {"type": "boolean"}, "private": {"type": "boolean"},
            "failure_class": {"type": ["string", "null"]},
            "participants": {"type": "array", "items": {"type": "string"}},
            "timeline": {"type": "array", "items": {"type": "object", "properties": {
                "at": {"type": "string", "format": "date-time"}, "kind": {"type": "string"},
                "actor": {"type": "string"}, "from": {"type": ["string", "null"]},
                "to": {"type": ["string", "null"]}, "note": {"type": ["string", "null"]}}}},
            "followups": {"type": "array", "items": {"type": "object", "properties": {
                "number": {"type": "integer"}, "text": {"type": "string"},
                "jira": {"$ref": "#/components/schemas/JiraIssue"}}}},
            "alerts": {"type": "array", "items": {"type": "object", "properties": {
                "source": {"type": "string"}, "dedup_key": {"type": "string"},
                "status": {"enum": ["firing", "resolved"]}, "title": {"type": "string"},
                "url": {"type": ["string", "null"]},
                "first_at": {"type": "string", "format": "date-time"},
                "last_at": {"type": "string", "format": "date-time"},
                "count": {"type": "integer"}}}},
            "jira": {"$ref": "#/components/schemas/JiraIssue"},
            "summary": {"type": ["string", "null"], "description": "What is happening (`/incident summary`)."},
            "impact": {"type": ["string", "null"], "description": "Who is affected (`/incident impact`)."},
            "pages": {"type": "array", "items": {"type": "object", "properties": {
                "service": {"enum": ["pagerduty", "opsgenie"]},
                "team": {"type": ["string", "null"], "description": "null: the default routing."},
                "state": {"enum": ["triggered", "acknowledged", "resolved"]}}}}
        }},
        "JiraIssue": {"type": ["object", "null"], "properties": {
            "key": {"type": "string"}, "url": {"type": "string"}}},
        "IncidentPage": {"type": "object", "properties": {
            "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}},
            "next_cursor": {"type": ["string", "null"]}}},
        "AlertReceived": {"type": "object", "properties": {
            "incident": {"type": "integer"}, "created": {"type": "boolean"}}},
        "Audit": {"type": "object", "properties": {"entries": {"type": "array", "items": {"type": "object"}}}},
        "Stats": {"type": "object", "description": "See SPEC: totals, by severity and status, per week, times to acknowledge, mitigate and resolve."},
        "Gameday": {"type": "object", "description": "A game day's board: `mode`, `teams` (with `score` and `time_to_detect`), `drills`, `injections` (their `description` and `target` hidden until it ends, without the `gameday` scope)."},
        "Injection": {"type": "object", "properties": {
            "id": {"type": "integer"}, "started_at": {"type": "string", "format": "date-time"}}}
    })
}

fn paths() -> Value {
    let filters = || {
        vec![
            query("status", "Statuses, repeatable or comma-separated."),
            query("severity", "Severities, repeatable or comma-separated."),
            query("from", "RFC 3339: opened at or after."),
            query("to", "RFC 3339: opened before."),
            query("limit", "1 to 500 (default 50)."),
            query("cursor", "The `next_cursor` of the previous page."),
            query("include_drills", "`true` to list drills too."),
        ]
    };
    let read = || json!([{"token": ["read"]}]);
    let mut paths = serde_json::Map::new();
    paths.insert("/api/v1/incidents".into(), json!({
                "get": {"summary": "Incidents, newest first.", "tags": ["read"], "security": read(),
                        "parameters": filters(),
                        "responses": {"200": ok("A page of incidents.", "IncidentPage"),
                                      "400": error("A filter is wrong; the error names it.")}},
                "post": {"summary": "Declare an incident, as `/incident open` does.", "tags": ["write"],
                         "security": [{"token": ["write"]}],
                         "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false,
                                         "description": "The same key within 24 h answers the first result.",
                                         "schema": {"type": "string", "maxLength": 255}}],
                         "requestBody": body(json!({"type": "object", "required": ["title"], "properties": {
                             "title": {"type": "string", "maxLength": 200},
                             "severity": {"enum": ["SEV1", "SEV2", "SEV3", "SEV4"]},
                             "private": {"type": "boolean"}, "summary": {"type": "string"},
                             "team": {"type": "string", "description": "A configured team: its people are invited."}}})),
                         "responses": {"201": ok("The incident declared (or, for a key seen before, the first result).", "Incident"),
                                       "400": error("A field is missing or wrong; the error names it."),
                                       "409": error("A request with this Idempotency-Key is still running."),
                                       "422": error("This Idempotency-Key came with another body.")}}
            }));
    paths.insert("/api/v1/incidents/{id}".into(), json!({
                "get": {"summary": "One incident with its timeline.", "tags": ["read"], "security": read(),
                        "parameters": [id_param()],
                        "responses": {"200": ok("The incident.", "Incident"), "404": error("No such incident.")}}
            }));
    paths.insert(
        "/api/v1/incidents/{id}/status".into(),
        change(
            "Move the incident.",
            json!({"status": {"type": "string"}, "note": {"type": "string"}}),
            &["status"],
        ),
    );
    paths.insert(
        "/api/v1/incidents/{id}/severity".into(),
        change(
            "Change the severity.",
            json!({"severity": {"enum": ["SEV1", "SEV2", "SEV3", "SEV4"]}}),
            &["severity"],
        ),
    );
    paths.insert(
        "/api/v1/incidents/{id}/roles".into(),
        change(
            "Give a role to a Slack user.",
            json!({"role": {"type": "string"}, "user": {"type": "string"}}),
            &["role", "user"],
        ),
    );
    paths.insert(
        "/api/v1/incidents/{id}/notes".into(),
        change(
            "Add a note to the timeline.",
            json!({"text": {"type": "string"}}),
            &["text"],
        ),
    );
    paths.insert(
        "/api/v1/incidents.csv".into(),
        json!({
            "get": {"summary": "The incident list as CSV.", "tags": ["read"], "security": read(),
                    "parameters": filters(),
                    "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}}}
        }),
    );
    paths.insert(
        "/api/v1/stats".into(),
        json!({
            "get": {"summary": "Manager statistics.", "tags": ["read"], "security": read(),
                    "parameters": [query("from", "RFC 3339."), query("to", "RFC 3339."),
                                   query("severity", "Comma-separated severities."),
                                   query("status", "Comma-separated statuses."),
                                   query("team", "A team."), query("class", "A failure class."),
                                   query("q", "Text in the title (never a private incident's).")],
                    "responses": {"200": ok("The statistics.", "Stats")}}
        }),
    );
    paths.insert(
        "/api/v1/audit".into(),
        json!({
            "get": {"summary": "The audit trail, oldest first (the operator's token only).",
                    "tags": ["read"], "security": read(),
                    "parameters": [query("since", "RFC 3339; 7 days ago by default."),
                                   query("after", "The last `id` of the previous page."),
                                   query("limit", "1 to 1000; 100 by default.")],
                    "responses": {"200": ok("`entries`: id, at, actor, action, detail, origin.", "Audit"),
                                  "403": {"description": "Not the operator's token."}}}
        }),
    );
    paths.insert(
        "/api/v1/gamedays".into(),
        json!({
            "get": {"summary": "Game days, newest first.", "tags": ["read"], "security": read(),
                    "responses": {"200": ok("The game days.", "Gameday")}}
        }),
    );
    paths.insert("/api/v1/gamedays/{id}".into(), json!({
                "get": {"summary": "One game day's board.", "tags": ["read"], "security": read(),
                        "parameters": [id_param()],
                        "responses": {"200": ok("The board.", "Gameday"), "404": error("No such game day.")}}
            }));
    let gameday = || json!([{"token": ["gameday"]}, {"query_token": ["gameday"]}]);
    let day_param = || {
        json!({"name": "id", "in": "path", "required": true,
                              "description": "A game day's number, or `current`.", "schema": {"type": "string"}})
    };
    let token_param = || {
        query("token", "A token whose only scope is `gameday`, for callers that cannot send a header (LitmusChaos's httpProbe).")
    };
    paths.insert("/api/v1/gamedays/{id}/injections".into(), json!({
                "post": {"summary": "Record a fault injected for a team (a Dungeons & Dragons game day).",
                         "tags": ["gameday"], "security": gameday(),
                         "parameters": [day_param(), token_param()],
                         "requestBody": body(json!({"type": "object", "required": ["description"], "properties": {
                             "team": {"type": "string"}, "description": {"type": "string", "maxLength": 300},
                             "target": {"type": "string", "maxLength": 300},
                             "key": {"type": "string", "maxLength": 100, "description": "Yours, to end it by; sent again, the first answer."},
                             "started_at": {"type": "string", "format": "date-time", "description": "Less than an hour ago; default: now."}}})),
                         "responses": {"201": ok("Recorded: `{id, started_at}` (for a key recorded before, the first answer).", "Injection"),
                                       "400": error("A field is wrong; the error names it."),
                                       "409": error("No game day runs, or it is not in `dnd` mode.")}}
            }));
    paths.insert("/api/v1/gamedays/{id}/injections/end".into(), json!({
                "post": {"summary": "End the injection of `key`: the fault is removed.",
                         "tags": ["gameday"], "security": gameday(),
                         "parameters": [day_param(), token_param()],
                         "requestBody": body(json!({"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}})),
                         "responses": {"200": ok("The injection.", "Injection"), "404": error("No injection of this key.")}}
            }));
    paths.insert("/api/v1/injections/{id}/end".into(), json!({
                "post": {"summary": "End an injection: the fault is removed.",
                         "tags": ["gameday"], "security": gameday(),
                         "parameters": [id_param(), token_param()],
                         "responses": {"200": ok("The injection.", "Injection"), "404": error("No such injection.")}}
            }));
    paths.insert("/api/v1/alerts/alertmanager".into(), json!({
                "post": alerts("Alertmanager (version 4) or Grafana (version 1) webhook.",
                               json!({"type": "object", "required": ["version", "groupKey", "status", "alerts"]})),
                "put": alerts("The same, for Grafana contact points set to PUT.",
                              json!({"type": "object", "required": ["version", "groupKey", "status", "alerts"]}))
            }));
    paths.insert("/api/v1/alerts".into(), json!({
                "post": alerts("A generic alert.", json!({"type": "object", "required": ["source", "dedup_key"],
                    "properties": {"source": {"type": "string"}, "dedup_key": {"type": "string"},
                                   "status": {"enum": ["firing", "resolved"]}, "title": {"type": "string"},
                                   "severity": {"type": "string"},
                                   "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                   "url": {"type": "string"}}}))
            }));
    paths.insert("/api/v1/webhooks/jira".into(), json!({
                "post": {"summary": "Jira's `jira:issue_updated` webhook: a follow-up's issue done in Jira marks it done, and back.",
                         "tags": ["integrations"], "security": [],
                         "parameters": [{"name": "X-Hub-Signature", "in": "header", "required": true,
                                         "description": "sha256=HMAC-SHA256 of the body with JIRA_WEBHOOK_SECRET.",
                                         "schema": {"type": "string"}}],
                         "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                         "responses": {"200": {"description": "Taken (`taken`: whether a follow-up changed).",
                                               "content": {"application/json": {}}},
                                       "401": error("No secret set, or a wrong or missing signature.")}}
            }));
    paths.insert("/api/v1/openapi.json".into(), json!({
                "get": {"summary": "This document.", "tags": ["read"], "security": read(),
                        "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}}
            }));
    Value::Object(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `/api/v1` route of the router, with its methods, read from the router's
    /// source: a route added there and not here fails this test.
    fn routed() -> Vec<(String, Vec<&'static str>)> {
        let source = include_str!("mod.rs");
        let mut routes = vec![];
        for call in source.split(".route(").skip(1) {
            let call = call.split(".fallback(").next().unwrap_or(call);
            let Some(path) = call.split('"').nth(1) else {
                continue;
            };
            if !path.starts_with("/api/v1") {
                continue;
            }
            let methods = ["get", "post", "put", "delete", "patch"]
                .into_iter()
                .filter(|m| call.contains(&format!("{m}(")) || call.contains(&format!(".{m}(")))
                .collect();
            routes.push((path.to_owned(), methods));
        }
        routes
    }

    /// Whether documented `path` is an instance of routed `pattern` (`{what}` stands for
    /// any one segment the handler tells apart).
    fn instance(path: &str, pattern: &str) -> bool {
        let (p, q): (Vec<&str>, Vec<&str>) =
            (path.split('/').collect(), pattern.split('/').collect());
        p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| a == b || *b == "{what}")
    }

    #[test]
    fn every_api_route_is_in_the_document() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let routes = routed();
        assert!(routes.len() >= 10, "{routes:?}");
        for (pattern, methods) in routes {
            let documented: Vec<&String> = paths.keys().filter(|p| instance(p, &pattern)).collect();
            assert!(
                !documented.is_empty(),
                "{pattern} is not in the OpenAPI document"
            );
            for path in documented {
                for method in &methods {
                    assert!(
                        paths[path].get(*method).is_some(),
                        "{method} {path} is not in the OpenAPI document"
                    );
                }
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(doc["components"]["schemas"].get(name).is_some(), "{name}");
        }
    }
}
