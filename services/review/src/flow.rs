//! Each change of a case in one transaction: lock the case, let the domain
//! decide, save it, re-arm its timers and write its event to the outbox.
//! Staff actions and fired timers take the same path.

use crate::domain::deadlines::{self, TimerKind};
use crate::domain::escalation;
use crate::domain::lifecycle::{self, Actor, Command, Refusal};
use crate::events::publish;
use crate::store::{cases, timers};
use bianmin_common::auth::Principal;
use bianmin_common::calendar::WorkingCalendar;
use bianmin_common::db;
use bianmin_common::{notify, outbox};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use uuid::Uuid;

/// The calendar and the clock every deadline is computed with.
#[derive(Clone)]
pub struct Deadlines {
    pub calendar: Arc<WorkingCalendar>,
    /// Share of a limit after which `DeadlineWarning` fires (0.8 = 80%).
    pub warn_share: f64,
    /// Added to the wall clock, so tests (and drills) can see next week's
    /// deadlines fire now. Zero in production.
    pub now_offset: chrono::Duration,
}

impl Deadlines {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.now_offset
    }
}

/// Opens the case of a submitted application, with its timers and its
/// `ReviewCaseOpened` event; `None` when the application has one already.
pub async fn open(
    tx: &mut PgConnection,
    d: &Deadlines,
    opening: &cases::Opening<'_>,
    case: crate::domain::case::Case,
) -> sqlx::Result<Option<cases::Stored>> {
    let now = d.now();
    let stored = cases::new_case(opening, case, now);
    let specs = deadlines::schedule(&stored.case, &d.calendar, d.warn_share);
    let event = publish::opened(&stored, now);
    Ok(cases::insert_opened(tx, &stored, &specs, &event)
        .await?
        .then_some(stored))
}

#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// Unknown, or of a center the caller does not see.
    #[error("review case not found")]
    NotFound,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub struct Acted {
    pub stored: cases::Stored,
    /// The idempotency key was used before: nothing was done this time.
    pub replayed: bool,
}

/// Applies a staff action. With an idempotency key already used on this
/// case, acts not again and answers what the first call answered.
pub async fn act(
    pool: &PgPool,
    d: &Deadlines,
    principal: &Principal,
    case_id: Uuid,
    key: Option<&str>,
    command: Command,
) -> Result<Acted, ActError> {
    // Under the actor's own scope: row-level security hides (and refuses
    // writes to) any case outside it, behind the check in code below.
    let mut tx = db::begin(pool, &db::Scope::of(principal)).await?;
    let mut stored = cases::lock(&mut tx, case_id)
        .await?
        .filter(|s| principal.sees_center(&s.center_id))
        .ok_or(ActError::NotFound)?;
    if let Some(key) = key
        && !cases::claim_key(&mut tx, case_id, key, command.name()).await?
    {
        let used = cases::used_key(&mut tx, case_id, key).await?;
        if let Some(used) = used {
            if used.action != command.name() {
                return Err(ActError::Refused(Refusal::Illegal(format!(
                    "Idempotency-Key 已用于本案件的 {} 操作 (this key was used for {} on this case; use a new key)",
                    used.action, used.action
                ))));
            }
            // The first call's answer, not the case as it is now.
            if let Some(answer) = used.answer {
                stored.case = answer;
            }
        }
        return Ok(Acted {
            stored,
            replayed: true,
        });
    }
    let actor = Actor {
        subject: principal.subject.clone(),
        role: principal.role,
    };
    apply(&mut tx, d, &mut stored, &actor, command).await?;
    if let Some(key) = key {
        cases::record_answer(&mut tx, case_id, key, &stored.case).await?;
    }
    outbox::commit(tx).await?;
    Ok(Acted {
        stored,
        replayed: false,
    })
}

/// Lets the domain decide, saves the case, re-arms its timers and writes
/// its event, inside the caller's transaction with the case locked.
async fn apply(
    tx: &mut PgConnection,
    d: &Deadlines,
    stored: &mut cases::Stored,
    actor: &Actor,
    command: Command,
) -> Result<(), ActError> {
    lifecycle::admit(actor, &command, &stored.center_id)?;
    let now = d.now();
    let emit = lifecycle::apply(&mut stored.case, actor, command, now, &d.calendar)?;
    cases::save(tx, stored, now).await?;
    timers::rearm(
        tx,
        stored.id,
        &deadlines::schedule(&stored.case, &d.calendar, d.warn_share),
    )
    .await?;
    outbox::enqueue(tx, publish::acted(stored, &emit, now)).await?;
    Ok(())
}

/// Applies what the applicant did (relayed by intake as an event) to the
/// case of `application_id`, the way a staff action is applied, inside the
/// inbox's transaction. `NotFound` when review has no case for it yet.
pub async fn act_for_applicant(
    tx: &mut PgConnection,
    d: &Deadlines,
    application_id: Uuid,
    actor: &Actor,
    command: Command,
) -> Result<cases::Stored, ActError> {
    let mut stored = cases::lock_application(tx, application_id)
        .await?
        .ok_or(ActError::NotFound)?;
    apply(tx, d, &mut stored, actor, command).await?;
    Ok(stored)
}

/// Fires due timers one transaction each until none is due; returns how
/// many fired. `replica` names who fired it, for the record.
pub async fn fire_due(pool: &PgPool, d: &Deadlines, replica: &str) -> sqlx::Result<usize> {
    let mut fired = 0;
    loop {
        let now = d.now();
        // Timers are system work: they fire for every center's cases.
        let mut tx = db::begin(pool, &db::Scope::AllCenters).await?;
        let Some(claimed) = timers::claim_due(&mut tx, now).await? else {
            return Ok(fired);
        };
        bianmin_common::timers::mark_fired(&mut tx, timers::TABLE, claimed.id, now, replica)
            .await?;
        let mut reached = None;
        // A timer the case no longer needs is stamped fired and says nothing.
        if let Some(mut stored) = cases::lock(&mut tx, claimed.case_id).await?
            && deadlines::still_applies(&stored.case, &claimed.spec)
        {
            if claimed.spec.kind == TimerKind::Breach {
                deadlines::record_breach(&mut stored.case, &claimed.spec, now);
                cases::save(&mut tx, &stored, now).await?;
                // Escalated in the same transaction: no breach without its
                // notice, none twice.
                let notice = escalation::breach_notice(
                    claimed.id,
                    stored.id,
                    &stored.application_no,
                    &stored.center_id,
                    &stored.service_type,
                    &claimed.spec,
                );
                notify::record(&mut tx, &notice).await?;
            }
            outbox::enqueue(&mut tx, publish::deadline(&stored, &claimed.spec, now)).await?;
            reached = Some(stored.center_id.clone());
            tracing::info!(case_id = %stored.id, kind = claimed.spec.kind.as_str(), clock = %claimed.spec.clock,
                due = %claimed.spec.due, "deadline timer fired");
        }
        outbox::commit(tx).await?;
        // Counted once committed: a firing that rolled back fires again.
        crate::metrics::timer_fired(&claimed.spec, now);
        if let Some(center) = reached {
            crate::metrics::deadline_reached(&claimed.spec, &center);
        }
        fired += 1;
    }
}

/// Checks for due timers every `interval` until `shutdown`.
pub async fn run_timers(
    pool: PgPool,
    d: Deadlines,
    interval: std::time::Duration,
    replica: String,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        if let Err(e) = fire_due(&pool, &d, &replica).await {
            tracing::warn!(error = %e, "firing timers failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::info!("timers stopped");
}
