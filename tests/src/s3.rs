//! An S3-compatible server of the test's own (moto's server mode, which
//! speaks the S3 REST API over a real socket; `make test` installs it and
//! sets `BIANMIN_S3_SERVER_BIN`), and a client to look inside its buckets
//! the way an operator would, past intake.

use crate::{free_port, wait_port};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};

/// The access key pair the tests use; the server accepts any.
pub const ACCESS_KEY_ID: &str = "bianmin-test";
pub const SECRET_ACCESS_KEY: &str = "bianmin-test-secret";
pub const REGION: &str = "us-east-1";

pub struct S3Server {
    pub port: u16,
    log: std::path::PathBuf,
    _child: Child,
}

impl S3Server {
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin =
            std::env::var("BIANMIN_S3_SERVER_BIN").unwrap_or_else(|_| "moto_server".to_string());
        let port = free_port();
        let log = dir.join("s3.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("starting {bin}: {e} (make test sets BIANMIN_S3_SERVER_BIN)")
            })?;
        anyhow::ensure!(
            wait_port(port, Duration::from_secs(30)).await,
            "the S3 server did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Ok(Self {
            port,
            log,
            _child: child,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (S3 `CreateBucket`, a `PUT /<bucket>`).
    pub async fn create_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        let response = bianmin_common::http_client::client()
            .put(format!("{}/{bucket}", self.endpoint()))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "creating bucket {bucket}: {}",
            response.status()
        );
        Ok(())
    }

    /// The settings that point intake at `bucket` on this server.
    pub fn intake_env(&self, bucket: &str) -> Vec<(&'static str, String)> {
        vec![
            ("MATERIALS_S3_BUCKET", bucket.to_string()),
            ("MATERIALS_S3_ENDPOINT", self.endpoint()),
            ("MATERIALS_S3_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_string()),
        ]
    }

    /// A client of `bucket`, to read what intake wrote.
    pub fn bucket(&self, bucket: &str) -> anyhow::Result<Arc<AmazonS3>> {
        bianmin_common::http_client::install_crypto_provider();
        Ok(Arc::new(
            AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(REGION)
                .with_endpoint(self.endpoint())
                .with_allow_http(true)
                .with_access_key_id(ACCESS_KEY_ID)
                .with_secret_access_key(SECRET_ACCESS_KEY)
                .build()?,
        ))
    }

    /// Every key under `prefix`, sorted.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        use futures::TryStreamExt as _;
        let store = self.bucket(bucket)?;
        let prefix = object_store::path::Path::from(prefix);
        let mut keys: Vec<String> = store
            .list(Some(&prefix))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await?;
        keys.sort();
        Ok(keys)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
