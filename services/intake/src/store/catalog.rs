//! Centers and service types, and the seed that fills them.

use bianmin_proto::intake::v1 as pb;
use serde::Deserialize;
use sqlx::{PgConnection, PgPool, Row};

#[derive(Debug, Deserialize)]
pub struct SeedFile {
    pub centers: Vec<SeedCenter>,
    pub service_types: Vec<SeedServiceType>,
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
pub struct SeedServiceType {
    pub code: String,
    pub name: String,
    pub domain: String,
    pub class: String,
    pub preliminary_review_days: i32,
    pub extended_review_days: i32,
    pub decision_days: i32,
    #[serde(default)]
    pub sensitive: bool,
}

/// Upserts the seed in one transaction: all of it or none.
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
    for t in &seed.service_types {
        sqlx::query(
            "INSERT INTO service_types (code, name, domain, class, preliminary_review_days, extended_review_days, decision_days, sensitive)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (code) DO UPDATE SET name = $2, domain = $3, class = $4, preliminary_review_days = $5,
                 extended_review_days = $6, decision_days = $7, sensitive = $8",
        )
        .bind(&t.code)
        .bind(&t.name)
        .bind(&t.domain)
        .bind(&t.class)
        .bind(t.preliminary_review_days)
        .bind(t.extended_review_days)
        .bind(t.decision_days)
        .bind(t.sensitive)
        .execute(&mut *tx)
        .await
        .map_err(|e| anyhow::anyhow!("seeding service type {}: {e}", t.code))?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn centers(pool: &PgPool) -> sqlx::Result<Vec<pb::Center>> {
    let rows = sqlx::query("SELECT id, name, district, address FROM centers ORDER BY id")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| pb::Center {
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

fn service_type(r: sqlx::postgres::PgRow) -> pb::ServiceType {
    pb::ServiceType {
        code: r.get("code"),
        name: r.get("name"),
        domain: r.get("domain"),
        class: r.get("class"),
        preliminary_review_days: r.get::<i32, _>("preliminary_review_days") as u32,
        extended_review_days: r.get::<i32, _>("extended_review_days") as u32,
        decision_days: r.get::<i32, _>("decision_days") as u32,
        sensitive: r.get("sensitive"),
        active: r.get("active"),
    }
}

const SERVICE_TYPE_COLUMNS: &str = "code, name, domain, class, preliminary_review_days, extended_review_days, decision_days, sensitive, active";

pub async fn service_types(pool: &PgPool) -> sqlx::Result<Vec<pb::ServiceType>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SERVICE_TYPE_COLUMNS} FROM service_types ORDER BY code"
    )))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(service_type).collect())
}

pub async fn find_service_type(
    tx: &mut PgConnection,
    code: &str,
) -> sqlx::Result<Option<pb::ServiceType>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SERVICE_TYPE_COLUMNS} FROM service_types WHERE code = $1"
    )))
    .bind(code)
    .fetch_optional(tx)
    .await?;
    Ok(row.map(service_type))
}
