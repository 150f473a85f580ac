//! Review's PostgreSQL store, one file per aggregate.

pub mod cases;
pub mod measures;
pub mod timers;
