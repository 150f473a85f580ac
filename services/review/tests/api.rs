//! Review's API, started alone: the real service in this process on port
//! 0, a fresh database copied from a migrated template, a NATS server of
//! its own (`bianmin_common::testkit`). The application it reviews arrives
//! the way intake announces one: an `ApplicationSubmitted` on intake's
//! stream.

use bianmin_common::auth::Role;
use bianmin_common::nats::headers;
use bianmin_common::testkit::{self, Spawned, as_caller, staff};
use bianmin_proto::events::v1 as ev;
use bianmin_proto::review::v1::{self as pb, review_service_client::ReviewServiceClient};
use bianmin_proto::subjects;
use prost::Message as _;
use std::time::{Duration, Instant};
use tonic::Code;

async fn spawn_review() -> Spawned {
    testkit::spawn(
        "review",
        &bianmin_review::MIGRATIONS,
        bianmin_review::Settings::read,
        bianmin_review::run,
        &[("TIMER_CHECK_INTERVAL_MS", "200".to_string())],
    )
    .await
    .expect("review starts")
}

/// Announces a submitted application as intake's relay would.
async fn announce(review: &Spawned, application_id: &str) {
    let client = async_nats::connect(review.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let event_id = uuid::Uuid::now_v7().to_string();
    let event = ev::ApplicationSubmitted {
        envelope: ev::EventEnvelope::new(&event_id, chrono::Utc::now().to_rfc3339(), "C01"),
        application_id: application_id.into(),
        application_no: "C01-20261202-000001".into(),
        service_type: "elderly-care-subsidy".into(),
        channel: "window".into(),
        preliminary_review_days: 5,
        extended_review_days: 10,
        decision_days: 30,
        urgent: false,
        departments: Vec::new(),
    };
    let mut h = async_nats::HeaderMap::new();
    h.insert(headers::MSG_ID, event_id.as_str());
    h.insert(headers::EVENT_ID, event_id.as_str());
    h.insert(headers::EVENT_TYPE, "ApplicationSubmitted");
    js.publish_with_headers(
        subjects::APPLICATION_SUBMITTED,
        h,
        event.encode_to_vec().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

async fn case_of(
    client: &mut ReviewServiceClient<tonic::transport::Channel>,
    application_id: &str,
) -> pb::ReviewCase {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let asked = client
            .get_review_case(as_caller(
                &staff(Role::Specialist, "C01"),
                pb::GetReviewCaseRequest {
                    by: Some(pb::get_review_case_request::By::ApplicationId(
                        application_id.into(),
                    )),
                },
            ))
            .await;
        if let Ok(case) = asked {
            return case.into_inner();
        }
        assert!(Instant::now() < deadline, "no case opened: {asked:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn accept(case_id: &str, key: &str) -> pb::ActOnReviewCaseRequest {
    pb::ActOnReviewCaseRequest {
        case_id: case_id.into(),
        idempotency_key: key.into(),
        action: Some(pb::act_on_review_case_request::Action::Accept(pb::Accept {
            reason: "材料齐全".into(),
        })),
    }
}

#[tokio::test]
async fn an_announced_application_opens_a_case_the_centers_staff_move_on() {
    let review = spawn_review().await;
    let mut client = ReviewServiceClient::new(review.channel().await);
    let application_id = uuid::Uuid::now_v7().to_string();
    announce(&review, &application_id).await;
    // The same announcement again (a redelivery) opens nothing more.
    announce(&review, &application_id).await;
    let case = case_of(&mut client, &application_id).await;
    assert_eq!(case.stage, "preliminary_review");
    assert!(!case.due_date.is_empty(), "{case:?}");

    // Another center's supervisor: as if the case did not exist.
    let hidden = client
        .act_on_review_case(as_caller(
            &staff(Role::Supervisor, "C02"),
            accept(&case.id, ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    // A quality inspector reads but does not act.
    let inspector = client
        .act_on_review_case(as_caller(
            &staff(Role::QualityInspector, "C01"),
            accept(&case.id, ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(inspector.code(), Code::PermissionDenied);

    let specialist = staff(Role::Specialist, "C01");
    let accepted = client
        .act_on_review_case(as_caller(&specialist, accept(&case.id, "accept-1")))
        .await
        .unwrap()
        .into_inner();
    assert!(!accepted.replayed);
    assert_eq!(accepted.review_case.unwrap().stage, "detailed_assessment");
    // A retry under the same key does not act again.
    let retried = client
        .act_on_review_case(as_caller(&specialist, accept(&case.id, "accept-1")))
        .await
        .unwrap()
        .into_inner();
    assert!(retried.replayed);
    // Accepting again is not legal in the new stage.
    let twice = client
        .act_on_review_case(as_caller(&specialist, accept(&case.id, "accept-2")))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition, "{twice:?}");

    let pool = review.pool().await;
    let cases: i64 = sqlx::query_scalar("SELECT count(*) FROM review_cases")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(cases, 1, "one case per application, redelivery or not");
    pool.close().await;
    review.stop().await;
}

fn act(
    case_id: &str,
    key: &str,
    action: pb::act_on_review_case_request::Action,
) -> pb::ActOnReviewCaseRequest {
    pb::ActOnReviewCaseRequest {
        case_id: case_id.into(),
        idempotency_key: key.into(),
        action: Some(action),
    }
}

fn assign(assignee: &str) -> pb::act_on_review_case_request::Action {
    pb::act_on_review_case_request::Action::Assign(pb::Assign {
        assignee: assignee.into(),
        reason: "分派".into(),
    })
}

/// The (field, rule) pairs of an INVALID_ARGUMENT.
fn refused_fields(status: &tonic::Status) -> Vec<(String, String)> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    bianmin_common::error::violations(status)
        .into_iter()
        .map(|v| (v.field, v.rule))
        .collect()
}

#[tokio::test]
async fn bad_input_is_a_400_before_the_stage_and_a_role_that_never_may_a_403_before_both() {
    let review = spawn_review().await;
    let mut client = ReviewServiceClient::new(review.channel().await);
    let application_id = uuid::Uuid::now_v7().to_string();
    announce(&review, &application_id).await;
    let case = case_of(&mut client, &application_id).await;
    let (specialist, supervisor) = (
        staff(Role::Specialist, "C01"),
        staff(Role::Supervisor, "C01"),
    );
    client
        .act_on_review_case(as_caller(&specialist, accept(&case.id, "")))
        .await
        .unwrap();

    // Accepting again would be a 409 (stage); an overlong reason says so
    // first, whatever the stage.
    let mut long = accept(&case.id, "");
    long.action = Some(pb::act_on_review_case_request::Action::Accept(pb::Accept {
        reason: "长".repeat(501),
    }));
    let refused = client
        .act_on_review_case(as_caller(&specialist, long))
        .await
        .unwrap_err();
    assert_eq!(
        refused_fields(&refused),
        [("reason".into(), "too_long".into())]
    );

    // Ten thousand missing items, a NUL in one: refused by field.
    let many = pb::act_on_review_case_request::Action::RequestSupplement(pb::RequestSupplement {
        missing_items: vec!["户口簿".into(); 10_000],
        reason: "补正".into(),
    });
    let refused = client
        .act_on_review_case(as_caller(&specialist, act(&case.id, "", many)))
        .await
        .unwrap_err();
    assert_eq!(
        refused_fields(&refused),
        [("missing_items".into(), "too_many".into())]
    );
    let nul = pb::act_on_review_case_request::Action::RequestSupplement(pb::RequestSupplement {
        missing_items: vec!["户口簿".into(), "收入\0证明".into()],
        reason: "补正".into(),
    });
    let refused = client
        .act_on_review_case(as_caller(&specialist, act(&case.id, "", nul)))
        .await
        .unwrap_err();
    assert_eq!(
        refused_fields(&refused),
        [("missing_items[1]".into(), "control_characters".into())]
    );

    // An assignee is a staff account of the case's center.
    for (who, rule) in [
        ("c02-specialist", "staff_of_center"),
        ("nobody", "staff_id_format"),
    ] {
        let refused = client
            .act_on_review_case(as_caller(&supervisor, act(&case.id, "", assign(who))))
            .await
            .unwrap_err();
        assert_eq!(
            refused_fields(&refused),
            [("assignee".into(), rule.into())],
            "{who}"
        );
    }
    // A specialist never assigns: 403 even with bad input.
    let refused = client
        .act_on_review_case(as_caller(&specialist, act(&case.id, "", assign("nobody"))))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // None of it changed the case.
    let now = case_of(&mut client, &application_id).await;
    assert_eq!(now.stage, "detailed_assessment");
    assert!(
        now.supplements.is_empty() && now.assignee.is_empty(),
        "{now:?}"
    );
    review.stop().await;
}

#[tokio::test]
async fn a_retry_answers_what_the_first_call_answered() {
    let review = spawn_review().await;
    let mut client = ReviewServiceClient::new(review.channel().await);
    let application_id = uuid::Uuid::now_v7().to_string();
    announce(&review, &application_id).await;
    let case = case_of(&mut client, &application_id).await;
    let (specialist, supervisor) = (
        staff(Role::Specialist, "C01"),
        staff(Role::Supervisor, "C01"),
    );
    let first = client
        .act_on_review_case(as_caller(&specialist, accept(&case.id, "k-accept")))
        .await
        .unwrap()
        .into_inner();
    let assigned = client
        .act_on_review_case(as_caller(
            &supervisor,
            act(&case.id, "k-assign", assign("c01-specialist")),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assigned.review_case.unwrap().assignee, "c01-specialist");

    // The case moved on since; the retry of the acceptance still answers
    // the case as the acceptance left it.
    let retried = client
        .act_on_review_case(as_caller(&specialist, accept(&case.id, "k-accept")))
        .await
        .unwrap()
        .into_inner();
    assert!(retried.replayed);
    assert_eq!(retried.review_case, first.review_case);
    assert_eq!(retried.review_case.unwrap().assignee, "");

    // A key is for one action: reused for another, it is refused.
    let reused = client
        .act_on_review_case(as_caller(
            &supervisor,
            act(&case.id, "k-accept", assign("c01-supervisor")),
        ))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::FailedPrecondition, "{reused:?}");
    assert_eq!(
        case_of(&mut client, &application_id).await.assignee,
        "c01-specialist"
    );
    review.stop().await;
}
