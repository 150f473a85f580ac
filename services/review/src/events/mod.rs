//! Events: what review consumes and what it publishes.

pub mod consume;
pub mod publish;

pub use consume::{
    APPLICANT_EVENTS, APPLICATION_SUBMITTED, OnApplicantEvent, OnApplicationSubmitted,
};

use bianmin_common::nats::Stream;
use bianmin_proto::subjects;

/// The streams review declares at start: its own, and intake's, which it
/// consumes.
pub const STREAMS: &[Stream] = &[
    Stream {
        name: subjects::REVIEW_STREAM,
        subjects: subjects::REVIEW_SUBJECTS,
    },
    Stream {
        name: subjects::INTAKE_STREAM,
        subjects: subjects::INTAKE_SUBJECTS,
    },
];
