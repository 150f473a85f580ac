//! Materials: the content in an object store (`object_store`: a local
//! directory on one machine, an S3-compatible bucket in Kubernetes), the
//! facts (item, SHA-256, size, type, uploader, time) in PostgreSQL. The rest
//! of the service sees only `dyn ObjectStore`.
//!
//! Objects are content-addressed per application and item
//! (`applications/<id>/<item>/<sha256>`), so the object is written first
//! and the row after: a crash between the two leaves an object that the
//! retry overwrites with the same bytes, never a row without its content.

use crate::domain::catalog::ChecklistItem;
use crate::domain::status::Status;
use bianmin_common::db::{self, Scope};
use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use sha2::{Digest as _, Sha256};
use sqlx::{PgConnection, PgPool, Row};
use std::sync::Arc;
use uuid::Uuid;

/// Where materials are kept: `MATERIALS_DIR`, or the bucket named by
/// `MATERIALS_S3_BUCKET` when that is set.
#[derive(Clone, Debug)]
pub enum Location {
    Directory(std::path::PathBuf),
    S3(S3Location),
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph RGW …). Credentials come
/// from the standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (or the
/// pod's web identity), never from these settings, so they stay in Secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// `MATERIALS_S3_ENDPOINT`; `None` is AWS itself.
    pub endpoint: Option<String>,
    pub region: String,
}

impl Location {
    /// Reads the location from the environment; a bad value is reported
    /// with the other configuration problems.
    pub fn read(env: &mut bianmin_common::config::Env) -> Self {
        let Some(bucket) = env.optional("MATERIALS_S3_BUCKET") else {
            return Location::Directory(env.path("MATERIALS_DIR", "deploy/.data/materials"));
        };
        let endpoint = env.optional("MATERIALS_S3_ENDPOINT");
        if let Some(e) = &endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            env.reject(format!(
                "MATERIALS_S3_ENDPOINT={e:?}: an http:// or https:// URL is needed"
            ));
        }
        if !valid_bucket_name(&bucket) {
            env.reject(format!(
                "MATERIALS_S3_BUCKET={bucket:?}: a bucket name is 3-63 lowercase letters, digits, '.' or '-'"
            ));
        }
        Location::S3(S3Location {
            bucket,
            endpoint,
            region: env.string("MATERIALS_S3_REGION", "us-east-1"),
        })
    }
}

/// S3's bucket naming rule, enough to catch a typo before the first upload.
fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

pub fn open(location: &Location) -> anyhow::Result<Arc<dyn ObjectStore>> {
    Ok(match location {
        Location::Directory(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("MATERIALS_DIR {}: {e}", dir.display()))?;
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir)?)
        }
        Location::S3(s3) => {
            // object_store builds a reqwest client, whose TLS needs the
            // process's crypto provider.
            bianmin_common::http_client::install_crypto_provider();
            Arc::new(
                s3_builder(s3, object_store::aws::AmazonS3Builder::from_env())
                    .build()
                    .map_err(|e| anyhow::anyhow!("MATERIALS_S3_BUCKET {}: {e}", s3.bucket))?,
            )
        }
    })
}

/// `builder` (the environment's AWS settings, credentials among them) set
/// to the bucket and endpoint.
fn s3_builder(
    s3: &S3Location,
    builder: object_store::aws::AmazonS3Builder,
) -> object_store::aws::AmazonS3Builder {
    let builder = builder
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        // The crate's default retries for three minutes; a resident's
        // upload is cut off by its gRPC deadline (GRPC_TIMEOUT_MS, 10 s)
        // long before, and the start-up probe should say an endpoint is
        // down within seconds.
        .with_retry(object_store::RetryConfig {
            backoff: Default::default(),
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(8),
        });
    match &s3.endpoint {
        // In-cluster storage is often plain HTTP behind the cluster
        // network; an https endpoint never falls back.
        Some(endpoint) => builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://")),
        None => builder,
    }
}

/// Where the start-up probe writes: outside `applications/`, so it can
/// never be taken for a material.
const PROBE_KEY: &str = "_probe/intake";

/// Writes and reads back a small object, so a missing bucket, a wrong
/// endpoint or refused credentials stop readiness at start instead of
/// failing the first resident's upload.
pub async fn probe(store: &dyn ObjectStore) -> object_store::Result<()> {
    let path = ObjectPath::from(PROBE_KEY);
    store.put(&path, PutPayload::from_static(b"ok")).await?;
    store.get(&path).await?.bytes().await?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What an upload needs to know about its application.
pub struct Target {
    pub center_id: String,
    pub submitted_by: String,
    pub status: Status,
    pub checklist: Vec<ChecklistItem>,
}

pub async fn target(
    pool: &PgPool,
    scope: &Scope,
    application_id: Uuid,
) -> sqlx::Result<Option<Target>> {
    let mut tx = db::begin(pool, scope).await?;
    let row = sqlx::query(
        "SELECT a.center_id, a.submitted_by, a.status, COALESCE(a.checklist, s.materials) AS checklist
         FROM applications a JOIN service_types s ON s.code = a.service_type WHERE a.id = $1",
    )
    .bind(application_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let status: String = r.get("status");
    Ok(Some(Target {
        center_id: r.get("center_id"),
        submitted_by: r.get("submitted_by"),
        status: Status::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "status".into(),
            source: format!("unknown application status {status:?}").into(),
        })?,
        checklist: super::catalog::checklist_from_json(r.get("checklist")),
    }))
}

const COLUMNS: &str =
    "id, item_code, file_name, content_type, size_bytes, sha256, uploaded_by, uploaded_at";

/// A stored material, without its content.
#[derive(Clone, Debug)]
pub struct File {
    pub id: Uuid,
    pub item_code: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
}

fn file(r: &sqlx::postgres::PgRow) -> File {
    File {
        id: r.get("id"),
        item_code: r.get("item_code"),
        file_name: r.get("file_name"),
        content_type: r.get("content_type"),
        size_bytes: r.get::<i64, _>("size_bytes") as u64,
        sha256: r.get("sha256"),
        uploaded_by: r.get("uploaded_by"),
        uploaded_at: r.get("uploaded_at"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The object store failed (logged with the object's key).
    #[error("object store unavailable")]
    Unavailable,
    #[error("material {0} vanished")]
    Vanished(String),
}

/// An application's materials, oldest first.
pub async fn list(pool: &PgPool, scope: &Scope, application_id: Uuid) -> sqlx::Result<Vec<File>> {
    let mut tx = db::begin(pool, scope).await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM materials WHERE application_id = $1 ORDER BY uploaded_at, id"
    )))
    .bind(application_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.iter().map(file).collect())
}

async fn existing(
    conn: &mut PgConnection,
    application_id: Uuid,
    item: &str,
    sha256: &str,
) -> sqlx::Result<Option<File>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM materials WHERE application_id = $1 AND item_code = $2 AND sha256 = $3"
    )))
    .bind(application_id)
    .bind(item)
    .bind(sha256)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(file))
}

/// A checked upload, ready to store.
pub struct Upload<'a> {
    pub application_id: Uuid,
    pub item_code: &'a str,
    pub file_name: &'a str,
    pub content_type: &'static str,
    pub content: bytes::Bytes,
    pub uploaded_by: &'a str,
}

/// A stored upload.
pub struct Saved {
    pub file: File,
    /// The same content for the same item was stored before: this is it.
    pub replayed: bool,
}

/// Stores an upload; the same content for the same item again returns the
/// first material (replayed).
pub async fn save(
    pool: &PgPool,
    scope: &Scope,
    store: &dyn ObjectStore,
    u: Upload<'_>,
) -> Result<Saved, Error> {
    let sha256 = hex(&Sha256::digest(&u.content));
    let mut tx = db::begin(pool, scope).await?;
    let found = existing(&mut tx, u.application_id, u.item_code, &sha256).await?;
    // Not held across the object store's write.
    drop(tx);
    if let Some(found) = found {
        return Ok(Saved {
            file: found,
            replayed: true,
        });
    }
    let key = format!("applications/{}/{}/{sha256}", u.application_id, u.item_code);
    let size = u.content.len() as i64;
    store
        .put(&ObjectPath::from(key.as_str()), PutPayload::from(u.content))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, key, "object store write failed");
            Error::Unavailable
        })?;
    // Scoped: the policy lets the row in only for an application the
    // scope sees.
    let mut tx = db::begin(pool, scope).await?;
    let inserted = sqlx::query(
        "INSERT INTO materials (id, application_id, item_code, file_name, content_type, size_bytes, sha256, object_key, uploaded_by, center_id)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, a.center_id FROM applications a WHERE a.id = $2
         ON CONFLICT (application_id, item_code, sha256) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(u.application_id)
    .bind(u.item_code)
    .bind(u.file_name)
    .bind(u.content_type)
    .bind(size)
    .bind(&sha256)
    .bind(&key)
    .bind(u.uploaded_by)
    .execute(&mut *tx)
    .await?;
    let stored = existing(&mut tx, u.application_id, u.item_code, &sha256)
        .await?
        .ok_or_else(|| Error::Vanished(key.clone()))?;
    tx.commit().await?;
    Ok(Saved {
        file: stored,
        replayed: inserted.rows_affected() == 0,
    })
}

/// A material with its content.
pub struct Loaded {
    pub file: File,
    pub content: bytes::Bytes,
}

/// One material and its content.
pub async fn load(
    pool: &PgPool,
    scope: &Scope,
    store: &dyn ObjectStore,
    application_id: Uuid,
    material_id: Uuid,
) -> Result<Option<Loaded>, Error> {
    let mut tx = db::begin(pool, scope).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, object_key FROM materials WHERE application_id = $1 AND id = $2"
    )))
    .bind(application_id)
    .bind(material_id)
    .fetch_optional(&mut *tx)
    .await?;
    drop(tx);
    let Some(row) = row else {
        return Ok(None);
    };
    let key: String = row.get("object_key");
    let content = async {
        store
            .get(&ObjectPath::from(key.as_str()))
            .await?
            .bytes()
            .await
    }
    .await
    .map_err(|e| {
        tracing::error!(error = %e, key, "object store read failed");
        Error::Unavailable
    })?;
    Ok(Some(Loaded {
        file: file(&row),
        content,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bianmin_common::config::Env;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> (Location, anyhow::Result<()>) {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut env = Env::from_map(map);
        let location = Location::read(&mut env);
        (location, env.finish())
    }

    #[test]
    fn a_directory_unless_a_bucket_is_named() {
        let (location, ok) = read(&[("MATERIALS_DIR", "/srv/materials")]);
        ok.unwrap();
        assert!(
            matches!(location, Location::Directory(d) if d == std::path::Path::new("/srv/materials"))
        );
    }

    #[test]
    fn a_bucket_with_its_endpoint_and_default_region() {
        let (location, ok) = read(&[
            ("MATERIALS_DIR", "/srv/materials"),
            ("MATERIALS_S3_BUCKET", "bianmin-materials"),
            ("MATERIALS_S3_ENDPOINT", "http://minio:9000"),
        ]);
        ok.unwrap();
        let Location::S3(s3) = location else {
            panic!("expected S3")
        };
        assert_eq!(
            s3,
            S3Location {
                bucket: "bianmin-materials".into(),
                endpoint: Some("http://minio:9000".into()),
                region: "us-east-1".into(),
            }
        );
    }

    #[test]
    fn bad_bucket_and_endpoint_are_both_reported() {
        let (_, result) = read(&[
            ("MATERIALS_S3_BUCKET", "Bianmin_Materials"),
            ("MATERIALS_S3_ENDPOINT", "minio:9000"),
        ]);
        let message = result.unwrap_err().to_string();
        assert!(message.contains("MATERIALS_S3_BUCKET"), "{message}");
        assert!(message.contains("MATERIALS_S3_ENDPOINT"), "{message}");
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_fails_the_probe_naming_it() {
        // A port nobody listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let location = S3Location {
            bucket: "bianmin-materials".into(),
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            region: "us-east-1".into(),
        };
        bianmin_common::http_client::install_crypto_provider();
        let store = s3_builder(&location, object_store::aws::AmazonS3Builder::new())
            .with_access_key_id("probe")
            .with_secret_access_key("probe")
            .build()
            .unwrap();
        // What the operator reads in the log names the endpoint.
        let error = probe(&store).await.unwrap_err().to_string();
        assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    }

    #[test]
    fn bucket_names_follow_the_s3_rule() {
        for ok in ["abc", "bianmin-materials", "c01.materials", "a1b"] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in ["ab", "-abc", "abc-", "ABC", "a_b_c", &"a".repeat(64)] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
