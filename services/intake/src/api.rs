//! The gRPC surface of intake.

use crate::domain::{self, answers, id_number, progress, purpose, submission};
use crate::policy;
use crate::store::{applications, catalog, materials, personal, public};
use bianmin_common::audit::{self, Reads};
use bianmin_common::auth::{
    self, Principal,
    policy::{Rule, Scope, Target},
};
use bianmin_common::calendar::{self, WorkingCalendar};
use bianmin_common::error::ApiError;
use bianmin_common::grpc::Ready;
use bianmin_common::pii::PiiKeys;
use bianmin_proto::intake::v1::{self as pb, intake_service_server::IntakeService};
use sqlx::PgPool;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// What the handlers need once the service is ready.
pub struct State {
    pub pool: PgPool,
    pub keys: Arc<PiiKeys>,
    pub calendar: Arc<WorkingCalendar>,
    pub materials: Arc<dyn object_store::ObjectStore>,
    pub material_max_bytes: usize,
}

#[derive(Clone)]
pub struct IntakeApi {
    pub state: Ready<State>,
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        ApiError::invalid(
            "id",
            "uuid_format",
            "申请编号格式不正确 (id must be a UUID)",
        )
    })
}

fn application_not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("申请 {id} 不存在 (application not found)"))
}

/// Applies the permission table to `rule` on application `id`: a record
/// the caller may not see answers exactly like a missing one. Refusals are
/// audited; allowed calls are left to the caller.
async fn authorize(state: &State, caller: &Principal, rule: &Rule, id: Uuid) -> Result<(), Status> {
    let (center_id, submitted_by) = applications::owner(&state.pool, id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| application_not_found(id))?;
    authorize_owned(state, caller, rule, id, &center_id, &submitted_by).await
}

/// [`authorize`] for an application whose owner was read already.
async fn authorize_owned(
    state: &State,
    caller: &Principal,
    rule: &Rule,
    id: Uuid,
    center_id: &str,
    submitted_by: &str,
) -> Result<(), Status> {
    let target = Target {
        center_id,
        owner: Some(submitted_by),
    };
    audit::enforce(
        &state.pool,
        caller,
        rule,
        &format!("application:{id}"),
        target,
        Reads::RefusalsOnly,
        || application_not_found(id).into(),
    )
    .await
}

/// The application as it is now, after a change committed.
async fn reread(state: &State, id: Uuid) -> Result<pb::Application, ApiError> {
    applications::get(&state.pool, id).await?.ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("application {id} vanished after commit"))
    })
}

/// Idempotency keys: printable ASCII, at most 200 characters.
fn idempotency_key(raw: &str) -> Result<Option<&str>, ApiError> {
    let key = raw.trim();
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "idempotency_key",
            "idempotency_key_format",
            "幂等键须为不超过 200 个可见 ASCII 字符 (at most 200 printable ASCII characters)",
        ));
    }
    Ok(Some(key))
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn submit_application(
        &self,
        request: Request<pb::SubmitApplicationRequest>,
    ) -> Result<Response<pb::SubmitApplicationResponse>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let purpose = crate::partner::stated_purpose(&caller, &request);
        let r = request.into_inner();
        // Refuse before validating: a caller who may not submit here learns
        // nothing from our validation messages.
        let target = Target {
            center_id: r.center_id.trim(),
            owner: Some(&caller.subject),
        };
        let record = format!("center:{}", target.center_id);
        // Submitting is never hidden (the centers are public), only denied.
        // Every partner exchange is audited, allowed ones too.
        let reads = if caller.role == auth::Role::Partner {
            Reads::Sensitive
        } else {
            Reads::RefusalsOnly
        };
        audit::enforce_with_detail(
            &state.pool,
            &caller,
            &policy::SUBMIT_APPLICATION,
            &record,
            target,
            reads,
            &purpose,
            || Status::not_found("中心不存在 (center not found)"),
        )
        .await?;
        let applicant = r.applicant.unwrap_or_default();
        // Staff (center staff, district administrators) receive applications
        // on the staff channels; residents and partners may not claim them.
        let staff = (caller.is_center_staff() || caller.role == auth::Role::DistrictAdmin)
            .then_some(caller.subject.as_str());
        let draft = submission::Draft {
            departments: &r.departments,
            staff,
            center_id: &r.center_id,
            service_type: &r.service_type,
            channel: &r.channel,
            name: &applicant.name,
            id_number: &applicant.id_number,
            phone: &applicant.phone,
            reason: &r.reason,
            urgent: r.urgent,
            urgent_reason: &r.urgent_reason,
        };
        let today = calendar::local_date(chrono::Utc::now());
        let valid = submission::validate(&draft, today).map_err(ApiError::Invalid)?;
        let key = idempotency_key(&r.idempotency_key)?;
        let submitted =
            applications::submit(&state.pool, &state.keys, &valid, &caller.subject, key).await?;
        // A new application is answered from what was written; a replay
        // reads the stored one.
        let application = match submitted.view {
            Some(view) => view,
            None => applications::get(&state.pool, submitted.id)
                .await?
                .ok_or_else(|| {
                    ApiError::Internal(anyhow::anyhow!(
                        "application {} vanished after commit",
                        submitted.id
                    ))
                })?,
        };
        crate::partner::record_submitted(
            state,
            &caller,
            &application,
            submitted.replayed,
            &purpose,
        )
        .await;
        tracing::info!(application_id = %submitted.id, replayed = submitted.replayed, "application submitted");
        Ok(Response::new(pb::SubmitApplicationResponse {
            application: Some(application),
            replayed: submitted.replayed,
        }))
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let id = parse_id(&request.into_inner().id)?;
        // This view is masked, so an allowed read is no access to personal
        // data and writes no audit row (the chain's single append lock would
        // otherwise serialize every read); refusals are still recorded. Full
        // views of the ID and phone number are audited where they happen.
        // Read first, in one round trip with its owner; nothing of it is
        // returned unless the caller may see it.
        let read = applications::read(&state.pool, id)
            .await?
            .ok_or_else(|| application_not_found(id))?;
        authorize_owned(
            state,
            &caller,
            &policy::READ_APPLICATION,
            id,
            &read.center_id,
            &read.submitted_by,
        )
        .await?;
        Ok(Response::new(read.application))
    }

    async fn partner_get_application(
        &self,
        request: Request<pb::PartnerGetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        crate::partner::get_application(self.state.get()?, request).await
    }

    async fn list_centers(
        &self,
        _: Request<pb::ListCentersRequest>,
    ) -> Result<Response<pb::ListCentersResponse>, Status> {
        let state = self.state.get()?;
        let centers = catalog::centers(&state.pool)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListCentersResponse { centers }))
    }

    async fn list_service_types(
        &self,
        _: Request<pb::ListServiceTypesRequest>,
    ) -> Result<Response<pb::ListServiceTypesResponse>, Status> {
        let state = self.state.get()?;
        let service_types = catalog::service_types(&state.pool)
            .await
            .map_err(ApiError::from)?;
        let departments = catalog::departments(&state.pool)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListServiceTypesResponse {
            service_types,
            departments,
        }))
    }

    async fn catalog_create_service_type(
        &self,
        request: Request<pb::CatalogCreateServiceTypeRequest>,
    ) -> Result<Response<pb::CatalogServiceTypeResponse>, Status> {
        let code = request
            .get_ref()
            .service_type
            .as_ref()
            .map(|t| t.code.clone());
        let (state, caller) = self.catalog_admin(&request, code.as_deref()).await?;
        let definition = valid_definition(request.into_inner().service_type)?;
        let (t, replayed) = catalog::create(&state.pool, &definition, &caller).await?;
        tracing::info!(code = %t.code, replayed, "service type created");
        Ok(Response::new(pb::CatalogServiceTypeResponse {
            service_type: Some(t),
            replayed,
        }))
    }

    async fn catalog_update_service_type(
        &self,
        request: Request<pb::CatalogUpdateServiceTypeRequest>,
    ) -> Result<Response<pb::CatalogServiceTypeResponse>, Status> {
        let code = request
            .get_ref()
            .service_type
            .as_ref()
            .map(|t| t.code.clone());
        let (state, caller) = self.catalog_admin(&request, code.as_deref()).await?;
        let definition = valid_definition(request.into_inner().service_type)?;
        let (t, replayed) = catalog::update(&state.pool, &definition, &caller).await?;
        tracing::info!(code = %t.code, version = t.version, replayed, "service type updated");
        Ok(Response::new(pb::CatalogServiceTypeResponse {
            service_type: Some(t),
            replayed,
        }))
    }

    async fn catalog_retire_service_type(
        &self,
        request: Request<pb::CatalogRetireServiceTypeRequest>,
    ) -> Result<Response<pb::CatalogServiceTypeResponse>, Status> {
        let code = request.get_ref().code.clone();
        let (state, caller) = self.catalog_admin(&request, Some(&code)).await?;
        let r = request.into_inner();
        let code = r.code.trim();
        let reason = r.reason.trim();
        if code.is_empty() {
            return Err(
                ApiError::invalid("code", "required", "请填写事项编码 (code is required)").into(),
            );
        }
        if reason.chars().count() > 200 || reason.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                "reason",
                "reason_format",
                "停用原因不超过 200 个字且不含控制字符 (at most 200 characters)",
            )
            .into());
        }
        let (t, replayed) = catalog::retire(&state.pool, code, reason, &caller).await?;
        tracing::info!(code = %t.code, replayed, "service type retired");
        Ok(Response::new(pb::CatalogServiceTypeResponse {
            service_type: Some(t),
            replayed,
        }))
    }

    async fn catalog_list_service_type_history(
        &self,
        request: Request<pb::CatalogListServiceTypeHistoryRequest>,
    ) -> Result<Response<pb::CatalogListServiceTypeHistoryResponse>, Status> {
        let code = request.get_ref().code.clone();
        let (state, _) = self.catalog_admin(&request, Some(&code)).await?;
        let entries = catalog::history(&state.pool, code.trim()).await?;
        Ok(Response::new(pb::CatalogListServiceTypeHistoryResponse {
            entries,
        }))
    }

    async fn materials_upload(
        &self,
        request: Request<pb::MaterialsUploadRequest>,
    ) -> Result<Response<pb::MaterialsUploadResponse>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let r = request.into_inner();
        let id = application_id(&r.application_id)?;
        let not_found = || ApiError::NotFound(format!("申请 {id} 不存在 (application not found)"));
        let target = materials::target(&state.pool, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        audit::enforce(
            &state.pool,
            &caller,
            &policy::UPLOAD_MATERIAL,
            &format!("application:{id}"),
            Target {
                center_id: &target.center_id,
                owner: Some(&target.submitted_by),
            },
            Reads::RefusalsOnly,
            || not_found().into(),
        )
        .await?;
        if CLOSED_STATUSES.contains(&target.status.as_str()) {
            return Err(ApiError::FailedPrecondition(format!(
                "申请已结束（{}），不再接收材料 (the application is {} and takes no more materials)",
                target.status, target.status
            ))
            .into());
        }
        let item_code = r.item_code.trim();
        let Some(item) = target.checklist.iter().find(|i| i.code == item_code) else {
            let known: Vec<_> = target.checklist.iter().map(|i| i.code.as_str()).collect();
            return Err(ApiError::invalid(
                "item",
                if item_code.is_empty() {
                    "required"
                } else {
                    "material_item_unknown"
                },
                format!(
                    "请指明材料清单中的一项 (item must be one of the checklist's codes: {})",
                    known.join(", ")
                ),
            )
            .into());
        };
        let content_type = domain::materials::check(&r.content, state.material_max_bytes)
            .map_err(|v| ApiError::Invalid(vec![v]))?;
        let file_name = domain::materials::display_name(&r.file_name);
        let (material, replayed) = materials::save(
            &state.pool,
            state.materials.as_ref(),
            materials::Upload {
                application_id: id,
                item_code: &item.code,
                file_name: &file_name,
                content_type,
                content: r.content,
                uploaded_by: &caller.subject,
            },
        )
        .await?;
        tracing::info!(application_id = %id, item = %item.code, sha256 = %material.sha256, replayed, "material stored");
        Ok(Response::new(pb::MaterialsUploadResponse {
            material: Some(material),
            replayed,
        }))
    }

    async fn materials_download(
        &self,
        request: Request<pb::MaterialsDownloadRequest>,
    ) -> Result<Response<pb::MaterialsDownloadResponse>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let r = request.into_inner();
        let id = application_id(&r.application_id)?;
        let material_id = Uuid::parse_str(r.material_id.trim()).map_err(|_| {
            ApiError::invalid(
                "material_id",
                "uuid_format",
                "材料编号格式不正确 (material_id must be a UUID)",
            )
        })?;
        let not_found =
            || ApiError::NotFound(format!("材料 {material_id} 不存在 (material not found)"));
        let (center_id, submitted_by) = applications::owner(&state.pool, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        // Materials are personal data: every read is audited, as the
        // application's own.
        audit::enforce(
            &state.pool,
            &caller,
            &policy::DOWNLOAD_MATERIAL,
            &format!("material:{id}/{material_id}"),
            Target {
                center_id: &center_id,
                owner: Some(&submitted_by),
            },
            Reads::Sensitive,
            || not_found().into(),
        )
        .await?;
        let (material, content) =
            materials::load(&state.pool, state.materials.as_ref(), id, material_id)
                .await?
                .ok_or_else(not_found)?;
        Ok(Response::new(pb::MaterialsDownloadResponse {
            material: Some(material),
            content,
        }))
    }

    async fn pii_get_applicant(
        &self,
        request: Request<pb::PiiGetApplicantRequest>,
    ) -> Result<Response<pb::PiiGetApplicantResponse>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let r = request.into_inner();
        let id = parse_id(&r.id)?;
        authorize(state, &caller, &policy::VIEW_APPLICANT_IN_FULL, id).await?;
        let purpose = purpose::validate(&r.purpose).map_err(|v| ApiError::Invalid(vec![v]))?;
        // The access log row comes first: no full view goes unrecorded.
        audit::record_access(
            &state.pool,
            &caller,
            &policy::VIEW_APPLICANT_IN_FULL,
            &format!("application:{id}"),
            &purpose,
        )
        .await
        .map_err(ApiError::from)?;
        let full = personal::applicant_in_full(&state.pool, &state.keys, id)
            .await?
            .ok_or_else(|| application_not_found(id))?;
        Ok(Response::new(full))
    }

    async fn pii_find_applications(
        &self,
        request: Request<pb::PiiFindApplicationsRequest>,
    ) -> Result<Response<pb::PiiFindApplicationsResponse>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let raw = request.into_inner().id_number;
        // The caller's own center is the record: staff look within it.
        let own_center = caller.center_id.clone().unwrap_or_default();
        let target = Target {
            center_id: &own_center,
            owner: None,
        };
        audit::enforce(
            &state.pool,
            &caller,
            &policy::FIND_APPLICANT_HISTORY,
            "applicant:lookup",
            target,
            Reads::RefusalsOnly,
            || Status::not_found("未找到 (not found)"),
        )
        .await?;
        let today = calendar::local_date(chrono::Utc::now());
        let number = id_number::validate(&raw, today)
            .map_err(|e| ApiError::invalid("id_number", e.rule(), e.message()))?;
        let hash = state.keys.lookup_hash("id_number", &number);
        let center = match policy::FIND_APPLICANT_HISTORY.scope_of(caller.role) {
            Some(Scope::AllCenters) => None,
            _ => Some(own_center.as_str()),
        };
        // A look-up by ID number is a read of someone's history: logged,
        // naming the resident by a pseudonym (the keyed hash), never the number.
        let pseudonym: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let applications = personal::applications_by_id_number(&state.pool, &hash, center)
            .await
            .map_err(ApiError::from)?;
        audit::record_access(
            &state.pool,
            &caller,
            &policy::FIND_APPLICANT_HISTORY,
            &format!("applicant:{pseudonym}"),
            &format!("{} 件 (hits)", applications.len()),
        )
        .await
        .map_err(ApiError::from)?;
        Ok(Response::new(pb::PiiFindApplicationsResponse {
            applications,
        }))
    }

    async fn supplement_application(
        &self,
        request: Request<pb::SupplementApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let r = request.into_inner();
        let id = parse_id(&r.id)?;
        authorize(state, &caller, &policy::SUPPLEMENT_APPLICATION, id).await?;
        let answer = answers::supplement(&r.supplied_items, &r.note).map_err(ApiError::Invalid)?;
        applications::supplement(&state.pool, id, &answer, &caller).await?;
        Ok(Response::new(reread(state, id).await?))
    }

    async fn withdraw_application(
        &self,
        request: Request<pb::WithdrawApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let r = request.into_inner();
        let id = parse_id(&r.id)?;
        authorize(state, &caller, &policy::WITHDRAW_APPLICATION, id).await?;
        let reason = answers::withdrawal_reason(&r.reason, answers::on_behalf(caller.role))
            .map_err(|v| ApiError::Invalid(vec![v]))?;
        applications::withdraw(&state.pool, id, &reason, &caller).await?;
        Ok(Response::new(reread(state, id).await?))
    }

    async fn public_get_progress(
        &self,
        request: Request<pb::PublicGetProgressRequest>,
    ) -> Result<Response<pb::PublicProgress>, Status> {
        let state = self.state.get()?;
        let r = request.into_inner();
        let (number, last4) =
            progress::lookup(&r.application_no, &r.phone_last4).map_err(ApiError::Invalid)?;
        let today = calendar::local_date(chrono::Utc::now());
        let found = public::progress(
            &state.pool,
            &state.keys,
            &state.calendar,
            &number,
            &last4,
            today,
        )
        .await?
        .ok_or_else(|| ApiError::NotFound(progress::NOT_FOUND.into()))?;
        Ok(Response::new(found))
    }
}

/// Statuses after which an application takes no more materials.
const CLOSED_STATUSES: [&str; 3] = ["closed", "rejected", "withdrawn"];

fn application_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        ApiError::invalid(
            "application_id",
            "uuid_format",
            "申请编号格式不正确 (application_id must be a UUID)",
        )
    })
}

fn valid_definition(t: Option<pb::ServiceType>) -> Result<domain::catalog::Definition, ApiError> {
    let definition = catalog::definition_from_pb(t.unwrap_or_default());
    domain::catalog::validate(&definition).map_err(ApiError::Invalid)
}

impl IntakeApi {
    /// The state and caller of a catalog administration call, or its
    /// refusal (audited): only district administrators manage the catalog.
    async fn catalog_admin<T>(
        &self,
        request: &Request<T>,
        code: Option<&str>,
    ) -> Result<(&State, auth::Principal), Status> {
        let state = self.state.get()?;
        let caller = auth::principal(request)?;
        audit::enforce(
            &state.pool,
            &caller,
            &policy::MANAGE_CATALOG,
            &format!("service_type:{}", code.unwrap_or_default().trim()),
            Target {
                center_id: "",
                owner: None,
            },
            Reads::RefusalsOnly,
            || Status::not_found("服务事项不存在 (service type not found)"),
        )
        .await?;
        Ok((state, caller))
    }
}
