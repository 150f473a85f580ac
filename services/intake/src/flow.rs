//! Each change of an application, in order: read what the rule needs, let
//! the domain decide, store the change with its timeline entry, its notice
//! and its event in the outbox.

pub mod catalog;

use crate::domain::answers::{self, Supplement};
use crate::domain::catalog::ChecklistItem;
use crate::domain::status::{self, Refusal, Supplementing};
use crate::domain::submission::{self, CatalogFacts, TypeStanding, Valid};
use crate::domain::{notices, timeline};
use crate::events::publish;
use crate::store::applications::{self, NewApplication, Protected};
use crate::store::catalog::{self as catalog_store, ForSubmission};
use crate::store::notices as notices_store;
use bianmin_common::auth::Principal;
use bianmin_common::calendar;
use bianmin_common::db;
use bianmin_common::error::FieldViolation;
use bianmin_common::pii::{self, PiiKeys};
use bianmin_common::{notify, outbox};
use chrono::{DateTime, SubsecRound as _, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("application {0} not found")]
    NotFound(Uuid),
    #[error("service type {0} not found")]
    NoServiceType(String),
    #[error("refused")]
    Refused(Refusal),
    #[error("catalog change refused")]
    Catalog(crate::domain::catalog::Refusal),
    /// The idempotency key was used before with another request.
    #[error("idempotency key reused")]
    KeyReused,
    /// The service type kept changing under the submission.
    #[error("service type busy")]
    TypeBusy,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Error::Refused(r)
    }
}

impl From<crate::domain::catalog::Refusal> for Error {
    fn from(r: crate::domain::catalog::Refusal) -> Self {
        Error::Catalog(r)
    }
}

/// The result of a submission.
pub struct Submitted {
    pub id: Uuid,
    /// True when an earlier submission with the same idempotency key is
    /// being returned.
    pub replayed: bool,
    /// What a new application was written with, to answer from (nothing
    /// else can have changed it before the answer goes out); `None` for a
    /// replay, which reads the stored one.
    pub first: Option<FirstView>,
}

/// What a submission has just written: the new application as a read
/// would find it (submitted, one timeline entry, no review, no materials).
pub struct FirstView {
    pub id: Uuid,
    pub application_no: String,
    pub valid: Valid,
    pub submitted_at: DateTime<Utc>,
    pub entry: timeline::Entry,
    pub id_number_masked: String,
    pub phone_masked: String,
    pub checklist: Vec<ChecklistItem>,
}

/// Stores a validated application with its first timeline entry, its
/// notice and its `ApplicationSubmitted` event, atomically; or replays the
/// first answer under the same idempotency key.
pub async fn submit(
    pool: &PgPool,
    keys: &PiiKeys,
    v: &Valid,
    submitter: &str,
    idempotency_key: Option<&str>,
) -> Result<Submitted, Error> {
    // The type changing between the check and the write is as rare as an
    // administrator's edit landing in that millisecond; checking again
    // then gives the answer the new definition gives.
    for _ in 0..3 {
        if let Some(done) = attempt(pool, keys, v, submitter, idempotency_key).await? {
            return Ok(done);
        }
    }
    Err(Error::TypeBusy)
}

/// One submission attempt; `None` when the service type changed (or was
/// retired) between the check and the write, and nothing was written.
async fn attempt(
    pool: &PgPool,
    keys: &PiiKeys,
    v: &Valid,
    submitter: &str,
    idempotency_key: Option<&str>,
) -> Result<Option<Submitted>, Error> {
    let hash = keys.lookup_hash("submit-request", &submission::canonical(v));
    let earlier = Earlier {
        submitter,
        key: idempotency_key,
        hash: &hash,
    };
    // Scoped to the center the application is for, which the API checked
    // the caller may submit at: the policy's WITH CHECK then refuses a row
    // for any other center.
    let mut conn = db::begin(pool, &db::Scope::center(v.center_id.clone())).await?;
    let accepted = match check_catalog(&mut conn, v).await? {
        Ok(accepted) => accepted,
        // A retry returns the first result even when the catalog has moved
        // on since (the type retired, say): the key decides before the rules.
        Err(violations) => {
            return match earlier.find(&mut conn).await? {
                Some(first) => Ok(Some(first)),
                None => Err(Refusal::Invalid(violations).into()),
            };
        }
    };
    let new = Prepared::new(keys, v, &accepted)?;
    let written = applications::insert_submitted(
        &mut conn,
        &NewApplication {
            id: new.id,
            application_no: &new.application_no,
            center_id: &v.center_id,
            service_type: &v.service_type,
            service_type_version: accepted.found.service_type.version,
            channel: &v.channel,
            applicant_name: &v.name,
            id_number: &new.id_number,
            phone: &new.phone,
            reason: &v.reason,
            idempotency_key,
            request_hash: &hash,
            submitted_at: new.now,
            submitted_by: submitter,
            urgent: v.urgent,
            urgent_reason: &v.urgent_reason,
            departments: &v.departments,
            received_by: v.received_by.as_deref(),
            preliminary_review_days: accepted.definition().preliminary_review_days,
            extended_review_days: accepted.definition().extended_review_days,
            decision_days: accepted.definition().decision_days,
            checklist: &accepted.definition().materials,
            entry: &new.entry,
            notice: &new.notice,
            event: &new.event,
        },
    )
    .await?;
    if !written {
        // The key was used before (by an earlier submission, or a
        // concurrent retry that committed first), or the type changed or
        // was retired between the check and the write.
        return earlier.find(&mut conn).await;
    }
    conn.commit().await?;
    outbox::committed();
    notify::recorded(&new.notice);
    Ok(Some(Submitted {
        id: new.id,
        replayed: false,
        first: Some(FirstView {
            id: new.id,
            application_no: new.application_no,
            valid: v.clone(),
            submitted_at: new.now,
            entry: new.entry,
            id_number_masked: new.id_number.masked,
            phone_masked: new.phone.masked,
            checklist: accepted.found.service_type.definition.materials,
        }),
    }))
}

/// A submission the catalog takes: the center's name, the type's current
/// definition and the number the application gets.
struct Accepted {
    found: ForSubmission,
    center_name: String,
}

impl Accepted {
    fn definition(&self) -> &crate::domain::catalog::Definition {
        &self.found.service_type.definition
    }
}

/// Reads what the catalog knows of the submission (one statement when the
/// type exists) and lets the domain judge it: accepted, or every rule it
/// breaks.
async fn check_catalog(
    conn: &mut PgConnection,
    v: &Valid,
) -> sqlx::Result<Result<Accepted, Vec<FieldViolation>>> {
    let found =
        catalog_store::for_submission(conn, &v.service_type, &v.center_id, &v.departments).await?;
    // An unknown type: the rest is looked up on its own.
    let (center_name, unknown_departments) = match &found {
        Some(f) => (f.center_name.clone(), f.unknown_departments.clone()),
        None => (
            catalog_store::center_name(conn, &v.center_id).await?,
            catalog_store::unknown_departments(conn, &v.departments).await?,
        ),
    };
    let standing = match &found {
        None => TypeStanding::Unknown,
        Some(f) if !f.service_type.active() => TypeStanding::Retired,
        Some(_) => TypeStanding::Active,
    };
    let violations = submission::against_catalog(
        v,
        CatalogFacts {
            center_known: center_name.is_some(),
            service_type: standing,
            unknown_departments: &unknown_departments,
        },
    );
    Ok(match (found, center_name, violations.is_empty()) {
        (Some(found), Some(center_name), true) => Ok(Accepted { found, center_name }),
        _ => Err(violations),
    })
}

/// A new application's rows, ready to write.
struct Prepared {
    id: Uuid,
    application_no: String,
    /// At the database's precision, so the answer built from it shows the
    /// instant exactly as a later read of the row does.
    now: DateTime<Utc>,
    id_number: Protected,
    phone: Protected,
    entry: timeline::Entry,
    notice: notify::Notification,
    event: outbox::OutboxEvent,
}

impl Prepared {
    fn new(keys: &PiiKeys, v: &Valid, accepted: &Accepted) -> Result<Self, Error> {
        let id = Uuid::now_v7();
        let now = Utc::now().trunc_subsecs(6);
        let application_no =
            submission::application_no(&v.center_id, calendar::local_date(now), accepted.found.seq);
        let protect = |value: &str, column: &str| -> Result<Protected, Error> {
            let sealed = keys
                .seal(value, &format!("applications.{column}:{id}"))
                .map_err(anyhow::Error::from)?;
            Ok(Protected {
                sealed,
                hash: keys.lookup_hash(column, value),
                masked: String::new(),
            })
        };
        let id_number = Protected {
            masked: pii::mask_id_number(&v.id_number),
            ..protect(&v.id_number, "id_number")?
        };
        let phone = Protected {
            masked: pii::mask_phone(&v.phone),
            ..protect(&v.phone, "phone")?
        };
        let entry =
            timeline::submitted(submission::channel_label(&v.channel), &accepted.center_name);
        let addressee = notices_store::Addressee {
            id,
            application_no: application_no.clone(),
            channel: v.channel.clone(),
            status: status::Status::Submitted,
            phone: phone.sealed.clone(),
            phone_masked: phone.masked.clone(),
        };
        let notice =
            notices_store::notification(&addressee, notices::submitted(&application_no), "once")
                .ok_or_else(|| anyhow::anyhow!("a new application has no notice"))?;
        let event = publish::submitted(
            &publish::NewApplication {
                id,
                application_no: &application_no,
                valid: v,
                definition: accepted.definition(),
            },
            now,
        );
        Ok(Prepared {
            id,
            application_no,
            now,
            id_number,
            phone,
            entry,
            notice,
            event,
        })
    }
}

/// The earlier submission under the caller's idempotency key, if any.
struct Earlier<'a> {
    submitter: &'a str,
    key: Option<&'a str>,
    /// The keyed hash of this request.
    hash: &'a [u8],
}

impl Earlier<'_> {
    /// Replayed for the same request, refused for another; `None` when
    /// there is none (or no key).
    async fn find(&self, conn: &mut PgConnection) -> Result<Option<Submitted>, Error> {
        let Some(key) = self.key else {
            return Ok(None);
        };
        match applications::by_idempotency_key(conn, self.submitter, key).await? {
            Some(first) if first.request_hash == self.hash => Ok(Some(Submitted {
                id: first.id,
                replayed: true,
                first: None,
            })),
            Some(_) => Err(Error::KeyReused),
            None => Ok(None),
        }
    }
}

/// Records the applicant's answer to a supplement request and announces it
/// (`ApplicationSupplemented`) in one transaction. A retry of the same
/// answer changes nothing; any answer while no request is open is refused.
#[tracing::instrument(name = "db.supplement", skip_all)]
pub async fn supplement(
    pool: &PgPool,
    id: Uuid,
    answer: &Supplement,
    by: &Principal,
) -> Result<(), Error> {
    let mut tx = db::begin(pool, &db::Scope::of(by)).await?;
    let app = applications::lock(&mut tx, id)
        .await?
        .ok_or(Error::NotFound(id))?;
    let decided = status::supplement(app.status, &app.missing_items, app.answer.as_ref(), answer)?;
    if decided == Supplementing::Retry {
        return Ok(());
    }
    applications::record_supplement(&mut tx, id, answer).await?;
    let now = Utc::now();
    let entry =
        timeline::supplement_submitted(&answer.items, &answer.note, answers::on_behalf(by.role));
    applications::add_entry(&mut tx, id, &entry, now, None).await?;
    publish::supplemented(&mut tx, id, &app.center_id, answer, by, now).await?;
    outbox::commit(tx).await?;
    Ok(())
}

/// Withdraws the application and announces it (`ApplicationWithdrawn`),
/// unless review has decided it already, or it was withdrawn before.
#[tracing::instrument(name = "db.withdraw", skip_all)]
pub async fn withdraw(pool: &PgPool, id: Uuid, reason: &str, by: &Principal) -> Result<(), Error> {
    let mut tx = db::begin(pool, &db::Scope::of(by)).await?;
    let app = applications::lock(&mut tx, id)
        .await?
        .ok_or(Error::NotFound(id))?;
    status::withdraw(app.status)?;
    applications::record_withdrawal(&mut tx, id).await?;
    let now = Utc::now();
    let entry = timeline::withdrawn(reason, answers::on_behalf(by.role));
    applications::add_entry(&mut tx, id, &entry, now, None).await?;
    if let Some(to) = notices_store::addressee(&mut tx, id).await? {
        let notice = notices::withdrawn(&to.application_no);
        notices_store::to_addressee(&mut tx, &to, notice, "once").await?;
    }
    publish::withdrawn(&mut tx, id, &app.center_id, reason, by, now).await?;
    outbox::commit(tx).await?;
    Ok(())
}
