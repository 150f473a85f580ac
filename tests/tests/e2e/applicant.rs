//! The applicant's side on the real stack, through the gateway: an urgent
//! application, the supplement round (补正) answered by the resident and
//! resumed by review on the extended limit, withdrawal, the public progress
//! page, full views of personal data with their access log, the look-up by
//! ID number, and no plaintext ID or phone number anywhere in intake's
//! database.

use bianmin_e2e::{Cluster, Options, id_number};
use chrono::NaiveDate;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::Row;
use std::time::{Duration, Instant};

const PHONE: &str = "13912348765";

fn id_of(seq: u32) -> String {
    id_number("110105", NaiveDate::from_ymd_opt(1948, 6, 1).unwrap(), seq)
}

fn application(center: &str, id_number: &str, urgent: bool) -> Value {
    json!({
        "center_id": center, "service_type": "elderly-care-subsidy", "channel": "web",
        "applicant": {"name": "赵秀英", "id_number": id_number, "phone": PHONE},
        "reason": "独居老人，申请居家养老服务补贴",
        "urgent": urgent,
        "urgent_reason": if urgent { "照料人突发疾病住院" } else { "" },
    })
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn submit(cluster: &Cluster, who: &Client, body: Value) -> Value {
    let (status, answer) = send(
        who.post(format!("{}/api/v1/applications", cluster.gateway))
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    answer
}

/// Polls the application (as `who`) until `check` holds.
async fn until(
    cluster: &Cluster,
    who: &Client,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/api/v1/applications/{id}");
    cluster.poll(who, &path, what, check).await
}

/// Polls the review case (as a C01 supervisor) until `check` holds.
async fn case_until(
    cluster: &Cluster,
    case: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let http = cluster.client_as("c01-supervisor").await;
    let path = format!("/api/v1/reviews/{case}");
    cluster.poll(&http, &path, what, check).await
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn rule_of(body: &Value, field: &str) -> String {
    body["error"]["violations"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["field"] == field))
        .and_then(|v| v["rule"].as_str())
        .unwrap_or("")
        .to_string()
}

async fn post(cluster: &Cluster, who: &Client, path: &str, body: Value) -> (StatusCode, Value) {
    send(who.post(format!("{}{path}", cluster.gateway)).json(&body)).await
}

async fn public(cluster: &Cluster, number: &str, last4: &str) -> (StatusCode, String) {
    let response = bianmin_common::http_client::client()
        .get(format!(
            "{}/api/v1/public/applications/{number}?phone_last4={last4}",
            cluster.gateway
        ))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supplement_round_from_the_residents_side_withdrawal_and_the_public_page() {
    let cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    let resident = cluster.client_as("resident-1").await;
    let specialist = cluster.client_as("c01-specialist").await;
    let supervisor = cluster.client_as("c01-supervisor").await;
    let other_center = cluster.client_as("c02-specialist").await;

    // ---- Urgent needs a reason; urgent cases come first in the queue.
    let mut no_reason = application("C01", &id_of(1), true);
    no_reason["urgent_reason"] = json!("");
    let (status, body) = post(&cluster, &resident, "/api/v1/applications", no_reason).await;
    assert_eq!(
        (status.as_u16(), rule_of(&body, "urgent_reason").as_str()),
        (400, "required"),
        "{body}"
    );
    let plain = submit(&cluster, &resident, application("C01", &id_of(2), false)).await;
    let urgent = submit(&cluster, &resident, application("C01", &id_of(1), true)).await;
    assert_eq!(urgent["urgent"], true);
    assert_eq!(urgent["urgent_reason"], "照料人突发疾病住院");
    let id = urgent["id"].as_str().unwrap().to_string();
    let number = urgent["application_no"].as_str().unwrap().to_string();
    let app = until(&cluster, &resident, &id, "the review case", |a| {
        !a["review"].is_null()
    })
    .await;
    let case = app["review"]["case_id"].as_str().unwrap().to_string();
    until(
        &cluster,
        &resident,
        plain["id"].as_str().unwrap(),
        "the other case",
        |a| !a["review"].is_null(),
    )
    .await;
    let (_, queue) = send(supervisor.get(format!("{}/api/v1/reviews", cluster.gateway))).await;
    assert_eq!(
        queue["cases"][0]["application_id"],
        id.as_str(),
        "urgent first: {queue}"
    );
    assert_eq!(queue["cases"][0]["urgent"], true);

    // ---- Nothing to supplement yet.
    let answer = json!({"supplied_items": ["户口簿复印件", "收入证明"], "note": "已补齐"});
    let supplement_path = format!("/api/v1/applications/{id}/supplement");
    let (status, body) = post(&cluster, &resident, &supplement_path, answer.clone()).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (409, "failed_precondition"),
        "{body}"
    );

    // ---- Review asks for supplements; the resident sees what and why.
    let (status, body) = post(
        &cluster,
        &specialist,
        &format!("/api/v1/reviews/{case}/request_supplement"),
        json!({"missing_items": ["户口簿复印件", "收入证明"], "reason": "材料不全"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let waiting = until(&cluster, &resident, &id, "awaiting_supplement", |a| {
        a["status"] == "awaiting_supplement"
    })
    .await;
    assert_eq!(
        waiting["missing_items"],
        json!(["户口簿复印件", "收入证明"])
    );
    assert_eq!(waiting["supplement_reason"], "材料不全");

    // The public page shows the suspension and its reason, masked.
    let (status, text) = public(&cluster, &number, &PHONE[7..]).await;
    assert_eq!(status, 200, "{text}");
    let page: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page["status"], "awaiting_supplement");
    assert_eq!(page["suspended"], true);
    assert_eq!(page["suspension_reason"], "材料不全");
    assert_eq!(page["applicant_name"], "赵*英");
    assert_eq!(page["expected_date"], "");
    assert!(page["working_days_left"].as_u64().is_some(), "{page}");
    assert!(!text.contains(PHONE) && !text.contains(&id_of(1)), "{text}");

    // ---- Bad answers: incomplete, not requested, empty; another center.
    let (status, body) = post(
        &cluster,
        &resident,
        &supplement_path,
        json!({"supplied_items": ["户口簿复印件"]}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), rule_of(&body, "supplied_items").as_str()),
        (400, "supplement_incomplete"),
        "{body}"
    );
    assert!(
        body["error"]["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("收入证明")
    );
    let (status, body) = post(
        &cluster,
        &resident,
        &supplement_path,
        json!({"supplied_items": ["户口簿复印件", "收入证明", "照片"]}),
    )
    .await;
    assert_eq!(
        (
            status.as_u16(),
            rule_of(&body, "supplied_items[2]").as_str()
        ),
        (400, "not_requested"),
        "{body}"
    );
    let (status, body) = post(
        &cluster,
        &resident,
        &supplement_path,
        json!({"supplied_items": []}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), rule_of(&body, "supplied_items").as_str()),
        (400, "required"),
        "{body}"
    );
    let (status, _) = post(&cluster, &other_center, &supplement_path, answer.clone()).await;
    assert_eq!(status, 404);
    let (status, _) = post(
        &cluster,
        &resident,
        "/api/v1/applications/not-a-uuid/supplement",
        answer.clone(),
    )
    .await;
    assert_eq!(status, 400);

    // ---- The resident answers; a retry of the same answer is harmless.
    let (status, body) = post(&cluster, &resident, &supplement_path, answer.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "supplement_received");
    let (status, _) = post(&cluster, &resident, &supplement_path, answer.clone()).await;
    assert_eq!(status, 200);

    // Review resumed the case as staff `resume` does, on the extended limit.
    let resumed = case_until(&cluster, &case, "the case resumed", |c| {
        c["stage"] == "preliminary_review"
    })
    .await;
    assert_eq!(resumed["clock"]["suspended"], false);
    assert_eq!(resumed["clock"]["limit_working_days"], 10, "{resumed}");
    let last = resumed["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["action"].as_str(), last["actor"].as_str()),
        (Some("resume"), Some("intake:resident-1")),
        "{last}"
    );
    assert_eq!(
        resumed["supplements"][0]["received_items"],
        json!(["户口簿复印件", "收入证明"])
    );
    let back = until(&cluster, &resident, &id, "in_review again", |a| {
        a["status"] == "in_review"
    })
    .await;
    assert_eq!(back["missing_items"], json!([]));
    let kinds: Vec<&str> = back["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    let at = |k: &str| {
        kinds
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("{k} not in {kinds:?}"))
    };
    assert!(
        at("supplement_requested") < at("supplement_submitted")
            && at("supplement_submitted") < at("resumed")
    );
    assert_eq!(back["review"]["due_date"], resumed["due_date"]);

    // Answered already: nothing is awaited any more.
    let (status, body) = post(
        &cluster,
        &resident,
        &supplement_path,
        json!({"supplied_items": ["收入证明"]}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (409, "failed_precondition"),
        "{body}"
    );

    // ---- The public page: expected date and working days left; a wrong
    // number and a wrong phone answer alike; malformed input is 400.
    let (status, text) = public(&cluster, &number, &PHONE[7..]).await;
    assert_eq!(status, 200);
    let page: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page["expected_date"], resumed["due_date"]);
    assert_eq!(page["suspended"], false);
    assert!(page["working_days_left"].as_u64().unwrap() >= 1, "{page}");
    assert!(page["timeline"].as_array().unwrap().len() >= 4);
    let (wrong_phone, body_phone) = public(&cluster, &number, "0000").await;
    let (wrong_number, body_number) = public(&cluster, "C01-20000101-999999", &PHONE[7..]).await;
    assert_eq!((wrong_phone.as_u16(), wrong_number.as_u16()), (404, 404));
    assert_eq!(
        body_phone, body_number,
        "the two failures must not be told apart"
    );
    let (status, text) = public(&cluster, &number, "87a5").await;
    assert_eq!(status, 400, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rule_of(&body, "phone_last4"), "phone_last4_format");
    let (status, _) = public(&cluster, &number, "876").await;
    assert_eq!(status, 400);

    // ---- Withdrawal: staff must give a reason; the resident withdraws;
    // twice is refused; review ends the case and drops it from the queue.
    let withdraw_path = format!("/api/v1/applications/{id}/withdraw");
    let (status, body) = post(&cluster, &specialist, &withdraw_path, json!({})).await;
    assert_eq!(
        (status.as_u16(), rule_of(&body, "reason").as_str()),
        (400, "required"),
        "{body}"
    );
    let (status, body) = post(
        &cluster,
        &resident,
        &withdraw_path,
        json!({"reason": "已获得其他渠道救助"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "withdrawn");
    let (status, body) = post(&cluster, &resident, &withdraw_path, json!({})).await;
    assert_eq!(
        (status.as_u16(), code(&body)),
        (409, "failed_precondition"),
        "{body}"
    );
    let ended = case_until(&cluster, &case, "the case withdrawn", |c| {
        c["stage"] == "withdrawn"
    })
    .await;
    assert!(
        ended["due_date"].as_str().unwrap_or("").is_empty(),
        "{ended}"
    );
    let (_, queue) = send(supervisor.get(format!("{}/api/v1/reviews", cluster.gateway))).await;
    assert!(
        queue["cases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != case.as_str()),
        "{queue}"
    );
    let gone = until(&cluster, &resident, &id, "the review stage", |a| {
        a["review"]["stage"] == "withdrawn"
    })
    .await;
    assert_eq!(gone["status"], "withdrawn");
    assert!(
        gone["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "withdrawn")
    );

    // ---- Notifications: one per change the resident should know about,
    // sent through the configured sender (the log by default), addressed
    // to the masked phone.
    let intake = sqlx::PgPool::connect(&cluster.database_url("intake"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let sent = loop {
        let rows = sqlx::query(
            "SELECT template, recipient, channel, params::text AS params, sent_at IS NOT NULL AS sent
             FROM notifications WHERE dedupe_key LIKE $1 ORDER BY id",
        )
        .bind(format!("application:{id}:%"))
        .fetch_all(&intake)
        .await
        .unwrap();
        let all_sent = rows.iter().all(|r| r.get::<bool, _>("sent"));
        if rows.len() >= 4 && all_sent {
            break rows;
        }
        assert!(Instant::now() < deadline, "notifications: {}", rows.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let templates: Vec<String> = sent.iter().map(|r| r.get("template")).collect();
    assert_eq!(
        templates,
        [
            "application_submitted",
            "application_accepted",
            "supplement_requested",
            "application_withdrawn"
        ],
        "exactly one each, in order"
    );
    for r in &sent {
        assert_eq!(r.get::<String, _>("recipient"), "139****8765");
        assert_eq!(r.get::<String, _>("channel"), "sms");
    }
    assert!(
        sent[2]
            .get::<String, _>("params")
            .contains("户口簿复印件、收入证明")
    );

    // Staff withdraw for the applicant with a reason; a case of another
    // center is not theirs.
    let plain_id = plain["id"].as_str().unwrap();
    let (status, _) = post(
        &cluster,
        &other_center,
        &format!("/api/v1/applications/{plain_id}/withdraw"),
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = post(
        &cluster,
        &specialist,
        &format!("/api/v1/applications/{plain_id}/withdraw"),
        json!({"reason": "申请人来电撤回"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Withdrawn at once, before review has opened the case: it stays
    // withdrawn, and review ends the case as soon as it has one.
    let hasty = submit(&cluster, &resident, application("C01", &id_of(3), false)).await;
    let hasty_id = hasty["id"].as_str().unwrap();
    let (status, body) = post(
        &cluster,
        &resident,
        &format!("/api/v1/applications/{hasty_id}/withdraw"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ended = until(&cluster, &resident, hasty_id, "the case withdrawn", |a| {
        a["review"]["stage"] == "withdrawn"
    })
    .await;
    assert_eq!(ended["status"], "withdrawn", "{ended}");

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_views_are_logged_lookups_are_scoped_and_no_plaintext_is_stored() {
    let cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    let admin = cluster.client_as("admin").await;
    let supervisor = cluster.client_as("c01-supervisor").await;
    let specialist = cluster.client_as("c01-specialist").await;
    let other_supervisor = cluster.client_as("c02-supervisor").await;
    let resident = cluster.client_as("resident-1").await;
    let number = id_of(7);
    let here = submit(&cluster, &admin, application("C01", &number, false)).await;
    let there = submit(&cluster, &admin, application("C02", &number, false)).await;
    submit(&cluster, &admin, application("C01", &id_of(8), false)).await;
    let id = here["id"].as_str().unwrap();
    assert_eq!(
        here["applicant"]["id_number"],
        format!("110105********{}", &number[14..])
    );

    // The new endpoints are in the API document.
    let (_, doc) = send(
        bianmin_common::http_client::client()
            .get(format!("{}/api/v1/openapi.json", cluster.gateway)),
    )
    .await;
    for path in [
        "/api/v1/applications/{id}/applicant",
        "/api/v1/applications/by-id-number",
        "/api/v1/applications/{id}/supplement",
        "/api/v1/applications/{id}/withdraw",
        "/api/v1/public/applications/{application_no}",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the API document"
        );
    }

    // ---- Full view: purpose required; supervisors of the center and admins.
    let full = |who: &Client, purpose: &str| {
        who.get(format!(
            "{}/api/v1/applications/{id}/applicant?purpose={}",
            cluster.gateway,
            encode(purpose)
        ))
    };
    let (status, body) = send(supervisor.get(format!(
        "{}/api/v1/applications/{id}/applicant",
        cluster.gateway
    )))
    .await;
    assert_eq!(
        (status.as_u16(), rule_of(&body, "purpose").as_str()),
        (400, "required"),
        "{body}"
    );
    let (status, body) = send(full(&supervisor, "核对身份证件原件")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["applicant"]["id_number"], number.as_str());
    assert_eq!(body["applicant"]["phone"], PHONE);
    assert_eq!(send(full(&specialist, "核对")).await.0, 403);
    assert_eq!(send(full(&resident, "核对")).await.0, 403);
    assert_eq!(send(full(&other_supervisor, "核对")).await.0, 404);
    assert_eq!(send(full(&admin, "抽查")).await.0, 200);

    // The access log: who, which record, why; masked reads leave no row.
    let intake = sqlx::PgPool::connect(&cluster.database_url("intake"))
        .await
        .unwrap();
    let rows =
        sqlx::query("SELECT actor, action, record, outcome, detail FROM audit_log ORDER BY seq")
            .fetch_all(&intake)
            .await
            .unwrap();
    let log: Vec<(String, String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get("actor"),
                r.get("action"),
                r.get("record"),
                r.get("outcome"),
                r.get("detail"),
            )
        })
        .collect();
    let record = format!("application:{id}");
    assert!(
        log.contains(&(
            "c01-supervisor".into(),
            "view_applicant_in_full".into(),
            record.clone(),
            "allowed".into(),
            "核对身份证件原件".into()
        )),
        "{log:?}"
    );
    assert!(log.iter().any(|(a, act, r, o, _)| a == "c01-specialist"
        && act == "view_applicant_in_full"
        && *r == record
        && o == "denied"));
    assert!(
        !log.iter()
            .any(|(_, act, _, o, _)| act == "read_application" && o == "allowed"),
        "{log:?}"
    );
    // A refused request for want of a purpose shows nothing and logs no view.
    assert_eq!(
        log.iter()
            .filter(|(a, act, _, o, _)| a == "c01-supervisor"
                && act == "view_applicant_in_full"
                && o == "allowed")
            .count(),
        1
    );

    // ---- A resident's history by ID number, in the body, within the
    // caller's centers.
    let lookup = |who: &Client, number: &str| {
        who.post(format!(
            "{}/api/v1/applications/by-id-number",
            cluster.gateway
        ))
        .json(&json!({"id_number": number}))
    };
    let (status, body) = send(lookup(&specialist, &number)).await;
    assert_eq!(status, 200, "{body}");
    let found = body["applications"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{body}");
    assert_eq!(found[0]["id"], id);
    assert_eq!(found[0]["applicant"]["phone"], "139****8765");
    let (_, body) = send(lookup(&admin, &number.to_lowercase())).await;
    let ids: Vec<&str> = body["applications"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{body}");
    assert!(ids.contains(&there["id"].as_str().unwrap()));
    let (status, body) = send(lookup(&specialist, "11010519480601001")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["violations"][0]["field"], "id_number");
    assert_eq!(send(lookup(&resident, &number)).await.0, 403);

    // ---- No plaintext ID or phone number in any table of intake.
    let columns = sqlx::query(
        "SELECT table_name, column_name, data_type FROM information_schema.columns
         WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&intake)
    .await
    .unwrap();
    assert!(columns.len() > 20);
    let mut tables = std::collections::BTreeSet::new();
    for c in &columns {
        let (table, column, kind): (String, String, String) = (c.get(0), c.get(1), c.get(2));
        tables.insert(table.clone());
        for secret in [number.as_str(), PHONE, &id_of(8)] {
            let sql = if kind == "bytea" {
                format!(
                    "SELECT count(*) FROM \"{table}\" WHERE position(convert_to($1, 'UTF8') IN \"{column}\") > 0"
                )
            } else {
                format!(
                    "SELECT count(*) FROM \"{table}\" WHERE \"{column}\"::text LIKE '%' || $1 || '%'"
                )
            };
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(secret)
                .fetch_one(&intake)
                .await
                .unwrap();
            assert_eq!(
                n, 0,
                "{table}.{column} holds a plaintext ID or phone number"
            );
        }
    }
    for table in [
        "applications",
        "timeline_entries",
        "outbox",
        "audit_log",
        "notifications",
    ] {
        assert!(
            tables.contains(table),
            "{table} was not searched: {tables:?}"
        );
    }
    cluster.stop().await;
}

/// A webhook receiver: answers the first call 503 (so the sender must
/// retry), then 200, keeping every body it got.
async fn webhook() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let bodies = got.clone();
    tokio::spawn(async move {
        let mut calls = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then as many bytes as content-length says.
            let body = loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break Some(buf[end + 4..end + 4 + length].to_vec());
                    }
                }
            };
            calls += 1;
            let status = if calls == 1 {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            if calls > 1
                && let Some(body) = body
            {
                bodies
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            }
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_page_is_rate_limited_per_address_and_notifications_reach_a_webhook() {
    let mut cluster = Cluster::start_with(
        Options { otlp: false },
        &[("RATE_LIMIT_PUBLIC_PER_MINUTE", "3")],
    )
    .await
    .expect("cluster starts");
    // Notifications through a webhook: configuration only.
    let (url, got) = webhook().await;
    cluster.terminate("intake").await;
    cluster.set_env("intake", "NOTIFY_SENDER", "webhook");
    cluster.set_env("intake", "NOTIFY_WEBHOOK_URL", &url);
    cluster.restart("intake").unwrap();
    cluster.wait_ready(Duration::from_secs(30)).await.unwrap();
    let admin = cluster.client_as("admin").await;
    let app = submit(&cluster, &admin, application("C01", &id_of(9), false)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        let found = got
            .lock()
            .unwrap()
            .iter()
            .find(|b| b["template"] == "application_submitted")
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no webhook call\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(delivered["channel"], "sms");
    assert_eq!(delivered["recipient"], "139****8765");
    assert_eq!(delivered["address"], PHONE, "the provider gets the number");
    assert_eq!(delivered["params"]["application_no"], app["application_no"]);
    let intake = sqlx::PgPool::connect(&cluster.database_url("intake"))
        .await
        .unwrap();
    let (attempts, sent): (i32, bool) = sqlx::query_as(
        "SELECT attempts, sent_at IS NOT NULL FROM notifications WHERE template = 'application_submitted' AND params->>'application_no' = $1",
    )
    .bind(app["application_no"].as_str().unwrap())
    .fetch_one(&intake)
    .await
    .unwrap();
    assert!(
        sent && attempts >= 2,
        "the refused first call is retried: {attempts}"
    );
    // The same fact twice is one notification.
    let again = bianmin_common::notify::Notification {
        recipient: bianmin_common::notify::Recipient::Named("supervisor@C01".into()),
        channel: bianmin_common::notify::Channel::Sms,
        template: "application_submitted".into(),
        params: Default::default(),
        dedupe_key: format!(
            "application:{}:application_submitted:once",
            app["id"].as_str().unwrap()
        ),
    };
    let mut tx = intake.begin().await.unwrap();
    assert!(
        !bianmin_common::notify::record(&mut tx, &again)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    let number = app["application_no"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(public(&cluster, number, &PHONE[7..]).await.0, 200);
    }
    let response = bianmin_common::http_client::client()
        .get(format!(
            "{}/api/v1/public/applications/{number}?phone_last4=8765",
            cluster.gateway
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    // Other routes keep their own, wider bucket.
    let (status, _) = send(admin.get(format!(
        "{}/api/v1/applications/{}",
        cluster.gateway,
        app["id"].as_str().unwrap()
    )))
    .await;
    assert_eq!(status, 200);
    cluster.stop().await;
}
