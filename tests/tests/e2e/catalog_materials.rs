//! The service catalog, channels and materials on the real stack: district
//! administrators create, change and retire service types (others refused);
//! an application keeps the policy and checklist it was submitted under; a
//! retired type takes no new applications; bad submissions each get their
//! own 400 and write nothing; staff channels record who received the
//! application; one application names several departments; materials are
//! stored by content type with their SHA-256, idempotently, within the size
//! limit, scoped like the application, and tick the checklist.

use bianmin_common::auth::token::Claims;
use bianmin_common::testfiles;
use bianmin_e2e::{Cluster, Options, hex_sha256, id_number};
use bianmin_proto::events::v1 as ev;
use bianmin_proto::intake::v1::{self as pb, intake_service_client::IntakeServiceClient};
use chrono::NaiveDate;
use prost::Message as _;
use reqwest::Client;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::path::Path;

const TYPE: &str = "elderly-meal-subsidy";
const MIB: usize = 1024 * 1024;

fn definition(name: &str, days: (u32, u32, u32), items: &[(&str, &str, &str)]) -> Value {
    json!({
        "code": TYPE, "name": name, "domain": "社区养老", "class": "基础",
        "preliminary_review_days": days.0, "extended_review_days": days.1, "decision_days": days.2,
        "sensitive": true,
        "materials": items.iter().map(|(code, name, group)| json!({"code": code, "name": name, "group": group, "required": true})).collect::<Vec<_>>(),
    })
}

const V1_ITEMS: &[(&str, &str, &str)] = &[
    ("id_card", "居民身份证复印件", "basic_info"),
    ("meal_form", "助餐需求登记表", "needs_form"),
    ("income_proof", "收入证明", "proof"),
];

fn application(service_type: &str, channel: &str, seq: u32) -> Value {
    json!({
        "center_id": "C01", "service_type": service_type, "channel": channel,
        "applicant": {"name": "赵淑芬", "id_number": id_number("110105", NaiveDate::from_ymd_opt(1948, 5, 6).unwrap(), seq), "phone": "13812345678"},
        "reason": "独居老人，申请助餐补贴"
    })
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

/// The (field, rule) pairs of a 400 answer.
fn rules(body: &Value) -> Vec<(String, String)> {
    body["error"]["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["field"].as_str().unwrap_or("").to_string(),
                v["rule"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Files under the materials directory.
fn stored_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                stored_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

async fn review_case(cluster: &Cluster, http: &Client, application_id: &str) -> Value {
    let case = cluster.case_of(http, application_id).await;
    let (status, case, _) =
        send(http.get(format!("{}/api/v1/reviews/{case}", cluster.gateway))).await;
    assert_eq!(status, 200, "{case}");
    case
}

/// A real one-page PDF (every upload is decoded whole).
fn pdf(text: &str) -> Vec<u8> {
    testfiles::pdf(text, 0, 1)
}

/// A real PNG of about `size` bytes (noise compresses little).
fn png(size: usize) -> Vec<u8> {
    let side = ((size / 3) as f64).sqrt().ceil().max(16.0) as u32;
    testfiles::png(side, side, size as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_channels_and_materials() {
    let cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    let gw = cluster.gateway.clone();
    let anonymous = bianmin_common::http_client::client();
    let admin = cluster.client_as("admin").await;
    let sup = cluster.client_as("c01-supervisor").await;
    let spec = cluster.client_as("c01-specialist").await;
    let c02 = cluster.client_as("c02-specialist").await;
    let partner = cluster.client_as("partner").await;
    let pool = PgPool::connect(&cluster.database_url("intake"))
        .await
        .unwrap();

    // ---- The seeded catalog, public, with checklists and departments.
    let (status, catalog, _) = send(anonymous.get(format!("{gw}/api/v1/catalog/services"))).await;
    assert_eq!(status, 200);
    let services = catalog["services"].as_array().unwrap();
    assert!(services.len() >= 12, "{catalog}");
    let mut domains: Vec<_> = services
        .iter()
        .map(|s| s["domain"].as_str().unwrap())
        .collect();
    domains.sort();
    domains.dedup();
    assert!(domains.len() >= 12, "domains: {domains:?}");
    let water = services
        .iter()
        .find(|s| s["code"] == "utility-water-connection")
        .unwrap();
    assert_eq!(
        (
            water["preliminary_review_days"].as_u64(),
            water["extended_review_days"].as_u64()
        ),
        (Some(2), Some(3))
    );
    let elderly = services
        .iter()
        .find(|s| s["code"] == "elderly-care-subsidy")
        .unwrap();
    let groups: Vec<_> = elderly["materials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["group"].as_str().unwrap())
        .collect();
    for g in ["basic_info", "needs_form", "proof"] {
        assert!(groups.contains(&g), "{elderly}");
    }
    assert!(
        catalog["departments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "civil_affairs" && d["name"] == "民政"),
        "{catalog}"
    );
    let centers: Value = anonymous
        .get(format!("{gw}/api/v1/centers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(centers["centers"].as_array().unwrap().len() >= 3);

    // ---- Administrators create; a retry is the same type; others refused.
    let v1 = definition("老年助餐补贴", (5, 10, 30), V1_ITEMS);
    let types_before = count(&pool, "service_types").await;
    let (status, body, _) = send(sup.post(format!("{gw}/api/v1/catalog/services")).json(&v1)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("permission_denied"))
    );
    let (status, _, _) = send(
        anonymous
            .post(format!("{gw}/api/v1/catalog/services"))
            .json(&v1),
    )
    .await;
    assert_eq!(status, 401);
    let mut bad = v1.clone();
    bad["domain"] = json!("天文");
    bad["class"] = json!("高级");
    bad["extended_review_days"] = json!(3);
    bad["materials"][1]["group"] = json!("misc");
    bad["materials"][2]["code"] = json!("id_card");
    let (status, body, _) = send(
        admin
            .post(format!("{gw}/api/v1/catalog/services"))
            .json(&bad),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let got = rules(&body);
    for want in [
        ("domain", "domain_unknown"),
        ("class", "class_unknown"),
        ("extended_review_days", "extended_not_below_preliminary"),
        ("materials[1].group", "group_unknown"),
        ("materials[2].code", "code_duplicate"),
    ] {
        assert!(
            got.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {got:?}"
        );
    }
    assert_eq!(count(&pool, "service_types").await, types_before);

    let (status, created, _) = send(
        admin
            .post(format!("{gw}/api/v1/catalog/services"))
            .json(&v1),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["version"].as_u64(), created["active"].as_bool()),
        (Some(1), Some(true))
    );
    let (status, again, headers) = send(
        admin
            .post(format!("{gw}/api/v1/catalog/services"))
            .json(&v1),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(headers["idempotent-replayed"], "true");
    let mut other = v1.clone();
    other["name"] = json!("另一个名称");
    let (status, body, _) = send(
        admin
            .post(format!("{gw}/api/v1/catalog/services"))
            .json(&other),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    assert_eq!(count(&pool, "service_types").await, types_before + 1);

    // ---- An application under v1 (a staff channel records the receiver).
    let (status, a, _) = send(
        spec.post(format!("{gw}/api/v1/applications"))
            .json(&application(TYPE, "window", 1)),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    let a_id = a["id"].as_str().unwrap().to_string();
    assert_eq!(a["received_by"], "c01-specialist");
    let case_a = review_case(&cluster, &sup, &a_id).await;
    assert_eq!(case_a["policy"]["preliminary_review_days"], 5);
    assert_eq!(case_a["policy"]["decision_days"], 30);

    // ---- The type changes: new applications get the new policy and
    // checklist; the earlier one keeps its own.
    let v2 = definition(
        "老年助餐补贴（调整）",
        (2, 3, 5),
        &[("id_card", "居民身份证复印件", "basic_info")],
    );
    let (status, _, _) = send(
        spec.put(format!("{gw}/api/v1/catalog/services/{TYPE}"))
            .json(&v2),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body, _) = send(
        admin
            .put(format!("{gw}/api/v1/catalog/services/no-such-type"))
            .json(&v2),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, changed, _) = send(
        admin
            .put(format!("{gw}/api/v1/catalog/services/{TYPE}"))
            .json(&v2),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["version"], 2);
    let (status, b, _) = send(
        spec.post(format!("{gw}/api/v1/applications"))
            .json(&application(TYPE, "window", 2)),
    )
    .await;
    assert_eq!(status, 201, "{b}");
    let b_id = b["id"].as_str().unwrap().to_string();
    let case_b = review_case(&cluster, &sup, &b_id).await;
    assert_eq!(case_b["policy"]["preliminary_review_days"], 2);
    assert_eq!(case_b["policy"]["extended_review_days"], 3);
    assert_eq!(b["checklist"].as_array().unwrap().len(), 1);

    // ---- Retired: no new applications; the earlier ones keep their policy.
    let (status, _, _) =
        send(spec.post(format!("{gw}/api/v1/catalog/services/{TYPE}/retire"))).await;
    assert_eq!(status, 403);
    let (status, retired, _) = send(
        admin
            .post(format!("{gw}/api/v1/catalog/services/{TYPE}/retire"))
            .json(&json!({"reason": "并入居家养老服务补贴"})),
    )
    .await;
    assert_eq!(status, 200, "{retired}");
    assert_eq!(retired["active"], false);
    assert!(retired["retired_at"].is_string());
    let (status, _, headers) =
        send(admin.post(format!("{gw}/api/v1/catalog/services/{TYPE}/retire"))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["idempotent-replayed"], "true");
    let (status, body, _) = send(
        admin
            .put(format!("{gw}/api/v1/catalog/services/{TYPE}"))
            .json(&v1),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("failed_precondition"))
    );
    let applications_before = count(&pool, "applications").await;
    let (status, body, _) = send(
        spec.post(format!("{gw}/api/v1/applications"))
            .json(&application(TYPE, "window", 3)),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        rules(&body),
        [("service_type".into(), "service_type_retired".into())]
    );
    assert_eq!(count(&pool, "applications").await, applications_before);
    let case_a = review_case(&cluster, &sup, &a_id).await;
    assert_eq!(case_a["policy"]["preliminary_review_days"], 5);
    let (_, a_now, _) = send(sup.get(format!("{gw}/api/v1/applications/{a_id}"))).await;
    let a_items: Vec<_> = a_now["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(a_items, ["id_card", "meal_form", "income_proof"]);

    // Each change recorded: who, when, what.
    let (status, _, _) =
        send(spec.get(format!("{gw}/api/v1/catalog/services/{TYPE}/history"))).await;
    assert_eq!(status, 403);
    let (status, history, _) =
        send(admin.get(format!("{gw}/api/v1/catalog/services/{TYPE}/history"))).await;
    assert_eq!(status, 200, "{history}");
    let changes: Vec<_> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["change"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
                e["service_type"]["preliminary_review_days"]
                    .as_u64()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("created".into(), "admin".into(), 5),
            ("updated".into(), "admin".into(), 2),
            ("retired".into(), "admin".into(), 2),
        ]
    );
    assert_eq!(history["entries"][2]["reason"], "并入居家养老服务补贴");

    // ---- Bad submissions: each its own 400, nothing written.
    let resident = {
        let now = jsonwebtoken::get_current_timestamp();
        let token = cluster
            .signing_key()
            .sign(&Claims {
                sub: "resident-zhao".into(),
                iss: gw.clone(),
                aud: "bianmin".into(),
                exp: now + 300,
                nbf: Some(now - 5),
                iat: Some(now),
                role: "resident".into(),
                center_id: None,
                centers: Vec::new(),
            })
            .unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        bianmin_common::http_client::builder()
            .default_headers(headers)
            .build()
            .unwrap()
    };
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = application("elderly-care-subsidy", "window", 10);
        f(&mut v);
        v
    };
    let cases: Vec<(&str, &Client, Value, &str, &str)> = vec![
        (
            "unknown type",
            &spec,
            with(&|v| v["service_type"] = json!("no-such-service")),
            "service_type",
            "service_type_unknown",
        ),
        (
            "unknown center",
            &admin,
            with(&|v| v["center_id"] = json!("C99")),
            "center_id",
            "center_unknown",
        ),
        (
            "unknown channel",
            &spec,
            with(&|v| v["channel"] = json!("fax")),
            "channel",
            "channel_unknown",
        ),
        (
            "resident at a window",
            &resident,
            with(&|_| {}),
            "channel",
            "channel_staff_only",
        ),
        (
            "partner on the phone",
            &partner,
            with(&|v| v["channel"] = json!("phone")),
            "channel",
            "channel_staff_only",
        ),
        (
            "unknown department",
            &spec,
            with(&|v| v["departments"] = json!(["civil_affairs", "space_agency"])),
            "departments[1]",
            "department_unknown",
        ),
        (
            "malformed department",
            &spec,
            with(&|v| v["departments"] = json!(["民政"])),
            "departments[0]",
            "department_format",
        ),
        (
            "no name",
            &spec,
            with(&|v| v["applicant"]["name"] = json!("")),
            "applicant.name",
            "required",
        ),
        (
            "no reason",
            &spec,
            with(&|v| v["reason"] = json!(" ")),
            "reason",
            "required",
        ),
        (
            "no service type",
            &spec,
            with(&|v| v["service_type"] = json!("")),
            "service_type",
            "required",
        ),
    ];
    for (what, who, body, field, rule) in cases {
        let (status, answer, _) =
            send(who.post(format!("{gw}/api/v1/applications")).json(&body)).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert!(
            rules(&answer).contains(&(field.into(), rule.into())),
            "{what}: want {field} {rule}, got {answer}"
        );
        let message = answer["error"]["violations"][0]["message"]
            .as_str()
            .unwrap();
        assert!(
            message.chars().next().is_some_and(|c| !c.is_ascii()),
            "{what}: Chinese first: {message}"
        );
    }
    assert_eq!(count(&pool, "applications").await, applications_before);

    // A resident on a self-service channel is fine, with no receiver.
    let (status, own, _) = send(
        resident
            .post(format!("{gw}/api/v1/applications"))
            .json(&with(&|v| v["channel"] = json!("kiosk"))),
    )
    .await;
    assert_eq!(status, 201, "{own}");
    assert!(own["received_by"].is_null(), "{own}");

    // ---- 一窗受理: one application, one number, several departments.
    let (status, joint, _) = send(
        sup.post(format!("{gw}/api/v1/applications")).json(&json!({
            "center_id": "C01", "service_type": "medical-aid", "channel": "home_visit",
            "departments": ["civil_affairs", "health", "disabled_persons", "health"],
            "applicant": {"name": "孙立", "id_number": id_number("110105", NaiveDate::from_ymd_opt(1960, 2, 2).unwrap(), 20), "phone": "13912345678"},
            "reason": "残疾人医疗救助，需民政、卫健、残联联合审核"
        })),
    )
    .await;
    assert_eq!(status, 201, "{joint}");
    assert_eq!(
        joint["departments"],
        json!(["civil_affairs", "health", "disabled_persons"])
    );
    assert_eq!(joint["received_by"], "c01-supervisor");
    let number = joint["application_no"].as_str().unwrap();
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM applications WHERE application_no = $1")
            .bind(number)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(rows, 1);
    // One timeline: one submission entry for all three departments (review
    // may already have added its own entry by the time this answer is read).
    let submitted = joint["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "submitted")
        .count();
    assert_eq!(submitted, 1, "one timeline: {joint}");
    let payload: Vec<u8> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE event_type = 'ApplicationSubmitted' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let event = ev::ApplicationSubmitted::decode(payload.as_slice()).unwrap();
    assert_eq!(event.application_no, number);
    assert_eq!(
        event.departments,
        ["civil_affairs", "health", "disabled_persons"]
    );

    // ---- Materials on application A (checklist of v1, three items).
    // Materials only: intake also keeps its start-up probe object there.
    let files = cluster.dir().join("materials").join("applications");
    let url = |item: &str| format!("{gw}/api/v1/applications/{a_id}/materials?item={item}");
    let satisfied = |app: &Value| -> Vec<(String, bool)> {
        app["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["code"].as_str().unwrap().to_string(),
                    c["satisfied"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    assert!(satisfied(&a_now).iter().all(|(_, s)| !s), "{a_now}");

    let id_card = pdf("身份证");
    let (status, m1, _) = send(spec.post(url("id_card")).body(id_card.clone())).await;
    assert_eq!(status, 201, "{m1}");
    assert_eq!(m1["sha256"], hex_sha256(&id_card));
    assert_eq!(m1["content_type"], "application/pdf");
    assert_eq!(m1["size_bytes"], id_card.len());
    assert_eq!(m1["uploaded_by"], "c01-specialist");
    let (status, again, headers) = send(spec.post(url("id_card")).body(id_card.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(again["id"], m1["id"]);
    let form = png(2048);
    let (status, m2, _) = send(
        sup.post(format!("{}&filename=..%2F登记表.png", url("meal_form")))
            .header("content-type", "application/pdf")
            .body(form.clone()),
    )
    .await;
    assert_eq!(status, 201, "{m2}");
    assert_eq!(
        m2["content_type"], "image/png",
        "judged by content, not header"
    );
    assert_eq!(m2["file_name"], "登记表.png");
    assert_eq!(m2["sha256"], hex_sha256(&form));

    let (_, a_now, _) = send(sup.get(format!("{gw}/api/v1/applications/{a_id}"))).await;
    assert_eq!(
        satisfied(&a_now),
        [
            ("id_card".into(), true),
            ("meal_form".into(), true),
            ("income_proof".into(), false)
        ]
    );
    assert_eq!(a_now["materials"].as_array().unwrap().len(), 2);

    // Refusals write nothing: no row, no file.
    let (rows_before, files_before) = (count(&pool, "materials").await, stored_files(&files));
    assert_eq!((rows_before, files_before), (2, 2));
    let (status, body, _) = send(
        spec.post(format!("{}&filename=income.pdf", url("income_proof")))
            .body("this is plain text, named .pdf"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(rules(&body), [("content".into(), "material_type".into())]);
    // A signature is not a document: a bare PNG signature, a 5-byte PDF
    // header, a JPEG cut short; nor is a picture of 4 × 4 pixels a scan.
    let jpeg = testfiles::jpeg(64, 64, 9);
    for (what, bytes, rule) in [
        (
            "bare PNG signature",
            b"\x89PNG\r\n\x1a\n".to_vec(),
            "not_decodable",
        ),
        ("bare PDF header", b"%PDF-".to_vec(), "not_decodable"),
        ("cut JPEG", jpeg[..jpeg.len() / 2].to_vec(), "not_decodable"),
        (
            "tiny PNG",
            testfiles::png(4, 4, 9),
            "implausible_dimensions",
        ),
    ] {
        let (status, body, _) = send(spec.post(url("income_proof")).body(bytes)).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(rules(&body), [("content".into(), rule.into())], "{what}");
    }
    let long_name = "a".repeat(300);
    let (status, body, _) = send(
        spec.post(format!("{}&filename={long_name}.pdf", url("income_proof")))
            .body(pdf("named at length")),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(rules(&body), [("filename".into(), "too_long".into())]);
    let (status, body, _) = send(spec.post(url("bank_statement")).body(pdf("x"))).await;
    assert_eq!(status, 400);
    assert_eq!(
        rules(&body),
        [("item".into(), "material_item_unknown".into())]
    );
    let (status, body, _) = send(spec.post(url("income_proof")).body(Vec::<u8>::new())).await;
    assert_eq!(
        (status, rules(&body)),
        (400, vec![("content".into(), "material_empty".into())])
    );
    let mut oversized = pdf("big");
    oversized.resize(10 * MIB + 1, b' ');
    let (status, body, _) = send(spec.post(url("income_proof")).body(oversized.clone())).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MATERIAL_MAX_BYTES"),
        "{body}"
    );
    // Another center's application is not there for c02; the partner did
    // not submit it.
    for who in [&c02, &partner] {
        let (status, _, _) = send(who.post(url("income_proof")).body(pdf("y"))).await;
        assert_eq!(status, 404);
    }
    assert_eq!(count(&pool, "materials").await, rows_before);
    assert_eq!(stored_files(&files), files_before);

    // The upload route alone takes bodies far beyond MAX_BODY_BYTES (256 KiB).
    let scan = testfiles::pdf_of_size("户口簿扫描件", 1, 3 * MIB);
    let (status, m3, _) = send(spec.post(url("id_card")).body(scan.clone())).await;
    assert_eq!(status, 201, "{m3}");
    assert_eq!(m3["sha256"], hex_sha256(&scan));
    let (status, _, _) = send(
        spec.post(format!("{gw}/api/v1/applications"))
            .header("content-type", "application/json")
            .body(vec![b' '; 300 * 1024]),
    )
    .await;
    assert_eq!(status, 413, "other routes keep their limit");

    // Downloading follows the application's scope.
    let download = format!(
        "{gw}/api/v1/applications/{a_id}/materials/{}",
        m1["id"].as_str().unwrap()
    );
    let response = sup.get(&download).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(response.headers()["x-content-sha256"], hex_sha256(&id_card));
    assert_eq!(response.bytes().await.unwrap().as_ref(), id_card.as_slice());
    for who in [&c02, &partner] {
        assert_eq!(who.get(&download).send().await.unwrap().status(), 404);
    }
    assert_eq!(anonymous.get(&download).send().await.unwrap().status(), 401);

    // ---- Over gRPC: a file larger than tonic's default 4 MiB message limit
    // goes through; one over MATERIAL_MAX_BYTES is refused by intake itself.
    let mut intake = IntakeServiceClient::connect(cluster.intake_grpc.clone())
        .await
        .unwrap()
        .max_encoding_message_size(12 * MIB)
        .max_decoding_message_size(12 * MIB);
    let token = cluster.token_for("c01-specialist").await.unwrap();
    let upload = |content: Vec<u8>| {
        let mut r = tonic::Request::new(pb::MaterialsUploadRequest {
            application_id: a_id.clone(),
            item_code: "income_proof".into(),
            file_name: "收入证明.png".into(),
            content: content.into(),
        });
        bianmin_common::auth::attach_bearer(&mut r, &token);
        r
    };
    let big = png(5 * MIB);
    let stored = intake
        .materials_upload(upload(big.clone()))
        .await
        .unwrap()
        .into_inner();
    let material = stored.material.unwrap();
    assert_eq!(material.sha256, hex_sha256(&big));
    assert_eq!(material.size_bytes, big.len() as u64);
    let refused = intake
        .materials_upload(upload(png(10 * MIB + 1)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        bianmin_common::error::violations(&refused)[0].rule,
        "material_too_large"
    );
    let mut download = tonic::Request::new(pb::MaterialsDownloadRequest {
        application_id: a_id.clone(),
        material_id: material.id.clone(),
    });
    bianmin_common::auth::attach_bearer(&mut download, &token);
    let got = intake
        .materials_download(download)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.content.len(), big.len());
    assert_eq!(count(&pool, "materials").await, rows_before + 2);
    let (_, a_now, _) = send(sup.get(format!("{gw}/api/v1/applications/{a_id}"))).await;
    assert!(satisfied(&a_now).iter().all(|(_, s)| *s), "{a_now}");

    pool.close().await;
    cluster.stop().await;
}
