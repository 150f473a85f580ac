//! A complaint through the gateway on the real stack: a resident's
//! complaint recorded at the window by a C01 specialist (who owns it),
//! classified, investigated by two, found, closed; the complainant's ID
//! and phone never in clear in the service's database.

use bianmin_e2e::{Cluster, Options, id_number};
use chrono::NaiveDate;
use serde_json::{Value, json};

#[tokio::test]
async fn a_complaint_recorded_at_the_window_is_investigated_by_two_and_closed() {
    let cluster = Cluster::start_only(&["complaint"], Options { otlp: false })
        .await
        .unwrap();
    let specialist = cluster.client_as("c01-specialist").await;
    let supervisor = cluster.client_as("c01-supervisor").await;
    let id_number = id_number("110105", NaiveDate::from_ymd_opt(1958, 3, 14).unwrap(), 77);
    let phone = "13987654321";
    let body = json!({
        "center_id": "C01", "channel": "window", "type": "complaint",
        "complainant": {"name": "李桂芳", "id_number": id_number, "phone": phone},
        "party": {"kind": "staff", "id": "c01-window-3"},
        "content": "三号窗口拒绝受理，未说明原因", "demand": "说明原因并受理"
    });
    let url = |path: &str| format!("{}/api/v1/complaints{path}", cluster.gateway);
    let filed = specialist
        .post(url(""))
        .header("Idempotency-Key", "e2e-complaint-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(filed.status(), 201);
    let c: Value = filed.json().await.unwrap();
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["owner"], "c01-specialist");
    assert_eq!(c["recorded_by"], "c01-specialist");
    assert_ne!(c["complainant"]["id_number"], json!(id_number));
    assert_eq!(c["complainant"]["phone"], "139****4321");
    // The retry answers the first answer.
    let retry = specialist
        .post(url(""))
        .header("Idempotency-Key", "e2e-complaint-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), c);
    // A field broken: 400 naming it.
    let bad = specialist
        .post(url(""))
        .json(&json!({"center_id": "C01", "channel": "window", "type": "rant"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let step = |who: &reqwest::Client, path: &str, body: Value| {
        let request = who.post(url(&format!("/{id}/{path}"))).json(&body);
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, _) = step(
        &specialist,
        "classify",
        json!({"nature": "service_violation", "severity": "general"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, refused) = step(
        &specialist,
        "assign_investigators",
        json!({"investigators": ["c01-supervisor", "c01-window-3"]}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let (status, c) = step(
        &specialist,
        "assign_investigators",
        json!({"investigators": ["c01-supervisor", "c01-specialist"]}),
    )
    .await;
    assert_eq!(
        (status, c["status"].as_str()),
        (200, Some("investigating")),
        "{c}"
    );
    let (status, c) = step(
        &supervisor,
        "record_finding",
        json!({"result": "substantiated", "cause": "窗口人员未执行一次性告知"}),
    )
    .await;
    assert_eq!(
        (status, c["finding"]["result"].as_str()),
        (200, Some("substantiated")),
        "{c}"
    );
    let (status, c) = step(&specialist, "close", json!({})).await;
    assert_eq!((status, c["status"].as_str()), (200, Some("closed")), "{c}");
    assert_eq!(c["first_owner"], "c01-specialist");
    // Another center's supervisor does not see it.
    let other = cluster
        .client_as("c02-supervisor")
        .await
        .get(url(&format!("/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    // Nothing of the complainant in clear in the database.
    let pool = sqlx::PgPool::connect(&cluster.database_url("complaint"))
        .await
        .unwrap();
    let clear: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM complaints WHERE row_to_json(complaints)::text LIKE '%' || $1 || '%'
             OR row_to_json(complaints)::text LIKE '%' || $2 || '%'",
    )
    .bind(&id_number)
    .bind(phone)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(clear, 0);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM complaints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    pool.close().await;
    cluster.stop().await;
}
