//! A poison event is dead-lettered with its reason after bounded attempts,
//! the events around it are still applied, and an operator can replay the
//! dead letters once the cause is fixed.

use bianmin_e2e::{Cluster, Options, bin_dir, id_number};
use chrono::NaiveDate;
use futures::StreamExt as _;
use serde_json::json;
use std::time::{Duration, Instant};

async fn dead_letters(js: &async_nats::jetstream::Context) -> u64 {
    js.get_stream("BIANMIN_DEAD_LETTER")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_events_are_dead_lettered_and_can_be_replayed() {
    let cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    let nats = async_nats::connect(cluster.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats);

    // An event review can never apply: its payload is not a protobuf message.
    let mut headers = async_nats::HeaderMap::new();
    let poison_id = uuid::Uuid::new_v4().to_string();
    headers.insert("Nats-Msg-Id", poison_id.as_str());
    headers.insert("Bianmin-Event-Id", poison_id.as_str());
    headers.insert("Bianmin-Event-Type", "ApplicationSubmitted");
    js.publish_with_headers(
        "bianmin.intake.application.submitted",
        headers,
        bytes::Bytes::from_static(b"\xff\xff not protobuf"),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    // A good application right behind it is still processed.
    let http = cluster.client_as("c02-specialist").await;
    let id = id_number("110105", NaiveDate::from_ymd_opt(1970, 3, 3).unwrap(), 5);
    let created: serde_json::Value = http
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .json(&json!({"center_id": "C02", "service_type": "medical-aid", "channel": "kiosk",
            "applicant": {"name": "李建国", "id_number": id, "phone": "13700001111"}, "reason": "医疗救助"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app = created["id"].as_str().unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: serde_json::Value = http
            .get(format!("{}/api/v1/applications/{app}", cluster.gateway))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !body["review"].is_null() && dead_letters(&js).await == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "poison not dead-lettered or good event not applied\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The dead letter says what failed, where it came from and for whom.
    let stream = js.get_stream("BIANMIN_DEAD_LETTER").await.unwrap();
    let reader = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            ..Default::default()
        })
        .await
        .unwrap();
    let letter = reader
        .fetch()
        .max_messages(1)
        .messages()
        .await
        .unwrap()
        .next()
        .await
        .unwrap()
        .unwrap();
    let h = letter.headers.as_ref().unwrap();
    assert_eq!(
        letter.subject.as_str(),
        "bianmin.dlq.review-application-submitted.bianmin.intake.application.submitted"
    );
    assert_eq!(
        h.get("Bianmin-Original-Subject").unwrap().as_str(),
        "bianmin.intake.application.submitted"
    );
    assert_eq!(h.get("Bianmin-Event-Id").unwrap().as_str(), poison_id);
    assert!(
        h.get("Bianmin-Error")
            .unwrap()
            .as_str()
            .contains("undecodable"),
        "{h:?}"
    );

    // Replay sends it back to its subject; it is still poison, so it lands
    // in the dead-letter stream again (once), and nothing else changed.
    let intake_stream_before = js
        .get_stream("BIANMIN_INTAKE")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    let out = tokio::process::Command::new(bin_dir().join("bianmin-review"))
        .args([
            "dlq",
            "replay",
            "--consumer",
            "review-application-submitted",
        ])
        .env("NATS_URL", cluster.nats.url())
        .env("DATABASE_URL", cluster.database_url("review"))
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 dead-lettered events re-published"),
        "{out:?}"
    );
    let intake_stream_after = js
        .get_stream("BIANMIN_INTAKE")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    assert_eq!(intake_stream_after, intake_stream_before + 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while dead_letters(&js).await != 1 {
        assert!(
            Instant::now() < deadline,
            "replayed poison not dead-lettered again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.stop().await;
}
