//! Intake's rules: pure, no I/O.

pub mod answers;
pub mod catalog;
pub mod materials;
pub mod notices;
pub mod progress;
pub mod purpose;
pub mod status;
pub mod submission;
pub mod timeline;

/// ID and phone numbers: one rule for every service (`bianmin_common::identity`).
pub use bianmin_common::identity::{id_number, phone};
