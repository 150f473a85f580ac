//! A harness that starts the whole cluster as separate processes, the way an
//! operator would: its own NATS server on its own port, fresh databases on
//! the machine's PostgreSQL, the real binaries, and an OTLP receiver that
//! collects every exported span. Tests drive it from outside over HTTP.

pub mod otlp;
pub mod s3;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

pub use bianmin_common::testkit::PG_BASE;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Where `cargo build --workspace --bins` put the binaries.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("BIANMIN_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    target.join("debug")
}

use bianmin_common::testkit;
pub use bianmin_common::testkit::{Nats, free_port, wait_port};

/// The backend services, in start order, with their gRPC ports, from
/// `deploy/services.txt` (the list `make up`, the container build and the
/// Kubernetes checks read too). The tests give every one a free port.
pub fn services() -> Vec<String> {
    let path = workspace_root().join("deploy/services.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Settings a service needs in the tests besides the common ones: what
/// its `local.env` sets for `make up`, pointed at the test's own files.
fn settings_of(name: &str, root: &Path, dir: &Path) -> Vec<(&'static str, String)> {
    match name {
        "intake" => vec![
            (
                "SEED_FILE",
                root.join("deploy/seed/catalog.json").display().to_string(),
            ),
            ("MATERIALS_DIR", dir.join("materials").display().to_string()),
        ],
        // Deadlines fire within a fifth of a second in tests.
        "review" => vec![("TIMER_CHECK_INTERVAL_MS", "200".to_string())],
        "complaint" => vec![("TIMER_CHECK_INTERVAL_MS", "200".to_string())],
        _ => Vec::new(),
    }
}

/// A database for one test of service `name`, copied from a template that
/// the service's own `migrate` command built once per set of migrations
/// (the shared ones and its own, hashed by content): no test migrates.
async fn database_for(name: &str, tag: &str) -> anyhow::Result<String> {
    use sha2::Digest as _;
    // Hashed as `testkit::template` hashes a Migrator (version, SHA-384 of
    // the SQL, in order), so both find the same template.
    let root = workspace_root();
    let mut migrations = Vec::new();
    for dir in [
        root.join("services/common/migrations"),
        root.join(format!("services/{name}/migrations")),
    ] {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            if let Some((version, _)) = file.split_once('_')
                && let Ok(version) = version.parse::<i64>()
                && file.ends_with(".sql")
            {
                migrations.push((version, std::fs::read(&path)?));
            }
        }
    }
    migrations.sort();
    let mut hash = sha2::Sha256::new();
    for (version, sql) in &migrations {
        hash.update(version.to_be_bytes());
        hash.update(sha2::Sha384::digest(sql));
    }
    let template = testkit::template_name(name, &hash.finalize());
    let binary = bin_dir().join(format!("bianmin-{name}"));
    let template = testkit::template_named(&template, |url| async move {
        let out = Command::new(&binary)
            .arg("migrate")
            // `url` is the owner role's (testkit::template_named): the
            // migrations run as the owner, as in a district.
            .env("MIGRATION_DATABASE_URL", &url)
            .env_remove("DATABASE_URL")
            .env_remove("NATS_URL")
            .current_dir(workspace_root())
            .output()
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", binary.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "{} migrate: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    })
    .await?;
    let database = format!("{tag}_{name}");
    testkit::copy_of(&template, &database).await?;
    Ok(database)
}

/// One service process and how to start it again.
struct Process {
    binary: String,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn spawn(&mut self) -> anyhow::Result<()> {
        let path = bin_dir().join(&self.binary);
        anyhow::ensure!(
            path.exists(),
            "{} not built: run `cargo build --workspace --bins` (make test does)",
            path.display()
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut command = Command::new(path);
        command
            .arg("serve")
            .current_dir(workspace_root())
            .kill_on_drop(true);
        for (k, _) in std::env::vars() {
            if k.starts_with("OTEL_")
                || k.starts_with("AUTH_")
                || k.starts_with("RATE_LIMIT")
                || k == "DATABASE_URL"
                || k == "MIGRATION_DATABASE_URL"
                || k == "NATS_URL"
                || k == "PII_KEYS"
                || k.starts_with("MATERIALS_")
                || k.starts_with("AWS_")
            {
                command.env_remove(k);
            }
        }
        command
            .envs(self.env.iter().cloned())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        self.child = Some(command.spawn()?);
        Ok(())
    }
}

pub struct Options {
    /// Collect spans over OTLP.
    pub otlp: bool,
}

/// A cluster to start: which backend services (all by default), and
/// settings for the gateway and for every process.
pub struct Start<'a> {
    pub options: Options,
    /// Backend services to start (names from `deploy/services.txt`); the
    /// gateway always starts. `None`: every one.
    pub services: Option<&'a [&'a str]>,
    pub gateway_env: &'a [(&'a str, &'a str)],
    pub every_env: &'a [(&'a str, &'a str)],
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if (std::thread::panicking() || std::env::var_os("BIANMIN_KEEP_LOGS").is_some())
            && let Some(dir) = self.dir.take()
        {
            eprintln!("cluster logs kept in {}", dir.keep().display());
        }
    }
}

/// The whole cluster.
pub struct Cluster {
    /// Logs and the NATS store; kept when a test fails (or with
    /// BIANMIN_KEEP_LOGS set), for a look.
    dir: Option<tempfile::TempDir>,
    pub nats: Nats,
    pub gateway: String,
    /// Each started backend's gRPC URL, by service name.
    pub grpc: HashMap<String, String>,
    pub intake_grpc: String,
    pub review_grpc: String,
    pub spans: Option<otlp::Receiver>,
    pub databases: HashMap<String, String>,
    /// Each process's metrics URL (`http://127.0.0.1:<port>/metrics`), by
    /// name (the backends and `gateway`): every process gets a free admin
    /// port of its own, as it does a free API port.
    pub metrics: HashMap<String, String>,
    processes: HashMap<String, Process>,
    /// The backends started, in start order.
    started: Vec<String>,
}

/// The password of every demo account (`deploy/seed/users.json`).
pub const DEMO_PASSWORD: &str = "bianmin-demo";

impl Cluster {
    pub async fn start(options: Options) -> anyhow::Result<Self> {
        Self::start_with(options, &[]).await
    }

    /// Starts the cluster with extra gateway settings (e.g. low rate limits).
    pub async fn start_with(
        options: Options,
        gateway_env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::start_with_all(options, gateway_env, &[]).await
    }

    /// [`Cluster::start_with`], plus settings for every process (e.g.
    /// service-to-service TLS).
    pub async fn start_with_all(
        options: Options,
        gateway_env: &[(&str, &str)],
        every_env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::launch(Start {
            options,
            services: None,
            gateway_env,
            every_env,
        })
        .await
    }

    /// Only `services` (and the gateway): a test of one service's
    /// capability starts nothing else.
    pub async fn start_only(services: &[&str], options: Options) -> anyhow::Result<Self> {
        Self::launch(Start {
            options,
            services: Some(services),
            gateway_env: &[],
            every_env: &[],
        })
        .await
    }

    pub async fn launch(start: Start<'_>) -> anyhow::Result<Self> {
        let all = services();
        let started: Vec<String> = match start.services {
            None => all.clone(),
            Some(names) => {
                for name in names {
                    anyhow::ensure!(
                        all.iter().any(|s| s == name),
                        "{name} is not in deploy/services.txt"
                    );
                }
                // In the list's order, which is the start order.
                all.iter()
                    .filter(|s| names.contains(&s.as_str()))
                    .cloned()
                    .collect()
            }
        };
        let dir = tempfile::Builder::new().prefix("bianmin-e2e-").tempdir()?;
        let nats = Nats::start(dir.path()).await?;
        let spans = if start.options.otlp {
            Some(otlp::Receiver::start().await?)
        } else {
            None
        };
        let tag = format!(
            "e2e_{}",
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..12)
                .unwrap_or("x")
        );
        // Every backend has a port, started or not: the gateway's client of
        // one not started finds nobody there (UNAVAILABLE).
        let ports: HashMap<String, u16> = all.iter().map(|s| (s.clone(), free_port())).collect();
        let grpc: HashMap<String, String> = ports
            .iter()
            .map(|(s, p)| (s.clone(), format!("http://127.0.0.1:{p}")))
            .collect();
        let mut databases: HashMap<String, String> = HashMap::new();
        for name in &started {
            databases.insert(name.clone(), database_for(name, &tag).await?);
        }
        let http_port = free_port();
        let keys = dir.path().join("pii-keys");
        std::fs::write(&keys, pii_key_file())?;
        let signing_key = dir.path().join("auth-signing-key.pem");
        std::fs::write(
            &signing_key,
            bianmin_common::auth::token::SigningKey::generate_pem(),
        )?;
        let root = workspace_root();
        let gateway_url = format!("http://127.0.0.1:{http_port}");

        let mut common = vec![
            ("RUST_LOG".to_string(), "info".to_string()),
            (
                "CALENDAR_DIR".to_string(),
                root.join("deploy/calendars").display().to_string(),
            ),
            ("NATS_URL".to_string(), nats.url()),
            // The gateway's development identity provider issues the tokens;
            // the services fetch its keys like they would a district IdP's.
            ("AUTH_ISSUER".to_string(), gateway_url.clone()),
            ("AUTH_AUDIENCE".to_string(), "bianmin".to_string()),
            (
                "AUTH_JWKS_URL".to_string(),
                format!("{gateway_url}/.well-known/jwks.json"),
            ),
        ];
        common.extend(
            start
                .every_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        if let Some(r) = &spans {
            common.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), r.endpoint()));
            common.push(("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "grpc".into()));
            common.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()));
        }
        let with = |extra: Vec<(&str, String)>| {
            let mut env = common.clone();
            env.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
            env
        };
        let log = |name: &str| dir.path().join(format!("{name}.log"));
        let metrics_ports: HashMap<String, u16> = started
            .iter()
            .cloned()
            .chain(std::iter::once("gateway".to_string()))
            .map(|s| (s, free_port()))
            .collect();
        let metrics = metrics_ports
            .iter()
            .map(|(s, p)| (s.clone(), format!("http://127.0.0.1:{p}/metrics")))
            .collect();
        let mut processes = HashMap::new();
        for name in &started {
            let mut env = vec![
                // Serving as the app role: row-level security holds.
                (
                    "DATABASE_URL",
                    format!("{}/{}", testkit::PG_APP, databases[name]),
                ),
                ("GRPC_ADDR", format!("127.0.0.1:{}", ports[name])),
                ("METRICS_ADDR", format!("127.0.0.1:{}", metrics_ports[name])),
                ("PII_KEYS_FILE", keys.display().to_string()),
            ];
            env.extend(settings_of(name, &root, dir.path()));
            processes.insert(
                name.clone(),
                Process {
                    binary: format!("bianmin-{name}"),
                    env: with(env),
                    log: log(name),
                    child: None,
                },
            );
        }
        let backend_urls: Vec<(String, String)> = all
            .iter()
            .map(|s| (format!("{}_GRPC_URL", s.to_uppercase()), grpc[s].clone()))
            .collect();
        let mut gateway_env: Vec<(&str, String)> = vec![
            ("HTTP_ADDR", format!("127.0.0.1:{http_port}")),
            (
                "METRICS_ADDR",
                format!("127.0.0.1:{}", metrics_ports["gateway"]),
            ),
            ("AUTH_SIGNING_KEY_FILE", signing_key.display().to_string()),
            (
                "AUTH_USERS_FILE",
                root.join("deploy/seed/users.json").display().to_string(),
            ),
        ];
        gateway_env.extend(backend_urls.iter().map(|(k, v)| (k.as_str(), v.clone())));
        gateway_env.extend(start.gateway_env.iter().map(|(k, v)| (*k, v.to_string())));
        processes.insert(
            "gateway".to_string(),
            Process {
                binary: "bianmin-gateway".to_string(),
                env: with(gateway_env),
                log: log("gateway"),
                child: None,
            },
        );
        let mut cluster = Self {
            dir: Some(dir),
            nats,
            gateway: gateway_url,
            intake_grpc: grpc.get("intake").cloned().unwrap_or_default(),
            review_grpc: grpc.get("review").cloned().unwrap_or_default(),
            grpc,
            spans,
            databases,
            metrics,
            processes,
            started: started.clone(),
        };
        for name in started
            .iter()
            .chain(std::iter::once(&"gateway".to_string()))
        {
            cluster
                .processes
                .get_mut(name.as_str())
                .expect("known service")
                .spawn()?;
        }
        cluster.wait_ready(Duration::from_secs(60)).await?;
        Ok(cluster)
    }

    /// Waits until the gateway reports every started backend SERVING.
    pub async fn wait_ready(&self, within: Duration) -> anyhow::Result<()> {
        let client = bianmin_common::http_client::client();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/readyz", self.gateway)).send().await {
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                let serving = |name: &str| {
                    body["backends"].as_array().is_some_and(|b| {
                        b.iter().any(|x| x["name"] == name && x["serving"] == true)
                    })
                };
                if self.started.iter().all(|s| serving(s)) {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        anyhow::bail!(
            "cluster not ready within {within:?}; logs:\n{}",
            self.logs()
        )
    }

    /// A fresh access token for a demo account, from the gateway's login.
    pub async fn token_for(&self, username: &str) -> anyhow::Result<String> {
        let response = bianmin_common::http_client::client()
            .post(format!("{}/api/v1/auth/login", self.gateway))
            .json(&serde_json::json!({"username": username, "password": DEMO_PASSWORD}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "login as {username}: {}",
            response.status()
        );
        let body: serde_json::Value = response.json().await?;
        body["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("login as {username}: no token in {body}"))
    }

    /// A client logged in as a demo account (password `bianmin-demo`):
    /// every request carries `Authorization: Bearer <token>`.
    pub async fn client_as(&self, username: &str) -> reqwest::Client {
        let token = self
            .token_for(username)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .expect("a token is a header value");
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        bianmin_common::http_client::builder()
            .default_headers(headers)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client")
    }

    /// GETs `path` (as `who`) until `check` holds on the JSON answer and
    /// returns it; after 30 s the test fails, naming `what`, with the logs.
    /// Events cross the cluster asynchronously: this is how a test waits
    /// for one's effect the way a user would, by looking again.
    pub async fn poll(
        &self,
        who: &reqwest::Client,
        path: &str,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = match who.get(format!("{}{path}", self.gateway)).send().await {
                Ok(r) => r.json().await.unwrap_or(serde_json::Value::Null),
                Err(e) => serde_json::Value::String(e.to_string()),
            };
            if check(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what} at {path}: {body}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The review case opened for an application (as `who`), once review
    /// has opened it.
    pub async fn case_of(&self, who: &reqwest::Client, application_id: &str) -> String {
        let app = self
            .poll(
                who,
                &format!("/api/v1/applications/{application_id}"),
                "the review case",
                |a| a["review"]["case_id"].is_string(),
            )
            .await;
        app["review"]["case_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The development identity provider's signing key, to mint tokens the
    /// tests need (expired, for another audience, …).
    pub fn signing_key(&self) -> bianmin_common::auth::token::SigningKey {
        let pem =
            std::fs::read(self.dir().join("auth-signing-key.pem")).expect("the signing key file");
        bianmin_common::auth::token::SigningKey::from_ec_pem(&pem).expect("a valid signing key")
    }

    /// SIGKILLs a service.
    pub async fn kill(&mut self, name: &str) {
        if let Some(mut child) = self.processes.get_mut(name).and_then(|p| p.child.take()) {
            let _ = child.kill().await;
        }
    }

    /// Sends SIGTERM and returns at once (the process drains and stops on
    /// its own; `terminate` waits for it).
    pub fn sigterm(&self, name: &str) {
        if let Some(pid) = self
            .processes
            .get(name)
            .and_then(|p| p.child.as_ref())
            .and_then(|c| c.id())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub async fn terminate(&mut self, name: &str) -> Option<std::process::ExitStatus> {
        let mut child = self.processes.get_mut(name).and_then(|p| p.child.take())?;
        if let Some(pid) = child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .ok()?
            .ok()
    }

    /// Sets a variable for the next (re)start of a service.
    pub fn set_env(&mut self, name: &str, key: &str, value: &str) {
        if let Some(p) = self.processes.get_mut(name) {
            p.env.retain(|(k, _)| k != key);
            p.env.push((key.to_string(), value.to_string()));
        }
    }

    /// Starts a second review process on the same database and NATS (as a
    /// second replica in a cluster would run), with review's current
    /// settings; it is named `review-2` for `kill`, `restart` and logs.
    pub async fn start_review_replica(&mut self) -> anyhow::Result<String> {
        let port = free_port();
        let mut env = self.processes["review"].env.clone();
        env.retain(|(k, _)| k != "GRPC_ADDR" && k != "METRICS_ADDR");
        env.push(("GRPC_ADDR".into(), format!("127.0.0.1:{port}")));
        let metrics_port = free_port();
        env.push(("METRICS_ADDR".into(), format!("127.0.0.1:{metrics_port}")));
        self.metrics.insert(
            "review-2".into(),
            format!("http://127.0.0.1:{metrics_port}/metrics"),
        );
        let mut replica = Process {
            binary: "bianmin-review".to_string(),
            env,
            log: self.dir().join("review-2.log"),
            child: None,
        };
        replica.spawn()?;
        self.processes.insert("review-2".to_string(), replica);
        anyhow::ensure!(
            wait_port(port, Duration::from_secs(30)).await,
            "review-2 did not listen:\n{}",
            self.logs()
        );
        Ok(format!("http://127.0.0.1:{port}"))
    }

    pub fn restart(&mut self, name: &str) -> anyhow::Result<()> {
        self.processes
            .get_mut(name)
            .ok_or_else(|| anyhow::anyhow!("no service {name}"))?
            .spawn()
    }

    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(Path::new("."))
    }

    pub fn database_url(&self, service: &str) -> String {
        format!("{PG_BASE}/{}", self.databases[service])
    }

    /// One scrape of a process's metrics (`gateway` or a backend's name).
    pub async fn scrape(&self, name: &str) -> anyhow::Result<Scrape> {
        let url = self
            .metrics
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("no metrics URL for {name}"))?;
        let response = bianmin_common::http_client::client()
            .get(url)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        Ok(Scrape::parse(&response.text().await?))
    }

    /// The last lines of every log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let mut names: Vec<&str> = self.processes.keys().map(String::as_str).collect();
        names.sort();
        names.push("nats");
        for name in names {
            let text =
                std::fs::read_to_string(self.dir().join(format!("{name}.log"))).unwrap_or_default();
            let lines: Vec<_> = text.lines().collect();
            out.push_str(&format!(
                "--- {name} ---\n{}\n",
                lines[lines.len().saturating_sub(30)..].join("\n")
            ));
        }
        out
    }

    /// Stops everything and drops the test databases.
    pub async fn stop(mut self) {
        if std::env::var_os("BIANMIN_KEEP_LOGS").is_some()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("cluster logs kept in {}", dir.keep().display());
        }
        let names: Vec<String> = self.processes.keys().cloned().collect();
        for name in names {
            self.kill(&name).await;
        }
        self.nats.kill().await;
        if let Ok(mut conn) =
            <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{PG_BASE}/postgres")).await
        {
            for db in self.databases.values() {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
            }
        }
    }
}

fn pii_key_file() -> String {
    bianmin_common::pii::PiiKeys::generate_file("e2e-1")
}

/// SHA-256 in lowercase hex, as materials are reported and stored.
pub fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A valid resident ID number (GB 11643) for a region, birth date and sequence.
pub fn id_number(region: &str, birth: chrono::NaiveDate, seq: u32) -> String {
    bianmin_intake::domain::id_number::compose(region, birth, seq)
}

/// A scrape in Prometheus' text format, as samples: the series (name and
/// labels, as written) and its value.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    pub samples: Vec<(String, HashMap<String, String>, f64)>,
    pub text: String,
}

impl Scrape {
    pub fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (series, HashMap::new()),
            };
            samples.push((name.to_string(), labels, value));
        }
        Self {
            samples,
            text: text.to_string(),
        }
    }

    /// The sum of every sample of `name` whose labels include `labels`
    /// (0 when there is none: a counter not yet incremented is absent).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }

    /// Whether any sample of `name` is there.
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|(n, _, _)| n == name)
    }
}

fn parse_labels(text: &str) -> HashMap<String, String> {
    // `k="v",k2="v2"`; values escape `"` and `\` with a backslash.
    let mut out = HashMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(key.trim_start_matches(',').trim().to_string(), value);
        rest = &after[end..];
    }
    out
}
