//! Intake's rules: pure, no I/O.

pub mod catalog;
pub mod id_number;
pub mod materials;
pub mod phone;
pub mod submission;
pub mod timeline;
