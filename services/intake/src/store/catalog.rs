//! Centers, departments and service types, the seed that fills them, and
//! the administration of types (create, change, retire), each change kept
//! in `service_type_history` in the same transaction.

use crate::domain::catalog::{self as rules, ChecklistItem, Definition};
use bianmin_common::auth::Principal;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool, Row};

#[derive(Debug, Deserialize)]
pub struct SeedFile {
    pub centers: Vec<SeedCenter>,
    #[serde(default)]
    pub departments: Vec<SeedDepartment>,
    pub service_types: Vec<Definition>,
}

#[derive(Debug, Deserialize)]
pub struct SeedCenter {
    pub id: String,
    pub name: String,
    pub district: String,
    #[serde(default)]
    pub address: String,
}

#[derive(Debug, Deserialize)]
pub struct SeedDepartment {
    pub code: String,
    pub name: String,
}

/// Applies the seed in one transaction: all of it or none. Centers and
/// departments are upserted; service types are only added when missing,
/// because once seeded they belong to the district administrators, whose
/// changes a restart must not undo.
pub async fn apply_seed(pool: &PgPool, seed: &SeedFile) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for c in &seed.centers {
        sqlx::query(
            "INSERT INTO centers (id, name, district, address) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET name = $2, district = $3, address = $4",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.district)
        .bind(&c.address)
        .execute(&mut *tx)
        .await?;
    }
    for d in &seed.departments {
        anyhow::ensure!(
            rules::code_ok(&d.code, 40),
            "seed department code {:?} is not a valid code",
            d.code
        );
        sqlx::query(
            "INSERT INTO departments (code, name) VALUES ($1, $2)
             ON CONFLICT (code) DO UPDATE SET name = $2",
        )
        .bind(&d.code)
        .bind(&d.name)
        .execute(&mut *tx)
        .await?;
    }
    let seeder = Principal {
        subject: "seed".into(),
        role: bianmin_common::auth::Role::Service,
        center_id: None,
        centers: Vec::new(),
    };
    for t in &seed.service_types {
        let valid = rules::validate(t).map_err(|v| {
            anyhow::anyhow!(
                "seed service type {}: {}",
                t.code,
                v.iter()
                    .map(|v| format!("{} {}", v.field, v.rule))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        if insert(&mut tx, &valid).await? || upgrade_pre_checklist(&mut tx, &valid).await? {
            record(&mut tx, &valid, 1, "seeded", &seeder, "", None).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A service center as listed.
#[derive(Clone, Debug)]
pub struct Center {
    pub id: String,
    pub name: String,
    pub district: String,
    pub address: String,
}

pub async fn centers(pool: &PgPool) -> sqlx::Result<Vec<Center>> {
    let rows = sqlx::query("SELECT id, name, district, address FROM centers ORDER BY id")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Center {
            id: r.get("id"),
            name: r.get("name"),
            district: r.get("district"),
            address: r.get("address"),
        })
        .collect())
}

pub async fn center_name(tx: &mut PgConnection, id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT name FROM centers WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// A department of the directory.
#[derive(Clone, Debug)]
pub struct Department {
    pub code: String,
    pub name: String,
}

pub async fn departments(pool: &PgPool) -> sqlx::Result<Vec<Department>> {
    let rows = sqlx::query("SELECT code, name FROM departments ORDER BY code")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Department {
            code: r.get("code"),
            name: r.get("name"),
        })
        .collect())
}

/// The codes among `codes` that are not known departments.
pub async fn unknown_departments(
    tx: &mut PgConnection,
    codes: &[String],
) -> sqlx::Result<Vec<String>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "SELECT c FROM unnest($1::text[]) AS c WHERE NOT EXISTS (SELECT 1 FROM departments d WHERE d.code = c)",
    )
    .bind(codes)
    .fetch_all(tx)
    .await
}

pub fn checklist_from_json(value: serde_json::Value) -> Vec<ChecklistItem> {
    serde_json::from_value(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "stored checklist does not parse");
        Vec::new()
    })
}

/// A stored type: its definition and where it stands.
#[derive(Clone, Debug)]
pub struct Stored {
    pub definition: Definition,
    pub version: i32,
    pub retired_at: Option<DateTime<Utc>>,
}

impl Stored {
    pub fn active(&self) -> bool {
        self.retired_at.is_none()
    }
}

fn stored(r: sqlx::postgres::PgRow) -> Stored {
    Stored {
        definition: Definition {
            code: r.get("code"),
            name: r.get("name"),
            domain: r.get("domain"),
            class: r.get("class"),
            preliminary_review_days: r.get::<i32, _>("preliminary_review_days") as u32,
            extended_review_days: r.get::<i32, _>("extended_review_days") as u32,
            decision_days: r.get::<i32, _>("decision_days") as u32,
            sensitive: r.get("sensitive"),
            materials: checklist_from_json(r.get("materials")),
        },
        version: r.get("version"),
        retired_at: r.get("retired_at"),
    }
}

const SERVICE_TYPE_COLUMNS: &str = "code, name, domain, class, preliminary_review_days, extended_review_days, decision_days, sensitive, materials, version, retired_at";

pub async fn service_types(pool: &PgPool) -> sqlx::Result<Vec<Stored>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SERVICE_TYPE_COLUMNS} FROM service_types ORDER BY code"
    )))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(stored).collect())
}

/// How a read of a type locks its row until the transaction ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    None,
    /// A change (a submission waits for it with its own share lock: see
    /// `applications::insert_submitted`): it and its history row cannot
    /// interleave with another.
    Update,
}

pub async fn find_service_type(
    tx: &mut PgConnection,
    code: &str,
    lock: Lock,
) -> sqlx::Result<Option<Stored>> {
    let clause = match lock {
        Lock::None => "",
        Lock::Update => " FOR UPDATE",
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SERVICE_TYPE_COLUMNS} FROM service_types WHERE code = $1{clause}"
    )))
    .bind(code)
    .fetch_optional(tx)
    .await?;
    Ok(row.map(stored))
}

/// What a submission checks against the catalog, read in one round trip.
pub struct ForSubmission {
    /// As read; the submission's write locks it again (FOR SHARE) and
    /// writes nothing if it was retired meanwhile.
    pub service_type: Stored,
    pub center_name: Option<String>,
    /// The codes among the named departments that are not known.
    pub unknown_departments: Vec<String>,
    /// The next `application_no_seq` number, taken here to save a round
    /// trip; a submission refused after this leaves a gap, as a rolled-back
    /// one always did.
    pub seq: i64,
}

/// The service type, the center, the departments and the application
/// number a submission needs, in one statement instead of four (each is a
/// round trip). `None` when the type is unknown (the caller then looks up
/// the rest on its own, to report every broken rule).
pub async fn for_submission(
    tx: &mut PgConnection,
    code: &str,
    center_id: &str,
    departments: &[String],
) -> sqlx::Result<Option<ForSubmission>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SERVICE_TYPE_COLUMNS},
                (SELECT name FROM centers WHERE id = $2) AS center_name,
                ARRAY(SELECT c FROM unnest($3::text[]) AS c
                      WHERE NOT EXISTS (SELECT 1 FROM departments d WHERE d.code = c)) AS unknown_departments,
                nextval('application_no_seq') AS seq
         FROM service_types WHERE code = $1"
    )))
    .bind(code)
    .bind(center_id)
    .bind(departments)
    .fetch_optional(tx)
    .await?;
    Ok(row.map(|r| ForSubmission {
        center_name: r.get("center_name"),
        unknown_departments: r.get("unknown_departments"),
        seq: r.get("seq"),
        service_type: stored(r),
    }))
}

/// A type seeded before types had checklists and never changed since
/// (version 1, no history) takes the seed's definition once.
async fn upgrade_pre_checklist(tx: &mut PgConnection, d: &Definition) -> sqlx::Result<bool> {
    let done = bind_definition(
    sqlx::query(
        "UPDATE service_types SET name = $2, domain = $3, class = $4, preliminary_review_days = $5,
             extended_review_days = $6, decision_days = $7, sensitive = $8, materials = $9
         WHERE code = $1 AND version = 1 AND materials = '[]'::jsonb
           AND NOT EXISTS (SELECT 1 FROM service_type_history h WHERE h.code = $1)",
    ),
    d,
)
    .execute(tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Binds a definition as `$1`..`$9` (code, name, domain, class, the three
/// limits, the sensitive flag, the checklist), the order every statement
/// here writes them in.
fn bind_definition<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    d: &'q Definition,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(&d.code)
        .bind(&d.name)
        .bind(&d.domain)
        .bind(&d.class)
        .bind(d.preliminary_review_days as i32)
        .bind(d.extended_review_days as i32)
        .bind(d.decision_days as i32)
        .bind(d.sensitive)
        .bind(serde_json::to_value(&d.materials).unwrap_or_default())
}

/// Inserts a new type; false when the code is taken.
pub async fn insert(tx: &mut PgConnection, d: &Definition) -> sqlx::Result<bool> {
    let done = bind_definition(
    sqlx::query(
        "INSERT INTO service_types (code, name, domain, class, preliminary_review_days, extended_review_days,
             decision_days, sensitive, materials, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1)
         ON CONFLICT (code) DO NOTHING",
    ),
    d,
)
    .execute(tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Keeps version `version` of a type in its history, with who changed it
/// and why.
pub async fn record(
    tx: &mut PgConnection,
    d: &Definition,
    version: i32,
    change: &str,
    actor: &Principal,
    reason: &str,
    retired_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    let mut snapshot = serde_json::to_value(d).unwrap_or_default();
    snapshot["retired_at"] = serde_json::json!(retired_at);
    sqlx::query(
        "INSERT INTO service_type_history (code, version, change, actor, role, reason, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&d.code)
    .bind(version)
    .bind(change)
    .bind(&actor.subject)
    .bind(actor.role.as_str())
    .bind(reason)
    .bind(snapshot)
    .execute(tx)
    .await?;
    Ok(())
}

/// Replaces a type's definition as version `version`.
pub async fn replace(tx: &mut PgConnection, d: &Definition, version: i32) -> sqlx::Result<()> {
    bind_definition(
        sqlx::query(
            "UPDATE service_types SET name = $2, domain = $3, class = $4, preliminary_review_days = $5,
             extended_review_days = $6, decision_days = $7, sensitive = $8, materials = $9, version = $10
         WHERE code = $1",
        ),
        d,
    )
    .bind(version)
    .execute(tx)
    .await?;
    Ok(())
}

/// Marks a type retired at `at`, as version `version`.
pub async fn mark_retired(
    tx: &mut PgConnection,
    code: &str,
    at: DateTime<Utc>,
    version: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE service_types SET active = false, retired_at = $2, version = $3 WHERE code = $1",
    )
    .bind(code)
    .bind(at)
    .bind(version)
    .execute(tx)
    .await?;
    Ok(())
}

/// One change of a type, as its history keeps it.
#[derive(Clone, Debug)]
pub struct HistoryEntry {
    pub version: i32,
    pub change: String,
    pub actor: String,
    pub role: String,
    pub at: DateTime<Utc>,
    pub reason: String,
    /// The type as it was after the change.
    pub service_type: Stored,
}

/// Every change of one type, oldest first; empty for an unknown code.
pub async fn history(pool: &PgPool, code: &str) -> sqlx::Result<Vec<HistoryEntry>> {
    let rows = sqlx::query(
        "SELECT version, change, actor, role, at, reason, snapshot FROM service_type_history
         WHERE code = $1 ORDER BY version",
    )
    .bind(code)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let snapshot: serde_json::Value = r.get("snapshot");
            let retired_at = snapshot["retired_at"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc));
            let version: i32 = r.get("version");
            let definition: Definition = serde_json::from_value(snapshot).unwrap_or_default();
            HistoryEntry {
                version,
                change: r.get("change"),
                actor: r.get("actor"),
                role: r.get("role"),
                at: r.get("at"),
                reason: r.get("reason"),
                service_type: Stored {
                    definition,
                    version,
                    retired_at,
                },
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo district `make up` seeds: every type valid, the domains
    /// covered, the utility types on the 2/3-day policy.
    #[test]
    fn the_seeded_catalog_is_valid_and_covers_the_domains() {
        let seed: SeedFile =
            serde_json::from_str(include_str!("../../../../deploy/seed/catalog.json")).unwrap();
        assert!(seed.centers.len() >= 3);
        assert!(seed.service_types.len() >= 12);
        for t in &seed.service_types {
            let valid = rules::validate(t).unwrap_or_else(|v| panic!("{}: {v:?}", t.code));
            assert!(!valid.materials.is_empty(), "{} has no checklist", t.code);
        }
        let used = |d: &str| seed.service_types.iter().any(|t| t.domain == d);
        let missing: Vec<_> = rules::DOMAINS.iter().filter(|d| !used(d)).collect();
        assert!(missing.is_empty(), "domains without a type: {missing:?}");
        for t in seed
            .service_types
            .iter()
            .filter(|t| t.code.starts_with("utility-"))
        {
            assert_eq!(
                (t.preliminary_review_days, t.extended_review_days),
                (2, 3),
                "{}",
                t.code
            );
        }
        // Codes the tests and the benchmark use.
        for code in [
            "elderly-care-subsidy",
            "medical-aid",
            "utility-water-connection",
        ] {
            assert!(seed.service_types.iter().any(|t| t.code == code), "{code}");
        }
        for d in &seed.departments {
            assert!(rules::code_ok(&d.code, 40), "{}", d.code);
        }
    }
}
