//! sqlx queries: complaints and their timers.

pub mod complaints;
pub mod timers;
