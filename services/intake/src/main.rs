//! Bianmin intake: service catalog, applications, status timelines.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use bianmin_intake::{MIGRATIONS, Settings, run};
    bianmin_common::cli::service_main("intake", Settings::read, |s| &s.service, &MIGRATIONS, run)
        .await
}
