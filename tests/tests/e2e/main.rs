//! The end-to-end tests: one binary, one module per subject. Each test
//! starts a cluster of its own (its own NATS, databases and ports), so the
//! tests run side by side (`--test-threads`), and the binary is linked once
//! instead of once per subject. The benchmark's smoke test is a binary of
//! its own: it reads processor time by process name, which another
//! cluster running beside it would disturb.

mod applicant;
mod auth;
mod catalog_materials;
mod complaint;
mod dead_letter;
mod docs;
mod faults;
mod fuzz;
mod gateway;
mod lifecycle;
mod materials_s3;
mod metrics;
mod partner;
mod spine;
