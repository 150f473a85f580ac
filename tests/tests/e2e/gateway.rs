//! The gateway as its own component: readiness that reflects the gateway
//! (backends reported, not deciding), 503 from `/readyz` while it drains on
//! SIGTERM, and the document it serves (its content is checked by the
//! gateway's unit tests).

use bianmin_e2e::{Cluster, Options, Start};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A window submission at C01 with `reason`.
fn application(reason: &str) -> Value {
    serde_json::json!({
        "center_id": "C01", "service_type": "elderly-care-subsidy", "channel": "window",
        "applicant": {"name": "张秀兰", "id_number": "11010519491231002X", "phone": "13812345678"},
        "reason": reason
    })
}

#[tokio::test]
async fn readiness_is_the_gateways_own_and_turns_503_while_draining() {
    // Review does not run: its routes fail, intake's still work, and the
    // gateway stays in its Service.
    let cluster = Cluster::launch(Start {
        options: Options { otlp: false },
        services: Some(&["intake"]),
        gateway_env: &[("SHUTDOWN_DRAIN_SECONDS", "3")],
        every_env: &[],
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{}/readyz", cluster.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let serving = |name: &str| {
        body["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .map(|b| b["serving"].as_bool().unwrap())
    };
    assert_eq!(serving("intake"), Some(true), "{body}");
    assert_eq!(serving("review"), Some(false), "{body}");

    let centers = http
        .get(format!("{}/api/v1/centers", cluster.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(centers.status(), 200);
    let staff = cluster.client_as("c01-specialist").await;
    let queue = staff
        .get(format!("{}/api/v1/reviews", cluster.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(
        queue.status(),
        503,
        "review is down: unavailable, not an error of the caller"
    );

    // SIGTERM: /readyz says 503 at once, while requests are still answered
    // during the drain.
    cluster.sigterm("gateway");
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut stopping = None;
    while Instant::now() < deadline {
        let r = http
            .get(format!("{}/readyz", cluster.gateway))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            stopping = Some(r.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stopping = stopping.expect("/readyz turned 503 after SIGTERM");
    assert_eq!(stopping["status"], "stopping");
    let during = http
        .get(format!("{}/api/v1/centers", cluster.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(
        during.status(),
        200,
        "requests are still served while draining"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn the_served_document_lists_each_action_and_others_are_unknown_routes() {
    let cluster = Cluster::start_only(&["intake"], Options { otlp: false })
        .await
        .unwrap();
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", cluster.gateway))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/reviews/{id}/decide"]["post"].is_object());
    // An action that does not exist is an unknown route.
    let staff = cluster.client_as("c01-specialist").await;
    let r = staff
        .post(format!(
            "{}/api/v1/reviews/0190d7a4-0000-7000-8000-000000000000/frobnicate",
            cluster.gateway
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    cluster.stop().await;
}

#[tokio::test]
async fn long_values_and_many_violations_answer_400_with_bounded_details() {
    let cluster = Cluster::start_only(&["intake"], Options { otlp: false })
        .await
        .unwrap();
    let staff = cluster.client_as("c01-specialist").await;
    // A few KB in one field: quoted back only as a short prefix.
    let long = "x".repeat(4096);
    let r = staff
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .json(&serde_json::json!({
            "center_id": "C01", "service_type": long, "channel": "window",
            "applicant": {"name": "张秀兰", "id_number": "11010519491231002X", "phone": "13812345678"},
            "reason": "独居老人"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body.to_string().len() < 4096,
        "the value is not echoed whole: {body}"
    );
    let violations = body["error"]["violations"].as_array().unwrap();
    assert_eq!(violations[0]["field"], "service_type", "{body}");

    // Thirty broken materials: ten listed, the rest counted.
    let admin = cluster.client_as("admin").await;
    let materials: Vec<Value> = (0..30)
        .map(|i| serde_json::json!({"code": format!("BAD CODE {i}"), "name": "", "group": "nowhere"}))
        .collect();
    let r = admin
        .post(format!("{}/api/v1/catalog/services", cluster.gateway))
        .json(&serde_json::json!({
            "code": "many-bad", "name": "坏定义", "domain": "社区养老", "class": "基础",
            "preliminary_review_days": 5, "extended_review_days": 10, "decision_days": 30,
            "materials": materials
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "not a transport error, not a rate limit");
    let body: Value = r.json().await.unwrap();
    let violations = body["error"]["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 11, "{body}");
    assert_eq!(violations[10]["rule"], "more_violations");
    cluster.stop().await;
}

#[tokio::test]
async fn control_characters_are_refused_by_field_and_audit_rows_always_write() {
    let cluster = Cluster::start_only(&["intake"], Options { otlp: false })
        .await
        .unwrap();
    let staff = cluster.client_as("c01-specialist").await;
    let submit = application;
    for bad in ["独居\u{0}老人", "\u{1b}[31m独居老人"] {
        let r = staff
            .post(format!("{}/api/v1/applications", cluster.gateway))
            .json(&submit(bad))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["violations"][0]["field"], "reason", "{body}");
        assert_eq!(body["error"]["violations"][0]["rule"], "control_character");
    }
    // Line breaks are text.
    let created: Value = staff
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .json(&submit("独居老人\n子女在外地"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    // A purpose with a NUL in the query: refused naming it, and the
    // refusal answered (an audit row can always be written, see
    // audit::Entry::storable).
    let supervisor = cluster.client_as("c01-supervisor").await;
    let r = supervisor
        .get(format!(
            "{}/api/v1/applications/{id}/applicant?purpose=%E6%A0%B8%E5%AF%B9%00",
            cluster.gateway
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["violations"][0]["field"], "purpose", "{body}");
    cluster.stop().await;
}

#[tokio::test]
async fn one_idempotency_key_a_center_first_and_bodies_declared_json() {
    let cluster = Cluster::start_only(&["intake"], Options { otlp: false })
        .await
        .unwrap();
    let staff = cluster.client_as("c01-specialist").await;
    let url = format!("{}/api/v1/applications", cluster.gateway);
    let application = application("独居老人");
    // Two keys: which would a retry repeat?
    let r = staff
        .post(&url)
        .header("Idempotency-Key", "k-1")
        .header("Idempotency-Key", "k-2")
        .json(&application)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["violations"][0]["rule"],
        "idempotency_key_repeated"
    );
    // A missing or malformed center is the caller's mistake (400), not a
    // refusal (403); `{}` and `[]` likewise.
    for (body, field) in [
        (serde_json::json!({}), "center_id"),
        (serde_json::json!({"center_id": "C01;--"}), "center_id"),
        (serde_json::json!([]), "center_id"),
    ] {
        let r = staff.post(&url).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["error"]["violations"][0]["field"], field, "{answer}");
    }
    // A body must say it is JSON, on every route that takes one.
    let admin = cluster.client_as("admin").await;
    let r = admin
        .post(format!(
            "{}/api/v1/catalog/services/elderly-care-subsidy/retire",
            cluster.gateway
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"reason":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["violations"][0]["rule"], "content_type");
    cluster.stop().await;
}

#[tokio::test]
async fn a_partner_over_rest_sees_what_the_partner_api_shows() {
    let cluster = Cluster::start_only(&["intake"], Options { otlp: false })
        .await
        .unwrap();
    let staff = cluster.client_as("c01-specialist").await;
    let created: Value = staff
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .json(&application("独居老人，子女在外地"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["received_by"], "c01-specialist", "staff see it");
    let partner = cluster.client_as("partner").await;
    let seen: Value = partner
        .get(format!("{}/api/v1/applications/{id}", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["application_no"], created["application_no"]);
    assert_eq!(seen["reason"], "", "{seen}");
    assert!(seen.get("received_by").is_none(), "{seen}");
    assert_eq!(seen["applicant"]["id_number"], "");
    assert_ne!(seen["applicant"]["name"], "张秀兰");
    assert!(seen["timeline"][0]["detail"].as_str().unwrap().is_empty());
    cluster.stop().await;
}
