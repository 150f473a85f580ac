//! The gateway's own REST handlers: the calendar and the probes. The
//! backends' routes live in their modules (`intake`, `review`).

pub mod calendar;
pub mod health;
