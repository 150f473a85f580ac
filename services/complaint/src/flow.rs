//! One function per command: lock the complaint, let the domain decide,
//! save it with its timer change and its event in one transaction. Fired
//! timers take the same path.

use crate::domain::clock;
use crate::domain::complaint::{Actor, Command, Complaint, Emit, Refusal};
use crate::domain::input::{self, Valid};
use crate::events::publish;
use crate::store::complaints::{self, NewComplaint, Protected, Stored};
use crate::store::timers;
use bianmin_common::auth::Principal;
use bianmin_common::calendar::{self, WorkingCalendar};
use bianmin_common::db::{self, Scope};
use bianmin_common::notify::{self, Channel, Notification, Recipient};
use bianmin_common::outbox;
use bianmin_common::pii::{self, PiiKeys};
use chrono::{DateTime, SubsecRound as _, Utc};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// The calendar and the clock.
#[derive(Clone)]
pub struct Clock {
    pub calendar: Arc<WorkingCalendar>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("complaint not found")]
    NotFound,
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The idempotency key was used before with another filing.
    #[error("idempotency key reused")]
    KeyReused,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub struct Filed {
    pub stored: Stored,
    pub replayed: bool,
}

/// Files a validated complaint with its timer and `ComplaintFiled` event,
/// or answers what the first filing under the same key answered.
pub async fn file(
    pool: &PgPool,
    keys: &PiiKeys,
    clock: &Clock,
    v: &Valid,
    principal: &Principal,
    actor: &Actor,
    key: Option<&str>,
) -> Result<Filed, Error> {
    let hash = keys.lookup_hash("complaint-request", &input::canonical(v));
    let scope = Scope::of(principal);
    let mut tx = db::begin(pool, &scope).await?;
    if let Some(key) = key
        && let Some(first) = earlier(&mut tx, &actor.subject, key, &hash).await?
    {
        return Ok(first);
    }
    let now = clock.now();
    let today = calendar::local_date(now);
    let due = clock::due_date(&clock.calendar, today).map_err(anyhow::Error::from)?;
    let seq = complaints::next_seq(&mut tx, &v.center_id, today).await?;
    let id = Uuid::now_v7();
    let stored = Stored {
        id,
        complaint_no: input::complaint_no(&v.center_id, today, seq),
        channel: v.channel.clone(),
        content: v.content.clone(),
        demand: v.demand.clone(),
        sensitive: v.sensitive,
        name_masked: pii::mask_name(&v.name),
        id_number_masked: pii::mask_id_number(&v.id_number),
        phone_masked: pii::mask_phone(&v.phone),
        filed_at: now,
        complaint: Complaint::filed(v, actor, due, now),
    };
    let protect = |value: &str, column: &str, masked: &str| -> Result<Protected, Error> {
        Ok(Protected {
            sealed: keys
                .seal(value, &format!("complaints.{column}:{id}"))
                .map_err(anyhow::Error::from)?,
            hash: keys.lookup_hash(column, value),
            masked: masked.to_string(),
        })
    };
    let name = protect(&v.name, "name", &stored.name_masked)?;
    let id_number = protect(&v.id_number, "id_number", &stored.id_number_masked)?;
    let phone = protect(&v.phone, "phone", &stored.phone_masked)?;
    let event = publish::filed(&stored, now);
    let written = complaints::insert(
        &mut tx,
        &NewComplaint {
            stored: &stored,
            name: &name,
            id_number: &id_number,
            phone: &phone,
            idempotency_key: key,
            request_hash: &hash,
            fire_at: Some(clock::breach_at(due)),
        },
        event,
    )
    .await?;
    if !written {
        // A concurrent retry under the same key committed first.
        drop(tx);
        let mut tx = db::begin(pool, &scope).await?;
        let key = key.unwrap_or_default();
        return earlier(&mut tx, &actor.subject, key, &hash)
            .await?
            .ok_or(Error::KeyReused);
    }
    outbox::commit(tx).await?;
    Ok(Filed {
        stored,
        replayed: false,
    })
}

/// The first answer under `key`: replayed for the same filing, refused for
/// another.
async fn earlier(
    conn: &mut sqlx::PgConnection,
    filed_by: &str,
    key: &str,
    hash: &[u8],
) -> Result<Option<Filed>, Error> {
    match complaints::by_idempotency_key(conn, filed_by, key).await? {
        Some((first_hash, stored)) if first_hash == hash => Ok(Some(Filed {
            stored,
            replayed: true,
        })),
        Some(_) => Err(Error::KeyReused),
        None => Ok(None),
    }
}

/// Applies one step by `actor` to complaint `id`, which `visible` already
/// allowed the caller to see.
pub async fn act(
    pool: &PgPool,
    clock: &Clock,
    id: Uuid,
    principal: &Principal,
    actor: &Actor,
    command: Command,
) -> Result<Stored, Error> {
    let mut tx = db::begin(pool, &Scope::of(principal)).await?;
    let mut stored = complaints::lock(&mut tx, id)
        .await?
        .ok_or(Error::NotFound)?;
    let now = clock.now();
    let emit = stored
        .complaint
        .apply(actor, command, now, calendar::local_date(now))?;
    complaints::save(&mut tx, &stored).await?;
    match emit {
        Emit::Nothing => {}
        Emit::Disarm => timers::disarm(&mut tx, id).await?,
        Emit::Closed => {
            timers::disarm(&mut tx, id).await?;
            outbox::enqueue(&mut tx, publish::closed(&stored, now)).await?;
        }
    }
    outbox::commit(tx).await?;
    Ok(stored)
}

/// Who a breach at `center_id` is escalated to.
pub fn escalated_to(center_id: &str) -> String {
    format!(
        "{}@{center_id}",
        bianmin_common::auth::Role::Supervisor.as_str()
    )
}

/// The supervisors' notice of one breach; `timer_id` makes it once.
pub fn breach_notice(timer_id: i64, s: &Stored, due: chrono::NaiveDate) -> Notification {
    let params = BTreeMap::from([
        ("complaint_id".to_string(), s.id.to_string()),
        ("complaint_no".to_string(), s.complaint_no.clone()),
        ("center_id".to_string(), s.center_id().to_string()),
        (
            "owner".to_string(),
            s.complaint.owner.clone().unwrap_or_default(),
        ),
        ("due".to_string(), due.to_string()),
        (
            "message".to_string(),
            format!(
                "投诉 {} 的答复期限 {due} 已超期，请督办 (complaint {} was due {due}: see to it)",
                s.complaint_no, s.complaint_no
            ),
        ),
    ]);
    Notification {
        recipient: Recipient::Named(escalated_to(s.center_id())),
        channel: Channel::Console,
        template: "complaint_deadline_breached".into(),
        params,
        dedupe_key: format!("complaint:deadline_breached:{timer_id}"),
    }
}

/// Fires due timers one transaction each until none is due; returns how
/// many fired.
pub async fn fire_due(pool: &PgPool, clock: &Clock, replica: &str) -> sqlx::Result<usize> {
    let mut fired = 0;
    loop {
        let now = clock.now();
        // System work for every center.
        let mut tx = db::begin(pool, &Scope::AllCenters).await?;
        let Some(claimed) = timers::claim_due(&mut tx, now).await? else {
            return Ok(fired);
        };
        bianmin_common::timers::mark_fired(&mut tx, timers::TABLE, claimed.id, now, replica)
            .await?;
        if let Some(mut stored) = complaints::lock(&mut tx, claimed.complaint_id).await?
            && stored.complaint.due_date == Some(claimed.due)
            && !stored.complaint.breached
        {
            stored.complaint.breached = true;
            complaints::save(&mut tx, &stored).await?;
            // In the same transaction: no breach without its notice, none twice.
            notify::record(&mut tx, &breach_notice(claimed.id, &stored, claimed.due)).await?;
            outbox::enqueue(&mut tx, publish::breached(&stored, claimed.due, now)).await?;
            tracing::info!(complaint_id = %stored.id, due = %claimed.due, "complaint deadline breached");
        }
        outbox::commit(tx).await?;
        fired += 1;
    }
}

/// Checks for due timers every `interval` until `shutdown`.
pub async fn run_timers(
    pool: PgPool,
    clock: Clock,
    interval: std::time::Duration,
    replica: String,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        if let Err(e) = fire_due(&pool, &clock, &replica).await {
            tracing::warn!(error = %e, "firing complaint timers failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::info!("timers stopped");
}
