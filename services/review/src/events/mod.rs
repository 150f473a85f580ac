//! Events: what review consumes and what it publishes.

pub mod consume;
pub mod publish;

pub use consume::{APPLICATION_SUBMITTED, OnApplicationSubmitted};
