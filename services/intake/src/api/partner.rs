//! Partner agencies' calls, as intake sees them: every exchange is audited
//! with the purpose the partner stated (allowed or refused), and a partner
//! reads an application by the number on the resident's receipt.
//!
//! The partner's identity and grant come from its token (minted by the
//! partner edge after it checked the partner's client certificate and the
//! partner registry); intake applies the permission table to it like to
//! anyone else, so a partner can never see more than the table allows even
//! if the edge were wrong.

use super::{State, center};
use crate::policy;
use crate::store::applications;
use bianmin_common::audit::{self, Entry, Reads};
use bianmin_common::auth::policy::{Decision, Rule, Target};
use bianmin_common::auth::{self, Principal, Role};
use bianmin_common::error::ApiError;
use bianmin_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

/// What intake records of a caller's exchange: for a partner, every
/// submission is audited with the purpose it stated, allowed ones too,
/// and what came of it; for anyone else only refusals are.
pub struct Exchange {
    partner: bool,
    /// The purpose the call states (`""` when none). The partner edge
    /// refuses a partner's call without one before it gets here; the demo
    /// `partner` account of the REST API states none.
    purpose: String,
}

impl Exchange {
    pub fn of<T>(caller: &Principal, request: &Request<T>) -> Self {
        let partner = caller.role == Role::Partner;
        let purpose = if partner {
            auth::purpose::of(request).unwrap_or_default()
        } else {
            String::new()
        };
        Exchange { partner, purpose }
    }

    /// Applies the permission table to a submission to `center_id`.
    /// Submitting is never hidden (the centers are public), only denied.
    pub async fn authorize_submission(
        &self,
        state: &State,
        caller: &Principal,
        center_id: &str,
    ) -> Result<(), Status> {
        let reads = if self.partner {
            Reads::Sensitive
        } else {
            Reads::RefusalsOnly
        };
        audit::enforce_with_detail(
            &state.pool,
            caller,
            &policy::SUBMIT_APPLICATION,
            &format!("center:{center_id}"),
            Target {
                owner: Some(&caller.subject),
                ..center(center_id)
            },
            reads,
            &self.purpose,
            || Status::not_found("中心不存在 (center not found)"),
        )
        .await
    }

    /// What the table decided is audited by [`Self::authorize_submission`];
    /// this adds what came of an allowed partner submission (the
    /// application, or a replay of it).
    pub async fn record_submitted(
        &self,
        state: &State,
        caller: &Principal,
        application: &pb::Application,
        replayed: bool,
    ) {
        if !self.partner {
            return;
        }
        let mut entry = Entry::decision(
            caller,
            &policy::SUBMIT_APPLICATION,
            &format!("application:{}", application.id),
            Decision::Allow,
        );
        entry.outcome = if replayed { "replayed" } else { "submitted" }.into();
        entry.detail = self.purpose.clone();
        audit::record(&state.pool, entry).await;
    }
}

/// The purpose of a call that must state one (the edge-only partner
/// RPCs): a call without one is refused INVALID_ARGUMENT, audited.
async fn required_purpose<T>(
    state: &State,
    caller: &Principal,
    rule: &Rule,
    record: &str,
    request: &Request<T>,
) -> Result<String, Status> {
    if let Some(purpose) = auth::purpose::of(request) {
        return Ok(purpose);
    }
    let mut entry = Entry::decision(caller, rule, record, Decision::Denied);
    entry.outcome = "invalid".into();
    entry.detail = "未说明用途 (no purpose stated)".into();
    audit::record(&state.pool, entry).await;
    Err(ApiError::invalid(
        "purpose",
        "purpose_required",
        format!(
            "请说明查询或转介的用途，不超过 {} 个字 (purpose is required, at most {} characters)",
            auth::purpose::MAX_CHARS,
            auth::purpose::MAX_CHARS
        ),
    )
    .into())
}

/// Application numbers as intake writes them: `C01-20261123-000042`.
fn application_no(raw: &str) -> Result<&str, ApiError> {
    let no = raw.trim();
    if no.is_empty() || no.len() > 64 || !no.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ApiError::invalid(
            "application_no",
            "application_no_format",
            "申请编号格式不正确，应如 C01-20261123-000042 (application_no must look like C01-20261123-000042)",
        ));
    }
    Ok(no)
}

/// `PartnerGetApplication`: partners only; every call audited.
pub async fn get_application(
    state: &State,
    request: Request<pb::PartnerGetApplicationRequest>,
) -> Result<Response<pb::Application>, Status> {
    let caller = auth::principal(&request)?;
    let raw_no = request.get_ref().application_no.clone();
    let record = format!("application_no:{}", raw_no.trim());
    if caller.role != Role::Partner {
        audit::record(
            &state.pool,
            Entry::decision(
                &caller,
                &policy::READ_APPLICATION,
                &record,
                Decision::Denied,
            ),
        )
        .await;
        return Err(Status::permission_denied(
            "此接口仅供合作机构使用 (this method is for partner agencies)",
        ));
    }
    let purpose =
        required_purpose(state, &caller, &policy::READ_APPLICATION, &record, &request).await?;
    let no = application_no(&raw_no)?;
    let not_found = || ApiError::NotFound(format!("申请 {no} 不存在 (application not found)"));
    let Some(owner) = applications::owner_by_no(&state.pool, no)
        .await
        .map_err(ApiError::from)?
    else {
        // A miss is an exchange too; to the partner it reads like a hidden one.
        let mut entry = Entry::decision(
            &caller,
            &policy::READ_APPLICATION,
            &record,
            Decision::Hidden,
        );
        entry.outcome = "missing".into();
        entry.detail = purpose;
        audit::record(&state.pool, entry).await;
        return Err(not_found().into());
    };
    audit::enforce_with_detail(
        &state.pool,
        &caller,
        &policy::READ_APPLICATION,
        &format!("application:{}", owner.id),
        super::owned(&owner),
        Reads::Sensitive,
        &purpose,
        || not_found().into(),
    )
    .await?;
    let application = super::applications::application(state, &caller, owner.id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Response::new(super::convert::as_seen_by(
        &caller,
        application,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_numbers_are_checked_before_any_lookup() {
        assert_eq!(
            application_no(" C01-20261123-000042 ").unwrap(),
            "C01-20261123-000042"
        );
        for bad in ["", "   ", "C01'; DROP TABLE applications; --", "编号"] {
            assert!(application_no(bad).is_err(), "{bad:?}");
        }
    }
}
