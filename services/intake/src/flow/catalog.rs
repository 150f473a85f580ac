//! District administrators' changes of the catalog, each with its history
//! row in one transaction; the rules are the domain's
//! ([`crate::domain::catalog`]).

use super::Error;
use crate::domain::catalog::{self as rules, Change, Definition};
use crate::store::catalog::{self, Lock, Stored};
use bianmin_common::auth::Principal;
use chrono::Utc;
use sqlx::{PgConnection, PgPool};

/// A type after an administration call.
pub struct Changed {
    pub service_type: Stored,
    /// Nothing was changed: the type already was as asked.
    pub replayed: bool,
}

impl Changed {
    fn applied(service_type: Stored) -> Self {
        Changed {
            service_type,
            replayed: false,
        }
    }

    fn replayed(service_type: Stored) -> Self {
        Changed {
            service_type,
            replayed: true,
        }
    }
}

async fn find(tx: &mut PgConnection, code: &str, lock: Lock) -> Result<Stored, Error> {
    catalog::find_service_type(tx, code, lock)
        .await?
        .ok_or_else(|| Error::NoServiceType(code.to_string()))
}

/// Creates a type. Idempotent on the code: the same definition again is a
/// replay; another definition under a taken code is a conflict.
pub async fn create(pool: &PgPool, d: &Definition, actor: &Principal) -> Result<Changed, Error> {
    let mut tx = pool.begin().await?;
    if catalog::insert(&mut tx, d).await? {
        catalog::record(&mut tx, d, 1, "created", actor, "", None).await?;
        let created = find(&mut tx, &d.code, Lock::None).await?;
        tx.commit().await?;
        return Ok(Changed::applied(created));
    }
    let existing = find(&mut tx, &d.code, Lock::None).await?;
    rules::create_again(&existing.definition, d)?;
    Ok(Changed::replayed(existing))
}

/// Replaces a type's definition; a retired type cannot change.
pub async fn update(pool: &PgPool, d: &Definition, actor: &Principal) -> Result<Changed, Error> {
    let mut tx = pool.begin().await?;
    let existing = find(&mut tx, &d.code, Lock::Update).await?;
    if rules::update(&existing.definition, existing.active(), d)? == Change::Replay {
        return Ok(Changed::replayed(existing));
    }
    let version = existing.version + 1;
    catalog::replace(&mut tx, d, version).await?;
    catalog::record(&mut tx, d, version, "updated", actor, "", None).await?;
    tx.commit().await?;
    Ok(Changed::applied(Stored {
        definition: d.clone(),
        version,
        retired_at: None,
    }))
}

/// Retires a type: no new applications; those submitted keep their policy.
pub async fn retire(
    pool: &PgPool,
    code: &str,
    reason: &str,
    actor: &Principal,
) -> Result<Changed, Error> {
    let mut tx = pool.begin().await?;
    let existing = find(&mut tx, code, Lock::Update).await?;
    if rules::retire(existing.active()) == Change::Replay {
        return Ok(Changed::replayed(existing));
    }
    let version = existing.version + 1;
    let now = Utc::now();
    catalog::mark_retired(&mut tx, code, now, version).await?;
    let definition = &existing.definition;
    catalog::record(
        &mut tx,
        definition,
        version,
        "retired",
        actor,
        reason,
        Some(now),
    )
    .await?;
    let retired = find(&mut tx, code, Lock::None).await?;
    tx.commit().await?;
    Ok(Changed::applied(retired))
}

/// Every change of one type, oldest first.
pub async fn history(pool: &PgPool, code: &str) -> Result<Vec<catalog::HistoryEntry>, Error> {
    let entries = catalog::history(pool, code).await?;
    if entries.is_empty() {
        return Err(Error::NoServiceType(code.to_string()));
    }
    Ok(entries)
}
