//! The figures operators watch move when the platform works: a submission
//! moves the gateway's request counts, intake's gRPC and outbox figures
//! and review's consumer figures; a poison message moves the dead-letter
//! counter; nothing personal and no id ever appears in a scrape.

use bianmin_e2e::{Cluster, Options, Scrape, id_number, services};
use chrono::NaiveDate;
use serde_json::json;
use std::time::{Duration, Instant};

const SUBMIT: &str = "/bianmin.intake.v1.IntakeService/SubmitApplication";
const REVIEW_CONSUMER: &str = "review-application-submitted";
const INTAKE_CONSUMER: &str = "intake-review-events";

/// Scrapes `name` until `done` holds (figures read at scrape time and
/// counters of asynchronous work settle a moment after the request).
async fn scrape_until(
    cluster: &Cluster,
    name: &str,
    what: &str,
    done: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let scrape = cluster.scrape(name).await.expect("metrics answer");
        if done(&scrape) {
            return scrape;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: {what} did not happen; last scrape:\n{}\n{}",
            scrape.text,
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_moves_the_request_outbox_and_consumer_figures() {
    let cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    // Every process says what it is and that it is ready.
    for name in ["gateway", "intake", "review"] {
        let scrape = cluster.scrape(name).await.unwrap();
        assert_eq!(
            scrape.sum("bianmin_build_info", &[("service", name)]),
            1.0,
            "{name}:\n{}",
            scrape.text
        );
        assert_eq!(
            scrape.sum("bianmin_ready", &[]),
            1.0,
            "{name}:\n{}",
            scrape.text
        );
    }
    let before = (
        cluster.scrape("gateway").await.unwrap(),
        cluster.scrape("intake").await.unwrap(),
        cluster.scrape("review").await.unwrap(),
    );
    let posted = |s: &Scrape| {
        s.sum(
            "bianmin_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/api/v1/applications"),
                ("status", "201"),
            ],
        )
    };
    let submitted = |s: &Scrape| {
        s.sum(
            "bianmin_grpc_server_requests_total",
            &[("method", SUBMIT), ("code", "OK")],
        )
    };
    let published = |s: &Scrape| s.sum("bianmin_outbox_published_events_total", &[]);
    let applied = |s: &Scrape, consumer: &str| {
        s.sum(
            "bianmin_consumer_events_applied_total",
            &[("consumer", consumer)],
        )
    };

    let http = cluster.client_as("c01-specialist").await;
    let id = id_number("110105", NaiveDate::from_ymd_opt(1982, 4, 9).unwrap(), 17);
    let response = http
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .json(&json!({"center_id": "C01", "service_type": "medical-aid", "channel": "kiosk",
            "applicant": {"name": "周海燕", "id_number": id, "phone": "13911112222"}, "reason": "医疗救助"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    let app = created["id"].as_str().unwrap().to_string();
    let read = http
        .get(format!("{}/api/v1/applications/{app}", cluster.gateway))
        .send()
        .await
        .unwrap();
    assert!(read.status().is_success());
    let missing = http
        .get(format!("{}/api/v1/no-such-thing/{app}", cluster.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // The gateway: by route template and status, never by path.
    let gateway = scrape_until(&cluster, "gateway", "the POST counted", |s| {
        posted(s) == posted(&before.0) + 1.0
    })
    .await;
    assert!(
        gateway.sum(
            "bianmin_http_requests_total",
            &[("method", "GET"), ("route", "/api/v1/applications/{id}")]
        ) >= 1.0,
        "{}",
        gateway.text
    );
    assert!(
        gateway.sum(
            "bianmin_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ) >= 1.0,
        "{}",
        gateway.text
    );
    assert!(
        gateway.sum(
            "bianmin_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/api/v1/applications")]
        ) >= 1.0,
        "{}",
        gateway.text
    );

    // Intake: the call, its latency, the event published, the backlog empty.
    let intake = scrape_until(&cluster, "intake", "the submission published", |s| {
        submitted(s) == submitted(&before.1) + 1.0
            && published(s) > published(&before.1)
            && s.sum("bianmin_outbox_unpublished_events", &[]) == 0.0
            && s.has("bianmin_outbox_oldest_unpublished_age_seconds")
    })
    .await;
    assert!(
        intake.sum(
            "bianmin_grpc_server_request_duration_seconds_count",
            &[("method", SUBMIT)]
        ) >= 1.0,
        "{}",
        intake.text
    );
    assert!(
        intake.sum("bianmin_db_pool_max_connections", &[]) >= 1.0,
        "{}",
        intake.text
    );
    // The alert rules' latency objectives read the 500 ms bucket by its
    // label as the exporter writes it: `le="0.5"`.
    for (scrape, name) in [
        (
            &intake,
            "bianmin_grpc_server_request_duration_seconds_bucket",
        ),
        (&gateway, "bianmin_http_request_duration_seconds_bucket"),
    ] {
        assert!(
            scrape
                .samples
                .iter()
                .any(|(n, l, _)| n == name && l.get("le").map(String::as_str) == Some("0.5")),
            "no {name} with le=\"0.5\":\n{}",
            scrape.text
        );
    }

    // Review applied it (and its case's timers are armed); intake applied
    // review's answer in turn.
    let review = scrape_until(&cluster, "review", "the event applied", |s| {
        applied(s, REVIEW_CONSUMER) == applied(&before.2, REVIEW_CONSUMER) + 1.0
            && s.sum(
                "bianmin_consumer_pending_messages",
                &[("consumer", REVIEW_CONSUMER)],
            ) == 0.0
            && s.sum("bianmin_timers_pending", &[]) >= 2.0
    })
    .await;
    assert!(
        published(&review) >= 1.0,
        "review published its case:\n{}",
        review.text
    );
    scrape_until(&cluster, "intake", "review's answer applied", |s| {
        applied(s, INTAKE_CONSUMER) > applied(&before.1, INTAKE_CONSUMER)
    })
    .await;

    // Nothing personal, no id: not the application's, not the applicant's.
    for (name, scrape) in [
        ("gateway", &gateway),
        ("intake", &intake),
        ("review", &review),
    ] {
        for secret in [
            app.as_str(),
            id.as_str(),
            "周海燕",
            "13911112222",
            "no-such-thing",
        ] {
            assert!(!scrape.text.contains(secret), "{name} exposes {secret}");
        }
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_moves_the_dead_letter_counter() {
    let cluster = Cluster::start_only(&["review"], Options { otlp: false })
        .await
        .expect("cluster starts");
    let dead = |s: &Scrape| {
        s.sum(
            "bianmin_consumer_dead_letters_total",
            &[("consumer", REVIEW_CONSUMER)],
        )
    };
    // The counter is there at 0 before any dead letter, so the alert's
    // increase() sees the first one.
    let before = cluster.scrape("review").await.unwrap();
    assert!(
        before
            .samples
            .iter()
            .any(|(n, l, v)| n == "bianmin_consumer_dead_letters_total"
                && l.get("consumer").map(String::as_str) == Some(REVIEW_CONSUMER)
                && *v == 0.0),
        "{}",
        before.text
    );

    // The way dead_letter.rs makes one: a payload that is not protobuf.
    let js = async_nats::jetstream::new(async_nats::connect(cluster.nats.url()).await.unwrap());
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

    let review = scrape_until(&cluster, "review", "the poison dead-lettered", |s| {
        dead(s) == 1.0
    })
    .await;
    assert_eq!(
        review.sum(
            "bianmin_consumer_events_applied_total",
            &[("consumer", REVIEW_CONSUMER)]
        ),
        0.0
    );
    assert!(!review.text.contains(&poison_id), "an event id in a label");
    cluster.stop().await;
}

/// Locally each admin port is its API port + 1000: none may land on
/// another process's API port (or on another admin port).
#[test]
fn local_admin_ports_never_collide_with_api_ports() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/services.txt"),
    )
    .unwrap();
    let mut api: Vec<u16> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert_eq!(api.len(), services().len());
    // The gateway's HTTP port and its partner edge (gateway/README.md).
    api.extend([8080, 50443]);
    let admin: Vec<u16> = api
        .iter()
        .map(|p| p + bianmin_common::metrics::ADMIN_PORT_OFFSET)
        .collect();
    for (port, admin_port) in api.iter().zip(&admin) {
        assert!(
            !api.contains(admin_port),
            "the admin port of API port {port} ({admin_port}) is another API port"
        );
    }
    let mut unique = admin.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        admin.len(),
        "two admin ports coincide: {admin:?}"
    );
}

/// Deadlines reached move review's timer and deadline figures, labelled by
/// clock and center (never by case).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_reached_move_the_timer_and_deadline_figures() {
    let mut cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    let http = cluster.client_as("c01-specialist").await;
    let id = id_number("110105", NaiveDate::from_ymd_opt(1975, 8, 1).unwrap(), 23);
    let created: serde_json::Value = http
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .json(&json!({"center_id": "C01", "service_type": "medical-aid", "channel": "window",
            "applicant": {"name": "王立平", "id_number": id, "phone": "13622223333"}, "reason": "医疗救助"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app = created["id"].as_str().unwrap().to_string();
    // The case and its two timers (a warning and a breach) are armed.
    let before = scrape_until(&cluster, "review", "the timers armed", |s| {
        s.sum("bianmin_timers_pending", &[]) == 2.0
    })
    .await;
    assert_eq!(before.sum("bianmin_deadlines_breached_total", &[]), 0.0);

    // Forty days on (as lifecycle.rs moves review's clock): both fire, late.
    cluster.terminate("review").await;
    cluster.set_env("review", "REVIEW_NOW_OFFSET_SECONDS", "3456000");
    cluster.set_env("review", "TIMER_CHECK_INTERVAL_MS", "50");
    cluster.restart("review").unwrap();
    cluster.wait_ready(Duration::from_secs(60)).await.unwrap();
    let review = scrape_until(&cluster, "review", "the deadline breached", |s| {
        s.sum(
            "bianmin_deadlines_breached_total",
            &[("center", "C01"), ("clock", "preliminary")],
        ) == 1.0
            && s.sum(
                "bianmin_deadlines_warned_total",
                &[("center", "C01"), ("clock", "preliminary")],
            ) == 1.0
    })
    .await;
    assert_eq!(
        review.sum("bianmin_timers_fired_total", &[("kind", "breach")]),
        1.0
    );
    assert_eq!(
        review.sum("bianmin_timers_fired_total", &[("kind", "warning")]),
        1.0
    );
    assert_eq!(
        review.sum("bianmin_timers_late_total", &[]),
        2.0,
        "{}",
        review.text
    );
    assert_eq!(review.sum("bianmin_timer_lateness_seconds_count", &[]), 2.0);
    // The breach re-armed nothing for the preliminary clock: none overdue.
    assert_eq!(
        review.sum("bianmin_timers_overdue", &[]),
        0.0,
        "{}",
        review.text
    );
    assert!(
        !review.text.contains(&app),
        "a case's application id in a label"
    );
    cluster.stop().await;
}
