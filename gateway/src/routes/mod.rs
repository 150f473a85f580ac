//! REST handlers, one file per resource.

pub mod applications;
pub mod calendar;
pub mod catalog;
pub mod health;
pub mod materials;
pub mod reviews;
