//! What this machine can do at all, measured in the same run: the rows a
//! submission writes (application plus outbox row, one transaction each)
//! inserted straight into PostgreSQL, and a plain JetStream
//! publish-with-ack loop, both at the load's concurrency.

use crate::stats::Kind;
use async_nats::jetstream::{self, stream};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Measured {
    pub per_second: f64,
    pub latency: Kind,
    /// Where the machine's processor time went while it ran.
    pub cpu: crate::cpu::Usage,
}

/// Inserts application + outbox rows into a scratch database with intake's
/// own schema, `concurrency` writers for `duration`.
pub async fn database(
    base_url: &str,
    name: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    // Connection options (e.g. `?sslmode=disable`) stay after the name.
    let (base, options) = base_url.split_once('?').unwrap_or((base_url, ""));
    let options = if options.is_empty() {
        String::new()
    } else {
        format!("?{options}")
    };
    let url = format!("{}/{name}{options}", base.trim_end_matches('/'));
    let pool = bianmin_common::db::connect(&url, concurrency as u32).await?;
    // The migrations grant to the app role, so it must exist.
    sqlx::raw_sql(sqlx::AssertSqlSafe(bianmin_common::db::ROLES_SQL))
        .execute(&pool)
        .await?;
    bianmin_common::db::migrate(&pool, &bianmin_intake::MIGRATIONS).await?;
    sqlx::query("TRUNCATE applications, timeline_entries, outbox CASCADE")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO centers (id, name, district) VALUES ('B01', '基准中心', '基准区') ON CONFLICT DO NOTHING")
        .execute(&pool)
        .await?;
    sqlx::query(
        "INSERT INTO service_types (code, name, domain, class, preliminary_review_days, extended_review_days, decision_days)
         VALUES ('bench', '基准事项', '便民服务', '基础', 5, 10, 30) ON CONFLICT DO NOTHING",
    )
    .execute(&pool)
    .await?;
    let cpu_before = crate::cpu::Snapshot::take();
    let stop_at = Instant::now() + duration;
    let mut writers = Vec::new();
    for _ in 0..concurrency {
        let pool = pool.clone();
        writers.push(tokio::spawn(async move {
            let mut latency = Kind::default();
            let sealed = vec![7u8; 46];
            let hash = vec![9u8; 32];
            while Instant::now() < stop_at {
                let began = Instant::now();
                let id = uuid::Uuid::now_v7();
                let result: Result<(), sqlx::Error> = async {
                    let mut tx = pool.begin().await?;
                    let seq: i64 = sqlx::query_scalar("SELECT nextval('application_no_seq')").fetch_one(&mut *tx).await?;
                    sqlx::query(
                        "INSERT INTO applications (id, application_no, center_id, service_type, channel, applicant_name,
                            id_number_sealed, id_number_key_id, id_number_hash, id_number_masked,
                            phone_sealed, phone_key_id, phone_hash, phone_masked, reason, status, idempotency_key, request_hash)
                         VALUES ($1, $2, 'B01', 'bench', 'web', '基准', $3, 'k', $4, '110105********0000',
                                 $3, 'k', $4, '138****0000', '基准测试', 'submitted', $5, $4)",
                    )
                    .bind(id)
                    .bind(format!("B01-{seq:08}"))
                    .bind(&sealed)
                    .bind(&hash)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("INSERT INTO outbox (event_id, subject, event_type, payload) VALUES ($1, 'bench', 'Bench', $2)")
                        .bind(id)
                        .bind(&sealed)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await
                }
                .await;
                match result {
                    Ok(()) => latency.ok(began.elapsed()),
                    Err(e) => latency.error(e.to_string()),
                }
            }
            latency
        }));
    }
    let mut latency = Kind::default();
    for w in writers {
        latency.merge(&w.await?);
    }
    let cpu = cpu_before.until(&crate::cpu::Snapshot::take());
    pool.close().await;
    Ok(Measured {
        per_second: latency.latency.len() as f64 / duration.as_secs_f64(),
        latency,
        cpu,
    })
}

/// Publishes to a scratch stream with the event streams' settings
/// (file storage, de-duplication by message id), each worker awaiting its
/// ack before the next publish.
pub async fn jetstream_publish(
    url: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let client = async_nats::connect(url).await?;
    let js = jetstream::new(client);
    let name = "BIANMIN_BENCH_CEILING";
    let _ = js.delete_stream(name).await;
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: vec!["bianmin.bench.ceiling".into()],
        storage: stream::StorageType::File,
        duplicate_window: bianmin_common::nats::DUPLICATE_WINDOW,
        max_age: Duration::from_secs(3600),
        ..Default::default()
    })
    .await?;
    let js = Arc::new(js);
    let cpu_before = crate::cpu::Snapshot::take();
    let stop_at = Instant::now() + duration;
    let payload = bytes_of(220);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (js, payload) = (js.clone(), payload.clone());
        workers.push(tokio::spawn(async move {
            let mut latency = Kind::default();
            while Instant::now() < stop_at {
                let began = Instant::now();
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", uuid::Uuid::now_v7().to_string().as_str());
                let acked = match js
                    .publish_with_headers("bianmin.bench.ceiling", headers, payload.clone())
                    .await
                {
                    Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match acked {
                    Ok(()) => latency.ok(began.elapsed()),
                    Err(e) => latency.error(e),
                }
            }
            latency
        }));
    }
    let mut latency = Kind::default();
    for w in workers {
        latency.merge(&w.await?);
    }
    let cpu = cpu_before.until(&crate::cpu::Snapshot::take());
    let _ = js.delete_stream(name).await;
    Ok(Measured {
        per_second: latency.latency.len() as f64 / duration.as_secs_f64(),
        latency,
        cpu,
    })
}

/// A payload the size of an encoded `ApplicationSubmitted`.
fn bytes_of(n: usize) -> bytes::Bytes {
    bytes::Bytes::from(vec![b'x'; n])
}
