//! Build-time only: no code. Depending on this crate makes a build of the
//! examples resolve the same dependency features as `cargo test --workspace`
//! (see this crate's `Cargo.toml`).
