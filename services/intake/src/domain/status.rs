//! An application's status, as residents read it, and the rules that
//! depend on it: what the applicant may still do, and where review's
//! events move it.
//!
//! ```text
//! submitted ─(review opens the case)─► in_review ◄──────────────┐ (review resumes)
//!                                        │ request_supplement    │
//!                                        ▼                       │
//!                              awaiting_supplement ─(answer)─► supplement_received
//! in_review ─(decided)─► approved ─(planned)─► in_service ─► closed
//!                     └► rejected ─────────────────────────► closed
//! submitted, in_review, awaiting_supplement, supplement_received ─(withdraw)─► withdrawn
//! ```
//!
//! Review decides the stages; intake keeps the status residents see and
//! refuses what the applicant may no longer do.

use super::answers::Supplement;
use bianmin_common::error::FieldViolation;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Submitted,
    InReview,
    AwaitingSupplement,
    SupplementReceived,
    Approved,
    Rejected,
    InService,
    Closed,
    Withdrawn,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Submitted,
        Status::InReview,
        Status::AwaitingSupplement,
        Status::SupplementReceived,
        Status::Approved,
        Status::Rejected,
        Status::InService,
        Status::Closed,
        Status::Withdrawn,
    ];

    /// The name stored in `applications.status` and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::InReview => "in_review",
            Status::AwaitingSupplement => "awaiting_supplement",
            Status::SupplementReceived => "supplement_received",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::InService => "in_service",
            Status::Closed => "closed",
            Status::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Before review decides: the application can still be withdrawn. A
    /// decided application is the record of a decision; the resident
    /// appeals it or applies again instead.
    pub fn withdrawable(self) -> bool {
        matches!(
            self,
            Status::Submitted
                | Status::InReview
                | Status::AwaitingSupplement
                | Status::SupplementReceived
        )
    }

    /// The application has ended and takes no more materials.
    pub fn ended(self) -> bool {
        matches!(self, Status::Closed | Status::Rejected | Status::Withdrawn)
    }

    /// A supplement is asked for or under way: the public progress page
    /// shows what is missing.
    pub fn in_supplement(self) -> bool {
        matches!(
            self,
            Status::AwaitingSupplement | Status::SupplementReceived
        )
    }

    /// The status a decision of review's leaves (`outcome` as review
    /// publishes it): anything but an approval is a rejection.
    pub fn decided(outcome: &str) -> Status {
        if outcome == Status::Approved.as_str() {
            Status::Approved
        } else {
            Status::Rejected
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the applicant's answer or request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Bad input: the fields and their rules.
    Invalid(Vec<FieldViolation>),
    /// Not in this status (FAILED_PRECONDITION).
    NotNow(String),
}

/// What a supplement does to the application in `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Supplementing {
    /// Record it: the status becomes `supplement_received`.
    Record,
    /// The same answer was recorded already: nothing to do.
    Retry,
}

/// Whether an answer `given` to the supplement request is taken, with
/// the application in `status`, the items review asked for, and the answer
/// stored for the latest request (a new request clears it).
pub fn supplement(
    status: Status,
    missing_items: &[String],
    stored: Option<&Supplement>,
    given: &Supplement,
) -> Result<Supplementing, Refusal> {
    if status != Status::AwaitingSupplement {
        // The same answer again is a retry, also once review has already
        // resumed the case on it.
        if stored == Some(given) {
            return Ok(Supplementing::Retry);
        }
        return Err(Refusal::NotNow(format!(
            "申请当前状态为 {status}，没有待补正的请求 (no supplement is awaited; status is {status})"
        )));
    }
    super::answers::covers(given, missing_items).map_err(Refusal::Invalid)?;
    Ok(Supplementing::Record)
}

/// Whether the application in `status` may be withdrawn.
pub fn withdraw(status: Status) -> Result<(), Refusal> {
    if status == Status::Withdrawn {
        return Err(Refusal::NotNow(
            "该申请已撤回 (the application is already withdrawn)".into(),
        ));
    }
    if !status.withdrawable() {
        return Err(Refusal::NotNow(format!(
            "申请已作出决定（{status}），不能撤回 (decided applications cannot be withdrawn; status is {status})"
        )));
    }
    Ok(())
}

/// Whether the application in `status` takes another material.
pub fn take_material(status: Status) -> Result<(), Refusal> {
    if status.ended() {
        return Err(Refusal::NotNow(format!(
            "申请已结束（{status}），不再接收材料 (the application is {status} and takes no more materials)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(items: &[&str]) -> Supplement {
        Supplement {
            items: items.iter().map(|s| s.to_string()).collect(),
            note: String::new(),
        }
    }

    #[test]
    fn every_status_parses_back_from_its_name() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        assert_eq!(Status::parse("Submitted"), None);
        assert_eq!(Status::parse(""), None);
    }

    #[test]
    fn only_undecided_applications_are_withdrawn() {
        let withdrawable: Vec<_> = Status::ALL
            .into_iter()
            .filter(|s| withdraw(*s).is_ok())
            .map(Status::as_str)
            .collect();
        assert_eq!(
            withdrawable,
            [
                "submitted",
                "in_review",
                "awaiting_supplement",
                "supplement_received"
            ]
        );
        let Err(Refusal::NotNow(again)) = withdraw(Status::Withdrawn) else {
            panic!("a second withdrawal is refused");
        };
        assert!(again.contains("已撤回"));
        let Err(Refusal::NotNow(decided)) = withdraw(Status::Approved) else {
            panic!("a decided application is not withdrawn");
        };
        assert!(decided.contains("status is approved"));
    }

    #[test]
    fn ended_applications_take_no_materials() {
        for status in Status::ALL {
            let ended = matches!(
                status,
                Status::Closed | Status::Rejected | Status::Withdrawn
            );
            assert_eq!(take_material(status).is_err(), ended, "{status}");
        }
    }

    #[test]
    fn a_supplement_is_taken_only_while_one_is_awaited() {
        let missing = vec!["户口簿".to_string()];
        let given = answer(&["户口簿"]);
        assert_eq!(
            supplement(Status::AwaitingSupplement, &missing, None, &given),
            Ok(Supplementing::Record)
        );
        // The same answer after it was recorded is a retry.
        assert_eq!(
            supplement(Status::InReview, &[], Some(&given), &given),
            Ok(Supplementing::Retry)
        );
        let Err(Refusal::NotNow(m)) = supplement(Status::InReview, &[], None, &given) else {
            panic!("no request is open");
        };
        assert!(m.contains("status is in_review"));
        let Err(Refusal::Invalid(v)) = supplement(
            Status::AwaitingSupplement,
            &missing,
            None,
            &answer(&["照片"]),
        ) else {
            panic!("an answer must cover the request");
        };
        assert!(!v.is_empty());
    }

    #[test]
    fn a_decision_is_an_approval_or_a_rejection() {
        assert_eq!(Status::decided("approved"), Status::Approved);
        assert_eq!(Status::decided("rejected"), Status::Rejected);
        assert_eq!(Status::decided(""), Status::Rejected);
    }
}
