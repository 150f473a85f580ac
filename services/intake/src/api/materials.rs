//! Materials: the files an application is supported with, checked against
//! its service type's checklist.

use super::{State, convert, owned};
use crate::domain;
use crate::domain::status;
use crate::policy;
use crate::store::{applications, materials};
use bianmin_common::audit::{self, Reads};
use bianmin_common::auth::{self, policy::Target};
use bianmin_common::db;
use bianmin_common::error::ApiError;
use bianmin_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

fn application_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        ApiError::invalid(
            "application_id",
            "uuid_format",
            "申请编号格式不正确 (application_id must be a UUID)",
        )
    })
}

/// `MaterialsUpload`: one file for one item of the checklist, while the
/// application is open.
pub async fn upload(
    state: &State,
    request: Request<pb::MaterialsUploadRequest>,
) -> Result<Response<pb::MaterialsUploadResponse>, Status> {
    let caller = auth::principal(&request)?;
    let r = request.into_inner();
    let id = application_id(&r.application_id)?;
    let not_found = || ApiError::NotFound(format!("申请 {id} 不存在 (application not found)"));
    let scope = db::Scope::of(&caller);
    let target = materials::target(&state.pool, &scope, id)
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
    // The input first, then the application's state: a bad file answers
    // 400 whatever the application's status, a good one 409 when it is
    // closed to materials.
    let item_code = r.item_code.trim();
    let item = domain::materials::checklist_item(&target.checklist, item_code)
        .map_err(|v| ApiError::Invalid(vec![v]))?;
    let file_name =
        domain::materials::file_name(&r.file_name).map_err(|v| ApiError::Invalid(vec![v]))?;
    // Decoding a large scan takes milliseconds of CPU: off the runtime's
    // threads, so other requests keep moving.
    let (content, max) = (r.content.clone(), state.material_max_bytes);
    let content_type = tokio::task::spawn_blocking(move || domain::materials::check(&content, max))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("checking a material: {e}")))?
        .map_err(|v| ApiError::Invalid(vec![v]))?;
    status::take_material(target.status).map_err(ApiError::from)?;
    let saved = materials::save(
        &state.pool,
        &scope,
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
    .await
    .map_err(ApiError::from)?;
    let replayed = saved.replayed;
    tracing::info!(application_id = %id, item = %item.code, sha256 = %saved.file.sha256, replayed, "material stored");
    Ok(Response::new(pb::MaterialsUploadResponse {
        material: Some(convert::material(saved.file)),
        replayed,
    }))
}

/// `MaterialsDownload`: personal data, so every read is audited.
pub async fn download(
    state: &State,
    request: Request<pb::MaterialsDownloadRequest>,
) -> Result<Response<pb::MaterialsDownloadResponse>, Status> {
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
    let owner = applications::owner(&state.pool, id)
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
        owned(&owner),
        Reads::Sensitive,
        || not_found().into(),
    )
    .await?;
    let loaded = materials::load(
        &state.pool,
        &db::Scope::of(&caller),
        state.materials.as_ref(),
        id,
        material_id,
    )
    .await
    .map_err(ApiError::from)?
    .ok_or_else(not_found)?;
    Ok(Response::new(pb::MaterialsDownloadResponse {
        material: Some(convert::material(loaded.file)),
        content: loaded.content,
    }))
}
