//! What every Bianmin service does alike, and nothing else: configuration,
//! telemetry and trace propagation, the database, the outbox and inbox, the
//! gRPC bootstrap, errors, and the working-day calendar.

pub mod audit;
pub mod auth;
pub mod balance;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod db;
pub mod deadline;
pub mod error;
pub mod grpc;
pub mod http_client;
pub mod identity;
pub mod inbox;
pub mod metrics;
pub mod mtls;
pub mod nats;
pub mod notify;
pub mod outbox;
pub mod pii;
pub mod propagation;
pub mod retention;
pub mod runtime;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testfiles;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod text;
pub mod timers;

#[cfg(test)]
mod parser_props;
