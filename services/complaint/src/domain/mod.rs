//! The complaint's rules: validated input, the lifecycle and the clock.
//! Pure: no I/O, unit-tested beside the code.

pub mod clock;
pub mod complaint;
pub mod input;

/// ID and phone numbers: one rule for every service (`bianmin_common::identity`).
pub use bianmin_common::identity::{id_number, phone};
