//! The case lifecycle on the real stack, driven through the gateway: from
//! submission to closure with a supplement round and a joint review; wrong
//! roles and illegal transitions refused; durable timers that fire exactly
//! once across a restart and with two review replicas.

use bianmin_e2e::{Cluster, Options, id_number};
use chrono::NaiveDate;
use prost::Message as _;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;
use std::time::{Duration, Instant};

/// Forty days ahead: every preliminary deadline of a case opened today has
/// passed (the review clock's offset, for tests only).
const FORTY_DAYS: &str = "3456000";

async fn submit(cluster: &Cluster, seq: u32) -> String {
    let id = id_number("110105", NaiveDate::from_ymd_opt(1950, 1, 1).unwrap(), seq);
    let body = json!({
        "center_id": "C01", "service_type": "elderly-care-subsidy", "channel": "window",
        "applicant": {"name": "王建国", "id_number": id, "phone": "13912345678"},
        "reason": "申请居家养老服务补贴"
    });
    let response = cluster
        .client_as("c01-specialist")
        .await
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Polls the application (as a C01 supervisor) until `check` holds.
async fn application_until(
    cluster: &Cluster,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let http = cluster.client_as("c01-supervisor").await;
    let path = format!("/api/v1/applications/{id}");
    cluster.poll(&http, &path, what, check).await
}

async fn case_of(cluster: &Cluster, application_id: &str) -> String {
    let http = cluster.client_as("c01-supervisor").await;
    cluster.case_of(&http, application_id).await
}

/// POSTs an action; returns status and body.
async fn act(
    cluster: &Cluster,
    who: &Client,
    case: &str,
    action: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = who
        .post(format!(
            "{}/api/v1/reviews/{case}/{action}",
            cluster.gateway
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn ok(cluster: &Cluster, who: &Client, case: &str, action: &str, body: Value) -> Value {
    let (status, answer) = act(cluster, who, case, action, body).await;
    assert_eq!(status, 200, "{action}: {answer}");
    answer
}

async fn refused(
    cluster: &Cluster,
    who: &Client,
    case: &str,
    action: &str,
    body: Value,
    status: u16,
    code: &str,
) {
    let (got, answer) = act(cluster, who, case, action, body).await;
    assert_eq!(
        (got.as_u16(), answer["error"]["code"].as_str().unwrap_or("")),
        (status, code),
        "{action}: {answer}"
    );
    assert!(!answer["error"]["message"].as_str().unwrap_or("").is_empty());
}

async fn review_db(cluster: &Cluster) -> sqlx::PgPool {
    sqlx::PgPool::connect(&cluster.database_url("review"))
        .await
        .unwrap()
}

/// Events of one type in review's outbox, for one case.
async fn outbox_count(db: &sqlx::PgPool, event_type: &str, case_id: &str) -> usize {
    let rows = sqlx::query("SELECT payload FROM outbox WHERE event_type = $1")
        .bind(event_type)
        .fetch_all(db)
        .await
        .unwrap();
    rows.iter()
        .filter(|r| {
            let payload: Vec<u8> = r.get("payload");
            // Every review event after the opening starts with the same header.
            bianmin_proto::events::v1::DeadlineBreached::decode(payload.as_slice())
                .is_ok_and(|e| e.case_ref.is_some_and(|c| c.case_id == case_id))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_goes_from_submission_to_closure_with_a_supplement_round_and_a_joint_review() {
    let cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    let specialist = cluster.client_as("c01-specialist").await;
    let supervisor = cluster.client_as("c01-supervisor").await;
    let other_center = cluster.client_as("c02-supervisor").await;
    let admin = cluster.client_as("admin").await;
    let app = submit(&cluster, 11).await;
    let case = case_of(&cluster, &app).await;
    let url = format!("{}/api/v1/reviews/{case}", cluster.gateway);

    // Another center does not see the case at all; no caller is 401.
    assert_eq!(other_center.get(&url).send().await.unwrap().status(), 404);
    refused(
        &cluster,
        &other_center,
        &case,
        "accept",
        json!({}),
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        bianmin_common::http_client::client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // 补正: every missing item at once; the clock is suspended.
    let missing = json!({"missing_items": ["户口簿复印件", "收入证明"], "reason": "材料不全"});
    let suspended = ok(
        &cluster,
        &specialist,
        &case,
        "request_supplement",
        missing.clone(),
    )
    .await;
    assert_eq!(suspended["stage"], "supplement_requested");
    assert_eq!(suspended["clock"]["suspended"], true);
    refused(
        &cluster,
        &specialist,
        &case,
        "request_supplement",
        missing,
        409,
        "failed_precondition",
    )
    .await;
    let shown = application_until(&cluster, &app, "awaiting_supplement", |a| {
        a["status"] == "awaiting_supplement"
    })
    .await;
    let entry = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "supplement_requested")
        .cloned()
        .unwrap();
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .contains("户口簿复印件、收入证明"),
        "{entry}"
    );
    assert!(entry["title"].as_str().unwrap().contains("暂停"), "{entry}");

    // Resuming needs every item; then items already supplied are not asked again.
    refused(
        &cluster,
        &specialist,
        &case,
        "resume",
        json!({"received_items": ["收入证明"]}),
        400,
        "invalid_argument",
    )
    .await;
    let resumed = ok(
        &cluster,
        &specialist,
        &case,
        "resume",
        json!({"received_items": ["户口簿复印件", "收入证明"], "reason": "已补齐"}),
    )
    .await;
    assert_eq!(resumed["stage"], "preliminary_review");
    assert_eq!(resumed["clock"]["suspended"], false);
    let (status, again) = act(
        &cluster,
        &specialist,
        &case,
        "request_supplement",
        json!({"missing_items": ["收入证明"], "reason": "再要"}),
    )
    .await;
    assert_eq!(status, 400, "{again}");
    assert_eq!(again["error"]["violations"][0]["rule"], "already_present");

    ok(
        &cluster,
        &specialist,
        &case,
        "accept",
        json!({"reason": "材料齐全"}),
    )
    .await;

    // Joint review: a specialist may not start it nor approve; all must sign.
    let departments = json!({"departments": ["民政", "卫健"], "reason": "涉及医疗护理"});
    refused(
        &cluster,
        &specialist,
        &case,
        "start_joint_review",
        departments.clone(),
        403,
        "permission_denied",
    )
    .await;
    refused(
        &cluster,
        &admin,
        &case,
        "start_joint_review",
        departments.clone(),
        403,
        "permission_denied",
    )
    .await;
    ok(
        &cluster,
        &supervisor,
        &case,
        "start_joint_review",
        departments,
    )
    .await;
    refused(
        &cluster,
        &specialist,
        &case,
        "decide",
        json!({"outcome": "approved"}),
        403,
        "permission_denied",
    )
    .await;
    ok(
        &cluster,
        &specialist,
        &case,
        "sign_off",
        json!({"department": "民政", "approve": true}),
    )
    .await;
    refused(
        &cluster,
        &supervisor,
        &case,
        "decide",
        json!({"outcome": "approved"}),
        409,
        "failed_precondition",
    )
    .await;
    ok(
        &cluster,
        &specialist,
        &case,
        "sign_off",
        json!({"department": "卫健", "approve": true}),
    )
    .await;

    // The decision, retried with the same key, acts once.
    let decide = || {
        supervisor
            .post(format!("{url}/decide"))
            .header("Idempotency-Key", "decide-1")
            .json(&json!({"outcome": "approved"}))
    };
    let first = decide().send().await.unwrap();
    assert_eq!(first.status(), 200);
    let retry = decide().send().await.unwrap();
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let decided: Value = retry.json().await.unwrap();
    assert_eq!(decided["decision"]["outcome"], "approved");
    assert_eq!(decided["decision"]["on_time"], true);

    // Plan, execution into the ledger, acceptance check, closure.
    refused(
        &cluster,
        &specialist,
        &case,
        "plan",
        json!({}),
        403,
        "permission_denied",
    )
    .await;
    let (status, bad) = act(
        &cluster,
        &supervisor,
        &case,
        "plan",
        json!({"content": "上门助浴", "schedule": "每周二", "tasks": []}),
    )
    .await;
    assert_eq!(
        (
            status.as_u16(),
            bad["error"]["violations"][0]["field"].as_str()
        ),
        (400, Some("plan.tasks")),
        "{bad}"
    );
    let plan = json!({
        "content": "居家养老上门服务", "schedule": "每周二、四上午", "staff": ["c01-specialist"], "resources": ["护理包"],
        "tasks": [{"title": "上门评估", "assignee": "c01-specialist"}, {"title": "助浴服务", "assignee": "c01-specialist"}]
    });
    let planned = ok(&cluster, &supervisor, &case, "plan", plan).await;
    assert_eq!(planned["stage"], "execution");
    refused(
        &cluster,
        &supervisor,
        &case,
        "close",
        json!({"results": "x"}),
        409,
        "failed_precondition",
    )
    .await;
    for task in ["T1", "T2"] {
        ok(&cluster, &specialist, &case, "complete_task", json!({
            "task_id": task, "content": "按计划完成", "minutes_spent": 90, "result": "完成", "resident_feedback": "满意"
        })).await;
    }
    refused(
        &cluster,
        &specialist,
        &case,
        "check_acceptance",
        json!({"passed": true}),
        403,
        "permission_denied",
    )
    .await;
    ok(
        &cluster,
        &supervisor,
        &case,
        "check_acceptance",
        json!({"passed": true, "notes": "验收合格"}),
    )
    .await;
    refused(
        &cluster,
        &specialist,
        &case,
        "close",
        json!({"results": "x"}),
        403,
        "permission_denied",
    )
    .await;
    let closed = ok(
        &cluster,
        &supervisor,
        &case,
        "close",
        json!({
            "results": "服务目标达成", "problems": "补正耗时", "improvements": "首次告知更清楚"
        }),
    )
    .await;
    assert_eq!(closed["stage"], "closed");
    assert_eq!(closed["ledger"].as_array().unwrap().len(), 2);
    let actions: Vec<&str> = closed["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "open",
            "request_supplement",
            "resume",
            "accept",
            "start_joint_review",
            "sign_off",
            "sign_off",
            "decide",
            "plan",
            "complete_task",
            "complete_task",
            "check_acceptance",
            "close",
        ]
    );
    assert!(
        closed["history"][1]["actor"] == "c01-specialist"
            && closed["history"][1]["actor_role"] == "specialist"
    );
    let deadlines: Vec<(&str, &str)> = closed["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["clock"].as_str().unwrap(), d["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        deadlines,
        [
            ("preliminary", "met"),
            ("decision", "met"),
            ("feedback", "met"),
            ("feedback", "met")
        ],
        "{closed}"
    );

    // The resident's timeline follows every step they should see.
    let done = application_until(&cluster, &app, "closed", |a| a["status"] == "closed").await;
    let kinds: Vec<&str> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "submitted",
        "review_opened",
        "supplement_requested",
        "resumed",
        "stage_changed",
        "approved",
        "planned",
        "task_completed",
        "closed",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }

    // CaseClosed carries the whole case for the archive.
    let db = review_db(&cluster).await;
    let row = sqlx::query("SELECT payload FROM outbox WHERE event_type = 'CaseClosed'")
        .fetch_one(&db)
        .await
        .unwrap();
    let event =
        bianmin_proto::events::v1::CaseClosed::decode(row.get::<Vec<u8>, _>("payload").as_slice())
            .unwrap();
    assert_eq!(event.review_case.unwrap().history.len(), 13);

    // Queue and measures: my center only; the admin sees the district.
    let queue: Value = supervisor
        .get(format!("{}/api/v1/reviews", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        queue["cases"].as_array().unwrap().is_empty(),
        "closed cases leave the queue: {queue}"
    );
    let app2 = submit(&cluster, 12).await;
    let case2 = case_of(&cluster, &app2).await;
    let queue: Value = supervisor
        .get(format!(
            "{}/api/v1/reviews?stage=preliminary_review",
            cluster.gateway
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(queue["cases"][0]["id"], case2.as_str(), "{queue}");
    assert_eq!(queue["cases"][0]["overdue"], false);
    assert!(
        queue["counts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["stage"] == "preliminary_review" && c["count"] == 1),
        "{queue}"
    );
    ok(
        &cluster,
        &supervisor,
        &case2,
        "assign",
        json!({"assignee": "c01-specialist"}),
    )
    .await;
    refused(
        &cluster,
        &specialist,
        &case2,
        "assign",
        json!({"assignee": "c01-specialist"}),
        403,
        "permission_denied",
    )
    .await;
    let mine: Value = specialist
        .get(format!(
            "{}/api/v1/reviews?assignee=c01-specialist",
            cluster.gateway
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["cases"][0]["assignee"], "c01-specialist", "{mine}");
    let nobody: Value = specialist
        .get(format!(
            "{}/api/v1/reviews?assignee=someone-else",
            cluster.gateway
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(nobody["cases"].as_array().unwrap().is_empty(), "{nobody}");
    let theirs: Value = other_center
        .get(format!("{}/api/v1/reviews", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(theirs["cases"].as_array().unwrap().is_empty(), "{theirs}");
    let bad = supervisor
        .get(format!("{}/api/v1/reviews?stage=nonsense", cluster.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let measures: Value = admin
        .get(format!("{}/api/v1/reviews/measures", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = measures["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["center_id"] == "C01")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            row["cases"].as_u64(),
            row["decided"].as_u64(),
            row["on_time_rate"].as_f64()
        ),
        (Some(2), Some(1), Some(1.0)),
        "{measures}"
    );

    // Every action is in the OpenAPI document, each its own route.
    let doc: Value = bianmin_common::http_client::client()
        .get(format!("{}/api/v1/openapi.json", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/reviews",
        "/api/v1/reviews/{id}",
        "/api/v1/reviews/measures",
        "/api/v1/reviews/{id}/accept",
        "/api/v1/reviews/{id}/request_supplement",
        "/api/v1/reviews/{id}/resume",
        "/api/v1/reviews/{id}/extend",
        "/api/v1/reviews/{id}/start_joint_review",
        "/api/v1/reviews/{id}/sign_off",
        "/api/v1/reviews/{id}/decide",
        "/api/v1/reviews/{id}/plan",
        "/api/v1/reviews/{id}/complete_task",
        "/api/v1/reviews/{id}/record_feedback",
        "/api/v1/reviews/{id}/check_acceptance",
        "/api/v1/reviews/{id}/close",
        "/api/v1/reviews/{id}/assign",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} not documented");
    }
    cluster.stop().await;
}

/// Waits until every case has exactly one DeadlineBreached, then a while
/// longer to see that none fires twice.
async fn breached_once(cluster: &Cluster, db: &sqlx::PgPool, cases: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for case in cases {
        while outbox_count(db, "DeadlineBreached", case).await == 0 {
            assert!(
                Instant::now() < deadline,
                "no DeadlineBreached for {case}\n{}",
                cluster.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for case in cases {
        assert_eq!(
            outbox_count(db, "DeadlineBreached", case).await,
            1,
            "{case}"
        );
        assert_eq!(outbox_count(db, "DeadlineWarning", case).await, 1, "{case}");
        // Escalated: one notice to the center's supervisors, handed to the
        // sender (the log, by default).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let notices: Vec<(String, String, bool)> = sqlx::query_as(
                "SELECT recipient, channel, sent_at IS NOT NULL FROM notifications
                 WHERE template = 'deadline_breached' AND params->>'case_id' = $1",
            )
            .bind(case)
            .fetch_all(db)
            .await
            .unwrap();
            assert_eq!(notices.len(), 1, "one escalation for {case}: {notices:?}");
            assert_eq!(notices[0].0, "supervisor@C01");
            assert_eq!(notices[0].1, "console");
            if notices[0].2 {
                break;
            }
            assert!(Instant::now() < deadline, "the escalation was never sent");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_survives_a_restart_and_fires_once() {
    let mut cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    let app = submit(&cluster, 21).await;
    let case = case_of(&cluster, &app).await;
    let db = review_db(&cluster).await;
    let pending: i64 = sqlx::query("SELECT count(*) AS n FROM timers WHERE fired_at IS NULL")
        .fetch_one(&db)
        .await
        .unwrap()
        .get("n");
    assert_eq!(pending, 2, "a warning and a breach are armed");

    // A crash; the clock moves forty days on while review is down.
    cluster.kill("review").await;
    cluster.set_env("review", "REVIEW_NOW_OFFSET_SECONDS", FORTY_DAYS);
    cluster.restart("review").unwrap();
    cluster.wait_ready(Duration::from_secs(60)).await.unwrap();
    breached_once(&cluster, &db, std::slice::from_ref(&case)).await;

    // The case is overdue for staff and the resident sees it.
    let supervisor = cluster.client_as("c01-supervisor").await;
    let seen: Value = supervisor
        .get(format!("{}/api/v1/reviews/{case}", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["overdue"], true, "{seen}");
    assert!(
        seen["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["action"] == "deadline_breached"),
        "{seen}"
    );
    let queue: Value = supervisor
        .get(format!("{}/api/v1/reviews", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(queue["cases"][0]["overdue"], true, "{queue}");
    application_until(&cluster, &app, "the overdue entry", |a| {
        a["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "overdue")
    })
    .await;

    // Another restart fires nothing again.
    cluster.terminate("review").await;
    cluster.restart("review").unwrap();
    cluster.wait_ready(Duration::from_secs(60)).await.unwrap();
    breached_once(&cluster, &db, std::slice::from_ref(&case)).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_review_replicas_fire_each_deadline_once() {
    let mut cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    cluster.kill("review").await;
    cluster.set_env("review", "REVIEW_NOW_OFFSET_SECONDS", FORTY_DAYS);
    // Both replicas look for due timers every 20 ms, to make them collide.
    cluster.set_env("review", "TIMER_CHECK_INTERVAL_MS", "20");
    cluster.restart("review").unwrap();
    cluster.start_review_replica().await.unwrap();
    cluster.wait_ready(Duration::from_secs(60)).await.unwrap();

    let mut apps = Vec::new();
    for seq in 31..37 {
        apps.push(submit(&cluster, seq).await);
    }
    let mut cases = Vec::new();
    for app in &apps {
        cases.push(case_of(&cluster, app).await);
    }
    let db = review_db(&cluster).await;
    breached_once(&cluster, &db, &cases).await;
    let fired: i64 = sqlx::query("SELECT count(*) AS n FROM timers WHERE fired_at IS NOT NULL")
        .fetch_one(&db)
        .await
        .unwrap()
        .get("n");
    assert_eq!(
        fired, 12,
        "a warning and a breach per case, each fired once"
    );
    cluster.stop().await;
}
