//! Nothing lost, nothing doubled: submissions keep flowing while review is
//! killed with SIGKILL and restarted, and while NATS is down for a while.
//! Afterwards every application has exactly one review case and its
//! timeline shows it.

use bianmin_e2e::{Cluster, Options, id_number};
use chrono::NaiveDate;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use uuid::Uuid;

const APPLICATIONS: u32 = 240;

/// Submits `count` applications at a steady pace, each retried with its own
/// idempotency key until the gateway answers 201. Returns their ids.
async fn submit_all(
    gateway: String,
    http: reqwest::Client,
    count: u32,
    every: Duration,
) -> Vec<Uuid> {
    let mut ticker = tokio::time::interval(every);
    let mut pending = Vec::new();
    for n in 0..count {
        ticker.tick().await;
        let http = http.clone();
        let url = format!("{gateway}/api/v1/applications");
        pending.push(tokio::spawn(async move {
            let center = ["C01", "C02", "C03"][n as usize % 3];
            let service_type = ["elderly-care-subsidy", "medical-aid", "utility-water-connection"][n as usize % 3];
            let body = json!({
                "center_id": center,
                "service_type": service_type,
                "channel": "web",
                "applicant": {
                    "name": format!("居民{n}"),
                    "id_number": id_number("440305", NaiveDate::from_ymd_opt(1960, 1, 1).unwrap() + chrono::Duration::days(n as i64 * 37), n),
                    "phone": format!("139{:08}", n),
                },
                "reason": "故障测试中的申请",
            });
            let key = format!("fault-{n}");
            for attempt in 0.. {
                match http.post(&url).header("Idempotency-Key", &key).json(&body).send().await {
                    Ok(r) if r.status() == 201 => {
                        let v: serde_json::Value = r.json().await.unwrap();
                        return Uuid::parse_str(v["id"].as_str().unwrap()).unwrap();
                    }
                    Ok(r) if r.status().is_client_error() => panic!("submission {n} refused: {}", r.text().await.unwrap_or_default()),
                    _ if attempt < 50 => tokio::time::sleep(Duration::from_millis(200)).await,
                    other => panic!("submission {n} kept failing: {other:?}"),
                }
            }
            unreachable!()
        }));
    }
    let mut ids = Vec::new();
    for p in pending {
        ids.push(p.await.unwrap());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_lost_nothing_doubled_across_crashes_and_a_nats_outage() {
    let mut cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    // A district administrator submits for all three centers.
    let http = cluster.client_as("admin").await;
    let submitter = tokio::spawn(submit_all(
        cluster.gateway.clone(),
        http,
        APPLICATIONS,
        Duration::from_millis(60),
    ));

    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.kill("review").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    cluster.restart("review").unwrap();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Longer than the relay's publish timeout, so acks fail and it retries.
    cluster.nats.kill().await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    cluster.nats.resume().await.unwrap();

    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.kill("review").await;
    cluster.restart("review").unwrap();

    let ids = submitter.await.unwrap();
    let submitted: HashSet<Uuid> = ids.iter().copied().collect();
    assert_eq!(
        submitted.len(),
        APPLICATIONS as usize,
        "every submission has its own application"
    );

    let mut review =
        <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.database_url("review"))
            .await
            .unwrap();
    let mut intake =
        <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.database_url("intake"))
            .await
            .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let cases: Vec<Uuid> = sqlx::query_scalar("SELECT application_id FROM review_cases")
            .fetch_all(&mut review)
            .await
            .unwrap();
        let waiting: i64 =
            sqlx::query_scalar("SELECT count(*) FROM applications WHERE review_case_id IS NULL")
                .fetch_one(&mut intake)
                .await
                .unwrap();
        if cases.len() >= submitted.len() && waiting == 0 {
            let unique: HashSet<Uuid> = cases.iter().copied().collect();
            assert_eq!(
                cases.len(),
                unique.len(),
                "an application has two review cases"
            );
            assert_eq!(unique, submitted, "review cases and submissions differ");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after 90 s: {} of {} cases, {waiting} timelines without review\n{}",
            cases.len(),
            submitted.len(),
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Intake holds exactly the submitted applications, each with one
    // review entry on its timeline.
    let applications: i64 = sqlx::query_scalar("SELECT count(*) FROM applications")
        .fetch_one(&mut intake)
        .await
        .unwrap();
    assert_eq!(applications, APPLICATIONS as i64);
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT application_id FROM timeline_entries WHERE kind = 'review_opened'
         GROUP BY application_id HAVING count(*) <> 1) t",
    )
    .fetch_one(&mut intake)
    .await
    .unwrap();
    assert_eq!(doubled, 0, "a timeline shows the review opening twice");
    cluster.stop().await;
}
