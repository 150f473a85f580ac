//! Row-level security, the second wall (services/README.md, "Row-level
//! security"), on real PostgreSQL: the shared mechanism (`db::begin` with a
//! `Scope`, the `center_visible()` policy predicate) on a small table of
//! the test's own, and intake's migrated template: every center-scoped
//! table forced, the app role owning nothing and bypassing nothing.

use bianmin_common::db::{self, Scope};
use bianmin_common::testkit::{self, rls};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, PgConnection, PgPool};

/// The tables of intake that are not center-scoped, and why (also in the
/// migration 20261207000001_row_level_security.sql): the district's
/// reference data and the service's machinery.
const SHARED: &[&str] = &[
    "centers",
    "service_types",
    "service_type_history",
    "departments",
    "public_lookup_guesses",
    "outbox",
    "inbox",
    "audit_log",
    "notifications",
];

/// A fresh copy of intake's template with a small center-scoped table
/// made by the owner the way a migration makes one, three rows of center
/// A and two of B; returns the database's superuser URL.
async fn probe_database() -> String {
    let url = testkit::fresh_database("intake", &bianmin_intake::MIGRATIONS)
        .await
        .expect("a test database");
    let mut owner = PgConnection::connect(&testkit::as_owner(&url))
        .await
        .expect("the owner role connects");
    sqlx::raw_sql(
        "CREATE TABLE rls_probe (id BIGSERIAL PRIMARY KEY, center_id TEXT NOT NULL, body TEXT NOT NULL);
         ALTER TABLE rls_probe ENABLE ROW LEVEL SECURITY;
         ALTER TABLE rls_probe FORCE ROW LEVEL SECURITY;
         CREATE POLICY center_scope ON rls_probe
             USING (center_visible(center_id)) WITH CHECK (center_visible(center_id));",
    )
    .execute(&mut owner)
    .await
    .expect("the probe table");
    // The owner is under the forced policy too: seeding needs a scope.
    let mut tx = owner.begin().await.unwrap();
    db::set_scope(&mut tx, &Scope::AllCenters).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO rls_probe (center_id, body) VALUES
           ('CA', 'secret-of-CA-1'), ('CA', 'secret-of-CA-2'), ('CA', 'secret-of-CA-3'),
           ('CB', 'secret-of-CB-1'), ('CB', 'secret-of-CB-2')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    url
}

/// A pool as the app role (what `serve` connects as), of `size`.
async fn app_pool(url: &str, size: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(size)
        .connect(&testkit::as_app(url))
        .await
        .expect("the app role connects")
}

async fn bodies(conn: &mut PgConnection) -> Vec<(String, String)> {
    sqlx::query_as("SELECT center_id, body FROM rls_probe ORDER BY id")
        .fetch_all(conn)
        .await
        .expect("a read")
}

#[tokio::test]
async fn with_no_setting_nothing_is_visible() {
    let url = probe_database().await;
    let pool = app_pool(&url, 1).await;
    // Outside a transaction, and in a transaction nobody scoped.
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT center_id, body FROM rls_probe")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(rows.is_empty(), "unscoped read saw {rows:?}");
    let mut tx = pool.begin().await.unwrap();
    assert_eq!(bodies(&mut tx).await, vec![]);
    drop(tx);
    // The owner too: FORCE ROW LEVEL SECURITY.
    let mut owner = PgConnection::connect(&testkit::as_owner(&url))
        .await
        .unwrap();
    assert_eq!(bodies(&mut owner).await, vec![], "the table owner bypassed");
    pool.close().await;
    testkit::drop_database(&url).await;
}

#[tokio::test]
async fn center_a_sees_only_its_rows_and_all_centers_sees_both() {
    let url = probe_database().await;
    let pool = app_pool(&url, 1).await;
    let mut tx = db::begin(&pool, &Scope::center("CA")).await.unwrap();
    let seen = bodies(&mut tx).await;
    tx.commit().await.unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen.iter().all(|(c, b)| c == "CA" && b.contains("CA")),
        "{seen:?}"
    );
    let mut tx = db::begin(&pool, &Scope::Centers(vec!["CA".into(), "CB".into()]))
        .await
        .unwrap();
    assert_eq!(bodies(&mut tx).await.len(), 5, "a partner's two centers");
    drop(tx);
    let mut tx = db::begin(&pool, &Scope::AllCenters).await.unwrap();
    assert_eq!(bodies(&mut tx).await.len(), 5);
    drop(tx);
    let mut tx = db::begin(&pool, &Scope::Centers(Vec::new())).await.unwrap();
    assert_eq!(bodies(&mut tx).await, vec![], "no centers is nothing");
    drop(tx);
    pool.close().await;
    testkit::drop_database(&url).await;
}

#[tokio::test]
async fn writing_another_centers_row_as_a_fails() {
    let url = probe_database().await;
    let pool = app_pool(&url, 1).await;
    let refused = |r: Result<sqlx::postgres::PgQueryResult, sqlx::Error>, what: &str| match r {
        Err(sqlx::Error::Database(e)) => {
            assert_eq!(e.code().as_deref(), Some("42501"), "{what}: {e}")
        }
        other => panic!("{what} was not refused: {other:?}"),
    };
    let mut tx = db::begin(&pool, &Scope::center("CA")).await.unwrap();
    refused(
        sqlx::query("INSERT INTO rls_probe (center_id, body) VALUES ('CB', 'planted by CA')")
            .execute(&mut *tx)
            .await,
        "inserting B's row as A",
    );
    drop(tx);
    // Moving one's own row to the other center is the same write.
    let mut tx = db::begin(&pool, &Scope::center("CA")).await.unwrap();
    refused(
        sqlx::query("UPDATE rls_probe SET center_id = 'CB' WHERE center_id = 'CA'")
            .execute(&mut *tx)
            .await,
        "moving A's row to B",
    );
    drop(tx);
    // B's rows are not there for A to change or delete.
    let mut tx = db::begin(&pool, &Scope::center("CA")).await.unwrap();
    let changed = sqlx::query("UPDATE rls_probe SET body = 'defaced' WHERE center_id = 'CB'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let deleted = sqlx::query("DELETE FROM rls_probe WHERE center_id = 'CB'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((changed.rows_affected(), deleted.rows_affected()), (0, 0));
    let mut tx = db::begin(&pool, &Scope::center("CB")).await.unwrap();
    let b = bodies(&mut tx).await;
    assert_eq!(b.len(), 2);
    assert!(
        b.iter().all(|(_, body)| body.starts_with("secret-of-CB")),
        "{b:?}"
    );
    drop(tx);
    pool.close().await;
    testkit::drop_database(&url).await;
}

/// A and B requests interleaved on a pool of two connections, each one
/// after another on the same connections: every read sees only its own
/// center's bytes, and a read nobody scoped (between them, on a connection
/// the other center just used) sees nothing, so no setting outlives its
/// transaction.
#[tokio::test]
async fn a_pool_of_two_carries_no_center_into_the_next_request() {
    let url = probe_database().await;
    let pool = app_pool(&url, 2).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let pool = pool.clone();
        tasks.spawn(async move {
            let (mine, theirs) = if i % 2 == 0 {
                ("CA", "CB")
            } else {
                ("CB", "CA")
            };
            if i % 5 == 4 {
                // The forgetful request: no scope at all.
                let rows: Vec<(String, String)> =
                    sqlx::query_as("SELECT center_id, body FROM rls_probe")
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                return (i, String::new(), rows.len(), String::new());
            }
            let mut tx = db::begin(&pool, &Scope::center(mine)).await.unwrap();
            let rows = bodies(&mut tx).await;
            // Hold the connection a moment so the other center's request
            // queues for it.
            tokio::task::yield_now().await;
            if i % 3 == 0 {
                tx.commit().await.unwrap();
            } else {
                tx.rollback().await.unwrap();
            }
            let bytes: String = rows.iter().map(|(c, b)| format!("{c}:{b};")).collect();
            (i, bytes, rows.len(), theirs.to_string())
        });
    }
    let mut scoped = 0;
    while let Some(done) = tasks.join_next().await {
        let (i, bytes, n, theirs) = done.unwrap();
        if theirs.is_empty() {
            assert_eq!(n, 0, "request {i} without a scope saw {n} rows");
            continue;
        }
        scoped += 1;
        assert!(
            !bytes.contains(&theirs),
            "request {i} saw {theirs}'s bytes: {bytes}"
        );
        assert!(n == 3 || n == 2, "request {i} saw {n} rows: {bytes}");
    }
    assert_eq!(scoped, 160);
    let connections: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'bianmin_app' AND datname = current_database()",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(connections <= 2, "{connections} connections");
    pool.close().await;
    testkit::drop_database(&url).await;
}

#[tokio::test]
async fn every_center_scoped_table_of_intake_is_forced() {
    let template = testkit::template("intake", &bianmin_intake::MIGRATIONS)
        .await
        .unwrap();
    let (unprotected, centered) = rls::unprotected(&template, SHARED).await.unwrap();
    assert!(
        unprotected.is_empty(),
        "tables without forced row-level security: {unprotected:?}"
    );
    assert!(
        centered.contains(&"applications".to_string()),
        "{centered:?}"
    );
}

#[tokio::test]
async fn the_app_role_owns_nothing_and_bypasses_nothing() {
    let template = testkit::template("intake", &bianmin_intake::MIGRATIONS)
        .await
        .unwrap();
    let faults = rls::app_role_faults(&template).await.unwrap();
    assert!(faults.is_empty(), "{faults:?}");
}
