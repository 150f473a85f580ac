//! `/api/v1/applications/{id}/materials`: the files an application's
//! checklist asks for. The file is the raw request body (any
//! `Content-Type`: the type is judged from the content, PDF, JPEG or PNG),
//! up to `MATERIAL_MAX_BYTES`; the checklist item is a query parameter.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppQuery, ErrorBody, HttpError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bianmin_proto::intake::v1 as pb;
use serde::Deserialize;
use utoipa::IntoParams;

/// One stored file, as intake answers it.
pub type Material = pb::MaterialsFile;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct UploadQuery {
    /// The checklist item code (see the service type's `materials`).
    item: String,
    /// The file's name, for display only.
    filename: String,
}

/// A file as the raw body, documented as binary (not a list of numbers).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBody(#[allow(dead_code)] Vec<u8>);

/// Upload one material for a checklist item.
///
/// The body is the file itself. The same content for the same item again
/// answers 200 with the first material (`Idempotent-Replayed: true`).
#[utoipa::path(post, path = "/api/v1/applications/{id}/materials", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id (UUID)"), UploadQuery),
    request_body(content = FileBody, content_type = "application/octet-stream",
        description = "the file: PDF, JPEG or PNG (judged by content), at most MATERIAL_MAX_BYTES (default 10 MiB)"),
    responses(
        (status = 201, description = "stored", body = Material),
        (status = 200, description = "this content was already stored for this item", body = Material),
        (status = 400, description = "unknown item, empty file, or not a PDF/JPEG/PNG", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "your role may not upload", body = ErrorBody),
        (status = 404, description = "no such application, or not one you may see", body = ErrorBody),
        (status = 409, description = "the application is closed", body = ErrorBody),
        (status = 413, description = "larger than MATERIAL_MAX_BYTES", body = ErrorBody),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    AppQuery(q): AppQuery<UploadQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let content = body.map_err(|rejection| {
        let status = rejection.status();
        let mut e = HttpError::invalid("content", "material_body", rejection.body_text());
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            e = HttpError::invalid(
                "content",
                "material_too_large",
                format!(
                    "文件超过 {} 字节上限 (file is larger than MATERIAL_MAX_BYTES = {} bytes)",
                    state.material_max_bytes, state.material_max_bytes
                ),
            );
            e.status = status;
            e.code = "payload_too_large";
        }
        e
    })?;
    let answer = super::client(&state)
        .materials_upload(state.grpc_request_as(
            &caller,
            pb::MaterialsUploadRequest {
                application_id: id,
                item_code: q.item,
                file_name: q.filename,
                content,
            },
        ))
        .await?
        .into_inner();
    let material: Material = answer.material.unwrap_or_default();
    let status = if answer.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut response = (status, Json(material)).into_response();
    if answer.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Download one material: who may read the application may read its files.
#[utoipa::path(get, path = "/api/v1/applications/{id}/materials/{material_id}", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id (UUID)"),
           ("material_id" = String, Path, description = "material id (UUID)")),
    responses(
        (status = 200, description = "the file, with its content type and `X-Content-SHA256`"),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such material, or not one you may see", body = ErrorBody),
    ))]
pub async fn download(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, material_id)): Path<(String, String)>,
) -> Result<Response, HttpError> {
    let answer = super::client(&state)
        .materials_download(state.grpc_request_as(
            &caller,
            pb::MaterialsDownloadRequest {
                application_id: id,
                material_id,
            },
        ))
        .await?
        .into_inner();
    let material = answer.material.unwrap_or_default();
    let mut response = answer.content.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&material.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&material.sha256) {
        headers.insert("x-content-sha256", v);
    }
    Ok(response)
}
