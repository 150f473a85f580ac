//! Intake's rules: pure, no I/O.

pub mod id_number;
pub mod phone;
pub mod submission;
pub mod timeline;
