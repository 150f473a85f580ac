//! Events: what intake publishes and what it consumes.

pub mod consume;
pub mod publish;

pub use consume::{OnReviewEvent, REVIEW_EVENTS, retire_old_consumer};

use bianmin_common::nats::Stream;
use bianmin_proto::subjects;

/// The streams intake declares at start: its own, and review's, which it
/// consumes.
pub const STREAMS: &[Stream] = &[
    Stream {
        name: subjects::INTAKE_STREAM,
        subjects: subjects::INTAKE_SUBJECTS,
    },
    Stream {
        name: subjects::REVIEW_STREAM,
        subjects: subjects::REVIEW_SUBJECTS,
    },
];
