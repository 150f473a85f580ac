//! Events: what review consumes and what it publishes.

pub mod consume;
pub mod publish;

pub use consume::{
    APPLICANT_EVENTS, APPLICATION_SUBMITTED, OnApplicantEvent, OnApplicationSubmitted,
};
