//! Intake's PostgreSQL store, one file per aggregate.

pub mod applications;
pub mod catalog;
pub mod materials;
pub mod notices;
pub mod personal;
pub mod public;
