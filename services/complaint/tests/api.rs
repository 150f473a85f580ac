//! The complaint service's API, started alone: the real service in this
//! process on port 0, a fresh database copied from a migrated template, a
//! NATS server of its own (`bianmin_common::testkit`).

use bianmin_common::auth::{Principal, Role};
use bianmin_common::testkit::{self, Spawned, as_caller, staff};
use bianmin_proto::complaint::v1::{self as pb, complaint_service_client::ComplaintServiceClient};
use bianmin_proto::events::v1 as ev;
use futures::StreamExt as _;
use prost::Message as _;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::transport::Channel;

const ID_NUMBER: &str = "11010519491231002X";
const PHONE: &str = "13912345678";

async fn spawn_complaint() -> Spawned {
    testkit::spawn(
        "complaint",
        &bianmin_complaint::MIGRATIONS,
        bianmin_complaint::Settings::read,
        bianmin_complaint::run,
        &[
            ("TIMER_CHECK_INTERVAL_MS", "100".to_string()),
            (
                "PII_KEYS",
                bianmin_common::pii::PiiKeys::generate_file("api-1"),
            ),
        ],
    )
    .await
    .expect("complaint starts")
}

fn resident(subject: &str) -> Principal {
    Principal {
        subject: subject.into(),
        role: Role::Resident,
        center_id: None,
        centers: Vec::new(),
    }
}

fn filing(kind: &str, channel: &str, key: &str) -> pb::FileComplaintRequest {
    pb::FileComplaintRequest {
        center_id: "C01".into(),
        channel: channel.into(),
        complainant: Some(pb::Complainant {
            name: "王建国".into(),
            id_number: ID_NUMBER.into(),
            phone: PHONE.into(),
        }),
        party: Some(pb::Party {
            kind: "staff".into(),
            id: "c01-window-3".into(),
        }),
        r#type: kind.into(),
        content: "窗口工作人员态度恶劣，拒绝解释材料要求".into(),
        demand: "道歉并说明材料要求".into(),
        sensitive: false,
        idempotency_key: key.into(),
    }
}

async fn file(
    client: &mut ComplaintServiceClient<Channel>,
    who: &Principal,
    r: pb::FileComplaintRequest,
) -> pb::FileComplaintResponse {
    client
        .file_complaint(as_caller(who, r))
        .await
        .unwrap()
        .into_inner()
}

/// The (field, rule) pairs of an INVALID_ARGUMENT.
fn refused_fields(status: &tonic::Status) -> Vec<(String, String)> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    bianmin_common::error::violations(status)
        .into_iter()
        .map(|v| (v.field, v.rule))
        .collect()
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn filing_is_masked_numbered_idempotent_and_hidden_from_other_centers() {
    let svc = spawn_complaint().await;
    let mut client = ComplaintServiceClient::new(svc.channel().await);
    let specialist = staff(Role::Specialist, "C01");
    let first = file(
        &mut client,
        &specialist,
        filing("complaint", "window", "k-1"),
    )
    .await;
    assert!(!first.replayed);
    let c = first.complaint.clone().unwrap();
    assert_eq!(c.status, "owned");
    assert_eq!(
        (
            c.owner.as_str(),
            c.first_owner.as_str(),
            c.recorded_by.as_str()
        ),
        ("c01-specialist", "c01-specialist", "c01-specialist")
    );
    assert_eq!(c.type_label, "投诉");
    let today = bianmin_common::calendar::local_date(chrono::Utc::now())
        .format("%Y%m%d")
        .to_string();
    assert_eq!(c.complaint_no, format!("C01-TS-{today}-000001"));
    assert!(!c.due_date.is_empty());
    let who = c.complainant.clone().unwrap();
    assert_eq!(
        who.id_number,
        bianmin_common::pii::mask_id_number(ID_NUMBER)
    );
    assert_eq!(who.phone, "139****5678");
    assert_ne!(who.name, "王建国");

    // The retry answers the first answer, and files nothing more.
    let retry = file(
        &mut client,
        &specialist,
        filing("complaint", "window", "k-1"),
    )
    .await;
    assert!(retry.replayed);
    assert_eq!(retry.complaint, first.complaint);
    // The same key with another body is refused.
    let reused = client
        .file_complaint(as_caller(&specialist, filing("report", "window", "k-1")))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists, "{reused:?}");
    let second = file(&mut client, &specialist, filing("complaint", "phone", "")).await;
    assert!(second.complaint.unwrap().complaint_no.ends_with("-000002"));

    // Another center's staff: as if it did not exist; and may not file here.
    let hidden = client
        .get_complaint(as_caller(
            &staff(Role::Supervisor, "C02"),
            pb::GetComplaintRequest { id: c.id.clone() },
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let denied = client
        .file_complaint(as_caller(
            &staff(Role::Specialist, "C02"),
            filing("complaint", "window", ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let listed = client
        .list_complaints(as_caller(
            &staff(Role::Supervisor, "C02"),
            pb::ListComplaintsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.complaints.is_empty());
    let listed = client
        .list_complaints(as_caller(
            &staff(Role::Supervisor, "C01"),
            pb::ListComplaintsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.complaints.len(), 2);

    // Nothing in clear at rest.
    let pool = svc.pool().await;
    let plain = format!(
        "SELECT count(*) FROM complaints WHERE row_to_json(complaints)::text LIKE '%{ID_NUMBER}%'
            OR row_to_json(complaints)::text LIKE '%{PHONE}%' OR row_to_json(complaints)::text LIKE '%王建国%'"
    );
    assert_eq!(count(&pool, &plain).await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM complaints").await, 2);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM outbox WHERE event_type = 'ComplaintFiled'"
        )
        .await,
        2
    );
    pool.close().await;
    svc.stop().await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_the_rule_and_writes_nothing() {
    let svc = spawn_complaint().await;
    let mut client = ComplaintServiceClient::new(svc.channel().await);
    let specialist = staff(Role::Specialist, "C01");
    let cases: Vec<(pb::FileComplaintRequest, &str, &str)> = vec![
        (
            pb::FileComplaintRequest {
                content: "长".repeat(2001),
                ..filing("complaint", "window", "")
            },
            "content",
            "too_long",
        ),
        (
            pb::FileComplaintRequest {
                demand: "a\u{7}b".into(),
                ..filing("complaint", "window", "")
            },
            "demand",
            "control_characters",
        ),
        (
            pb::FileComplaintRequest {
                r#type: "rant".into(),
                ..filing("complaint", "window", "")
            },
            "type",
            "complaint_type",
        ),
        (
            filing("complaint", "web", ""),
            "channel",
            "channel_for_caller",
        ),
        (
            pb::FileComplaintRequest {
                party: Some(pb::Party {
                    kind: "staff".into(),
                    id: "c02-x".into(),
                }),
                ..filing("complaint", "window", "")
            },
            "party.id",
            "staff_of_center",
        ),
        (
            pb::FileComplaintRequest {
                complainant: Some(pb::Complainant {
                    name: "王".into(),
                    id_number: "110105194912310021".into(),
                    phone: PHONE.into(),
                }),
                ..filing("complaint", "window", "")
            },
            "complainant.id_number",
            "id_number_check_digit",
        ),
        (
            pb::FileComplaintRequest {
                complainant: Some(pb::Complainant {
                    name: "王".into(),
                    id_number: ID_NUMBER.into(),
                    phone: "123".into(),
                }),
                ..filing("complaint", "window", "")
            },
            "complainant.phone",
            "phone_format",
        ),
        (
            pb::FileComplaintRequest {
                center_id: "".into(),
                ..filing("complaint", "window", "")
            },
            "center_id",
            "required",
        ),
    ];
    for (request, field, rule) in cases {
        let refused = client
            .file_complaint(as_caller(&specialist, request))
            .await
            .unwrap_err();
        assert_eq!(
            refused_fields(&refused),
            [(field.to_string(), rule.to_string())],
            "{field}"
        );
    }
    let pool = svc.pool().await;
    assert_eq!(count(&pool, "SELECT count(*) FROM complaints").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM outbox").await, 0);
    pool.close().await;
    svc.stop().await;
}

#[tokio::test]
async fn taken_handed_over_investigated_by_two_found_and_closed_publishes_complaint_closed() {
    let svc = spawn_complaint().await;
    let mut client = ComplaintServiceClient::new(svc.channel().await);
    let nats = async_nats::connect(svc.nats.url()).await.unwrap();
    let mut closed_events = nats
        .subscribe(bianmin_proto::subjects::COMPLAINT_CLOSED)
        .await
        .unwrap();

    // A resident's own filing waits for a taker; they read their own only.
    let me = resident("resident-1");
    let filed = file(&mut client, &me, filing("complaint", "web", "r-1")).await;
    let c = filed.complaint.unwrap();
    assert_eq!((c.status.as_str(), c.owner.as_str()), ("filed", ""));
    let get = |who: &Principal| as_caller(who, pb::GetComplaintRequest { id: c.id.clone() });
    assert!(client.get_complaint(get(&me)).await.is_ok());
    let other = client
        .get_complaint(get(&resident("resident-2")))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
    let mine = client
        .list_complaints(as_caller(
            &resident("resident-2"),
            pb::ListComplaintsRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(mine.complaints.is_empty());

    let (specialist, supervisor) = (
        staff(Role::Specialist, "C01"),
        staff(Role::Supervisor, "C01"),
    );
    let inspector = staff(Role::QualityInspector, "C01");
    let id = c.id.clone();
    client
        .take_complaint(as_caller(
            &specialist,
            pb::TakeComplaintRequest { id: id.clone() },
        ))
        .await
        .unwrap();
    // Taken once.
    let again = client
        .take_complaint(as_caller(
            &supervisor,
            pb::TakeComplaintRequest { id: id.clone() },
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    // A hand-over needs a reason; the first owner stays.
    let no_reason = client
        .hand_over_complaint(as_caller(
            &specialist,
            pb::HandOverComplaintRequest {
                id: id.clone(),
                to: "c01-supervisor".into(),
                reason: "".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        refused_fields(&no_reason),
        [("reason".to_string(), "required".to_string())]
    );
    let handed = client
        .hand_over_complaint(as_caller(
            &specialist,
            pb::HandOverComplaintRequest {
                id: id.clone(),
                to: "c01-supervisor".into(),
                reason: "涉及窗口人员，由主管负责".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (handed.owner.as_str(), handed.first_owner.as_str()),
        ("c01-supervisor", "c01-specialist")
    );
    let step = handed.history.last().unwrap();
    assert_eq!(
        (
            step.action.as_str(),
            step.by.as_str(),
            step.from.as_str(),
            step.to.as_str()
        ),
        (
            "hand_over",
            "c01-specialist",
            "c01-specialist",
            "c01-supervisor"
        )
    );
    assert!(!step.at.is_empty() && !step.reason.is_empty());

    // The former owner no longer classifies.
    let classify = |who: &Principal| {
        as_caller(
            who,
            pb::ClassifyComplaintRequest {
                id: id.clone(),
                nature: "service_violation".into(),
                severity: "general".into(),
            },
        )
    };
    assert_eq!(
        client
            .classify_complaint(classify(&specialist))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    client
        .classify_complaint(classify(&supervisor))
        .await
        .unwrap();

    // Two investigators, neither the staff member complained about.
    let assign = |who: &[&str]| {
        as_caller(
            &supervisor,
            pb::AssignInvestigatorsRequest {
                id: id.clone(),
                investigators: who.iter().map(|s| s.to_string()).collect(),
            },
        )
    };
    let one = client
        .assign_investigators(assign(&["c01-specialist"]))
        .await
        .unwrap_err();
    assert_eq!(
        refused_fields(&one),
        [("investigators".to_string(), "two_investigators".to_string())]
    );
    let subject = client
        .assign_investigators(assign(&["c01-specialist", "c01-window-3"]))
        .await
        .unwrap_err();
    assert_eq!(
        refused_fields(&subject),
        [("investigators[1]".to_string(), "not_the_party".to_string())]
    );
    // No finding before the investigators, whoever asks.
    let finding = |who: &Principal| {
        as_caller(
            who,
            pb::RecordFindingRequest {
                id: id.clone(),
                result: "partly".into(),
                cause: "材料清单未公示".into(),
            },
        )
    };
    assert_eq!(
        client
            .record_finding(finding(&supervisor))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    let assigned = client
        .assign_investigators(assign(&["c01-specialist", "c01-quality_inspector"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assigned.status, "investigating");
    // Not an investigator: refused.
    assert_eq!(
        client
            .record_finding(finding(&supervisor))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let found = client
        .record_finding(finding(&inspector))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.finding.unwrap().result, "partly");

    let closed = client
        .close_complaint(as_caller(
            &supervisor,
            pb::CloseComplaintRequest { id: id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status, "closed");
    assert!(closed.answered_on_time);

    let message = tokio::time::timeout(Duration::from_secs(10), closed_events.next())
        .await
        .expect("ComplaintClosed published")
        .unwrap();
    let event = ev::ComplaintClosed::decode(message.payload).unwrap();
    assert_eq!(event.envelope.unwrap().center_id, "C01");
    assert_eq!(event.complaint.unwrap().complaint_id, id);
    assert_eq!(
        (
            event.finding.as_str(),
            event.first_owner.as_str(),
            event.owner.as_str()
        ),
        ("partly", "c01-specialist", "c01-supervisor")
    );
    svc.stop().await;
}

#[tokio::test]
async fn the_breach_timer_fires_once_and_notifies_the_supervisors() {
    let svc = spawn_complaint().await;
    let mut client = ComplaintServiceClient::new(svc.channel().await);
    let c = file(
        &mut client,
        &staff(Role::Specialist, "C01"),
        filing("complaint", "window", ""),
    )
    .await
    .complaint
    .unwrap();
    let pool = svc.pool().await;
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM complaint_timers WHERE fired_at IS NULL"
        )
        .await,
        1
    );
    // The due date has passed (as if three working days went by).
    sqlx::query("UPDATE complaint_timers SET fire_at = now() - interval '1 minute'")
        .execute(&pool)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(
        &pool,
        "SELECT count(*) FROM complaint_timers WHERE fired_at IS NOT NULL",
    )
    .await
        == 0
    {
        assert!(Instant::now() < deadline, "the timer did not fire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Several more passes of the loop: still once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM outbox WHERE event_type = 'ComplaintDeadlineBreached'"
        )
        .await,
        1
    );
    let notices: Vec<(String, String)> =
        sqlx::query_as("SELECT recipient, template FROM notifications")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        notices,
        [(
            "supervisor@C01".to_string(),
            "complaint_deadline_breached".to_string()
        )]
    );
    let now = client
        .get_complaint(as_caller(
            &staff(Role::Supervisor, "C01"),
            pb::GetComplaintRequest { id: c.id.clone() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(now.overdue);
    pool.close().await;
    svc.stop().await;
}
