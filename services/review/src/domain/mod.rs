//! Review's rules: pure, no I/O.

pub mod opening;
