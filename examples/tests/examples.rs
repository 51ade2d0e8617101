//! Every example runs against the local emulator, so none of them can rot.
//! Each test runs the example's binary as a user would and checks what it
//! printed.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("could not start {bin}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "{bin} failed with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

#[test]
fn demo_deploys_reapplies_without_changes_runs_the_job_and_destroys() {
    let out = run(env!("CARGO_BIN_EXE_demo"), &[]);
    assert!(out.contains("deploying to the local AWS emulator"), "{out}");
    assert!(
        out.contains("== plan") && out.contains("to create"),
        "{out}"
    );
    assert!(out.contains("api.url = http://"), "{out}");
    assert!(out.contains("== run the ETL job now"), "{out}");
    assert!(out.contains("No changes."), "{out}");
    assert!(out.contains("mutating calls: 0"), "{out}");
    assert!(out.contains("destroyed in"), "{out}");
}
