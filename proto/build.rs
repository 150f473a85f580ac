//! Compiles the .proto files with protox (pure Rust), so a fresh machine needs
//! no `protoc` binary. The file descriptor set is written to OUT_DIR as well,
//! for gRPC reflection.
use prost::Message;
use std::{env, fs, path::PathBuf};

include!("bounds.rs");

const REST_MESSAGE: &str = r#"#[cfg_attr(feature = "rest", derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema), serde(default))]"#;
const REST_ENUM: &str = r#"#[cfg_attr(feature = "rest", derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema))]"#;
const REST_SKIP: &str = r#"#[cfg_attr(feature = "rest", serde(skip), schema(ignore))]"#;
const REST_OMIT_EMPTY: &str =
    r#"#[cfg_attr(feature = "rest", serde(skip_serializing_if = "String::is_empty"))]"#;

/// The messages whose `Debug` is written by hand in `src/personal.rs`.
const PERSONAL: [&str; 5] = [
    ".bianmin.intake.v1.Applicant",
    ".bianmin.complaint.v1.Complainant",
    ".bianmin.intake.v1.PiiFindApplicationsRequest",
    ".bianmin.intake.v1.PublicGetProgressRequest",
    ".bianmin.partner.v1.Resident",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Every .proto under bianmin/: a new package needs no edit here.
    let mut files = Vec::new();
    collect_protos(std::path::Path::new("bianmin"), &mut files)?;
    files.sort();
    // A directory is scanned whole: a new or changed file reruns this.
    println!("cargo:rerun-if-changed=bianmin");
    println!("cargo:rerun-if-changed=bounds.rs");
    let fds = protox::compile(files, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("bianmin_descriptor.bin"), fds.encode_to_vec())?;
    // Each field's documented bound (bounds.rs).
    let mut builder = tonic_prost_build::configure();
    for (field, n) in MAX_LENGTH {
        builder = builder.field_attribute(
            field,
            format!(r#"#[cfg_attr(feature = "rest", schema(max_length = {n}))]"#),
        );
    }
    for (field, n) in MAX_ITEMS {
        builder = builder.field_attribute(
            field,
            format!(r#"#[cfg_attr(feature = "rest", schema(max_items = {n}))]"#),
        );
    }
    builder
        .build_client(true)
        .build_server(true)
        // The REST bodies are the services' own messages as JSON, documented
        // in OpenAPI from the same definitions (the `rest` feature, which
        // only the gateway turns on): one schema per message, nothing copied
        // by hand that could drift, and what a REST caller sees is exactly
        // what the service chose to answer (masked by the service itself).
        // `default` lets a REST body leave fields out.
        .message_attribute(".bianmin", REST_MESSAGE)
        .enum_attribute(".bianmin", REST_ENUM)
        // Not in a REST body: files travel as the raw request or response
        // body, idempotency keys in the `Idempotency-Key` header.
        .field_attribute(".bianmin.intake.v1.MaterialsUploadRequest.content", REST_SKIP)
        .field_attribute(".bianmin.intake.v1.MaterialsDownloadResponse.content", REST_SKIP)
        .field_attribute(".bianmin.intake.v1.SubmitApplicationRequest.idempotency_key", REST_SKIP)
        .field_attribute(".bianmin.review.v1.ActOnReviewCaseRequest.idempotency_key", REST_SKIP)
        .field_attribute(".bianmin.complaint.v1.FileComplaintRequest.idempotency_key", REST_SKIP)
        // Nor what the path names.
        .field_attribute(".bianmin.intake.v1.SupplementApplicationRequest.id", REST_SKIP)
        .field_attribute(".bianmin.intake.v1.WithdrawApplicationRequest.id", REST_SKIP)
        .field_attribute(".bianmin.complaint.v1.TakeComplaintRequest.id", REST_SKIP)
        .field_attribute(".bianmin.complaint.v1.HandOverComplaintRequest.id", REST_SKIP)
        .field_attribute(".bianmin.complaint.v1.ClassifyComplaintRequest.id", REST_SKIP)
        .field_attribute(".bianmin.complaint.v1.AssignInvestigatorsRequest.id", REST_SKIP)
        .field_attribute(".bianmin.complaint.v1.RecordFindingRequest.id", REST_SKIP)
        .field_attribute(".bianmin.complaint.v1.AnswerComplaintRequest.id", REST_SKIP)
        .field_attribute(".bianmin.complaint.v1.CloseComplaintRequest.id", REST_SKIP)
        .field_attribute(".bianmin.intake.v1.CatalogRetireServiceTypeRequest.code", REST_SKIP)
        // The REST name of the catalog's list.
        .field_attribute(
            ".bianmin.intake.v1.ListServiceTypesResponse.service_types",
            r#"#[cfg_attr(feature = "rest", serde(rename = "services"))]"#,
        )
        // A checklist item is required unless a REST body says otherwise.
        .field_attribute(
            ".bianmin.intake.v1.CatalogChecklistItem.required",
            r#"#[cfg_attr(feature = "rest", serde(default = "crate::rest::yes"), schema(default = true))]"#,
        )
        // Absent rather than empty in JSON.
        .field_attribute(".bianmin.intake.v1.Application.received_by", REST_OMIT_EMPTY)
        .field_attribute(".bianmin.intake.v1.ServiceType.retired_at", REST_OMIT_EMPTY)
        // Material files travel as `Bytes`: no copy between the transport,
        // the handler and the object store.
        // Messages that carry a name, an ID number or a phone number in
        // full print only their fields' lengths (`src/personal.rs`), so no
        // `{:?}` in a log, an error or a panic can put them there.
        .skip_debug(PERSONAL)
        .bytes(".bianmin.intake.v1.MaterialsUploadRequest.content")
        .bytes(".bianmin.intake.v1.MaterialsDownloadResponse.content")
        .compile_fds(fds)?;
    Ok(())
}

/// The .proto files under `dir`, recursively.
fn collect_protos(
    dir: &std::path::Path,
    out: &mut Vec<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path.display().to_string());
        }
    }
    Ok(())
}
