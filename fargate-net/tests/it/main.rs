//! fargate-net's integration tests: network, security groups, load balancers and API Gateway,
//! against aws-smithy-mocks and the moto server.
//!
//! All integration tests of the crate are modules of this one binary (`tests/it/`), so the
//! crate's tests are linked once and, where they use moto, share one moto server (each test in
//! its own account, see `fargate_testkit::context`). Add a test file here as a module, not as
//! a new `tests/*.rs`.

/// Helpers shared by the test modules (`crate::network_support::...`).
mod network_support;

mod api_gateway_mocks;
mod api_gateway_moto;
mod lb_mocks;
mod lb_moto;
mod listener_rules_moto;
mod network_mocks;
mod network_moto;
mod security_group_mocks;
