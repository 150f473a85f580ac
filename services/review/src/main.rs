//! Bianmin review: review cases and their working-day time limits.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use bianmin_review::{MIGRATIONS, Settings, run};
    bianmin_common::cli::service_main("review", Settings::read, |s| &s.service, &MIGRATIONS, run)
        .await
}
