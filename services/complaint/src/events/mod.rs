//! Events: what the complaint service publishes (it consumes nothing yet).

pub mod publish;

use bianmin_common::nats::Stream;
use bianmin_proto::subjects;

/// The streams it declares at start: its own.
pub const STREAMS: &[Stream] = &[Stream {
    name: subjects::COMPLAINT_STREAM,
    subjects: subjects::COMPLAINT_SUBJECTS,
}];
