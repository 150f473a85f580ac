//! The READMEs' examples run, so none can go stale: every `sh` block of
//! the README and the services' READMEs that calls the gateway
//! (`localhost:8080`) runs, in order, one script per file, against a real
//! cluster. Every call's status is recorded (curl's `--write-out` to
//! stderr); a `# -> NNN` line after a call is the status it must answer,
//! and an answer that is not 2xx must be one the document says it is.

use bianmin_e2e::{Cluster, Options};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The documents whose examples run, from the workspace root.
const DOCUMENTS: &[&str] = &[
    "README.md",
    "services/intake/README.md",
    "services/review/README.md",
    "services/complaint/README.md",
];

/// The `sh` blocks of `markdown` that call the gateway, in order.
fn api_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```sh") => current = Some(String::new()),
            (Some(block), fence) if fence.starts_with("```") => {
                if block.contains("localhost:8080") {
                    blocks.push(std::mem::take(block));
                }
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// The script a document's blocks make: curl records each status, and
/// each `# -> NNN` line becomes a check of the call before it.
fn script(blocks: &[String], gateway: &str, log: &Path) -> String {
    let host = gateway.trim_start_matches("http://");
    let mut out = format!(
        r#"set -euo pipefail
LOG={log:?}
curl() {{ command curl --write-out '%{{stderr}}@@HTTP %{{http_code}} %{{method}} %{{url_effective}}\n' "$@"; }}
expect() {{
  local last; last=$(grep '^@@HTTP ' "$LOG" | tail -1)
  echo "@@EXPECTED $1" >&2
  [ "$(echo "$last" | cut -d' ' -f2)" = "$1" ] || {{ echo "@@FAIL expected $1, got: $last (line $2)" >&2; exit 1; }}
}}
"#
    );
    for (b, block) in blocks.iter().enumerate() {
        for (i, line) in block.lines().enumerate() {
            let code = line
                .strip_prefix("# -> ")
                .and_then(|rest| rest.get(..3))
                .filter(|c| c.chars().all(|ch| ch.is_ascii_digit()));
            match code {
                Some(code) => {
                    out.push_str(&format!("expect {code} 'block {} line {}'\n", b + 1, i + 1))
                }
                None => {
                    out.push_str(&line.replace("localhost:8080", host));
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// Runs one document's examples; returns the recorded statuses.
async fn run(document: &str, gateway: &str, dir: &Path) -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let markdown = std::fs::read_to_string(root.join(document)).unwrap();
    let blocks = api_blocks(&markdown);
    assert!(!blocks.is_empty(), "{document} shows no call");
    let work = dir.join(document.replace('/', "_"));
    std::fs::create_dir_all(&work).unwrap();
    // What the examples upload: a scan of an ID card (a real PDF).
    std::fs::write(
        work.join("身份证.pdf"),
        bianmin_common::testfiles::pdf("ID card", 0, 1),
    )
    .unwrap();
    let log = work.join("stderr.log");
    let text = script(&blocks, gateway, &log);
    std::fs::write(work.join("script.sh"), &text).unwrap();
    let child = tokio::process::Command::new("bash")
        .arg(work.join("script.sh"))
        .current_dir(&work)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let done = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{document}'s examples ran over two minutes"))
        .unwrap();
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        done.status.success(),
        "{document}'s examples failed ({}):\n{stderr}\n--- script ---\n{text}",
        done.status
    );
    // Every answer that is not 2xx is one the document announces.
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("@@")).collect();
    let mut statuses = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("@@HTTP ") else {
            continue;
        };
        let code = &rest[..3];
        statuses.push(rest.to_string());
        if !code.starts_with('2') {
            let announced = lines.get(i + 1) == Some(&format!("@@EXPECTED {code}").as_str());
            assert!(announced, "{document}: an unannounced {rest}\n{stderr}");
        }
    }
    statuses
}

#[tokio::test]
async fn the_readmes_examples_answer_as_they_say() {
    let cluster = Cluster::start(Options { otlp: false }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for document in DOCUMENTS {
        let statuses = run(document, &cluster.gateway, dir.path()).await;
        assert!(
            statuses.len() >= 5,
            "{document}: only {} calls ran: {statuses:?}",
            statuses.len()
        );
    }
    cluster.stop().await;
}

#[test]
fn a_status_line_becomes_a_check_and_the_host_the_clusters() {
    let blocks = api_blocks(
        "text\n```sh\nmake up\n```\n```sh\ncurl -s localhost:8080/x\n# -> 404 gone\n```\n",
    );
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    let text = script(&blocks, "http://127.0.0.1:9", Path::new("/tmp/log"));
    assert!(
        text.contains("curl -s 127.0.0.1:9/x\nexpect 404 'block 1 line 2'\n"),
        "{text}"
    );
}
