//! The complaint's rules: validated input, the lifecycle and the clock.
//! Pure: no I/O, unit-tested beside the code.

pub mod clock;
pub mod complaint;
pub mod id_number;
pub mod input;
pub mod phone;
