//! The load generator keeps working: a few seconds against a real cluster,
//! no errors, and every figure the benchmark document relies on present.
//! Not a timing assertion.

use bianmin_e2e::{Cluster, Options, PG_BASE, bin_dir};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_generator_produces_its_figures_without_errors() {
    // One client at full speed from one address: the per-IP and
    // per-account limits would (rightly) throttle it.
    let unthrottled = [
        ("RATE_LIMIT_PER_IP", "100000"),
        ("RATE_LIMIT_PER_IP_BURST", "100000"),
        ("RATE_LIMIT_PER_PRINCIPAL", "100000"),
        ("RATE_LIMIT_PER_PRINCIPAL_BURST", "100000"),
    ];
    let cluster = Cluster::start_with(Options { otlp: false }, &unthrottled)
        .await
        .expect("cluster starts");
    let out = cluster.dir().join("bench.json");
    let scratch = format!("{}_ceiling", cluster.databases["intake"]);
    let status = tokio::process::Command::new(bin_dir().join("bianmin-bench"))
        .args([
            "--target",
            &cluster.gateway,
            "--duration",
            "3",
            "--concurrency",
            "2",
            "--ceiling-seconds",
            "1",
            "--quiet",
        ])
        .args(["--database-base", PG_BASE, "--ceiling-database", &scratch])
        .args([
            "--nats-url",
            &cluster.nats.url(),
            "--user",
            "admin",
            "--out",
        ])
        .arg(&out)
        .status()
        .await
        .expect("bianmin-bench runs (cargo build --workspace --bins)");
    assert!(status.success(), "bench failed\n{}", cluster.logs());
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();

    assert_eq!(report["errors"], 0, "{report:#}");
    assert!(
        report["submit"]["count"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    for path in [
        ("submit", "throughput_rps"),
        ("submit", "p50_ms"),
        ("submit", "p99_ms"),
        ("propagation", "p99_ms"),
        ("ceiling", "db_tps"),
        ("ceiling", "nats_msgs_per_s"),
        ("ratio", "submit_vs_db"),
    ] {
        let v = report[path.0][path.1].as_f64().unwrap_or(-1.0);
        assert!(v > 0.0, "{}.{} = {v} in {report:#}", path.0, path.1);
    }
    assert!(
        report["propagation"]["count"].as_u64().unwrap() > 0,
        "no submission was followed to its review case"
    );
    // Where the processor time went: at least the database and the load
    // generator itself are found and charged, per submission and per
    // ceiling transaction.
    for phase in ["load_per_submission", "db_ceiling_per_tx"] {
        for program in ["postgres", "load_generator", "total"] {
            let ms = report["cpu"][phase]["cpu_ms_per_unit"][program]
                .as_f64()
                .unwrap_or(-1.0);
            assert!(ms > 0.0, "cpu.{phase}.{program} = {ms} in {report:#}");
        }
    }
    assert!(
        report["requests"]["review"]["count"].as_u64().unwrap_or(0) > 0,
        "the reviewer accepted no case: {report:#}"
    );

    if let Ok(mut conn) =
        <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{PG_BASE}/postgres")).await
    {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
    cluster.stop().await;
}
