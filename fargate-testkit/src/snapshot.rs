//! Snapshot tests of text (rendered plans) with [`insta`], kept in the repository and compared
//! on every run.
//!
//! [`assert_text_snapshot`] compares `text` with `<dir>/<name>.snap`. A difference, or a
//! snapshot that does not exist yet, fails the test. insta writes what it got next to the
//! snapshot as `<name>.snap.new` for review (`cargo insta review`, or rename it by hand after
//! reading it) — except when `CI` is set: then it writes nothing and only fails. To record
//! or re-record snapshots on purpose, run the tests with `INSTA_UPDATE=always` and review the
//! diff of the `.snap` files before committing them.
//!
//! ```no_run
//! let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
//! fargate_testkit::snapshot::assert_text_snapshot(&dir, "worker-cold", "  + ecs:cluster e\n");
//! ```

use std::path::Path;

pub use insta;

/// Compare `text` with the snapshot `<dir>/<name>.snap`; see [the module](self).
///
/// # Panics
/// When they differ or the snapshot is missing (the test fails).
pub fn assert_text_snapshot(dir: &Path, name: &str, text: &str) {
    refuse_accepting_under_ci();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// Under `CI`, a snapshot is only compared: settings that would accept a new or changed one
/// (`INSTA_UPDATE=always|force|unseen`, `INSTA_FORCE_PASS`) fail the test instead.
fn refuse_accepting_under_ci() {
    let set = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty() && v != "0")
    };
    if set("CI").is_none() || set("CI").as_deref() == Some("false") {
        return;
    }
    let update = set("INSTA_UPDATE");
    if matches!(update.as_deref(), Some("always" | "force" | "unseen"))
        || set("INSTA_FORCE_PASS").is_some()
    {
        panic!(
            "snapshots are never accepted under CI (INSTA_UPDATE={}, INSTA_FORCE_PASS={}): \
             record them locally and commit the reviewed .snap files",
            update.unwrap_or_default(),
            set("INSTA_FORCE_PASS").unwrap_or_default()
        );
    }
}
