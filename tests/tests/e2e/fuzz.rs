//! The whole REST API fuzzed from its own OpenAPI document, as a hostile
//! client would: schemathesis (pinned, `deploy/fuzz/requirements.txt`,
//! installed by `make test`) sends valid and invalid requests to every
//! operation of a real cluster, as a district administrator and as a
//! center's staff member. It fails on any 5xx and on any answer the
//! document does not declare (status, content type, body schema), so a new
//! route is fuzzed by being documented. The budget is small and the seed
//! fixed: the same requests every run, in a few seconds.

use bianmin_e2e::{Cluster, Options, Start};
use std::process::Stdio;

/// Runs schemathesis against `cluster` with `token`; its output.
async fn fuzz(cluster: &Cluster, token: &str, seed: u32) -> (bool, String) {
    let bin = std::env::var("BIANMIN_FUZZ_BIN").unwrap_or_else(|_| "schemathesis".to_string());
    let gateway = &cluster.gateway;
    // Its working folder is a fresh one: schemathesis keeps a cache of
    // earlier findings where it runs, which would make one run depend on
    // the last and write into the source tree.
    let work = tempfile::tempdir().expect("a folder for the fuzzer");
    let output = tokio::process::Command::new(&bin)
        .current_dir(work.path())
        .args([
            "run",
            &format!("{gateway}/api/v1/openapi.json"),
            "--url",
            gateway,
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "15",
            "--seed",
            &seed.to_string(),
            // One worker: hypothesis's source caches are not thread-safe
            // (a run with two answered an internal error, not a finding).
            "--workers",
            "1",
            "--no-shrink",
            "--suppress-health-check",
            "all",
            "--request-timeout",
            "10",
            // The probes answer the process's state, not input.
            "--exclude-path-regex",
            "^/(healthz|readyz)$",
        ])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("starting {bin}: {e} (make test sets BIANMIN_FUZZ_BIN)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_survives_fuzzing_and_answers_as_documented() {
    let cluster = Cluster::launch(Start {
        options: Options { otlp: false },
        services: None,
        every_env: &[],
        // Limits high enough that the fuzzer meets the handlers, not only
        // the rate limiter (whose 429 is documented and would pass).
        gateway_env: &[
            ("RATE_LIMIT_PER_IP", "10000"),
            ("RATE_LIMIT_PER_IP_BURST", "10000"),
            ("RATE_LIMIT_PER_PRINCIPAL", "10000"),
            ("RATE_LIMIT_PER_PRINCIPAL_BURST", "10000"),
            ("RATE_LIMIT_LOGINS_PER_MINUTE", "10000"),
            ("RATE_LIMIT_PUBLIC_PER_MINUTE", "10000"),
        ],
    })
    .await
    .expect("cluster starts");
    for (who, seed) in [("admin", 20261207), ("c01-supervisor", 20261208)] {
        let token = cluster.token_for(who).await.unwrap();
        let started = std::time::Instant::now();
        let (passed, report) = fuzz(&cluster, &token, seed).await;
        // The figures of the run, whatever its outcome.
        let summary: Vec<&str> = report
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                l.starts_with("API Operations")
                    || l.starts_with("Test cases")
                    || l.starts_with("Test Phases")
                    || l.contains("passed")
                    || l.contains("failed")
            })
            .collect();
        println!(
            "fuzz as {who}: {:.1} s\n{}",
            started.elapsed().as_secs_f64(),
            summary.join("\n")
        );
        assert!(
            passed,
            "the fuzzer found answers that are 5xx or disagree with the document (as {who}):\n{report}\n{}",
            cluster.logs()
        );
    }
    cluster.stop().await;
}
