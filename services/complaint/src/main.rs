//! Bianmin complaint: residents' complaints, owned, investigated, answered on the clock.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use bianmin_complaint::{MIGRATIONS, Settings, run};
    bianmin_common::cli::service_main(
        "complaint",
        Settings::read,
        |s| &s.service,
        &MIGRATIONS,
        run,
    )
    .await
}
