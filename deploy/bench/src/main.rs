//! `bianmin-bench`: drives a running cluster's gateway with a realistic mix,
//! measures the machine's ceiling (PostgreSQL, JetStream) in the same run,
//! and reports figures and ratios as JSON. `make bench` runs it.

mod ceiling;
mod cpu;
mod load;
mod plot;
mod propagation;
mod resident;
mod stats;

use clap::Parser;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(version, about = "Load generator for a running Bianmin cluster")]
struct Args {
    /// Gateway URL.
    #[arg(long, env = "BENCH_TARGET", default_value = "http://127.0.0.1:8080")]
    target: String,
    /// Seconds of load.
    #[arg(long, env = "BENCH_DURATION", default_value_t = 60)]
    duration: u64,
    /// Concurrent clients (each a closed loop).
    #[arg(long, env = "BENCH_CONCURRENCY", default_value_t = 16)]
    concurrency: usize,
    /// Request mix as kind=weight.
    #[arg(
        long,
        env = "BENCH_MIX",
        default_value = "submit=60,status=20,review=15,catalog=5"
    )]
    mix: String,
    /// The center specialist who accepts cases (the mix's `review` kind).
    #[arg(long, env = "BENCH_REVIEWER", default_value = "c01-specialist")]
    reviewer: String,
    /// The reviewer's center: its newly opened cases are the ones accepted.
    #[arg(long, env = "BENCH_REVIEWER_CENTER", default_value = "C01")]
    reviewer_center: String,
    /// Seconds for each ceiling measurement; 0 skips them.
    #[arg(long, env = "BENCH_CEILING_SECONDS", default_value_t = 10)]
    ceiling_seconds: u64,
    /// PostgreSQL server for the ceiling (a scratch database is created).
    #[arg(
        long,
        env = "BENCH_DATABASE_BASE",
        default_value = "postgres://postgres:postgres@127.0.0.1:5432"
    )]
    database_base: String,
    /// Scratch database of the PostgreSQL ceiling (emptied first).
    #[arg(long, default_value = "bianmin_bench_ceiling")]
    ceiling_database: String,
    /// The cluster's NATS server: propagation is read from its events, and
    /// the JetStream ceiling is measured there.
    #[arg(long, env = "BENCH_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Also run these concurrency levels (e.g. 1,2,4,8,16,32) and draw the
    /// latency-versus-load curve.
    #[arg(long, env = "BENCH_CURVE", value_delimiter = ',')]
    curve: Vec<usize>,
    /// Seconds per curve level.
    #[arg(long, default_value_t = 10)]
    curve_seconds: u64,
    /// Where to write the JSON (and the curve beside it).
    #[arg(long, env = "BENCH_OUT")]
    out: Option<PathBuf>,
    /// Account the load runs as (it logs in through the gateway).
    #[arg(long, env = "BENCH_USER", default_value = "admin")]
    user: String,
    #[arg(
        long,
        env = "BENCH_PASSWORD",
        default_value = "bianmin-demo",
        hide_env_values = true
    )]
    password: String,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

async fn catalog(target: &str) -> anyhow::Result<resident::Catalog> {
    let http = bianmin_common::http_client::client();
    let get = |path: &'static str| {
        let http = http.clone();
        let url = format!("{target}{path}");
        async move {
            let r = http
                .get(&url)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{url}: {e} (is the cluster up? `make up`)"))?;
            anyhow::ensure!(r.status().is_success(), "{url}: {}", r.status());
            Ok::<serde_json::Value, anyhow::Error>(r.json().await?)
        }
    };
    let centers = get("/api/v1/centers").await?;
    let services = get("/api/v1/catalog/services").await?;
    let ids = |v: &serde_json::Value, list: &str, key: &str| -> Vec<String> {
        v[list]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["active"] != false)
            .filter_map(|x| x[key].as_str().map(String::from))
            .collect()
    };
    let catalog = resident::Catalog {
        centers: ids(&centers, "centers", "id"),
        service_types: ids(&services, "services", "code"),
    };
    anyhow::ensure!(
        !catalog.centers.is_empty() && !catalog.service_types.is_empty(),
        "the cluster has no centers or service types"
    );
    Ok(catalog)
}

fn plan(
    args: &Args,
    concurrency: usize,
    seconds: u64,
    sessions: &(Arc<load::Session>, Arc<load::Session>),
    watch: &propagation::Watch,
) -> anyhow::Result<load::Plan> {
    Ok(load::Plan {
        session: sessions.0.clone(),
        reviewer: sessions.1.clone(),
        target: args.target.trim_end_matches('/').to_string(),
        concurrency,
        duration: Duration::from_secs(seconds),
        mix: load::Mix::parse(&args.mix)?,
        watch: watch.clone(),
        progress: !args.quiet,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.concurrency > 0 && args.duration > 0,
        "concurrency and duration must be positive"
    );
    let catalog = Arc::new(catalog(&args.target).await?);
    let session = Arc::new(
        load::Session::login(
            args.target.trim_end_matches('/'),
            &args.user,
            &args.password,
        )
        .await?,
    );
    let reviewer = Arc::new(
        load::Session::login(
            args.target.trim_end_matches('/'),
            &args.reviewer,
            &args.password,
        )
        .await?,
    );
    let sessions = (session, reviewer);
    let watch = propagation::Watch::start(&args.nats_url, &args.reviewer_center).await?;
    let started_at = chrono::Utc::now();

    eprintln!(
        "load: {} s at concurrency {} against {} ({})",
        args.duration, args.concurrency, args.target, args.mix
    );
    let cpu_before = cpu::Snapshot::take();
    let outcome = load::run(
        &plan(&args, args.concurrency, args.duration, &sessions, &watch)?,
        catalog.clone(),
    )
    .await?;
    let load_cpu = cpu_before.until(&cpu::Snapshot::take());
    let submit = outcome
        .stats
        .kinds
        .get("submit")
        .map(|k| k.summary(outcome.seconds));
    let propagation = outcome.propagation.summary(outcome.seconds);

    let (db, nats) = if args.ceiling_seconds > 0 {
        eprintln!(
            "ceiling: PostgreSQL application+outbox transactions, {} writers, {} s",
            args.concurrency, args.ceiling_seconds
        );
        let db = ceiling::database(
            &args.database_base,
            &args.ceiling_database,
            args.concurrency,
            Duration::from_secs(args.ceiling_seconds),
        )
        .await?;
        eprintln!(
            "ceiling: JetStream publish-with-ack, {} publishers, {} s",
            args.concurrency, args.ceiling_seconds
        );
        let nats = ceiling::jetstream_publish(
            &args.nats_url,
            args.concurrency,
            Duration::from_secs(args.ceiling_seconds),
        )
        .await?;
        (Some(db), Some(nats))
    } else {
        (None, None)
    };

    let mut curve = Vec::new();
    for &level in &args.curve {
        eprintln!("curve: concurrency {level}, {} s", args.curve_seconds);
        let o = load::run(
            &plan(&args, level, args.curve_seconds, &sessions, &watch)?,
            catalog.clone(),
        )
        .await?;
        let s = o.stats.kinds.get("submit").map(|k| k.summary(o.seconds));
        curve.push(plot::Point {
            concurrency: level,
            submit_rps: s.as_ref().map_or(0.0, |s| s.throughput_rps),
            p50_ms: s.as_ref().map_or(0.0, |s| s.p50_ms),
            p99_ms: s.as_ref().map_or(0.0, |s| s.p99_ms),
            propagation_p99_ms: o.propagation.summary(o.seconds).p99_ms,
        });
    }

    let errors: u64 = outcome
        .stats
        .kinds
        .values()
        .map(|k| k.errors.values().sum::<u64>())
        .sum::<u64>()
        + propagation.errors;
    let errors_by_kind: serde_json::Map<String, serde_json::Value> = outcome
        .stats
        .kinds
        .iter()
        .filter(|(_, k)| !k.errors.is_empty())
        .map(|(name, k)| (name.to_string(), json!(k.errors)))
        .chain(
            (!outcome.propagation.errors.is_empty())
                .then(|| ("propagation".to_string(), json!(outcome.propagation.errors))),
        )
        .collect();
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => json!(stats::round(a / b * 1000.0) / 1000.0),
        _ => serde_json::Value::Null,
    };
    let submit_rps = submit.as_ref().map(|s| s.throughput_rps);
    let mut kinds = serde_json::Map::new();
    for (name, k) in &outcome.stats.kinds {
        kinds.insert(name.to_string(), json!(k.summary(outcome.seconds)));
    }
    let load_cpu = load_cpu.report(submit.as_ref().map_or(0.0, |s| s.count as f64));
    let db_cpu = db
        .as_ref()
        .map(|d| d.cpu.report(d.latency.latency.len() as f64));
    let cpu_total =
        |r: Option<&serde_json::Value>| r.and_then(|r| r["cpu_ms_per_unit"]["total"].as_f64());
    let report = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "started_at": started_at.to_rfc3339(),
        "machine": { "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), "os": std::env::consts::OS },
        "config": { "target": args.target, "user": args.user, "duration_s": args.duration, "concurrency": args.concurrency, "mix": args.mix },
        "submit": submit,
        "requests": kinds,
        "propagation": propagation,
        "errors": errors,
        "errors_by_kind": errors_by_kind,
        "ceiling": {
            "db_tps": db.as_ref().map(|d| stats::round(d.per_second)),
            "db_p99_ms": db.as_ref().map(|d| d.latency.summary(1.0).p99_ms),
            "db_errors": db.as_ref().map(|d| d.latency.errors.values().sum::<u64>()),
            "nats_msgs_per_s": nats.as_ref().map(|n| stats::round(n.per_second)),
            "nats_p99_ms": nats.as_ref().map(|n| n.latency.summary(1.0).p99_ms),
            "nats_errors": nats.as_ref().map(|n| n.latency.errors.values().sum::<u64>()),
        },
        "ratio": {
            "submit_vs_db": ratio(submit_rps, db.as_ref().map(|d| d.per_second)),
            "submit_vs_nats": ratio(submit_rps, nats.as_ref().map(|n| n.per_second)),
            // How many ceiling transactions' worth of processor time one
            // submission costs: on saturated shared cores, submit_vs_db
            // cannot exceed about its inverse.
            "cpu_submission_vs_db_tx": ratio(cpu_total(Some(&load_cpu)), cpu_total(db_cpu.as_ref())),
        },
        // Processor milliseconds per submission (load) and per
        // transaction or publish (ceilings), by program.
        "cpu": {
            "load_per_submission": load_cpu,
            "db_ceiling_per_tx": db_cpu,
            "nats_ceiling_per_publish": nats.as_ref().map(|n| n.cpu.report(n.latency.latency.len() as f64)),
        },
        "curve": curve,
    });

    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "deploy/.run/bench/bench-{}.json",
            started_at.format("%Y%m%d-%H%M%S")
        ))
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    if !curve.is_empty() {
        let svg = out.with_extension("svg");
        plot::curve(&curve, &svg)?;
        eprintln!("curve: {}", svg.display());
    }
    print_summary(&report);
    println!("figures written to {}", out.display());
    Ok(())
}

fn print_summary(r: &serde_json::Value) {
    println!("\nrequest     count   rps      p50 ms  p95 ms  p99 ms  max ms  errors");
    if let Some(kinds) = r["requests"].as_object() {
        for (name, s) in kinds.iter().chain(std::iter::once((
            &"propagation".to_string(),
            &r["propagation"],
        ))) {
            println!(
                "{name:<11} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6}",
                s["count"],
                s["throughput_rps"],
                s["p50_ms"],
                s["p95_ms"],
                s["p99_ms"],
                s["max_ms"],
                s["errors"]
            );
        }
    }
    println!(
        "ceiling: PostgreSQL {} tx/s, JetStream {} acked publishes/s; submissions are {} of the database ceiling",
        r["ceiling"]["db_tps"], r["ceiling"]["nats_msgs_per_s"], r["ratio"]["submit_vs_db"]
    );
    for (label, key) in [
        ("cpu per submission", "load_per_submission"),
        ("cpu per ceiling tx", "db_ceiling_per_tx"),
    ] {
        if let Some(ms) = r["cpu"][key]["cpu_ms_per_unit"].as_object() {
            let parts: Vec<String> = ms
                .iter()
                .filter(|(p, _)| *p != "total")
                .map(|(p, v)| format!("{p} {v}"))
                .collect();
            println!("{label}: {} ms ({})", ms["total"], parts.join(", "));
        }
    }
    if let Some(x) = r["ratio"]["cpu_submission_vs_db_tx"].as_f64() {
        println!("one submission costs the processor time of {x} ceiling transactions");
    }
    println!("errors: {}", r["errors"]);
}
