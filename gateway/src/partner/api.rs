//! The partner API: who is calling (certificate + registry), then the call
//! goes on to intake as the partner, with a short-lived token the edge signs
//! and the purpose the partner stated; intake applies the permission table
//! and audits the exchange. Answers are cut down to the minimum here.

use super::registry::{Partner, Registry};
use bianmin_common::auth::token::{AuthSettings, Claims, SigningKey};
use bianmin_common::auth::{self, Role};
use bianmin_common::pii;
use bianmin_proto::intake::v1 as intake;
use bianmin_proto::partner::v1::{self as pb, partner_service_server::PartnerService};
use std::sync::Arc;
use std::time::Duration;
use tonic::{Request, Response, Status};

/// How long a forwarding token lives: one call, with room for clock skew.
const TOKEN_TTL_SECONDS: u64 = 60;

#[derive(Clone)]
pub struct PartnerApi {
    pub registry: Arc<Registry>,
    pub key: Arc<SigningKey>,
    pub auth: AuthSettings,
    pub intake: crate::intake::Client,
    pub limits: crate::limits::Limits,
    pub grpc_timeout: Duration,
}

fn unknown_partner() -> Status {
    Status::unauthenticated(
        "客户端证书未登记为合作机构 (client certificate is not a registered partner)",
    )
}

fn too_many(wait: Duration) -> Status {
    let seconds = wait.as_secs() + 1;
    Status::resource_exhausted(format!(
        "请求过于频繁，请 {seconds} 秒后再试 (too many requests, retry in {seconds} s)"
    ))
}

/// Applicant names as partners see them (minimum necessary).
fn status_of(a: intake::Application) -> pb::ApplicationStatus {
    let review = a.review.unwrap_or_default();
    pb::ApplicationStatus {
        application_no: a.application_no,
        center_id: a.center_id,
        service_type: a.service_type,
        status: a.status,
        review_stage: review.stage,
        due_date: review.due_date,
        timeline: a
            .timeline
            .into_iter()
            .map(|t| pb::TimelineStep {
                title: t.title,
                at: t.at,
            })
            .collect(),
        applicant_name_masked: pii::mask_name(&a.applicant.unwrap_or_default().name),
    }
}

impl PartnerApi {
    /// The registered partner behind the request's client certificate,
    /// within its rate.
    fn partner<T>(&self, request: &Request<T>) -> Result<&Partner, Status> {
        let certs = request.peer_certs().ok_or_else(unknown_partner)?;
        let id = super::identity::partner_id(&certs).ok_or_else(unknown_partner)?;
        let partner = self.registry.get(&id).ok_or_else(|| {
            tracing::warn!(partner = %id, "client certificate names no registered partner");
            unknown_partner()
        })?;
        self.limits.per_partner(&partner.id).map_err(|wait| {
            tracing::warn!(partner = %partner.id, "partner over its rate limit");
            too_many(wait)
        })?;
        Ok(partner)
    }

    /// The request to intake, as `partner`. A method outside the partner's
    /// list still goes to intake, but with an empty grant: intake refuses
    /// it and writes the refusal into the same audit chain as every other
    /// exchange, so one place holds them all.
    fn forward<T>(
        &self,
        partner: &Partner,
        granted: bool,
        purpose: &str,
        message: T,
    ) -> Result<Request<T>, Status> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: format!("partner:{}", partner.id),
            iss: self.auth.issuer.clone(),
            aud: self.auth.audience.clone(),
            exp: now + TOKEN_TTL_SECONDS,
            nbf: Some(now),
            iat: Some(now),
            role: Role::Partner.as_str().to_string(),
            center_id: None,
            centers: if granted {
                partner.centers.clone()
            } else {
                Vec::new()
            },
        };
        let token = self.key.sign(&claims).map_err(|e| {
            tracing::error!(error = %e, "signing a partner token failed");
            Status::internal("内部错误 (internal error)")
        })?;
        let mut request = Request::new(message);
        request.set_timeout(self.grpc_timeout);
        auth::attach_bearer(&mut request, &token);
        auth::purpose::attach(&mut request, purpose);
        Ok(request)
    }
}

/// The purpose (用途) every partner request must state.
fn purpose(raw: &str) -> Result<&str, Status> {
    auth::purpose::valid(raw).ok_or_else(|| {
        bianmin_common::error::ApiError::invalid(
            "purpose",
            "purpose_required",
            format!(
                "请说明查询或转介的用途，不超过 {} 个字 (purpose is required, at most {} characters)",
                auth::purpose::MAX_CHARS,
                auth::purpose::MAX_CHARS
            ),
        )
        .into()
    })
}

fn method_denied(partner: &Partner, method: &str) -> Status {
    tracing::info!(partner = %partner.id, method, "partner method not granted");
    Status::permission_denied(format!(
        "本机构未获准调用 {method} (method not granted to this partner)"
    ))
}

#[tonic::async_trait]
impl PartnerService for PartnerApi {
    async fn get_application_status(
        &self,
        request: Request<pb::GetApplicationStatusRequest>,
    ) -> Result<Response<pb::ApplicationStatus>, Status> {
        const METHOD: &str = "GetApplicationStatus";
        let partner = self.partner(&request)?;
        let granted = partner.may_call(METHOD);
        let r = request.into_inner();
        let purpose = purpose(&r.purpose)?;
        let forwarded = self.forward(
            partner,
            granted,
            purpose,
            intake::PartnerGetApplicationRequest {
                application_no: r.application_no,
            },
        )?;
        let answer = self.intake.clone().partner_get_application(forwarded).await;
        if !granted {
            return Err(method_denied(partner, METHOD));
        }
        Ok(Response::new(status_of(answer?.into_inner())))
    }

    // `..Default::default()` below: fields intake's request gains later
    // (urgency, departments, ...) keep their defaults for referrals.
    #[allow(clippy::needless_update)]
    async fn submit_referral(
        &self,
        request: Request<pb::SubmitReferralRequest>,
    ) -> Result<Response<pb::SubmitReferralResponse>, Status> {
        const METHOD: &str = "SubmitReferral";
        let partner = self.partner(&request)?;
        let granted = partner.may_call(METHOD);
        let r = request.into_inner();
        let purpose = purpose(&r.purpose)?;
        let applicant = r.applicant.unwrap_or_default();
        let forwarded = self.forward(
            partner,
            granted,
            purpose,
            intake::SubmitApplicationRequest {
                center_id: r.center_id,
                service_type: r.service_type,
                channel: "partner_referral".into(),
                applicant: Some(intake::Applicant {
                    name: applicant.name,
                    id_number: applicant.id_number,
                    phone: applicant.phone,
                }),
                reason: r.reason,
                // Idempotent per submitter (`partner:<id>`) and key, so two
                // partners' references never collide.
                idempotency_key: r.referral_ref,
                ..Default::default()
            },
        )?;
        let answer = self.intake.clone().submit_application(forwarded).await;
        if !granted {
            return Err(method_denied(partner, METHOD));
        }
        let answer = answer?.into_inner();
        Ok(Response::new(pb::SubmitReferralResponse {
            application: answer.application.map(status_of),
            replayed: answer.replayed,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partners_see_no_identity_numbers_and_a_masked_name() {
        let a = intake::Application {
            application_no: "C01-20261123-000001".into(),
            center_id: "C01".into(),
            applicant: Some(intake::Applicant {
                name: "张三".into(),
                id_number: "110105********1234".into(),
                phone: "138****5678".into(),
            }),
            reason: "家中老人需要助餐服务".into(),
            review: Some(intake::ReviewInfo {
                case_id: "case-1".into(),
                stage: "preliminary".into(),
                due_date: "2026-11-30".into(),
            }),
            ..Default::default()
        };
        let s = status_of(a);
        assert_eq!(s.applicant_name_masked, "张*");
        assert_eq!(s.review_stage, "preliminary");
        let shown = format!("{s:?}");
        for hidden in ["1234", "5678", "助餐", "case-1"] {
            assert!(!shown.contains(hidden), "{hidden} leaked: {shown}");
        }
    }
}
