//! One application crosses the whole cluster: submitted at the gateway,
//! stored by intake, announced over NATS, opened as a review case with its
//! working-day due date, and shown on the applicant's timeline, all in one
//! trace.

use bianmin_e2e::{Cluster, Options, id_number};
use chrono::NaiveDate;
use serde_json::{Value, json};
use sqlx::Row;
use std::time::{Duration, Instant};

fn application(id: &str, phone: &str) -> Value {
    json!({
        "center_id": "C01",
        "service_type": "elderly-care-subsidy",
        "channel": "window",
        "applicant": {"name": "张秀兰", "id_number": id, "phone": phone},
        "reason": "独居老人，申请居家养老服务补贴"
    })
}

async fn wait_for_review(http: &reqwest::Client, cluster: &Cluster, id: &str) -> Value {
    let path = format!("/api/v1/applications/{id}");
    cluster
        .poll(http, &path, "the review", |b| !b["review"].is_null())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_crosses_the_cluster_in_one_trace() {
    let cluster = Cluster::start(Options { otlp: true })
        .await
        .expect("cluster starts");
    let anonymous = bianmin_common::http_client::client();
    let http = cluster.client_as("c01-specialist").await;
    let id = id_number("110105", NaiveDate::from_ymd_opt(1949, 12, 31).unwrap(), 2);

    // The catalog a resident reads before applying: public.
    let centers: Value = anonymous
        .get(format!("{}/api/v1/centers", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        centers["centers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "C01"),
        "{centers}"
    );
    let services: Value = anonymous
        .get(format!("{}/api/v1/catalog/services", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let elderly = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "elderly-care-subsidy")
        .cloned()
        .unwrap();
    assert_eq!(elderly["preliminary_review_days"], 5);

    let response = http
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .json(&application(&id, "13812345678"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let trace_id = response.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_string();
    let created: Value = response.json().await.unwrap();
    // Review may already have answered by the time intake reads it back.
    assert!(
        created["status"] == "submitted" || created["status"] == "in_review",
        "{created}"
    );
    assert_eq!(created["timeline"][0]["kind"], "submitted");
    assert_eq!(
        created["applicant"]["id_number"],
        format!("{}********{}", &id[..6], &id[14..])
    );
    assert_eq!(created["applicant"]["phone"], "138****5678");
    let app_id = created["id"].as_str().unwrap().to_string();

    // Review opens the case; intake's timeline shows stage and due date.
    let seen = wait_for_review(&http, &cluster, &app_id).await;
    assert_eq!(seen["status"], "in_review");
    assert_eq!(seen["review"]["stage"], "preliminary_review");
    let submitted_at: chrono::DateTime<chrono::Utc> =
        seen["submitted_at"].as_str().unwrap().parse().unwrap();
    let accepted_on = submitted_at
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let calendar = bianmin_common::calendar::WorkingCalendar::load_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/calendars"),
    )
    .unwrap();
    let due = calendar
        .add_working_days(accepted_on, 5)
        .unwrap()
        .to_string();
    assert_eq!(seen["review"]["due_date"], due.as_str());
    let timeline = seen["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 2, "{seen}");
    assert_eq!(timeline[0]["kind"], "submitted");
    assert_eq!(timeline[1]["kind"], "review_opened");
    assert!(
        timeline[1]["detail"].as_str().unwrap().contains(&due),
        "{seen}"
    );
    assert!(timeline[0]["at"].as_str().unwrap() <= timeline[1]["at"].as_str().unwrap());

    // One trace holds the gateway, intake and review, across the NATS hop.
    let spans = cluster.spans.as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = spans.spans_of(&trace_id);
        let has = |service: &str, name: &str| {
            got.iter()
                .any(|s| s.service == service && s.name.contains(name))
        };
        if has("gateway", "POST /api/v1/applications")
            && has("intake", "SubmitApplication")
            && has("intake", "outbox.publish")
            && has("review", "consume")
            && has("review", "outbox.publish")
            && has("intake", "consume")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace_id} incomplete: {got:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The database holds no plaintext ID or phone number, anywhere.
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.database_url("intake"))
        .await
        .unwrap();
    let dump: String = sqlx::query("SELECT string_agg(t::text, '|') AS all FROM applications t")
        .fetch_one(&mut db)
        .await
        .unwrap()
        .get("all");
    assert!(
        !dump.contains(&id) && !dump.contains("13812345678"),
        "plaintext PII in applications"
    );
    assert!(
        !dump.contains(&hex_of(&id)) && !dump.contains(&hex_of("13812345678")),
        "PII stored unencrypted as bytes"
    );

    cluster.stop().await;
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_bad_input_calendar_and_api_document() {
    let cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    // A district administrator may submit for any center, so the unknown
    // center below reaches validation.
    let http = cluster.client_as("admin").await;
    let anonymous = bianmin_common::http_client::client();
    let url = format!("{}/api/v1/applications", cluster.gateway);
    let id = id_number("310104", NaiveDate::from_ymd_opt(1985, 6, 15).unwrap(), 7);

    // A retry with the same key and body returns the first answer.
    let first = http
        .post(&url)
        .header("Idempotency-Key", "k-1")
        .json(&application(&id, "13900001111"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = http
        .post(&url)
        .header("Idempotency-Key", "k-1")
        .json(&application(&id, "13900001111"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["application_no"], again["application_no"]);
    // The same key with another body is refused.
    let other = http
        .post(&url)
        .header("Idempotency-Key", "k-1")
        .json(&application(&id, "13900002222"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 409);

    // Concurrent retries create one application.
    let sends = (0..8).map(|_| {
        http.post(&url)
            .header("Idempotency-Key", "k-race")
            .json(&application(&id, "13900003333"))
            .send()
    });
    let answers = futures::future::join_all(sends).await;
    let mut ids = std::collections::HashSet::new();
    for a in answers {
        let a = a.unwrap();
        assert_eq!(a.status(), 201);
        ids.insert(
            a.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(ids.len(), 1, "concurrent retries created {ids:?}");

    // Bad input: 400 naming each field and rule; nothing written.
    let mut bad = application("11010519491231002Y", "12345");
    bad["channel"] = json!("fax");
    bad["center_id"] = json!("C99");
    let r = http.post(&url).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    let rules: Vec<(String, String)> = body["error"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["field"].as_str().unwrap().to_string(),
                v["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        rules.contains(&("channel".into(), "channel_unknown".into())),
        "{body}"
    );
    assert!(
        rules.contains(&("applicant.id_number".into(), "id_number_characters".into())),
        "{body}"
    );
    assert!(
        rules.contains(&("applicant.phone".into(), "phone_format".into())),
        "{body}"
    );
    let wrong_check = application(
        &format!("{}0", &id[..17]).replace(&id[..17], &id[..17]),
        "13812345678",
    );
    let wrong_check_digit = if id.ends_with('0') { "1" } else { "0" };
    let mut wrong = wrong_check.clone();
    wrong["applicant"]["id_number"] = json!(format!("{}{wrong_check_digit}", &id[..17]));
    let r: Value = http
        .post(&url)
        .json(&wrong)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["error"]["violations"][0]["rule"], "id_number_check_digit",
        "{r}"
    );
    let mut unknown_center = application(&id, "13812345678");
    unknown_center["center_id"] = json!("C99");
    let r: Value = http
        .post(&url)
        .json(&unknown_center)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["error"]["violations"][0]["rule"], "center_unknown", "{r}");
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.database_url("intake"))
        .await
        .unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM applications")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(count, 2, "only the two good applications were written");
    let r = http.get(format!("{url}/not-a-uuid")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .get(format!("{url}/{}", uuid::Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The working-day calendar across the 2026 Spring Festival.
    let cal = |from: &str, days: &str| {
        anonymous
            .get(format!(
                "{}/api/v1/calendar/add-working-days?from={from}&days={days}",
                cluster.gateway
            ))
            .send()
    };
    let r: Value = cal("2026-02-13", "5").await.unwrap().json().await.unwrap();
    assert_eq!(r["date"], "2026-02-27");
    let r: Value = cal("2026-09-30", "3").await.unwrap().json().await.unwrap();
    assert_eq!(r["date"], "2026-10-10", "the make-up Saturday counts");
    assert_eq!(cal("2026-02-30", "5").await.unwrap().status(), 400);
    assert_eq!(cal("2026-02-13", "-1").await.unwrap().status(), 400);

    // The API document lists what it serves.
    let doc: Value = anonymous
        .get(format!("{}/api/v1/openapi.json", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/applications",
        "/api/v1/applications/{id}",
        "/api/v1/calendar/add-working-days",
        "/api/v1/centers",
        "/api/v1/catalog/services",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let health = anonymous
        .get(format!("{}/healthz", cluster.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    cluster.stop().await;
}
