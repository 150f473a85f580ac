//! Materials in an S3-compatible bucket, as in Kubernetes: intake holds its
//! readiness until the bucket answers; an upload through the gateway lands
//! in the bucket under `applications/<id>/<item>/<sha256>` with exactly the
//! uploaded bytes, nothing is written to the local directory, the download
//! returns the same bytes, and a repeated upload is the same material.

use bianmin_e2e::s3::S3Server;
use bianmin_e2e::{Cluster, Options, Start, hex_sha256, id_number};
use chrono::NaiveDate;
use object_store::ObjectStoreExt as _;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const BUCKET: &str = "bianmin-materials";

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn materials_live_in_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(dir.path()).await.unwrap();

    // The bucket appears only after intake has started: until then intake
    // must not report ready, and then it must become ready by itself.
    let late = Duration::from_secs(3);
    let started = Instant::now();
    let env = s3.intake_env(BUCKET);
    let every: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (cluster, created) = tokio::join!(
        // Materials are intake's alone: review need not run.
        Cluster::launch(Start {
            options: Options { otlp: false },
            services: Some(&["intake"]),
            gateway_env: &[],
            every_env: &every,
        }),
        async {
            tokio::time::sleep(late).await;
            s3.create_bucket(BUCKET).await
        }
    );
    created.unwrap();
    let cluster = cluster.unwrap();
    assert!(
        started.elapsed() >= late,
        "ready after {:?}, before the bucket existed",
        started.elapsed()
    );
    let intake_log = std::fs::read_to_string(cluster.dir().join("intake.log")).unwrap();
    assert!(
        intake_log.contains("materials store not reachable yet"),
        "intake did not wait for the bucket:\n{intake_log}"
    );

    let gw = &cluster.gateway;
    let http = cluster.client_as("c01-specialist").await;
    let (status, app) = json_of(
        http.post(format!("{gw}/api/v1/applications"))
            .header("Idempotency-Key", "s3-materials-1")
            .json(&json!({
                "center_id": "C01", "service_type": "elderly-care-subsidy", "channel": "window",
                "applicant": {"name": "周桂英", "id_number": id_number("110105", NaiveDate::from_ymd_opt(1944, 3, 9).unwrap(), 17), "phone": "13912345678"},
                "reason": "高龄老人，申请居家养老服务补贴"
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let app_id = app["id"].as_str().unwrap().to_string();

    let pdf = bianmin_common::testfiles::pdf("身份证", 0, 1);
    let sha = hex_sha256(&pdf);
    let upload = || {
        http.post(format!(
            "{gw}/api/v1/applications/{app_id}/materials?item=id_card&filename=身份证.pdf"
        ))
        .body(pdf.clone())
        .send()
    };
    let (status, material) = json_of(upload().await.unwrap()).await;
    assert_eq!(status, 201, "{material}\n{}", cluster.logs());
    assert_eq!(material["sha256"], sha);
    assert_eq!(material["content_type"], "application/pdf");

    // In the bucket, under its content address, with the same bytes.
    let key = format!("applications/{app_id}/id_card/{sha}");
    assert_eq!(
        s3.keys(BUCKET, "applications").await.unwrap(),
        vec![key.clone()],
        "{}",
        s3.log()
    );
    let stored = s3
        .bucket(BUCKET)
        .unwrap()
        .get(&object_store::path::Path::from(key.as_str()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored.as_ref(), pdf.as_slice());

    // Nothing on the local disk: the directory setting is not used.
    let local = cluster.dir().join("materials").join("applications");
    assert!(!local.exists(), "{} was written", local.display());

    // The same bytes back through the gateway.
    let material_id = material["id"].as_str().unwrap();
    let response = http
        .get(format!(
            "{gw}/api/v1/applications/{app_id}/materials/{material_id}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), pdf.as_slice());

    // A retried upload is the same material, and the bucket holds one object.
    let response = upload().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let (_, again) = json_of(response).await;
    assert_eq!(again["id"], material["id"]);
    assert_eq!(s3.keys(BUCKET, "applications").await.unwrap().len(), 1);

    cluster.stop().await;
}
