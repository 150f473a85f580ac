//! Review's rules: pure, no I/O.

pub mod case;
pub mod clock;
pub mod deadlines;
pub mod escalation;
pub mod input;
pub mod lifecycle;
pub mod reasons;
