//! Which changes a resident is told about, and what the message carries:
//! submitted, accepted (review opened), supplement requested, decided,
//! closed, withdrawn. Other steps show on the timeline only.

use bianmin_proto::{events::v1 as ev, subjects};
use prost::Message as _;
use std::collections::BTreeMap;

/// A message to the applicant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The template the sender fills in.
    pub template: &'static str,
    pub params: BTreeMap<String, String>,
}

fn notice(template: &'static str, params: BTreeMap<String, String>) -> Notice {
    Notice { template, params }
}

fn params<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub fn submitted(application_no: &str) -> Notice {
    notice(
        "application_submitted",
        params([("application_no", application_no.into())]),
    )
}

pub fn withdrawn(application_no: &str) -> Notice {
    notice(
        "application_withdrawn",
        params([("application_no", application_no.into())]),
    )
}

/// The notice a review event gives the applicant, if any.
pub fn for_review_event(
    subject: &str,
    payload: &[u8],
    application_no: &str,
) -> Result<Option<Notice>, prost::DecodeError> {
    let no = ("application_no", application_no.to_string());
    Ok(Some(match subject {
        subjects::REVIEW_CASE_OPENED => {
            let e = ev::ReviewCaseOpened::decode(payload)?;
            notice(
                "application_accepted",
                params([no, ("due_date", e.due_date)]),
            )
        }
        subjects::SUPPLEMENT_REQUESTED => {
            let e = ev::SupplementRequested::decode(payload)?;
            notice(
                "supplement_requested",
                params([
                    no,
                    ("missing_items", e.missing_items.join("、")),
                    ("reason", e.reason),
                ]),
            )
        }
        subjects::REVIEW_DECIDED => {
            let e = ev::ReviewDecided::decode(payload)?;
            notice(
                "application_decided",
                params([no, ("outcome", e.outcome), ("reasons", e.reasons)]),
            )
        }
        subjects::CASE_CLOSED => notice("case_closed", params([no])),
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residents_hear_of_what_concerns_them_only() {
        let e = ev::SupplementRequested {
            missing_items: vec!["户口簿".into(), "收入证明".into()],
            reason: "材料不全".into(),
            ..Default::default()
        };
        let Notice {
            template,
            params: p,
        } = for_review_event(subjects::SUPPLEMENT_REQUESTED, &e.encode_to_vec(), "C01-1")
            .unwrap()
            .unwrap();
        assert_eq!(template, "supplement_requested");
        assert_eq!(p["missing_items"], "户口簿、收入证明");
        assert_eq!(p["application_no"], "C01-1");
        let warning = ev::DeadlineWarning::default().encode_to_vec();
        assert!(
            for_review_event(subjects::DEADLINE_WARNING, &warning, "C01-1")
                .unwrap()
                .is_none()
        );
        assert!(
            for_review_event(subjects::REVIEW_STAGE_CHANGED, &[], "C01-1")
                .unwrap()
                .is_none()
        );
    }
}
