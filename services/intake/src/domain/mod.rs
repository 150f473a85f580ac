//! Intake's rules: pure, no I/O.

pub mod answers;
pub mod catalog;
pub mod id_number;
pub mod materials;
pub mod notices;
pub mod phone;
pub mod progress;
pub mod purpose;
pub mod status;
pub mod submission;
pub mod timeline;
