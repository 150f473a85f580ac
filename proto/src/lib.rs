//! Generated gRPC and event types of Bianmin, plus the names that bind
//! producers and consumers together (each producer's stream and subjects),
//! kept here so no service spells another's. Consumer names belong to the
//! consumers; headers and dead letters to the shared library.

pub mod intake {
    pub mod v1 {
        tonic::include_proto!("bianmin.intake.v1");
    }
}

pub mod review {
    pub mod v1 {
        tonic::include_proto!("bianmin.review.v1");
    }
}

pub mod complaint {
    pub mod v1 {
        tonic::include_proto!("bianmin.complaint.v1");
    }
}

/// The partner agencies' API (mutual TLS edge), versioned apart from the
/// internal packages.
pub mod partner {
    pub mod v1 {
        tonic::include_proto!("bianmin.partner.v1");
    }
}

mod personal;

/// The documented bounds of the fields callers send (`proto/bounds.rs`).
pub mod bounds {
    include!("../bounds.rs");
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("bianmin.events.v1");
    }
}

/// Defaults of the REST (JSON) form of the messages.
#[cfg(feature = "rest")]
pub mod rest {
    /// `true`, for the fields whose REST default it is.
    pub fn yes() -> bool {
        true
    }
}

/// Encoded `FileDescriptorSet` of every proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/bianmin_descriptor.bin"));

/// JetStream streams (one per producing service) and their subjects.
pub mod subjects {
    /// Stream of everything intake publishes.
    pub const INTAKE_STREAM: &str = "BIANMIN_INTAKE";
    pub const INTAKE_SUBJECTS: &str = "bianmin.intake.>";
    pub const APPLICATION_SUBMITTED: &str = "bianmin.intake.application.submitted";
    /// What the applicant did after submitting: answered a supplement
    /// request, withdrew.
    pub const APPLICANT_SUBJECTS: &str = "bianmin.intake.applicant.>";
    pub const APPLICATION_SUPPLEMENTED: &str = "bianmin.intake.applicant.supplemented";
    pub const APPLICATION_WITHDRAWN: &str = "bianmin.intake.applicant.withdrawn";

    /// Stream of everything review publishes.
    pub const REVIEW_STREAM: &str = "BIANMIN_REVIEW";
    pub const REVIEW_SUBJECTS: &str = "bianmin.review.>";
    pub const REVIEW_CASE_OPENED: &str = "bianmin.review.case.opened";
    pub const SUPPLEMENT_REQUESTED: &str = "bianmin.review.case.supplement_requested";
    pub const REVIEW_RESUMED: &str = "bianmin.review.case.resumed";
    pub const DEADLINE_EXTENDED: &str = "bianmin.review.case.extended";
    pub const REVIEW_STAGE_CHANGED: &str = "bianmin.review.case.stage_changed";
    pub const REVIEW_DECIDED: &str = "bianmin.review.case.decided";
    pub const SERVICE_PLANNED: &str = "bianmin.review.case.planned";
    pub const TASK_COMPLETED: &str = "bianmin.review.case.task_completed";
    pub const CASE_CLOSED: &str = "bianmin.review.case.closed";
    pub const DEADLINE_WARNING: &str = "bianmin.review.deadline.warning";
    pub const DEADLINE_BREACHED: &str = "bianmin.review.deadline.breached";

    /// Stream of everything the complaint service publishes.
    pub const COMPLAINT_STREAM: &str = "BIANMIN_COMPLAINT";
    pub const COMPLAINT_SUBJECTS: &str = "bianmin.complaint.>";
    pub const COMPLAINT_FILED: &str = "bianmin.complaint.filed";
    pub const COMPLAINT_CLOSED: &str = "bianmin.complaint.closed";
    pub const COMPLAINT_DEADLINE_BREACHED: &str = "bianmin.complaint.deadline.breached";
}

impl events::v1::EventEnvelope {
    /// The envelope of event `event_id`, which happened at `occurred_at`
    /// (RFC 3339, UTC) in center `center_id`.
    pub fn new(
        event_id: impl std::fmt::Display,
        occurred_at: impl std::fmt::Display,
        center_id: &str,
    ) -> Option<Self> {
        Some(Self {
            event_id: event_id.to_string(),
            occurred_at: occurred_at.to_string(),
            center_id: center_id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    /// Every event of `bianmin.events.v1` starts with the one envelope.
    #[test]
    fn every_event_has_the_envelope_first() {
        let set = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET).unwrap();
        let mut events = 0;
        for file in set
            .file
            .iter()
            .filter(|f| f.package() == "bianmin.events.v1")
        {
            for message in &file.message_type {
                if matches!(message.name(), "EventEnvelope" | "CaseRef" | "ComplaintRef") {
                    continue;
                }
                let first = message.field.iter().find(|f| f.number() == 1);
                assert!(
                    first.is_some_and(|f| f.name() == "envelope"
                        && f.type_name() == ".bianmin.events.v1.EventEnvelope"),
                    "{} does not start with `EventEnvelope envelope = 1`",
                    message.name()
                );
                events += 1;
            }
        }
        assert!(events >= 10, "{events} events");
    }
}
