//! Intake's API, started alone: the real service in this process on port
//! 0, a fresh database copied from a migrated template, a NATS server of
//! its own, called over gRPC with signed tokens (`bianmin_common::testkit`).
//! What crosses services is the end-to-end suite's (`tests/`).

use bianmin_common::auth::{Principal, Role};
use bianmin_common::testkit::{self, Spawned, as_caller, staff};
use bianmin_proto::intake::v1::{self as pb, intake_service_client::IntakeServiceClient};
use std::path::Path;
use tonic::Code;

async fn spawn_intake() -> Spawned {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile_dir();
    testkit::spawn(
        "intake",
        &bianmin_intake::MIGRATIONS,
        bianmin_intake::Settings::read,
        bianmin_intake::run,
        &[
            (
                "SEED_FILE",
                root.join("deploy/seed/catalog.json").display().to_string(),
            ),
            (
                "PII_KEYS",
                bianmin_common::pii::PiiKeys::generate_file("api-1"),
            ),
            ("MATERIALS_DIR", dir),
        ],
    )
    .await
    .expect("intake starts")
}

fn tempfile_dir() -> String {
    std::env::temp_dir()
        .join(format!("bianmin-intake-materials-{}", uuid::Uuid::new_v4()))
        .display()
        .to_string()
}

fn submission(key: &str, reason: &str) -> pb::SubmitApplicationRequest {
    pb::SubmitApplicationRequest {
        center_id: "C01".into(),
        service_type: "elderly-care-subsidy".into(),
        channel: "window".into(),
        applicant: Some(pb::Applicant {
            name: "张秀兰".into(),
            id_number: "11010519491231002X".into(),
            phone: "13812345678".into(),
        }),
        reason: reason.into(),
        idempotency_key: key.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_submission_is_stored_masked_once_per_key_and_announced() {
    let intake = spawn_intake().await;
    let mut client = IntakeServiceClient::new(intake.channel().await);
    let specialist = staff(Role::Specialist, "C01");

    let first = client
        .submit_application(as_caller(&specialist, submission("api-1", "独居老人")))
        .await
        .unwrap()
        .into_inner();
    let application = first.application.unwrap();
    assert!(!first.replayed);
    assert!(
        application.application_no.starts_with("C01-"),
        "{application:?}"
    );
    let applicant = application.applicant.clone().unwrap();
    assert_eq!(applicant.id_number, "110105********002X");
    assert_eq!(applicant.phone, "138****5678");

    // The same key again: the first answer, nothing written twice.
    let again = client
        .submit_application(as_caller(&specialist, submission("api-1", "独居老人")))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.application.unwrap().id, application.id);
    // The application moves on (a material arrives); a retry still answers
    // what the first call answered, not the application as it now is.
    client
        .materials_upload(as_caller(
            &specialist,
            pb::MaterialsUploadRequest {
                application_id: application.id.clone(),
                item_code: "id_card".into(),
                file_name: "身份证.pdf".into(),
                content: bianmin_common::testfiles::pdf("ID card", 1, 1).into(),
            },
        ))
        .await
        .unwrap();
    let later = client
        .submit_application(as_caller(&specialist, submission("api-1", "独居老人")))
        .await
        .unwrap()
        .into_inner();
    assert!(later.replayed);
    let later = later.application.unwrap();
    assert_eq!(
        (
            later.status.as_str(),
            later.timeline.len(),
            later.materials.len()
        ),
        ("submitted", application.timeline.len(), 0)
    );
    assert_eq!(
        later
            .checklist
            .iter()
            .map(|c| c.satisfied)
            .collect::<Vec<_>>(),
        application
            .checklist
            .iter()
            .map(|c| c.satisfied)
            .collect::<Vec<_>>()
    );
    assert_eq!(later.application_no, application.application_no);
    // The same key with another body is a conflict, not a second record.
    let other = client
        .submit_application(as_caller(&specialist, submission("api-1", "另一事由")))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::AlreadyExists, "{other:?}");
    let pool = intake.pool().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM applications")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    // Sealed at rest: the ID number is nowhere in plain text.
    let plain: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM applications WHERE row_to_json(applications)::text LIKE '%11010519491231002X%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(plain, 0);

    // Announced: the relay publishes ApplicationSubmitted to intake's stream.
    let nats = async_nats::connect(intake.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut stream = js.get_stream("BIANMIN_INTAKE").await.unwrap();
        if stream.info().await.unwrap().state.messages == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "nothing published");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    pool.close().await;
    intake.stop().await;
}

#[tokio::test]
async fn callers_see_what_the_policy_grants_and_nothing_leaks() {
    let intake = spawn_intake().await;
    let mut client = IntakeServiceClient::new(intake.channel().await);
    let created = client
        .submit_application(as_caller(
            &staff(Role::Specialist, "C01"),
            submission("api-2", "独居老人"),
        ))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let get = |id: &str| pb::GetApplicationRequest { id: id.into() };

    // Public: the catalog answers without a token.
    let centers = client
        .list_centers(pb::ListCentersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!centers.centers.is_empty());
    // Anything else needs one.
    let anonymous = client.get_application(get(&created.id)).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    // Another center's record answers exactly like a missing one.
    let hidden = client
        .get_application(as_caller(&staff(Role::Specialist, "C02"), get(&created.id)))
        .await
        .unwrap_err();
    let missing_id = uuid::Uuid::new_v4().to_string();
    let missing = client
        .get_application(as_caller(&staff(Role::Specialist, "C02"), get(&missing_id)))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(
        hidden.message().replace(&created.id, "ID"),
        missing.message().replace(&missing_id, "ID"),
        "a hidden record says nothing a missing one does not"
    );
    // A role without a grant is refused outright, and the refusal audited.
    let tech = client
        .submit_application(as_caller(
            &staff(Role::TechSupport, "C01"),
            submission("api-3", "独居老人"),
        ))
        .await
        .unwrap_err();
    assert_eq!(tech.code(), Code::PermissionDenied);
    let pool = intake.pool().await;
    let refusals: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'submit_application' AND outcome = 'denied'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(refusals, 1);
    // A resident reads only their own applications.
    let resident = Principal {
        subject: "resident-1".into(),
        role: Role::Resident,
        center_id: None,
        centers: Vec::new(),
    };
    let foreign = client
        .get_application(as_caller(&resident, get(&created.id)))
        .await
        .unwrap_err();
    assert_eq!(
        foreign.code(),
        Code::NotFound,
        "a resident sees only their own"
    );
    pool.close().await;
    intake.stop().await;
}

#[tokio::test]
async fn full_width_digits_are_read_as_digits_and_other_scripts_refused_by_field() {
    let intake = spawn_intake().await;
    let mut client = IntakeServiceClient::new(intake.channel().await);
    let specialist = staff(Role::Specialist, "C01");
    // As a Chinese input method types them.
    let mut typed = submission("api-fw", "独居老人");
    typed.applicant = Some(pb::Applicant {
        name: "张秀兰".into(),
        id_number: "１１０１０５１９４９１２３１００２Ｘ".into(),
        phone: "１３８\u{3000}１２３４\u{3000}５６７８".into(),
    });
    let created = client
        .submit_application(as_caller(&specialist, typed))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let applicant = created.applicant.unwrap();
    assert_eq!(applicant.id_number, "110105********002X");
    assert_eq!(applicant.phone, "138****5678");

    // Eighteen digits of another script: a 400 naming the field, not a panic.
    let mut arabic = submission("api-ar", "独居老人");
    arabic.applicant = Some(pb::Applicant {
        name: "张秀兰".into(),
        id_number: "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X".into(),
        phone: "13812345678".into(),
    });
    let refused = client
        .submit_application(as_caller(&specialist, arabic))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = bianmin_common::error::violations(&refused)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["applicant.id_number"]);
    // The service still answers.
    client
        .list_centers(pb::ListCentersRequest::default())
        .await
        .unwrap();
    intake.stop().await;
}

#[tokio::test]
async fn guessing_a_numbers_phone_digits_locks_it_and_says_nothing() {
    let intake = spawn_intake().await;
    let mut client = IntakeServiceClient::new(intake.channel().await);
    let specialist = staff(Role::Specialist, "C01");
    let mut numbers = Vec::new();
    for key in ["api-guess-1", "api-guess-2"] {
        let a = client
            .submit_application(as_caller(&specialist, submission(key, key)))
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap();
        numbers.push(a.application_no);
    }
    let look = |number: &str, digits: &str| pb::PublicGetProgressRequest {
        application_no: number.into(),
        phone_last4: digits.into(),
    };
    // Right digits answer (the phone is 13812345678).
    client
        .public_get_progress(look(&numbers[0], "5678"))
        .await
        .unwrap();
    let missing = client
        .public_get_progress(look("C01-20990101-000001", "0000"))
        .await
        .unwrap_err();
    // Five wrong guesses: each the same answer as a number that does not exist.
    for digits in ["0000", "1111", "2222", "3333", "4444"] {
        let wrong = client
            .public_get_progress(look(&numbers[0], digits))
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), Code::NotFound);
        assert_eq!(wrong.message(), missing.message());
    }
    // Now even the right digits answer "not found", alike.
    let locked = client
        .public_get_progress(look(&numbers[0], "5678"))
        .await
        .unwrap_err();
    assert_eq!(locked.code(), Code::NotFound);
    assert_eq!(locked.message(), missing.message());
    // Another number is not affected.
    client
        .public_get_progress(look(&numbers[1], "5678"))
        .await
        .unwrap();
    intake.stop().await;
}
