//! The audit log: who was refused, who read what, every partner exchange.
//!
//! Rows are hash-chained: each stores `hash = SHA-256(prev_hash ‖ fields)`,
//! so altering, removing or inserting a row breaks every hash after it.
//! The table refuses UPDATE/DELETE/TRUNCATE (a trigger); the chain catches
//! whoever gets past that (a superuser, a restored backup). Appends take a
//! transaction-scoped advisory lock so two writers never fork the chain.
//!
//! Limits, written down: the chain cannot tell that its newest rows were cut
//! off; ship the last hash elsewhere (a log line at each append does) to
//! detect that too.

use crate::auth::Principal;
use crate::auth::policy::{self, Decision, Listing, Rule, Target};
use chrono::{DateTime, SubsecRound as _, Utc};
use sha2::{Digest as _, Sha256};
use sqlx::{PgPool, Row};

/// Arbitrary constant naming the audit append lock.
const APPEND_LOCK: i64 = 0x6269_616e_6d69_6e01;

/// One audit entry as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub role: String,
    pub action: String,
    /// The record concerned, e.g. `application:0190…`.
    pub record: String,
    /// `allowed`, `denied`, `hidden`, …
    pub outcome: String,
    /// Free text, e.g. the purpose a partner gave.
    pub detail: String,
    pub trace_id: String,
}

impl Entry {
    /// The entry for a decision of the permission table.
    pub fn decision(principal: &Principal, rule: &Rule, record: &str, decision: Decision) -> Self {
        Self {
            // PostgreSQL keeps microseconds; hash what will be read back.
            at: Utc::now().trunc_subsecs(6),
            actor: principal.subject.clone(),
            role: principal.role.as_str().to_string(),
            action: rule.name.to_string(),
            record: record.to_string(),
            outcome: decision.as_str().to_string(),
            detail: String::new(),
            trace_id: crate::propagation::current_traceparent()
                .and_then(|tp| tp.split('-').nth(1).map(str::to_string))
                .unwrap_or_default(),
        }
    }
}

impl Entry {
    /// The entry as it can always be stored: NULs replaced (U+FFFD), each
    /// field bounded to 1,000 characters.
    pub fn storable(&self) -> Entry {
        let clean = |s: &str| crate::error::bounded(&s.replace('\0', "\u{FFFD}"), 1000);
        Entry {
            at: self.at,
            actor: clean(&self.actor),
            role: clean(&self.role),
            action: clean(&self.action),
            record: clean(&self.record),
            outcome: clean(&self.outcome),
            detail: clean(&self.detail),
            trace_id: clean(&self.trace_id),
        }
    }
}

/// The chain hash of `entry` after `prev`. Pure. Each field is length-
/// prefixed, so no two different entries hash alike by shifting text
/// between fields.
pub fn chain_hash(prev: &[u8], entry: &Entry) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    let at = entry
        .at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    for field in [
        &at,
        &entry.actor,
        &entry.role,
        &entry.action,
        &entry.record,
        &entry.outcome,
        &entry.detail,
        &entry.trace_id,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().to_vec()
}

/// A stored row: the entry and its chain fields.
#[derive(Clone, Debug)]
pub struct Stored {
    pub seq: i64,
    pub entry: Entry,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Where a chain first breaks.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("row seq {seq}: {why}")]
pub struct Broken {
    pub seq: i64,
    pub why: &'static str,
}

/// Checks rows in `seq` order, starting from the empty hash. Pure.
pub fn verify_chain(rows: &[Stored]) -> Result<usize, Broken> {
    let mut prev: Vec<u8> = Vec::new();
    for row in rows {
        if row.prev_hash != prev {
            return Err(Broken {
                seq: row.seq,
                why: "does not follow the row before it (a row was removed or inserted)",
            });
        }
        if chain_hash(&prev, &row.entry) != row.hash {
            return Err(Broken {
                seq: row.seq,
                why: "content does not match its hash (the row was altered)",
            });
        }
        prev = row.hash.clone();
    }
    Ok(rows.len())
}

/// Appends one entry to the chain.
pub async fn append(pool: &PgPool, entry: &Entry) -> sqlx::Result<()> {
    // What a caller sent (a purpose, a record id) cannot make the row
    // unwritable: PostgreSQL text holds no NUL, and no field is unbounded.
    let entry = &entry.storable();
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut *tx)
        .await?;
    let prev: Vec<u8> = sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or_default();
    let hash = chain_hash(&prev, entry);
    sqlx::query(
        "INSERT INTO audit_log (at, actor, role, action, record, outcome, detail, trace_id, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.role)
    .bind(&entry.action)
    .bind(&entry.record)
    .bind(&entry.outcome)
    .bind(&entry.detail)
    .bind(&entry.trace_id)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(actor = %entry.actor, action = %entry.action, record = %entry.record, outcome = %entry.outcome,
        hash = %hex(&hash), "audit");
    Ok(())
}

/// Appends, logging instead of failing: an audit write must not turn a
/// refusal into an internal error, and the log line keeps the fact.
pub async fn record(pool: &PgPool, entry: Entry) {
    if let Err(e) = append(pool, &entry).await {
        tracing::error!(error = %e, ?entry, "audit append failed");
    }
}

/// What [`enforce`] audits besides refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// Refusals only.
    RefusalsOnly,
    /// Allowed calls too: reads of personal data in full (masked views
    /// need no row; DOMAIN.md asks for an access log of sensitive reads).
    Sensitive,
}

/// Applies the permission table to one call: refusals are audited (and
/// allowed calls when `reads` says so), and the decision becomes the gRPC
/// answer (`not_found`: the service's own answer for a missing record).
pub async fn enforce(
    pool: &PgPool,
    principal: &Principal,
    rule: &Rule,
    record_id: &str,
    target: Target<'_>,
    reads: Reads,
    not_found: impl FnOnce() -> tonic::Status,
) -> Result<(), tonic::Status> {
    enforce_with_detail(
        pool, principal, rule, record_id, target, reads, "", not_found,
    )
    .await
}

/// [`enforce`], with `detail` written into the entries (a partner's
/// purpose).
#[allow(clippy::too_many_arguments)]
pub async fn enforce_with_detail(
    pool: &PgPool,
    principal: &Principal,
    rule: &Rule,
    record_id: &str,
    target: Target<'_>,
    reads: Reads,
    detail: &str,
    not_found: impl FnOnce() -> tonic::Status,
) -> Result<(), tonic::Status> {
    let decision = policy::decide(principal, rule, target);
    if decision != Decision::Allow || reads == Reads::Sensitive {
        let mut entry = Entry::decision(principal, rule, record_id, decision);
        entry.detail = detail.to_string();
        record(pool, entry).await;
    }
    policy::status(decision, not_found)
}

/// Refuses, audited, a caller whose role holds no grant for `action` at
/// all, before anything is looked up: the answer then cannot depend on
/// whether the record exists.
pub async fn require_grant(
    pool: &PgPool,
    principal: &Principal,
    rule: &Rule,
    record_id: &str,
) -> Result<(), tonic::Status> {
    if rule.allows(principal.role) {
        return Ok(());
    }
    record(
        pool,
        Entry::decision(principal, rule, record_id, Decision::Denied),
    )
    .await;
    Err(policy::denied())
}

/// Applies the permission table to a listing (a queue, a report): the
/// centers it may cover, or PERMISSION_DENIED, audited, for a role without
/// a grant.
pub async fn enforce_listing(
    pool: &PgPool,
    principal: &Principal,
    rule: &Rule,
    asked: &str,
) -> Result<Option<String>, tonic::Status> {
    match policy::listing(principal, rule, asked) {
        Listing::Centers(center) => Ok(center),
        Listing::Denied => {
            let target = format!("center:{}", asked.trim());
            record(
                pool,
                Entry::decision(principal, rule, &target, Decision::Denied),
            )
            .await;
            Err(policy::denied())
        }
    }
}

/// Records an allowed full view of personal data, with why (`purpose`).
/// Unlike [`record`] this fails when the row cannot be written: no full
/// view goes unlogged.
pub async fn record_access(
    pool: &PgPool,
    principal: &Principal,
    rule: &Rule,
    record_id: &str,
    purpose: &str,
) -> sqlx::Result<()> {
    let mut entry = Entry::decision(principal, rule, record_id, Decision::Allow);
    entry.detail = purpose.to_string();
    append(pool, &entry).await
}

/// Reads the whole chain and checks it.
pub async fn verify(pool: &PgPool) -> sqlx::Result<Result<usize, Broken>> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, role, action, record, outcome, detail, trace_id, prev_hash, hash FROM audit_log ORDER BY seq",
    )
    .fetch_all(pool)
    .await?;
    let stored: Vec<Stored> = rows
        .iter()
        .map(|r| Stored {
            seq: r.get("seq"),
            entry: Entry {
                at: r.get("at"),
                actor: r.get("actor"),
                role: r.get("role"),
                action: r.get("action"),
                record: r.get("record"),
                outcome: r.get("outcome"),
                detail: r.get("detail"),
                trace_id: r.get("trace_id"),
            },
            prev_hash: r.get("prev_hash"),
            hash: r.get("hash"),
        })
        .collect();
    Ok(verify_chain(&stored))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(actor: &str) -> Entry {
        Entry {
            at: "2026-11-23T08:00:00.123456Z".parse().unwrap(),
            actor: actor.into(),
            role: "specialist".into(),
            action: "read_application".into(),
            record: "application:1".into(),
            outcome: "hidden".into(),
            detail: String::new(),
            trace_id: String::new(),
        }
    }

    fn chain(actors: &[&str]) -> Vec<Stored> {
        let mut prev = Vec::new();
        let mut rows = Vec::new();
        for (i, a) in actors.iter().enumerate() {
            let e = entry(a);
            let hash = chain_hash(&prev, &e);
            rows.push(Stored {
                seq: i as i64 + 1,
                entry: e,
                prev_hash: prev.clone(),
                hash: hash.clone(),
            });
            prev = hash;
        }
        rows
    }

    #[test]
    fn what_a_caller_sent_can_always_be_stored() {
        let mut e = entry("partner:x");
        e.detail = format!("purpose\0with nul{}", "长".repeat(5000));
        let stored = e.storable();
        assert!(!stored.detail.contains('\0'));
        assert!(stored.detail.starts_with("purpose\u{FFFD}with nul"));
        assert!(stored.detail.chars().count() <= 1001);
        assert_eq!(entry("a").storable(), entry("a"));
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify_chain(&chain(&["a", "b", "c"])), Ok(3));
        assert_eq!(verify_chain(&[]), Ok(0));
    }

    #[test]
    fn altering_removing_or_inserting_is_detected() {
        let mut altered = chain(&["a", "b", "c"]);
        altered[1].entry.outcome = "allowed".into();
        assert_eq!(verify_chain(&altered).unwrap_err().seq, 2);
        let mut removed = chain(&["a", "b", "c"]);
        removed.remove(1);
        assert_eq!(verify_chain(&removed).unwrap_err().seq, 3);
        let mut inserted = chain(&["a", "b"]);
        inserted.insert(1, chain(&["x"]).remove(0));
        assert!(verify_chain(&inserted).is_err());
    }

    #[test]
    fn fields_cannot_trade_characters() {
        let mut a = entry("ab");
        a.role = "c".into();
        let mut b = entry("a");
        b.role = "bc".into();
        assert_ne!(chain_hash(&[], &a), chain_hash(&[], &b));
    }
}
