//! Compiles the .proto files with protox (pure Rust), so a fresh machine needs
//! no `protoc` binary. The file descriptor set is written to OUT_DIR as well,
//! for gRPC reflection.
use prost::Message;
use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Every .proto under bianmin/: a new package needs no edit here.
    let mut files = Vec::new();
    collect_protos(std::path::Path::new("bianmin"), &mut files)?;
    files.sort();
    // A directory is scanned whole: a new or changed file reruns this.
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
