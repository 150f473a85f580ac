//! Row-level security on review's migrated template (services/README.md,
//! "Row-level security"): every center-scoped table forced, the app role
//! owning nothing and bypassing nothing. The shared mechanism itself is
//! tested in intake's tests/rls.rs.

use bianmin_common::testkit::{self, rls};

/// Review's tables that are not center-scoped (the service's machinery;
/// also in its migration 20261207000001_row_level_security.sql).
const SHARED: &[&str] = &["outbox", "inbox", "audit_log", "notifications"];

#[tokio::test]
async fn every_center_scoped_table_of_review_is_forced() {
    let template = testkit::template("review", &bianmin_review::MIGRATIONS)
        .await
        .unwrap();
    let (unprotected, centered) = rls::unprotected(&template, SHARED).await.unwrap();
    assert!(
        unprotected.is_empty(),
        "tables without forced row-level security: {unprotected:?}"
    );
    assert!(
        centered.contains(&"review_cases".to_string()),
        "{centered:?}"
    );
}

#[tokio::test]
async fn the_app_role_owns_nothing_and_bypasses_nothing() {
    let template = testkit::template("review", &bianmin_review::MIGRATIONS)
        .await
        .unwrap();
    let faults = rls::app_role_faults(&template).await.unwrap();
    assert!(faults.is_empty(), "{faults:?}");
}
