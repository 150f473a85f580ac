//! Compiles the .proto files with protox (pure Rust), so a fresh machine needs
//! no `protoc` binary. The file descriptor set is written to OUT_DIR as well,
//! for gRPC reflection.
use prost::Message;
use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "bianmin/intake/v1/intake.proto",
        "bianmin/review/v1/review.proto",
        "bianmin/events/v1/events.proto",
        "bianmin/partner/v1/partner.proto",
    ];
    println!("cargo:rerun-if-changed=bianmin");
    let fds = protox::compile(files, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("bianmin_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // The gateway serves review's messages as JSON and documents them in
        // OpenAPI; `default` lets a REST body leave fields out.
        .message_attribute(
            ".bianmin.review.v1",
            r#"#[cfg_attr(feature = "rest", derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema), serde(default))]"#,
        )
        .enum_attribute(
            ".bianmin.review.v1",
            r#"#[cfg_attr(feature = "rest", derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema))]"#,
        )
        // Material files travel as `Bytes`: no copy between the transport,
        // the handler and the object store.
        .bytes(".bianmin.intake.v1.MaterialsUploadRequest.content")
        .bytes(".bianmin.intake.v1.MaterialsDownloadResponse.content")
        .compile_fds(fds)?;
    Ok(())
}
