//! Row-level security on the complaint service's migrated template
//! (services/README.md, "Row-level security"): every center-scoped table forced, the app role
//! owning nothing and bypassing nothing. The shared mechanism itself is
//! tested in intake's tests/rls.rs.

use bianmin_common::testkit::{self, rls};

/// The service's tables that are not center-scoped (the service's machinery;
/// also in its migration 20261207000001_complaints.sql).
const SHARED: &[&str] = &["outbox", "inbox", "audit_log", "notifications"];

#[tokio::test]
async fn every_center_scoped_table_of_complaint_is_forced() {
    let template = testkit::template("complaint", &bianmin_complaint::MIGRATIONS)
        .await
        .unwrap();
    let (unprotected, centered) = rls::unprotected(&template, SHARED).await.unwrap();
    assert!(
        unprotected.is_empty(),
        "tables without forced row-level security: {unprotected:?}"
    );
    for table in ["complaints", "complaint_numbers", "complaint_timers"] {
        assert!(
            centered.contains(&table.to_string()),
            "{table}: {centered:?}"
        );
    }
}

#[tokio::test]
async fn the_app_role_owns_nothing_and_bypasses_nothing() {
    let template = testkit::template("complaint", &bianmin_complaint::MIGRATIONS)
        .await
        .unwrap();
    let faults = rls::app_role_faults(&template).await.unwrap();
    assert!(faults.is_empty(), "{faults:?}");
}
