//! fargate-testkit's self-tests: the moto harness, per-test accounts, the call recorder, the
//! mocked-client helpers.
//!
//! All integration tests of the crate are modules of this one binary (`tests/it/`), so the
//! crate's tests are linked once and, where they use moto, share one moto server (each test in
//! its own account, see `fargate_testkit::context`). Add a test file here as a module, not as
//! a new `tests/*.rs`.

mod moto_selftest;
